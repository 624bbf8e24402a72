"""Probes of a sequence network: hidden state, gates, prediction and the loss gradient
through time for one probe sequence, and for text runs a generated sample.

A snapshot reads the first recurrent layer whole (`nnplay.models.recurrent.trace`: its
hidden states from PyTorch's own kernel, the gates recomputed for all steps at once),
runs the rest of the body on its hidden states, and takes the probe's loss gradient with
respect to each step's hidden state from one fused backward pass: how much the loss
still "hears" of step t. Two parts cost more than the rest and change slowly, so while
a run streams they are renewed less often and reused in between, each saying the step
that made it: the gradient norms (a backward pass through time) at most every
`GRADIENT_SECONDS`, a text sample (a forward pass per character) every `SAMPLE_SECONDS`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from nnplay.data.sequences import SequenceDataset
from nnplay.models.network import Network
from nnplay.models.recurrent import GATES, hidden_gradients, trace
from nnplay.train.events import RnnSnapshot
from nnplay.train.generate import generate_text
from nnplay.train.heads import Head
from nnplay.train.probes import to_uint8

SAMPLE_LENGTH = 60  # characters of the `sample` frame
SAMPLE_TEMPERATURE = 0.8
SAMPLE_SECONDS = 1.0  # a new text sample at most this often: 60 forward passes each
GRADIENT_SECONDS = 0.2  # new gradient norms at most this often while a run streams

V = TypeVar("V")


@dataclass(frozen=True)
class Kept(Generic[V]):
    """A probe part renewed less often than the frames: the probe sequence and step it
    was made for, and when."""

    index: int
    step: int
    made: float  # time.monotonic()
    value: V

    def reusable(self, index: int, step: int, fresh: bool, period: float) -> bool:
        """Whether it still stands for probe `index` at `step` (`fresh`: only if made now)."""
        return self.index == index and (self.step == step or (
            not fresh and time.monotonic() - self.made < period))


class RnnProber:
    """Takes snapshots of one sequence network on one sequence dataset."""

    def __init__(self, network: Network, dataset: SequenceDataset, head: Head,
                 device: torch.device) -> None:
        self.network = network
        self.dataset = dataset
        self.head = head
        self.device = device
        self.index = 0
        # Probe sequences come from the test set (the training set where there is none).
        self.x, self.y = (dataset.x_test, dataset.y_test) if dataset.x_test.shape[0] \
            else (dataset.x_train, dataset.y_train)
        first, self._layer = network.recurrent_layers()[0]
        modules = list(network.body)
        self._before, self._after = modules[:first], modules[first + 1:]
        # Eval mode only changes dropout and batch norm (the trace itself always runs as in
        # eval mode): skip the switch, a walk over every module twice, where neither is.
        self._mode_matters = any(
            isinstance(m, nn.Dropout | nn.BatchNorm1d | nn.BatchNorm2d)
            or (isinstance(m, nn.RNNBase) and m.dropout > 0) for m in network.modules())
        self._norms: Kept[np.ndarray] | None = None  # float32 (time,)
        self._text: Kept[str] | None = None

    def set_probe(self, index: int) -> None:
        """Probe test sequence `index`."""
        if not 0 <= index < self.x.shape[0]:
            raise ValueError(f"index: the test set has {self.x.shape[0]} sequences; use 0 to "
                             f"{self.x.shape[0] - 1}")
        self.index = index

    def forget(self) -> None:
        """The weights changed outside training (a checkpoint): renew everything."""
        self._norms = self._text = None

    def snapshot(self, step: int, fresh: bool = True) -> RnnSnapshot:
        """Probe the network on the probe sequence now (eval mode where it matters); not
        `fresh` (a streaming run): gradient norms and text may be reused for a while."""
        network = self.network
        switch = self._mode_matters and network.training
        if switch:
            network.eval()
        try:
            return self._snapshot(step, fresh)
        finally:
            if switch:
                network.train()

    def _snapshot(self, step: int, fresh: bool) -> RnnSnapshot:
        x = self.x[self.index:self.index + 1].to(self.device)  # (1, time, features)
        y = self.y[self.index:self.index + 1].to(self.device)  # (1,) or (1, time)
        layer = self._layer
        with torch.no_grad():
            h = x
            for module in self._before:
                h = module(h)
        renew = self._norms is None or not self._norms.reusable(
            self.index, step, fresh, GRADIENT_SECONDS)
        with torch.set_grad_enabled(renew):
            probe = trace(layer, h, gradients=renew)
            out = probe.output
            for module in self._after:
                out = module(out)
            flat = out.reshape(-1, out.shape[-1])  # (time or 1, k)
            if renew:
                assert probe.drive is not None
                loss = self.head.loss(flat, self.head.targets(y.reshape(-1)))
                d_output, d_drive = torch.autograd.grad(loss, (probe.output, probe.drive))
        with torch.no_grad():
            if renew:
                grads = hidden_gradients(probe, d_output, d_drive)[0]  # (time, units)
                self._norms = Kept(self.index, step, time.monotonic(),
                                   grads.norm(dim=1).cpu().numpy().astype(np.float32))
            assert self._norms is not None
            hidden = probe.output[0].detach()  # (time, units)
            relu = layer.cell == "rnn" and layer.nonlinearity == "relu"
            hidden_range = (0.0, max(float(hidden.max()), 1e-6)) if relu else (-1.0, 1.0)
            gates, names, ranges = self._gates(layer.cell, probe.gates)
            sample, sample_step = self._sample(step, fresh)
            return RnnSnapshot(
                step=step, index=self.index, cell=layer.cell,
                hidden=to_uint8(hidden, *hidden_range).cpu().numpy(),
                hidden_range=hidden_range, gates=gates, gate_names=names, gate_ranges=ranges,
                sequence=self._sequence(x[0], y[0], flat.detach()),
                input_kind="value" if self.dataset.features == 1 else "symbol",
                classes=self.dataset.n_classes, gradient_norms=self._norms.value,
                gradient_step=self._norms.step, sample=sample, sample_step=sample_step)

    def _gates(self, cell: str, values: dict[str, Tensor]
               ) -> tuple[np.ndarray | None, tuple[str, ...], tuple[tuple[float, float], ...]]:
        names = GATES[cell]
        if not names:
            return None, (), ()
        parts, ranges = [], []
        for name in names:
            gate = values[name][0]  # (time, units)
            if name == "cell":  # the cell state is unbounded: symmetric about 0
                top = max(float(gate.abs().max()), 1e-6)
                value_range = (-top, top)
            else:
                value_range = (0.0, 1.0)
            parts.append(to_uint8(gate, *value_range).cpu())
            ranges.append(value_range)
        return torch.stack(parts).numpy(), names, tuple(ranges)

    def _sequence(self, x: Tensor, y: Tensor, out: Tensor) -> np.ndarray:
        """Rows input, target, prediction `(3, time)`; NaN where a step has no target."""
        length = x.shape[0]
        k = self.dataset.n_classes
        symbols = x[:, :k].argmax(dim=1) if self.dataset.features > 1 else x[:, 0]
        predicted = out.argmax(dim=1).float() if k else out[:, 0]
        rows = np.full((3, length), math.nan, dtype=np.float32)
        rows[0] = symbols.float().cpu().numpy()
        if y.dim() == 1:  # an answer at every step
            rows[1] = y.float().cpu().numpy()
            rows[2] = predicted.cpu().numpy()
        else:  # one answer, read after the last step
            rows[1, -1] = float(y)
            rows[2, -1] = float(predicted[-1])
        return rows

    def _sample(self, step: int, fresh: bool) -> tuple[str | None, int | None]:
        """Text generated after the probe sequence, and the step whose weights wrote it."""
        vocabulary = self.dataset.vocabulary
        if not vocabulary:
            return None, None
        kept = self._text
        if kept is None or not kept.reusable(self.index, step, fresh, SAMPLE_SECONDS):
            prompt_ids = self.x[self.index].argmax(dim=1).tolist()
            prompt = "".join(vocabulary[i] for i in prompt_ids)
            generator = torch.Generator().manual_seed(step)
            text = generate_text(self.network, vocabulary, self.dataset.seq_len, prompt,
                                 SAMPLE_LENGTH, SAMPLE_TEMPERATURE, generator)
            kept = self._text = Kept(self.index, step, time.monotonic(), text)
        return kept.value, kept.step
