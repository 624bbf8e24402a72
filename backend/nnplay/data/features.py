"""Input features computed from raw 2-D points: what each `Feature` means and how it is shown.

This module owns the formula and the page label of every `Feature`; `compute_features` turns
points into the feature columns a model sees, before normalisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from nnplay.spec import Feature


@dataclass(frozen=True)
class FeatureInfo:
    """One input feature: its name, its label on the page and its formula."""

    name: Feature
    label: str
    fn: Callable[[Tensor], Tensor]  # points (m, 2) -> values (m,)


def _x1(points: Tensor) -> Tensor:
    """First coordinate."""
    return points[:, 0]


def _x2(points: Tensor) -> Tensor:
    """Second coordinate."""
    return points[:, 1]


def _x1_sq(points: Tensor) -> Tensor:
    """First coordinate squared."""
    return points[:, 0] ** 2


def _x2_sq(points: Tensor) -> Tensor:
    """Second coordinate squared."""
    return points[:, 1] ** 2


def _x1x2(points: Tensor) -> Tensor:
    """Product of the two coordinates."""
    return points[:, 0] * points[:, 1]


def _sin_x1(points: Tensor) -> Tensor:
    """Sine of the first coordinate."""
    return torch.sin(points[:, 0])


def _sin_x2(points: Tensor) -> Tensor:
    """Sine of the second coordinate."""
    return torch.sin(points[:, 1])


FEATURE_INFO: dict[Feature, FeatureInfo] = {
    info.name: info
    for info in (
        FeatureInfo(Feature.x1, "x₁", _x1),
        FeatureInfo(Feature.x2, "x₂", _x2),
        FeatureInfo(Feature.x1_sq, "x₁²", _x1_sq),
        FeatureInfo(Feature.x2_sq, "x₂²", _x2_sq),
        FeatureInfo(Feature.x1x2, "x₁x₂", _x1x2),
        FeatureInfo(Feature.sin_x1, "sin(x₁)", _sin_x1),
        FeatureInfo(Feature.sin_x2, "sin(x₂)", _sin_x2),
    )
}


def compute_features(points: Tensor, features: Sequence[Feature]) -> Tensor:
    """Feature columns of `points` (m, 2) as an (m, len(features)) float32 tensor, in order."""
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (m, 2) (got {tuple(points.shape)})")
    if not features:
        raise ValueError("features must name at least one feature")
    points = points.to(torch.float32)
    return torch.stack([FEATURE_INFO[f].fn(points) for f in features], dim=1)  # (m, f) float32
