"""The run store: every job's spec, status, metrics history and checkpoint, in SQLite.

Writes from the training threads go into a queue that one writer thread
flushes in batches (WAL mode), so saving never slows a training step. The
schema is created and migrated here; `PRAGMA user_version` holds its version.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("nnplay.store")

SCHEMA_VERSION = 2

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
    # Why a failed run failed, as JSON {"kind", "step", "message"} beside `reason`.
    2: "ALTER TABLE runs ADD COLUMN failure TEXT;",
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
    failure: dict[str, Any] | None = None  # {"kind", "step", "message"} of a failed run


_Op = Callable[[sqlite3.Connection], object]


def _flush_now(db: sqlite3.Connection) -> None:
    """A marker op: commit what is gathered without waiting out the batching interval."""


class RunStore:
    """SQLite persistence with a batching writer thread."""

    def __init__(self, path: Path, flush_interval: float = 0.5) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._flush_interval = flush_interval
        self._ops: queue.Queue[_Op | None] = queue.Queue()
        self._write = self._connect()
        self._migrate(self._write)
        self._read_lock = threading.Lock()
        self._read = self._connect()
        self._flushed = threading.Condition()
        self._pending = 0
        self._writer = threading.Thread(target=self._run_writer, name="nnplay-store",
                                        daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    @staticmethod
    def _migrate(connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        for target in range(version + 1, SCHEMA_VERSION + 1):
            connection.executescript(f"BEGIN; {_MIGRATIONS[target]} "
                                     f"PRAGMA user_version = {target}; COMMIT;")

    # ----- the writer ----------------------------------------------------------------
    def _submit(self, op: _Op) -> None:
        with self._flushed:
            self._pending += 1
        self._ops.put(op)

    def _run_writer(self) -> None:
        while True:
            first = self._ops.get()
            batch = [first]
            deadline = time.monotonic() + self._flush_interval
            # Gather what arrives in the next moment into the same transaction.
            while first is not None:
                try:
                    op = self._ops.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(op)
                if op is None or op is _flush_now or len(batch) >= 5000:
                    break
            ops = [op for op in batch if op is not None]
            if ops:
                try:
                    self._write.execute("BEGIN")
                    for op in ops:
                        op(self._write)
                    self._write.execute("COMMIT")
                except sqlite3.Error:
                    log.exception("could not save %d changes", len(ops))
                    self._write.execute("ROLLBACK")
            with self._flushed:
                self._pending -= len(ops)
                self._flushed.notify_all()
            if None in batch:
                return

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written."""
        deadline = time.monotonic() + timeout
        self._submit(_flush_now)
        with self._flushed:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._flushed.wait(left)
        return True

    def close(self) -> None:
        """Write what is queued and close the database."""
        self._ops.put(None)
        self._writer.join(10)
        self._write.close()
        self._read.close()

    # ----- writes (queued) -----------------------------------------------------------
    def insert_run(self, run_id: str, name: str, spec: dict[str, Any], status: str,
                   created_at: float, lr: float) -> None:
        """Record a new run."""
        spec_text = json.dumps(spec)
        self._submit(lambda db: db.execute(
            "INSERT OR REPLACE INTO runs (id, name, spec, status, created_at, lr) "
            "VALUES (?, ?, ?, ?, ?, ?)", (run_id, name, spec_text, status, created_at, lr)))

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

        self._submit(op)

    def thin_points(self, run_id: str, stride: int) -> None:
        """Drop stored points the history no longer keeps (seq not a multiple of `stride`)."""
        self._submit(lambda db: db.execute(
            "DELETE FROM points WHERE run_id = ? AND seq % ? != 0", (run_id, stride)))

    def truncate_points(self, run_id: str, after_step: int) -> None:
        """Forget points past `after_step` (a resume rewinds to its checkpoint)."""
        self._submit(lambda db: db.execute(
            "DELETE FROM points WHERE run_id = ? AND step > ?", (run_id, after_step)))

    def delete_run(self, run_id: str) -> None:
        """Forget a run and its points."""
        self._submit(lambda db: db.execute("DELETE FROM runs WHERE id = ?", (run_id,)))

    # ----- reads ---------------------------------------------------------------------
    def load_runs(self) -> list[StoredRun]:
        """Every stored run with its points, oldest first."""
        with self._read_lock:
            rows = self._read.execute(
                "SELECT id, name, spec, status, reason, created_at, started_at, finished_at, "
                "step, lr, latest, history_stride, checkpoint_step, failure FROM runs "
                "ORDER BY created_at").fetchall()
            points: dict[str, list[tuple[int, dict[str, Any]]]] = {}
            for run_id, seq, data in self._read.execute(
                    "SELECT run_id, seq, data FROM points ORDER BY run_id, seq"):
                points.setdefault(run_id, []).append((seq, json.loads(data)))
        return [StoredRun(
            id=row[0], name=row[1], spec=json.loads(row[2]), status=row[3], reason=row[4],
            created_at=row[5], started_at=row[6], finished_at=row[7], step=row[8], lr=row[9],
            latest=json.loads(row[10]) if row[10] else None, history_stride=row[11],
            checkpoint_step=row[12], points=points.get(row[0], []),
            failure=json.loads(row[13]) if row[13] else None,
        ) for row in rows]
