"""Toy 2-D datasets in the style of TensorFlow Playground: the generators and their catalog.

This module owns how each `DatasetName` is sampled. Every generator is a pure function of
`(n, noise, rng, classes)` that returns `n` points inside `DOMAIN` x `DOMAIN` and their labels,
ordered by class (class 0 first); `build_dataset` shuffles them. `noise` is a fraction in
[0, 1], scaled per set so that 0.5 looks like TensorFlow Playground's 50 % (visibly noisy,
still learnable: a nearest-neighbour fit scores about 0.9) and 1 is about twice that.
Points that noise pushes out of the domain are mirrored back in at its edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from nnplay.spec import (
    DATASET_KINDS,
    DATASET_TASKS,
    LIMITS,
    DataKindName,
    DatasetName,
    Task,
    primary_task,
)

DOMAIN: tuple[float, float] = (-6.0, 6.0)  # both axes

Float64Array = npt.NDArray[np.float64]
PointArray = npt.NDArray[np.float32]  # (n, 2) float32
LabelArray = npt.NDArray[np.int64] | npt.NDArray[np.float32]  # (n,) int64 ids or float32 targets


class ToyGenerator(Protocol):
    """A dataset generator: `n` points and labels, pure in `rng`."""

    def __call__(
        self, n: int, noise: float, rng: np.random.Generator, classes: int = 2
    ) -> tuple[PointArray, LabelArray]:
        """Sample `n` points with the given noise; `classes` is read by multi-class sets only."""
        ...


def _check(n: int, noise: float) -> None:
    """Refuse a negative sample count or a noise fraction outside [0, 1]."""
    if n < 0:
        raise ValueError(f"n must be >= 0 (got {n})")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1] (got {noise})")


def _class_sizes(n: int, k: int) -> list[int]:
    """Split `n` samples into `k` near-equal class sizes, the remainder going to the first ones."""
    base, extra = divmod(n, k)
    return [base + (1 if c < extra else 0) for c in range(k)]


def _labels(sizes: list[int]) -> npt.NDArray[np.int64]:
    """Class ids 0..k-1 repeated by `sizes`, class 0 first."""
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)  # (n,) int64


def _into_domain(points: Float64Array) -> PointArray:
    """Mirror points that left the domain back in at its edge, then clip; cast to float32."""
    lo, hi = DOMAIN
    points = np.where(points > hi, 2.0 * hi - points, points)
    points = np.where(points < lo, 2.0 * lo - points, points)
    return np.clip(points, lo, hi).astype(np.float32)  # (n, 2) float32


def _polar(r: Float64Array, angle: Float64Array) -> Float64Array:
    """Points at radius `r` and angle `angle`, measured from the +x2 axis towards +x1."""
    return np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (n, 2)


def circle(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Class 1 is a disc of radius 2.5, class 0 the ring 3.5 to 5 around it."""
    _check(n, noise)
    radius = 5.0
    sizes = _class_sizes(n, 2)
    r = np.concatenate(
        [rng.uniform(0.7 * radius, radius, sizes[0]), rng.uniform(0.0, 0.5 * radius, sizes[1])]
    )
    points = _polar(r, rng.uniform(0.0, 2.0 * math.pi, n))
    points += rng.uniform(-3.0, 3.0, (n, 2)) * noise  # the gap is 1 wide
    return _into_domain(points), _labels(sizes)


