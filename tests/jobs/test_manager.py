"""Tests for the job manager (queue, limits, stop, shutdown) and the bounded metrics history."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from polling import wait_until

from nnplay.api.frames import snapshot_frames
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.job import Job, MetricsHistory
from nnplay.jobs.manager import (
    JobManager,
    ThreadExecutor,
    TooManyJobs,
    TooManyJobsPerUser,
    UnknownJob,
)
from nnplay.jobs.status import IllegalTransition, JobStatus
from nnplay.jobs.store import RunStore
from nnplay.spec import ExperimentSpec, parse_spec

WAIT = 20.0  # seconds a test waits for a training thread (never reached when it passes)


def small_spec(max_steps: int = 1_000_000, **fields: Any) -> ExperimentSpec:
    """A tiny, fast spec; the default budget outlasts any test."""
    return parse_spec({"dataset": {"name": "gaussians", "n_samples": 100, "noise": 0.2},
                       "model": {"layers": [{"units": 2}]}, "max_steps": max_steps, **fields})


@pytest.fixture
def make_manager() -> Iterator[Callable[..., JobManager]]:
    """Managers with their own limits, all shut down after the test."""
    made: list[JobManager] = []

    def make(**limits: Any) -> JobManager:
        manager = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", **limits)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown(timeout=5.0)


def test_a_job_runs_to_completion(make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager()
    job = manager.create(small_spec(max_steps=200))
    assert job.wait_finished(WAIT)
    assert job.status == JobStatus.completed
    assert job.step == 200
    assert job.history.points()[-1]["step"] == 200


def test_jobs_beyond_max_running_wait_in_the_queue(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager(max_running=1)
    first = manager.create(small_spec())
    second = manager.create(small_spec(max_steps=300))
    assert first.status == JobStatus.running
    assert second.status == JobStatus.queued
    wait_until(lambda: first.step > 0)
    assert second.status == JobStatus.queued and second.started_at is None
    manager.stop(first.id)
    assert first.wait_finished(WAIT) and first.status == JobStatus.stopped
    # The freed slot goes to the queued job, which then trains to its end.
    assert second.wait_finished(WAIT)
    assert second.started_at is not None and second.started_at >= first.finished_at - 0.01
    assert second.status == JobStatus.completed and second.step == 300


def test_a_paused_job_keeps_its_slot(make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager(max_running=1)
    first = manager.create(small_spec(), paused=True)
    second = manager.create(small_spec())
    wait_until(lambda: first.status == JobStatus.paused)
    assert second.status == JobStatus.queued


def test_too_many_jobs_is_refused_until_one_finishes(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager(max_running=1, max_jobs=2)
    first = manager.create(small_spec(), paused=True)
    manager.create(small_spec(), paused=True)
    with pytest.raises(TooManyJobs) as caught:
        manager.create(small_spec())
    assert caught.value.retry_after > 0
    assert "limit of 2 active jobs" in str(caught.value)
    manager.stop(first.id)
    assert first.wait_finished(WAIT)
    assert manager.create(small_spec(), paused=True).status.active  # a slot is free again


def test_a_person_may_start_a_job_right_after_stopping_one(
        make_manager: Callable[..., JobManager]) -> None:
    """A job told to stop no longer counts toward its owner's limit, though its worker may
    not have ended it yet (it was a 429 'try again in 5 s' in between)."""
    manager = make_manager(max_jobs_per_owner=1)
    running = manager.create(small_spec(), owner="ada")
    wait_until(lambda: running.status == JobStatus.running)
    with pytest.raises(TooManyJobsPerUser):
        manager.create(small_spec(), owner="ada")
    manager.stop(running.id)
    assert manager.create(small_spec(), paused=True, owner="ada").status.active
    assert running.wait_finished(WAIT)


def test_stopping_a_queued_job_ends_it_at_once_and_it_never_runs(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager(max_running=1)
    first = manager.create(small_spec())
    queued = manager.create(small_spec())
    manager.stop(queued.id)
    assert queued.status == JobStatus.stopped
    assert queued.wait_finished(0)
    manager.stop(first.id)
    assert first.wait_finished(WAIT)
    third = manager.create(small_spec(max_steps=50))  # the queue skips the stopped job
    assert third.wait_finished(WAIT) and third.status == JobStatus.completed
    assert queued.status == JobStatus.stopped and queued.started_at is None
    assert queued.step == 0


def test_controls_of_a_running_job(make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager()
    job = manager.create(small_spec())
    wait_until(lambda: job.step > 0)
    manager.pause(job.id)
    assert job.status == JobStatus.paused
    with pytest.raises(IllegalTransition, match="the job is paused"):
        manager.pause(job.id)
    manager.step(job.id, 3)
    manager.resume(job.id)
    assert job.status == JobStatus.running
    with pytest.raises(IllegalTransition, match="pause the job first"):
        manager.step(job.id, 1)
    manager.set_lr(job.id, 0.5)
    wait_until(lambda: job.view()["metrics"]["lr"] == 0.5)  # the trainer now reports it
    manager.stop(job.id)
    assert job.wait_finished(WAIT) and job.status == JobStatus.stopped
    with pytest.raises(IllegalTransition):
        manager.resume(job.id)
    with pytest.raises(IllegalTransition):
        manager.stop(job.id)


def test_bad_values_and_unknown_ids_are_refused(make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager()
    job = manager.create(small_spec(), paused=True)
    with pytest.raises(ValueError, match="lr must be between"):
        manager.set_lr(job.id, 0.0)
    with pytest.raises(ValueError, match="steps must be between"):
        manager.step(job.id, 0)
    with pytest.raises(UnknownJob, match="no job with id 'nope'"):
        manager.get("nope")


def test_delete_forgets_the_job_and_stops_its_training(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager()
    job = manager.create(small_spec())
    wait_until(lambda: job.step > 0)
    manager.delete(job.id)
    assert job.wait_finished(WAIT) and job.status == JobStatus.stopped
    assert job not in manager.list()
    with pytest.raises(UnknownJob):
        manager.get(job.id)


def test_shutdown_marks_unfinished_jobs_interrupted(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager(max_running=2)
    done = manager.create(small_spec(max_steps=20))
    assert done.wait_finished(WAIT)
    running = manager.create(small_spec())
    paused = manager.create(small_spec(), paused=True)
    queued = manager.create(small_spec())
    wait_until(lambda: running.step > 0 and paused.status == JobStatus.paused)
    assert queued.status == JobStatus.queued

    started = time.monotonic()
    manager.shutdown(timeout=5.0)
    assert time.monotonic() - started < 3.0  # training threads stop between steps
    for job in (running, paused, queued):
        assert job.status == JobStatus.interrupted
        assert job.reason is not None and "server stopped" in job.reason
    assert done.status == JobStatus.completed
    with pytest.raises(IllegalTransition):
        manager.create(small_spec())


def test_shutdown_tells_viewers_the_job_was_interrupted(
        make_manager: Callable[..., JobManager]) -> None:
    manager = make_manager()
    job = manager.create(small_spec())
    wait_until(lambda: job.step > 0)

    async def watch() -> list[str]:
        async with job.hub.subscribe() as subscription:
            await asyncio.to_thread(manager.shutdown, 5.0)
            statuses: list[str] = []
            while "interrupted" not in statuses:
                messages, _ = await asyncio.wait_for(subscription.next_batch(), 5.0)
                statuses += [m["status"] for m in messages if m["type"] == "status"]
            return statuses

    assert asyncio.run(watch())[-1] == "interrupted"


def _history_steps(history: MetricsHistory) -> list[int]:
    """The steps the history keeps, in order."""
    return [point["step"] for point in history.points()]


@pytest.mark.parametrize("capacity", [2, 7, 100, 101])
def test_history_is_bounded_and_keeps_first_and_latest_exact(capacity: int) -> None:
    history = MetricsHistory(capacity)
    for step in range(3000):
        history.append({"step": step, "train_loss": 1.0 / (step + 1)})
        steps = _history_steps(history)
        assert steps[0] == 0 and steps[-1] == step
        assert len(steps) <= capacity + 1
        assert steps == sorted(set(steps))
    assert len(history) == len(history.points())
    assert history.points()[-1] == {"step": 2999, "train_loss": 1.0 / 3000}


def test_history_thins_evenly() -> None:
    history = MetricsHistory(100)
    for step in range(10_000):
        history.append({"step": step})
    steps = _history_steps(history)
    assert len(steps) >= 50  # thinning halves at most: the shape of the curve survives
    gaps = {b - a for a, b in itertools.pairwise(steps[:-1])}
    assert len(gaps) == 1  # evenly spaced, apart from the exact latest point


def test_a_job_view_is_json_ready() -> None:
    job = Job(small_spec(), name="mine")
    view = job.view()
    assert view["name"] == "mine" and view["status"] == "queued" and view["step"] == 0
    assert view["spec"]["dataset"]["name"] == "gaussians"
    assert "spec" not in job.view(with_spec=False)


def test_checkpoints_of_deleted_runs_are_removed_and_not_counted(
        make_manager: Callable[..., JobManager], tmp_path: Path) -> None:
    """A checkpoint file left by a run deleted while it stopped (or by a killed server)."""
    checkpoints = CheckpointStore(tmp_path / "checkpoints")
    orphan = checkpoints.path("0bad0bad0bad")
    orphan.write_bytes(b"x" * 5000)
    (checkpoints.directory / ".tmp-cut-short.pt").write_bytes(b"x" * 10)
    store = RunStore(tmp_path / "runs.sqlite3")
    manager = make_manager(store=store, checkpoints=checkpoints)
    manager.restore()
    assert not orphan.exists() and not list(checkpoints.directory.glob(".tmp-*"))
    done = manager.create(small_spec(max_steps=50))
    assert done.wait_finished(WAIT)
    assert checkpoints.path(done.id).exists()
    # Room for that checkpoint, not for it and the orphan.
    manager.max_checkpoint_bytes = checkpoints.size(done.id) + 1000
    orphan.write_bytes(b"x" * 5000)  # appears while the server runs
    manager.create(small_spec(max_steps=50))
    assert not orphan.exists()
    assert done.id in {job.id for job in manager.list()}  # the orphan did not push it out
