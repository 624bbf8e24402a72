"""Which stacked engine trains a cohort of a task, and what a runner asks of one.

Beside the cohort key (`nnplay.train.cohort_key`): a keyed spec's task picks its
engine here, `Cohort` for dense supervised runs and `GanCohort` for GAN pairs; both
satisfy `CohortEngine`, the membership and stepping a cohort runner
(`nnplay.jobs.cohorts`) uses without knowing which it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from torch import Tensor

from nnplay.spec import ExperimentSpec, Task
from nnplay.train.cohort import Cohort
from nnplay.train.cohort_stack import MemberId
from nnplay.train.gan_cohort import GanCohort


class EngineStep(Protocol):
    """What one batched step gave (`CohortStep`, `GanCohortStep`)."""

    @property
    def ids(self) -> tuple[MemberId, ...]: ...

    @property
    def losses(self) -> Tensor: ...

    @property
    def diverged(self) -> dict[MemberId, str]: ...


class CohortEngine(Protocol):
    """Members trained as one stacked model, moving in and out in their solo state format."""

    key: Hashable | None

    def __len__(self) -> int: ...

    def __contains__(self, member: object) -> bool: ...

    @property
    def ids(self) -> tuple[MemberId, ...]: ...

    def add_many(self, members: Sequence[tuple[MemberId, ExperimentSpec,
                                               dict[str, Any] | None]]) -> None: ...

    def remove(self, member: MemberId) -> dict[str, Any]: ...

    def export_state(self, member: MemberId) -> dict[str, Any]: ...

    def weights_of(self, member: MemberId) -> dict[str, Tensor]: ...

    def set_lr(self, member: MemberId, lr: float, target: str = "all") -> None: ...

    def step(self) -> EngineStep: ...


# task -> engine(spec, grid_size, neuron_grid_size); a keyed spec's task is always here.
COHORT_ENGINES: dict[Task, Callable[[ExperimentSpec, int, int], CohortEngine]] = {
    Task.classification: Cohort, Task.regression: Cohort, Task.gan: GanCohort}


def make_engine(spec: ExperimentSpec, grid_size: int = 64,
                neuron_grid_size: int = 16) -> CohortEngine:
    """The stacked engine for members like `spec` (which must have a cohort key)."""
    return COHORT_ENGINES[spec.task](spec, grid_size, neuron_grid_size)


__all__ = ["COHORT_ENGINES", "CohortEngine", "EngineStep", "make_engine"]
