"""Recurrent layers as modules: `Recurrent` (PyTorch's RNN, GRU or LSTM, batch first,
with truncated backpropagation through time) and `LastStep` (many_to_one), plus
`trace`, the same cells read out whole so probes can see every gate and the loss
gradient at every step.

Shapes: inputs `(m, time, features)`, outputs `(m, time, units)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

# Gate names in PyTorch's weight order; the cell state follows for an LSTM.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": (), "gru": ("reset", "update"), "lstm": ("input", "forget", "output", "cell")}
# An LSTM's forget gates start near open (sigmoid(3) = 0.95), so memory reaches back
# tens of steps from the start (Gers et al. 2000; Jozefowicz et al. 2015 use 1).
FORGET_BIAS = 3.0
_CELLS: dict[str, Any] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class Recurrent(nn.Module):
    """One spec layer of `num_layers` stacked cells; returns the top cell's hidden states."""

    def __init__(self, cell: str, features: int, units: int, num_layers: int = 1,
                 dropout: float = 0.0, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.cell = cell
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn: nn.RNNBase = _CELLS[cell](features, units, num_layers, batch_first=True,
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
class Trace:
    """A `Recurrent` layer run on one batch for probes: its top cell, read out whole.

    `output` is in an autograd graph whose leaf is `drive`, zeros added to the top cell's
    input pre-activations: `torch.autograd.grad(loss, (trace.output, trace.drive))` gives
    what `hidden_gradients` needs.
    """

    output: Tensor  # (m, time, units) the top cell's hidden states h_t
    # (m, time, g * units) zeros, requires grad (g: 1 rnn, 3 gru, 4 lstm); None when
    # traced without gradients (`output` is then no graph's)
    drive: Tensor | None
    gates: dict[str, Tensor]  # name -> (m, time, units), detached
    cell: str
    w_hh: Tensor  # (g * units, units) the top cell's recurrent weights, detached


def _weights(rnn: nn.RNNBase, index: int) -> list[Tensor]:
    return [getattr(rnn, f"{name}_l{index}").detach()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _run(layer: Recurrent, x: Tensor, params: list[Tensor], num_layers: int,
         train: bool = False) -> Tensor:
    """PyTorch's own kernel for `num_layers` stacked cells from a zero state, no dropout
    (`train`: a backward pass will follow; cuDNN differentiates only a training run)."""
    rnn = layer.rnn
    h0 = x.new_zeros(num_layers, x.shape[0], rnn.hidden_size)
    if layer.cell == "lstm":
        return torch.lstm(x, (h0, h0), params, True, num_layers, 0.0, train, False, True)[0]
    run = torch.gru if layer.cell == "gru" else \
        torch.rnn_relu if layer.nonlinearity == "relu" else torch.rnn_tanh
    return run(x, h0, params, True, num_layers, 0.0, train, False, True)[0]


def linear_scan(decay: Tensor, drive: Tensor) -> Tensor:
    """`s_t = decay_t * s_{t-1} + drive_t` from `s_{-1} = 0` along dim 1 of `(m, time, n)`,
    in log2(time) whole-tensor steps (a doubling scan) instead of one Python step per t."""
    a, s = decay, drive
    k, length = 1, drive.shape[1]
    while k < length:
        s = torch.cat([s[:, :k], torch.addcmul(s[:, k:], a[:, k:], s[:, :-k])], dim=1)
        a = torch.cat([a[:, :k], a[:, k:] * a[:, :-k]], dim=1)
        k *= 2
    return s


def trace(layer: Recurrent, x: Tensor, gradients: bool = True) -> Trace:
    """Run `layer` on `x` `(m, time, features)` as in eval mode, reading the top cell out
    (`gradients`: ready for `hidden_gradients`, else no autograd graph at all).

    Hidden states come from PyTorch's own kernel (cells below the top one in one call,
    the top one in another); the gates and an LSTM's cell state are then recomputed for
    every step at once from the top cell's input and its previous hidden states (batched
    matmuls and a doubling scan, no per-step Python).
    """
    rnn = layer.rnn
    top = rnn.num_layers - 1
    with torch.no_grad():
        below = [w for index in range(top) for w in _weights(rnn, index)]
        inputs = _run(layer, x, below, top) if top else x  # (m, time, top's input width)
    w_ih, w_hh, b_ih, b_hh = _weights(rnn, top)
    drive = None
    if gradients:
        width = w_ih.shape[0]  # g * units
        drive = x.new_zeros(x.shape[0], x.shape[1], width, requires_grad=True)
        # The drive enters as extra inputs with identity weights: d loss / d drive is then
        # d loss / d (the top cell's pre-activations), which the fused backward computes.
        wide = torch.cat([w_ih, torch.eye(width, dtype=w_ih.dtype, device=w_ih.device)],
                         dim=1)
        output = _run(layer, torch.cat([inputs, drive], dim=2), [wide, w_hh, b_ih, b_hh], 1,
                      train=True)
    with torch.no_grad():
        if drive is None:
            output = _run(layer, inputs, [w_ih, w_hh, b_ih, b_hh], 1)
        h = output.detach()
        previous = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # h_{t-1}
        gi = torch.matmul(inputs, w_ih.T) + b_ih  # (m, time, g * units)
        gh = torch.matmul(previous, w_hh.T) + b_hh
        gates: dict[str, Tensor] = {}
        if layer.cell == "lstm":
            i, f, g, o = (gi + gh).chunk(4, dim=2)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            gates = {"input": i, "forget": f, "output": o, "cell": linear_scan(f, i * g)}
        elif layer.cell == "gru":
            ir, iz, _ = gi.chunk(3, dim=2)
            hr, hz, _ = gh.chunk(3, dim=2)
            gates = {"reset": (ir + hr).sigmoid(), "update": (iz + hz).sigmoid()}
    return Trace(output, drive, gates, layer.cell, w_hh)


def hidden_gradients(probe: Trace, d_output: Tensor, d_drive: Tensor) -> Tensor:
    """d loss / d h_t `(m, time, units)` for every step of the top cell, everything h_t
    reaches counted (later steps too), from d loss / d `output` (the layers above) and
    d loss / d `drive` (the cell's pre-activations).

    h_{t-1} enters step t through `w_hh` (and a GRU's update gate passes it on as is):
    rnn, lstm: dh_{t-1} = d_output_{t-1} + d_pre_t @ w_hh;
    gru: dh_{t-1} = d_output_{t-1} + [d_r, d_z, r_t * d_n]_t @ w_hh + z_t * dh_t.
    """
    later = d_drive[:, 1:]  # step t's pre-activation gradients, for h_{t-1}
    if probe.cell == "gru":
        d_r, d_z, d_n = later.chunk(3, dim=2)
        later = torch.cat([d_r, d_z, probe.gates["reset"][:, 1:] * d_n], dim=2)
    through = torch.matmul(later, probe.w_hh)  # (m, time - 1, units)
    grads = d_output + torch.cat([through, torch.zeros_like(d_output[:, :1])], dim=1)
    if probe.cell != "gru":
        return grads
    # The update gate's carry runs backwards in time: scan the reversed sequence.
    carry = torch.cat([probe.gates["update"][:, 1:], torch.zeros_like(d_output[:, :1])], dim=1)
    return linear_scan(carry.flip(1), grads.flip(1)).flip(1)
