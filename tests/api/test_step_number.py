"""One step number: a diverged or paused run reports one step on REST, socket and failure."""

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


def _poll(client: TestClient, job_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] == status:
            return job
        assert time.monotonic() < deadline, f"job never became {status}: {job}"
        time.sleep(0.02)


def test_diverged_run_reports_the_step_it_diverged_at(tmp_path: Path) -> None:
    """REST `step`, the socket's failed status and `failure.step` name one step."""
    spec = {**PRESETS["lr-too-high"].build().model_dump(mode="json"), "max_steps": 100_000}
    settings = Settings(data_dir=tmp_path / "data", persist=False)
    with TestClient(create_app(settings)) as client:
        job_id = client.post("/api/jobs", json=spec).json()["id"]
        with client.websocket_connect(f"/ws/jobs/{job_id}") as socket:
            deadline = time.monotonic() + WAIT
            while True:
                message = socket.receive()
                if message.get("text"):
                    event = json.loads(message["text"])
                    if event["type"] == "status" and event["status"] == "failed":
                        break
                assert time.monotonic() < deadline, "no failed status on the socket"
        job = _poll(client, job_id, "failed")
        assert event["failure"], event
        assert event["step"] == event["failure"]["step"]
        assert job["step"] == job["failure"]["step"] == event["step"]
        assert f"at step {job['step']}" in job["reason"]


def test_pause_answers_the_step_the_run_is_paused_at(tmp_path: Path) -> None:
    """The pause response's step is where the run stays, not the last metrics point before it."""
    settings = Settings(data_dir=tmp_path / "data", persist=False)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            body = {"max_steps": 1_000_000, "dataset": {"n_samples": 200},
                    "frame_rate": 1}
            job_id = client.post("/api/jobs", json=body).json()["id"]
            _poll(client, job_id, "running")
            deadline = time.monotonic() + WAIT
            while client.get(f"/api/jobs/{job_id}").json()["step"] < 50:
                assert time.monotonic() < deadline, "the run never trained 50 steps"
                time.sleep(0.05)
            time.sleep(0.05)  # between two metrics points
            paused = client.post(f"/api/jobs/{job_id}/pause").json()
            time.sleep(0.5)
            later = client.get(f"/api/jobs/{job_id}").json()
            assert later["status"] == "paused"
            assert paused["step"] == later["step"], (paused["step"], later["step"])
            client.delete(f"/api/jobs/{job_id}")
