"""A person's own data over REST: it trains, bad rows are named, and it travels in the export."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.spec import LIMITS

pytestmark = pytest.mark.timeout(90)

WAIT = 30.0


def two_clusters(n: int = 40) -> dict[str, Any]:
    """Left points class 0, right points class 1: any small net separates them."""
    points = [[-3 - (i % 5) * 0.2, (i % 7) * 0.5 - 1.5] for i in range(n // 2)]
    points += [[3 + (i % 5) * 0.2, (i % 7) * 0.5 - 1.5] for i in range(n // 2)]
    return {"name": "custom", "points": points, "labels": [0] * (n // 2) + [1] * (n // 2),
            "test_fraction": 0.25}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", persist=False))) as client:
        yield client


def finished(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_custom_points_train_and_travel_in_the_exported_spec(client: TestClient) -> None:
    body = {"dataset": two_clusters(), "loss": "cross_entropy", "batch_size": 10,
            "max_steps": 300, "optimizer": {"name": "adam", "lr": 0.03}}
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job = finished(client, response.json()["id"])
    assert job["status"] == "completed", job
    assert job["metrics"]["test_accuracy"] == 1.0
    assert job["summary"]["dataset"] == "custom"
    exported = json.loads(client.get(f"/api/jobs/{job['id']}/spec").content)
    assert exported["dataset"]["points"] == body["dataset"]["points"]
    assert exported["dataset"]["labels"] == body["dataset"]["labels"]
    assert exported["dataset"]["n_samples"] == 40
    again = client.post("/api/jobs?dry_run=true", json={"spec": exported})
    assert again.status_code == 200, again.text


def test_a_bad_row_is_named(client: TestClient) -> None:
    data = two_clusters()
    data["points"][6] = [1.0, "seven"]
    response = client.post("/api/jobs", json={"dataset": data})
    assert response.status_code == 422
    assert "row 7" in response.json()["detail"]
    data = two_clusters()
    data["labels"][11] = 40
    detail = client.post("/api/jobs", json={"dataset": data}).json()["detail"]
    assert "dataset.labels: row 12 has class 40; classes are 0 to 9" in detail


def test_too_many_rows_are_refused(client: TestClient) -> None:
    n = LIMITS.max_custom_rows + 1
    data = {"name": "custom", "points": [[0, 0]] * n, "labels": [0, 1] * (n // 2) + [0]}
    response = client.post("/api/jobs", json={"dataset": data})
    assert response.status_code == 422
    assert f"got {n} points" in response.json()["detail"]


def test_catalog_lists_custom_data_and_its_limits(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    info = {d["name"]: d for d in catalog["datasets"]}["custom"]
    assert info["tasks"] == ["classification", "regression"] and info["points"]
    assert catalog["limits"]["max_custom_rows"] == LIMITS.max_custom_rows
    preview = client.get("/api/datasets/custom/preview")
    assert preview.status_code == 422 and "no preview" in preview.json()["detail"]
