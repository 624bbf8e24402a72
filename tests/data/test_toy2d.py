"""Tests for the 2-D toy dataset generators and their catalog."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from nnplay.data.toy2d import DATASET_INFO, DOMAIN, GENERATORS, class_count
from nnplay.spec import (
    DATASET_KINDS,
    DATASET_TASKS,
    LIMITS,
    DataKindName,
    DatasetName,
    Task,
    primary_task,
)

PAD = 1e-4  # points must lie in the domain up to float32 rounding
# Generated 2-D sets ("custom" data are a person's own rows: tests/data/test_custom.py; image
# sets are tests/data/test_images.py's and tests/train/test_cnn.py's).
GENERATED = [name for name in DatasetName if name != DatasetName.custom
             and DATASET_KINDS[name] == DataKindName.points2d]
CLASSIFICATION = [name for name in GENERATED if Task.classification in DATASET_TASKS[name]]
REGRESSION = [name for name in GENERATED if Task.regression in DATASET_TASKS[name]]
SUPERVISED = CLASSIFICATION + REGRESSION  # GAN-only targets: tests/data/test_gan_targets.py


def generate(
    name: DatasetName, n: int = 400, noise: float = 0.0, seed: int = 0, classes: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Run one generator with a fresh seeded rng."""
    return GENERATORS[name](n, noise, np.random.default_rng(seed), classes)


def test_every_dataset_name_has_a_generator_and_catalog_entry() -> None:
    assert set(GENERATORS) == set(SUPERVISED)
    assert set(DATASET_INFO) == set(DatasetName)
    for name, info in DATASET_INFO.items():
        assert info.name == name
        assert info.task == primary_task(name)
        assert set(info.tasks) == DATASET_TASKS[name]
        assert info.title and info.description.endswith(".")
    assert [name for name, info in DATASET_INFO.items() if info.multi_class] == [
        DatasetName.blobs, DatasetName.memory]  # memory: `classes` symbols


@pytest.mark.parametrize("name", SUPERVISED)
@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_shapes_dtypes_and_domain(name: DatasetName, noise: float) -> None:
    points, labels = generate(name, n=301, noise=noise)
    assert points.shape == (301, 2) and points.dtype == np.float32
    assert labels.shape == (301,)
    expected = np.int64 if Task.classification in DATASET_TASKS[name] else np.float32
    assert labels.dtype == expected
    assert np.isfinite(points).all() and np.isfinite(labels).all()
    assert points.min() >= DOMAIN[0] - PAD and points.max() <= DOMAIN[1] + PAD


@pytest.mark.parametrize("name", SUPERVISED)
def test_generators_are_pure_in_the_rng(name: DatasetName) -> None:
    first, second = generate(name, noise=0.3, seed=7), generate(name, noise=0.3, seed=7)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    other = generate(name, noise=0.3, seed=8)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classes_are_balanced(name: DatasetName) -> None:
    _, labels = generate(name, n=101, classes=3)
    k = class_count(name, 3)
    counts = np.bincount(labels, minlength=k)
    assert len(counts) == k
    assert counts.max() - counts.min() <= 1 and counts.sum() == 101


