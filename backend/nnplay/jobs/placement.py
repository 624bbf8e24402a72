"""Which worker process a new job goes to: the least loaded, or one already training
jobs of its cohort key, so that a classroom's cohorts stay whole rather than split.

Spread one by one over two workers, a class of five presets (three cohort keys) made
six cohort runners of 10-20 members; kept together it makes four of 10-40, and each
round of a runner costs the same fixed overhead whatever its size.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol, TypeVar

from nnplay.jobs.cohort_pool import CohortPool
from nnplay.jobs.runner import RunRequest

COHORT_SLACK = 8  # jobs a worker may run beyond the least loaded one to keep a cohort whole


class Slot(Protocol):
    """A worker as placement sees it: the ids of the jobs it runs."""

    jobs: set[str]


SlotT = TypeVar("SlotT", bound=Slot)


class Placement:
    """Chooses workers for new jobs and remembers each running job's cohort key."""

    def __init__(self, cohorts: bool) -> None:
        self.cohorts = cohorts
        self._keys: dict[str, Hashable] = {}  # job id -> cohort key, for running jobs

    def choose(self, slots: Sequence[SlotT], request: RunRequest) -> SlotT:
        """The slot for a new job: one running its cohort key unless that one runs more
        than COHORT_SLACK jobs beyond the least loaded slot, else the least loaded."""
        least = min(slots, key=lambda slot: len(slot.jobs))
        # The key the job's worker will group it by (None: it will train solo there).
        key = CohortPool.key_of(request) if self.cohorts else None
        if key is None:
            return least
        self._forget_ended(slots)
        self._keys[request.job_id] = key
        holders = [slot for slot in slots
                   if len(slot.jobs) - len(least.jobs) <= COHORT_SLACK
                   and any(self._keys.get(other) == key for other in slot.jobs)]
        return min(holders, key=lambda slot: len(slot.jobs)) if holders else least

    def _forget_ended(self, slots: Sequence[Slot]) -> None:
        """Drop the keys of jobs no slot runs any more (ended, or their worker died)."""
        running = set().union(*(slot.jobs for slot in slots))
        self._keys = {job: key for job, key in self._keys.items() if job in running}


__all__ = ["COHORT_SLACK", "Placement"]
