"""GAN targets: the real distributions a generator learns to imitate, and their samples.

This module owns how each GAN target is sampled. 2-D targets are pure functions of
`(n, noise, rng, modes)` that return `n` points `(n, 2)` float32 inside `DOMAIN`;
`noise` in [0, 1] widens each target's spread (0 is the clean shape). `gaussians`,
`spiral` and `moons` reuse the supervised generators' shapes; `drawn` resamples the
points a person drew; `digits` are scikit-learn's 8x8 handwritten digits, which ship
with the library (no download), with pixels scaled to [-1, 1].
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from nnplay.data import toy2d
from nnplay.data.toy2d import DOMAIN, PointArray
from nnplay.spec import (
    DATASET_KINDS,
    IMAGE_SHAPES,
    DataKindName,
    DatasetName,
    ExperimentSpec,
    Task,
)

REFERENCE_SIZE = 2000  # real 2-D samples the metrics compare the generator with
IMAGE_REFERENCE_SIZE = 500  # real digits the metrics compare with (at most the set)


class TargetGenerator(Protocol):
    """A 2-D GAN target: `n` points, pure in `rng`."""

    def __call__(self, n: int, noise: float, rng: np.random.Generator,
                 modes: int = 8) -> PointArray:
        """Sample `n` points; `modes` is read by the Gaussian mixture only."""
        ...


def _clip(points: npt.NDArray[np.float64]) -> PointArray:
    """Clip into the domain and cast to float32."""
    return np.clip(points, *DOMAIN).astype(np.float32)  # (n, 2)


def ring(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """A ring of radius 4 with radial spread 0.15 (clean) to 0.75 (noise 1)."""
    angle = rng.uniform(0.0, 2.0 * math.pi, n)
    radius = 4.0 + rng.normal(0.0, 0.15 + 0.6 * noise, n)
    return _clip(np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1))


def _circle_centres(modes: int) -> npt.NDArray[np.float64]:
    angle = 2.0 * math.pi * np.arange(modes) / modes
    return 4.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # (modes, 2)


def _grid_centres() -> npt.NDArray[np.float64]:
    cells = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), axis=-1)
    return (cells.reshape(-1, 2) - 2).astype(np.float64) * 2.5  # (25, 2) in {-5 .. 5}^2


def _gaussians_std(noise: float) -> float:
    return 0.25 + 0.5 * noise


def _grid_std(noise: float) -> float:
    return 0.15 + 0.3 * noise


def gaussians(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """`modes` Gaussians (std 0.25 clean) with centres evenly spaced on a circle of radius 4."""
    centres = _circle_centres(modes)[rng.integers(0, modes, n)]  # (n, 2)
    return _clip(centres + rng.normal(0.0, _gaussians_std(noise), (n, 2)))


def grid(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """25 Gaussians (std 0.15 clean) on a 5 x 5 grid with spacing 2.5."""
    centres = _grid_centres()[rng.integers(0, 25, n)]  # (n, 2)
    return _clip(centres + rng.normal(0.0, _grid_std(noise), (n, 2)))


def mixture_modes(name: DatasetName, noise: float,
                  modes: int = 8) -> tuple[npt.NDArray[np.float64], float] | None:
    """Centres `(k, 2)` of a mixture target's modes and the radius that counts as hitting one.

    The radius is three standard deviations, at most half the distance between
    neighbouring centres; None for targets that are not a mixture of separate modes.
    """
    if name == DatasetName.gaussians:
        neighbours = 8.0 * math.sin(math.pi / modes)
        return _circle_centres(modes), min(3.0 * _gaussians_std(noise), neighbours / 2)
    if name == DatasetName.grid:
        return _grid_centres(), min(3.0 * _grid_std(noise), 1.25)
    return None


def line(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """A segment from (-4, -2) to (4, 2) with a thin (0.1) Gaussian spread across it."""
    s = rng.uniform(-1.0, 1.0, n)
    along = np.stack([4.0 * s, 2.0 * s], axis=1)
    normal = np.array([-2.0, 4.0]) / math.sqrt(20.0)
    across = rng.normal(0.0, 0.1 + 0.5 * noise, n)[:, None] * normal
    return _clip(along + across)


def disjoint(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """Two 3 x 3 uniform squares centred on (-3, 3) and (3, -3), jittered by `noise`."""
    which = rng.integers(0, 2, n)
    centres = np.where((which == 0)[:, None], [[-3.0, 3.0]], [[3.0, -3.0]])
    points = centres + rng.uniform(-1.5, 1.5, (n, 2))
    return _clip(points + rng.normal(0.0, 0.5 * noise, (n, 2)))


def spiral(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """Both arms of the two-spirals set, without their labels."""
    return toy2d.spiral(n, noise, rng)[0]


def moons(n: int, noise: float, rng: np.random.Generator, modes: int = 8) -> PointArray:
    """Both half-moons of the two-moons set, without their labels."""
    return toy2d.moons(n, noise, rng)[0]


TARGETS: dict[DatasetName, TargetGenerator] = {
    DatasetName.ring: ring,
    DatasetName.gaussians: gaussians,
    DatasetName.grid: grid,
    DatasetName.line: line,
    DatasetName.disjoint: disjoint,
    DatasetName.spiral: spiral,
    DatasetName.moons: moons,
}

DRAWN_SPREAD = 0.1  # std of the jitter around each drawn point at noise 0


def drawn(points: list[tuple[float, float]], n: int, noise: float,
          rng: np.random.Generator) -> PointArray:
    """`n` samples around the drawn `points`: each a drawn point picked at random, jittered."""
    anchors = np.asarray(points, dtype=np.float64)  # (k, 2)
    picked = anchors[rng.integers(0, len(anchors), n)]
    return _clip(picked + rng.normal(0.0, DRAWN_SPREAD + 0.5 * noise, (n, 2)))


@functools.lru_cache(maxsize=1)
def digit_images() -> tuple[Tensor, Tensor]:
    """All of scikit-learn's digits: images `(1797, 64)` float32 in [-1, 1], labels `(1797,)`."""
    from sklearn.datasets import load_digits  # ~50 ms; only digits runs pay it

    digits = load_digits()
    pixels = torch.from_numpy(digits.data.astype(np.float32) / 8.0 - 1.0)  # 0..16 -> -1..1
    return pixels, torch.from_numpy(digits.target.astype(np.int64))


