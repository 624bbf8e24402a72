"""Tests for the activation registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnplay.models import ACTIVATIONS
from nnplay.spec import Activation


def test_every_activation_is_registered() -> None:
    assert set(ACTIVATIONS) == set(Activation)
    for name, info in ACTIVATIONS.items():
        assert info.name is name
        assert info.label


@pytest.mark.parametrize("name", list(Activation))
def test_activation_makes_a_fresh_module_that_keeps_shape(name: Activation) -> None:
    first, second = ACTIVATIONS[name].make(), ACTIVATIONS[name].make()
    assert isinstance(first, nn.Module)
    assert first is not second
    x = torch.linspace(-3, 3, 12).reshape(4, 3)  # (m, units)
    assert first(x).shape == x.shape


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        (Activation.linear, lambda x: x),
        (Activation.relu, torch.relu),
        (Activation.leaky_relu, lambda x: torch.where(x > 0, x, 0.01 * x)),
        (Activation.elu, torch.nn.functional.elu),
        (Activation.gelu, torch.nn.functional.gelu),
        (Activation.sigmoid, torch.sigmoid),
        (Activation.tanh, torch.tanh),
        (Activation.softplus, torch.nn.functional.softplus),
        (Activation.swish, lambda x: x * torch.sigmoid(x)),
    ],
)
def test_activation_computes_the_right_function(name: Activation, reference: object) -> None:
    x = torch.linspace(-4, 4, 41)
    assert callable(reference)
    torch.testing.assert_close(ACTIVATIONS[name].make()(x), reference(x))