def xor(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Class 1 where x1 * x2 > 0, class 0 where it is < 0, with a 0.3 gap around both axes."""
    _check(n, noise)
    sizes = _class_sizes(n, 2)
    labels = _labels(sizes)
    magnitude = rng.uniform(0.0, 5.0, (n, 2)) + 0.3  # (n, 2), padded away from the axes
    sign_x1 = rng.integers(0, 2, n) * 2.0 - 1.0  # (n,) of +-1
    sign_x2 = np.where(labels == 1, sign_x1, -sign_x1)
    points = magnitude * np.stack([sign_x1, sign_x2], axis=1)
    points += rng.uniform(-3.0, 3.0, (n, 2)) * noise
    return _into_domain(points), labels


def gaussians(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Two Gaussian clusters, class 0 around (-2, -2) and class 1 around (2, 2)."""
    _check(n, noise)
    labels = _labels(_class_sizes(n, 2))
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    std = math.sqrt(0.5 + 7.0 * noise)  # variance 0.5 clean, 4 at noise 0.5 (as TF Playground)
    points = centres[labels] + rng.normal(0.0, std, (n, 2))
    return _into_domain(points), labels


def spiral(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Two interleaved spirals of 1.75 turns out to radius 5; class 1 starts at angle 0."""
    _check(n, noise)
    labels = _labels(_class_sizes(n, 2))
    s = rng.uniform(0.0, 1.0, n)  # (n,) position along the arm
    angle = 1.75 * 2.0 * math.pi * s + np.where(labels == 1, 0.0, math.pi)
    points = _polar(5.0 * s, angle)
    points += rng.uniform(-1.0, 1.0, (n, 2)) * noise
    return _into_domain(points), labels


def moons(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Two interleaved half-moons (as sklearn's make_moons) scaled by 3.5 to fill the domain."""
    _check(n, noise)
    sizes = _class_sizes(n, 2)
    labels = _labels(sizes)
    angle = rng.uniform(0.0, math.pi, n)
    outer = np.stack([np.cos(angle), np.sin(angle)], axis=1)  # class 0, upper moon
    inner = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)  # class 1, lower moon
    points = np.where((labels == 1)[:, None], inner, outer)  # (n, 2) in [-1, 2] x [-0.5, 1]
    points += rng.normal(0.0, 0.4 * noise, (n, 2))
    return _into_domain((points - np.array([0.5, 0.25])) * 3.5), labels


def blobs(
    n: int, noise: float, rng: np.random.Generator, classes: int = 3
) -> tuple[PointArray, LabelArray]:
    """`classes` Gaussian clusters with centres evenly spaced on a circle of radius 4."""
    _check(n, noise)
    if not LIMITS.min_classes <= classes <= LIMITS.max_classes:
        raise ValueError(
            f"classes must be in [{LIMITS.min_classes}, {LIMITS.max_classes}] (got {classes})"
        )
    labels = _labels(_class_sizes(n, classes))
    centre_angle = 2.0 * math.pi * np.arange(classes) / classes
    centres = _polar(np.full(classes, 4.0), centre_angle)  # (k, 2), class 0 straight up
    # Spread follows the distance between neighbouring centres, so 10 classes stay separable.
    spacing = min(2.0 * 4.0 * math.sin(math.pi / classes), 5.0)
    std = spacing * (0.08 + 0.4 * noise)
    points = centres[labels] + rng.normal(0.0, std, (n, 2))
    return _into_domain(points), labels


def plane(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Uniform points with target (x1 + x2) / 12, in [-1, 1] before Gaussian target noise."""
    _check(n, noise)
    points = rng.uniform(*DOMAIN, (n, 2))
    target = (points[:, 0] + points[:, 1]) / 12.0
    target += rng.normal(0.0, 0.5 * noise, n)
    return _into_domain(points), target.astype(np.float32)


# (centre x1, centre x2, sign) of the bumps; neighbours alternate sign like TF Playground's.
_BUMPS: tuple[tuple[float, float, float], ...] = (
    (-4.0, 2.5, 1.0),
    (0.0, 2.5, -1.0),
    (4.0, 2.5, 1.0),
    (-4.0, -2.5, -1.0),
    (0.0, -2.5, 1.0),
    (4.0, -2.5, -1.0),
)
_BUMP_WIDTH = 1.2  # standard deviation of each bump


def multi_gaussian(
    n: int, noise: float, rng: np.random.Generator, classes: int = 2
) -> tuple[PointArray, LabelArray]:
    """Uniform points with target the sum of six signed Gaussian bumps, in about [-1, 1]."""
    _check(n, noise)
    points = rng.uniform(*DOMAIN, (n, 2))
    target = np.zeros(n)
    for cx, cy, sign in _BUMPS:
        d2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
        target += sign * np.exp(-d2 / (2.0 * _BUMP_WIDTH**2))
    target += rng.normal(0.0, 0.5 * noise, n)
    return _into_domain(points), target.astype(np.float32)


# The supervised sets; GAN targets are sampled by `nnplay.data.gan_targets`.
GENERATORS: dict[DatasetName, ToyGenerator] = {
    DatasetName.circle: circle,
    DatasetName.xor: xor,
    DatasetName.gaussians: gaussians,
    DatasetName.spiral: spiral,
    DatasetName.moons: moons,
    DatasetName.blobs: blobs,
    DatasetName.plane: plane,
    DatasetName.multi_gaussian: multi_gaussian,
}


@dataclass(frozen=True)
class DatasetInfo:
    """How the catalog describes one dataset (a supervised set, a GAN target, or both)."""

    name: DatasetName
    task: Task  # the task it is listed under first (see `primary_task`)
    title: str
    description: str
    multi_class: bool = False  # True where `DatasetSpec.classes` sets the number of classes
    tasks: tuple[Task, ...] = ()  # every task it serves, from `DATASET_TASKS`
    gan_description: str = ""  # what it is as a GAN target, where it is one
    modes: bool = False  # True where `DatasetSpec.modes` sets the number of GAN modes
    points: bool = False  # True where the person draws the points (`DatasetSpec.points`)
    image: bool = False  # True for image data (kind "image" in `DATASET_KINDS`)


def _info(
    name: DatasetName, title: str, description: str, multi_class: bool = False, *,
    gan: str = "", modes: bool = False, points: bool = False,
) -> DatasetInfo:
    """Catalog entry whose tasks are read from `DATASET_TASKS`."""
    tasks = tuple(task for task in Task if task in DATASET_TASKS[name])
    return DatasetInfo(name, primary_task(name), title, description, multi_class, tasks,
                       gan or (description if Task.gan in tasks else ""), modes, points,
                       DATASET_KINDS[name] == DataKindName.image)


DATASET_INFO: dict[DatasetName, DatasetInfo] = {
    info.name: info
    for info in (
        _info(DatasetName.circle, "Circle", "A disc of one class inside a ring of the other."),
        _info(DatasetName.xor, "Exclusive or", "The class is the sign of x₁·x₂."),
        _info(DatasetName.gaussians, "Two Gaussians", "Two round clusters across a diagonal.",
              gan="A mixture of 2 to 25 Gaussians spaced evenly on a circle.", modes=True),
        _info(DatasetName.spiral, "Two spirals", "Two spiral arms winding out from the centre."),
        _info(DatasetName.moons, "Two moons", "Two interlocking half-moons."),
        _info(
            DatasetName.blobs,
            "Blobs",
            "Two to ten round clusters spread on a circle, one class each.",
            multi_class=True,
        ),
        _info(DatasetName.plane, "Plane", "A target that rises linearly along x₁ + x₂."),
        _info(DatasetName.multi_gaussian, "Multi-Gaussian", "Six positive and negative bumps."),
        _info(DatasetName.ring, "Ring", "A thin ring of radius 4 around the centre."),
        _info(DatasetName.grid, "Grid", "Twenty-five small Gaussians on a 5 x 5 grid."),
        _info(DatasetName.line, "Line", "A straight segment across the plane."),
        _info(DatasetName.disjoint, "Disjoint", "Two separate square patches in opposite corners."),
        _info(DatasetName.drawn, "Drawn", "The points you draw on the plane.", points=True),
        _info(DatasetName.digits, "Digits", "Handwritten 8 x 8 digits (scikit-learn's set)."),
        _info(DatasetName.mnist, "MNIST", "Handwritten 28 x 28 digits (real MNIST images)."),
        _info(DatasetName.fashion_mnist, "Fashion-MNIST",
              "28 x 28 photos of clothing in ten classes (from IDX files you provide)."),
        _info(DatasetName.custom, "Your data",
              "Points you draw on the plane or upload as a CSV, with a class or a value each.",
              points=True),
        _info(DatasetName.sine, "Sine wave",
              "Predict the next value of a sine wave from the last seq_len values."),
        _info(DatasetName.sines, "Sum of sines",
              "Predict the next value of three summed sine waves: a harder rhythm."),
        _info(DatasetName.memory, "Remember the first symbol", "A sequence of random "
              "symbols; the answer is the first one, seq_len steps back.", True),
        _info(DatasetName.trend, "Trend", "Is a noisy random walk drifting up or down?"),
        _info(DatasetName.text, "Text",
              "Characters of a text (Shakespeare's sonnets, or your own): the next one."),
    )
}


def class_count(name: DatasetName, classes: int) -> int:
    """Classes a dataset yields: `classes` if multi-class, else 2; 0 for regression."""
    info = DATASET_INFO[name]
    if Task.classification not in info.tasks:
        return 0
    return classes if info.multi_class else 2
