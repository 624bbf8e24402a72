"""The network: a feed-forward `nn.Module` built from a `ModelSpec`, with views for the page.

This module owns how layer specs become PyTorch modules, which activations count as
"hidden" (for per-neuron heatmaps) and the per-layer shape/parameter summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from nnplay.models.init import apply_init, set_classic_kernels
from nnplay.models.layers import Shape, build_stack
from nnplay.models.recurrent import Recurrent
from nnplay.spec import ModelSpec

# "input", "output" or a layer type of the registry (`nnplay.models.layers.LAYER_TYPES`).
LayerKind = str


@dataclass(frozen=True)
class LayerSummary:
    """One row of the "tensor shapes and parameter counts per layer" table."""

    kind: LayerKind
    units: int  # size of the block's output tensor per sample
    activation: str | None  # spec name of the activation, None where there is none
    parameters: int  # trainable parameters of the block
    dims: Shape = ()  # output shape per sample where it is not flat, e.g. (8, 6, 6)

    @property
    def shape(self) -> str:
        """The block's output shape, with `m` standing for the batch size."""
        return "(m, " + ", ".join(str(n) for n in (self.dims or (self.units,))) + ")"

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {"kind": self.kind, "units": self.units, "activation": self.activation,
                "parameters": self.parameters, "shape": self.shape,
                "dims": list(self.dims or (self.units,))}


class Network(nn.Module):
    """A stack of registry layers (`build_stack`) and a final linear output layer."""

    def __init__(self, model: ModelSpec, n_inputs: int, n_outputs: int,
                 input_shape: Shape | None = None, where: str = "model",
                 per_step: bool = False, bptt: int = 0) -> None:
        super().__init__()
        if n_inputs < 1 or n_outputs < 1:
            raise ValueError(
                f"a network needs at least one input and one output (got {n_inputs} inputs, "
                f"{n_outputs} outputs)"
            )
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        # Image networks reshape their flat input (m, c * h * w) to (m, c, h, w) first.
        self.input_shape: Shape = input_shape or (n_inputs,)
        if math.prod(self.input_shape) != n_inputs:
            raise ValueError(f"input shape {self.input_shape} does not hold {n_inputs} inputs")
        # Sequence networks (input (time, features)) answer at the last step, or at every
        # step where `per_step` (many_to_many): outputs (m * time, n_outputs), step-major.
        self.per_step = per_step
        stack = build_stack(model.layers, self.input_shape, n_outputs, where, per_step)
        self.body = nn.Sequential(*stack.modules)
        self._blocks = tuple(stack.blocks[1:])
        # Indices in `body` whose outputs are post-activation dense hidden layers.
        self._hidden_taps = frozenset(b.stop - 1 for b in self._blocks if b.probe == "neurons")
        apply_init(self, model.init)
        for module in self.body:
            if isinstance(module, Recurrent):
                module.bptt = bptt
        for layer, block in zip(model.layers, self._blocks, strict=False):
            conv = self.body[block.start]
            if getattr(layer, "kernels", "learned") == "classic" and \
                    isinstance(conv, nn.Conv2d):
                set_classic_kernels(conv)

    def forward(self, x: Tensor) -> Tensor:
        """Map a batch `(m, n_inputs)` to raw outputs `(m, n_outputs)` (`(m * time,
        n_outputs)` for a per-step sequence network)."""
        if len(self.input_shape) > 1:
            out: Tensor = self.body(x.reshape(-1, *self.input_shape))
            return out.reshape(-1, self.n_outputs) if self.per_step else out
        return self.body(x)

    def recurrent_layers(self) -> list[tuple[int, Recurrent]]:
        """`(index in body, module)` of every recurrent layer, in order."""
        return [(index, module) for index, module in enumerate(self.body)
                if isinstance(module, Recurrent)]

    def forward_with_hidden(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Return the output and the post-activation output `(m, units)` of every dense layer."""
        hidden: list[Tensor] = []
        h = x.reshape(-1, *self.input_shape) if len(self.input_shape) > 1 else x  # (m, ...)
        for index, module in enumerate(self.body):
            h = module(h)
            if index in self._hidden_taps:
                hidden.append(h)  # (m, units)
        return h, hidden  # (m, n_outputs), [(m, units_1), ...]

    def feature_map_layers(self) -> list[tuple[int, str]]:
        """`(index in body, layer type)` of the last module of every conv and pool layer."""
        return [(b.stop - 1, b.kind) for b in self._blocks if b.probe == "feature_maps"]

    def conv_layers(self) -> list[nn.Conv2d]:
        """The Conv2d layers in order."""
        return [module for module in self.body if isinstance(module, nn.Conv2d)]

    def dense_layers(self) -> list[nn.Linear]:
        """The Linear layers in order, the output layer last."""
        return [module for module in self.body if isinstance(module, nn.Linear)]

    def hidden_widths(self) -> list[int]:
        """Units of each dense hidden layer, in order (the widths `forward_with_hidden` gives)."""
        return [b.shape[0] for b in self._blocks if b.probe == "neurons"]

    def layer_summary(self, n_inputs: int | None = None) -> list[LayerSummary]:
        """One row per block, from the input through the output layer."""
        if n_inputs is not None and n_inputs != self.n_inputs:
            raise ValueError(f"this network takes {self.n_inputs} inputs, not {n_inputs}")
        rows = [_row("input", self.input_shape, None, 0)]
        rows += [_row(b.kind, b.shape, b.activation, b.parameters) for b in self._blocks]
        return rows

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def _row(kind: str, shape: Shape, activation: str | None, parameters: int) -> LayerSummary:
    return LayerSummary(kind, math.prod(shape), activation, parameters,
                        shape if len(shape) > 1 else ())


def stack_rows(model: ModelSpec, input_shape: Shape, n_outputs: int) -> list[dict[str, Any]]:
    """The summary rows of `model` built on `input_shape` (input through output layer)."""
    network = Network(model, math.prod(input_shape), n_outputs, input_shape)
    return [row.to_dict() for row in network.layer_summary()]


def build_network(model: ModelSpec, n_inputs: int, n_outputs: int) -> Network:
    """Build the network for `model` with `n_inputs` features and `n_outputs` outputs."""
    return Network(model, n_inputs, n_outputs)


__all__ = ["LayerKind", "LayerSummary", "Network", "build_network", "stack_rows"]
