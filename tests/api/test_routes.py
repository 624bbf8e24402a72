"""Tests for the REST routes, through FastAPI's TestClient with the app's lifespan running."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load as load_safetensors

from nnplay.api.app import create_app
from nnplay.api.routes_jobs import METRIC_COLUMNS
from nnplay.config import Settings
from nnplay.data import build_dataset
from nnplay.models.network import build_network
from nnplay.presets import PRESETS, get_preset
from nnplay.spec import (
    LIMITS,
    Activation,
    DatasetName,
    ExperimentSpec,
    Feature,
    Init,
    LossName,
    OptimizerName,
    parse_spec,
)
from nnplay.train.heads import make_head

WAIT = 20.0  # seconds a test polls for a job to get somewhere (never reached when it passes)

# A tiny problem that trains fast; the step budget outlasts any test.
SMALL: dict[str, Any] = {
    "dataset": {"name": "gaussians", "n_samples": 100, "noise": 0.2},
    "model": {"layers": [{"type": "dense", "units": 3, "activation": "tanh"}]},
    "optimizer": {"name": "sgd", "lr": 0.03}, "loss": "mse", "batch_size": 10,
    "max_steps": 1_000_000,
}


def small(**changes: Any) -> dict[str, Any]:
    """The small spec with top-level fields replaced."""
    return {**SMALL, **changes}


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Fresh apps with their own settings; every app's lifespan ends after the test.

    Runs are not persisted (the store's tests cover that), so shutting an app down
    does not wait for a store flush.
    """
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        settings = {"persist": False, **settings}
        app = create_app(Settings(data_dir=tmp_path / f"data-{len(clients)}", **settings))
        client = TestClient(app)
        client.__enter__()  # runs the lifespan, as `with TestClient(app)` does
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A fresh app with default settings."""
    return make_client()


def assert_error(response: httpx.Response, status: int, *fragments: str) -> str:
    """Check an error response: the status, a JSON body whose `detail` is a sentence."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert isinstance(detail, str) and len(detail.split()) >= 3, detail
    for fragment in fragments:
        assert fragment in detail, f"{fragment!r} not in {detail!r}"
    return detail


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/jobs and return the created job."""
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


def poll(client: TestClient, job_id: str, condition: Callable[[dict[str, Any]], bool],
         timeout: float = WAIT) -> dict[str, Any]:
    """GET the job until `condition(job)` holds; return that view."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if condition(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job never got there; last view: {job}")
        time.sleep(0.01)


def settled_step(client: TestClient, job_id: str) -> int:
    """The step of a paused job once the trainer has parked (it stops within one step)."""
    previous = -1
    while True:
        step: int = poll(client, job_id, lambda job: job["status"] == "paused")["step"]
        if step == previous:
            return step
        previous = step
        time.sleep(0.1)


# ----- meta ---------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["device"] in ("cpu", "cuda")
    assert body["torch"] == torch.__version__


