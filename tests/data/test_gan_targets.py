"""Tests for the GAN targets: 2-D generators, drawn points, digits and `build_gan_data`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from nnplay.data import build_dataset, build_gan_data
from nnplay.data.gan_targets import (
    IMAGE_REFERENCE_SIZE,
    REFERENCE_SIZE,
    TARGETS,
    digit_images,
    drawn,
    mixture_modes,
)
from nnplay.data.toy2d import DOMAIN
from nnplay.spec import DATASET_TASKS, LIMITS, DatasetName, ExperimentSpec, Task, parse_spec

PAD = 1e-4
GAN_TARGETS = [name for name in DatasetName if Task.gan in DATASET_TASKS[name]]


def gan_spec(name: str, **dataset: Any) -> ExperimentSpec:
    """A valid GAN spec for target `name`; keyword arguments set `spec.dataset` fields."""
    return parse_spec({"task": "gan", "batch_size": 8, "dataset": {"name": name, **dataset}})


def sample(name: DatasetName, n: int = 400, noise: float = 0.0, seed: int = 0,
           modes: int = 8) -> np.ndarray:
    """Run one 2-D target generator with a fresh seeded rng."""
    return TARGETS[name](n, noise, np.random.default_rng(seed), modes)


def test_every_gan_target_is_sampled_somewhere() -> None:
    assert set(GAN_TARGETS) == set(TARGETS) | {DatasetName.drawn, DatasetName.digits}
    assert LIMITS.max_coordinate == DOMAIN[1] == -DOMAIN[0]


@pytest.mark.parametrize("name", list(TARGETS))
@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_2d_targets_shapes_dtypes_and_domain(name: DatasetName, noise: float) -> None:
    points = sample(name, n=301, noise=noise)
    assert points.shape == (301, 2) and points.dtype == np.float32
    assert np.isfinite(points).all()
    assert points.min() >= DOMAIN[0] - PAD and points.max() <= DOMAIN[1] + PAD


@pytest.mark.parametrize("name", list(TARGETS))
def test_2d_targets_are_pure_in_the_rng(name: DatasetName) -> None:
    np.testing.assert_array_equal(sample(name, seed=3, noise=0.2), sample(name, seed=3, noise=0.2))
    assert not np.array_equal(sample(name, seed=3), sample(name, seed=4))


def test_ring_has_radius_four() -> None:
    radius = np.linalg.norm(sample(DatasetName.ring, n=2000), axis=1)
    assert abs(radius.mean() - 4.0) < 0.05 and radius.std() < 0.3


@pytest.mark.parametrize("modes", [2, 8, 25])
def test_gaussians_have_the_asked_number_of_modes(modes: int) -> None:
    points = sample(DatasetName.gaussians, n=100 * modes, modes=modes)
    mixture = mixture_modes(DatasetName.gaussians, 0.0, modes)
    assert mixture is not None
    centres, radius = mixture
    assert centres.shape == (modes, 2)
    distance = np.linalg.norm(points[:, None, :] - centres[None], axis=2)  # (n, k)
    assert (distance.min(axis=1) <= radius).mean() > 0.85  # 2 to 3 std around each centre
    counts = np.bincount(distance.argmin(axis=1), minlength=modes)
    assert counts.min() > 0.5 * counts.mean()  # every mode is used, roughly evenly


def test_grid_is_five_by_five() -> None:
    points = sample(DatasetName.grid, n=5000)
    mixture = mixture_modes(DatasetName.grid, 0.0)
    assert mixture is not None
    centres, _ = mixture
    assert centres.shape == (25, 2)
    assert sorted(set(np.round(centres[:, 0], 3))) == [-5.0, -2.5, 0.0, 2.5, 5.0]
    nearest = np.linalg.norm(points[:, None] - centres[None], axis=2).argmin(axis=1)
    assert len(set(nearest.tolist())) == 25


def test_line_and_disjoint_shapes() -> None:
    line = sample(DatasetName.line, n=1000)
    # Every point lies close to the line x2 = x1 / 2.
    assert np.abs(line[:, 1] - line[:, 0] / 2).max() < 0.6
    disjoint = sample(DatasetName.disjoint, n=1000)
    upper_left = (disjoint[:, 0] < 0) & (disjoint[:, 1] > 0)
    lower_right = (disjoint[:, 0] > 0) & (disjoint[:, 1] < 0)
    assert (upper_left | lower_right).all()
    assert 0.4 < upper_left.mean() < 0.6


def test_noise_widens_a_target() -> None:
    clean = np.linalg.norm(sample(DatasetName.ring, n=2000), axis=1).std()
    noisy = np.linalg.norm(sample(DatasetName.ring, n=2000, noise=1.0), axis=1).std()
    assert noisy > 2 * clean


def test_drawn_samples_stay_near_the_drawn_points() -> None:
    anchors = [(-3.0, -3.0), (0.0, 2.0), (4.0, 1.0)]
    points = drawn(anchors, 600, 0.0, np.random.default_rng(0))
    assert points.shape == (600, 2) and points.dtype == np.float32
    distance = np.linalg.norm(points[:, None] - np.array(anchors)[None], axis=2)
    assert distance.min(axis=1).max() < 0.6
    assert set(distance.argmin(axis=1).tolist()) == {0, 1, 2}


def test_digit_images_are_scaled_to_plus_minus_one() -> None:
    pixels, labels = digit_images()
    assert pixels.shape == (LIMITS.max_digits, 64) and pixels.dtype == torch.float32
    assert pixels.min() == -1.0 and pixels.max() == 1.0
    assert sorted(set(labels.tolist())) == list(range(10))


@pytest.mark.parametrize("name", [n for n in GAN_TARGETS if n != DatasetName.digits])
def test_build_gan_data_for_2d_targets(name: DatasetName) -> None:
    extra = {"points": [[0, 0], [1, 1], [2, -1]]} if name == DatasetName.drawn else {}
    spec = gan_spec(name.value, n_samples=300, noise=0.1, **extra)
    data = build_gan_data(spec)
    assert data.real.shape == (300, 2) and data.real.dtype == torch.float32
    assert data.reference.shape == (REFERENCE_SIZE, 2)
    assert data.domain == DOMAIN and data.image_shape is None and not data.is_image
    assert data.n_features == 2
    again = build_gan_data(spec)
    assert torch.equal(data.real, again.real) and torch.equal(data.reference, again.reference)
    other = build_gan_data(gan_spec(name.value, n_samples=300, noise=0.1, seed=1, **extra))
    assert not torch.equal(data.real, other.real)
    has_modes = name in (DatasetName.gaussians, DatasetName.grid)
    assert (data.mode_centres is not None) is has_modes


def test_build_gan_data_for_digits() -> None:
    data = build_gan_data(gan_spec("digits", n_samples=1000))
    assert data.real.shape == (1000, 64) and data.is_image and data.image_shape == (8, 8)
    assert data.reference.shape == (IMAGE_REFERENCE_SIZE, 64)
    assert data.domain == (-1.0, 1.0)
    assert data.real.min() >= -1.0 and data.real.max() <= 1.0


def test_gan_and_supervised_builders_refuse_each_others_specs() -> None:
    with pytest.raises(ValueError, match="build_gan_data"):
        build_dataset(gan_spec("ring"))
    with pytest.raises(ValueError, match="needs a GAN spec"):
        build_gan_data(parse_spec({}))


def test_mixture_modes_only_for_mixtures() -> None:
    assert mixture_modes(DatasetName.ring, 0.0) is None
    mixture = mixture_modes(DatasetName.gaussians, 0.0, 25)
    assert mixture is not None
    # With 25 modes the radius shrinks to half the distance between neighbours.
    assert mixture[1] == pytest.approx(4.0 * math.sin(math.pi / 25))
