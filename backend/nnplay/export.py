"""Export formats of a trained run: safetensors weights and a self-contained ONNX model."""

from __future__ import annotations

import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors
from torch import Tensor, nn

from nnplay.data import FEATURE_INFO, build_dataset
from nnplay.models.network import Network, build_network
from nnplay.spec import (
    DATASET_KINDS,
    IMAGE_SHAPES,
    DataKindName,
    ExperimentSpec,
    SequenceMode,
    Task,
)
from nnplay.spec.sequences import sequence_features
from nnplay.train.heads import Head, make_head
from nnplay.train.predict import ImageClassifier, is_image_classifier, pixel_transform


def safetensors_bytes(state: dict[str, Tensor], spec: ExperimentSpec, step: int) -> bytes:
    """The weights as a safetensors file; the spec and step ride in its metadata."""
    tensors = {name: tensor.contiguous() for name, tensor in state.items()}
    metadata = {"format": "nnplay", "step": str(step),
                "spec": json.dumps(spec.model_dump(mode="json"))}
    return save_safetensors(tensors, metadata=metadata)


class PredictionModel(nn.Module):
    """Raw 2-D points `(m, 2)` in; what the page shows out.

    Output: two classes -> `(m,)` score in [-1, 1] (positive means class 1);
    more classes -> `(m, k)` probabilities; regression -> `(m,)` predicted value.
    Features and the training-set normalisation are built in.
    """

    offset: Tensor  # (f,) buffers registered below
    scale: Tensor

    def __init__(self, spec: ExperimentSpec, state: dict[str, Tensor]) -> None:
        super().__init__()
        dataset = build_dataset(spec)
        self.head: Head = make_head(spec.task, spec.loss, dataset.n_classes)
        self.network = build_network(spec.model, dataset.n_inputs, self.head.out_units)
        self.network.load_state_dict(state)
        self.network.eval()
        self.features = [FEATURE_INFO[feature].fn for feature in spec.features]
        self.register_buffer("offset", dataset.transform.offset.clone())
        self.register_buffer("scale", dataset.transform.scale.clone())

    def forward(self, points: Tensor) -> Tensor:
        columns = torch.stack([feature(points) for feature in self.features], dim=1)
        inputs = (columns - self.offset) / self.scale  # (m, f)
        return self.head.display(self.network(inputs))


class SequenceModel(nn.Module):
    """Sequences `(m, time, features)` in (values, or one-hot symbols and characters);
    regression: predicted values out, classification: class probabilities, at the last
    step `(m,)` / `(m, k)` or, many_to_many, at every step `(m, time)` / `(m, time, k)`."""

    def __init__(self, spec: ExperimentSpec, state: dict[str, Tensor]) -> None:
        super().__init__()
        data = spec.dataset
        features = sequence_features(spec)
        per_step = spec.sequence_mode == SequenceMode.many_to_many
        n_out = 1 if spec.task == Task.regression else state[_last_bias(state)].shape[0]
        self.network = Network(spec.model, data.seq_len * features, n_out,
                               (data.seq_len, features), per_step=per_step)
        self.network.load_state_dict(state)
        self.network.eval()
        self.regression = spec.task == Task.regression

    def forward(self, sequences: Tensor) -> Tensor:
        out: Tensor = self.network.body(sequences)  # (m, k) or (m, time, k)
        return out[..., 0] if self.regression else torch.softmax(out, dim=-1)


def _last_bias(state: dict[str, Tensor]) -> str:
    return max((key for key in state if key.endswith(".bias") and key.startswith("body.")),
               key=lambda key: int(key.split(".")[1]))


def onnx_bytes(spec: ExperimentSpec, state: dict[str, Tensor],
               data_dir: Path | None = None) -> bytes:
    """The run as an ONNX model: input `points` `(m, 2)` (image classifiers: `images`
    `(m, h, w)` with pixels 0..1; sequence runs: `sequences` `(m, time, features)`), output
    `output` (images: class probabilities `(m, k)`; sequences: see `SequenceModel`)."""
    if spec.task == Task.gan:
        raise ValueError("ONNX export covers classification and regression runs; for a GAN "
                         "download the weights (safetensors) instead")
    model: nn.Module
    if is_image_classifier(spec):
        model = ImageClassifier(spec, state, pixel_transform(spec, data_dir)).eval()
        example = (torch.zeros(4, *IMAGE_SHAPES[spec.dataset.name]),)
        input_name = "images"
    elif DATASET_KINDS[spec.dataset.name] == DataKindName.sequence:
        model = SequenceModel(spec, state).eval()
        example = (torch.zeros(4, spec.dataset.seq_len, sequence_features(spec)),)
        input_name = "sequences"
    else:
        model = PredictionModel(spec, state).eval()
        example = (torch.zeros(4, 2),)
        input_name = "points"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The exporter narrates every phase on the root logger; keep the server log quiet.
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program: Any = torch.onnx.export(
            model, example, dynamo=True, input_names=[input_name], output_names=["output"],
            dynamic_shapes=({0: torch.export.Dim("m", min=1, max=1_000_000)},), verbose=False)
    buffer = io.BytesIO()
    program.save(buffer)
    return buffer.getvalue()