@dataclass(frozen=True, eq=False)
class GanData:
    """A GAN's real samples, all tensors on the CPU.

    2-D targets hold points `(n, 2)`; image targets hold flattened images `(n, h * w)`
    with pixels in [-1, 1] (`image_shape` says `(h, w)`).
    """

    target: DatasetName
    real: Tensor  # (n, d) float32: what the discriminator sees as real
    reference: Tensor  # (m, d) float32: real samples the metrics compare with
    domain: tuple[float, float]  # 2-D: both axes span this; images: the pixel range
    image_shape: tuple[int, int] | None = None
    mode_centres: Tensor | None = None  # (k, 2) float32: a mixture target's modes
    mode_radius: float = 0.0  # a generated point this close to a centre hits that mode

    @property
    def n_features(self) -> int:
        """Size of one sample: 2 for points, h * w for images."""
        return int(self.real.shape[1])

    @property
    def is_image(self) -> bool:
        """Whether samples are images."""
        return self.image_shape is not None


def build_gan_data(spec: ExperimentSpec) -> GanData:
    """Sample the real data of a GAN spec; deterministic in `spec.dataset.seed`."""
    if spec.task != Task.gan:
        raise ValueError(f"build_gan_data needs a GAN spec (got task '{spec.task.value}')")
    data = spec.dataset
    rng = np.random.default_rng(data.seed)
    if DATASET_KINDS[data.name] == DataKindName.image:
        pixels, _ = digit_images()
        order = torch.from_numpy(rng.permutation(pixels.shape[0]))
        real = pixels[order[:data.n_samples]]  # (n, 64)
        return GanData(target=data.name, real=real, reference=real[:IMAGE_REFERENCE_SIZE],
                       domain=(-1.0, 1.0), image_shape=IMAGE_SHAPES[data.name])
    if data.name == DatasetName.drawn:
        if data.points is None:  # the spec validator refuses this; keep the error readable
            raise ValueError("dataset.points: the 'drawn' target needs the drawn points")
        points, extra = (drawn(data.points, n, data.noise, rng)
                         for n in (data.n_samples, REFERENCE_SIZE))
    else:
        sample = TARGETS[data.name]
        points, extra = (sample(n, data.noise, rng, data.modes)
                         for n in (data.n_samples, REFERENCE_SIZE))
    mixture = mixture_modes(data.name, data.noise, data.modes)
    centres, radius = mixture if mixture is not None else (None, 0.0)
    return GanData(target=data.name, real=torch.from_numpy(points),
                   reference=torch.from_numpy(extra), domain=DOMAIN,
                   mode_centres=None if centres is None else torch.from_numpy(
                       centres.astype(np.float32)),
                   mode_radius=radius)
