"""The layer registry: everything nnplay knows about each layer type, in one entry per type.

The spec models (field names, defaults, limits) stay in `nnplay.spec`; an entry here
references its model and adds how the layer is built, how it changes the tensor shape,
its row in the shapes table, its parameter count, where probes read it and what the
page needs to build its controls. `build_stack` is the one builder every network uses.

Shapes are per sample, without the batch: `(features,)` flat, `(channels, h, w)` image,
`(time, features)` sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from torch import nn

from nnplay.models.activations import ACTIVATIONS
from nnplay.models.recurrent import GATES, LastStep, Recurrent
from nnplay.spec import (
    AvgPool2dLayer,
    BatchNormLayer,
    Conv2dLayer,
    DenseLayer,
    DropoutLayer,
    FlattenLayer,
    LayerBase,
    LayerSpec,
    MaxPool2dLayer,
    RecurrentLayer,
    Shape,
    stack_shapes,
)

Probe = Literal["neurons", "feature_maps", "hidden_state"]


@dataclass(frozen=True)
class LayerType:
    """One layer type: its spec model, builder, shape rule, summary, parameters and probes.

    What input it takes and the shape it gives are the spec model's (`takes`, `needs`,
    `out_shape`), so the validator and the builder share one rule.
    """

    name: str
    label: str
    model: type[LayerBase]
    build: Callable[[Any, Shape], list[nn.Module]]  # modules for one layer on input `shape`
    parameters: Callable[[Any, Shape], int]  # trainable parameters on input `shape`
    describe: Callable[[Any], str] = field(default=lambda layer: layer.type)  # "8 tanh"
    probe: Probe | None = None  # which probe reads this layer's output
    activation: Callable[[Any], str | None] = field(default=lambda layer: None)

    @property
    def takes(self) -> str:
        """"flat" (an image is flattened first), "image", "any" or "sequence"."""
        return self.model.takes

    def out_shape(self, layer: Any, shape: Shape) -> Shape:
        """The output shape of `layer` on input `shape` (raises `ShrinksError`)."""
        shape_out: Shape = layer.out_shape(shape)
        return shape_out

    def catalog(self) -> dict[str, Any]:
        """What the page needs to build this layer's controls: each field's type and range."""
        fields = [_field_entry(name, info) for name, info in self.model.model_fields.items()
                  if name != "type"]
        return {"name": self.name, "label": self.label, "takes": self.takes,
                "probe": self.probe, "fields": [entry["name"] for entry in fields],
                "controls": fields}


def _field_entry(name: str, info: Any) -> dict[str, Any]:
    """A spec field as a control: type, default, min/max and choices."""
    annotation = info.annotation
    entry: dict[str, Any] = {"name": name}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        entry["type"] = "choice"
        entry["choices"] = [member.value for member in annotation]
        entry["default"] = info.default.value
        return entry
    if get_origin(annotation) is Literal:  # e.g. conv2d's kernels: "learned" or "classic"
        entry["type"] = "choice"
        entry["choices"] = list(get_args(annotation))
        entry["default"] = info.default
        return entry
    if get_origin(annotation) in (Union, UnionType) and type(None) in get_args(annotation):
        # An optional field, e.g. a pool's stride: null (the default) means what the
        # field's description says ("same as kernel_size").
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        entry["nullable"] = True
        if info.description:
            entry["null_means"] = info.description
    entry["type"] = {bool: "bool", int: "int", float: "float"}.get(annotation, "str")
    entry["default"] = info.default
    for rule in info.metadata:
        for attr, key in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
            if getattr(rule, attr, None) is not None:
                entry[key] = getattr(rule, attr)
    return entry


def _flat(shape: Shape) -> int:
    return math.prod(shape)


def _none(layer: Any, shape: Shape) -> int:
    del layer, shape
    return 0


def _dense_build(layer: DenseLayer, shape: Shape) -> list[nn.Module]:
    return [nn.Linear(_flat(shape), layer.units), ACTIVATIONS[layer.activation].make()]


def _conv_build(layer: Conv2dLayer, shape: Shape) -> list[nn.Module]:
    return [nn.Conv2d(shape[0], layer.filters, layer.kernel_size, layer.stride, layer.padding),
            ACTIVATIONS[layer.activation].make()]


def _pool_describe(layer: MaxPool2dLayer | AvgPool2dLayer) -> str:
    """"maxpool2d 2x2", with " stride 1" when the windows overlap or skip pixels."""
    text = f"{layer.type} {layer.kernel_size}x{layer.kernel_size}"
    return text if layer.step == layer.kernel_size else f"{text} stride {layer.step}"


def _batchnorm_build(layer: BatchNormLayer, shape: Shape) -> list[nn.Module]:
    del layer
    return [nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])]


def _recurrent_build(layer: RecurrentLayer, shape: Shape) -> list[nn.Module]:
    if len(shape) != 2:
        raise ValueError(f"layer type '{layer.type}' needs sequence data (got shape {shape})")
    return [Recurrent(layer.type, shape[1], layer.units, layer.num_layers, layer.dropout,
                      layer.nonlinearity)]


def _recurrent_parameters(layer: RecurrentLayer, shape: Shape) -> int:
    # Per cell: gate blocks of (inputs + units) x units weights and two biases of units.
    blocks = {"rnn": 1, "gru": 3, "lstm": 4}[layer.type]
    first = blocks * (layer.units * (shape[-1] + layer.units) + 2 * layer.units)
    rest = blocks * (layer.units * 2 * layer.units + 2 * layer.units)
    return first + (layer.num_layers - 1) * rest


def _recurrent_describe(layer: RecurrentLayer) -> str:
    stacked = f"{layer.num_layers}x" if layer.num_layers > 1 else ""
    relu = " relu" if layer.type == "rnn" and layer.nonlinearity == "relu" else ""
    return f"{stacked}{layer.type} {layer.units}{relu}"


LAYER_TYPES: dict[str, LayerType] = {
    entry.name: entry
    for entry in (
        LayerType("dense", "Dense", DenseLayer, _dense_build,
                  lambda layer, shape: (_flat(shape) + 1) * layer.units,
                  lambda layer: f"{layer.units} {layer.activation.value}", probe="neurons",
                  activation=lambda layer: layer.activation.value),
        LayerType("conv2d", "Conv 2-D", Conv2dLayer, _conv_build,
                  lambda layer, shape: (shape[0] * layer.kernel_size ** 2 + 1) * layer.filters,
                  probe="feature_maps", activation=lambda layer: layer.activation.value),
        LayerType("maxpool2d", "Max pool", MaxPool2dLayer,
                  lambda layer, shape: [nn.MaxPool2d(layer.kernel_size, layer.step)], _none,
                  _pool_describe, probe="feature_maps"),
        LayerType("avgpool2d", "Average pool", AvgPool2dLayer,
                  lambda layer, shape: [nn.AvgPool2d(layer.kernel_size, layer.step)], _none,
                  _pool_describe, probe="feature_maps"),
        LayerType("flatten", "Flatten", FlattenLayer, lambda layer, shape: [nn.Flatten()],
                  _none),
        LayerType("dropout", "Dropout", DropoutLayer, lambda layer, shape: [nn.Dropout(layer.p)],
                  _none, lambda layer: f"dropout {layer.p:g}"),
        LayerType("batchnorm", "Batch norm", BatchNormLayer, _batchnorm_build,
                  lambda layer, shape: 2 * shape[0]),
        *(LayerType(name, label, RecurrentLayer, _recurrent_build, _recurrent_parameters,
                    _recurrent_describe, probe="hidden_state",
                    activation=lambda layer: layer.nonlinearity if layer.type == "rnn"
                    else None)
          for name, label in (("rnn", "RNN"), ("gru", "GRU"), ("lstm", "LSTM"))),
    )
}


def layer_type(layer: LayerSpec) -> LayerType:
    """The registry entry of a layer spec."""
    return LAYER_TYPES[layer.type]


def spatial(layers: Sequence[LayerSpec]) -> bool:
    """Whether a stack has layers that read images as images (conv, pool, flatten)."""
    return any(layer_type(layer).takes == "image" or layer.type == "flatten"
               for layer in layers)


@dataclass(frozen=True)
class Block:
    """Where one layer lives in a built stack: modules [start, stop) and what it gives."""

    kind: str  # the layer type, "input" or "output"
    start: int
    stop: int
    shape: Shape  # output shape per sample
    activation: str | None
    parameters: int
    probe: Probe | None = None


@dataclass
class Stack:
    """A built stack of layers: its modules, one block per layer, and the output shape."""

    modules: list[nn.Module]
    blocks: list[Block]
    shape: Shape


def build_stack(layers: Sequence[LayerSpec], input_shape: Shape, n_outputs: int,
                where: str = "model", per_step: bool = False) -> Stack:
    """Modules for `layers` on `input_shape`, then a linear output layer of `n_outputs`.

    The output layer has no activation (the loss head or the caller applies it). On a
    sequence, flat layers after the recurrent ones read the last step (`LastStep` is
    implied) or, where `per_step` (many_to_many), every step: the output is then
    `(time, n_outputs)`.
    """
    stack_shapes(layers, input_shape, where, per_step=per_step)  # refuses impossible stacks
    modules: list[nn.Module] = []
    blocks = [Block("input", 0, 0, input_shape, None, 0)]
    shape = input_shape
    sequence = len(input_shape) == 2
    for layer in layers:
        entry = layer_type(layer)
        start = len(modules)
        shape = _flat_input(entry.takes, shape, sequence, per_step, modules)
        step_shape = shape[1:] if sequence and len(shape) == 2 and entry.takes == "flat" \
            else shape  # a per-step layer sees one step
        parameters = entry.parameters(layer, step_shape)
        modules += entry.build(layer, step_shape)
        out = entry.out_shape(layer, step_shape)
        shape = (shape[0], *out) if step_shape is not shape else out
        blocks.append(Block(entry.name, start, len(modules), shape, entry.activation(layer),
                            parameters, entry.probe))
    start = len(modules)
    shape = _flat_input("flat", shape, sequence, per_step, modules)
    modules.append(nn.Linear(shape[-1], n_outputs))
    out_shape = (shape[0], n_outputs) if len(shape) == 2 else (n_outputs,)
    blocks.append(Block("output", start, len(modules), out_shape, None,
                        (shape[-1] + 1) * n_outputs))
    return Stack(modules, blocks, out_shape)


def _flat_input(takes: str, shape: Shape, sequence: bool, per_step: bool,
                modules: list[nn.Module]) -> Shape:
    """The shape a layer taking `takes` reads, appending the implied flatten or last step."""
    if takes != "flat" or len(shape) == 1:
        return shape
    if sequence and per_step:
        return shape  # applied at every step: nn.Linear reads the last axis
    if sequence:
        modules.append(LastStep())  # part of this layer's block
        return (shape[-1],)
    modules.append(nn.Flatten())  # the implied flatten, part of this layer's block
    return (_flat(shape),)


def describe_layers(layers: Sequence[LayerSpec]) -> str:
    """The hidden layers in a few characters, e.g. '8 tanh → 8 tanh → dropout 0.2'."""
    return " → ".join(layer_type(layer).describe(layer) for layer in layers) or "no hidden layer"


def layer_catalog(names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Catalog entries of the named layer types (all by default; each says what it takes)."""
    chosen = names if names is not None else list(LAYER_TYPES)
    return [LAYER_TYPES[name].catalog() for name in chosen]


__all__ = ["GATES", "LAYER_TYPES", "Block", "LayerType", "Stack", "build_stack",
           "describe_layers", "layer_catalog", "layer_type", "spatial", "stack_shapes"]
