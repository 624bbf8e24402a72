"""Predictions of a trained image classifier on one image a person sends (`predict`).

This module owns `ImageClassifier` (pixels in 0..1 -> class probabilities, the pixel
normalisation built in; the ONNX export uses it too), the check of a sent image, and
the answer of `POST /api/jobs/{id}/predict`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from nnplay.data.image_dataset import PixelTransform, build_image_dataset
from nnplay.models.network import Network
from nnplay.spec import (
    DATASET_KINDS,
    IMAGE_SHAPES,
    DataKindName,
    ExperimentSpec,
    Normalization,
    Task,
)
from nnplay.train.heads import make_head
from nnplay.train.probes import to_uint8


def is_image_classifier(spec: ExperimentSpec) -> bool:
    """Whether a spec trains a classifier on images (what `predict` serves)."""
    return spec.task == Task.classification and \
        DATASET_KINDS[spec.dataset.name] == DataKindName.image


def pixel_transform(spec: ExperimentSpec, data_dir: Path | None) -> PixelTransform:
    """The run's pixel normalisation (only `standard` needs the training images)."""
    if spec.dataset.normalization == Normalization.standard:
        return build_image_dataset(spec, data_dir).transform
    return PixelTransform.fit(torch.zeros(0), spec.dataset.normalization)


class ImageClassifier(nn.Module):
    """Pixels `(m, h, w)` in 0..1 in; class probabilities `(m, k)` out."""

    def __init__(self, spec: ExperimentSpec, state: dict[str, Tensor],
                 transform: PixelTransform) -> None:
        super().__init__()
        if not is_image_classifier(spec):
            raise ValueError("this run is not an image classifier: predict takes runs of task "
                             "'classification' on digits, mnist or fashion_mnist")
        h, w = IMAGE_SHAPES[spec.dataset.name]
        n_classes = state["body." + _last_linear(state) + ".bias"].shape[0]
        head = make_head(spec.task, spec.loss, n_classes)
        self.network = Network(spec.model, h * w, head.out_units, (1, h, w))
        self.network.load_state_dict(state)
        self.network.eval()
        self.offset, self.scale = transform.offset, transform.scale
        self.shape = (h, w)

    def forward(self, pixels: Tensor) -> Tensor:
        inputs = ((pixels - self.offset) / self.scale).reshape(-1, 1, *self.shape)
        return torch.softmax(self.network(inputs), dim=1)


def _last_linear(state: dict[str, Tensor]) -> str:
    # The output layer is the body's last module with a weight: its index as a string.
    indices = [int(key.split(".")[1]) for key in state if key.startswith("body.")]
    return str(max(indices))


def check_image(image: Any, shape: tuple[int, int]) -> Tensor:
    """The sent image as `(h, w)` float32, or a ValueError naming what is wrong."""
    h, w = shape
    rule = f"image: must be {h} rows of {w} numbers between 0 and 1"
    if not isinstance(image, list) or len(image) != h:
        got = f"{len(image)} rows" if isinstance(image, list) else type(image).__name__
        raise ValueError(f"{rule} (got {got})")
    for index, row in enumerate(image):
        if not isinstance(row, list) or len(row) != w:
            got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
            raise ValueError(f"{rule}; row {index} has {got}")
        for value in row:
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not math.isfinite(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{rule}; row {index} holds {value!r}")
    return torch.tensor(image, dtype=torch.float32)


def predict(spec: ExperimentSpec, state: dict[str, Tensor], image: Any,
            data_dir: Path | None, feature_maps: bool = False) -> dict[str, Any]:
    """`{"probabilities", "predicted"}` for one image, plus the maps when asked.

    Feature maps are one entry per conv and pool layer: `kind`, `shape` [c, h, w],
    `value_range` [lo, hi] (what 0 and 255 stand for) and `maps`, c lists of h rows of w
    uint8 values.
    """
    if not is_image_classifier(spec):
        raise ValueError("this run is not an image classifier: predict takes runs of task "
                         "'classification' on digits, mnist or fashion_mnist")
    pixels = check_image(image, IMAGE_SHAPES[spec.dataset.name])
    model = ImageClassifier(spec, state, pixel_transform(spec, data_dir))
    answer: dict[str, Any] = {}
    with torch.no_grad():
        probabilities = model(pixels.unsqueeze(0))[0]
        answer["probabilities"] = [round(float(p), 6) for p in probabilities]
        answer["predicted"] = int(probabilities.argmax())
        if feature_maps:
            taps = dict(model.network.feature_map_layers())
            h = ((pixels - model.offset) / model.scale).reshape(1, 1, *model.shape)
            layers = []
            for index, module in enumerate(model.network.body):
                h = module(h)
                if index in taps:
                    lo, hi = float(h.min()), float(h.max())
                    layers.append({"kind": taps[index], "shape": list(h.shape[1:]),
                                   "value_range": [lo, hi],
                                   "maps": to_uint8(h[0], lo, hi).tolist()})
            answer["feature_maps"] = layers
    return answer
