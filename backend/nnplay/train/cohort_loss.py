"""Member losses of a cohort: each head's loss (`nnplay.train.heads`) per member, batched.

Outputs are `(M, B, k)`, one batch of B samples per member; the result is `(M,)`, each
member's own mean loss exactly as its head takes it (a mean over the batch, and over
the outputs for one-vs-rest squared or absolute error). Where members' batches differ
in length (the short last batch of an epoch), `mask` `(M, B)` marks the real samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from nnplay.spec import LossName
from nnplay.train.heads import BinaryHead, Head, OneVsRestHead, RegressionHead, SoftmaxHead

_POINTWISE = {LossName.mse: F.mse_loss, LossName.mae: F.l1_loss,
              LossName.huber: F.smooth_l1_loss}


def _per_sample(head: Head, loss: LossName, outputs: Tensor, targets: Tensor) -> Tensor:
    """Loss terms `(M, B)` or `(M, B, k)` whose mean is each member's loss."""
    m, b, k = outputs.shape
    if isinstance(head, SoftmaxHead):
        return F.cross_entropy(outputs.reshape(m * b, k), targets.reshape(m * b),
                               reduction="none").view(m, b)
    if isinstance(head, OneVsRestHead):
        if loss == LossName.hinge:
            return F.multi_margin_loss(outputs.reshape(m * b, k), targets.reshape(m * b),
                                       reduction="none").view(m, b)
        if loss == LossName.bce:
            return F.binary_cross_entropy_with_logits(outputs, targets, reduction="none")
        return _POINTWISE[loss](torch.tanh(outputs), targets, reduction="none")
    scores = outputs[:, :, 0]  # (M, B)
    if isinstance(head, RegressionHead):
        return _POINTWISE[loss](scores, targets, reduction="none")
    if not isinstance(head, BinaryHead):
        raise TypeError(f"no batched loss for {type(head).__name__}")
    if loss == LossName.bce:
        return F.binary_cross_entropy_with_logits(scores, targets, reduction="none")
    if loss == LossName.hinge:
        return torch.clamp(1 - targets * scores, min=0)
    return _POINTWISE[loss](torch.tanh(scores), targets, reduction="none")


def member_losses(head: Head, loss: LossName, outputs: Tensor, targets: Tensor,
                  mask: Tensor | None = None) -> Tensor:
    """Each member's mean loss `(M,)` over its batch (only the samples `mask` keeps)."""
    terms = _per_sample(head, loss, outputs, targets)
    dims = tuple(range(1, terms.dim()))
    if mask is None:
        return terms.mean(dim=dims)
    if terms.dim() == 3:
        mask = mask.unsqueeze(2)
    weights = mask.expand_as(terms)
    return (terms * weights).sum(dim=dims) / weights.sum(dim=dims)


__all__ = ["member_losses"]
