"""The API contract: error bodies match `/openapi.json`, and input is taken as sent.

Requests go through FastAPI's TestClient to an in-process app (threads, no store).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from nnplay.api.app import create_app
from nnplay.config import Settings

PAUSED_JOB = {"dataset": {"name": "circle", "n_samples": 100}, "max_steps": 50, "paused": True}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh in-process app whose lifespan ends after the test."""
    app = create_app(Settings(data_dir=tmp_path / "data", persist=False, workers=0))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    """The app's OpenAPI document."""
    result: dict[str, Any] = client.get("/openapi.json").json()
    return result


def _error_schema(document: dict[str, Any], path: str, method: str,
                  status: int) -> dict[str, Any]:
    """The schema `document` gives for the body of `status` on `method path`."""
    answers = document["paths"][path][method]["responses"]
    assert str(status) in answers, f"{method.upper()} {path} does not document {status}"
    reference = answers[str(status)]["content"]["application/json"]["schema"]["$ref"]
    name = reference.rsplit("/", 1)[-1]
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def _conforms(body: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Whether an error body has the documented fields, types and nothing else."""
    properties = schema["properties"]
    return (set(schema.get("required", [])) <= set(body) <= set(properties)
            and isinstance(body["detail"], str)
            and all(isinstance(text, str) for text in body.get("errors", [])))


def test_422_is_documented_as_the_error_body_the_app_sends(client: TestClient,
                                                           document: dict[str, Any]) -> None:
    """FastAPI's HTTPValidationError is gone: every 422 in the document is ErrorBody."""
    assert "HTTPValidationError" not in str(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "422" in operation["responses"]:
                assert _error_schema(document, path, method, 422)["title"] == "ErrorBody"
    answer = client.post("/api/jobs", json={"optimizer": {"lr": "0.1"}})
    assert answer.status_code == 422
    assert _conforms(answer.json(), _error_schema(document, "/api/jobs", "post", 422))
    job = client.post("/api/jobs", json=PAUSED_JOB).json()
    answer = client.patch(f"/api/jobs/{job['id']}", json={"lr": "fast"})
    assert answer.status_code == 422
    assert _conforms(answer.json(), _error_schema(document, "/api/jobs/{job_id}", "patch", 422))


@pytest.mark.parametrize(("path", "method", "statuses"), [
    ("/api/jobs", "post", [404, 409, 413, 422, 429, 503, 507]),
    ("/api/jobs/{job_id}", "get", [404, 422]),
    ("/api/jobs/{job_id}", "delete", [404]),
    ("/api/jobs/{job_id}", "patch", [404, 409, 413, 422]),
    ("/api/jobs/{job_id}/pause", "post", [404, 409]),
    ("/api/jobs/{job_id}/resume", "post", [404, 409]),
    ("/api/jobs/{job_id}/step", "post", [404, 409, 413, 422]),
    ("/api/jobs/{job_id}/stop", "post", [404, 409]),
    ("/api/jobs/{job_id}/weights", "get", [404]),
    ("/api/jobs/{job_id}/metrics", "get", [404, 422]),
    ("/api/presets/{name}", "get", [404]),
])
def test_error_statuses_are_documented_with_the_error_body(
        document: dict[str, Any], path: str, method: str, statuses: list[int]) -> None:
    """Each status a route can answer is in the document, with ErrorBody as its schema."""
    for status in statuses:
        assert _error_schema(document, path, method, status)["title"] == "ErrorBody"


def test_real_404_409_and_429_bodies_conform(tmp_path: Path) -> None:
    """The bodies of real 404, 409 and 429 answers have the documented fields."""
    app = create_app(Settings(data_dir=tmp_path / "data", persist=False, workers=0,
                              max_jobs=1))
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
        missing = client.get("/api/jobs/nosuchjob")
        job = client.post("/api/jobs", json=PAUSED_JOB).json()
        too_many = client.post("/api/jobs", json=PAUSED_JOB)
        client.post(f"/api/jobs/{job['id']}/stop")
        conflict = client.post(f"/api/jobs/{job['id']}/pause")  # a stopped job
    assert (missing.status_code, conflict.status_code, too_many.status_code) == (404, 409, 429)
    assert _conforms(missing.json(), _error_schema(document, "/api/jobs/{job_id}", "get", 404))
    assert _conforms(conflict.json(),
                     _error_schema(document, "/api/jobs/{job_id}/pause", "post", 409))
    assert _conforms(too_many.json(), _error_schema(document, "/api/jobs", "post", 429))


@pytest.mark.parametrize(("body", "field"), [
    ({"spec": "hello"}, "spec"),
    ({"spec": [1, 2]}, "spec"),
    ({"spec": None}, "spec"),
    ({"preset": "spiral", "overrides": []}, "overrides"),
    ({"preset": "spiral", "overrides": None}, "overrides"),
    ({"preset": "spiral", "overrides": "max_steps=10"}, "overrides"),
    ({"preset": 5}, "preset"),
    ({"preset": ["spiral"]}, "preset"),
])
def test_a_body_of_the_wrong_shape_is_refused_not_replaced_by_defaults(
        client: TestClient, body: dict[str, Any], field: str) -> None:
    """`{"spec": "hello"}` used to train the default spec; now it is a 422 naming `spec`."""
    answer = client.post("/api/jobs?dry_run=true", json=body)
    assert answer.status_code == 422, answer.json()
    assert answer.json()["errors"][0].startswith(f"{field}: must be ")


@pytest.mark.parametrize(("body", "message"), [
    ([{"max_steps": 10}], "body: must be an object"),
    ("spiral", 'body: must be an object (got "spiral")'),
    (5, "body: must be an object (got 5)"),
    (None, "body: is required"),  # no body at all
])
def test_a_body_that_is_not_an_object_is_refused(client: TestClient, body: Any,
                                                 message: str) -> None:
    """A list, string or number body, or none, is a 422 naming the body."""
    answer = client.post("/api/jobs?dry_run=true", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"] == [message]


def test_invalid_json_names_the_body_and_the_position(client: TestClient) -> None:
    """Broken JSON is a 422 about the body, not about a field called `1`."""
    answer = client.post("/api/jobs", content=b'{"max_steps": }',
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    (message,) = answer.json()["errors"]
    assert message.startswith("body: is not valid JSON") and "character 14" in message


@pytest.mark.parametrize(("spec", "message"), [
    ({"optimizer": {"lr": "0.1"}}, 'optimizer.lr: must be a number (got "0.1")'),
    ({"optimizer": {"lr": True}}, "optimizer.lr: must be a number (got true)"),
    ({"optimizer": {"momentum": "0.9"}}, 'optimizer.momentum: must be a number (got "0.9")'),
    ({"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": "yes"}},
     'optimizer.nesterov: must be true or false (got "yes")'),
    ({"batch_size": "10"}, 'batch_size: must be a whole number (got "10")'),
    ({"batch_size": 2.5}, "batch_size: must be a whole number (got 2.5)"),
    ({"max_steps": False}, "max_steps: must be a whole number (got false)"),
    ({"dataset": {"noise": "0.1"}}, 'dataset.noise: must be a number (got "0.1")'),
    ({"dataset": {"n_samples": "200"}}, 'dataset.n_samples: must be a whole number (got "200")'),
    ({"model": {"layers": [{"units": "4"}]}},
     'model.layers.0.units: must be a whole number (got "4")'),
    ({"model": {"layers": [{"type": "dropout", "p": "0.5"}]}},
     'model.layers.0.p: must be a number (got "0.5")'),
    ({"regularization": {"l2": "0.001"}}, 'regularization.l2: must be a number (got "0.001")'),
    ({"task": "gan", "dataset": {"name": "ring"}, "latent_dim": "2"},
     'latent_dim: must be a whole number (got "2")'),
    ({"task": "gan", "dataset": {"name": "ring"}, "g_optimizer": {"lr": "0.01"}},
     'g_optimizer.lr: must be a number (got "0.01")'),
    ({"task": "gan", "dataset": {"name": "ring"}, "gradient_penalty": "10"},
     'gradient_penalty: must be a number (got "10")'),
    ({"paused": "true"}, 'paused: must be true or false (got "true")'),
    ({"frame_rate": "10"}, 'frame_rate: must be a number (got "10")'),
    ({"preset": "optimizers", "variant": "2"}, 'variant: must be a whole number (got "2")'),
])
def test_strings_and_booleans_are_not_taken_as_numbers(
        client: TestClient, spec: dict[str, Any], message: str) -> None:
    """A number sent as text (or true) is a 422 naming the field, not silently converted."""
    answer = client.post("/api/jobs?dry_run=true", json=spec)
    assert answer.status_code == 422, answer.json()
    assert message in answer.json()["errors"]


def test_whole_numbers_are_still_taken_for_float_fields(client: TestClient) -> None:
    """JSON has no separate integer type: `"lr": 1` is the number 1.0."""
    answer = client.post("/api/jobs?dry_run=true", json={
        "optimizer": {"lr": 1, "momentum": 0}, "dataset": {"noise": 0, "test_fraction": 0}})
    assert answer.status_code == 200, answer.json()
    assert answer.json()["spec"]["optimizer"]["lr"] == 1.0


def test_whole_floats_are_taken_for_int_fields(client: TestClient) -> None:
    """As JSON Schema's `integer` says: 20.0 is a whole number; 20.5 is not."""
    answer = client.post("/api/jobs?dry_run=true", json={"batch_size": 20.0, "max_steps": 1e3})
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["spec"]["batch_size"], answer.json()["spec"]["max_steps"]) == (20, 1000)


@pytest.mark.parametrize(("route", "body", "message"), [
    ("", {"lr": "0.1"}, 'lr: must be a number (got "0.1")'),
    ("", {"g_lr": True}, "g_lr: must be a number (got true)"),
    ("/step", {"steps": "5"}, 'steps: must be a whole number (got "5")'),
    ("/step", {"steps": 1.5}, "steps: must be a whole number (got 1.5)"),
    ("/step", {"steps": True}, "steps: must be a whole number (got true)"),
])
def test_update_and_step_bodies_take_numbers_strictly(
        client: TestClient, route: str, body: dict[str, Any], message: str) -> None:
    """PATCH and step bodies refuse numbers sent as text or booleans, naming the field."""
    job = client.post("/api/jobs", json=PAUSED_JOB).json()
    method = client.patch if route == "" else client.post
    answer = method(f"/api/jobs/{job['id']}{route}", json=body)
    assert answer.status_code == 422, answer.json()
    assert answer.json()["errors"] == [message]
    assert client.get(f"/api/jobs/{job['id']}").json()["step"] == 0  # nothing happened
