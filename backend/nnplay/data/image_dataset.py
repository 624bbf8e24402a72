"""Image classification data: an `ExperimentSpec` over an image set turned into tensors.

This module owns `build_image_dataset` (pick, shuffle, split and normalise `n_samples`
images of the set, deterministic in `dataset.seed`), `ImageDataset`, and the pixel
transform every image a run sees goes through (training batches, probes, drawn images,
`predict`), plus the light augmentation `shift_images`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nnplay.data.images import load_image_set
from nnplay.spec import ExperimentSpec, Normalization


@dataclass(frozen=True)
class PixelTransform:
    """Maps pixels in 0..1 to model inputs: `(x - offset) / scale`, fitted on train."""

    offset: float
    scale: float

    @classmethod
    def fit(cls, train: Tensor, normalization: Normalization) -> PixelTransform:
        """Fit on the training pixels `(n, 1, h, w)` in 0..1."""
        if normalization == Normalization.minmax:
            return cls(0.5, 0.5)  # 0..1 -> -1..1
        if normalization == Normalization.standard and train.numel():
            std = float(train.std())
            return cls(float(train.mean()), std if std > 1e-6 else 1.0)
        return cls(0.0, 1.0)

    def __call__(self, pixels: Tensor) -> Tensor:
        """Model inputs for pixels in 0..1 (any shape)."""
        return (pixels - self.offset) / self.scale


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A split, normalised image set, all tensors on the CPU."""

    name: str
    n_classes: int
    image_shape: tuple[int, int]  # (h, w)
    x_train: Tensor  # (n_train, 1, h, w) float32 model inputs
    y_train: Tensor  # (n_train,) int64
    x_test: Tensor  # (n_test, 1, h, w) float32
    y_test: Tensor  # (n_test,) int64
    pixels_test: Tensor  # (n_test, h, w) uint8, the test images as shown
    transform: PixelTransform
    source: str

    @property
    def n_inputs(self) -> int:
        """Pixels per image."""
        return self.image_shape[0] * self.image_shape[1]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One sample as the network sees it: `(1, h, w)`."""
        return (1, *self.image_shape)


def build_image_dataset(spec: ExperimentSpec, data_dir: Path | None = None) -> ImageDataset:
    """Pick `n_samples` images of the spec's set, shuffle, split and normalise them.

    Raises `ImageSetMissing` (the message names the folder) when the set is absent and
    ValueError when the set holds fewer images than `dataset.n_samples`.
    """
    data = spec.dataset
    images = load_image_set(data.name.value, data_dir)
    total = images.images.shape[0]
    if data.n_samples > total:
        raise ValueError(f"dataset.n_samples: the {data.name.value} set here ({images.source}) "
                         f"has {total} images; use {10} to {total}")
    rng = np.random.default_rng(data.seed)
    chosen = rng.permutation(total)[:data.n_samples]
    pixels = torch.from_numpy(np.ascontiguousarray(images.images[chosen]))  # (n, h, w) uint8
    labels = torch.from_numpy(images.labels[chosen].astype(np.int64))
    n_train = spec.train_size
    scaled = pixels.unsqueeze(1).to(torch.float32) / 255.0  # (n, 1, h, w) in 0..1
    transform = PixelTransform.fit(scaled[:n_train], data.normalization)
    inputs = transform(scaled)
    return ImageDataset(
        name=data.name.value, n_classes=images.n_classes, image_shape=images.shape,
        x_train=inputs[:n_train], y_train=labels[:n_train], x_test=inputs[n_train:],
        y_test=labels[n_train:], pixels_test=pixels[n_train:], transform=transform,
        source=images.source)


def shift_images(batch: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each image of `batch` (m, c, h, w) by up to `max_shift` pixels each way.

    Pixels shifted in are the background (the batch's minimum: 0 before normalisation).
    """
    if max_shift <= 0:
        return batch
    m, _, h, w = batch.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (m, 2), generator=generator)
    pad = max_shift
    background = float(batch.min())
    padded = torch.nn.functional.pad(batch, (pad, pad, pad, pad), value=background)
    out = torch.empty_like(batch)
    for i, (dy, dx) in enumerate(shifts.tolist()):
        out[i] = padded[i, :, pad - dy:pad - dy + h, pad - dx:pad - dx + w]
    return out
