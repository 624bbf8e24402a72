"""The report budget: the share of one core a process's runs may spend on reporting.

Reporting is two kinds, metrics points and snapshots. Each kind is always allowed
half of the share; what one kind leaves unused (measured over the last few seconds)
the other may take. A classroom's dense runs spend little on metrics, so their
snapshots (the frames a viewer waits for) get nearly the whole share.
"""

from __future__ import annotations

import math
import threading
import time
from enum import Enum

SPENDING_WINDOW = 2.0  # s: a kind's recent CPU rate decays with this time constant


class ReportKind(Enum):
    """What a report is: a metrics point or a snapshot (frames)."""

    metrics = "metrics"
    snapshots = "snapshots"


class ReportBudget:
    """A share of one core that every run in a process may spend on metrics and snapshots.

    Each run measures what one metrics point or one snapshot costs it (CPU time),
    tells the budget (`spent`), and spaces its reports by `spacing`, so that, summed
    over the runs sharing this budget, reporting stays within about `share` of a
    core: one run reports at its full rate, fifty runs each report less often, and
    training keeps the rest of the core.
    """

    def __init__(self, share: float = 0.5) -> None:
        self.share = share
        self._runs = 0
        self._lock = threading.Lock()
        # Per kind: CPU seconds spent, decayed with SPENDING_WINDOW, and when last updated.
        self._spent = {kind: 0.0 for kind in ReportKind}
        self._updated = {kind: time.perf_counter() for kind in ReportKind}

    def join(self) -> None:
        """A run starts reporting."""
        with self._lock:
            self._runs += 1

    def leave(self) -> None:
        """A run has ended."""
        with self._lock:
            self._runs -= 1

    @property
    def runs(self) -> int:
        """Runs reporting now (at least 1): each cohort runner counts as one."""
        return max(1, self._runs)

    def spent(self, kind: ReportKind, cost: float) -> None:
        """A run spent `cost` CPU seconds on one report of `kind` (or one batched pass)."""
        with self._lock:
            self._spent[kind] = self._decayed(kind) + cost

    def rate(self, kind: ReportKind) -> float:
        """Cores `kind` has used lately (its decayed spending over the window)."""
        with self._lock:
            return self._decayed(kind) / SPENDING_WINDOW

    def allowance(self, kind: ReportKind) -> float:
        """Cores `kind` may use now: half the share, and whatever the other kind leaves."""
        other = ReportKind.snapshots if kind == ReportKind.metrics else ReportKind.metrics
        return max(self.share / 2, self.share - self.rate(other))

    def spacing(self, cost: float, kind: ReportKind) -> float:
        """Seconds between two reports of `kind` by one run that each cost `cost` CPU seconds."""
        return cost * self.runs / self.allowance(kind)

    def _decayed(self, kind: ReportKind) -> float:
        """`kind`'s spending decayed to now (the lock held)."""
        now = time.perf_counter()
        value = self._spent[kind] * math.exp(-(now - self._updated[kind]) / SPENDING_WINDOW)
        self._spent[kind], self._updated[kind] = value, now
        return value


__all__ = ["SPENDING_WINDOW", "ReportBudget", "ReportKind"]