def test_page_is_served(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def _names(items: list[dict[str, Any]]) -> list[str]:
    """The `name` of each catalog entry, in order."""
    return [item["name"] for item in items]


def test_catalog_lists_every_choice_once(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    for key, enum in [("datasets", DatasetName), ("features", Feature),
                      ("activations", Activation), ("inits", Init),
                      ("optimizers", OptimizerName), ("losses", LossName)]:
        names = _names(catalog[key])
        assert sorted(names) == sorted(member.value for member in enum), key
        assert len(names) == len(set(names)), f"{key} lists a name twice"
    assert {"dense", "dropout", "batchnorm"} <= set(_names(catalog["layer_types"]))
    assert _names(catalog["presets"]) == list(PRESETS)
    for optimizer in catalog["optimizers"]:
        assert LIMITS.min_lr <= optimizer["suggested_lr"] <= LIMITS.max_lr


def test_catalog_limits_and_defaults_match_the_spec(client: TestClient) -> None:
    catalog = client.get("/api/catalog").json()
    assert catalog["limits"] == LIMITS.model_dump()
    assert catalog["defaults"] == ExperimentSpec().model_dump(mode="json")
    parse_spec(catalog["defaults"])  # the defaults are a valid spec as they are


def test_presets_are_listed_with_their_explanations(client: TestClient) -> None:
    presets = client.get("/api/presets").json()["presets"]
    assert _names(presets) == list(PRESETS)
    for preset in presets:
        assert preset["title"] and preset["summary"] and preset["explanation"]
        assert preset["race"] == len(PRESETS[preset["name"]].variants)


def test_one_preset_has_a_valid_spec(client: TestClient) -> None:
    body = client.get("/api/presets/spiral").json()
    assert body["name"] == "spiral"
    assert parse_spec(body["spec"]) == get_preset("spiral").build()
    assert "variants" not in body


def test_race_preset_has_one_spec_per_run(client: TestClient) -> None:
    body = client.get("/api/presets/optimizers").json()
    labels = [variant["label"] for variant in body["variants"]]
    assert labels == ["SGD", "Momentum", "Nesterov", "Adagrad", "Adadelta", "RMSprop", "Adam",
                      "Nadam"]
    assert body["variants"][3]["spec"]["optimizer"]["name"] == "adagrad"


def test_unknown_preset_is_404_naming_the_choices(client: TestClient) -> None:
    assert_error(client.get("/api/presets/nope"), 404, "'nope'", "spiral", "optimizers")


def test_dataset_preview(client: TestClient) -> None:
    body = client.get("/api/datasets/spiral/preview", params={"n_samples": 100}).json()
    assert body["name"] == "spiral" and body["classes"] == 2
    assert len(body["points"]) == 100
    low, high = body["domain"]
    for x1, x2, label in body["points"]:
        assert low <= x1 <= high and low <= x2 <= high
        assert label in (0, 1)
    blobs = client.get("/api/datasets/blobs/preview", params={"classes": 4}).json()
    assert {row[2] for row in blobs["points"]} == {0, 1, 2, 3}
    plane = client.get("/api/datasets/plane/preview").json()
    lo, hi = plane["target_range"]
    assert plane["classes"] == 0
    assert all(lo - 1e-3 <= row[2] <= hi + 1e-3 for row in plane["points"])


def test_dataset_preview_refuses_bad_queries(client: TestClient) -> None:
    assert_error(client.get("/api/datasets/nope/preview"), 422, "name")
    assert_error(client.get("/api/datasets/spiral/preview", params={"n_samples": 5}), 422,
                 "n_samples")
    assert_error(client.get("/api/datasets/sine/preview"), 422,
                 "dataset 'sine' is a sequence set")


# ----- creating -------------------------------------------------------------------------


def test_create_from_a_spec(client: TestClient) -> None:
    job = create(client, small(name="mine"))
    assert job["status"] in ("queued", "running")
    assert job["name"] == "mine" and job["step"] == 0
    assert job["spec"]["dataset"]["name"] == "gaussians"
    assert job["spec"]["model"]["layers"][0]["units"] == 3
    assert job["max_steps"] == 1_000_000 and job["lr"] == 0.03


def test_create_from_spec_wrapper(client: TestClient) -> None:
    job = create(client, {"spec": small(), "paused": True, "frame_rate": 5})
    assert job["spec"]["dataset"]["name"] == "gaussians"
    assert job["frame_rate"] == 5
    poll(client, job["id"], lambda view: view["status"] == "paused")


def test_create_from_a_preset_with_overrides(client: TestClient) -> None:
    job = create(client, {"preset": "spiral", "overrides": {"max_steps": 1234},
                          "paused": True})
    assert job["name"] == "Two spirals"
    expected = get_preset("spiral").build({"max_steps": 1234}).model_dump(mode="json")
    assert job["spec"] == {**expected, "name": "Two spirals"}


def test_create_one_run_of_a_race(client: TestClient) -> None:
    job = create(client, {"preset": "optimizers", "variant": 3, "paused": True})
    assert job["name"] == "Adagrad"
    assert job["spec"]["optimizer"]["name"] == "adagrad"


@pytest.mark.parametrize(("body", "fragments"), [
    (small(optimizer={"name": "sgd", "lr": 0}), ["optimizer.lr", "between 1e-06 and 10"]),
    (small(model={"layers": [{"units": 2}] * 11}), ["model.layers", "at most 10 items"]),
    (small(model={"layers": [{"units": 2, "activation": "sparkle"}]}),
     ["model.layers.0.activation", "relu", "'sparkle'"]),
    (small(model={"layers": [{"units": 1000}]}), ["model.layers.0.units", "between 1 and 256"]),
    (small(batch_size=0), ["batch_size", "between 1 and 5000"]),
    (small(learning_rate=0.1), ["learning_rate", "not a known field"]),
    (small(dataset={"name": "plane"}), ["dataset.name", "regression"]),
    ({"preset": "optimizers", "variant": 8}, ["variant", "between 0 and 7"]),
    ({"preset": "spiral", "variant": -1}, ["variant"]),
    ({"preset": "spiral", "max_steps": 10}, ["max_steps", "overrides"]),
    ({"spec": small(), "seed": 1}, ["seed", "not a known field"]),
])
def test_bad_spec_is_422_naming_the_field_and_range(
        client: TestClient, body: dict[str, Any], fragments: list[str]) -> None:
    detail = assert_error(client.post("/api/jobs", json=body), 422, *fragments)
    assert detail.startswith("invalid spec")
    assert client.get("/api/jobs").json()["jobs"] == []  # nothing was started


def test_unknown_preset_in_create_is_404(client: TestClient) -> None:
    assert_error(client.post("/api/jobs", json={"preset": "nope"}), 404, "choose one of")


def test_body_that_is_not_an_object_is_422(client: TestClient) -> None:
    assert_error(client.post("/api/jobs", json=[1, 2]), 422)
    assert_error(client.post("/api/jobs", content=b"{not json",
                             headers={"content-type": "application/json"}), 422)


# ----- reading --------------------------------------------------------------------------


def test_list_jobs_oldest_first_without_specs(client: TestClient) -> None:
    first = create(client, small(name="first", max_steps=10))
    second = create(client, small(name="second", max_steps=10))
    jobs = client.get("/api/jobs").json()["jobs"]
    assert [job["id"] for job in jobs] == [first["id"], second["id"]]
    assert [job["name"] for job in jobs] == ["first", "second"]
    assert all("spec" not in job for job in jobs)


def test_read_a_job(client: TestClient) -> None:
    job = create(client, small())
    view = poll(client, job["id"], lambda view: view["step"] > 0)
    assert view["id"] == job["id"] and view["status"] == "running"
    assert view["spec"] == job["spec"]
    metrics = view["metrics"]
    assert metrics["step"] == view["step"]
    assert metrics["train_loss"] >= 0 and 0 <= metrics["test_accuracy"] <= 1
    assert metrics["lr"] == 0.03
    assert view["parameter_count"] == 2 * 3 + 3 + 3 + 1


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "", None), ("DELETE", "", None), ("PATCH", "", {"lr": 0.1}),
    ("POST", "/pause", None), ("POST", "/resume", None), ("POST", "/stop", None),
    ("POST", "/step", {"steps": 1}), ("GET", "/metrics", None), ("GET", "/weights", None),
])
def test_unknown_job_is_404(client: TestClient, method: str, path: str,
                            body: dict[str, Any] | None) -> None:
    response = client.request(method, f"/api/jobs/0123456789ab{path}", json=body)
    assert_error(response, 404, "'0123456789ab'", "GET /api/jobs")


