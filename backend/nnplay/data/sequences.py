"""Sequence data (kind `sequence`): sine waves, the memory task, trends and text.

This module owns how each sequence set is generated (deterministic in `dataset.seed`),
the shipped text (`texts/sonnets.txt`: Shakespeare's Sonnets 1, 12, 18, 29, 30, 55,
60, 73, 116 and 130, first printed in 1609, in the public domain), the character
vocabulary of a text run, and `SequenceDataset`, the split tensors a run trains on.

Shapes: inputs `(n, time, features)` float32; targets `(n,)` (many_to_one) or
`(n, time)` (many_to_many): class ids int64 or values float32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from nnplay.spec import DatasetName, DatasetSpec, ExperimentSpec, SequenceMode, Task

TEXT_FILE = Path(__file__).parent / "texts" / "sonnets.txt"
SINES_COMPONENTS = 3  # sine waves summed by the `sines` set
TREND_SLOPE = 0.05  # per step drift of a `trend` sequence, against noise of 0.1 + noise

FloatArray = npt.NDArray[np.float32]


@functools.cache
def shipped_text() -> str:
    """The text the `text` set trains on when the person gives none."""
    return TEXT_FILE.read_text(encoding="utf-8")


def text_of(data: DatasetSpec) -> str:
    """The text of a `text` run: the person's own, or the shipped one."""
    return data.text if data.text is not None else shipped_text()


def text_vocabulary(data: DatasetSpec) -> str:
    """The distinct characters of the run's text, sorted: class id i is character i."""
    return "".join(sorted(set(text_of(data))))


@dataclass(frozen=True, eq=False)
class SequenceDataset:
    """A split sequence set, all tensors on the CPU."""

    name: str
    n_classes: int  # 0 for regression (sine, sines)
    seq_len: int
    features: int  # inputs per time step
    x_train: Tensor  # (n_train, time, features) float32
    y_train: Tensor  # (n_train,) or (n_train, time)
    x_test: Tensor
    y_test: Tensor
    vocabulary: str = ""  # text runs: class id -> character

    @property
    def n_inputs(self) -> int:
        """Numbers per sequence."""
        return self.seq_len * self.features

    @property
    def input_shape(self) -> tuple[int, int]:
        """One sample as the network sees it: `(time, features)`."""
        return (self.seq_len, self.features)


def _waves(data: DatasetSpec, rng: np.random.Generator, n: int, length: int) -> FloatArray:
    """`n` windows of `length` values of the set's wave, random phases, noise added."""
    steps = np.arange(length)[None, :]  # (1, length)
    if data.name == DatasetName.sine:
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        wave = np.sin(2 * np.pi * data.frequency * steps + phase)
    else:  # sines: fixed frequencies and amplitudes per dataset seed, random phases
        waves = np.random.default_rng(data.seed + 1)
        freqs = data.frequency * np.array([1.0, *waves.uniform(0.3, 2.5, SINES_COMPONENTS - 1)])
        amps = np.array([1.0, *waves.uniform(0.3, 0.8, SINES_COMPONENTS - 1)])
        phase = rng.uniform(0, 2 * np.pi, (n, SINES_COMPONENTS, 1))
        parts = np.sin(2 * np.pi * freqs[None, :, None] * steps[:, None, :] + phase)
        wave = (amps[None, :, None] * parts).sum(axis=1) / amps.sum()
    wave = wave + rng.normal(0.0, 0.1 * data.noise, wave.shape)
    return wave.astype(np.float32)  # (n, length)


def _memory(data: DatasetSpec, rng: np.random.Generator, n: int) -> tuple[FloatArray, Tensor]:
    """A one-hot symbol at the first step, then `seq_len - 1` steps of noise (std `noise`);
    the answer is the symbol. Channel k flags the first step."""
    k, length = data.classes, data.seq_len
    symbols = rng.integers(0, k, n)
    x = rng.normal(0.0, data.noise, (n, length, k + 1)).astype(np.float32)
    x[:, 0] = 0.0
    x[np.arange(n), 0, symbols] = 1.0
    x[:, 0, k] = 1.0
    return x, torch.from_numpy(symbols.astype(np.int64))


def _trend(data: DatasetSpec, rng: np.random.Generator, n: int) -> tuple[FloatArray, Tensor]:
    """Random walks drifting up (class 1) or down (class 0)."""
    labels = rng.integers(0, 2, n)
    drift = np.where(labels == 1, TREND_SLOPE, -TREND_SLOPE)[:, None]
    steps = drift + rng.normal(0.0, 0.1 + data.noise, (n, data.seq_len))
    walk = np.cumsum(steps, axis=1)
    walk -= walk[:, :1]
    return walk[:, :, None].astype(np.float32), torch.from_numpy(labels.astype(np.int64))


def _text(data: DatasetSpec, rng: np.random.Generator, n: int,
          per_step: bool) -> tuple[FloatArray, Tensor, str]:
    """`n` windows of the text at random offsets: one-hot characters, next characters."""
    text, vocabulary = text_of(data), text_vocabulary(data)
    ids = np.array([vocabulary.index(c) for c in text], dtype=np.int64)
    length = data.seq_len
    starts = rng.integers(0, len(text) - length - 1, n)
    window = ids[starts[:, None] + np.arange(length + 1)[None, :]]  # (n, length + 1)
    x = np.eye(len(vocabulary), dtype=np.float32)[window[:, :-1]]
    y = window[:, 1:] if per_step else window[:, -1]
    return x, torch.from_numpy(np.ascontiguousarray(y)), vocabulary


def build_sequence_dataset(spec: ExperimentSpec) -> SequenceDataset:
    """Generate, split and return the spec's sequence set."""
    data = spec.dataset
    rng = np.random.default_rng(data.seed)
    n, length = data.n_samples, data.seq_len
    per_step = spec.sequence_mode == SequenceMode.many_to_many
    vocabulary = ""
    if data.name in (DatasetName.sine, DatasetName.sines):
        wave = _waves(data, rng, n, length + 1)  # the next value of each step is its target
        x = wave[:, :-1, None]
        y = torch.from_numpy(np.ascontiguousarray(wave[:, 1:] if per_step else wave[:, -1]))
    elif data.name == DatasetName.memory:
        x, y = _memory(data, rng, n)
    elif data.name == DatasetName.trend:
        x, y = _trend(data, rng, n)
    else:
        x, y, vocabulary = _text(data, rng, n, per_step)
    inputs = torch.from_numpy(np.ascontiguousarray(x))
    n_train = spec.train_size
    n_classes = 0 if spec.task == Task.regression else (
        len(vocabulary) if vocabulary else 2 if data.name == DatasetName.trend else data.classes)
    return SequenceDataset(
        name=data.name.value, n_classes=n_classes, seq_len=length, features=x.shape[2],
        x_train=inputs[:n_train], y_train=y[:n_train], x_test=inputs[n_train:],
        y_test=y[n_train:], vocabulary=vocabulary)
