"""GAN pairs: the generator and the discriminator a GAN spec describes.

Both are built from `ModelSpec`s. The generator is a dense stack from the latent
vector to a sample (a 2-D point, or an image's pixels squashed into [-1, 1] by
tanh); the discriminator maps a sample to one raw score (the loss decides what it
means). On images the discriminator may start with a small conv stack. Both are
`Network`s, built by the layer registry's one builder.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from nnplay.models.layers import spatial
from nnplay.models.network import Network
from nnplay.spec import ModelSpec


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


class Discriminator(nn.Module):
    """Samples `(m, n_inputs)` -> raw scores `(m, 1)`: a dense `Network` or a conv stack."""

    def __init__(self, model: ModelSpec, n_inputs: int,
                 image_shape: tuple[int, int] | None = None) -> None:
        super().__init__()
        # Conv and pooling layers read the image as an image; a dense-only stack reads
        # its pixels as one flat vector (so its module indices stay those of a dense net).
        convolutional = spatial(model.layers)
        if convolutional and image_shape is None:
            raise ValueError("conv and pooling layers need image data")
        self.net = Network(model, n_inputs, 1,
                           (1, *image_shape) if convolutional and image_shape else None,
                           where="discriminator")

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # (m, 1)

    def layer_rows(self) -> list[dict[str, Any]]:
        """One row per block: kind, output shape, activation, parameters."""
        return [row.to_dict() for row in self.net.layer_summary()]


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["Discriminator", "Generator", "parameter_count"]
