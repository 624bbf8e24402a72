"""Tests for `build_network` and the `Network` views."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nnplay.models import LayerSummary, Network, build_network
from nnplay.spec import (
    Activation,
    BatchNormLayer,
    Conv2dLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    Init,
    MaxPool2dLayer,
    ModelSpec,
    RecurrentLayer,
)

MIXED = ModelSpec(
    layers=[
        DenseLayer(units=8, activation=Activation.relu),
        BatchNormLayer(),
        DropoutLayer(p=0.3),
        DenseLayer(units=5, activation=Activation.tanh),
        DenseLayer(units=3, activation=Activation.linear),
    ]
)


def _build(model: ModelSpec, n_inputs: int = 4, n_outputs: int = 3) -> Network:
    torch.manual_seed(0)
    return build_network(model, n_inputs, n_outputs)


def _expected_parameters(model: ModelSpec, n_inputs: int, n_outputs: int) -> int:
    total, width = 0, n_inputs
    for layer in model.layers:
        if isinstance(layer, DenseLayer):
            total += (width + 1) * layer.units
            width = layer.units
        elif isinstance(layer, BatchNormLayer):
            total += 2 * width
    return total + (width + 1) * n_outputs


@pytest.mark.parametrize(
    "model",
    [
        ModelSpec(),
        ModelSpec(layers=[]),
        MIXED,
        ModelSpec(layers=[DenseLayer(units=256)] * 3),
    ],
    ids=["default", "no-hidden", "mixed", "wide"],
)
@pytest.mark.parametrize(("n_inputs", "n_outputs"), [(2, 1), (7, 5)])
def test_shapes_and_parameter_count(model: ModelSpec, n_inputs: int, n_outputs: int) -> None:
    network = _build(model, n_inputs, n_outputs)
    x = torch.randn(11, n_inputs)  # (m, n_inputs)
    assert network(x).shape == (11, n_outputs)
    expected = _expected_parameters(model, n_inputs, n_outputs)
    assert network.parameter_count() == expected
    summary = network.layer_summary(n_inputs)
    assert sum(row.parameters for row in summary) == expected


def test_forward_with_hidden_gives_one_post_activation_tensor_per_dense_layer() -> None:
    network = _build(MIXED).eval()
    x = torch.randn(6, 4)
    with torch.no_grad():
        output, hidden = network.forward_with_hidden(x)
        torch.testing.assert_close(output, network(x))
    assert [h.shape for h in hidden] == [(6, 8), (6, 5), (6, 3)]
    assert network.hidden_widths() == [8, 5, 3]
    assert (hidden[0] >= 0).all()  # after ReLU
    assert hidden[1].abs().max() <= 1  # after tanh
    # The first hidden layer is exactly relu(linear(x)).
    first = network.dense_layers()[0]
    torch.testing.assert_close(hidden[0], torch.relu(first(x)))


def test_no_hidden_layers_is_a_single_linear_map() -> None:
    network = _build(ModelSpec(layers=[]), 2, 1)
    output, hidden = network.forward_with_hidden(torch.randn(3, 2))
    assert hidden == []
    assert output.shape == (3, 1)
    assert len(network.dense_layers()) == 1


def test_output_layer_has_no_activation() -> None:
    network = _build(ModelSpec(layers=[DenseLayer(units=4, activation=Activation.sigmoid)]))
    assert isinstance(network.body[-1], nn.Linear)
    with torch.no_grad():
        network.dense_layers()[-1].bias.fill_(100.0)
        assert (network(torch.randn(5, 4)) > 50).all()


def test_dense_layers_are_in_order_and_include_the_output() -> None:
    layers = _build(MIXED).dense_layers()
    assert [(lin.in_features, lin.out_features) for lin in layers] == [
        (4, 8),
        (8, 5),
        (5, 3),
        (3, 3),
    ]


def test_layer_summary_rows() -> None:
    summary = _build(MIXED).layer_summary(4)
    assert [(r.kind, r.units, r.activation, r.parameters) for r in summary] == [
        ("input", 4, None, 0),
        ("dense", 8, "relu", 40),
        ("batchnorm", 8, None, 16),
        ("dropout", 8, None, 0),
        ("dense", 5, "tanh", 45),
        ("dense", 3, "linear", 18),
        ("output", 3, None, 12),
    ]
    row = summary[1]
    assert isinstance(row, LayerSummary)
    assert row.shape == "(m, 8)"
    assert row.to_dict() == {
        "kind": "dense",
        "units": 8,
        "activation": "relu",
        "parameters": 40,
        "shape": "(m, 8)",
        "dims": [8],
    }


def test_layer_summary_refuses_a_different_input_width() -> None:
    with pytest.raises(ValueError, match="takes 4 inputs"):
        _build(MIXED).layer_summary(2)


def test_dropout_is_active_in_train_and_off_in_eval() -> None:
    model = ModelSpec(layers=[DenseLayer(units=64), DropoutLayer(p=0.5)])
    network = _build(model, 2, 1)
    x = torch.randn(32, 2)
    network.train()
    assert not torch.equal(network(x), network(x))
    network.eval()
    torch.testing.assert_close(network(x), network(x))
    without = _build(ModelSpec(layers=[DenseLayer(units=64)]), 2, 1).eval()
    torch.testing.assert_close(network(x), without(x))


def test_batchnorm_normalises_in_train_mode() -> None:
    network = _build(ModelSpec(layers=[DenseLayer(units=6), BatchNormLayer()]), 3, 1).train()
    x = 5 + 3 * torch.randn(200, 3)
    hidden = network.body[:3](x)  # (m, 6) after linear, tanh, batchnorm
    torch.testing.assert_close(hidden.mean(0), torch.zeros(6), atol=1e-5, rtol=0)


def test_init_is_applied_at_construction() -> None:
    network = _build(ModelSpec(init=Init.zeros))
    for layer in network.dense_layers():
        assert (layer.weight == 0).all()
        assert (layer.bias == 0).all()


def test_same_seed_builds_the_same_network() -> None:
    first, second = _build(MIXED), _build(MIXED)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("layer", "needs"),
    [
        (Conv2dLayer(), "image data"),
        (MaxPool2dLayer(), "image data"),
        (FlattenLayer(), "image data"),
        (RecurrentLayer(type="lstm"), "sequence data"),
    ],
)
def test_unsupported_layer_types_give_a_clear_error(layer: object, needs: str) -> None:
    model = ModelSpec.model_validate({"layers": [DenseLayer(units=3), layer]})
    with pytest.raises(ValueError, match=f"model.layers.1: layer type '.*' needs {needs}"):
        build_network(model, 2, 1)


def test_conv2d_error_message() -> None:
    with pytest.raises(ValueError, match="layer type 'conv2d' needs image data"):
        build_network(ModelSpec(layers=[Conv2dLayer()]), 2, 1)


def test_widths_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one input"):
        build_network(ModelSpec(), 0, 1)


def test_forward_is_as_fast_as_a_plain_sequential() -> None:
    network = _build(ModelSpec(layers=[DenseLayer(units=8)] * 2), 2, 1)
    # forward must be the internal Sequential and nothing else.
    x = torch.randn(10, 2)
    torch.testing.assert_close(network(x), network.body(x))
    assert isinstance(network.body, nn.Sequential)
