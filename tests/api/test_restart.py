"""Runs survive the server: SIGKILL, restart, find them, resume them."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nnplay.client import Client, ServerError

pytestmark = pytest.mark.server

# One worker process: still real processes (killed with the server), and it boots ~3 s
# sooner than two on a busy 2-core machine, at every start of this file's ten.
FAST_CHECKPOINTS = {"NNPLAY_CHECKPOINT_INTERVAL": "0.3", "NNPLAY_WORKERS": "1"}


def _wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_sigkill_then_restart_lists_interrupted_run_and_resumes(
        server_factory: Callable[..., object], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    client = Client(server.url)  # type: ignore[attr-defined]
    long_run = client.create_job(preset="spiral", overrides={"max_steps": 10**6})
    short_run = client.create_job(preset="gaussians", overrides={"max_steps": 150})
    _wait_for(lambda: client.job(short_run["id"])["status"] == "completed")
    _wait_for(lambda: client.job(long_run["id"])["step"] > 1500)
    time.sleep(1.0)  # let at least one checkpoint and a history flush land
    csv_before = client.metrics_csv(short_run["id"])
    server.stop(signal.SIGKILL)  # type: ignore[attr-defined]

    restarted = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    # The same identity (cookie) as before the restart: the runs are still its own.
    client = Client(restarted.url, cookies=client.http.cookies)  # type: ignore[attr-defined]
    listed = {job["id"]: job for job in client.jobs()}
    assert listed[long_run["id"]]["status"] == "interrupted"
    assert listed[short_run["id"]]["status"] == "completed"
    history = client.metrics(long_run["id"])
    assert len(history) > 5 and history[0]["step"] == 0
    saved_step = history[-1]["step"]
    assert saved_step > 1000
    # A completed run's exported metrics are the same, byte for byte.
    assert client.metrics_csv(short_run["id"]) == csv_before

    resumed = client.resume(long_run["id"])
    assert resumed["status"] in ("queued", "running")
    _wait_for(lambda: client.job(long_run["id"])["status"] == "running")
    first = client.metrics(long_run["id"])
    # The curve continues from the checkpoint: no restart from step 0.
    assert all(point["step"] <= first[-1]["step"] for point in first)
    _wait_for(lambda: client.job(long_run["id"])["step"] > saved_step + 200)
    steps = [point["step"] for point in client.metrics(long_run["id"])]
    assert steps == sorted(steps) and steps[0] == 0
    assert min(s for s in steps if s > 0) < 200  # early points are still there
    client.stop(long_run["id"])


def test_a_corrupted_checkpoint_fails_only_that_run(
        server_factory: Callable[..., object], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    client = Client(server.url)  # type: ignore[attr-defined]
    broken = client.create_job(preset="spiral", overrides={"max_steps": 10**6})
    healthy = client.create_job(preset="circle", overrides={"max_steps": 10**6})
    _wait_for(lambda: (data_dir / "checkpoints" / f"{broken['id']}.pt").exists()
              and (data_dir / "checkpoints" / f"{healthy['id']}.pt").exists())
    time.sleep(0.5)
    server.stop(signal.SIGKILL)  # type: ignore[attr-defined]
    checkpoint = data_dir / "checkpoints" / f"{broken['id']}.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])

    restarted = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    # The same identity (cookie) as before the restart: the runs are still its own.
    client = Client(restarted.url, cookies=client.http.cookies)  # type: ignore[attr-defined]
    assert client.health()["status"] == "ok"
    client.resume(broken["id"])
    client.resume(healthy["id"])
    _wait_for(lambda: client.job(broken["id"])["status"] == "failed")
    reason = client.job(broken["id"])["reason"]
    assert "checkpoint" in reason and "unreadable" in reason
    _wait_for(lambda: client.job(healthy["id"])["status"] == "running")
    with pytest.raises(ServerError) as refused:
        client.resume(broken["id"])
    assert refused.value.status == 409
    client.stop(healthy["id"])


def test_a_restored_run_shows_its_final_boundary_and_summary(
        server_factory: Callable[..., object], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    client = Client(server.url)  # type: ignore[attr-defined]
    run = client.create_job(preset="circle", overrides={"max_steps": 300})
    _wait_for(lambda: client.job(run["id"])["status"] == "completed")
    time.sleep(0.8)  # the store flushes every half second
    server.stop()  # type: ignore[attr-defined]

    restarted = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    # The same identity (cookie) as before the restart: the runs are still its own.
    client = Client(restarted.url, cookies=client.http.cookies)  # type: ignore[attr-defined]
    view = client.job(run["id"])
    assert view["summary"]["dataset"] == "circle"
    assert view["summary"]["model"] == "4 tanh → 2 tanh"
    assert view["summary"]["best_test_accuracy"] > 0.8
    with client.stream(run["id"]) as events:
        kinds = set()
        while not {"points", "boundary", "neurons", "weights"} <= kinds:
            event = events.receive(timeout=30)  # the restored frames come from its checkpoint
            kinds.add(event.type)
            if event.type == "boundary":
                assert event.data["step"] == 300 and event.array.shape == (64, 64)


def test_a_run_reported_completed_survives_a_kill_right_after(
        server_factory: Callable[..., object], tmp_path: Path) -> None:
    """Twice, the second time on a server restarted from the first kill: a run completes,
    the server is killed ~100 ms after saying so, and the restarted server lists it (and
    the run from before) completed with the same exported metrics."""
    data_dir = tmp_path / "data"
    env = {"NNPLAY_WORKERS": "1"}
    server = server_factory(env=env, data_dir=data_dir)
    reported: dict[str, str] = {}  # run id -> its metrics CSV as reported before the kill
    for attempt in range(2):
        client = Client(server.url)  # type: ignore[attr-defined]
        listed = {job["id"]: job for job in client.jobs()}
        for run_id, csv_text in reported.items():
            assert listed[run_id]["status"] == "completed", (attempt, listed[run_id])
            assert client.metrics_csv(run_id) == csv_text
        run = client.create_job(preset="gaussians", overrides={"max_steps": 200})
        deadline = time.monotonic() + 30
        while client.job(run["id"])["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        seen = time.monotonic()
        reported[run["id"]] = client.metrics_csv(run["id"])
        time.sleep(max(0.0, 0.1 - (time.monotonic() - seen)))
        server.stop(signal.SIGKILL)  # type: ignore[attr-defined]
        server = server_factory(env=env, data_dir=data_dir)
    client = Client(server.url)  # type: ignore[attr-defined]
    listed = {job["id"]: job for job in client.jobs()}
    for run_id, csv_text in reported.items():
        assert listed[run_id]["status"] == "completed"
        assert listed[run_id]["step"] == 200
        assert client.metrics_csv(run_id) == csv_text


def test_deleting_training_jobs_loses_nothing_else(
        server_factory: Callable[..., object], tmp_path: Path) -> None:
    """10 jobs deleted while they train, among others: after a kill -9 and a restart the
    list and the others' exported metrics are as before, and no checkpoint file is left."""
    data_dir = tmp_path / "data"
    checkpoints = data_dir / "checkpoints"
    server = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    client = Client(server.url)  # type: ignore[attr-defined]
    done = [client.create_job(preset="gaussians", overrides={"max_steps": 150})
            for _ in range(2)]
    live = [client.create_job(preset="circle", overrides={"max_steps": 10**6})
            for _ in range(2)]
    doomed = [client.create_job(preset="spiral", overrides={"max_steps": 10**6})
              for _ in range(10)]
    _wait_for(lambda: all(client.job(job["id"])["status"] == "completed" for job in done),
              timeout=60)
    _wait_for(lambda: all((checkpoints / f"{job['id']}.pt").exists()
                          for job in doomed + live), timeout=60)
    csv_before = {job["id"]: client.metrics_csv(job["id"]) for job in done}
    for job in doomed:
        client.delete(job["id"])
    listed = sorted(job["id"] for job in client.jobs())
    assert listed == sorted(job["id"] for job in done + live)
    # Their last checkpoints (written as they stop) are removed too.
    _wait_for(lambda: not any((checkpoints / f"{job['id']}.pt").exists() for job in doomed))
    # Unwatched runs send a point every few seconds: on a loaded machine the first five
    # can take longer than the deletes above.
    _wait_for(lambda: all(len(client.metrics(job["id"])) > 5 for job in live), timeout=60)
    time.sleep(1.0)  # the live runs go on writing points and checkpoints; the store flushes
    server.stop(signal.SIGKILL)  # type: ignore[attr-defined]

    restarted = server_factory(env=FAST_CHECKPOINTS, data_dir=data_dir)
    client = Client(restarted.url)  # type: ignore[attr-defined]
    after = {job["id"]: job for job in client.jobs()}
    assert sorted(after) == listed
    assert {job_id: client.metrics_csv(job_id) for job_id in csv_before} == csv_before
    for job in live:
        assert after[job["id"]]["status"] == "interrupted"
        assert len(client.metrics(job["id"])) > 5
    on_disk = {path.stem for path in checkpoints.glob("*.pt")}
    assert on_disk <= set(listed)
    assert {job["id"] for job in live} <= on_disk
