"""Tests for the loss heads against reference formulas, and their output sizes and display."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from nnplay.spec import LossName, Task
from nnplay.train.heads import (
    LOSSES,
    BinaryHead,
    OneVsRestHead,
    RegressionHead,
    SoftmaxHead,
    make_head,
)

CLASSIFICATION_LOSSES = list(LossName)
REGRESSION_LOSSES = [LossName.mse, LossName.mae, LossName.huber]
POINTWISE = {LossName.mse: F.mse_loss, LossName.mae: F.l1_loss, LossName.huber: F.smooth_l1_loss}


def _outputs(m: int, k: int, seed: int = 0, scale: float = 3.0) -> Tensor:
    """Random raw outputs `(m, k)` spanning both signs and saturating values."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(m, k, generator=generator) * scale


def _labels(m: int, k: int, seed: int = 1) -> Tensor:
    """Random class ids `(m,)` in 0..k-1."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, k, (m,), generator=generator)


def test_every_loss_is_described() -> None:
    assert set(LOSSES) == set(LossName)
    for name in REGRESSION_LOSSES:
        assert Task.regression in LOSSES[name].tasks
    for name in (LossName.bce, LossName.cross_entropy, LossName.hinge):
        assert LOSSES[name].tasks == (Task.classification,)


def test_make_head_picks_the_head_class() -> None:
    assert isinstance(make_head(Task.regression, LossName.mse, 0), RegressionHead)
    assert isinstance(make_head(Task.classification, LossName.cross_entropy, 2), SoftmaxHead)
    assert isinstance(make_head(Task.classification, LossName.cross_entropy, 5), SoftmaxHead)
    assert isinstance(make_head(Task.classification, LossName.bce, 2), BinaryHead)
    assert isinstance(make_head(Task.classification, LossName.hinge, 4), OneVsRestHead)


@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
@pytest.mark.parametrize("classes", [2, 3, 7])
def test_out_units_for_classification(loss: LossName, classes: int) -> None:
    head = make_head(Task.classification, loss, classes)
    expected = 1 if classes == 2 and loss != LossName.cross_entropy else classes
    assert head.out_units == expected


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_out_units_for_regression(loss: LossName) -> None:
    assert make_head(Task.regression, loss, 0).out_units == 1


def test_binary_bce_equals_torch_bce_on_sigmoid() -> None:
    head = make_head(Task.classification, LossName.bce, 2)
    outputs, labels = _outputs(50, 1), _labels(50, 2)
    targets = head.targets(labels)
    assert torch.equal(targets, labels.float())
    expected = F.binary_cross_entropy(torch.sigmoid(outputs[:, 0]), labels.float())
    torch.testing.assert_close(head.loss(outputs, targets), expected, rtol=1e-5, atol=1e-6)


def test_binary_hinge_matches_the_margin_formula() -> None:
    head = make_head(Task.classification, LossName.hinge, 2)
    outputs, labels = _outputs(50, 1), _labels(50, 2)
    targets = head.targets(labels)
    assert set(targets.tolist()) == {-1.0, 1.0}
    signed = labels.float() * 2 - 1
    expected = sum(max(0.0, 1 - float(y) * float(s))
                   for y, s in zip(signed, outputs[:, 0], strict=True)) / 50
    assert head.loss(outputs, targets).item() == pytest.approx(expected, rel=1e-5)


def test_binary_hinge_is_zero_beyond_the_margin() -> None:
    head = make_head(Task.classification, LossName.hinge, 2)
    targets = head.targets(torch.tensor([0, 1]))
    assert head.loss(torch.tensor([[-1.5], [2.0]]), targets).item() == 0.0
    assert head.loss(torch.tensor([[0.5], [2.0]]), targets).item() == pytest.approx(0.75)


@pytest.mark.parametrize("loss", [LossName.mse, LossName.mae, LossName.huber])
def test_binary_pointwise_losses_compare_tanh_with_plus_minus_one(loss: LossName) -> None:
    head = make_head(Task.classification, loss, 2)
    outputs, labels = _outputs(40, 1), _labels(40, 2)
    targets = head.targets(labels)
    expected = POINTWISE[loss](torch.tanh(outputs[:, 0]), labels.float() * 2 - 1)
    torch.testing.assert_close(head.loss(outputs, targets), expected)


@pytest.mark.parametrize("classes", [2, 4])
def test_softmax_head_equals_cross_entropy(classes: int) -> None:
    head = make_head(Task.classification, LossName.cross_entropy, classes)
    outputs, labels = _outputs(30, classes), _labels(30, classes)
    targets = head.targets(labels)
    expected = -torch.log_softmax(outputs, dim=1)[torch.arange(30), labels].mean()
    torch.testing.assert_close(head.loss(outputs, targets), expected)


def test_one_vs_rest_bce_uses_one_hot_targets() -> None:
    head = make_head(Task.classification, LossName.bce, 4)
    outputs, labels = _outputs(30, 4), _labels(30, 4)
    targets = head.targets(labels)
    assert torch.equal(targets, F.one_hot(labels, 4).float())
    expected = F.binary_cross_entropy(torch.sigmoid(outputs), targets)
    torch.testing.assert_close(head.loss(outputs, targets), expected, rtol=1e-5, atol=1e-6)


def test_one_vs_rest_hinge_equals_multi_class_margin_formula() -> None:
    head = make_head(Task.classification, LossName.hinge, 4)
    outputs, labels = _outputs(30, 4), _labels(30, 4)
    targets = head.targets(labels)
    correct = outputs[torch.arange(30), labels][:, None]  # (m, 1)
    margins = torch.clamp(1 - correct + outputs, min=0)  # (m, k), 1 at the true class
    expected = (margins.sum(dim=1) - 1) / 4  # drop the true class term, average over k
    torch.testing.assert_close(head.loss(outputs, targets), expected.mean())


@pytest.mark.parametrize("loss", [LossName.mse, LossName.mae, LossName.huber])
def test_one_vs_rest_pointwise_compares_tanh_with_signed_one_hot(loss: LossName) -> None:
    head = make_head(Task.classification, loss, 3)
    outputs, labels = _outputs(30, 3), _labels(30, 3)
    targets = head.targets(labels)
    signed = F.one_hot(labels, 3).float() * 2 - 1
    torch.testing.assert_close(targets, signed)
    torch.testing.assert_close(head.loss(outputs, targets),
                               POINTWISE[loss](torch.tanh(outputs), signed))


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_regression_head_compares_the_raw_output(loss: LossName) -> None:
    head = make_head(Task.regression, loss, 0)
    outputs = _outputs(25, 1)
    values = torch.linspace(-2, 2, 25)
    assert torch.equal(head.targets(values), values)
    torch.testing.assert_close(head.loss(outputs, values), POINTWISE[loss](outputs[:, 0], values))
    assert torch.equal(head.display(outputs), outputs[:, 0])


@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
def test_two_class_display_is_a_score_in_minus_one_to_one(loss: LossName) -> None:
    head = make_head(Task.classification, loss, 2)
    outputs = _outputs(200, head.out_units, scale=10.0)
    shown = head.display(outputs)
    assert shown.shape == (200,)
    assert shown.min() >= -1 and shown.max() <= 1
    # Positive score means class 1, in agreement with `predict`.
    predicted = head.predict(outputs)
    decided = shown.abs() > 1e-6
    assert torch.equal((shown[decided] > 0).long(), predicted[decided])


@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
@pytest.mark.parametrize("classes", [3, 5])
def test_multi_class_display_rows_are_probabilities(loss: LossName, classes: int) -> None:
    head = make_head(Task.classification, loss, classes)
    # Scale 2 keeps tanh below float32 saturation, where two classes could tie at 1.0.
    outputs = _outputs(100, classes, scale=2.0)
    shown = head.display(outputs)
    assert shown.shape == (100, classes)
    assert shown.min() >= 0 and shown.max() <= 1
    torch.testing.assert_close(shown.sum(dim=1), torch.ones(100))
    # The most probable class shown is the class predicted.
    assert torch.equal(shown.argmax(dim=1), head.predict(outputs))


@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
def test_predict_gives_class_ids(loss: LossName) -> None:
    for classes in (2, 4):
        head = make_head(Task.classification, loss, classes)
        predicted = head.predict(_outputs(60, head.out_units))
        assert predicted.dtype == torch.int64
        assert predicted.shape == (60,)
        assert int(predicted.min()) >= 0 and int(predicted.max()) < classes


@pytest.mark.parametrize("loss", CLASSIFICATION_LOSSES)
@pytest.mark.parametrize("classes", [2, 4])
def test_loss_is_lower_for_confident_right_answers(loss: LossName, classes: int) -> None:
    head = make_head(Task.classification, loss, classes)
    labels = _labels(40, classes)
    targets = head.targets(labels)
    if head.out_units == 1:
        right = (labels.float() * 2 - 1)[:, None] * 4  # (m, 1) score on the right side
    else:
        right = F.one_hot(labels, classes).float() * 8 - 4  # (m, k) big logit for the truth
    assert head.loss(right, targets) < head.loss(-right, targets)
    assert torch.equal(head.predict(right), labels)
