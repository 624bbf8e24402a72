"""The CNN lab's server side over HTTP and the websocket: create, probe, predict, 422s."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from jobclient import fresh_client, next_error, poll, probe_once_streaming  # noqa: F401 (the `client` fixture)
from sklearn.datasets import load_digits
from starlette.testclient import WebSocketTestSession

from nnplay.api.app import create_app
from nnplay.api.frames import decode_frame
from nnplay.client import Client, ServerError
from nnplay.config import Settings

pytestmark = pytest.mark.timeout(120)

ONE_WORKER = {"NNPLAY_WORKERS": "1"}  # a real server training in one worker process

DIGITS: dict[str, Any] = {
    "task": "classification",
    "dataset": {"name": "digits", "n_samples": 400, "test_fraction": 0.25},
    "model": {"layers": [{"type": "conv2d", "filters": 4, "padding": 1},
                         {"type": "maxpool2d"}, {"type": "dense", "units": 16,
                                                 "activation": "relu"}],
              "init": "kaiming_uniform"},
    "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "max_steps": 300,
}




def _probe_frames(session: WebSocketTestSession, index: int | None,
                  ) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Read until a `probe` frame of test image `index` (None: drawn) arrives; return its
    header and pixels and the `feature_maps` frame sent just before it (same snapshot)."""
    maps = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = session.receive()
        if message.get("bytes") is None:
            assert json.loads(message["text"])["type"] != "error", message["text"]
            continue
        header, array = decode_frame(message["bytes"])
        if header["type"] == "feature_maps":
            maps = array.copy()
        elif header["type"] == "probe" and header["index"] == index and maps is not None:
            return header, array.copy(), maps
    raise AssertionError(f"no probe frame for {index}")



def _digit(index: int) -> tuple[list[list[float]], int]:
    """An image of scikit-learn's digits as 0..1 rows, with its class."""
    digits = load_digits()
    return (digits.images[index] / 16.0).tolist(), int(digits.target[index])


def _training_digit(nth: int) -> tuple[list[list[float]], int]:
    """The nth training image of a DIGITS run (the split is seeded: dataset.seed 0)."""
    chosen = np.random.default_rng(0).permutation(1797)[:DIGITS["dataset"]["n_samples"]]
    return _digit(int(chosen[nth]))


def test_a_probe_message_changes_the_feature_maps(client: TestClient) -> None:
    job_id = client.post("/api/jobs", json={**DIGITS, "max_steps": 10**6,
                                            "paused": True}).json()["id"]
    with client.websocket_connect(f"/ws/jobs/{job_id}") as session:
        _, _, maps_0 = _probe_frames(session, 0)
        session.send_text(json.dumps({"type": "probe", "index": 7}))
        probe, pixels, maps_7 = _probe_frames(session, 7)
        assert pixels.shape == (8, 8) and probe["label"] in range(10)
        assert not np.array_equal(maps_0, maps_7)
        drawn, _ = _digit(0)
        session.send_text(json.dumps({"type": "probe", "image": drawn}))
        probe, pixels, _ = _probe_frames(session, None)
        assert np.array_equal(pixels, np.rint(np.asarray(drawn) * 255).astype(np.uint8))
        session.send_text(json.dumps({"type": "probe", "image": [[0.5] * 3] * 8}))
        assert "image: must be 8 rows of 8 numbers between 0 and 1; row 0 has 3 values" \
            in next_error(session)
        session.send_text(json.dumps({"type": "probe", "index": 100}))
        assert "index: must be a whole number from 0 to 99" in next_error(session)
    client.post(f"/api/jobs/{job_id}/stop")


def test_predict_while_training_and_after_completion_and_422s(client: TestClient) -> None:
    job_id = client.post("/api/jobs", json=DIGITS).json()["id"]
    image, label = _training_digit(3)
    poll(client, job_id, lambda job: job["step"] > 0)
    live = client.post(f"/api/jobs/{job_id}/predict", json={"image": image})
    assert live.status_code == 200 and len(live.json()["probabilities"]) == 10
    poll(client, job_id, lambda job: job["status"] == "completed")
    answer = client.post(f"/api/jobs/{job_id}/predict?feature_maps=true",
                         json={"image": image}).json()
    assert answer["predicted"] == label
    assert abs(sum(answer["probabilities"]) - 1.0) < 1e-4
    maps = answer["feature_maps"]
    assert [layer["shape"] for layer in maps] == [[4, 8, 8], [4, 4, 4]]
    assert np.asarray(maps[0]["maps"]).shape == (4, 8, 8)
    wrong = client.post(f"/api/jobs/{job_id}/predict", json={"image": [[0.0] * 28] * 28})
    assert wrong.status_code == 422
    assert "image: must be 8 rows of 8 numbers between 0 and 1 (got 28 rows)" in \
        wrong.json()["detail"]
    points = client.post("/api/jobs", json={"dataset": {"name": "circle"}, "max_steps": 5})
    refused = client.post(f"/api/jobs/{points.json()['id']}/predict", json={"image": image})
    assert refused.status_code == 422 and "not an image classifier" in refused.json()["detail"]


def test_predict_works_for_a_completed_run_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", persist=True)
    image, label = _training_digit(5)
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/api/jobs", json=DIGITS).json()["id"]
        poll(client, job_id, lambda job: job["status"] == "completed")
        before = client.post(f"/api/jobs/{job_id}/predict", json={"image": image}).json()
    with TestClient(create_app(settings)) as client:
        after = client.post(f"/api/jobs/{job_id}/predict", json={"image": image})
        assert after.status_code == 200
        assert after.json()["predicted"] == before["predicted"] == label
        assert client.post(f"/api/jobs/{job_id}/predict",
                           json={"image": [[0.2] * 8] * 7}).status_code == 422


def test_fashion_mnist_without_idx_files_is_refused_naming_the_folder(
        client: TestClient, tmp_path: Path) -> None:
    response = client.post("/api/jobs", json={**DIGITS, "dataset": {
        "name": "fashion_mnist", "n_samples": 1000}})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert str(tmp_path / "data" / "datasets" / "fashion_mnist") in detail
    assert "train-images-idx3-ubyte" in detail


@pytest.mark.server
def test_a_real_server_probes_and_predicts_from_its_worker_process(
        shared_server: Callable[[dict[str, str]], Any]) -> None:
    """Worker processes: the probe travels as a control, paused predictions come from a
    checkpoint the worker writes on request, the data dir reaches the worker."""
    server = shared_server(ONE_WORKER)  # the CNN and RNN API tests share it
    client = Client(server.url)
    job = client.create_job({**DIGITS, "max_steps": 10**6})
    image, label = _training_digit(2)
    with client.stream(job["id"]) as stream:
        probe_once_streaming(stream, "feature_maps", 11, "probe")
        with pytest.raises(ServerError) as refused:
            client.predict(job["id"], [[0.0] * 8] * 9)
        assert refused.value.status == 422
        _poll_client(client, job["id"], lambda info: info["step"] >= 300)
        client.pause(job["id"])
        answer = client.predict(job["id"], image, feature_maps=True)
    assert answer["predicted"] == label
    assert [layer["kind"] for layer in answer["feature_maps"]] == ["conv2d", "maxpool2d"]
    client.stop(job["id"])


def _poll_client(client: Client, job_id: str, done: Callable[[dict[str, Any]], bool]) -> None:
    deadline = time.monotonic() + 60
    while not done(client.job(job_id)):
        assert time.monotonic() < deadline, "job never got there"
        time.sleep(0.1)
