"""The probes' fast read-out of a recurrent layer equals the layer stepped cell by cell.

`trace` recomputes the gates for all steps at once and `hidden_gradients` reads the loss
gradient at every step from one fused backward; the reference here steps PyTorch's own
cell modules (`nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell`, loaded with the layer's weights)
one step at a time and differentiates each hidden state by autograd, and the module's own
outputs (hidden states, an LSTM's final cell state) pin the reference to the module.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from nnplay.models.recurrent import GATES, Recurrent, hidden_gradients, linear_scan, trace

CELLS = [("lstm", "tanh"), ("gru", "tanh"), ("rnn", "tanh"), ("rnn", "relu")]
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _layer(cell: str, nonlinearity: str, num_layers: int) -> Recurrent:
    torch.manual_seed(7)
    layer = Recurrent(cell, 3, 5, num_layers, nonlinearity=nonlinearity)
    with torch.no_grad():  # livelier weights than the default init: gates far from 0.5
        for parameter in layer.parameters():
            parameter.mul_(2.5)
    return layer.eval()


def _stepped(layer: Recurrent, x: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
    """The top cell's hidden states (each keeping its gradient) and its gates `(1, time, u)`,
    stepping cell modules with the layer's weights one step at a time."""
    rnn, inputs = layer.rnn, x
    hidden: list[Tensor] = []
    gates: dict[str, list[Tensor]] = {}
    for index in range(rnn.num_layers):
        weights = [getattr(rnn, f"{name}_l{index}")
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        make = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}.get(layer.cell)
        module = make(inputs.shape[2], rnn.hidden_size) if make else \
            nn.RNNCell(inputs.shape[2], rnn.hidden_size, nonlinearity=layer.nonlinearity)
        with torch.no_grad():
            for target, source in zip(module.parameters(), weights, strict=True):
                target.copy_(source)
        h = c = x.new_zeros(1, rnn.hidden_size)
        hidden, gates = [], {name: [] for name in GATES[layer.cell]}
        for t in range(x.shape[1]):
            previous = h
            if layer.cell == "lstm":
                h, c = module(inputs[:, t], (h, c))
                i, f, _, o = (inputs[:, t] @ weights[0].T + weights[2]
                              + previous @ weights[1].T + weights[3]).sigmoid().chunk(4, dim=1)
                step = {"input": i, "forget": f, "output": o, "cell": c}
            else:
                h = module(inputs[:, t], h)
                step = {}
                if layer.cell == "gru":
                    r, z, _ = (inputs[:, t] @ weights[0].T + weights[2]).chunk(3, dim=1)
                    hr, hz, _ = (previous @ weights[1].T + weights[3]).chunk(3, dim=1)
                    step = {"reset": (r + hr).sigmoid(), "update": (z + hz).sigmoid()}
            h.retain_grad()
            hidden.append(h)
            for name, value in step.items():
                gates[name].append(value)
        inputs = torch.stack(hidden, dim=1)
    return hidden, {name: torch.stack(v, dim=1).detach() for name, v in gates.items()}


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_trace_gates_and_hidden_states_equal_the_cells_stepped_one_by_one(
        cell: str, nonlinearity: str, num_layers: int) -> None:
    layer = _layer(cell, nonlinearity, num_layers)
    x = torch.randn(1, 40, 3, generator=torch.Generator().manual_seed(1))
    probe = trace(layer, x)
    hidden, gates = _stepped(layer, x)
    with torch.no_grad():
        own, state = layer.rnn(x)  # the module's own forward
    torch.testing.assert_close(torch.stack(hidden, dim=1).detach(), own, **TOL)
    torch.testing.assert_close(probe.output.detach(), own, **TOL)
    assert list(probe.gates) == [name for name in GATES[cell]]
    for name, values in gates.items():
        torch.testing.assert_close(probe.gates[name], values, **TOL)
    if cell == "lstm":  # the module's own final cell state
        torch.testing.assert_close(probe.gates["cell"][:, -1], state[1][-1], **TOL)


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_hidden_gradients_equal_autograd_through_the_stepped_cells(
        cell: str, nonlinearity: str, num_layers: int, per_step: bool) -> None:
    """d loss / d h_t counts every path from h_t (later steps, the gates, a GRU's carry),
    for a loss read at the last step (many_to_one) or at every step (many_to_many)."""
    layer = _layer(cell, nonlinearity, num_layers)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(1, 30, 3, generator=generator)
    weights = torch.randn(30, 5, generator=generator)  # the loss's weight on each h_t
    if not per_step:
        weights[:-1] = 0

    def loss(output: Tensor) -> Tensor:
        return (output[0] * weights).sum() + (output[0, -1] ** 2).sum()

    hidden, _ = _stepped(layer, x)
    loss(torch.stack(hidden, dim=1)).backward()
    expected = torch.stack([h.grad for h in hidden if h.grad is not None], dim=1)
    probe = trace(layer, x)
    d_output, d_drive = torch.autograd.grad(loss(probe.output), (probe.output, probe.drive))
    got = hidden_gradients(probe, d_output, d_drive)
    assert expected.shape == got.shape == (1, 30, 5)
    torch.testing.assert_close(got, expected, **TOL)


def test_linear_scan_is_the_recurrence_step_by_step() -> None:
    generator = torch.Generator().manual_seed(3)
    decay = torch.rand(2, 37, 4, generator=generator)
    drive = torch.randn(2, 37, 4, generator=generator)
    state, expected = torch.zeros(2, 4), []
    for t in range(37):
        state = decay[:, t] * state + drive[:, t]
        expected.append(state)
    torch.testing.assert_close(linear_scan(decay, drive), torch.stack(expected, dim=1), **TOL)
