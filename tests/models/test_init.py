"""Tests for the initialisation registry and `apply_init`."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from nnplay.models import INITS, apply_init, build_network
from nnplay.spec import DenseLayer, Init, ModelSpec


def test_every_init_is_registered() -> None:
    assert set(INITS) == set(Init)
    for name, info in INITS.items():
        assert info.name is name
        assert info.label
        assert info.description.endswith(".")


@pytest.mark.parametrize("init", list(Init))
def test_init_applies_to_a_linear_layer(init: Init) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(64, 128)
    before = layer.weight.detach().clone()
    INITS[init].apply(layer)
    weight, bias = layer.weight.detach(), layer.bias.detach()
    assert torch.isfinite(weight).all()
    if init is Init.default:
        torch.testing.assert_close(weight, before)
        return
    assert (bias == 0).all()
    if init is Init.zeros:
        assert (weight == 0).all()
    else:
        assert not torch.equal(weight, before)


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [
        (Init.normal, 1.0),
        (Init.uniform, 1 / math.sqrt(3)),
        (Init.xavier_uniform, math.sqrt(2 / (200 + 300))),
        (Init.xavier_normal, math.sqrt(2 / (200 + 300))),
        (Init.kaiming_uniform, math.sqrt(2 / 200)),
        (Init.kaiming_normal, math.sqrt(2 / 200)),
    ],
)
def test_init_has_the_documented_scale(init: Init, expected_std: float) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(200, 300)  # fan_in 200, fan_out 300
    INITS[init].apply(layer)
    assert layer.weight.std().item() == pytest.approx(expected_std, rel=0.05)


def test_uniform_stays_inside_minus_one_one() -> None:
    layer = nn.Linear(50, 50)
    INITS[Init.uniform].apply(layer)
    assert layer.weight.abs().max().item() <= 1.0


def test_apply_init_reaches_every_linear_and_conv_layer() -> None:
    first, nested, conv = nn.Linear(3, 4), nn.Linear(4, 2), nn.Conv2d(1, 2, 3)
    network = nn.Sequential(first, nn.Tanh(), nn.Sequential(nested), conv)
    apply_init(network, Init.zeros)
    for module in (first, nested, conv):
        assert (module.weight == 0).all()
        assert module.bias is not None
        assert (module.bias == 0).all()


def _hidden_weight_after_training(init: Init, activation: str, steps: int = 200) -> torch.Tensor:
    # A small random two-class problem, trained with full-batch SGD.
    torch.manual_seed(0)
    x = torch.randn(64, 2)  # (m, 2)
    y = (x[:, 0] * x[:, 1] > 0).long()  # (m,)
    spec = ModelSpec(layers=[DenseLayer(units=5, activation=activation)], init=init)
    network = build_network(spec, n_inputs=2, n_outputs=2)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.5)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(network(x), y)
        loss.backward()
        optimizer.step()
    return network.dense_layers()[0].weight.detach()  # (units, 2)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_zeros_init_keeps_hidden_units_identical_under_training(activation: str) -> None:
    weight = _hidden_weight_after_training(Init.zeros, activation)
    for row in weight[1:]:
        torch.testing.assert_close(row, weight[0], rtol=0, atol=1e-6)
    if activation == "sigmoid":
        # sigmoid(0) = 0.5 lets gradients through: the weights move, but all together.
        assert weight.abs().max().item() > 1e-3


def test_xavier_init_gives_distinct_hidden_units() -> None:
    weight = _hidden_weight_after_training(Init.xavier_uniform, "sigmoid")
    distances = torch.cdist(weight, weight)  # (units, units)
    off_diagonal = distances[~torch.eye(len(weight), dtype=torch.bool)]
    assert off_diagonal.min().item() > 1e-3
