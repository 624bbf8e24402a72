"""What the CNN page reads besides frames: set samples, a run's test images, the stack check."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.datasets import load_digits

from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.data.image_dataset import build_image_dataset
from nnplay.spec import parse_spec

pytestmark = pytest.mark.timeout(120)

SPEC: dict[str, Any] = {
    "task": "classification",
    "dataset": {"name": "digits", "n_samples": 400, "test_fraction": 0.25, "seed": 3},
    "model": {"layers": [{"type": "conv2d", "filters": 4, "padding": 1},
                         {"type": "maxpool2d"}, {"type": "dense", "units": 16}]},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One in-process app for the module (nothing here trains)."""
    data_dir = tmp_path_factory.mktemp("cnn-images")
    # workers=0 said here: the autouse NNPLAY_WORKERS=0 of tests/conftest.py is set per test,
    # after module fixtures, so this app would start (and at the end join) worker processes.
    app = create_app(Settings(data_dir=data_dir, persist=False, allow_hosts="testserver",
                              workers=0))
    with TestClient(app) as client:
        yield client


def _pixels(answer: dict[str, Any]) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(answer["pixels"]), dtype=np.uint8)
    return raw.reshape(answer["count"], *answer["shape"])


def test_digits_preview_is_real_images_class_by_class(client: TestClient) -> None:
    answer = client.get("/api/datasets/digits/preview", params={"images": 20}).json()
    assert answer["shape"] == [8, 8] and answer["count"] == 20 and answer["total"] == 1797
    assert answer["labels"] == list(range(10)) * 2  # every class once, then again
    pixels = _pixels(answer)
    # Each image is one of scikit-learn's digits, with its own label.
    bunch = load_digits()
    known = {np.rint(image * 255 / 16).astype(np.uint8).tobytes(): int(label)
             for image, label in zip(bunch.images, bunch.target, strict=True)}
    assert [known[image.tobytes()] for image in pixels] == answer["labels"]


def test_mnist_preview_and_a_missing_set(client: TestClient) -> None:
    answer = client.get("/api/datasets/mnist/preview", params={"images": 10}).json()
    assert answer["shape"] == [28, 28] and answer["total"] == 10_000
    assert int(_pixels(answer).max()) > 200  # ink, not blank images
    missing = client.get("/api/datasets/fashion_mnist/preview")
    assert missing.status_code == 422
    assert "datasets/fashion_mnist" in missing.json()["detail"]
    too_many = client.get("/api/datasets/digits/preview", params={"images": 10_000})
    assert too_many.status_code == 422 and "images" in too_many.text


def test_test_images_are_the_runs_test_split(client: TestClient) -> None:
    job = client.post("/api/jobs", json={"spec": SPEC, "paused": True}).json()
    answer = client.get(f"/api/jobs/{job['id']}/test-images",
                        params={"start": 90, "count": 20}).json()
    assert answer["total"] == 100 and answer["start"] == 90 and answer["count"] == 10
    data = build_image_dataset(parse_spec(SPEC))
    assert np.array_equal(_pixels(answer), data.pixels_test[90:].numpy())
    assert answer["labels"] == data.y_test[90:].tolist()
    past = client.get(f"/api/jobs/{job['id']}/test-images", params={"start": 101})
    assert past.status_code == 422 and "start" in past.json()["detail"]
    points = client.post("/api/jobs", json={"spec": {"dataset": {"name": "circle"}},
                                            "paused": True}).json()
    refused = client.get(f"/api/jobs/{points['id']}/test-images")
    assert refused.status_code == 422 and "does not classify images" in refused.json()["detail"]
    assert client.get("/api/jobs/nope/test-images").status_code == 404


def test_dry_run_gives_each_layers_shape_and_parameters(client: TestClient) -> None:
    answer = client.post("/api/jobs?dry_run=true", json={"spec": SPEC}).json()
    rows = [(row["kind"], row["dims"], row["parameters"]) for row in answer["layers"]]
    assert rows == [("input", [1, 8, 8], 0), ("conv2d", [4, 8, 8], 4 * 9 + 4),
                    ("maxpool2d", [4, 4, 4], 0), ("dense", [16], 64 * 16 + 16),
                    ("output", [10], 17 * 10)]
    assert answer["parameter_count"] == 40 + 1040 + 170
    shrunk = {**SPEC, "model": {"layers": [{"type": "conv2d", "kernel_size": 5},
                                           {"type": "conv2d", "kernel_size": 5}]}}
    refused = client.post("/api/jobs?dry_run=true", json={"spec": shrunk})
    assert refused.status_code == 422 and "model.layers.1" in refused.text


def test_lessons_say_what_data_they_train_on(client: TestClient) -> None:
    kinds = {p["name"]: p["kind"] for p in client.get("/api/presets").json()["presets"]}
    assert kinds["cnn-digits"] == kinds["mlp-vs-cnn"] == kinds["pooling"] == "image"
    assert kinds["first-steps"] == "points2d"
    catalog = client.get("/api/catalog").json()
    mnist = next(d for d in catalog["datasets"] if d["name"] == "mnist")
    assert mnist["input_shape"] == [1, 28, 28] and mnist["class_names"] == list("0123456789")
    fashion = next(d for d in catalog["datasets"] if d["name"] == "fashion_mnist")
    assert fashion["class_names"][9] == "Ankle boot"


def test_stack_checks_build_at_most_two_networks_at_once(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Any) -> None:
    """Many clients editing big stacks at once: only two networks are built at a time."""
    import asyncio
    import threading
    import time

    import httpx

    from nnplay.api import routes_jobs

    active, most = 0, 0
    lock = threading.Lock()
    real = routes_jobs.stack_rows

    def counted(*args: Any) -> Any:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.05)
        try:
            return real(*args)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(routes_jobs, "stack_rows", counted)
    app = create_app(Settings(data_dir=tmp_path, persist=False, allow_hosts="testserver"))

    async def edit_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            checks = [http.post("/api/jobs?dry_run=true", json={"spec": SPEC}) for _ in range(8)]
            answers = await asyncio.gather(*checks)
        return [answer.status_code for answer in answers]

    assert asyncio.run(edit_at_once()) == [200] * 8
    assert most == 2
