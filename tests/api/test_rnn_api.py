"""The RNN engine over HTTP and the websocket: create, probe, generate and its 422s."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from jobclient import fresh_client, next_error, poll, probe_once_streaming  # noqa: F401 (the `client` fixture)
from starlette.testclient import WebSocketTestSession

from nnplay.api.app import create_app
from nnplay.api.frames import decode_frame
from nnplay.client import Client, ServerError
from nnplay.config import Settings
from nnplay.data.sequences import shipped_text

pytestmark = pytest.mark.timeout(120)

ONE_WORKER = {"NNPLAY_WORKERS": "1"}  # a real server training in one worker process

TEXT: dict[str, Any] = {
    "task": "classification", "sequence_mode": "many_to_many",
    "dataset": {"name": "text", "n_samples": 300, "seq_len": 20, "test_fraction": 0.2},
    "model": {"layers": [{"type": "gru", "units": 32}]},
    "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "max_steps": 60,
}
SINE: dict[str, Any] = {
    "task": "regression", "dataset": {"name": "sine", "n_samples": 200, "seq_len": 16},
    "model": {"layers": [{"type": "lstm", "units": 8}]}, "loss": "mse",
    "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 20, "max_steps": 80,
}




def _frames(session: WebSocketTestSession, index: int,
            ) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    """Read until a `hidden_state` and a `sequence` frame of sequence `index` came, in
    either order (frames of older snapshots, of another sequence, are skipped)."""
    found: dict[str, tuple[dict[str, Any], np.ndarray]] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        message = session.receive()
        if message.get("bytes") is None:
            assert json.loads(message["text"])["type"] != "error", message["text"]
            continue
        header, array = decode_frame(message["bytes"])
        assert header["type"] != "points"  # sequence runs send no points frame
        if header.get("index") == index:
            found[header["type"]] = header, array.copy()
        if {"hidden_state", "sequence"} <= set(found):
            return found
    raise AssertionError(f"no frames for sequence {index}")



def test_a_probe_message_picks_the_sequence_the_frames_show(client: TestClient) -> None:
    job_id = client.post("/api/jobs", json={**SINE, "max_steps": 10**6,
                                            "paused": True}).json()["id"]
    with client.websocket_connect(f"/ws/jobs/{job_id}") as session:
        _, first = _frames(session, 0)["sequence"]
        session.send_text(json.dumps({"type": "probe", "index": 9}))
        frames = _frames(session, 9)
        ninth, hidden = frames["sequence"][1], frames["hidden_state"][1]
        assert ninth.shape == (3, 16) and hidden.shape == (16, 8)
        assert not np.array_equal(first[0], ninth[0])
        session.send_text(json.dumps({"type": "probe", "index": 100}))
        assert "index: must be a whole number from 0 to 99" in next_error(session)
        session.send_text(json.dumps({"type": "probe", "image": [[0.0]]}))
        assert "a sequence run takes 'index'" in next_error(session)
    client.post(f"/api/jobs/{job_id}/stop")


def test_generate_text_while_training_and_after_completion(client: TestClient) -> None:
    job_id = client.post("/api/jobs", json={**TEXT, "max_steps": 10**6}).json()["id"]
    poll(client, job_id, lambda job: job["step"] > 0)
    live = client.post(f"/api/jobs/{job_id}/generate",
                       json={"prompt": "Shall I", "length": 50, "temperature": 1.0})
    assert live.status_code == 200, live.text
    assert len(live.json()["text"]) == 50
    client.post(f"/api/jobs/{job_id}/stop")
    done = client.post("/api/jobs", json=TEXT).json()["id"]
    poll(client, done, lambda job: job["status"] == "completed")
    answer = client.post(f"/api/jobs/{done}/generate", json={"prompt": "Love", "length": 300,
                                                            "temperature": 0.5})
    text = answer.json()["text"]
    assert len(text) == 300 and set(text) <= set(shipped_text())


def test_generate_sine_values_free_running(client: TestClient) -> None:
    job_id = client.post("/api/jobs", json=SINE).json()["id"]
    poll(client, job_id, lambda job: job["status"] == "completed")
    answer = client.post(f"/api/jobs/{job_id}/generate",
                         json={"seed_values": [0.0, 0.3, 0.59], "length": 40})
    assert answer.status_code == 200, answer.text
    values = answer.json()["values"]
    assert len(values) == 40 and all(abs(v) < 5 for v in values)


@pytest.fixture(scope="module")
def refusable(tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app for the refusals below and a short run of each kind in it: the id by kind."""
    # Said here, not by tests/conftest.py's per-test environment (set after module fixtures).
    settings = Settings(data_dir=tmp_path_factory.mktemp("refusals"), persist=False,
                        workers=0, allow_hosts="testserver")
    specs = {"text": TEXT, "sine": SINE, "circle": {"dataset": {"name": "circle"}}}
    with TestClient(create_app(settings)) as client:
        yield client, {run: client.post("/api/jobs", json={**spec, "max_steps": 5}).json()["id"]
                       for run, spec in specs.items()}


@pytest.mark.parametrize(("run", "body", "detail"), [
    ("text", {"prompt": "Shall I #", "length": 10}, "prompt: '#' never occur"),
    ("text", {"prompt": "a", "length": 0}, "length: must be a whole number between 1 and 2000"),
    ("text", {"prompt": "a", "length": 10, "temperature": -1},
     "temperature: must be a number between 0 and 5"),
    ("text", {"seed_values": [0.1], "length": 5}, "seed_values: not a field of a text run"),
    ("sine", {"seed_values": [], "length": 5}, "seed_values: must be a list of 1 to 200"),
    ("sine", {"seed_values": [0.1, "x"], "length": 5}, "seed_values: must be a list"),
    ("sine", {"prompt": "abc"}, "prompt: not a field of a sine run"),
    ("circle", {"prompt": "abc"}, "generate takes text runs"),
])
def test_generate_refuses_the_wrong_run_or_bad_values_with_422(
        refusable: tuple[TestClient, dict[str, str]], run: str, body: dict[str, Any],
        detail: str) -> None:
    client, job_ids = refusable
    response = client.post(f"/api/jobs/{job_ids[run]}/generate", json=body)
    assert response.status_code == 422
    assert detail in response.json()["detail"]


@pytest.mark.server
def test_a_real_server_probes_and_generates_from_its_worker_process(
        shared_server: Callable[[dict[str, str]], Any]) -> None:
    """Worker processes: the probe index travels as a control; a paused run's text comes
    from the checkpoint the worker writes on request."""
    server = shared_server(ONE_WORKER)  # the CNN and RNN API tests share it
    client = Client(server.url)
    job = client.create_job({**TEXT, "max_steps": 10**6})
    with client.stream(job["id"]) as stream:
        probe_once_streaming(stream, "hidden_state", 5, "sequence")
        client.pause(job["id"])
        answer = client.generate(job["id"], prompt="Love", length=80, temperature=0.7)
        with pytest.raises(ServerError) as refused:
            client.generate(job["id"], prompt="Love", length=80, temperature=9)
    assert len(answer["text"]) == 80 and set(answer["text"]) <= set(shipped_text())
    assert refused.value.status == 422
    client.stop(job["id"])
