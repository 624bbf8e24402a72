"""Resuming interrupted runs: no repeated step in the history, and within `max_jobs`."""

from __future__ import annotations

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
    "max_steps": 10**6,
}


@pytest.fixture
def open_app(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Apps on one data dir (a server restarted on it), checkpointing often; closed after.

    Every client is the same person (the first one's identity cookie), so it may resume.
    """
    opened: list[TestClient] = []

    def open_(**settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(data_dir=tmp_path / "data",
                                                checkpoint_interval=0.2, **settings)))
        if opened:
            client.cookies.update(opened[0].cookies)
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


def _csv_steps(client: TestClient, job_id: str) -> list[int]:
    rows = client.get(f"/api/jobs/{job_id}/metrics?format=csv").text.splitlines()[1:]
    return [int(row.split(",")[0]) for row in rows]


def _interrupted_runs(open_app: Callable[..., TestClient], count: int) -> list[str]:
    """`count` runs that trained and checkpointed, then the server stopped under them."""
    client = open_app()
    ids = [client.post("/api/jobs", json=SPEC).json()["id"] for _ in range(count)]
    _until(lambda: all((client.get(f"/api/jobs/{i}").json()["step"] or 0) > 300 for i in ids))
    time.sleep(0.5)  # a checkpoint past the first points
    client.__exit__(None, None, None)
    return ids


def test_resume_does_not_repeat_the_checkpoint_step(
        open_app: Callable[..., TestClient]) -> None:
    (run_id,) = _interrupted_runs(open_app, 1)
    client = open_app()
    assert client.get(f"/api/jobs/{run_id}").json()["status"] == "interrupted"
    saved = _csv_steps(client, run_id)
    assert client.post(f"/api/jobs/{run_id}/resume").status_code == 200
    _until(lambda: client.get(f"/api/jobs/{run_id}").json()["step"] > saved[-1] + 300)
    client.post(f"/api/jobs/{run_id}/stop")
    steps = _csv_steps(client, run_id)
    assert len(steps) == len(set(steps)), "a step appears twice in the exported metrics"
    assert steps == sorted(steps) and steps[0] == 0
    client.__exit__(None, None, None)
    stored = _csv_steps(open_app(), run_id)
    assert stored == steps  # the store keeps the same points, no repeated step either


def test_resuming_interrupted_runs_obeys_max_jobs(open_app: Callable[..., TestClient]) -> None:
    first, second = _interrupted_runs(open_app, 2)
    client = open_app(max_jobs=1)
    assert client.post(f"/api/jobs/{first}/resume").status_code == 200
    refused = client.post(f"/api/jobs/{second}/resume")
    assert refused.status_code == 429, refused.text
    assert "limit of 1 active jobs" in refused.json()["detail"]
    assert refused.headers["Retry-After"]
    assert client.get(f"/api/jobs/{second}").json()["status"] == "interrupted"
    client.post(f"/api/jobs/{first}/stop")
    assert client.post(f"/api/jobs/{second}/resume").status_code == 200


def test_resuming_interrupted_runs_obeys_the_per_person_limit(
        open_app: Callable[..., TestClient]) -> None:
    first, second = _interrupted_runs(open_app, 2)
    client = open_app(max_jobs_per_user=1)
    assert client.post(f"/api/jobs/{first}/resume").status_code == 200
    refused = client.post(f"/api/jobs/{second}/resume")
    assert refused.status_code == 429, refused.text
    assert "you already have 1 active jobs" in refused.json()["detail"]
    assert client.get(f"/api/jobs/{second}").json()["status"] == "interrupted"
