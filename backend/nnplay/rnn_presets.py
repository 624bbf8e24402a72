"""The RNN lab's lessons: presets over sequence datasets (see `nnplay.presets`).

Step budgets stay small enough for the test suite on two cores; each lesson still
shows what it is about (memory, vanishing gradients, text) within its budget.
"""

from __future__ import annotations

from typing import Any


def _lesson(name: str, title: str, summary: str, explanation: str, spec: dict[str, Any],
            **extra: Any) -> dict[str, Any]:
    """A lesson as the keyword arguments of `nnplay.presets.Preset`."""
    return {"name": name, "title": title, "summary": summary, "explanation": explanation,
            "spec": spec, **extra}


_ADAM = {"name": "adam", "lr": 0.01}
_SINE = {"name": "sine", "n_samples": 500, "seq_len": 20, "frequency": 0.05,
         "test_fraction": 0.2, "seed": 0}
# The memory task at the length where a plain RNN forgets and an LSTM does not.
_MEMORY = {"name": "memory", "n_samples": 2000, "seq_len": 60, "classes": 4, "noise": 0.2,
           "test_fraction": 0.2, "seed": 0}
_MEMORY_RUN = {"task": "classification", "dataset": _MEMORY, "optimizer": _ADAM,
               "batch_size": 32, "max_steps": 700, "clip_norm": 1.0}


def _cell(kind: str, units: int = 32) -> dict[str, Any]:
    return {"model": {"layers": [{"type": kind, "units": units}]}}


RNN_LESSONS: tuple[dict[str, Any], ...] = (
    _lesson(
        "rnn-sine", "RNN: the next value of a sine",
        "A small recurrent net reads 20 values of a sine and predicts the next.",
        "The network reads one value per time step and passes its hidden state on to the "
        "next step, starting from zeros. After the last value it predicts the one that "
        "follows; the test error falls below 0.01 within a few hundred steps.",
        {"task": "regression", "dataset": _SINE,
         "model": {"layers": [{"type": "rnn", "units": 16}]}, "loss": "mse",
         "optimizer": _ADAM, "batch_size": 32, "max_steps": 400},
    ),
    _lesson(
        "memory", "Race: RNN vs GRU vs LSTM on memory",
        "Remember the first symbol of 60: a plain RNN forgets, gated cells do not.",
        "Only the first step carries the answer; 59 noisy steps follow. A plain RNN's "
        "memory of that step fades with every multiplication by its weights, while the "
        "LSTM's cell state is carried on by its forget gate almost untouched.",
        _MEMORY_RUN, metric="test_loss",
        variants=(("RNN", _cell("rnn")), ("GRU", _cell("gru")), ("LSTM", _cell("lstm"))),
    ),
    _lesson(
        "vanishing-gradient", "The vanishing gradient",
        "How far back does the loss reach? RNN against LSTM, step by step.",
        "The gradient-norm chart shows how strongly the loss depends on the hidden state "
        "at each step. For the plain RNN it shrinks by a constant factor per step, so the "
        "first steps learn nothing; the LSTM's cell state keeps a path open to the start.",
        _MEMORY_RUN, metric="test_loss",
        variants=(("RNN", _cell("rnn")), ("LSTM", _cell("lstm"))),
    ),
    _lesson(
        "char-rnn", "Char-RNN: Shakespeare's sonnets",
        "An LSTM learns to write one character at a time.",
        "At every step the network predicts the next character of the sonnets from the "
        "ones before. Its samples turn from random letters into words, line breaks and "
        "rhymes as the loss falls; lower the temperature for safer, duller text.",
        {"task": "classification", "sequence_mode": "many_to_many",
         "dataset": {"name": "text", "n_samples": 2000, "seq_len": 40, "test_fraction": 0.1,
                     "seed": 0},
         "model": {"layers": [{"type": "lstm", "units": 128}]},
         "optimizer": {"name": "adam", "lr": 0.005}, "batch_size": 32, "max_steps": 3000,
         "clip_norm": 5.0},
    ),
    _lesson(
        "sequence-modes", "Many-to-one vs many-to-many",
        "The same sine, answered once at the end or at every step.",
        "Many-to-one reads the whole window and answers once; many-to-many answers after "
        "every step, so it also learns from the first steps, where it has seen little. "
        "Compare the prediction rows of the sequence plot and the test loss of each.",
        {"task": "regression", "dataset": _SINE, "loss": "mse",
         "model": {"layers": [{"type": "gru", "units": 16}]}, "optimizer": _ADAM,
         "batch_size": 32, "max_steps": 400},
        variants=(("many to one", {"sequence_mode": "many_to_one"}),
                  ("many to many", {"sequence_mode": "many_to_many"})),
    ),
    _lesson(
        "hidden-state", "Watch the hidden state",
        "Eight units, one sine: see a unit follow the phase of the wave.",
        "The heatmap shows each unit's value at every step of the probe sequence. As the "
        "network learns, some units swing with the sine and others with its slope: "
        "together they encode where in its cycle the wave is, which is all it needs.",
        {"task": "regression", "dataset": _SINE, "loss": "mse",
         "model": {"layers": [{"type": "rnn", "units": 8}]}, "optimizer": _ADAM,
         "batch_size": 32, "max_steps": 600},
    ),
)
