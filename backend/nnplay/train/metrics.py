"""Classification metrics: accuracy, confusion matrix and a per-class precision/recall/F1 report.

Everything is vectorised on tensors (no Python loop over samples), so it runs on the
device the predictions live on; only the final small (k, k) results become Python lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor


@dataclass(frozen=True)
class ClassificationReport:
    """Accuracy, per-class precision/recall/F1/support, macro averages and the confusion matrix."""

    accuracy: float
    precision: list[float]  # per class
    recall: list[float]  # per class
    f1: list[float]  # per class
    support: list[int]  # true samples per class
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: list[list[int]]  # rows = true class, columns = predicted class

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return asdict(self)


def _check_pair(predicted: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    if predicted.shape != labels.shape:
        raise ValueError(
            f"predicted {tuple(predicted.shape)} and labels {tuple(labels.shape)} differ in shape"
        )
    return predicted.reshape(-1).long(), labels.reshape(-1).long()  # (m,), (m,)


def accuracy(predicted: Tensor, labels: Tensor) -> float:
    """Fraction of predicted class ids equal to the true ones (0.0 for no samples)."""
    predicted, labels = _check_pair(predicted, labels)
    if labels.numel() == 0:
        return 0.0
    return float((predicted == labels).float().mean().item())


def confusion_matrix(predicted: Tensor, labels: Tensor, n_classes: int) -> Tensor:
    """Counts `(k, k)` int64 with rows = true class and columns = predicted class."""
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1 (got {n_classes})")
    predicted, labels = _check_pair(predicted, labels)
    if labels.numel():
        low = torch.minimum(predicted.min(), labels.min()).item()
        high = torch.maximum(predicted.max(), labels.max()).item()
        if low < 0 or high >= n_classes:
            raise ValueError(
                f"class ids must lie in 0..{n_classes - 1} (got values from {low} to {high})"
            )
    flat = labels * n_classes + predicted  # (m,) cell index true * k + predicted
    counts = torch.bincount(flat, minlength=n_classes * n_classes)  # (k * k,)
    return counts.reshape(n_classes, n_classes)  # (k, k)


def _safe_divide(numerator: Tensor, denominator: Tensor) -> Tensor:
    # Zero division gives 0.0, as sklearn's zero_division=0.
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), 0.0)


def classification_report(
    predicted: Tensor, labels: Tensor, n_classes: int
) -> ClassificationReport:
    """Per-class precision, recall, F1 and support plus macro averages over all `n_classes`."""
    return report_from_confusion(confusion_matrix(predicted, labels, n_classes))


def report_from_confusion(confusion: Tensor) -> ClassificationReport:
    """The `classification_report` of a confusion matrix `(k, k)` int64 (rows: true class)."""
    counts = confusion.double()
    true_positive = counts.diagonal()  # (k,)
    support = counts.sum(dim=1)  # (k,) true samples per class
    predicted_count = counts.sum(dim=0)  # (k,) predictions per class
    precision = _safe_divide(true_positive, predicted_count)  # (k,)
    recall = _safe_divide(true_positive, support)  # (k,)
    f1 = _safe_divide(2 * true_positive, support + predicted_count)  # (k,) = 2pr / (p + r)
    total = support.sum()
    return ClassificationReport(
        accuracy=float((true_positive.sum() / total).item()) if total > 0 else 0.0,
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        support=confusion.sum(dim=1).tolist(),
        macro_precision=float(precision.mean().item()),
        macro_recall=float(recall.mean().item()),
        macro_f1=float(f1.mean().item()),
        confusion=confusion.tolist(),
    )
