"""One worker's jobs: what a worker process and a Ray worker actor both run.

A worker receives commands (start, control, checkpoint) and runs its jobs on one
run scheduler (cohorts on, jobs sharing a cohort key train as one stacked model);
each job reports through the `RunEvents` the caller makes for it, which forward
the hooks to the server however that worker talks to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from nnplay.jobs.cohort_pool import CohortPool
from nnplay.jobs.runner import RunEvents, RunRequest, job_steps
from nnplay.jobs.scheduler import RunScheduler
from nnplay.train.control import TrainerControl
from nnplay.train.report_budget import ReportBudget

Command = tuple[Any, ...]  # ("start", job id, RunRequest) | ("control", job id, method, *args)
#                            | ("checkpoint", job id)


class WorkerJobs:
    """The jobs of one worker, on one scheduler thread, and the commands that reach them."""

    def __init__(self, name: str, report_share: float, cohorts: bool,
                 events_for: Callable[[str, bool], RunEvents], cohort_min_size: int = 3,
                 flush: Callable[[], None] | None = None) -> None:
        self.report_budget = ReportBudget(report_share)  # shared by this worker's jobs
        # events_for(job id, cohort member?): a member's hooks may wait for its round's
        # `flush` and leave together.
        self.events_for = events_for
        self.controls: dict[str, TrainerControl] = {}
        self.wanted: dict[str, threading.Event] = {}
        self.scheduler = RunScheduler(name)
        self.pool = CohortPool(self.scheduler, self.report_budget, min_size=cohort_min_size,
                               flush=flush) if cohorts else None

    def handle(self, command: Command) -> None:
        """Apply one command from the server."""
        kind, job_id, *args = command
        if kind == "start":
            self.start(args[0])
        elif kind == "control" and job_id in self.controls:
            method, *params = args
            getattr(self.controls[job_id], method)(*params)
        elif kind == "checkpoint" and job_id in self.wanted:
            self.wanted[job_id].set()
            self.controls[job_id].nudge()  # a parked run writes it now, not on resume

    def start(self, request: RunRequest) -> None:
        """Run a job: in its cohort if it has one, else alone on the scheduler."""
        job_id = request.job_id
        control = self.controls[job_id] = TrainerControl(paused=request.paused)
        wanted = self.wanted[job_id] = threading.Event()
        key = self.pool.key_of(request) if self.pool is not None else None
        if self.pool is not None and key is not None:
            self.pool.start(key, request, control, self.events_for(job_id, True), wanted)
            return
        events = self.events_for(job_id, False)
        self.scheduler.submit(job_steps(request, control, events, wanted, self.report_budget),
                              control)

    def close(self, timeout: float) -> None:
        """Stop every job and wait up to `timeout` s for the scheduler to end."""
        for control in list(self.controls.values()):
            control.stop()
        self.scheduler.close(timeout)


__all__ = ["Command", "WorkerJobs"]
