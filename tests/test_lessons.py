"""Each lesson shows what its explanation claims: trained for real, in-process, with fixed seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from nnplay.catalog import build_catalog
from nnplay.presets import START_LESSON, get_preset
from nnplay.spec import ExperimentSpec, Init
from nnplay.train.events import MetricsEvent, RunStatus, TrainResult
from nnplay.train.gan import GanTrainer
from nnplay.train.gan_metrics import ModeCoverage
from nnplay.train.loop import TrainLoop
from nnplay.train.trainer import Trainer, TrainerOptions, make_trainer


def _train(spec: ExperimentSpec) -> tuple[TrainLoop, TrainResult]:
    """Run `spec` to its end without snapshots; the result holds the last metrics point."""
    trainer = make_trainer(spec, TrainerOptions(metrics_interval=3600.0, snapshot_interval=0))
    return trainer, trainer.run()


def _metrics(result: TrainResult) -> MetricsEvent:
    assert isinstance(result.metrics, MetricsEvent)
    return result.metrics


def _variant(name: str, label: str, overrides: dict | None = None) -> ExperimentSpec:
    """The spec of one labelled run of a race preset."""
    return dict(get_preset(name).race(overrides))[label]


def test_the_page_opens_with_a_lesson_solved_within_300_steps() -> None:
    assert build_catalog()["start_lesson"] == START_LESSON
    preset = get_preset(START_LESSON)
    assert not preset.variants
    assert "Two spirals" in preset.explanation  # it invites the spiral next
    _, result = _train(preset.build({"max_steps": 300}))
    assert result.status == RunStatus.completed
    accuracy = _metrics(result).test_accuracy
    assert accuracy is not None and accuracy >= 0.95


def _hidden_rows(trainer: Trainer) -> list[torch.Tensor]:
    """Per hidden dense layer, its weight rows with the bias appended: `(units, in + 1)`."""
    return [torch.cat([layer.weight, layer.bias[:, None]], dim=1).detach()
            for layer in trainer.network.dense_layers()[:-1]]


@pytest.mark.parametrize("init", [Init.zeros, Init.xavier_uniform])
def test_zero_init_neurons_learn_but_stay_identical_and_xavier_breaks_symmetry(
        init: Init) -> None:
    preset = get_preset("zero-init")
    assert preset.build().model.init == Init.zeros
    trainer, result = _train(preset.build({"model": {"init": init.value}}))
    assert isinstance(trainer, Trainer)
    assert result.status == RunStatus.completed
    layers = _hidden_rows(trainer)
    assert len(layers) == 2
    for rows in layers:
        identical = bool(torch.equal(rows, rows[:1].expand_as(rows)))
        assert identical is (init == Init.zeros)
        assert rows[:, :-1].abs().max() > 0.1  # the weights moved: not blank neurons
    # Each hidden unit's output varies over the plane: a neuron heatmap is not one flat grey.
    probe = trainer.snapshot().neurons
    assert probe.layer_sizes == (4, 4)
    grids = torch.from_numpy(probe.grids).reshape(8, -1).float()  # (units, pixels), 0..255
    assert bool((grids.max(dim=1).values - grids.min(dim=1).values > 20).all())
    for layer in (grids[:4], grids[4:]):
        same = bool(torch.equal(layer, layer[:1].expand_as(layer)))
        assert same is (init == Init.zeros)
    if init == Init.zeros:  # one straight boundary cannot separate the circle
        assert (_metrics(result).test_accuracy or 0) < 0.85
    else:
        assert (_metrics(result).test_accuracy or 0) >= 0.95


def test_normalization_standardised_inputs_train_where_raw_ones_diverge() -> None:
    preset = get_preset("normalization")
    assert {"x1_sq", "x1x2"} <= {f.value for f in preset.build().features}
    _, raw = _train(_variant("normalization", "raw inputs"))
    _, standard = _train(_variant("normalization", "standardised"))
    _, minmax = _train(_variant("normalization", "min-max"))
    assert standard.status == minmax.status == RunStatus.completed
    assert raw.status == RunStatus.failed and "diverged" in (raw.reason or "")
    assert raw.steps < 100  # within a few dozen steps
    assert (_metrics(standard).test_loss or 0) < 0.5 * (_metrics(raw).test_loss or 0)


def test_learning_rates_too_small_is_slow_right_converges_too_large_diverges() -> None:
    results = {label: _train(spec)[1] for label, spec in get_preset("learning-rates").race()}
    small, right, large = (results[label] for label in ("lr 0.0001", "lr 0.01", "lr 0.1"))
    assert small.status == right.status == RunStatus.completed
    right_loss = _metrics(right).test_loss or 0
    assert right_loss < 0.01
    assert (_metrics(small).test_loss or 0) > 10 * right_loss  # still high at the end
    assert large.status == RunStatus.failed
    assert "diverged" in (large.reason or "") and f"at step {large.steps}" in (large.reason or "")
    assert large.steps < get_preset("learning-rates").build().max_steps


def test_regularization_race_draws_the_gap_and_l2_narrows_it() -> None:
    preset = get_preset("regularization")
    assert preset.metric == "train_and_test_loss"
    assert preset.to_dict()["metric"] == "train_and_test_loss"
    gaps = {}
    for label in ("none", "L2 0.001"):
        _, result = _train(_variant("regularization", label))
        assert result.status == RunStatus.completed
        metrics = _metrics(result)
        assert metrics.test_loss is not None
        gaps[label] = metrics.test_loss - metrics.train_loss
    assert gaps["none"] > 1.3 * gaps["L2 0.001"] > 0


def test_losses_race_compares_accuracy_and_every_loss_reaches_it() -> None:
    preset = get_preset("losses")
    assert preset.metric == "test_accuracy"
    assert "95%" in preset.explanation
    for label, spec in preset.race():
        _, result = _train(spec)
        assert result.status == RunStatus.completed, label
        assert (_metrics(result).test_accuracy or 0) >= 0.95, label


@dataclass
class GanRun:
    """A GAN preset trained step by step, recorded every so many steps: the lab's coverage
    metric and the generated points `(m, 2)` on its evaluation latents, by step."""

    coverage: dict[int, float]
    samples: dict[int, torch.Tensor]
    modes: ModeCoverage


def _gan_run(name: str, every: int, until: int | None = None) -> GanRun:
    """Train a GAN preset to `until` (its budget when None), recording every `every` steps."""
    spec = get_preset(name).build()
    trainer = make_trainer(spec, TrainerOptions(metrics_interval=3600.0, snapshot_interval=0))
    assert isinstance(trainer, GanTrainer) and trainer._modes is not None
    run = GanRun({}, {}, trainer._modes)
    while trainer.step < (until or spec.max_steps):
        trainer.train_step()
        if trainer.step % every == 0:
            coverage = trainer.evaluate().coverage  # fixed evaluation batches: no randomness
            assert coverage is not None
            run.coverage[trainer.step] = coverage
            with torch.no_grad():
                run.samples[trainer.step] = trainer.generator(trainer._z_eval)
    return run


@pytest.fixture(scope="module")
def mode_collapse() -> GanRun:
    """gan-mode-collapse through its 2,000 steps, recorded every 100; its tests share it."""
    return _gan_run("gan-mode-collapse", every=100)


def test_mode_collapse_preset_covers_few_modes_through_its_run(mode_collapse: GanRun) -> None:
    coverage = list(mode_collapse.coverage.values())
    assert len(coverage) == 20
    # Most of the time its samples sit on three modes of eight or fewer (the balanced
    # gan-gaussians preset ends on at least six, see tests/train/test_gan.py).
    assert float(np.median(coverage)) <= 0.375, coverage


def test_gan_mode_collapse_piles_onto_one_mode_where_the_balanced_gan_covers_them_all(
        mode_collapse: GanRun) -> None:
    modes = mode_collapse.modes
    collapsed = [mode_collapse.samples[step] for step in range(100, 900, 100)]
    # Coverage (the lab's metric) stays at one or two modes in eight all along.
    assert max(modes(fake) for fake in collapsed) <= 0.25
    # And the points sit on a mode, not strung across the plane: at some checkpoint at least
    # half of them lie within one mode's radius.
    def on_one_mode(fake: torch.Tensor) -> float:
        nearest, which = torch.cdist(fake, modes.centres).min(dim=1)
        hits = torch.bincount(which[nearest <= modes.radius], minlength=len(modes.centres))
        return float(hits.max()) / fake.shape[0]
    assert max(on_one_mode(fake) for fake in collapsed) >= 0.5
    healthy = _gan_run("gan-gaussians", every=1500, until=1500).samples[1500]
    assert modes(healthy) >= 0.75
