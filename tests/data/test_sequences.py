"""Sequence sets: shapes, targets and determinism in the seed (`nnplay.data.sequences`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from nnplay.data.sequences import build_sequence_dataset, shipped_text, text_vocabulary
from nnplay.spec import parse_spec


def _data(name: str, task: str = "regression", **extra: Any) -> Any:
    mode = extra.pop("sequence_mode", "many_to_one")
    return build_sequence_dataset(parse_spec({
        "task": task, "sequence_mode": mode, "dataset": {"name": name, "n_samples": 50,
                                                         "seq_len": 12, **extra},
        "model": {"layers": [{"type": "lstm"}]}}))


@pytest.mark.parametrize("name", ["sine", "sines"])
def test_waves_predict_the_next_value(name: str) -> None:
    many = _data(name, sequence_mode="many_to_many")
    assert many.x_train.shape == (25, 12, 1) and many.y_train.shape == (25, 12)
    # The target at step t is the input at step t + 1.
    assert torch.equal(many.y_train[:, :-1], many.x_train[:, 1:, 0])
    one = _data(name)
    assert one.y_train.shape == (25,) and one.n_classes == 0
    assert torch.equal(one.x_train, _data(name).x_train)  # same seed, same data
    assert not torch.equal(one.x_train, _data(name, seed=1).x_train)


def test_sine_frequency_sets_the_period() -> None:
    data = _data("sine", frequency=0.25, sequence_mode="many_to_many")
    wave = torch.cat([data.x_train[0, :, 0], data.y_train[0, -1:]])
    assert torch.allclose(wave[4:], wave[:-4], atol=1e-5)  # period 4 steps


def test_memory_answer_is_the_first_symbol() -> None:
    data = _data("memory", "classification", classes=5)
    assert data.x_train.shape == (25, 12, 6) and data.n_classes == 5
    assert torch.equal(data.x_train[:, 0, :5].argmax(dim=1), data.y_train)
    assert (data.x_train[:, 0, 5] == 1).all() and (data.x_train[:, 1:, 5] != 1).all()


def test_trend_rises_for_class_1() -> None:
    data = _data("trend", "classification", n_samples=400, seq_len=50)
    rise = (data.x_train[:, -1, 0] > 0).long()
    assert (rise == data.y_train).float().mean() > 0.8


def test_text_windows_one_hot_and_next_characters() -> None:
    data = _data("text", "classification", sequence_mode="many_to_many")
    vocabulary = text_vocabulary(parse_spec({
        "task": "classification", "dataset": {"name": "text"},
        "model": {"layers": [{"type": "gru"}]}}).dataset)
    assert data.vocabulary == vocabulary and data.n_classes == len(vocabulary)
    assert data.x_train.shape == (25, 12, len(vocabulary))
    chars = "".join(vocabulary[i] for i in data.x_train[0].argmax(dim=1).tolist())
    following = "".join(vocabulary[i] for i in data.y_train[0].tolist())
    assert chars in shipped_text() and chars[1:] + following[-1:] == following
    assert np.isclose(float(data.x_train.sum()), 25 * 12)


def test_shipped_text_is_the_sonnets_within_the_size_bounds() -> None:
    text = shipped_text()
    assert 5_000 <= len(text.encode()) <= 20_000
    assert "Shall I compare thee to a summer's day?" in text
