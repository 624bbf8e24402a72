"""Tests for the presets: each builds a valid spec and teaches what its explanation claims."""

from __future__ import annotations

import re

import pytest

from nnplay.presets import PRESETS, UnknownPreset, get_preset
from nnplay.spec import ExperimentSpec
from nnplay.train.callbacks import Callback
from nnplay.train.events import MetricsEvent, RunStatus, TrainResult
from nnplay.train.trainer import Trainer, TrainerOptions

RACES = [name for name, preset in PRESETS.items() if preset.variants]


class MetricsRecorder(Callback):
    """Keeps every metrics point a run emits."""

    def __init__(self) -> None:
        self.events: list[MetricsEvent] = []

    def on_metrics(self, event: MetricsEvent) -> None:
        self.events.append(event)


def _train(spec: ExperimentSpec, *callbacks: Callback,
           metrics_interval: float = 3600.0) -> tuple[Trainer, TrainResult]:
    """Run `spec` without snapshots; a long metrics interval keeps only the first and last point."""
    options = TrainerOptions(metrics_interval=metrics_interval, snapshot_interval=0,
                             callbacks=list(callbacks))
    trainer = Trainer(spec, options)
    return trainer, trainer.run()


def _sentences(text: str) -> list[str]:
    """Split prose into sentences at '.', '!' or '?' followed by space or the end."""
    return [part for part in re.split(r"(?<=[.!?])\s+", text.strip()) if part]


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_builds_a_valid_spec(name: str) -> None:
    preset = get_preset(name)
    spec = preset.build()
    assert isinstance(spec, ExperimentSpec)
    # The JSON form round-trips through the validator unchanged.
    assert ExperimentSpec.model_validate(preset.to_dict()["spec"]) == spec


@pytest.mark.parametrize("name", RACES)
def test_every_race_variant_is_a_valid_distinct_spec(name: str) -> None:
    preset = get_preset(name)
    race = preset.race()
    assert len(race) == len(preset.variants) >= 2
    labels = [label for label, _ in race]
    assert labels == [label for label, _ in preset.variants]
    specs = [spec for _, spec in race]
    assert all(isinstance(spec, ExperimentSpec) for spec in specs)
    assert [spec.name for spec in specs] == labels
    dumps = [spec.model_dump(mode="json") | {"name": ""} for spec in specs]
    assert all(dumps.count(dump) == 1 for dump in dumps), "two variants train the same thing"
    assert [v["label"] for v in preset.to_dict()["variants"]] == labels


def test_race_overrides_reach_every_variant() -> None:
    race = get_preset("optimizers").race({"max_steps": 50})
    assert {spec.max_steps for _, spec in race} == {50}


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_text(name: str) -> None:
    preset = get_preset(name)
    assert preset.name == name
    assert preset.title and preset.summary
    assert "\n" not in preset.summary
    assert 2 <= len(_sentences(preset.explanation)) <= 3, preset.explanation
    assert preset.explanation.rstrip().endswith(".")


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(UnknownPreset) as caught:
        get_preset("spirals")
    text = str(caught.value)
    assert "'spirals'" in text
    assert "spiral" in text and "xor" in text


def test_spiral_reaches_95_percent_within_its_budget() -> None:
    _, result = _train(get_preset("spiral").build())
    assert result.status == RunStatus.completed
    assert result.metrics is not None and result.metrics.test_accuracy is not None
    assert result.metrics.test_accuracy >= 0.95


@pytest.mark.parametrize("name", ["xor", "circle", "circle-features", "gaussians", "blobs"])
def test_easy_classification_presets_reach_90_percent(name: str) -> None:
    _, result = _train(get_preset(name).build())
    assert result.status == RunStatus.completed
    assert result.steps == get_preset(name).build().max_steps
    assert result.metrics is not None and result.metrics.test_accuracy is not None
    assert result.metrics.test_accuracy >= 0.9


def test_plane_regression_fits() -> None:
    _, result = _train(get_preset("plane").build())
    assert result.status == RunStatus.completed
    assert result.metrics is not None and result.metrics.test_loss is not None
    assert result.metrics.test_loss < 0.05
    assert result.metrics.test_accuracy is None  # regression has no accuracy


def test_lr_too_high_diverges_and_says_when() -> None:
    _, result = _train(get_preset("lr-too-high").build())
    assert result.status == RunStatus.failed
    assert result.reason is not None
    assert "diverged" in result.reason
    assert re.search(r"at step \d+", result.reason)
    assert result.steps < get_preset("lr-too-high").build().max_steps


def test_overfitting_train_loss_falls_while_test_loss_turns_up() -> None:
    recorder = MetricsRecorder()
    # 1500 of its 4000 steps already show the turn; a metrics point per step keeps it exact.
    spec = get_preset("overfitting").build({"max_steps": 1500})
    _, result = _train(spec, recorder, metrics_interval=0)
    assert result.status == RunStatus.completed
    events = recorder.events
    steps = [event.step for event in events]
    assert steps == sorted(steps) and steps[-1] == result.steps
    first, last = events[0], events[-1]
    assert last.train_loss < 0.01 * first.train_loss
    test_losses = [event.test_loss for event in events if event.test_loss is not None]
    assert len(test_losses) == len(events)
    lowest = min(test_losses)
    assert test_losses[-1] > 1.2 * lowest
    assert test_losses.index(lowest) < len(test_losses) // 2  # the turn comes early


def test_presets_cover_the_lessons() -> None:
    expected = {"first-steps", "spiral", "xor", "circle", "circle-features", "gaussians",
                "blobs", "plane", "zero-init", "lr-too-high", "overfitting"}
    assert expected <= set(PRESETS)
