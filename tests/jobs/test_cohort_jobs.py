"""Jobs trained as cohorts in a real in-process app (NNPLAY_COHORTS=on, thread executor).

Nothing is mocked: jobs run on the app's scheduler thread; `Cohort.step` is only
counted (wrapped, still called) to show the batched path was taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from cohortapp import close as close_on
from cohortapp import cohort_apps, count_steps, final  # noqa: F401 (make_app)
from polling import WAIT, wait_until

from nnplay.client import Client
from nnplay.config import Settings
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.cohort_reports import METRICS_POINTS_PER_S
from nnplay.jobs.job import Job
from nnplay.jobs.manager import JobManager
from nnplay.jobs.status import JobStatus
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.cohort import Cohort
from nnplay.train.trainer import Trainer, TrainerOptions

STEPS = 300
# (seed, lr): rates at which float noise does not grow chaotically within the run
LRS = ((1, 0.01), (2, 0.005), (3, 0.008), (4, 0.012))


def member_spec(seed: int, lr: float, max_steps: int = STEPS, **extra: Any) -> ExperimentSpec:
    """The spiral preset with its own seed and learning rate."""
    return get_preset("spiral").build({"seed": seed, "optimizer": {"name": "adam", "lr": lr},
                                       "max_steps": max_steps, **extra})


@pytest.fixture
def cohort_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many members each `Cohort.step` stepped (the real step still runs)."""
    return count_steps(monkeypatch, Cohort)


def four(manager: JobManager, paused: bool = False, max_steps: int = STEPS,
         count: int = 4) -> list[Job]:
    """Up to four spiral jobs with different seeds and learning rates."""
    return [manager.create(member_spec(seed, lr, max_steps), paused=paused) for seed, lr in
            LRS[:count]]