@pytest.mark.parametrize("k", range(LIMITS.min_classes, LIMITS.max_classes + 1))
def test_blobs_gives_k_separable_classes(k: int) -> None:
    points, labels = generate(DatasetName.blobs, n=50 * k, classes=k)
    assert sorted(set(labels.tolist())) == list(range(k))
    # Clean blobs: every point is nearest to the mean of its own class.
    means = np.stack([points[labels == c].mean(axis=0) for c in range(k)])
    nearest = np.argmin(((points[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(nearest, labels)


@pytest.mark.parametrize("k", [1, 11])
def test_blobs_refuses_class_counts_out_of_range(k: int) -> None:
    with pytest.raises(ValueError, match="classes"):
        generate(DatasetName.blobs, classes=k)


@pytest.mark.parametrize("noise", [-0.1, 1.5])
def test_noise_outside_zero_one_is_refused(noise: float) -> None:
    with pytest.raises(ValueError, match="noise"):
        generate(DatasetName.circle, noise=noise)


def test_clean_circle_label_is_a_function_of_radius() -> None:
    points, labels = generate(DatasetName.circle, n=1000)
    radius = np.linalg.norm(points, axis=1)
    np.testing.assert_array_equal(labels, (radius < 3.0).astype(np.int64))
    assert radius[labels == 1].max() <= 2.5 + PAD and radius[labels == 0].min() >= 3.5 - PAD


def test_clean_xor_label_is_the_sign_of_the_product_with_a_gap() -> None:
    points, labels = generate(DatasetName.xor, n=1000)
    np.testing.assert_array_equal(labels, (points[:, 0] * points[:, 1] > 0).astype(np.int64))
    assert np.abs(points).min() >= 0.3 - PAD


def test_clean_spiral_points_lie_on_their_arm() -> None:
    points, labels = generate(DatasetName.spiral, n=1000)
    radius = np.linalg.norm(points, axis=1)
    # Arm of class 1 at radius r has angle 3.5 pi r / 5 (from +x2 towards +x1); class 0 is pi later.
    arm_angle = 1.75 * 2.0 * math.pi * radius / 5.0 + np.where(labels == 1, 0.0, math.pi)
    angle = np.arctan2(points[:, 0], points[:, 1])
    offset = np.angle(np.exp(1j * (angle - arm_angle)))  # wrapped to (-pi, pi]
    assert np.abs(offset).max() < 1e-3
    assert radius.max() <= 5.0 + PAD


def test_clean_moons_are_separated_and_noise_blurs_them() -> None:
    points, labels = generate(DatasetName.moons, n=1000)
    distance = np.linalg.norm(points[labels == 0][:, None] - points[labels == 1][None], axis=2)
    assert distance.min() > 0.5  # two interleaved arcs that never touch
    noisy, _ = generate(DatasetName.moons, n=1000, noise=0.5)
    assert not np.allclose(noisy, points, atol=0.1)


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        (DatasetName.circle, lambda p: np.linalg.norm(p, axis=1) < 3.0),
        (DatasetName.xor, lambda p: p[:, 0] * p[:, 1] > 0),
        (DatasetName.gaussians, lambda p: p[:, 0] + p[:, 1] > 0),
    ],
)
def test_half_noise_is_visible_but_learnable(
    name: DatasetName, rule: Callable[[np.ndarray], np.ndarray]
) -> None:
    points, labels = generate(name, n=2000, noise=0.5)
    agreement = (labels == rule(points)).mean()
    assert 0.75 < agreement < 0.99


def test_gaussian_clusters_sit_on_the_diagonal() -> None:
    points, labels = generate(DatasetName.gaussians, n=2000)
    np.testing.assert_allclose(points[labels == 0].mean(axis=0), [-2.0, -2.0], atol=0.1)
    np.testing.assert_allclose(points[labels == 1].mean(axis=0), [2.0, 2.0], atol=0.1)


def test_clean_plane_target_is_the_scaled_sum() -> None:
    points, target = generate(DatasetName.plane, n=1000)
    np.testing.assert_allclose(target, (points[:, 0] + points[:, 1]) / 12.0, atol=1e-5)
    assert -1.0 <= target.min() < -0.8 and 0.8 < target.max() <= 1.0


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_targets_are_in_a_sensible_range(name: DatasetName) -> None:
    _, clean = generate(name, n=2000)
    assert clean.min() < -0.8 and clean.max() > 0.8  # uses both signs of roughly [-1, 1]
    assert np.abs(clean).max() <= 1.05
    _, noisy = generate(name, n=2000, noise=0.5)
    assert np.abs(noisy).max() < 3.0
    assert np.abs(noisy - clean).mean() > 0.1  # the same points, visibly noisier targets


def test_class_count_follows_the_catalog() -> None:
    assert class_count(DatasetName.blobs, 7) == 7
    assert class_count(DatasetName.spiral, 7) == 2
    assert class_count(DatasetName.plane, 7) == 0
