"""How close a generator is to the real data: distances, divergences and a digits score.

- `SlicedWasserstein`: the mean, over fixed random directions, of the 1-D Wasserstein
  distance between the projected real and generated samples. Works in any dimension,
  is 0 for equal samples and falls as the generator learns.
- `GridDivergence` (2-D): KL(real || generated) and Jensen-Shannon between the two
  histograms on a grid over the plane, as GAN Lab shows them.
- `ModeCoverage` (2-D mixtures): the share of the target's modes the generated
  points hit; mode collapse shows as low coverage.
- `DigitsScorer` (images): a small classifier trained once per process on the real
  digits; generated digits score by its confidence, by how many of the 10 classes they
  cover (mode collapse shows as low coverage), and by exp(E KL(p(y|x) || p(y))), which
  is high only when both are.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnplay.data.gan_targets import digit_images


def _sorted_rows(values: Tensor) -> Tensor:
    """Each row of `values` `(p, m)` sorted; numpy's sort is several times faster on a CPU."""
    if values.device.type == "cpu":
        return torch.from_numpy(np.sort(values.numpy(), axis=1))
    return values.sort(dim=1).values


class SlicedWasserstein:
    """Sliced Wasserstein-1 distance to a fixed reference sample along fixed directions."""

    def __init__(self, reference: Tensor, projections: int = 32, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        d = reference.shape[1]
        directions = torch.randn(projections, d, generator=generator)  # (p, d)
        self.directions = (directions / directions.norm(dim=1, keepdim=True)).to(
            reference.device)
        self.reference = self._project(reference)  # (p, m), each row sorted

    def _project(self, samples: Tensor) -> Tensor:
        with torch.no_grad():
            return _sorted_rows(self.directions.matmul(samples.detach().T))  # (p, m)

    def __call__(self, samples: Tensor) -> float:
        """The distance of `samples` `(m, d)` (as many as the reference) to the reference."""
        return float((self._project(samples) - self.reference).abs().mean())


class GridDivergence:
    """KL and JS divergences between 2-D histograms on a `size` x `size` grid."""

    def __init__(self, reference: Tensor, domain: tuple[float, float], size: int = 16,
                 smoothing: float = 0.5) -> None:
        self.low, high = domain
        self.size = size
        self.cell = (high - self.low) / size
        self.smoothing = smoothing  # added to every cell count, so no cell is empty
        self.real = self.histogram(reference)  # (size * size,)

    def histogram(self, points: Tensor) -> Tensor:
        """Smoothed cell probabilities `(size * size,)` of `points` `(m, 2)`."""
        cells = ((points - self.low) / self.cell).floor().long().clamp_(0, self.size - 1)
        index = cells[:, 1] * self.size + cells[:, 0]
        counts = torch.bincount(index, minlength=self.size * self.size).double()
        counts += self.smoothing
        return counts / counts.sum()

    def __call__(self, samples: Tensor) -> tuple[float, float]:
        """(KL(real || samples), JS(real, samples)) in nats."""
        p, q = self.real, self.histogram(samples)
        kl = float((p * (p / q).log()).sum())
        m = (p + q) / 2
        js = float(0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum())
        return kl, js


class ModeCoverage:
    """Share of a mixture's modes that generated points hit (2-D `gaussians` and `grid`).

    A mode counts as covered when at least a quarter of its fair share of the samples
    (1 / (4 k)) lies within `radius` of its centre; a collapsed generator covers few.
    """

    def __init__(self, centres: Tensor, radius: float) -> None:
        self.centres = centres  # (k, 2)
        self.radius = radius

    def __call__(self, samples: Tensor) -> float:
        """Covered modes / all modes, for samples `(m, 2)`."""
        k = self.centres.shape[0]
        distance = torch.cdist(samples, self.centres.to(samples.device))  # (m, k)
        nearest, which = distance.min(dim=1)
        hits = torch.bincount(which[nearest <= self.radius], minlength=k)
        return float((hits >= samples.shape[0] / (4 * k)).sum()) / k


@dataclass(frozen=True)
class DigitScore:
    """How digit-like a batch of generated images is, by the cached classifier."""

    confidence: float  # mean top-class probability, 0.1..1
    coverage: float  # distinct predicted classes / 10
    score: float  # exp(E_x KL(p(y|x) || p(y))), 1 (noise or one class) .. 10


_CLASSIFIER_HIDDEN = 32
_CLASSIFIER_STEPS = 150


@functools.lru_cache(maxsize=1)
def digits_classifier() -> nn.Module:
    """A 64-32-10 MLP trained once per process on all digits (~0.2 s; 99.9 % train accuracy).

    Weight decay keeps it from being sure of images that look like no digit, so noise
    scores low. Built with its own seeded generator: the same weights every time, and
    the run that happens to build it keeps its own random stream untouched.
    """
    pixels, labels = digit_images()
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):  # nn.Linear's default init draws from it
        model = nn.Sequential(nn.Linear(64, _CLASSIFIER_HIDDEN), nn.ReLU(),
                              nn.Linear(_CLASSIFIER_HIDDEN, 10))
    with torch.no_grad():
        for layer in (model[0], model[2]):
            assert isinstance(layer, nn.Linear)
            bound = 1.0 / math.sqrt(layer.in_features)
            layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator) * 2 * bound
                               - bound)
            layer.bias.zero_()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02, weight_decay=1e-3)
    with torch.enable_grad():
        for _ in range(_CLASSIFIER_STEPS):
            loss = F.cross_entropy(model(pixels), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def score_digits(images: Tensor) -> DigitScore:
    """Score flattened images `(m, 64)` with pixels in [-1, 1] (on any device)."""
    with torch.no_grad():
        probs = digits_classifier()(images.detach().float().cpu()).softmax(dim=1)  # (m, 10)
    confidence = float(probs.max(dim=1).values.mean())
    coverage = len(set(probs.argmax(dim=1).tolist())) / 10
    marginal = probs.mean(dim=0, keepdim=True)
    kl = (probs * ((probs + 1e-12).log() - (marginal + 1e-12).log())).sum(dim=1).mean()
    return DigitScore(confidence=confidence, coverage=coverage, score=float(kl.exp()))


__all__ = ["DigitScore", "GridDivergence", "ModeCoverage", "SlicedWasserstein",
           "digits_classifier", "score_digits"]
