"""The network: a feed-forward `nn.Module` built from a `ModelSpec`, with views for the page.

This module owns how layer specs become PyTorch modules, which activations count as
"hidden" (for per-neuron heatmaps) and the per-layer shape/parameter summary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from torch import Tensor, nn

from nnplay.models.activations import ACTIVATIONS
from nnplay.models.init import apply_init
from nnplay.spec import BatchNormLayer, DenseLayer, DropoutLayer, ModelSpec

LayerKind = Literal["input", "dense", "dropout", "batchnorm", "output"]

# Layer types the spec knows but a 2-D (m, features) network cannot build, and why.
_UNSUPPORTED: dict[str, str] = {
    "conv2d": "image data",
    "maxpool2d": "image data",
    "avgpool2d": "image data",
    "flatten": "image data",
    "rnn": "sequence data",
    "gru": "sequence data",
    "lstm": "sequence data",
}


@dataclass(frozen=True)
class LayerSummary:
    """One row of the "tensor shapes and parameter counts per layer" table."""

    kind: LayerKind
    units: int  # width of the block's output tensor
    activation: str | None  # spec name of the activation, None where there is none
    parameters: int  # trainable parameters of the block

    @property
    def shape(self) -> str:
        """The block's output shape, with `m` standing for the batch size."""
        return f"(m, {self.units})"

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {**asdict(self), "shape": self.shape}


@dataclass(frozen=True)
class _Block:
    # Where one spec layer lives in the internal Sequential: modules [start, stop).
    kind: LayerKind
    start: int
    stop: int
    units: int
    activation: str | None


class Network(nn.Module):
    """A stack of dense/dropout/batchnorm blocks and a final linear output layer."""

    def __init__(self, model: ModelSpec, n_inputs: int, n_outputs: int) -> None:
        super().__init__()
        if n_inputs < 1 or n_outputs < 1:
            raise ValueError(
                f"a network needs at least one input and one output (got {n_inputs} inputs, "
                f"{n_outputs} outputs)"
            )
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        modules: list[nn.Module] = []
        blocks: list[_Block] = []
        width = n_inputs
        for index, layer in enumerate(model.layers):
            start = len(modules)
            if isinstance(layer, DenseLayer):
                modules.append(nn.Linear(width, layer.units))
                modules.append(ACTIVATIONS[layer.activation].make())
                width = layer.units
                blocks.append(_Block("dense", start, len(modules), width, layer.activation.value))
            elif isinstance(layer, DropoutLayer):
                modules.append(nn.Dropout(layer.p))
                blocks.append(_Block("dropout", start, len(modules), width, None))
            elif isinstance(layer, BatchNormLayer):
                modules.append(nn.BatchNorm1d(width))
                blocks.append(_Block("batchnorm", start, len(modules), width, None))
            else:
                needs = _UNSUPPORTED.get(layer.type, "a data kind nnplay cannot build yet")
                raise ValueError(
                    f"model.layers.{index}: layer type '{layer.type}' needs {needs}; "
                    "2-D datasets take 'dense', 'dropout' and 'batchnorm' layers"
                )
        start = len(modules)
        modules.append(nn.Linear(width, n_outputs))  # no activation: the loss head applies it
        blocks.append(_Block("output", start, len(modules), n_outputs, None))
        self.body = nn.Sequential(*modules)
        self._blocks = tuple(blocks)
        # Indices in `body` whose outputs are post-activation dense hidden layers.
        self._hidden_taps = frozenset(b.stop - 1 for b in blocks if b.kind == "dense")
        apply_init(self, model.init)

    def forward(self, x: Tensor) -> Tensor:
        """Map a batch `(m, n_inputs)` to raw outputs `(m, n_outputs)`."""
        return self.body(x)

    def forward_with_hidden(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Return the output and the post-activation output `(m, units)` of every dense layer."""
        hidden: list[Tensor] = []
        h = x  # (m, n_inputs)
        for index, module in enumerate(self.body):
            h = module(h)
            if index in self._hidden_taps:
                hidden.append(h)  # (m, units)
        return h, hidden  # (m, n_outputs), [(m, units_1), ...]

    def dense_layers(self) -> list[nn.Linear]:
        """The Linear layers in order, the output layer last."""
        return [module for module in self.body if isinstance(module, nn.Linear)]

    def hidden_widths(self) -> list[int]:
        """Units of each dense hidden layer, in order (the widths `forward_with_hidden` gives)."""
        return [b.units for b in self._blocks if b.kind == "dense"]

    def layer_summary(self, n_inputs: int | None = None) -> list[LayerSummary]:
        """One row per block, from the input through the output layer."""
        if n_inputs is not None and n_inputs != self.n_inputs:
            raise ValueError(f"this network takes {self.n_inputs} inputs, not {n_inputs}")
        modules = list(self.body)
        rows = [LayerSummary("input", self.n_inputs, None, 0)]
        for block in self._blocks:
            parameters = sum(
                p.numel()
                for module in modules[block.start : block.stop]
                for p in module.parameters()
            )
            rows.append(LayerSummary(block.kind, block.units, block.activation, parameters))
        return rows

    def parameter_count(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def build_network(model: ModelSpec, n_inputs: int, n_outputs: int) -> Network:
    """Build the network for `model` with `n_inputs` features and `n_outputs` outputs."""
    return Network(model, n_inputs, n_outputs)


__all__ = ["LayerKind", "LayerSummary", "Network", "build_network"]
