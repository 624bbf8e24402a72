"""A person's own data (`dataset.name: "custom"`): rows named in errors, the split, classes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from nnplay.data import build_dataset
from nnplay.spec import LIMITS, ExperimentSpec, SpecError, parse_spec


def custom(task: str = "classification", n: int = 20, **dataset: Any) -> dict[str, Any]:
    """A custom-data spec body: `n` points on a line, two classes (or values x1 + x2)."""
    points = [[round(-5 + 10 * i / n, 3), round((i % 4) - 1.5, 3)] for i in range(n)]
    targets: dict[str, Any] = ({"labels": [int(p[0] > 0) for p in points]}
                               if task == "classification"
                               else {"values": [p[0] + p[1] for p in points]})
    return {"task": task, "loss": "cross_entropy" if task == "classification" else "mse",
            "batch_size": 2, "dataset": {"name": "custom", "points": points, **targets,
                                         **dataset}}


def refused(body: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as error:
        parse_spec(body)
    return " ".join(error.value.messages)


def test_classification_rows_split_like_generated_sets() -> None:
    spec = parse_spec(custom(n=40, test_fraction=0.25, n_samples=7))
    assert spec.dataset.n_samples == 40  # the row count, whatever n_samples said
    data = build_dataset(spec)
    assert (len(data.y_train), len(data.y_test)) == (30, 10)
    assert data.n_classes == 2
    # Every row is kept, each with its own label, only shuffled.
    rows = {(round(x, 3), round(y, 3), int(label)) for (x, y), label in zip(
        torch.cat([data.points_train, data.points_test]).tolist(),
        torch.cat([data.y_train, data.y_test]).tolist(), strict=True)}
    given = spec.dataset
    assert given.points is not None and given.labels is not None
    assert rows == {(round(x, 3), round(y, 3), label)
                    for (x, y), label in zip(given.points, given.labels, strict=True)}


def test_regression_values_are_the_targets() -> None:
    spec = parse_spec(custom("regression", n=12, test_fraction=0.0))
    data = build_dataset(spec)
    assert data.y_train.dtype == torch.float32
    expected = sorted(spec.dataset.values or [])
    assert sorted(data.y_train.tolist()) == pytest.approx(expected, abs=1e-5)
    assert data.n_classes == 0


def test_class_count_follows_the_largest_label() -> None:
    body = custom(n=12)
    body["dataset"]["labels"] = [i % 4 for i in range(12)]
    assert build_dataset(parse_spec(body)).n_classes == 4


@pytest.mark.parametrize(("change", "expected"), [
    ({"points": [[0, 0], [1, 1], [2, "x"], [3, 3]], "labels": [0, 1, 0, 1]},
     "point 2 is [2, 'x'] (row 3)"),
    ({"points": [[0, 0], [1, 1], [7, 2], [3, 3]], "labels": [0, 1, 0, 1]},
     "outside the domain (row 3)"),
    ({"points": [[0, 0], [1, 1], [2, 2], [3, 3]], "labels": [0, 1, 12, 1]},
     "dataset.labels: row 3 has class 12; classes are 0 to 9"),
    ({"points": [[0, 0], [1, 1], [2, 2], [3, 3]], "labels": [0, 1, 1]},
     "dataset.labels: 3 entries for 4 points; give one per row"),
    ({"points": [[0, 0], [1, 1], [2, 2], [3, 3]], "labels": [1, 1, 1, 1]},
     "at least 2 classes"),
    ({"points": [[0, 0], [1, 1], [2, 2]], "labels": [0, 1, 1]}, "needs 4 to 2000"),
    ({"points": [[0, 0], [1, 1], [2, 2], [3, 3]], "values": [0.1, 0, 1, 2]},
     "a classification run takes dataset.labels"),
    ({"labels": None}, "needs one class id per point"),
])
def test_bad_rows_are_named(change: dict[str, Any], expected: str) -> None:
    body = custom()
    body["dataset"].update(change)
    if body["dataset"].get("labels") is None:
        body["dataset"].pop("labels")
    if body["dataset"].get("values") is None:
        body["dataset"].pop("values", None)
    assert expected in refused(body)


def test_too_many_rows_are_refused_before_parsing_each() -> None:
    n = LIMITS.max_custom_rows + 1
    body = custom()
    body["dataset"].update(points=[[0.0, 0.0]] * n, labels=[0, 1] * (n // 2) + [0])
    message = refused(body)
    assert f"(got {n} points)" in message and "dataset.points" in message


def test_labels_belong_to_custom_data_only() -> None:
    message = refused({"dataset": {"name": "spiral", "labels": [0, 1]}})
    assert "dataset.labels and dataset.values belong to 'custom' data" in message


def test_spec_round_trips_through_its_json() -> None:
    spec = parse_spec(custom(n=10))
    again = ExperimentSpec.model_validate(spec.model_dump(mode="json"))
    assert again == spec
