"""The layer registry: every layer type's builder, shape rule, parameter count and catalog."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from nnplay.models import Network
from nnplay.models.gan import Discriminator
from nnplay.models.layers import LAYER_TYPES, build_stack, describe_layers, layer_catalog
from nnplay.spec import LIMITS, ModelSpec, parse_spec, stack_shapes

# One spec per registered (non-recurrent) layer type, and the input shapes it is tried on.
CASES: list[tuple[dict[str, Any], tuple[int, ...]]] = [
    ({"type": "dense", "units": 7}, (5,)),
    ({"type": "dense", "units": 3}, (2, 6, 6)),  # implied flatten
    ({"type": "conv2d", "filters": 4, "kernel_size": 3}, (1, 8, 8)),
    ({"type": "conv2d", "filters": 6, "kernel_size": 5, "stride": 2, "padding": 2}, (3, 9, 7)),
    ({"type": "maxpool2d", "kernel_size": 2}, (3, 7, 8)),
    ({"type": "avgpool2d", "kernel_size": 3}, (2, 9, 9)),
    ({"type": "maxpool2d", "kernel_size": 3, "stride": 1}, (2, 8, 7)),  # overlapping windows
    ({"type": "avgpool2d", "kernel_size": 2, "stride": 3}, (1, 9, 8)),  # skipping pixels
    ({"type": "flatten"}, (4, 3, 3)),
    ({"type": "dropout", "p": 0.5}, (6,)),
    ({"type": "dropout", "p": 0.5}, (2, 4, 4)),
    ({"type": "batchnorm"}, (6,)),
    ({"type": "batchnorm"}, (3, 4, 4)),
]


def _layer(data: dict[str, Any]) -> Any:
    return ModelSpec.model_validate({"layers": [data]}).layers[0]


def test_every_registered_layer_type_is_exercised() -> None:
    tried = {data["type"] for data, _ in CASES}
    assert tried == {name for name, entry in LAYER_TYPES.items() if entry.takes != "sequence"}


@pytest.mark.parametrize(("data", "shape"), CASES,
                         ids=[f"{d['type']}-{'x'.join(map(str, s))}" for d, s in CASES])
def test_builder_matches_shape_rule_and_parameter_count(data: dict[str, Any],
                                                        shape: tuple[int, ...]) -> None:
    layer = _layer(data)
    stack = build_stack([layer], shape, n_outputs=2)
    block = stack.blocks[1]
    body = nn.Sequential(*stack.modules[block.start:block.stop]).train()
    out = body(torch.randn(4, *shape))  # a real batch of 4
    assert tuple(out.shape[1:]) == block.shape == stack_shapes([layer], shape)[0]
    torch_parameters = sum(p.numel() for m in stack.modules[block.start:block.stop]
                           for p in m.parameters())
    assert block.parameters == torch_parameters


@pytest.mark.parametrize("kind", ["rnn", "gru", "lstm"])
def test_recurrent_layers_stay_in_the_spec_and_ask_for_sequences(kind: str) -> None:
    layer = _layer({"type": kind, "units": 16})
    assert LAYER_TYPES[kind].model is type(layer)
    with pytest.raises(ValueError, match=f"layer type '{kind}' needs sequence data"):
        stack_shapes([layer], (5,))
    with pytest.raises(ValueError, match="needs sequence data; images take"):
        stack_shapes([layer], (1, 8, 8), "discriminator")


@pytest.mark.parametrize(("layers", "expected"), [
    ([{"type": "conv2d", "kernel_size": 7}, {"type": "maxpool2d", "kernel_size": 3}],
     "model.layers.1.kernel_size 3 does not fit the 2x2 feature map"),
    ([{"type": "maxpool2d", "kernel_size": 2}, {"type": "maxpool2d", "kernel_size": 2},
      {"type": "conv2d", "kernel_size": 3}],
     "model.layers.2.kernel_size 3 does not fit the 2x2 feature map it gets (padding 0)"),
    ([{"type": "avgpool2d", "kernel_size": 4}, {"type": "avgpool2d", "kernel_size": 3}],
     "model.layers.1.kernel_size 3 does not fit the 2x2 feature map"),
])
def test_a_shrinking_stack_is_refused_naming_the_layer_and_shapes(
        layers: list[dict[str, Any]], expected: str) -> None:
    model = ModelSpec.model_validate({"layers": layers})
    with pytest.raises(ValueError) as caught:
        stack_shapes(model.layers, (1, 8, 8))
    assert expected in str(caught.value)
    with pytest.raises(ValueError, match="does not fit"):  # the builder refuses it too
        Network(model, 64, 10, input_shape=(1, 8, 8))


def test_a_conv_stack_network_reports_every_layer_shape() -> None:
    model = ModelSpec.model_validate({"layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": 1},
        {"type": "maxpool2d", "kernel_size": 2}, {"units": 16, "activation": "relu"}]})
    network = Network(model, 64, 10, input_shape=(1, 8, 8))
    rows = [row.to_dict() for row in network.layer_summary()]
    assert [(r["kind"], r["shape"]) for r in rows] == [
        ("input", "(m, 1, 8, 8)"), ("conv2d", "(m, 4, 8, 8)"), ("maxpool2d", "(m, 4, 4, 4)"),
        ("dense", "(m, 16)"), ("output", "(m, 10)")]
    assert sum(r["parameters"] for r in rows) == network.parameter_count()
    assert network(torch.randn(3, 64)).shape == (3, 10)  # flat pixels in, reshaped inside


def test_conv_discriminator_keeps_its_checkpoint_layout() -> None:
    """Stored GAN checkpoints name modules by index: the one builder must keep them."""
    model = ModelSpec.model_validate({"layers": [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": 1},
        {"type": "maxpool2d", "kernel_size": 2}, {"type": "flatten"}, {"units": 32}]})
    keys = list(Discriminator(model, 64, (8, 8)).state_dict())
    assert keys == ["net.body.0.weight", "net.body.0.bias", "net.body.4.weight",
                    "net.body.4.bias", "net.body.6.weight", "net.body.6.bias"]
    dense = ModelSpec.model_validate({"layers": [{"units": 32}]})
    assert next(iter(Discriminator(dense, 64, (8, 8)).state_dict())) == "net.body.0.weight"


def test_catalog_entries_carry_the_spec_fields_and_limits() -> None:
    entries = {entry["name"]: entry for entry in layer_catalog()}
    assert set(entries) == {"dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "dropout",
                            "batchnorm", "rnn", "gru", "lstm"}
    lstm = {control["name"]: control for control in entries["lstm"]["controls"]}
    assert entries["lstm"]["takes"] == "sequence" and entries["lstm"]["probe"] == "hidden_state"
    assert lstm["num_layers"]["max"] == LIMITS.max_recurrent_layers
    assert lstm["nonlinearity"]["choices"] == ["tanh", "relu"]
    conv = {control["name"]: control for control in entries["conv2d"]["controls"]}
    assert conv["filters"] == {"name": "filters", "type": "int", "default": 8, "min": 1,
                               "max": LIMITS.max_filters}
    assert conv["kernel_size"]["max"] == LIMITS.max_kernel_size
    assert "relu" in conv["activation"]["choices"] and conv["activation"]["type"] == "choice"
    assert entries["conv2d"]["fields"] == ["filters", "kernel_size", "stride", "padding",
                                           "activation", "kernels"]
    assert entries["dropout"]["controls"][0]["max"] == LIMITS.max_dropout
    assert entries["flatten"]["controls"] == []
    assert math.isclose(entries["dropout"]["controls"][0]["default"], 0.2)


@pytest.mark.parametrize(("data", "shape", "expected"), [
    ({"type": "maxpool2d", "kernel_size": 2}, (4, 9, 8), (4, 4, 4)),  # stride = kernel
    ({"type": "maxpool2d", "kernel_size": 3, "stride": 1}, (4, 9, 8), (4, 7, 6)),
    ({"type": "avgpool2d", "kernel_size": 3, "stride": 2}, (4, 9, 8), (4, 4, 3)),
    ({"type": "avgpool2d", "kernel_size": 2, "stride": 3}, (4, 9, 8), (4, 3, 3)),
])
def test_pool_stride_gives_h_minus_k_over_s_plus_1(data: dict[str, Any], shape: tuple[int, ...],
                                                   expected: tuple[int, ...]) -> None:
    layer = _layer(data)
    assert stack_shapes([layer], shape)[0] == expected
    out = build_stack([layer], shape, n_outputs=2).modules[0](torch.randn(1, *shape))
    assert tuple(out.shape[1:]) == expected


@pytest.mark.parametrize("stride", [0, LIMITS.max_kernel_size + 1])
def test_a_pool_stride_out_of_range_is_refused_naming_the_layer(stride: int) -> None:
    with pytest.raises(ValueError) as caught:
        parse_spec({"task": "classification", "dataset": {"name": "digits", "n_samples": 300},
                    "model": {"layers": [{"type": "conv2d"},
                                         {"type": "avgpool2d", "stride": stride}]}})
    assert (f"model.layers.1.stride: must be between 1 and {LIMITS.max_kernel_size} "
            f"(got {stride})") in str(caught.value)


def test_the_pool_stride_control_is_an_int_that_defaults_to_the_kernel_size() -> None:
    for name in ("maxpool2d", "avgpool2d"):
        controls = {c["name"]: c for c in LAYER_TYPES[name].catalog()["controls"]}
        assert controls["stride"] == {
            "name": "stride", "type": "int", "default": None, "nullable": True,
            "null_means": "same as kernel_size", "min": 1, "max": LIMITS.max_kernel_size}
    assert describe_layers([_layer({"type": "maxpool2d"}),
                            _layer({"type": "avgpool2d", "kernel_size": 3, "stride": 1})]) \
        == "maxpool2d 2x2 → avgpool2d 3x3 stride 1"
