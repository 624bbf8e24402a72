"""Which jobs of a worker train as cohorts: one `CohortRunner` per cohort key.

One pool per executor or worker process, used only with `NNPLAY_COHORTS=on`; its
runners see it as their `RunnerPool` (`nnplay.jobs.cohorts`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from nnplay.jobs.cohorts import CohortRunner, Join
from nnplay.jobs.runner import RunEvents, RunRequest
from nnplay.jobs.scheduler import RunScheduler
from nnplay.spec import parse_spec
from nnplay.train.cohort_key import cohort_key
from nnplay.train.control import TrainerControl
from nnplay.train.report_budget import ReportBudget


class CohortPool:
    """Routes the jobs of one worker that can share a cohort to one runner per cohort key."""

    def __init__(self, scheduler: RunScheduler, report_budget: ReportBudget | None,
                 slice_seconds: float = 0.005, min_size: int = 3,
                 flush: Callable[[], None] | None = None) -> None:
        self.scheduler = scheduler
        # Sends the hooks its runners' members reported so far (a worker batches them
        # per round); None: hooks go out as they happen.
        self.flush = flush or (lambda: None)
        self.min_size = min_size  # fewer running members than this step solo
        self.report_budget = report_budget
        self.slice_seconds = slice_seconds
        self._lock = threading.Lock()
        self._runners: dict[Hashable, CohortRunner] = {}

    @staticmethod
    def key_of(request: RunRequest) -> Hashable | None:
        """The job's cohort key, or None when it runs solo (no key, or not on the CPU)."""
        if request.device == "cuda":
            return None
        try:
            return cohort_key(parse_spec(request.spec))
        except Exception:  # a bad spec: the solo path reports it as solo does
            return None

    def start(self, key: Hashable, request: RunRequest, control: TrainerControl,
              events: RunEvents, wanted: threading.Event,
              on_done: Callable[[], None] | None = None) -> None:
        """Hand a job to its key's runner (started on the scheduler if it has none)."""
        with self._lock:
            runner = self._runners.get(key)
            new = runner is None
            if runner is None:
                runner = self._runners[key] = CohortRunner(self)
            runner.incoming.append(Join(request, control, events, wanted, on_done))
            control.on_change = runner.control.nudge
        if new:
            self.scheduler.submit(runner.run(), runner.control)
        else:
            runner.control.nudge()

    def take_incoming(self, runner: CohortRunner) -> list[Join] | None:
        """The runner's new jobs; None (and the runner is forgotten) when it is done."""
        with self._lock:
            joins, runner.incoming = runner.incoming, []
            if not joins and not runner.members:
                for key, known in list(self._runners.items()):
                    if known is runner:
                        del self._runners[key]
                return None
            return joins

    def forget(self, runner: CohortRunner) -> list[Join]:
        """Drop an ended runner; returns the jobs that were still waiting for it."""
        with self._lock:
            for key, known in list(self._runners.items()):
                if known is runner:
                    del self._runners[key]
            joins, runner.incoming = runner.incoming, []
            return joins

    def runner_count(self) -> int:
        """How many cohort runners this pool has now."""
        with self._lock:
            return len(self._runners)


__all__ = ["CohortPool"]