# ----- controls -------------------------------------------------------------------------


def test_step_advances_a_paused_job_exactly(client: TestClient) -> None:
    job = create(client, small(paused=True))
    assert settled_step(client, job["id"]) == 0
    response = client.post(f"/api/jobs/{job['id']}/step", json={"steps": 5})
    assert response.status_code == 200 and response.json()["status"] == "paused"
    poll(client, job["id"], lambda view: view["step"] > 0)
    assert settled_step(client, job["id"]) == 5
    client.post(f"/api/jobs/{job['id']}/step", json={"steps": 5})
    poll(client, job["id"], lambda view: view["step"] > 5)
    assert settled_step(client, job["id"]) == 10


def test_step_without_a_body_takes_one_step(client: TestClient) -> None:
    job = create(client, small(paused=True))
    settled_step(client, job["id"])
    assert client.post(f"/api/jobs/{job['id']}/step").status_code == 200
    poll(client, job["id"], lambda view: view["step"] == 1)


def test_pause_stops_training_and_resume_continues(client: TestClient) -> None:
    job = create(client, small())
    poll(client, job["id"], lambda view: view["step"] > 0)
    response = client.post(f"/api/jobs/{job['id']}/pause")
    assert response.status_code == 200 and response.json()["status"] == "paused"
    parked = settled_step(client, job["id"])
    time.sleep(0.2)
    assert client.get(f"/api/jobs/{job['id']}").json()["step"] == parked  # no training
    client.post(f"/api/jobs/{job['id']}/step", json={"steps": 5})
    poll(client, job["id"], lambda view: view["step"] > parked)
    assert settled_step(client, job["id"]) == parked + 5
    response = client.post(f"/api/jobs/{job['id']}/resume")
    assert response.status_code == 200 and response.json()["status"] == "running"
    poll(client, job["id"], lambda view: view["step"] > parked + 5)


