"""Images as the page shows them: a set's sample thumbnails and a run's test images.

Both answer uint8 pixels as base64 (`pixels`: `(n, h, w)` row-major, 0..255 for pixel
values 0..1) with one label per image, so a page can draw them without decoding JSON
numbers. A run's test images come in the order and with the indices the run's `probe`
and `misclassified` frames use.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from nnplay.data.image_dataset import build_image_dataset
from nnplay.data.images import load_image_set
from nnplay.spec import ExperimentSpec

# The most images one answer holds (a page asks for a strip at a time).
MAX_IMAGES = 256


def _pack(pixels: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    raw = np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()  # (n, h, w) uint8
    return {"shape": list(pixels.shape[1:]), "count": int(pixels.shape[0]),
            "labels": [int(v) for v in labels], "pixels": base64.b64encode(raw).decode()}


def set_samples(name: str, count: int, seed: int, data_dir: Path | None) -> dict[str, Any]:
    """`count` images of set `name` in a seeded order that cycles through the classes."""
    images = load_image_set(name, data_dir)
    rng = np.random.default_rng(seed)
    order = rng.permutation(images.images.shape[0])
    # Class by class in turn (0, 1, 2, ...), so a strip of ten shows every class once.
    by_class = [order[images.labels[order] == k] for k in range(images.n_classes)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < count and any(depth < len(c) for c in by_class):
        chosen += [int(c[depth]) for c in by_class if depth < len(c)]
        depth += 1
    picked = np.asarray(chosen[:count], dtype=np.int64)
    out = _pack(images.images[picked], images.labels[picked])
    out.update(name=name, classes=images.n_classes, source=images.source,
               total=int(images.images.shape[0]))
    return out


def run_test_images(spec: ExperimentSpec, start: int, count: int,
                    data_dir: Path | None) -> dict[str, Any]:
    """Test images `start` .. `start + count` of the run of `spec` (as its probes number them)."""
    data = build_image_dataset(spec, data_dir)
    total = int(data.pixels_test.shape[0])
    if start > total:
        raise ValueError(f"start: the run has {total} test images; use 0 to {total}")
    end = min(total, start + count)
    out = _pack(data.pixels_test[start:end].numpy(), data.y_test[start:end].numpy())
    out.update(start=start, total=total, classes=data.n_classes)
    return out


__all__ = ["MAX_IMAGES", "run_test_images", "set_samples"]
