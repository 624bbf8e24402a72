"""GAN pairs trained as cohorts in a real in-process app (NNPLAY_COHORTS=on, thread executor).

Nothing is mocked: jobs run on the app's scheduler thread; `GanCohort.step` is only
counted (wrapped, still called) to show the batched path was taken. Each member's
results are compared with its solo run: the same spec in a cohorts-off app, or a
`GanTrainer` driven by hand through the same pause/step/lr changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from cohortapp import close as close_on
from cohortapp import cohort_apps, count_steps, final  # noqa: F401 (make_app)
from polling import WAIT, wait_until

from nnplay.client import Client
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.manager import JobManager
from nnplay.jobs.status import JobStatus
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec
from nnplay.train.gan import GanTrainer
from nnplay.train.gan_cohort import GanCohort
from nnplay.train.loop import TrainerOptions

STEPS = 150
LRS = ((1, 0.001), (2, 0.0005), (3, 0.0008), (4, 0.0012))  # (seed, lr)
FIGURES = ("d_loss", "g_loss", "d_real", "d_fake", "distance", "kl", "js", "coverage")


def ring(seed: int, lr: float, max_steps: int = STEPS, **extra: Any) -> ExperimentSpec:
    """The gan-ring preset (300 real points) with its own seed, target noise and lr."""
    return get_preset("gan-ring").build({
        "seed": seed, "dataset": {"name": "ring", "n_samples": 300, "seed": seed,
                                  "noise": 0.1 * seed},
        "optimizer": {"name": "adam", "lr": lr, "beta1": 0.5}, "max_steps": max_steps,
        **extra})


@pytest.fixture
def gan_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many members each `GanCohort.step` stepped (the real step still runs)."""
    return count_steps(monkeypatch, GanCohort)


