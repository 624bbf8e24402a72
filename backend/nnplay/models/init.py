"""Weight-initialisation registry: every `Init` of the spec and `apply_init` for a network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from nnplay.spec import Init

# Layers that carry a weight matrix (or kernel) and a bias; Conv2d is ready for image data.
WeightLayer = nn.Linear | nn.Conv2d


@dataclass(frozen=True)
class InitInfo:
    """One initialisation scheme: spec name, page label, one-sentence description and applier."""

    name: Init
    label: str
    description: str
    apply: Callable[[WeightLayer], None]


def _zero_bias(layer: WeightLayer) -> None:
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def _keep_default(layer: WeightLayer) -> None:
    # PyTorch already initialised the layer at construction (Kaiming-uniform with a=sqrt(5)).
    del layer


def _zeros(layer: WeightLayer) -> None:
    nn.init.zeros_(layer.weight)
    _zero_bias(layer)


def _normal(layer: WeightLayer) -> None:
    nn.init.normal_(layer.weight, mean=0.0, std=1.0)
    _zero_bias(layer)


def _uniform(layer: WeightLayer) -> None:
    nn.init.uniform_(layer.weight, -1.0, 1.0)
    _zero_bias(layer)


def _xavier_uniform(layer: WeightLayer) -> None:
    nn.init.xavier_uniform_(layer.weight)
    _zero_bias(layer)


def _xavier_normal(layer: WeightLayer) -> None:
    nn.init.xavier_normal_(layer.weight)
    _zero_bias(layer)


def _kaiming_uniform(layer: WeightLayer) -> None:
    nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
    _zero_bias(layer)


def _kaiming_normal(layer: WeightLayer) -> None:
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    _zero_bias(layer)


INITS: dict[Init, InitInfo] = {
    info.name: info
    for info in (
        InitInfo(
            Init.default,
            "PyTorch default",
            "Keeps PyTorch's own initialisation (uniform, scaled by 1/sqrt(fan_in)).",
            _keep_default,
        ),
        InitInfo(
            Init.zeros,
            "Zeros",
            "All weights and biases start at zero, so every unit of a layer stays identical.",
            _zeros,
        ),
        InitInfo(
            Init.normal,
            "Normal (std 1)",
            "Weights drawn from N(0, 1), deliberately large so sigmoid and tanh units saturate.",
            _normal,
        ),
        InitInfo(
            Init.uniform,
            "Uniform (-1, 1)",
            "Weights drawn from U(-1, 1), ignoring the layer's fan-in.",
            _uniform,
        ),
        InitInfo(
            Init.xavier_uniform,
            "Xavier uniform",
            "Glorot's uniform scheme keeps activation variance steady for tanh-like units.",
            _xavier_uniform,
        ),
        InitInfo(
            Init.xavier_normal,
            "Xavier normal",
            "Glorot's normal scheme keeps activation variance steady for tanh-like units.",
            _xavier_normal,
        ),
        InitInfo(
            Init.kaiming_uniform,
            "Kaiming uniform",
            "He's uniform scheme scales by fan-in to keep ReLU activations from shrinking.",
            _kaiming_uniform,
        ),
        InitInfo(
            Init.kaiming_normal,
            "Kaiming normal",
            "He's normal scheme scales by fan-in to keep ReLU activations from shrinking.",
            _kaiming_normal,
        ),
    )
}


# Hand-made 3x3 kernels a conv layer may start from (`kernels: "classic"`), in this order.
CLASSIC_KERNELS: dict[str, list[list[float]]] = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "blur": [[1 / 9] * 3] * 3,
    "horizontal edge": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "vertical edge": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}


def set_classic_kernels(conv: nn.Conv2d) -> None:
    """Give output channel o the o-th classic kernel (cycled; centred in larger kernels),
    shared evenly by the input channels, and a zero bias."""
    out_channels, in_channels, size, _ = conv.weight.shape
    kernels = list(CLASSIC_KERNELS.values())
    with torch.no_grad():
        conv.weight.zero_()
        for o in range(out_channels):
            kernel = torch.tensor(kernels[o % len(kernels)], dtype=conv.weight.dtype)
            if size < 3:
                kernel = kernel[1:1 + size, 1:1 + size]
            start = (size - kernel.shape[0]) // 2
            conv.weight[o, :, start:start + kernel.shape[0], start:start + kernel.shape[1]] = \
                kernel / in_channels
        if conv.bias is not None:
            conv.bias.zero_()


def apply_init(network: nn.Module, init: Init) -> None:
    """Initialise every Linear and Conv2d layer of `network` in place with scheme `init`."""
    apply = INITS[init].apply
    for module in network.modules():
        if isinstance(module, nn.Linear | nn.Conv2d):
            apply(module)