def test_step_while_running_is_409(client: TestClient) -> None:
    job = create(client, small())
    assert_error(client.post(f"/api/jobs/{job['id']}/step", json={"steps": 5}), 409,
                 "pause the job first", "running")


def test_pause_and_resume_that_do_not_apply_are_409(client: TestClient) -> None:
    job = create(client, small())
    assert_error(client.post(f"/api/jobs/{job['id']}/resume"), 409, "the job is running")
    client.post(f"/api/jobs/{job['id']}/pause")
    assert_error(client.post(f"/api/jobs/{job['id']}/pause"), 409, "the job is paused")


@pytest.mark.parametrize("steps", [0, -1, LIMITS.max_steps + 1, "five"])
def test_step_count_out_of_range_is_422(client: TestClient, steps: Any) -> None:
    job = create(client, small(paused=True))
    assert_error(client.post(f"/api/jobs/{job['id']}/step", json={"steps": steps}), 422,
                 "steps")


def test_resume_of_a_completed_job_is_409(client: TestClient) -> None:
    job = create(client, small(max_steps=30))
    poll(client, job["id"], lambda view: view["status"] == "completed")
    assert_error(client.post(f"/api/jobs/{job['id']}/resume"), 409, "cannot resume",
                 "completed")
    assert_error(client.post(f"/api/jobs/{job['id']}/stop"), 409, "completed")


def test_stop_ends_the_job_at_once(client: TestClient) -> None:
    job = create(client, small())
    poll(client, job["id"], lambda view: view["step"] > 0)
    response = client.post(f"/api/jobs/{job['id']}/stop")
    assert response.status_code == 200
    stopped = response.json()
    assert stopped["status"] == "stopped" and stopped["finished_at"] is not None
    time.sleep(0.1)
    assert client.get(f"/api/jobs/{job['id']}").json()["step"] == stopped["step"]
    assert_error(client.post(f"/api/jobs/{job['id']}/resume"), 409, "cannot resume",
                 "stopped")
    assert_error(client.post(f"/api/jobs/{job['id']}/step"), 409, "stopped")


def test_stop_a_queued_job(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_running_jobs=1)
    create(client, small(paused=True))
    queued = create(client, small())
    assert queued["status"] == "queued"
    assert client.post(f"/api/jobs/{queued['id']}/stop").json()["status"] == "stopped"


def test_patch_lr_changes_the_lr_in_later_metrics(client: TestClient) -> None:
    job = create(client, small())
    poll(client, job["id"], lambda view: view["step"] > 0)
    response = client.patch(f"/api/jobs/{job['id']}", json={"lr": 0.005})
    assert response.status_code == 200 and response.json()["lr"] == 0.005
    view = poll(client, job["id"], lambda view: view["metrics"]["lr"] == 0.005)
    points = client.get(f"/api/jobs/{job['id']}/metrics").json()["points"]
    assert points[0]["lr"] == 0.03 and points[-1]["lr"] == 0.005
    assert view["lr"] == 0.005


def test_patch_name(client: TestClient) -> None:
    job = create(client, small(paused=True))
    assert client.patch(f"/api/jobs/{job['id']}", json={"name": "renamed"}).json()["name"] \
        == "renamed"
    assert client.get(f"/api/jobs/{job['id']}").json()["name"] == "renamed"


@pytest.mark.parametrize("lr", [0, 1e-7, 11, -0.1, "fast"])
def test_patch_lr_out_of_range_is_422(client: TestClient, lr: Any) -> None:
    job = create(client, small(paused=True))
    assert_error(client.patch(f"/api/jobs/{job['id']}", json={"lr": lr}), 422, "lr")
    assert client.get(f"/api/jobs/{job['id']}").json()["lr"] == 0.03


def test_patch_unknown_field_is_422(client: TestClient) -> None:
    job = create(client, small(paused=True))
    assert_error(client.patch(f"/api/jobs/{job['id']}", json={"momentum": 0.9}), 422,
                 "momentum")


def test_patch_lr_of_a_stopped_job_is_409(client: TestClient) -> None:
    job = create(client, small())
    client.post(f"/api/jobs/{job['id']}/stop")
    assert_error(client.patch(f"/api/jobs/{job['id']}", json={"lr": 0.1}), 409, "stopped")


def test_delete_forgets_the_job(client: TestClient) -> None:
    job = create(client, small())
    response = client.delete(f"/api/jobs/{job['id']}")
    assert response.json() == {"id": job["id"], "deleted": True}
    assert_error(client.get(f"/api/jobs/{job['id']}"), 404)
    assert client.get("/api/jobs").json()["jobs"] == []


