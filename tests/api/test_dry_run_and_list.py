"""Validate a spec without starting a job; the job list stays light."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings


def test_dry_run_validates_without_creating_a_job() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        ok = client.post("/api/jobs?dry_run=true", json={"preset": "spiral"})
        assert ok.status_code == 200 and ok.json()["valid"] is True
        assert ok.json()["spec"]["dataset"]["name"] == "spiral"
        bad = client.post("/api/jobs?dry_run=true", json={"optimizer": {"lr": 100}})
        assert bad.status_code == 422 and "optimizer.lr" in bad.json()["detail"]
        assert client.get("/api/jobs").json()["jobs"] == []


def test_the_job_list_leaves_out_the_per_class_report() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        job = client.post("/api/jobs", json={"preset": "blobs",
                                              "overrides": {"max_steps": 100}}).json()
        deadline = time.monotonic() + 20
        while client.get(f"/api/jobs/{job['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        full = client.get(f"/api/jobs/{job['id']}").json()
        assert "report" in full["metrics"]
        (listed,) = client.get("/api/jobs").json()["jobs"]
        assert "report" not in listed["metrics"]
        assert listed["metrics"]["step"] == 100


def test_gaussians_preview_as_a_gan_mixture() -> None:
    with TestClient(create_app(Settings(persist=False))) as client:
        two_class = client.get("/api/datasets/gaussians/preview").json()
        mixture = client.get("/api/datasets/gaussians/preview?task=gan&modes=5").json()
        assert two_class["classes"] == 2 and mixture["classes"] == 0
        assert {row[2] for row in mixture["points"]} == {0.0}
        suggested = client.get("/api/catalog").json()["gan"]["suggested"]
        assert suggested["images"]["latent_dim"] > suggested["points"]["latent_dim"]
