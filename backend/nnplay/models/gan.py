"""GAN pairs: the generator and the discriminator a GAN spec describes.

Both are built from `ModelSpec`s. The generator is a dense stack from the latent
vector to a sample (a 2-D point, or an image's pixels squashed into [-1, 1] by
tanh); the discriminator maps a sample to one raw score (the loss decides what it
means). On images the discriminator may start with a small conv stack.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnplay.models.activations import ACTIVATIONS
from nnplay.models.init import apply_init
from nnplay.models.network import Network
from nnplay.spec import (
    AvgPool2dLayer,
    BatchNormLayer,
    Conv2dLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    MaxPool2dLayer,
    ModelSpec,
)


class Generator(nn.Module):
    """Latent vectors `(m, latent_dim)` -> samples `(m, n_outputs)`."""

    def __init__(self, model: ModelSpec, latent_dim: int, n_outputs: int,
                 squash: bool) -> None:
        super().__init__()
        self.net = Network(model, latent_dim, n_outputs)
        self.squash = squash  # tanh on the output: image pixels live in [-1, 1]

    def forward(self, z: Tensor) -> Tensor:
        out = self.net(z)  # (m, n_outputs)
        return torch.tanh(out) if self.squash else out

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per block: kind, output shape, activation, parameters."""
        return [row.to_dict() for row in self.net.layer_summary()]


class ConvDiscriminator(nn.Module):
    """Images `(m, h * w)` -> scores `(m, 1)` through conv/pool blocks, then dense blocks."""

    def __init__(self, model: ModelSpec, image_shape: tuple[int, int]) -> None:
        super().__init__()
        self.image_shape = image_shape
        channels, (height, width) = 1, image_shape
        modules: list[nn.Module] = []
        rows: list[dict[str, Any]] = [_row("input", (1, height, width), None, [])]
        flat: int | None = None  # features once flattened
        for layer in model.layers:
            block: list[nn.Module] = []
            activation = None
            if isinstance(layer, DenseLayer | FlattenLayer) and flat is None:
                flat = channels * height * width
                block.append(nn.Flatten())
                if isinstance(layer, FlattenLayer):
                    rows.append(_row("flatten", (flat,), None, block))
                    modules += block
                    continue
            if isinstance(layer, Conv2dLayer):
                block += [nn.Conv2d(channels, layer.filters, layer.kernel_size, layer.stride,
                                    layer.padding), ACTIVATIONS[layer.activation].make()]
                channels = layer.filters
                height = (height + 2 * layer.padding - layer.kernel_size) // layer.stride + 1
                width = (width + 2 * layer.padding - layer.kernel_size) // layer.stride + 1
                kind, activation = "conv2d", layer.activation.value
            elif isinstance(layer, MaxPool2dLayer | AvgPool2dLayer):
                pool = nn.MaxPool2d if isinstance(layer, MaxPool2dLayer) else nn.AvgPool2d
                block.append(pool(layer.kernel_size))
                height, width = height // layer.kernel_size, width // layer.kernel_size
                kind = layer.type
            elif isinstance(layer, DenseLayer):
                assert flat is not None
                block += [nn.Linear(flat, layer.units), ACTIVATIONS[layer.activation].make()]
                flat, kind, activation = layer.units, "dense", layer.activation.value
            elif isinstance(layer, DropoutLayer):
                block.append(nn.Dropout(layer.p))
                kind = "dropout"
            elif isinstance(layer, BatchNormLayer):
                block.append(nn.BatchNorm1d(flat) if flat is not None
                             else nn.BatchNorm2d(channels))
                kind = "batchnorm"
            else:  # the spec validator refuses these on images
                raise ValueError(f"a discriminator cannot use layer type '{layer.type}'")
            shape = (flat,) if flat is not None else (channels, height, width)
            rows.append(_row(kind, shape, activation, block))
            modules += block
        if flat is None:
            flat = channels * height * width
            modules.append(nn.Flatten())
        output = nn.Linear(flat, 1)
        modules.append(output)
        rows.append(_row("output", (1,), None, [output]))
        self.body = nn.Sequential(*modules)
        self._rows = rows
        apply_init(self, model.init)

    def forward(self, x: Tensor) -> Tensor:
        height, width = self.image_shape
        return self.body(x.reshape(-1, 1, height, width))  # (m, 1)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per block: kind, output shape, activation, parameters."""
        return list(self._rows)


def _row(kind: str, shape: tuple[int, ...], activation: str | None,
         modules: list[nn.Module]) -> dict[str, Any]:
    parameters = sum(p.numel() for module in modules for p in module.parameters())
    return {"kind": kind, "shape": "(m, " + ", ".join(str(n) for n in shape) + ")",
            "activation": activation, "parameters": parameters}


class Discriminator(nn.Module):
    """Samples `(m, n_inputs)` -> raw scores `(m, 1)`: a dense `Network` or a conv stack."""

    def __init__(self, model: ModelSpec, n_inputs: int,
                 image_shape: tuple[int, int] | None = None) -> None:
        super().__init__()
        convolutional = any(isinstance(layer, Conv2dLayer | MaxPool2dLayer | AvgPool2dLayer
                                       | FlattenLayer) for layer in model.layers)
        if convolutional and image_shape is None:
            raise ValueError("conv and pooling layers need image data")
        self.net: Network | ConvDiscriminator = (
            ConvDiscriminator(model, image_shape) if convolutional and image_shape is not None
            else Network(model, n_inputs, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (m, 1)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per block: kind, output shape, activation, parameters."""
        if isinstance(self.net, ConvDiscriminator):
            return self.net.layer_rows()
        return [row.to_dict() for row in self.net.layer_summary()]


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["ConvDiscriminator", "Discriminator", "Generator", "parameter_count"]
