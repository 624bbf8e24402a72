"""The store's writer thread: batched SQLite transactions that survive any error.

It owns the order of writes, batching, per-row isolation (one bad row never rolls
back the others), retrying with back-off while the disk is full or failing, the
memory bound on what it holds meanwhile, and the health the server reports.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("nnplay.store")

# A row that can no longer apply (e.g. a point of a run deleted meanwhile): dropped alone.
_BAD_ROW = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError,
            ValueError, TypeError)


@dataclass(frozen=True)
class Health:
    """Whether writes reach the disk; `reason` is a sentence when they do not."""

    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class Op:
    """One queued change; `point_of` names the run when it is a metrics point."""

    apply: Callable[[sqlite3.Connection], object]
    point_of: str | None = None


def _flush_marker(db: sqlite3.Connection) -> None:
    """A marker op: commit what is gathered without waiting out the batching interval."""


FLUSH = Op(_flush_marker)


class BatchWriter:
    """One thread that writes queued ops in order, in transactions of up to `max_batch`.

    While writes fail it holds up to `max_held` ops and retries with back-off
    (`min_delay` doubling to `max_delay` s). Past `max_held`, metrics points are
    coalesced to the newest one per run; run changes (create, status, rename,
    delete) are always held, and creates are refused meanwhile, so they stay few.
    """

    def __init__(self, connection: sqlite3.Connection, name: str, *,
                 flush_interval: float = 0.5, max_batch: int = 5000, max_held: int = 50_000,
                 min_delay: float = 0.5, max_delay: float = 30.0,
                 prepare: Callable[[sqlite3.Connection], None] | None = None) -> None:
        self.connection = connection
        self.name = name
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_held = max_held
        self.min_delay = min_delay
        self.max_delay = max_delay
        self._prepare = prepare  # run once before the first write (a schema not yet made)
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._held: deque[Op] = deque()
        self._newest_points: dict[str, Op] = {}  # past max_held: the newest point per run
        self._state = threading.Condition()
        self._submitted = 0
        self._completed = 0  # ops written, dropped as bad rows, or coalesced away
        self._fault: str | None = None
        self._delay = 0.0
        self.coalesced = 0  # points dropped past max_held (their run keeps its newest)
        self._thread = threading.Thread(target=self._run, name="nnplay-store", daemon=True)
        self._thread.start()

    # ----- the public side ----------------------------------------------------------
    def submit(self, op: Op) -> None:
        """Queue a change (never blocks, never raises)."""
        with self._state:
            self._submitted += 1
        self._queue.put(op)

    def flush(self, timeout: float) -> bool:
        """Wait until everything submitted so far is written; False if it was not in time."""
        deadline = time.monotonic() + timeout
        with self._state:
            self._submitted += 1
            target = self._submitted
        self._queue.put(FLUSH)
        with self._state:
            while self._completed < target or self._fault is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.wait(left)
        return True

    def health(self) -> Health:
        """ok, or degraded with the reason (a sentence) while writes fail."""
        with self._state:
            return Health(self._fault is None, self._fault)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (one last try if writes fail) and stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    # ----- the thread ---------------------------------------------------------------
    def _run(self) -> None:
        while True:
            if self._fault is None and not self._held:
                first = self._queue.get()
                if first is None:
                    return
                self._hold(first)
                closing = first is not FLUSH and self._gather(
                    time.monotonic() + self.flush_interval, eager=True)
            else:  # writes failed: wait out the back-off, still taking (bounded) ops
                closing = self._gather(time.monotonic() + self._delay, eager=False)
            if not self._write_held() and closing:
                self._give_up()
            if closing:
                return

    def _gather(self, until: float, eager: bool) -> bool:
        """Take ops until `until` (sooner if `eager` and a flush or a full batch); True on close."""
        while True:
            left = until - time.monotonic()
            try:
                op = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                return False
            if op is None:
                return True
            self._hold(op)
            if eager and (op is FLUSH or len(self._held) >= self.max_batch):
                return False

    def _hold(self, op: Op) -> None:
        if op.point_of is not None and len(self._held) >= self.max_held:
            replaced = self._newest_points.pop(op.point_of, None)
            self._newest_points[op.point_of] = op
            if replaced is not None:
                self.coalesced += 1
                self._complete(1)
            return
        self._held.append(op)

    def _write_held(self) -> bool:
        """Write every held op in order, a transaction per batch; False if a write failed."""
        while self._held or self._newest_points:
            if not self._held:  # the newest points come after everything held before them
                self._held.extend(self._newest_points.values())
                self._newest_points.clear()
            chunk = [self._held[i] for i in range(min(self.max_batch, len(self._held)))]
            try:
                if self._prepare is not None:
                    self._prepare(self.connection)
                    self._prepare = None
                self._commit(chunk)
            except Exception as error:  # disk full, I/O error, locked, read-only...
                self._rollback()
                self._failed(error)
                return False
            for _ in chunk:
                self._held.popleft()
            self._complete(len(chunk))
        if self._fault is not None:
            log.warning("saving works again: every held change is now in %s", self.name)
        with self._state:
            self._fault, self._delay = None, 0.0
            self._state.notify_all()
        return True

    def _commit(self, chunk: list[Op]) -> None:
        db = self.connection
        bad: list[Exception] = []
        db.execute("BEGIN")
        for op in chunk:
            db.execute("SAVEPOINT row")
            try:
                op.apply(db)
            except _BAD_ROW as error:
                db.execute("ROLLBACK TO row")
                bad.append(error)
            db.execute("RELEASE row")
        db.execute("COMMIT")
        if bad:  # expected after a delete during training; nothing else is lost
            log.info("skipped %d changes that no longer apply (first: %s)", len(bad), bad[0])

    def _rollback(self) -> None:
        # SQLite may already have rolled back (e.g. on SQLITE_FULL): only roll back an
        # open transaction, or ROLLBACK fails with "no transaction is active".
        try:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
        except sqlite3.Error as error:
            log.debug("rollback failed: %s", error)

    def _failed(self, error: Exception) -> None:
        held = len(self._held) + len(self._newest_points)
        with self._state:
            first = self._fault is None
            self._delay = min(self.max_delay, max(self.min_delay, self._delay * 2))
            self._fault = (f"runs cannot be saved to {self.name}: {error}; {held} changes "
                           f"are held in memory and retried every {self._delay:g} s "
                           "(free disk space to recover)")
        if first:
            log.error("%s", self._fault)
        else:
            log.debug("retry failed: %s", error)

    def _give_up(self) -> None:
        lost = len(self._held) + len(self._newest_points)
        log.error("closing with %d changes that could not be saved to %s: %s",
                  lost, self.name, self._fault)
        self._held.clear()
        self._newest_points.clear()
        self._complete(lost)

    def _complete(self, count: int) -> None:
        with self._state:
            self._completed += count
            self._state.notify_all()
