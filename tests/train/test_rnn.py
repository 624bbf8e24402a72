"""Sequence networks train on the shared Trainer: the lessons' claims, with fixed seeds.

Real training, no mocks: rnn-sine fits, the memory task separates the plain RNN from
the LSTM, char-rnn's loss falls and it writes text, and every RNN frame decodes to its
documented shape and changes with training.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.data.sequences import text_vocabulary
from nnplay.presets import get_preset
from nnplay.spec import parse_spec
from nnplay.train import rnn_probes
from nnplay.train.callbacks import Callback
from nnplay.train.events import AnySnapshot, RnnSnapshot
from nnplay.train.generate import generate
from nnplay.train.trainer import Trainer, TrainerOptions

pytestmark = pytest.mark.timeout(240)

QUIET = TrainerOptions(metrics_interval=0, snapshot_interval=0)


def _train(spec: dict[str, object] | None = None, steps: int | None = None,
           preset: str | None = None, variant: int = 0) -> Trainer:
    built = get_preset(preset).race()[variant][1] if preset else parse_spec(spec or {})
    trainer = Trainer(built, QUIET)
    for _ in range(steps if steps is not None else built.max_steps):
        trainer.train_step()
    return trainer


def test_rnn_sine_reaches_test_mse_below_001_within_its_budget() -> None:
    trainer = _train(preset="rnn-sine")
    loss = trainer.evaluate().test_loss
    assert loss is not None and loss < 0.01


def test_memory_lstm_remembers_where_the_plain_rnn_forgets() -> None:
    """The memory lesson at its length (60 steps): the baseline is predicting the class
    frequencies, ln 4 for four equally likely symbols."""
    preset = get_preset("memory")
    labels = [label for label, _ in preset.race()]
    baseline = math.log(4)
    lstm = _train(preset="memory", variant=labels.index("LSTM")).evaluate().test_loss
    rnn = _train(preset="memory", variant=labels.index("RNN")).evaluate().test_loss
    assert lstm is not None and lstm <= 0.1 * baseline
    assert rnn is not None and rnn > 0.5 * baseline


CHAR_RNN = {"task": "classification", "sequence_mode": "many_to_many",
            "dataset": {"name": "text", "n_samples": 600, "seq_len": 30, "test_fraction": 0.2},
            "model": {"layers": [{"type": "lstm", "units": 64}]},
            "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "clip_norm": 5.0}


def test_char_rnn_loss_falls_and_generate_writes_only_training_characters() -> None:
    trainer = Trainer(parse_spec(CHAR_RNN), QUIET)
    before = trainer.evaluate().test_loss
    for _ in range(150):
        trainer.train_step()
    after = trainer.evaluate().test_loss
    assert before is not None and after is not None and after < 0.8 * before
    state = {k: v.cpu() for k, v in trainer.network.state_dict().items()}
    answer = generate(trainer.spec, state, {"prompt": "Shall I", "length": 120,
                                            "temperature": 0.8})
    vocabulary = set(text_vocabulary(trainer.spec.dataset))
    assert len(answer["text"]) == 120 and set(answer["text"]) <= vocabulary
    greedy = generate(trainer.spec, state, {"prompt": "Shall I", "length": 40,
                                            "temperature": 0})
    assert greedy == generate(trainer.spec, state, {"prompt": "Shall I", "length": 40,
                                                    "temperature": 0})


def _frames(trainer: Trainer) -> dict[str, tuple[dict[str, object], np.ndarray]]:
    snapshot = trainer.snapshot()
    assert isinstance(snapshot, RnnSnapshot)
    return {name: decode_frame(data) for name, data in snapshot_frames(snapshot)}


@pytest.mark.parametrize(("cell", "gates"), [
    ("lstm", ["input", "forget", "output", "cell"]), ("gru", ["reset", "update"]),
    ("rnn", None)])
def test_frames_decode_to_documented_shapes_and_change_with_training(
        cell: str, gates: list[str] | None) -> None:
    spec = {"task": "regression", "dataset": {"name": "sine", "n_samples": 200, "seq_len": 12},
            "model": {"layers": [{"type": cell, "units": 6, "num_layers": 2}]},
            "optimizer": {"name": "adam", "lr": 0.02}, "batch_size": 20}
    trainer = _train(spec, 0)
    first = _frames(trainer)
    hidden_head, hidden = first["hidden_state"]
    assert hidden.shape == (12, 6) and hidden.dtype == np.uint8
    assert hidden_head["cell"] == cell and hidden_head["value_range"] == [-1.0, 1.0]
    seq_head, sequence = first["sequence"]
    assert sequence.shape == (3, 12) and sequence.dtype == np.float32
    assert seq_head["input_kind"] == "value" and seq_head["classes"] == 0
    assert np.isnan(sequence[1, :-1]).all() and np.isfinite(sequence[:, -1]).all()
    _, norms = first["gradient_norms"]
    assert norms.shape == (12,) and (norms >= 0).all()
    if gates is None:
        assert "gates" not in first
    else:
        gate_head, values = first["gates"]
        assert gate_head["names"] == gates and values.shape == (len(gates), 12, 6)
    assert "sample" not in first
    for _ in range(60):
        trainer.train_step()
    later = _frames(trainer)
    assert not np.array_equal(hidden, later["hidden_state"][1])
    assert not np.array_equal(sequence[2], later["sequence"][1][2], equal_nan=True)
    assert not np.array_equal(norms, later["gradient_norms"][1])


def test_the_gradient_norm_vanishes_towards_the_start_for_a_plain_rnn() -> None:
    """The vanishing gradient, as the frame shows it: at init, a tanh RNN's loss reaches
    the first of 60 steps far more weakly than the last."""
    spec = get_preset("vanishing-gradient").race()[0][1]
    trainer = Trainer(spec, QUIET)
    _, norms = _frames(trainer)["gradient_norms"]
    assert norms.shape == (60,)
    assert norms[0] < 1e-3 * norms[-1]


def test_text_runs_send_a_sample_and_per_step_targets() -> None:
    trainer = _train(CHAR_RNN, 5)
    frames = _frames(trainer)
    header, payload = frames["sample"]
    assert payload.shape == (0,) and len(str(header["text"])) == 60
    assert set(str(header["text"])) <= set(text_vocabulary(trainer.spec.dataset))
    seq_head, sequence = frames["sequence"]
    assert seq_head["input_kind"] == "symbol" and sequence.shape == (3, 30)
    assert np.isfinite(sequence).all()


def test_probe_picks_the_test_sequence() -> None:
    trainer = _train({"task": "classification",
                      "dataset": {"name": "memory", "n_samples": 100, "seq_len": 10},
                      "model": {"layers": [{"type": "gru", "units": 4}]}}, 0)
    trainer.set_probe(index=3)
    header, sequence = _frames(trainer)["sequence"]
    assert header["index"] == 3
    x = trainer.dataset.x_test[3]
    assert sequence[0, 0] == float(x[0, :3].argmax())
    assert sequence[1, -1] == float(trainer.dataset.y_test[3])
    with pytest.raises(ValueError, match="index: the test set has 50 sequences"):
        trainer.set_probe(index=50)


def test_truncated_bptt_cuts_the_gradient_at_the_chunk_start() -> None:
    spec = parse_spec({"task": "regression", "sequence_mode": "many_to_many", "bptt": 5,
                       "dataset": {"name": "sine", "n_samples": 40, "seq_len": 20},
                       "model": {"layers": [{"type": "lstm", "units": 4}]}})
    network = Trainer(spec, QUIET).network
    x = torch.randn(2, 20, 1, requires_grad=True)
    network.train()
    out = network(x.reshape(2, -1)).reshape(2, 20)
    out[:, -1].sum().backward()
    assert x.grad is not None
    assert (x.grad[:, :15].abs().sum() == 0) and x.grad[:, 15:].abs().sum() > 0


def test_a_streaming_snapshot_reuses_gradient_norms_and_text_and_says_their_step(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While a run streams, the gradient norms (a backward pass through time) and the text
    sample are renewed less often; the frames say which step made them, and snapshots at
    rest or of a new probe sequence renew them."""
    monkeypatch.setattr(rnn_probes, "GRADIENT_SECONDS", 3600.0)
    monkeypatch.setattr(rnn_probes, "SAMPLE_SECONDS", 3600.0)
    trainer = _train(CHAR_RNN, 0)
    trainer.streaming = True
    first = _frames(trainer)
    for _ in range(5):
        trainer.train_step()
    later = _frames(trainer)
    assert later["hidden_state"][0]["step"] == 5
    assert later["gradient_norms"][0]["step"] == 0 and later["sample"][0]["step"] == 0
    assert np.array_equal(first["gradient_norms"][1], later["gradient_norms"][1])
    assert not np.array_equal(first["hidden_state"][1], later["hidden_state"][1])
    trainer.streaming = False  # at rest: everything of this step
    rest = _frames(trainer)
    assert rest["gradient_norms"][0]["step"] == 5 and rest["sample"][0]["step"] == 5
    assert not np.array_equal(rest["gradient_norms"][1], later["gradient_norms"][1])
    trainer.streaming = True
    trainer.set_probe(index=3)  # another sequence: renewed at once
    probed = _frames(trainer)
    assert probed["gradient_norms"][0]["index"] == 3
    assert not np.array_equal(probed["gradient_norms"][1], rest["gradient_norms"][1])
    monkeypatch.setattr(rnn_probes, "GRADIENT_SECONDS", 0.0)
    trainer.train_step()
    assert _frames(trainer)["gradient_norms"][0]["step"] == 6


def test_the_last_snapshot_of_a_run_is_all_of_its_last_step() -> None:
    snapshots: list[RnnSnapshot] = []

    class Keep(Callback):
        def on_snapshot(self, snapshot: AnySnapshot) -> None:
            assert isinstance(snapshot, RnnSnapshot)
            snapshots.append(snapshot)

    spec = parse_spec({**CHAR_RNN, "max_steps": 30})
    result = Trainer(spec, TrainerOptions(metrics_interval=0.01, snapshot_interval=0.001,
                                          callbacks=[Keep()])).run()
    assert result.steps == 30 and len(snapshots) >= 2
    last = snapshots[-1]
    assert last.step == last.gradient_step == last.sample_step == 30
