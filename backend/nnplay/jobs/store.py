"""The run store: every job's spec, status, metrics history and checkpoint, in SQLite.

Writes from the training threads go into a queue that one writer thread
(`nnplay.jobs.writer`) flushes in batches (WAL mode), so saving never slows a
training step. The schema is created and migrated here; `PRAGMA user_version`
holds its version.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnplay.jobs.writer import BatchWriter, Health, Op

log = logging.getLogger("nnplay.store")

SCHEMA_VERSION = 3

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        spec TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        created_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        step INTEGER NOT NULL DEFAULT 0,
        lr REAL,
        latest TEXT,
        best_test_loss REAL,
        best_test_accuracy REAL,
        history_stride INTEGER NOT NULL DEFAULT 1,
        checkpoint_step INTEGER,
        checkpoint_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE points (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        step INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    """,
    # Runs belong to the identity that created them; older runs have none (admin only).
    2: "ALTER TABLE runs ADD COLUMN owner TEXT;",
    # Why a failed run failed, as JSON {"kind", "step", "message"} beside `reason`.
    3: "ALTER TABLE runs ADD COLUMN failure TEXT;",
}


@dataclass
class StoredRun:
    """A run as read back from the store."""

    id: str
    name: str
    spec: dict[str, Any]
    status: str
    reason: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    step: int
    lr: float | None
    latest: dict[str, Any] | None
    history_stride: int
    checkpoint_step: int | None
    points: list[tuple[int, dict[str, Any]]]  # (seq, point) in order
    owner: str | None = None  # the identity that created it; None for runs stored before
    failure: dict[str, Any] | None = None  # {"kind", "step", "message"} of a failed run


class RunStore:
    """SQLite persistence with a batching writer thread (see `BatchWriter`)."""

    # The class of the writer's connection: the write layer, where tests inject faults.
    connection_class: type[sqlite3.Connection] = sqlite3.Connection

    def __init__(self, path: Path, flush_interval: float = 0.5,
                 max_held: int = 50_000) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        write = self._connect(self.connection_class)
        prepare = None
        try:
            self._migrate(write)
        except sqlite3.Error as error:  # e.g. a full disk at start: serve, retry, say so
            log.error("cannot prepare %s yet (%s); will retry", path, error)
            prepare = self._migrate
        self._read_lock = threading.Lock()
        self._read = self._connect(sqlite3.Connection)
        self._writer = BatchWriter(write, str(path), flush_interval=flush_interval,
                                   max_held=max_held, prepare=prepare)
        if prepare is not None:
            self._writer.submit(Op(lambda db: None))  # make the writer try (and report) now

    def _connect(self, factory: type[sqlite3.Connection]) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     factory=factory)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            try:
                connection.executescript(f"BEGIN; {_MIGRATIONS[target]} "
                                         f"PRAGMA user_version = {target}; COMMIT;")
            except sqlite3.Error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    # ----- the writer ----------------------------------------------------------------
    def _submit(self, apply: Callable[[sqlite3.Connection], object],
                point_of: str | None = None) -> None:
        self._writer.submit(Op(apply, point_of))

    def health(self) -> Health:
        """ok, or degraded with a sentence saying why, while writes fail."""
        return self._writer.health()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (False if not in time)."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Write what is queued and close the database."""
        self._writer.close()
        self._writer.connection.close()
        self._read.close()

    # ----- writes (queued) -----------------------------------------------------------
    def insert_run(self, run_id: str, name: str, spec: dict[str, Any], status: str,
                   created_at: float, lr: float, owner: str | None = None) -> None:
        """Record a new run."""
        spec_text = json.dumps(spec)
        self._submit(lambda db: db.execute(
            "INSERT OR REPLACE INTO runs (id, name, spec, status, created_at, lr, owner) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, name, spec_text, status, created_at, lr, owner)))

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change columns of a run (status, reason, times, name, lr, checkpoint...)."""
        if not fields:
            return
        columns = ", ".join(f"{key} = ?" for key in fields)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in fields.values()]
        self._submit(lambda db: db.execute(
            f"UPDATE runs SET {columns} WHERE id = ?", (*values, run_id)))

    def add_point(self, run_id: str, seq: int, point: dict[str, Any], stride: int,
                  latest: dict[str, Any] | None = None) -> None:
        """Record a metrics point kept by the history, and the run's latest state."""
        text = json.dumps(point)
        latest_text = json.dumps(latest) if latest is not None else text
        step = int(point["step"])
        test_loss = point.get("test_loss")
        test_accuracy = point.get("test_accuracy")

        def op(db: sqlite3.Connection) -> None:
            if seq % stride == 0:
                db.execute("INSERT OR REPLACE INTO points (run_id, seq, step, data) "
                           "VALUES (?, ?, ?, ?)", (run_id, seq, step, text))
            db.execute(
                "UPDATE runs SET latest = ?, step = ?, history_stride = ?, "
                "best_test_loss = CASE WHEN ? IS NULL THEN best_test_loss "
                "  ELSE MIN(COALESCE(best_test_loss, ?), ?) END, "
                "best_test_accuracy = CASE WHEN ? IS NULL THEN best_test_accuracy "
                "  ELSE MAX(COALESCE(best_test_accuracy, ?), ?) END "
                "WHERE id = ?",
                (latest_text, step, stride, test_loss, test_loss, test_loss,
                 test_accuracy, test_accuracy, test_accuracy, run_id))

        self._submit(op, point_of=run_id)

    def thin_points(self, run_id: str, stride: int) -> None:
        """Drop stored points the history no longer keeps (seq not a multiple of `stride`)."""
        self._submit(lambda db: db.execute(
            "DELETE FROM points WHERE run_id = ? AND seq % ? != 0", (run_id, stride)))

    def truncate_points(self, run_id: str, from_step: int) -> None:
        """Forget points at `from_step` and later (a resume reports its checkpoint step again)."""
        self._submit(lambda db: db.execute(
            "DELETE FROM points WHERE run_id = ? AND step >= ?", (run_id, from_step)))

    def delete_run(self, run_id: str) -> None:
        """Forget a run and its points."""
        self._submit(lambda db: db.execute("DELETE FROM runs WHERE id = ?", (run_id,)))

    # ----- reads ---------------------------------------------------------------------
    def load_runs(self) -> list[StoredRun]:
        """Every stored run with its points, oldest first."""
        with self._read_lock:
            try:
                rows = self._read.execute(
                    "SELECT id, name, spec, status, reason, created_at, started_at, "
                    "finished_at, step, lr, latest, history_stride, checkpoint_step, owner, "
                    "failure "
                    "FROM runs "
                    "ORDER BY created_at").fetchall()
            except sqlite3.OperationalError as error:  # a new store the full disk left empty
                if "no such table" not in str(error):
                    raise
                return []
            points: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for run_id, seq, data in self._read.execute(
                    "SELECT run_id, seq, data FROM points ORDER BY run_id, seq"):
                points.setdefault(run_id, []).append((seq, json.loads(data)))
        return [StoredRun(
            id=row[0], name=row[1], spec=json.loads(row[2]), status=row[3], reason=row[4],
            created_at=row[5], started_at=row[6], finished_at=row[7], step=row[8], lr=row[9],
            latest=json.loads(row[10]) if row[10] else None, history_stride=row[11],
            checkpoint_step=row[12], points=points.get(row[0], []), owner=row[13],
            failure=json.loads(row[14]) if row[14] else None,
        ) for row in rows]
