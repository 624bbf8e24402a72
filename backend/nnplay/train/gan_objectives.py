"""GAN objectives: the discriminator's and the generator's losses for each `GanLoss`.

The discriminator always ends in one linear unit; its raw output `(m, 1)` is a logit
for `minimax` and `non_saturating` (sigmoid: the probability that a sample is real),
a regression score for `least_squares` (real -> 1, fake -> 0), and an unbounded
critic score for `wasserstein_gp`. Every loss is a mean over a batch's last two axes, so
the same formulas give one run's loss from `(m, 1)` and each cohort member's `(M,)`
from stacked outputs `(M, B, 1)` (`nnplay.train.gan_cohort`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnplay.spec import GanLoss


@dataclass(frozen=True)
class GanLossInfo:
    """What the catalog says about a GAN loss."""

    name: GanLoss
    label: str
    description: str
    suggested_d_steps: int = 1  # discriminator updates per generator update that suit it


GAN_LOSSES: dict[GanLoss, GanLossInfo] = {
    info.name: info
    for info in (
        GanLossInfo(GanLoss.minimax, "Minimax",
                    "The original game: G minimises log(1 - D(G(z))); its gradient vanishes "
                    "while D wins easily."),
        GanLossInfo(GanLoss.non_saturating, "Non-saturating",
                    "G maximises log D(G(z)) instead: the same fixed point, strong gradients "
                    "early on."),
        GanLossInfo(GanLoss.least_squares, "Least squares",
                    "LSGAN: D regresses real to 1 and fake to 0; G pulls its samples' scores "
                    "to 1."),
        GanLossInfo(GanLoss.wasserstein_gp, "Wasserstein (gradient penalty)",
                    "A critic estimates the Wasserstein distance; a penalty keeps its gradient "
                    "norm near 1.", suggested_d_steps=5),
    )
}


def gradient_penalty(discriminator: nn.Module | Callable[[Tensor], Tensor], real: Tensor,
                     fake: Tensor, mix: Tensor, create_graph: bool = True) -> Tensor:
    """Mean (|grad D(x)| - 1)^2 at x = mix * real + (1 - mix) * fake; `mix` is `(m, 1)`.

    Stacked members (`real`, `fake` `(M, B, d)`, `mix` `(M, B, 1)`) give `(M,)`: each
    member's own penalty (their scores do not mix, so one gradient of the sum serves all).
    """
    between = (mix * real + (1.0 - mix) * fake).detach().requires_grad_(True)
    with torch.enable_grad():
        scores = discriminator(between)  # (m, 1) or (M, B, 1)
        (grad,) = torch.autograd.grad(scores.sum(), between, create_graph=create_graph)
    return ((grad.norm(dim=-1) - 1.0) ** 2).mean(dim=-1)


def _mean(values: Tensor) -> Tensor:
    """The mean over a batch of outputs: `(m, 1)` -> `()`, `(M, B, 1)` -> `(M,)`."""
    return values.mean(dim=(-2, -1))


class GanObjective:
    """Losses and the shown meaning of the discriminator's output for one `GanLoss`."""

    def __init__(self, kind: GanLoss, penalty: float = 10.0) -> None:
        self.kind = kind
        self.penalty = penalty if kind == GanLoss.wasserstein_gp else 0.0
        # What the heatmap's 0 and 255 mean; None: scaled to each frame's scores.
        self.value_range: tuple[float, float] | None = (
            None if kind == GanLoss.wasserstein_gp else (0.0, 1.0))

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """The discriminator's loss from its outputs on real and generated samples (no penalty)."""
        if self.kind == GanLoss.least_squares:
            return 0.5 * _mean((real - 1.0) ** 2) + 0.5 * _mean(fake**2)
        if self.kind == GanLoss.wasserstein_gp:
            return _mean(fake) - _mean(real)
        # -log D(x) - log(1 - D(G(z))) with D = sigmoid(logit), written stably.
        return _mean(F.softplus(-real)) + _mean(F.softplus(fake))

    def g_loss(self, fake: Tensor) -> Tensor:
        """The generator's loss from the discriminator's outputs on its samples."""
        if self.kind == GanLoss.minimax:
            return -_mean(F.softplus(fake))  # log(1 - D(G(z)))
        if self.kind == GanLoss.non_saturating:
            return _mean(F.softplus(-fake))  # -log D(G(z))
        if self.kind == GanLoss.least_squares:
            return 0.5 * _mean((fake - 1.0) ** 2)
        return -_mean(fake)  # wasserstein_gp

    def display(self, outputs: Tensor) -> Tensor:
        """What D(x) is shown as: a probability, an LSGAN score, or the raw critic score."""
        if self.kind in (GanLoss.minimax, GanLoss.non_saturating):
            return torch.sigmoid(outputs)
        return outputs


__all__ = ["GAN_LOSSES", "GanLossInfo", "GanObjective", "gradient_penalty"]
