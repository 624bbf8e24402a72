"""Loss heads: how a task and loss turn raw network outputs into a loss and predictions.

The network always ends in a linear layer; the head owns the output activation
(tanh for squared-error classification as in TensorFlow Playground, sigmoid
inside BCE, softmax inside cross-entropy), the target encoding, the loss and
what the page shows (a score in [-1, 1] for two classes, class probabilities
for more, the predicted value for regression).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from nnplay.spec import LossName, Task

_Criterion = Callable[[Tensor, Tensor], Tensor]

_POINTWISE: dict[LossName, _Criterion] = {
    LossName.mse: F.mse_loss,
    LossName.mae: F.l1_loss,
    LossName.huber: F.smooth_l1_loss,
}


@dataclass(frozen=True)
class LossInfo:
    """What the catalog says about a loss."""

    name: LossName
    label: str
    description: str
    tasks: tuple[Task, ...]


LOSSES: dict[LossName, LossInfo] = {
    LossName.mse: LossInfo(LossName.mse, "Mean squared error",
                           "Average squared distance to the target; punishes large errors hard.",
                           (Task.classification, Task.regression)),
    LossName.mae: LossInfo(LossName.mae, "Mean absolute error",
                           "Average absolute distance; robust to outliers, constant gradient.",
                           (Task.classification, Task.regression)),
    LossName.huber: LossInfo(LossName.huber, "Huber",
                             "Squared near the target, absolute far from it: the best of both.",
                             (Task.classification, Task.regression)),
    LossName.bce: LossInfo(LossName.bce, "Binary cross-entropy",
                           "Sigmoid output read as a probability; the classic binary loss.",
                           (Task.classification,)),
    LossName.cross_entropy: LossInfo(LossName.cross_entropy, "Cross-entropy (softmax)",
                                     "Softmax over classes; the standard multi-class loss.",
                                     (Task.classification,)),
    LossName.hinge: LossInfo(LossName.hinge, "Hinge",
                             "SVM margin loss: zero once a point is on the right side by 1.",
                             (Task.classification,)),
}


class Head:
    """Base head: target encoding, loss and predictions for one task and loss."""

    out_units: int = 1

    def targets(self, labels: Tensor) -> Tensor:
        """Encode dataset labels into what `loss` expects (done once per dataset)."""
        return labels

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """Mean loss of a batch: outputs `(m, out_units)`, targets from `targets()`."""
        raise NotImplementedError

    def predict(self, outputs: Tensor) -> Tensor:
        """Predicted class ids `(m,)` int64 (classification only)."""
        raise NotImplementedError

    def display(self, outputs: Tensor) -> Tensor:
        """What the heatmap shows: `(m,)` score in [-1, 1], `(m, k)` probabilities, or values."""
        raise NotImplementedError


class BinaryHead(Head):
    """Two classes with one output unit; `display` is a score in [-1, 1], positive = class 1."""

    def __init__(self, loss: LossName) -> None:
        self.kind = loss

    def targets(self, labels: Tensor) -> Tensor:
        if self.kind == LossName.bce:
            return labels.float()  # (m,) in {0, 1}
        return labels.float() * 2 - 1  # (m,) in {-1, +1}

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        scores = outputs[:, 0]
        if self.kind == LossName.bce:
            return F.binary_cross_entropy_with_logits(scores, targets)
        if self.kind == LossName.hinge:
            return torch.clamp(1 - targets * scores, min=0).mean()
        return _POINTWISE[self.kind](torch.tanh(scores), targets)

    def display(self, outputs: Tensor) -> Tensor:
        scores = outputs[:, 0]
        if self.kind == LossName.bce:
            return torch.sigmoid(scores) * 2 - 1
        if self.kind == LossName.hinge:
            return scores.clamp(-1, 1)
        return torch.tanh(scores)

    def predict(self, outputs: Tensor) -> Tensor:
        return (outputs[:, 0] > 0).long()


class SoftmaxHead(Head):
    """Cross-entropy over k logits (k >= 2)."""

    def __init__(self, n_classes: int) -> None:
        self.out_units = n_classes

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(outputs, targets)

    def display(self, outputs: Tensor) -> Tensor:
        if self.out_units == 2:  # two classes read as one score, like the binary heads
            probs = torch.softmax(outputs, dim=1)
            return probs[:, 1] - probs[:, 0]
        return torch.softmax(outputs, dim=1)

    def predict(self, outputs: Tensor) -> Tensor:
        return outputs.argmax(dim=1)


class OneVsRestHead(Head):
    """k > 2 classes with one output per class: BCE, hinge or squared/absolute error."""

    def __init__(self, loss: LossName, n_classes: int) -> None:
        self.kind = loss
        self.out_units = n_classes

    def targets(self, labels: Tensor) -> Tensor:
        if self.kind == LossName.hinge:
            return labels  # multi_margin_loss takes class ids
        one_hot = F.one_hot(labels, self.out_units).float()  # (m, k)
        return one_hot if self.kind == LossName.bce else one_hot * 2 - 1

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.kind == LossName.bce:
            return F.binary_cross_entropy_with_logits(outputs, targets)
        if self.kind == LossName.hinge:
            return F.multi_margin_loss(outputs, targets)
        return _POINTWISE[self.kind](torch.tanh(outputs), targets)

    def display(self, outputs: Tensor) -> Tensor:
        if self.kind == LossName.hinge:
            return torch.softmax(outputs, dim=1)
        if self.kind == LossName.bce:
            scores = torch.sigmoid(outputs)
        else:
            scores = (torch.tanh(outputs) + 1) / 2
        return scores / scores.sum(dim=1, keepdim=True).clamp_min(1e-12)

    def predict(self, outputs: Tensor) -> Tensor:
        return outputs.argmax(dim=1)


class RegressionHead(Head):
    """One linear output compared with a real-valued target."""

    def __init__(self, loss: LossName) -> None:
        self.criterion = _POINTWISE[loss]

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.criterion(outputs[:, 0], targets)

    def display(self, outputs: Tensor) -> Tensor:
        return outputs[:, 0]


def make_head(task: Task, loss: LossName, n_classes: int) -> Head:
    """Choose the head for a task, loss and number of classes."""
    if task == Task.regression:
        return RegressionHead(loss)
    if loss == LossName.cross_entropy:
        return SoftmaxHead(n_classes)
    if n_classes == 2:
        return BinaryHead(loss)
    return OneVsRestHead(loss, n_classes)
