"""Recurrent layers as modules: `Recurrent` (PyTorch's RNN, GRU or LSTM, batch first,
with truncated backpropagation through time) and `LastStep` (many_to_one), plus
`unroll`, the same cells stepped by hand so probes can read every gate.

Shapes: inputs `(m, time, features)`, outputs `(m, time, units)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

# Gate names in PyTorch's weight order; the cell state follows for an LSTM.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": (), "gru": ("reset", "update"), "lstm": ("input", "forget", "output", "cell")}
# An LSTM's forget gates start near open (sigmoid(3) = 0.95), so memory reaches back
# tens of steps from the start (Gers et al. 2000; Jozefowicz et al. 2015 use 1).
FORGET_BIAS = 3.0
_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class Recurrent(nn.Module):
    """One spec layer of `num_layers` stacked cells; returns the top cell's hidden states."""

    def __init__(self, cell: str, features: int, units: int, num_layers: int = 1,
                 dropout: float = 0.0, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.cell = cell
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = _CELLS[cell](features, units, num_layers, batch_first=True,
                                dropout=dropout if num_layers > 1 else 0.0, **extra)
        self.nonlinearity = nonlinearity
        if cell == "lstm":  # forget gates start open: a fresh LSTM keeps its memory
            with torch.no_grad():
                for index in range(num_layers):
                    getattr(self.rnn, f"bias_ih_l{index}")[units:2 * units].fill_(FORGET_BIAS)
        self.bptt = 0  # truncated BPTT: gradients flow back at most this many steps (0: all)

    def forward(self, x: Tensor) -> Tensor:
        """`(m, time, features)` -> `(m, time, units)`, starting from a zero state."""
        if not self.training or not self.bptt or self.bptt >= x.shape[1]:
            out, _ = self.rnn(x)
            return out
        outputs, state = [], None
        for start in range(0, x.shape[1], self.bptt):
            out, state = self.rnn(x[:, start:start + self.bptt], state)
            outputs.append(out)
            # The state goes on, its history does not: gradients stop at the chunk's start.
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) \
                else state.detach()
        return torch.cat(outputs, dim=1)


class LastStep(nn.Module):
    """`(m, time, units)` -> `(m, units)`: the last step (many_to_one)."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, -1]


@dataclass
class Unrolled:
    """A `Recurrent` layer stepped by hand on one batch: per step tensors of its top cell."""

    hidden: list[Tensor]  # time x (m, units), each a graph leaf's descendant (grads kept)
    gates: dict[str, Tensor]  # name -> (m, time, units)

    def output(self) -> Tensor:
        """The hidden states as the layer's output `(m, time, units)`."""
        return torch.stack(self.hidden, dim=1)


def unroll(layer: Recurrent, x: Tensor) -> Unrolled:
    """Step `layer` over `x` (m, time, features) with its own weights, in eval mode.

    Gives what `layer(x)` gives in eval mode, and the top cell's gates; each hidden state
    `retain_grad`s so the loss gradient at every step can be read after `backward`.
    """
    rnn, inputs = layer.rnn, x
    m, length = x.shape[0], x.shape[1]
    gates: dict[str, list[Tensor]] = {}
    hidden: list[Tensor] = []
    for index in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{index}"), getattr(rnn, f"weight_hh_l{index}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{index}"), getattr(rnn, f"bias_hh_l{index}")
        h = x.new_zeros(m, rnn.hidden_size)
        c = x.new_zeros(m, rnn.hidden_size)
        top = index == rnn.num_layers - 1
        gates = {name: [] for name in GATES[layer.cell]}
        hidden = []
        for t in range(length):
            gi = inputs[:, t] @ w_ih.T + b_ih
            gh = h @ w_hh.T + b_hh
            if layer.cell == "lstm":
                i, f, g, o = (gi + gh).chunk(4, dim=1)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                c = f * c + i * g
                h = o * torch.tanh(c)
                step = {"input": i, "forget": f, "output": o, "cell": c}
            elif layer.cell == "gru":
                ir, iz, inn = gi.chunk(3, dim=1)
                hr, hz, hn = gh.chunk(3, dim=1)
                r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = torch.tanh(inn + r * hn)
                h = (1 - z) * n + z * h
                step = {"reset": r, "update": z}
            else:
                h = torch.relu(gi + gh) if layer.nonlinearity == "relu" else torch.tanh(gi + gh)
                step = {}
            if top and h.requires_grad:
                h.retain_grad()
            hidden.append(h)
            for name, value in step.items():
                gates[name].append(value)
        inputs = torch.stack(hidden, dim=1)
    return Unrolled(hidden, {name: torch.stack(values, dim=1).detach()
                             for name, values in gates.items()})
