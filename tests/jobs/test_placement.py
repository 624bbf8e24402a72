"""Placement of new jobs on worker processes: cohorts stay whole, loads stay even."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnplay.jobs.placement import COHORT_SLACK, Placement
from nnplay.jobs.runner import RunRequest
from nnplay.presets import get_preset
from nnplay.spec import parse_spec
from nnplay.train.cohort_key import cohort_key


@dataclass
class _Worker:
    jobs: set[str] = field(default_factory=set)


def _spec(preset: str, seed: int) -> dict[str, Any]:
    return get_preset(preset).build({"seed": seed}).model_dump(mode="json")


def _request(job_id: str, spec: dict[str, Any], device: str = "cpu") -> RunRequest:
    return RunRequest(job_id=job_id, spec=spec, frame_rate=20.0, device=device)


def _place(placement: Placement, workers: list[_Worker], specs: list[dict[str, Any]],
           first: int = 0) -> dict[str, _Worker]:
    placed = {}
    for i, spec in enumerate(specs, start=first):
        worker = placement.choose(workers, _request(f"j{i}", spec))
        worker.jobs.add(f"j{i}")
        placed[f"j{i}"] = worker
    return placed


def _runners(workers: list[_Worker], specs: dict[str, dict[str, Any]]) -> int:
    """Cohort runners the workers end up with: one per (worker, key) pair."""
    return sum(len({cohort_key(parse_spec(specs[job])) for job in w.jobs}) for w in workers)


def test_a_classroom_keeps_its_cohorts_together_on_evenly_loaded_workers() -> None:
    presets = ["spiral", "spiral", "circle", "circle", "gaussians"]  # as a class mixes them
    specs = {f"j{i}": _spec(presets[i % 5], i) for i in range(100)}
    workers = [_Worker(), _Worker()]
    _place(Placement(cohorts=True), workers, list(specs.values()))
    keys = len({cohort_key(parse_spec(spec)) for spec in specs.values()})
    # One by one each worker would train every key (2 * keys runners); kept together
    # at most one key is split.
    assert _runners(workers, specs) <= keys + 1 < 2 * keys
    assert abs(len(workers[0].jobs) - len(workers[1].jobs)) <= COHORT_SLACK

    spread = [_Worker(), _Worker()]  # cohorts off: strictly the least loaded
    _place(Placement(cohorts=False), spread, list(specs.values()))
    assert _runners(spread, specs) == 2 * keys
    assert len(spread[0].jobs) == len(spread[1].jobs) == 50


def test_one_preset_for_everyone_splits_evenly_over_the_workers() -> None:
    workers = [_Worker(), _Worker()]
    _place(Placement(cohorts=True), workers, [_spec("spiral", i) for i in range(100)])
    assert len(workers[0].jobs) == len(workers[1].jobs) == 50


def test_ended_jobs_bad_specs_and_gpu_runs_leave_the_least_loaded_choice() -> None:
    placement = Placement(cohorts=True)
    workers = [_Worker(), _Worker()]
    placed = _place(placement, workers, [_spec("spiral", i) for i in range(6)])
    assert len(workers[0].jobs) == 6  # within the slack, all with their cohort
    for job, worker in placed.items():  # they all end
        worker.jobs.discard(job)
    workers[1].jobs.add("other")
    # Nobody runs spiral any more: a new spiral job goes to the least loaded worker.
    assert placement.choose(workers, _request("new", _spec("spiral", 9))) is workers[0]
    workers[0].jobs |= {"new", "a", "b"}
    assert placement.choose(workers, _request("bad", {"layers": "not a list"})) is workers[1]
    # A run on the GPU never joins a cohort (its worker trains it solo): least loaded too.
    assert placement.choose(workers, _request("gpu", _spec("spiral", 10), "cuda")) is workers[1]
