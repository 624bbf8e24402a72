"""Activation registry: every `Activation` of the spec, its page label and its module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from torch import nn

from nnplay.spec import Activation


@dataclass(frozen=True)
class ActivationInfo:
    """One activation function: spec name, label for the page and a module factory."""

    name: Activation
    label: str
    make: Callable[[], nn.Module]


ACTIVATIONS: dict[Activation, ActivationInfo] = {
    info.name: info
    for info in (
        ActivationInfo(Activation.linear, "Linear", nn.Identity),
        ActivationInfo(Activation.relu, "ReLU", nn.ReLU),
        ActivationInfo(Activation.leaky_relu, "Leaky ReLU", partial(nn.LeakyReLU, 0.01)),
        ActivationInfo(Activation.elu, "ELU", nn.ELU),
        ActivationInfo(Activation.gelu, "GELU", nn.GELU),
        ActivationInfo(Activation.sigmoid, "Sigmoid", nn.Sigmoid),
        ActivationInfo(Activation.tanh, "Tanh", nn.Tanh),
        ActivationInfo(Activation.softplus, "Softplus", nn.Softplus),
        ActivationInfo(Activation.swish, "Swish (SiLU)", nn.SiLU),
    )
}
