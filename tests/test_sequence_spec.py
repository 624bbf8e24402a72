"""Sequence specs: wrong combinations are refused naming the field (`nnplay.spec.sequences`)."""

from __future__ import annotations

from typing import Any

import pytest

from nnplay.spec import SpecError, parse_spec
from nnplay.spec.sequences import check_sequence_spec

SINE: dict[str, Any] = {"task": "regression", "dataset": {"name": "sine", "n_samples": 100},
                        "model": {"layers": [{"type": "lstm", "units": 8}]}}
MEMORY: dict[str, Any] = {"task": "classification",
                          "dataset": {"name": "memory", "n_samples": 100},
                          "model": {"layers": [{"type": "gru", "units": 8}]}}


def _refused(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as error:
        parse_spec(spec)
    return str(error.value)


@pytest.mark.parametrize(("spec", "message"), [
    ({"task": "classification", "dataset": {"name": "digits", "n_samples": 100},
      "model": {"layers": [{"type": "lstm"}]}},
     "model.layers.0.type 'lstm' needs sequence data; images take dense and conv layers"),
    ({"dataset": {"name": "circle"}, "model": {"layers": [{"type": "gru"}]}},
     "model.layers.0.type 'gru' needs image or sequence data"),
    ({**SINE, "model": {"layers": [{"type": "lstm"}, {"type": "conv2d"}]}},
     "model.layers.1.type 'conv2d' cannot be used on sequences; sequence data take 'rnn', "
     "'gru', 'lstm', 'dense' and 'dropout' layers"),
    ({**SINE, "model": {"layers": [{"type": "dense"}]}},
     "model.layers: sequence data need a recurrent layer ('rnn', 'gru' or 'lstm') first"),
    ({**SINE, "model": {"layers": [{"type": "lstm"}, {"type": "dense"}, {"type": "rnn"}]}},
     "model.layers.2.type 'rnn' cannot follow a dense layer"),
    ({**MEMORY, "sequence_mode": "many_to_many"},
     "sequence_mode 'many_to_many' needs a target at every step; the memory set has one "
     "answer per sequence; use 'many_to_one'"),
    ({**MEMORY, "loss": "hinge"}, "loss 'hinge': sequence classification uses 'cross_entropy'"),
    ({**SINE, "loss": "cross_entropy"}, "loss 'cross_entropy' needs class labels"),
    ({**SINE, "bptt": 30}, "bptt: must be 0 (the whole sequence) to dataset.seq_len (20)"),
    ({**SINE, "model": {"layers": [{"type": "lstm", "nonlinearity": "relu"}]}},
     "model.layers.0.nonlinearity: only 'rnn' layers take 'relu'"),
    ({**SINE, "model": {"layers": [{"type": "rnn", "dropout": 0.2}]}},
     "model.layers.0.dropout: acts between stacked cells; set num_layers to 2"),
    ({**SINE, "model": {"layers": [{"type": "rnn", "num_layers": 9}]}},
     "model.layers.0.num_layers: must be between 1 and 4 (got 9)"),
    ({**SINE, "dataset": {"name": "sine", "seq_len": 500}},
     "dataset.seq_len: must be between 2 and 200 (got 500)"),
    ({**SINE, "dataset": {"name": "sine", "frequency": 0.9}},
     "dataset.frequency: must be between 0.005 and 0.5 (got 0.9)"),
    ({**SINE, "dataset": {"name": "sine", "text": "x" * 200}},
     "dataset.text: only the 'text' dataset takes a text"),
    ({"task": "classification", "dataset": {"name": "text", "text": "ab" * 20_001}},
     "dataset.text: must be 100 to 20000 characters (got 40002)"),
    ({"task": "classification", "model": {"layers": [{"type": "lstm"}]},
      "dataset": {"name": "text", "text": "".join(chr(0x4e00 + i) for i in range(200))}},
     "dataset.text: has 200 distinct characters; at most 96 are allowed"),
    ({"task": "classification", "model": {"layers": [{"type": "lstm"}]},
      "dataset": {"name": "text", "text": "a short text, " * 8, "seq_len": 150}},
     "dataset.seq_len: 150 needs a text longer than 151 characters (got 112)"),
    ({**SINE, "clip_norm": -1.0}, "clip_norm: must be between 0 and 100 (got -1.0)"),
    ({**SINE, "task": "classification"}, "dataset.name 'sine' is a regression dataset"),
])
def test_wrong_sequence_specs_are_refused_naming_the_field(spec: dict[str, Any],
                                                           message: str) -> None:
    assert message in _refused(spec)


def test_good_sequence_specs_pass_with_cross_entropy_by_default() -> None:
    spec = parse_spec({**MEMORY, "model": {"layers": [
        {"type": "lstm", "units": 8, "num_layers": 2, "dropout": 0.1},
        {"type": "dropout"}, {"type": "dense", "units": 4}]}})
    assert spec.loss.value == "cross_entropy"
    check_sequence_spec(spec)
    text = parse_spec({"task": "classification", "sequence_mode": "many_to_many", "bptt": 10,
                       "dataset": {"name": "text", "text": "To be, or not to be. " * 10},
                       "model": {"layers": [{"type": "rnn", "nonlinearity": "relu"}]}})
    assert text.dataset.text is not None