def close(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Two GAN metrics points agree within float tolerance."""
    close_on(a, b, FIGURES)


def by_hand(spec: ExperimentSpec, d_first: int = 0) -> dict[str, Any]:
    """The final metrics of a solo `GanTrainer` run that starts with `d_first` D-only steps."""
    trainer = GanTrainer(spec, TrainerOptions(snapshot_interval=0, metrics_interval=0))
    for _ in range(d_first):
        trainer.train_phase("d")
    while trainer.step < spec.max_steps:
        trainer.train_step()
    return trainer.evaluate().to_dict()


def test_gan_members_end_with_their_solo_runs_metrics(
        make_app: Callable[..., JobManager], gan_steps: list[int]) -> None:
    on = make_app("on")
    jobs = [on.create(ring(seed, lr)) for seed, lr in LRS]
    for job in jobs:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert gan_steps and max(gan_steps) == 4  # they did train as one cohort
    batched = len(gan_steps)
    off = make_app("off")
    twins = [off.create(ring(seed, lr)) for seed, lr in LRS]
    for twin in twins:
        assert twin.wait_finished(WAIT) and twin.status == JobStatus.completed
    assert len(gan_steps) == batched  # cohorts off: every job trained alone
    for job, twin in zip(jobs, twins, strict=True):
        assert job.step == twin.step == STEPS
        close(final(job), final(twin))
        assert (final(job)["g_lr"], final(job)["d_lr"]) == (final(twin)["g_lr"],
                                                            final(twin)["d_lr"])


def test_pause_step_lr_and_stop_of_one_member_leave_the_others_as_solo(
        make_app: Callable[..., JobManager], gan_steps: list[int]) -> None:
    manager = make_app("on")
    first, second = (manager.create(ring(*LRS[i], 250), paused=True) for i in (0, 1))
    third, fourth = (manager.create(ring(*LRS[i], 100_000), paused=True) for i in (2, 3))
    jobs = [first, second, third, fourth]
    for job in jobs:
        wait_until(lambda job=job: job.status == JobStatus.paused)  # type: ignore[misc]
    for job in (second, third, fourth):
        manager.resume(job.id)
    manager.step(first.id, 5, "d")  # a paused member trains only its discriminator
    wait_until(lambda: (first.latest or {}).get("step") == 5)
    wait_until(lambda: second.step > 40)
    assert first.status == JobStatus.paused
    manager.set_lr(third.id, 0.0002, "g")  # one member's generator only
    wait_until(lambda: (third.latest or {}).get("g_lr") == 0.0002)
    assert (third.latest or {})["d_lr"] == LRS[2][1]
    assert ((second.latest or {})["g_lr"], (second.latest or {})["d_lr"]) == (LRS[1][1],) * 2
    manager.stop(fourth.id)
    assert fourth.wait_finished(WAIT) and fourth.status == JobStatus.stopped
    manager.resume(first.id)
    for job in (first, second):
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    manager.stop(third.id)
    assert third.wait_finished(WAIT) and third.status == JobStatus.stopped
    assert max(gan_steps) >= 3
    close(final(first), by_hand(ring(*LRS[0], 250), d_first=5))
    close(final(second), by_hand(ring(*LRS[1], 250)))
    assert (final(third)["g_lr"], final(third)["d_lr"]) == (0.0002, LRS[2][1])


def test_a_checkpoint_taken_in_a_gan_cohort_is_the_solo_runs_state(
        make_app: Callable[..., JobManager], gan_steps: list[int], tmp_path: Path) -> None:
    """Periodic checkpoints of an in-cohort GAN member load into a solo `GanTrainer` and
    equal its run."""
    manager = make_app("on", persist=True, data_dir=tmp_path, checkpoint_interval=0.2)
    jobs = [manager.create(ring(seed, lr, 100_000)) for seed, lr in LRS[:3]]
    store = CheckpointStore(tmp_path / "checkpoints")
    wait_until(lambda: len(gan_steps) > 0)
    joined = jobs[0].step
    wait_until(lambda: store.path(jobs[0].id).exists()
               and int(store.load(jobs[0].id)["step"]) > joined + 20)
    state = store.load(jobs[0].id)
    assert max(gan_steps) == 3
    options = TrainerOptions(snapshot_interval=0, metrics_interval=0)
    solo = GanTrainer(ring(*LRS[0], 100_000), options)
    for _ in range(int(state["step"])):
        solo.train_step()
    for name, weight in solo.network.state_dict().items():
        torch.testing.assert_close(state["network"][name], weight, rtol=1e-4, atol=1e-5)
    resumed = GanTrainer(ring(*LRS[0], 100_000), options)
    resumed.load_state_dict(state)  # the solo format: a solo run goes on from it
    assert resumed.train_step() == pytest.approx(solo.train_step(), rel=1e-3, abs=1e-5)
    for job in jobs:
        manager.stop(job.id)


def test_a_diverging_gan_member_fails_alone(make_app: Callable[..., JobManager],
                                            gan_steps: list[int]) -> None:
    """A critic trained at lr 10 diverges with its solo run's failure; the others finish."""
    def critic(seed: int, lr: float) -> ExperimentSpec:
        return ring(seed, lr, gan_loss="wasserstein_gp", gradient_penalty=0.0,
                    optimizer={"name": "sgd", "lr": lr})

    manager = make_app("on")
    calm = [manager.create(critic(seed, 0.001)) for seed in (0, 2, 3)]
    wild = manager.create(critic(1, 10.0))
    assert wild.wait_finished(WAIT) and wild.status == JobStatus.failed
    assert wild.failure is not None and wild.failure["kind"] == "diverged"
    for job in calm:
        assert job.wait_finished(WAIT) and job.status == JobStatus.completed
    assert max(gan_steps) == 4
    off = make_app("off")
    twin = off.create(critic(1, 10.0))
    alone = off.create(critic(0, 0.001))
    assert twin.wait_finished(WAIT) and alone.wait_finished(WAIT)
    assert twin.failure == wild.failure  # the same structured failure, same step, as solo
    close(final(calm[0]), final(alone))


@pytest.mark.server
@pytest.mark.timeout(120)
def test_gan_jobs_in_a_live_server_progress_and_stream_frames(
        server_factory: Callable[..., Any]) -> None:
    """A real `nnplay serve` with one worker process and cohorts on: six gan-ring jobs
    train (as one cohort) and a viewer decodes each kind of their frames."""
    server = server_factory(env={"NNPLAY_COHORTS": "on", "NNPLAY_WORKERS": "1"})
    with Client(server.url) as client:
        ids = [client.create_job(preset="gan-ring", overrides={
            "max_steps": 100_000, "seed": seed, "optimizer": {"name": "adam", "lr": lr}})["id"]
            for seed, lr in enumerate((0.001, 0.0005, 0.002) * 2)]

        def steps() -> dict[str, int]:
            return {job["id"]: job["step"] for job in client.jobs()}

        wait_until(lambda: all(steps()[i] > 0 for i in ids))
        first = steps()
        wait_until(lambda: all(steps()[i] > first[i] + 100 for i in ids))
        with client.stream(ids[2]) as stream:
            fakes: list[int] = []
            kinds: set[str] = set()
            deadline = time.monotonic() + WAIT
            while len(fakes) < 4 and time.monotonic() < deadline:
                event = stream.receive(timeout=WAIT)
                if event.array is not None:
                    assert event.array.size > 0  # decoded
                    kinds.add(event.type)
                if event.type == "fake":
                    fakes.append(event.data["step"])
        assert len(fakes) == 4, fakes
        assert fakes == sorted(fakes) and fakes[-1] > fakes[0]
        assert {"fake", "discriminator"} <= kinds
        for job_id in ids:
            client.stop(job_id)
        wait_until(lambda: all(client.job(i)["status"] == "stopped" for i in ids))
