"""Why a run failed as a structured field: REST view, job list, websocket and stored run."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.presets import PRESETS

pytestmark = pytest.mark.timeout(90)

WAIT = 30.0


def _diverging_spec() -> dict[str, Any]:
    """The lesson whose loss becomes infinite (plain SGD, lr far too high for the plane)."""
    spec: dict[str, Any] = PRESETS["lr-too-high"].build().model_dump(mode="json")
    return {**spec, "max_steps": 100_000}


def _poll(client: TestClient, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        assert time.monotonic() < deadline, f"job never became {status}: {job}"
        time.sleep(0.02)


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def _check_diverged(failure: dict[str, Any], reason: str) -> None:
    assert failure["kind"] == "diverged"
    assert failure["message"] == reason
    assert failure["step"] >= 1
    assert f"at step {failure['step']}" in reason  # the step the sentence names


def test_diverged_run_carries_failure_over_rest_and_websocket(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", persist=False)
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/jobs", json=_diverging_spec())
        assert response.status_code == 201, response.text
        job_id = response.json()["id"]
        assert response.json()["failure"] is None
        with client.websocket_connect(f"/ws/jobs/{job_id}") as socket:
            deadline = time.monotonic() + WAIT
            while True:
                message = socket.receive()
                if message.get("text"):
                    # Strict, as the page's JSON.parse is: no Infinity or NaN.
                    event = json.loads(message["text"], parse_constant=_refuse)
                    if event["type"] == "status" and event["status"] == "failed":
                        break
                assert time.monotonic() < deadline, "no failed status on the socket"
        _check_diverged(event["failure"], event["reason"])
        job = _poll(client, job_id, "failed")
        assert job["failure"] == event["failure"]
        listed = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
        assert listed[job_id]["failure"] == event["failure"]


def test_stored_run_keeps_its_failure_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/api/jobs", json=_diverging_spec()).json()["id"]
        failure = _poll(client, job_id, "failed")["failure"]
        done = client.post("/api/jobs", json={"max_steps": 5, "dataset": {"n_samples": 50}})
        done_id = done.json()["id"]
        _poll(client, done_id, "completed")
    with TestClient(create_app(settings)) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["status"] == "failed"
        _check_diverged(job["failure"], job["reason"])
        assert job["failure"] == failure
        assert client.get(f"/api/jobs/{done_id}").json()["failure"] is None
