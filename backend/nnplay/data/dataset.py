"""Turning an `ExperimentSpec` into tensors: sampling, shuffling, splitting, features, scaling.

This module owns `build_dataset`, the one way the trainer gets its data, and `FeatureTransform`,
which maps any raw points (training points, test points, a grid for the decision boundary) to
model inputs with the normalisation fitted on the training set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nnplay.data.features import compute_features
from nnplay.data.toy2d import DOMAIN, GENERATORS, class_count
from nnplay.spec import DatasetName, ExperimentSpec, Feature, Normalization, Task

_MIN_SCALE = 1e-6  # a column spread below this counts as constant and is left unscaled


@dataclass(frozen=True, eq=False)
class FeatureTransform:
    """Maps raw 2-D points to model inputs: feature columns, then normalisation fitted on train."""

    features: tuple[Feature, ...]
    offset: Tensor  # (f,) float32 — subtract
    scale: Tensor  # (f,) float32 — then divide (never 0: constant columns get scale 1)

    @classmethod
    def fit(
        cls, points: Tensor, features: Sequence[Feature], normalization: Normalization
    ) -> FeatureTransform:
        """Fit the normalisation of the given features on `points` (m, 2), the training set."""
        columns = compute_features(points, features).to(torch.float64)  # (m, f)
        f = columns.shape[1]
        if normalization == Normalization.none or columns.shape[0] == 0:
            offset, scale = torch.zeros(f, dtype=torch.float64), torch.ones(f, dtype=torch.float64)
        elif normalization == Normalization.minmax:
            low, high = columns.min(dim=0).values, columns.max(dim=0).values
            offset, scale = (high + low) / 2.0, (high - low) / 2.0  # train -> [-1, 1]
        elif normalization == Normalization.standard:
            offset, scale = columns.mean(dim=0), columns.std(dim=0, correction=0)
        else:
            raise ValueError(f"unknown normalization {normalization!r}")
        scale = torch.where(scale > _MIN_SCALE, scale, torch.ones_like(scale))
        return cls(tuple(features), offset.to(torch.float32), scale.to(torch.float32))

    def __call__(self, points: Tensor) -> Tensor:
        """Model inputs (m, f) float32 for raw points (m, 2)."""
        return (compute_features(points, self.features) - self.offset) / self.scale


@dataclass(frozen=True, eq=False)
class Dataset:
    """A sampled, split and normalised 2-D dataset, all tensors on the CPU."""

    task: Task
    n_classes: int  # number of classes; 0 for regression
    x_train: Tensor  # (n_train, f) float32 model inputs
    y_train: Tensor  # (n_train,) int64 class ids, or float32 targets
    x_test: Tensor  # (n_test, f) float32 (n_test may be 0)
    y_test: Tensor  # (n_test,)
    points_train: Tensor  # (n_train, 2) float32 raw coordinates, for drawing
    points_test: Tensor  # (n_test, 2) float32
    transform: FeatureTransform
    domain: tuple[float, float]  # (-6.0, 6.0) on both axes
    target_range: tuple[float, float]  # regression: min/max of all targets; else (0, k - 1)

    @property
    def n_inputs(self) -> int:
        """Number of model inputs, one per feature."""
        return len(self.transform.features)


def custom_rows(spec: ExperimentSpec) -> tuple[np.ndarray, np.ndarray]:
    """A person's own points (n, 2) float32 and their class ids (n,) int64 or values float32."""
    data = spec.dataset
    points = np.asarray(data.points, dtype=np.float32).reshape(-1, 2)
    if spec.task == Task.classification:
        return points, np.asarray(data.labels, dtype=np.int64)
    return points, np.asarray(data.values, dtype=np.float32)


def build_dataset(spec: ExperimentSpec) -> Dataset:
    """Sample, shuffle, split and normalise the spec's dataset; deterministic in its seed."""
    if spec.task == Task.gan:
        raise ValueError("GAN specs have real samples, not a labelled dataset: use "
                         "nnplay.data.build_gan_data")
    data = spec.dataset
    rng = np.random.default_rng(data.seed)
    if data.name == DatasetName.custom:
        points, labels = custom_rows(spec)
    else:
        points, labels = GENERATORS[data.name](data.n_samples, data.noise, rng, data.classes)
    order = rng.permutation(data.n_samples)
    all_points = torch.from_numpy(points[order])  # (n, 2) float32
    all_labels = torch.from_numpy(labels[order])  # (n,) int64 or float32
    n_train = spec.train_size
    points_train, points_test = all_points[:n_train], all_points[n_train:]
    transform = FeatureTransform.fit(points_train, spec.features, data.normalization)
    if data.name == DatasetName.custom:  # its largest class id says how many there are
        n_classes = int(all_labels.max()) + 1 if spec.task == Task.classification else 0
    else:
        n_classes = class_count(data.name, data.classes)
    if spec.task == Task.regression:
        target_range = (float(all_labels.min()), float(all_labels.max()))
    else:
        target_range = (0.0, float(n_classes - 1))
    return Dataset(
        task=spec.task,
        n_classes=n_classes,
        x_train=transform(points_train),
        y_train=all_labels[:n_train],
        x_test=transform(points_test),
        y_test=all_labels[n_train:],
        points_train=points_train,
        points_test=points_test,
        transform=transform,
        domain=DOMAIN,
        target_range=target_range,
    )
