"""Exported runs re-load: ONNX gives the same predictions, safetensors the same weights."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load

from nnplay.data.sequences import build_sequence_dataset
from nnplay.export import PredictionModel, SequenceModel, onnx_bytes, safetensors_bytes
from nnplay.presets import get_preset
from nnplay.spec import parse_spec
from nnplay.train.trainer import Trainer, TrainerOptions


@pytest.mark.parametrize("preset", ["circle-features", "blobs", "plane", "normalization"])
def test_onnx_matches_the_trained_network(preset: str) -> None:
    spec = get_preset(preset).race()[-1][1].model_copy(update={"max_steps": 200})
    trainer = Trainer(spec, TrainerOptions(snapshot_interval=0, metrics_interval=10))
    trainer.run()
    state = trainer.state_dict()["network"]
    session = onnxruntime.InferenceSession(onnx_bytes(spec, state))
    points = np.random.default_rng(0).uniform(-6, 6, (64, 2)).astype(np.float32)
    (exported,) = session.run(None, {"points": points})
    expected = PredictionModel(spec, state)(torch.from_numpy(points)).detach().numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-5)
    # And the model's own predictions agree with what the trainer computes on its inputs.
    x = trainer.dataset.transform(torch.from_numpy(points))
    shown = trainer.head.display(trainer.network(x)).detach().numpy()
    np.testing.assert_allclose(exported, shown, atol=1e-5)


def test_safetensors_weights_reload_with_the_spec(tmp_path: object) -> None:
    spec = get_preset("circle").build({"max_steps": 100})
    trainer = Trainer(spec, TrainerOptions(snapshot_interval=0, metrics_interval=10))
    trainer.run()
    data = safetensors_bytes(trainer.state_dict()["network"], spec, trainer.step)
    weights = load(data)
    for name, tensor in trainer.network.state_dict().items():
        assert torch.equal(weights[name], tensor)
    path = f"{tmp_path}/w.safetensors"
    with open(path, "wb") as out:
        out.write(data)
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
    assert parse_spec(json.loads(metadata["spec"])) == spec
    assert metadata["step"] == "100"


def test_cnn_onnx_gives_the_torch_prediction_on_a_real_digit() -> None:
    spec = get_preset("cnn-digits").build({"dataset": {"n_samples": 400,
                                                       "normalization": "standard"},
                                           "max_steps": 150})
    trainer = Trainer(spec, TrainerOptions(metrics_interval=60.0, snapshot_interval=0))
    trainer.run()
    state = trainer.network.state_dict()
    session = onnxruntime.InferenceSession(onnx_bytes(spec, state))
    assert session.get_inputs()[0].name == "images"
    dataset = trainer.dataset
    pixels = dataset.pixels_test[:20].numpy().astype(np.float32) / 255.0  # (20, 8, 8) 0..1
    (probabilities,) = session.run(None, {"images": pixels})
    with torch.no_grad():
        logits = trainer.network(dataset.x_test[:20])
    assert probabilities.shape == (20, 10)
    assert (probabilities.argmax(axis=1) == logits.argmax(dim=1).numpy()).all()
    assert np.allclose(probabilities, torch.softmax(logits, dim=1).numpy(), atol=1e-5)
    weights = load(safetensors_bytes(state, spec, trainer.step))
    assert weights["body.0.weight"].shape == (8, 1, 3, 3)


@pytest.mark.parametrize(("cell", "mode"), [("lstm", "many_to_one"), ("gru", "many_to_many"),
                                            ("rnn", "many_to_one")])
def test_sequence_onnx_gives_the_torch_prediction(cell: str, mode: str) -> None:
    """RNN, GRU and LSTM cells export (checked with onnxruntime on real test sequences)."""
    spec = parse_spec({"task": "regression", "sequence_mode": mode,
                       "dataset": {"name": "sine", "n_samples": 60, "seq_len": 10},
                       "model": {"layers": [{"type": cell, "units": 6, "num_layers": 2}]},
                       "optimizer": {"name": "adam", "lr": 0.01}})
    trainer = Trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))
    for _ in range(5):
        trainer.train_step()
    state = {k: v.cpu() for k, v in trainer.network.state_dict().items()}
    x = build_sequence_dataset(spec).x_test[:7]
    expected = SequenceModel(spec, state)(x).detach().numpy()
    session = onnxruntime.InferenceSession(onnx_bytes(spec, state))
    (got,) = session.run(None, {"sequences": x.numpy()})
    assert got.shape == expected.shape == ((7, 10) if mode == "many_to_many" else (7,))
    assert np.allclose(got, expected, atol=1e-5)
