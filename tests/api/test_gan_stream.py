"""GAN jobs over HTTP and the websocket: every GAN frame type decodes as documented."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from safetensors.torch import load as load_safetensors
from starlette.testclient import WebSocketTestSession

from nnplay.api.app import create_app
from nnplay.api.frames import decode_frame
from nnplay.api.routes_jobs import GAN_METRIC_COLUMNS
from nnplay.config import Settings
from nnplay.train.gan_probes import MANIFOLD_SIZE, SAMPLE_COLS, SAMPLE_ROWS, SHOWN_POINTS

pytestmark = pytest.mark.timeout(120)

WAIT = 20.0  # seconds a test reads the stream for something (never reached when it passes)
FOREVER = {"max_steps": 1_000_000}
RING_FRAMES = {"points", "fake", "discriminator", "manifold", "gradients"}
DIGIT_FRAMES = {"images", "samples"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app (runs not persisted) with its lifespan running."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", persist=False))) as client:
        yield client


@pytest.fixture
def watch(client: TestClient) -> Iterator[Callable[[str], WebSocketTestSession]]:
    """Open streams of jobs; all are closed after the test."""
    sessions: list[WebSocketTestSession] = []

    def open_stream(job_id: str) -> WebSocketTestSession:
        session = client.websocket_connect(f"/ws/jobs/{job_id}")
        session.__enter__()
        sessions.append(session)
        return session

    yield open_stream
    for session in reversed(sessions):
        session.__exit__(None, None, None)


def create(client: TestClient, preset: str, paused: bool = False, **overrides: Any) -> str:
    """Create a job from a GAN preset; return its id."""
    response = client.post("/api/jobs", json={"preset": preset, "paused": paused,
                                              "overrides": {**FOREVER, **overrides}})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def read_frames(session: WebSocketTestSession, wanted: set[str],
                metrics: list[dict[str, Any]] | None = None
                ) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    """Read the stream until a frame of every `wanted` type has arrived; decode each."""
    frames: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
    deadline = time.monotonic() + WAIT
    while not wanted <= set(frames):
        assert time.monotonic() < deadline, f"only got {sorted(frames)} of {sorted(wanted)}"
        message = session.receive()
        if message.get("bytes") is not None:
            header, array = decode_frame(message["bytes"])
            frames[header["type"]] = (header, array)
        elif metrics is not None:
            data = json.loads(message["text"])
            if data["type"] == "metrics":
                metrics.extend(data["points"])
    return frames


def poll(client: TestClient, job_id: str, condition: Callable[[dict[str, Any]], bool]
         ) -> dict[str, Any]:
    """GET the job until `condition(job)` holds."""
    deadline = time.monotonic() + WAIT
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"job never got there: {job}"
        time.sleep(0.01)


def test_a_2d_gan_streams_every_frame_type(client: TestClient,
                                           watch: Callable[[str], WebSocketTestSession]
                                           ) -> None:
    job_id = create(client, "gan-ring")
    metrics: list[dict[str, Any]] = []
    frames = read_frames(watch(job_id), RING_FRAMES, metrics)
    assert not DIGIT_FRAMES & set(frames)

    header, points = frames["points"]
    n_real = client.get(f"/api/jobs/{job_id}").json()["spec"]["dataset"]["n_samples"]
    assert header["gan"] is True and header["dtype"] == "float32"
    assert points.shape == (n_real, 3) and points.dtype == np.float32
    assert np.all(points[:, 2] == 0) and np.abs(points[:, :2]).max() <= 6.0
    radius = np.linalg.norm(points[:, :2], axis=1)
    assert abs(float(np.median(radius)) - 4.0) < 0.2  # the real ring

    header, fake = frames["fake"]
    assert fake.shape == (SHOWN_POINTS, 2) and fake.dtype == np.float32
    assert header["domain"] == [-6.0, 6.0] and isinstance(header["t"], float)

    header, heatmap = frames["discriminator"]
    assert heatmap.shape == (64, 64) and heatmap.dtype == np.uint8
    assert header["value_range"] == [0.0, 1.0] and header["domain"] == [-6.0, 6.0]

    header, manifold = frames["manifold"]
    g = MANIFOLD_SIZE[2]
    assert manifold.shape == (g, g, 2) and manifold.dtype == np.float32
    assert header["latent_dim"] == 2 and header["latent_range"] == [-2.0, 2.0]

    header, arrows = frames["gradients"]
    assert arrows.shape == (SHOWN_POINTS, 2) and arrows.dtype == np.float32
    assert np.linalg.norm(arrows, axis=1).max() == pytest.approx(1.0, abs=1e-5)
    assert header["max_norm"] > 0

    assert metrics, "no live metrics points"
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "distance", "kl", "js", "lr"):
        assert key in metrics[-1], key
    assert "train_loss" not in metrics[-1]


def test_a_latent_of_one_streams_a_curve_manifold(client: TestClient,
                                                  watch: Callable[[str], WebSocketTestSession]
                                                  ) -> None:
    job_id = create(client, "gan-ring", latent_dim=1, noise="uniform")
    header, manifold = read_frames(watch(job_id), {"manifold"})["manifold"]
    assert manifold.shape == (MANIFOLD_SIZE[1], 2)
    assert header["latent_dim"] == 1 and header["latent_range"] == [-1.0, 1.0]


def test_a_critic_heatmap_says_what_its_range_is(client: TestClient,
                                                 watch: Callable[[str], WebSocketTestSession]
                                                 ) -> None:
    job_id = create(client, "gan-gaussians", gan_loss="wasserstein_gp", d_steps=5)
    header, heatmap = read_frames(watch(job_id), {"discriminator"})["discriminator"]
    low, high = header["value_range"]
    assert low < high and heatmap.dtype == np.uint8


def test_digits_stream_real_images_and_sample_grids(client: TestClient,
                                                    watch: Callable[[str], WebSocketTestSession]
                                                    ) -> None:
    job_id = create(client, "gan-digits")
    metrics: list[dict[str, Any]] = []
    session = watch(job_id)
    frames = read_frames(session, DIGIT_FRAMES, metrics)
    assert not RING_FRAMES & set(frames)

    header, images = frames["images"]
    assert images.dtype == np.uint8
    assert images.shape == (SAMPLE_ROWS * 8, SAMPLE_COLS * 8) == (header["rows"] * 8,
                                                                  header["cols"] * 8)
    assert header["cell"] == [8, 8] and header["value_range"] == [-1.0, 1.0]
    assert header["count"] == SAMPLE_ROWS * SAMPLE_COLS and header["n_real"] == 1797

    header, first = frames["samples"]
    assert first.shape == (SAMPLE_ROWS * 8, SAMPLE_COLS * 8) and first.dtype == np.uint8
    assert (header["rows"], header["cols"], header["cell"]) == (SAMPLE_ROWS, SAMPLE_COLS, [8, 8])
    step = header["step"]
    # Fixed latent vectors: a later grid shows the same cells, changed by training.
    later: tuple[dict[str, Any], np.ndarray] | None = None
    deadline = time.monotonic() + WAIT
    while later is None or later[0]["step"] <= step + 50:
        assert time.monotonic() < deadline
        later = read_frames(session, {"samples"}, metrics)["samples"]
    assert later[1].shape == first.shape and not np.array_equal(later[1], first)
    assert metrics and {"score", "confidence", "coverage"} <= set(metrics[-1])


def test_pause_step_lr_and_stop_a_gan_job(client: TestClient) -> None:
    job_id = create(client, "gan-gaussians", paused=True)
    poll(client, job_id, lambda job: job["status"] == "paused" and job["metrics"] is not None)
    assert client.post(f"/api/jobs/{job_id}/step", json={"steps": 3}).status_code == 200
    poll(client, job_id, lambda job: job["step"] == 3)
    response = client.patch(f"/api/jobs/{job_id}", json={"lr": 0.0005})
    assert response.status_code == 200 and response.json()["lr"] == 0.0005
    assert client.post(f"/api/jobs/{job_id}/resume").status_code == 200
    job = poll(client, job_id, lambda job: (job["metrics"] or {}).get("d_lr") == 0.0005)
    assert job["metrics"]["g_lr"] == 0.0005 and job["metrics"]["lr"] == 0.0005
    assert job["summary"]["loss"] == "non_saturating" and job["summary"]["model"].startswith("G:")
    assert client.post(f"/api/jobs/{job_id}/pause").status_code == 200
    assert client.post(f"/api/jobs/{job_id}/stop").status_code == 200
    poll(client, job_id, lambda job: job["status"] == "stopped")


def test_gan_metrics_csv_and_weights(client: TestClient) -> None:
    response = client.post("/api/jobs", json={"preset": "gan-gaussians",
                                              "overrides": {"max_steps": 60}})
    job_id = response.json()["id"]
    job = poll(client, job_id, lambda job: job["status"] == "completed")
    assert job["layers"][0]["kind"] == "input" and job["parameter_count"] > 0
    assert job["gan"]["latent_dim"] == 2 and job["gan"]["discriminator"][-1]["kind"] == "output"

    text = client.get(f"/api/jobs/{job_id}/metrics", params={"format": "csv"}).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == GAN_METRIC_COLUMNS
    last = dict(zip(rows[0], rows[-1], strict=True))
    assert last["step"] == "60" and float(last["distance"]) > 0 and last["score"] == ""

    weights = load_safetensors(client.get(f"/api/jobs/{job_id}/weights").content)
    assert any(key.startswith("generator.") for key in weights)
    assert any(key.startswith("discriminator.") for key in weights)
    onnx = client.get(f"/api/jobs/{job_id}/onnx")
    assert onnx.status_code == 422 and "weights" in onnx.json()["detail"]


def test_a_malformed_drawing_is_refused_with_the_field(client: TestClient) -> None:
    response = client.post("/api/jobs", json={"task": "gan", "dataset": {
        "name": "drawn", "points": [[0, 0], [9, 9], [1, 1]]}})
    assert response.status_code == 422
    assert "dataset.points" in response.json()["detail"] and "-6 and 6" in response.text
    drawn = client.post("/api/jobs", json={"task": "gan", "max_steps": 20, "dataset": {
        "name": "drawn", "points": [[0, 0], [2, 2], [1, -3]]}})
    assert drawn.status_code == 201, drawn.text


def test_gan_target_previews(client: TestClient) -> None:
    body = client.get("/api/datasets/grid/preview", params={"n_samples": 100}).json()
    assert body["classes"] == 0 and len(body["points"]) == 100
    assert all(label == 0 for _, _, label in body["points"])
    # An image set's preview is its images, not points (the CNN lab's thumbnails).
    digits = client.get("/api/datasets/digits/preview").json()
    assert digits["shape"] == [8, 8] and "points" not in digits
    assert client.get("/api/datasets/spiral/preview").json()["classes"] == 2


def test_a_finished_gan_run_streams_its_frames_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", persist=True)
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", json={"preset": "gan-ring",
                                                  "overrides": {"max_steps": 40}})
        job_id = response.json()["id"]
        poll(client, job_id, lambda job: job["status"] == "completed")
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/api/jobs/{job_id}").json()["status"] == "completed"
        session = client.websocket_connect(f"/ws/jobs/{job_id}")
        with session:
            frames = read_frames(session, RING_FRAMES)
        assert frames["fake"][0]["step"] == 40
