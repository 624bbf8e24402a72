"""POST /api/jobs/{id}/step with a phase: GANs step one network; others refuse it."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings


def _wait_status(client: TestClient, job_id: str, status: str) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        view = client.get(f"/api/jobs/{job_id}").json()
        if view["status"] == status:
            return view  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"job never became {status}")


def test_gan_job_steps_the_discriminator_only() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        job = client.post("/api/jobs", json={"preset": "gan-ring", "paused": True}).json()
        _wait_status(client, job["id"], "paused")
        response = client.post(f"/api/jobs/{job['id']}/step", json={"steps": 3, "phase": "d"})
        assert response.status_code == 200
        deadline = time.monotonic() + 10
        while client.get(f"/api/jobs/{job['id']}").json()["step"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        bad = client.post(f"/api/jobs/{job['id']}/step", json={"steps": 1, "phase": "x"})
        assert bad.status_code == 422 and "phase" in bad.json()["detail"]


def test_a_plain_job_refuses_a_phase_step() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        job = client.post("/api/jobs", json={"preset": "xor", "paused": True}).json()
        _wait_status(client, job["id"], "paused")
        response = client.post(f"/api/jobs/{job['id']}/step", json={"steps": 1, "phase": "g"})
        assert response.status_code == 422
        assert "not a GAN" in response.json()["detail"]


def _latest_metrics(client: TestClient, job_id: str, condition) -> dict:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        metrics = client.get(f"/api/jobs/{job_id}").json()["metrics"]
        if metrics and condition(metrics):
            return metrics  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError("the metrics never showed the change")


def test_gan_learning_rates_change_separately_while_training() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        job = client.post("/api/jobs", json={"preset": "gan-ring",
                                              "overrides": {"max_steps": 1_000_000}}).json()
        response = client.patch(f"/api/jobs/{job['id']}", json={"d_lr": 0.0003})
        assert response.status_code == 200
        metrics = _latest_metrics(client, job["id"], lambda m: m["d_lr"] == 0.0003)
        assert metrics["g_lr"] == 0.001  # the generator kept its own
        with client.websocket_connect(f"/ws/jobs/{job['id']}") as socket:
            socket.send_json({"type": "update", "g_lr": 0.002})
        metrics = _latest_metrics(client, job["id"], lambda m: m["g_lr"] == 0.002)
        assert metrics["d_lr"] == 0.0003
        client.post(f"/api/jobs/{job['id']}/stop")


def test_a_plain_job_refuses_g_lr() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        job = client.post("/api/jobs", json={"preset": "xor", "paused": True}).json()
        response = client.patch(f"/api/jobs/{job['id']}", json={"g_lr": 0.01})
        assert response.status_code == 422 and "not a GAN" in response.json()["detail"]
