"""Paused jobs that nobody watches are stopped after the idle timeout; watched ones are not."""

from __future__ import annotations

import asyncio
import time

from nnplay.api.frames import snapshot_frames
from nnplay.jobs.executors import ThreadExecutor
from nnplay.jobs.manager import JobManager
from nnplay.presets import get_preset


def _wait(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_an_unwatched_paused_job_is_stopped_with_a_reason() -> None:
    manager = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", idle_timeout=0.3)
    job = manager.create(get_preset("xor").build(), paused=True)
    _wait(lambda: job.status == "paused")
    _wait(lambda: job.status == "stopped")
    assert job.reason is not None and "nobody watching" in job.reason
    manager.shutdown()


def test_a_watched_paused_job_stays_paused() -> None:
    manager = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", idle_timeout=0.3)
    job = manager.create(get_preset("xor").build(), paused=True)
    _wait(lambda: job.status == "paused")

    async def watch() -> None:
        async with job.hub.subscribe():
            await asyncio.sleep(1.0)
            assert manager.reap_idle() == []

    asyncio.run(watch())
    assert job.status == "paused"
    manager.shutdown()


def test_a_running_job_that_asked_is_paused_when_unwatched_unless_touched() -> None:
    manager = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", unwatched_timeout=0.5)
    long = get_preset("xor").build().model_copy(update={"max_steps": 1_000_000})
    asked = manager.create(long, pause_when_unwatched=True)
    touched = manager.create(long, pause_when_unwatched=True)
    exempt = manager.create(long)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:  # REST reads of a job count as activity
        manager.get(touched.id)
        time.sleep(0.05)
    assert asked.status == "paused" and asked.reason is not None
    assert "nobody watching" in asked.reason
    assert touched.status == "running" and exempt.status == "running"
    manager.resume(asked.id)
    assert asked.status == "running" and asked.reason is None
    manager.shutdown()