# ----- downloads ------------------------------------------------------------------------


def test_metrics_as_json(client: TestClient) -> None:
    job = create(client, small(max_steps=300))
    poll(client, job["id"], lambda view: view["status"] == "completed")
    body = client.get(f"/api/jobs/{job['id']}/metrics").json()
    steps = [point["step"] for point in body["points"]]
    assert steps[0] == 0 and steps[-1] == 300 and steps == sorted(steps)
    assert body["points"][-1]["test_loss"] < body["points"][0]["test_loss"]
    report = body["report"]  # per-class figures of the final point
    assert report is not None and "confusion" in str(report)


def test_metrics_as_csv(client: TestClient) -> None:
    job = create(client, small(max_steps=300))
    poll(client, job["id"], lambda view: view["status"] == "completed")
    response = client.get(f"/api/jobs/{job['id']}/metrics", params={"format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == METRIC_COLUMNS
    assert len(rows) == len(client.get(f"/api/jobs/{job['id']}/metrics").json()["points"]) + 1
    for row in rows[1:]:
        values = [float(cell) for cell in row]  # every cell is a number
        assert len(values) == len(METRIC_COLUMNS)
    assert int(rows[-1][0]) == 300


def test_metrics_in_an_unknown_format_is_422(client: TestClient) -> None:
    job = create(client, small(paused=True))
    assert_error(client.get(f"/api/jobs/{job['id']}/metrics", params={"format": "xml"}), 422,
                 "csv")


def test_weights_load_with_safetensors_and_predict_like_the_job(client: TestClient) -> None:
    job = create(client, small(max_steps=300, model={"layers": [
        {"units": 4, "activation": "relu"}, {"units": 2, "activation": "tanh"}]}))
    view = poll(client, job["id"], lambda view: view["status"] == "completed")
    response = client.get(f"/api/jobs/{job['id']}/weights")
    assert response.status_code == 200
    assert "safetensors" in response.headers["content-disposition"]
    tensors = load_safetensors(response.content)

    spec = parse_spec(view["spec"])
    data = build_dataset(spec)
    head = make_head(spec.task, spec.loss, data.n_classes)
    network = build_network(spec.model, data.n_inputs, head.out_units)
    network.load_state_dict(tensors)  # strict: same names and shapes
    network.eval()
    with torch.no_grad():
        train_out, test_out = network(data.x_train), network(data.x_test)
        train_loss = head.loss(train_out, head.targets(data.y_train)).item()
        test_loss = head.loss(test_out, head.targets(data.y_test)).item()
    accuracy = (head.predict(test_out) == data.y_test).float().mean().item()
    # The job's own final evaluation, on the same data, says the same.
    final = view["metrics"]
    assert final["step"] == 300
    assert train_loss == pytest.approx(final["train_loss"], rel=1e-5)
    assert test_loss == pytest.approx(final["test_loss"], rel=1e-5)
    assert accuracy == pytest.approx(final["test_accuracy"])
    assert accuracy > 0.8  # trained weights, not the initial ones


def test_weights_of_a_job_that_never_started(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_running_jobs=1)
    create(client, small(paused=True))
    queued = create(client, small())
    response = client.get(f"/api/jobs/{queued['id']}/weights")
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code, "weights")


# ----- limits ---------------------------------------------------------------------------


def test_body_over_the_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=1024)
    assert_error(client.post("/api/jobs", json=small(name="x" * 2000)), 413, "1024 bytes")
    assert client.get("/api/jobs").json()["jobs"] == []
    assert create(client, small(paused=True))["status"] in ("queued", "running", "paused")


def test_chunked_body_over_the_limit_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=1024)
    chunks = iter([b'{"name": "', b"x" * 800, b"y" * 800, b'"}'])  # no content-length
    response = client.post("/api/jobs", content=chunks,
                           headers={"content-type": "application/json"})
    assert_error(response, 413, "1024 bytes")


def test_too_many_jobs_is_429_with_retry_after(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_jobs=2, max_running_jobs=1)
    first = create(client, small(paused=True))
    second = create(client, small(paused=True))
    assert second["status"] == "queued"
    response = client.post("/api/jobs", json=small(paused=True))
    assert_error(response, 429, "limit of 2 active jobs")
    assert int(response.headers["retry-after"]) > 0
    # A finished job frees its place.
    client.post(f"/api/jobs/{first['id']}/stop")
    create(client, small(paused=True))
