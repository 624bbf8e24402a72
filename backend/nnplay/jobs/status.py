"""The job status enum and the transitions it allows."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life."""

    queued = "queued"
    running = "running"
    paused = "paused"
    completed = "completed"
    stopped = "stopped"
    failed = "failed"
    interrupted = "interrupted"

    @property
    def finished(self) -> bool:
        """Whether the job will not train again (without a resume from a checkpoint)."""
        return self in _FINISHED

    @property
    def active(self) -> bool:
        """Whether the job holds a training slot or waits for one."""
        return self in (JobStatus.queued, JobStatus.running, JobStatus.paused)


_FINISHED = frozenset({JobStatus.completed, JobStatus.stopped, JobStatus.failed,
                       JobStatus.interrupted})

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.queued: frozenset({JobStatus.running, JobStatus.paused, JobStatus.stopped,
                                 JobStatus.failed, JobStatus.interrupted}),
    JobStatus.running: frozenset({JobStatus.paused, JobStatus.completed, JobStatus.stopped,
                                  JobStatus.failed, JobStatus.interrupted}),
    JobStatus.paused: frozenset({JobStatus.running, JobStatus.completed, JobStatus.stopped,
                                 JobStatus.failed, JobStatus.interrupted}),
    JobStatus.completed: frozenset(),
    JobStatus.stopped: frozenset(),
    JobStatus.failed: frozenset(),
    JobStatus.interrupted: frozenset({JobStatus.queued}),
}


class IllegalTransition(Exception):
    """A status change that does not apply, e.g. resuming a completed job."""

    def __init__(self, current: JobStatus, wanted: JobStatus, action: str | None = None) -> None:
        self.current = current
        self.wanted = wanted
        doing = action or f"move to {wanted.value}"
        super().__init__(f"cannot {doing}: the job is {current.value}")


def check_transition(current: JobStatus, wanted: JobStatus, action: str | None = None) -> None:
    """Raise `IllegalTransition` unless `current -> wanted` is allowed (same -> same is)."""
    if wanted != current and wanted not in _ALLOWED[current]:
        raise IllegalTransition(current, wanted, action)
