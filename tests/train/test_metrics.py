"""Tests for accuracy, the confusion matrix and the classification report."""

from __future__ import annotations

import json

import pytest
import torch
from sklearn import metrics as skm

from nnplay.train.metrics import (
    ClassificationReport,
    accuracy,
    classification_report,
    confusion_matrix,
)


def _t(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def test_accuracy_small_case() -> None:
    assert accuracy(_t([0, 1, 1, 2]), _t([0, 1, 2, 2])) == pytest.approx(0.75)
    assert accuracy(_t([]), _t([])) == 0.0


def test_accuracy_refuses_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        accuracy(_t([0, 1]), _t([0, 1, 1]))


def test_confusion_matrix_small_case() -> None:
    labels = _t([0, 0, 1, 1, 1, 2])
    predicted = _t([0, 1, 1, 1, 2, 0])
    matrix = confusion_matrix(predicted, labels, 3)
    assert matrix.dtype == torch.int64
    # rows = true class, columns = predicted class
    assert matrix.tolist() == [[1, 1, 0], [0, 2, 1], [1, 0, 0]]


def test_confusion_matrix_keeps_absent_classes() -> None:
    assert confusion_matrix(_t([0, 0]), _t([0, 0]), 3).tolist() == [
        [2, 0, 0],
        [0, 0, 0],
        [0, 0, 0],
    ]
    assert confusion_matrix(_t([]), _t([]), 2).tolist() == [[0, 0], [0, 0]]


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0]])
def test_confusion_matrix_refuses_out_of_range_ids(bad: list[int]) -> None:
    with pytest.raises(ValueError, match=r"class ids must lie in 0\.\.2"):
        confusion_matrix(_t(bad), _t([0, 0]), 3)


def test_report_hand_checked() -> None:
    labels = _t([0, 0, 1, 1, 1, 2])
    predicted = _t([0, 1, 1, 1, 2, 0])
    report = classification_report(predicted, labels, 3)
    assert report.accuracy == pytest.approx(3 / 6)
    assert report.precision == pytest.approx([1 / 2, 2 / 3, 0.0])
    assert report.recall == pytest.approx([1 / 2, 2 / 3, 0.0])
    assert report.f1 == pytest.approx([1 / 2, 2 / 3, 0.0])
    assert report.support == [2, 3, 1]
    assert report.macro_precision == pytest.approx((1 / 2 + 2 / 3) / 3)
    assert report.confusion == [[1, 1, 0], [0, 2, 1], [1, 0, 0]]


def test_report_zero_division_gives_zero() -> None:
    # Class 1 is never predicted (precision 0/0) and class 2 never occurs (recall 0/0).
    report = classification_report(_t([0, 0, 2]), _t([0, 1, 1]), 3)
    assert report.precision == pytest.approx([1 / 2, 0.0, 0.0])
    assert report.recall == pytest.approx([1.0, 0.0, 0.0])
    assert report.f1 == pytest.approx([2 / 3, 0.0, 0.0])
    assert report.support == [1, 2, 0]
    empty = classification_report(_t([]), _t([]), 2)
    assert empty.accuracy == 0.0
    assert empty.macro_f1 == 0.0


@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_report_matches_sklearn(n_classes: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (300,), generator=generator)
    # Mostly right predictions, so the numbers are not all near chance.
    noise = torch.randint(0, n_classes, (300,), generator=generator)
    keep = torch.rand(300, generator=generator) < 0.6
    predicted = torch.where(keep, labels, noise)
    y_true, y_pred = labels.numpy(), predicted.numpy()
    classes = list(range(n_classes))

    report = classification_report(predicted, labels, n_classes)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    assert report.accuracy == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert accuracy(predicted, labels) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report.precision == pytest.approx(precision.tolist())
    assert report.recall == pytest.approx(recall.tolist())
    assert report.f1 == pytest.approx(f1.tolist())
    assert report.support == support.tolist()
    macro = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average="macro", zero_division=0
    )
    assert (report.macro_precision, report.macro_recall, report.macro_f1) == pytest.approx(
        macro[:3]
    )
    expected_matrix = skm.confusion_matrix(y_true, y_pred, labels=classes)
    assert confusion_matrix(predicted, labels, n_classes).tolist() == expected_matrix.tolist()
    assert report.confusion == expected_matrix.tolist()


def test_report_with_a_missing_class_matches_sklearn() -> None:
    labels = _t([0, 0, 1, 1, 3, 3, 3])
    predicted = _t([0, 1, 1, 1, 3, 0, 1])
    report = classification_report(predicted, labels, 4)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels.numpy(), predicted.numpy(), labels=[0, 1, 2, 3], zero_division=0
    )
    assert report.precision == pytest.approx(precision.tolist())
    assert report.recall == pytest.approx(recall.tolist())
    assert report.f1 == pytest.approx(f1.tolist())


def test_report_to_dict_is_json_ready() -> None:
    report = classification_report(_t([0, 1, 1]), _t([0, 1, 0]), 2)
    assert isinstance(report, ClassificationReport)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "support",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "confusion",
    }
    assert all(type(v) is int for v in data["support"])
    assert all(type(v) is float for v in data["precision"])


def test_inputs_may_be_column_vectors() -> None:
    labels = _t([0, 1, 1]).unsqueeze(1)  # (m, 1)
    predicted = _t([0, 1, 0]).unsqueeze(1)  # (m, 1)
    assert confusion_matrix(predicted, labels, 2).tolist() == [[1, 0], [1, 1]]