def close(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two metrics points agree within float tolerance."""
    close_on(a, b, ("train_loss", "test_loss", "train_accuracy", "test_accuracy"))


def test_members_end_with_the_same_metrics_as_solo_runs(
        make_app: Callable[..., JobManager], cohort_steps: list[int]) -> None:
    on = four(make_app("on"))
    for job in on:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert cohort_steps and max(cohort_steps) == 4  # they did train as one cohort
    batched = len(cohort_steps)
    off = four(make_app("off"))
    for job in off:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert len(cohort_steps) == batched  # cohorts off: every job trained alone
    for a, b in zip(on, off, strict=True):
        assert a.step == b.step == STEPS
        close(final(a), final(b))
        assert final(a)["report"] is not None  # the per-class report at the end, as solo


def test_pause_lr_and_stop_of_one_member_leave_the_others_as_solo(
        make_app: Callable[..., JobManager], cohort_steps: list[int]) -> None:
    manager = make_app("on")
    first, second = four(manager, paused=True, max_steps=400, count=2)
    # These two are stopped, never ended by max_steps.
    third, fourth = (manager.create(member_spec(*LRS[i], 100_000), paused=True) for i in (2, 3))
    jobs = [first, second, third, fourth]
    for job in jobs:
        wait_until(lambda job=job: job.status == JobStatus.paused)  # type: ignore[misc]
    for job in (second, third, fourth):
        manager.resume(job.id)
    manager.step(first.id, 5)  # a paused member steps on its own
    wait_until(lambda: first.reported_step == 5 or (first.latest or {}).get("step") == 5)
    wait_until(lambda: second.step > 50)
    assert first.status == JobStatus.paused and (first.latest or {})["step"] == 5
    manager.set_lr(third.id, 0.001)  # one member's rate only
    wait_until(lambda: (third.latest or {}).get("lr") == 0.001)
    assert (second.latest or {})["lr"] == 0.005
    manager.stop(fourth.id)
    assert fourth.wait_finished(WAIT) and fourth.status == JobStatus.stopped
    manager.resume(first.id)
    for job in (first, second):
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    manager.stop(third.id)
    assert third.wait_finished(WAIT) and third.status == JobStatus.stopped
    assert max(cohort_steps) >= 3
    # The same runs solo: pause/step/resume change nothing in a run's numbers; the
    # stopped one ends where it was stopped.
    solo = make_app("off")
    twins = [solo.create(member_spec(seed, lr, 400)) for seed, lr in LRS[:2]]
    for twin in twins:
        assert twin.wait_finished(WAIT)
    close(final(first), final(twins[0]))
    close(final(second), final(twins[1]))
    assert final(third)["lr"] == 0.001


def test_a_checkpoint_taken_in_a_cohort_is_the_solo_runs_state(
        make_app: Callable[..., JobManager], cohort_steps: list[int], tmp_path: Path) -> None:
    """Periodic checkpoints of an in-cohort member load into a solo trainer and equal it."""
    manager = make_app("on", persist=True, data_dir=tmp_path, checkpoint_interval=0.2)
    jobs = [manager.create(member_spec(seed, lr, 100_000)) for seed, lr in LRS[:3]]
    store = CheckpointStore(tmp_path / "checkpoints")
    wait_until(lambda: len(cohort_steps) > 0)
    joined = jobs[0].step
    wait_until(lambda: store.path(jobs[0].id).exists()
               and int(store.load(jobs[0].id)["step"]) > joined + 20)
    state = store.load(jobs[0].id)
    assert max(cohort_steps) == 3
    solo = Trainer(member_spec(*LRS[0], 100_000), TrainerOptions(snapshot_interval=0))
    for _ in range(int(state["step"])):
        solo.train_step()
    for name, weight in solo.network.state_dict().items():
        torch.testing.assert_close(state["network"][name], weight, rtol=1e-4, atol=1e-5)
    resumed = Trainer(member_spec(*LRS[0], 100_000), TrainerOptions(snapshot_interval=0))
    resumed.load_state_dict(state)  # the solo format: a solo run goes on from it
    assert resumed.train_step() == pytest.approx(solo.train_step(), rel=1e-3)
    for job in jobs:
        manager.stop(job.id)


def regression(seed: int, lr: float) -> ExperimentSpec:
    """A small regression run; lr 10 makes it diverge within a few dozen steps."""
    return parse_spec({
        "seed": seed, "task": "regression", "loss": "mse", "max_steps": STEPS,
        "dataset": {"name": "plane", "n_samples": 100, "seed": seed},
        "model": {"layers": [{"units": 6, "activation": "relu"}], "init": "normal"},
        "optimizer": {"name": "sgd", "lr": lr}, "batch_size": 10})


def test_a_diverging_member_fails_alone(make_app: Callable[..., JobManager],
                                        cohort_steps: list[int]) -> None:
    manager = make_app("on")
    calm = [manager.create(regression(seed, 0.01)) for seed in (0, 2, 3)]
    wild = manager.create(regression(1, 10.0))
    assert wild.wait_finished(WAIT) and wild.status == JobStatus.failed
    assert wild.failure is not None and wild.failure["kind"] == "diverged"
    for job in calm:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert max(cohort_steps) == 4
    off = make_app("off")
    twin = off.create(regression(1, 10.0))
    alone = off.create(regression(0, 0.01))
    assert twin.wait_finished(WAIT) and alone.wait_finished(WAIT)
    assert twin.failure == wild.failure  # the same structured failure, same step, as solo
    close(final(calm[0]), final(alone))


def test_a_cohorts_members_send_a_bounded_number_of_metrics_points_together(
        make_app: Callable[..., JobManager], cohort_steps: list[int]) -> None:
    """Thirty watched members of one cohort: each still gets points, but together at
    most METRICS_POINTS_PER_S a second (twenty each would be 600: the server's store and
    viewers pay for every point)."""
    manager = make_app("on")
    jobs = [manager.create(member_spec(seed, 0.01, 1_000_000)) for seed in range(30)]
    for job in jobs:
        job.control.set_watched(True)  # as a viewer's websocket does
    wait_until(lambda: all(len(job.history.points()) > 2 for job in jobs))
    before = [len(job.history.points()) for job in jobs]
    started = time.monotonic()
    time.sleep(2.0)
    after = [len(job.history.points()) for job in jobs]
    seconds = time.monotonic() - started
    for job in jobs:
        manager.stop(job.id)
    total = sum(after) - sum(before)
    assert all(a > b for a, b in zip(after, before, strict=True))  # every member reports
    # One round may send a point of every member at once beyond the pace.
    assert total <= METRICS_POINTS_PER_S * seconds + len(jobs), total
    assert max(cohort_steps) == 30  # they trained as one cohort


def _watch(client: Client, job_id: str, frames: int) -> list[int]:
    """Steps of the first `frames` boundary frames a viewer of `job_id` gets, each decoded."""
    steps: list[int] = []
    with client.stream(job_id) as stream:
        deadline = time.monotonic() + WAIT
        while len(steps) < frames and time.monotonic() < deadline:
            event = stream.receive(timeout=WAIT)
            if event.type in ("boundary", "neurons"):
                assert event.array is not None and event.array.size > 0  # decoded
                if event.type == "boundary":
                    steps.append(event.data["step"])
    return steps


@pytest.mark.server
@pytest.mark.timeout(120)
def test_fifty_jobs_in_a_live_server_train_as_cohorts_and_every_viewer_decodes_frames(
        server_factory: Callable[..., Any]) -> None:
    """A real `nnplay serve` with its defaults (cohorts on, a worker process per core):
    fifty jobs of a class (five learning rates, own seeds) all progress, and fifty viewers
    at once each get boundary frames that decode, with steps that rise. (One client
    starts them all: the per-person limit is raised to let it.)"""
    server = server_factory(env={"NNPLAY_MAX_JOBS_PER_USER": "50"})
    with Client(server.url) as client:
        assert client.health()["cohorts"] == {"on": True, "min_size": 3}  # the defaults
        ids = [client.create_job(preset="spiral", overrides={
            "max_steps": 1_000_000, "seed": seed,
            "optimizer": {"name": "adam", "lr": (0.01, 0.005, 0.008, 0.012, 0.02)[seed % 5]}}
        )["id"] for seed in range(50)]

        def steps() -> dict[str, int]:
            return {job["id"]: job["step"] for job in client.jobs()}

        wait_until(lambda: all(steps()[i] > 0 for i in ids))
        first = steps()
        wait_until(lambda: all(steps()[i] > first[i] + 100 for i in ids))
        with ThreadPoolExecutor(len(ids)) as pool:
            seen = list(pool.map(lambda job_id: _watch(client, job_id, 5), ids))
        for job_steps in seen:
            assert len(job_steps) == 5, job_steps
            assert job_steps == sorted(job_steps) and job_steps[-1] > job_steps[0]
        for job_id in ids:
            client.stop(job_id)
        wait_until(lambda: all(client.job(i)["status"] == "stopped" for i in ids))


def test_shutdown_with_running_members_is_prompt_and_keeps_checkpoints(
        make_app: Callable[..., JobManager], cohort_steps: list[int], tmp_path: Path) -> None:
    """Shutting the app down stops a cohort's members at once, each checkpointed.

    (Before, the runner parked once its last member ended and nothing woke it again, so
    the scheduler's close waited out its whole timeout, twice: 10 s for 5.)
    """
    manager = make_app("on", persist=True, data_dir=tmp_path, checkpoint_interval=60)
    jobs = [manager.create(member_spec(seed, lr, 100_000)) for seed, lr in LRS[:3]]
    wait_until(lambda: len(cohort_steps) > 20)
    started = time.monotonic()
    manager.shutdown(timeout=10.0)
    took = time.monotonic() - started
    assert took < 5.0, f"shutdown took {took:.1f} s"
    store = CheckpointStore(tmp_path / "checkpoints")
    for job in jobs:
        assert job.status == JobStatus.interrupted
        assert int(store.load(job.id)["step"]) == job.step > 20


def test_fewer_members_than_the_minimum_train_solo(make_app: Callable[..., JobManager],
                                                   cohort_steps: list[int]) -> None:
    """Below `cohort_min_size` running members, jobs step solo; at it they stack."""
    with pytest.raises(ValueError, match="cohort_min_size"):
        Settings(cohort_min_size=1)
    manager = make_app("on", cohort_min_size=3)
    pair = [manager.create(member_spec(seed, lr)) for seed, lr in LRS[:2]]
    for job in pair:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert cohort_steps == []  # two never formed a cohort
    trio = [manager.create(member_spec(seed, lr)) for seed, lr in LRS[:3]]
    for job in trio:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert max(cohort_steps) == 3
    close(final(pair[0]), final(trio[0]))  # the same run, solo or stacked
    lower = make_app("on", cohort_min_size=2)
    twins = [lower.create(member_spec(seed, lr)) for seed, lr in LRS[:2]]
    for job in twins:
        assert job.wait_finished(WAIT)
    assert cohort_steps[-1] == 2
