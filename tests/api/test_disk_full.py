"""A full disk: the server keeps serving, says so, refuses new jobs, and loses nothing.

The fault is injected at the write layer: the `disk_full` fixture makes every COMMIT
of the run store fail with SQLite's "database or disk is full" (a real tiny
filesystem needs root to mount).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings

SPEC: dict[str, Any] = {
    "dataset": {"name": "gaussians", "n_samples": 100, "noise": 0.2},
    "model": {"layers": [{"type": "dense", "units": 3, "activation": "tanh"}]},
    "optimizer": {"name": "sgd", "lr": 0.03}, "loss": "mse", "batch_size": 10,
}


@pytest.fixture
def open_app(tmp_path: Path) -> Iterator[Callable[[], TestClient]]:
    """Apps persisting to one data dir, as a server restarted on it; all closed after."""
    opened: list[TestClient] = []

    def open_() -> TestClient:
        client = TestClient(create_app(Settings(data_dir=tmp_path / "data")))
        client.__enter__()
        opened.append(client)
        return client

    yield open_
    for client in opened:
        client.__exit__(None, None, None)


def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _saved(client: TestClient) -> dict[str, Any]:
    """What a person can see of every run: list entries and exported metrics."""
    jobs = client.get("/api/jobs").json()["jobs"]
    return {job["id"]: (job["name"], job["status"], job["step"],
                        client.get(f"/api/jobs/{job['id']}/metrics?format=csv").text)
            for job in jobs}


def test_a_full_disk_degrades_health_refuses_creates_and_loses_nothing(
        open_app: Callable[[], TestClient], disk_full: threading.Event) -> None:
    client = open_app()
    done = client.post("/api/jobs", json={**SPEC, "max_steps": 100}).json()
    _until(lambda: client.get(f"/api/jobs/{done['id']}").json()["status"] == "completed")
    doomed = client.post("/api/jobs", json={**SPEC, "max_steps": 100}).json()
    _until(lambda: client.get(f"/api/jobs/{doomed['id']}").json()["status"] == "completed")
    long = client.post("/api/jobs", json={**SPEC, "max_steps": 10**6}).json()
    assert client.get("/api/health").json()["status"] == "ok"

    disk_full.set()
    _until(lambda: client.get("/api/health").json()["status"] == "degraded")
    health = client.get("/api/health").json()
    assert "database or disk is full" in health["reason"] and health["version"]
    refused = client.post("/api/jobs", json=SPEC)
    assert refused.status_code == 507, refused.text
    assert "disk is full" in refused.json()["detail"]
    # Everything else still answers, and what it acknowledges is kept.
    assert client.patch(f"/api/jobs/{long['id']}", json={"name": "renamed"}).status_code == 200
    assert client.delete(f"/api/jobs/{doomed['id']}").status_code == 200
    time.sleep(1.0)  # training goes on; the writer retries and fails meanwhile
    assert client.post(f"/api/jobs/{long['id']}/stop").json()["status"] == "stopped"
    assert client.get("/api/health").json()["status"] == "degraded"

    disk_full.clear()
    _until(lambda: client.get("/api/health").json()["status"] == "ok", timeout=40.0)
    again = client.post("/api/jobs", json={**SPEC, "max_steps": 50})
    assert again.status_code == 201
    _until(lambda: client.get(f"/api/jobs/{again.json()['id']}").json()["status"] == "completed")
    before = _saved(client)
    client.__exit__(None, None, None)

    after = _saved(open_app())
    assert doomed["id"] not in after
    assert after == before
    assert after[long["id"]][:2] == ("renamed", "stopped")


def test_the_server_starts_on_a_full_disk_and_reports_degraded(
        open_app: Callable[[], TestClient], disk_full: threading.Event,
        tmp_path: Path) -> None:
    client = open_app()
    run = client.post("/api/jobs", json={**SPEC, "max_steps": 10**6}).json()
    _until(lambda: client.get(f"/api/jobs/{run['id']}").json()["step"] > 0)
    client.__exit__(None, None, None)
    # What a kill -9 leaves: the run still marked running on disk.
    db = sqlite3.connect(tmp_path / "data" / "nnplay.sqlite3")
    db.execute("UPDATE runs SET status = 'running'")
    db.commit()
    db.close()

    disk_full.set()
    client = open_app()
    assert client.get(f"/api/jobs/{run['id']}").json()["status"] == "interrupted"
    _until(lambda: client.get("/api/health").json()["status"] == "degraded")
    assert client.post("/api/jobs", json=SPEC).status_code == 507
    disk_full.clear()
    _until(lambda: client.get("/api/health").json()["status"] == "ok", timeout=40.0)
    client.__exit__(None, None, None)
    assert open_app().get(f"/api/jobs/{run['id']}").json()["status"] == "interrupted"
