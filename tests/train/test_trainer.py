"""Tests for the training loop: every option trains, callbacks, control, failures, determinism."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch

from nnplay.presets import PRESETS
from nnplay.spec import Activation, Init, LossName, OptimizerName, parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import MetricsEvent, RunStatus, Snapshot, TrainResult, TrainStart
from nnplay.train.trainer import Trainer, TrainerOptions

WAIT = 30.0  # seconds a thread test waits for the trainer before giving up (never reached)

# An easy, linearly separable set: two Gaussian clouds.
EASY: dict[str, Any] = {"dataset": {"name": "gaussians", "n_samples": 200, "noise": 0.2,
                                    "normalization": "standard"}}


class Recorder(Callback):
    """Logs every hook call as (hook, payload) and lets another thread wait for one."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._cond = threading.Condition()

    def _log(self, hook: str, payload: Any) -> None:
        with self._cond:
            self.calls.append((hook, payload))
            self._cond.notify_all()

    def on_train_start(self, start: TrainStart) -> None:
        self._log("start", start)

    def on_metrics(self, event: MetricsEvent) -> None:
        self._log("metrics", event)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._log("snapshot", snapshot)

    def on_pause(self, step: int) -> None:
        self._log("pause", step)

    def on_resume(self, step: int) -> None:
        self._log("resume", step)

    def on_train_end(self, result: TrainResult) -> None:
        self._log("end", result)

    def hooks(self) -> list[str]:
        """The hook names in call order."""
        with self._cond:
            return [hook for hook, _ in self.calls]

    def metrics(self) -> list[MetricsEvent]:
        """Every metrics event so far."""
        with self._cond:
            return [payload for hook, payload in self.calls if hook == "metrics"]

    def wait_for(self, hook: str, test: Callable[[Any], bool] = lambda _: True) -> Any:
        """Block until `hook` was called with a payload passing `test`; return that payload."""
        def found() -> Any:
            return next((p for h, p in self.calls if h == hook and test(p)), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout=WAIT):
                raise AssertionError(f"no {hook} call arrived; calls: {self.hooks()[-10:]}")
            return found()


def _run(data: dict[str, Any], *callbacks: Callback, metrics_interval: float = 3600.0,
         snapshot_interval: float = 0, control: TrainerControl | None = None,
         ) -> tuple[Trainer, TrainResult]:
    """Train the spec `data` with the given callbacks and clocks; return trainer and result."""
    options = TrainerOptions(metrics_interval=metrics_interval,
                             snapshot_interval=snapshot_interval, callbacks=list(callbacks))
    trainer = Trainer(parse_spec(data), options, control)
    return trainer, trainer.run()


def _first_and_last(data: dict[str, Any]) -> tuple[MetricsEvent, TrainResult]:
    """Train `data` and return the metrics point before the first step and the result."""
    recorder = Recorder()
    _, result = _run(data, recorder)
    return recorder.metrics()[0], result


def _assert_learns(data: dict[str, Any], factor: float = 0.8) -> TrainResult:
    """Train `data` to completion and check the train loss fell below `factor` of its start."""
    first, result = _first_and_last(data)
    assert result.status == RunStatus.completed, result.reason
    assert result.metrics is not None
    assert first.step == 0 and result.metrics.step == result.steps
    assert result.metrics.train_loss < factor * first.train_loss, (
        f"loss went from {first.train_loss} to {result.metrics.train_loss}")
    return result


OPTIMIZER_SETTINGS: list[dict[str, Any]] = [
    {"name": "sgd", "lr": 0.1},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9},
    {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"name": "adagrad", "lr": 0.1},
    {"name": "adadelta", "lr": 1.0},
    {"name": "rmsprop", "lr": 0.01},
    {"name": "adam", "lr": 0.01},
    {"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
    {"name": "nadam", "lr": 0.01},
]


def test_optimizer_settings_cover_every_optimizer() -> None:
    assert {s["name"] for s in OPTIMIZER_SETTINGS} == {o.value for o in OptimizerName}


@pytest.mark.parametrize("optimizer", OPTIMIZER_SETTINGS,
                         ids=lambda s: "-".join(str(v) for v in s.values()))
def test_every_optimizer_lowers_the_loss(optimizer: dict[str, Any]) -> None:
    _assert_learns({**EASY, "model": {"layers": [{"units": 4}]}, "optimizer": optimizer,
                    "max_steps": 200}, factor=0.5)


@pytest.mark.parametrize("activation", list(Activation))
def test_every_activation_lowers_the_loss(activation: Activation) -> None:
    _assert_learns({**EASY, "model": {"layers": [{"units": 4, "activation": activation.value}]},
                    "optimizer": {"name": "adam", "lr": 0.02}, "max_steps": 200}, factor=0.5)


@pytest.mark.parametrize("loss", list(LossName))
@pytest.mark.parametrize("classes", [2, 4])
def test_every_classification_loss_lowers_the_loss(loss: LossName, classes: int) -> None:
    result = _assert_learns({
        "dataset": {"name": "blobs", "classes": classes, "n_samples": 200, "noise": 0.2},
        "model": {"layers": [{"units": 8}]},
        "optimizer": {"name": "adam", "lr": 0.02}, "loss": loss.value, "max_steps": 300,
    }, factor=0.7)
    assert result.metrics is not None and result.metrics.test_accuracy is not None
    assert result.metrics.test_accuracy >= 0.9


@pytest.mark.parametrize("loss", [LossName.mse, LossName.mae, LossName.huber])
def test_every_regression_loss_lowers_the_loss(loss: LossName) -> None:
    result = _assert_learns({
        "task": "regression", "dataset": {"name": "plane", "n_samples": 200, "noise": 0.05},
        "model": {"layers": [{"units": 3}]}, "optimizer": {"name": "adam", "lr": 0.02},
        "loss": loss.value, "max_steps": 300,
    }, factor=0.5)
    assert result.metrics is not None and result.metrics.train_accuracy is None


@pytest.mark.parametrize("init", list(Init))
def test_every_init_lowers_the_loss(init: Init) -> None:
    # Sigmoid units output 0.5 at zero input, so even all-zero weights get a gradient.
    _assert_learns({**EASY, "model": {"layers": [{"units": 4, "activation": "sigmoid"}],
                                      "init": init.value},
                    "optimizer": {"name": "adam", "lr": 0.02}, "max_steps": 300}, factor=0.8)


def _weight_norm(trainer: Trainer) -> float:
    """Sum of the L2 norms of every dense layer's weight matrix."""
    return sum(float(layer.weight.detach().norm()) for layer in trainer.network.dense_layers())


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_regularisation_shrinks_the_weights(kind: str) -> None:
    data = {"dataset": {"name": "circle", "n_samples": 200, "noise": 0.1},
            "model": {"layers": [{"units": 8}, {"units": 8}]},
            "optimizer": {"name": "adam", "lr": 0.02}, "max_steps": 300}
    plain, plain_result = _run(data)
    penalised, result = _run({**data, "regularization": {kind: 0.01}})
    assert plain_result.status == result.status == RunStatus.completed
    assert _weight_norm(penalised) < 0.8 * _weight_norm(plain)


def test_reported_loss_leaves_out_the_penalty() -> None:
    data = {**EASY, "model": {"layers": [{"units": 4}]}}
    plain = Trainer(parse_spec(data))
    penalised = Trainer(parse_spec({**data, "regularization": {"l1": 1.0, "l2": 1.0}}))
    assert penalised.evaluate().train_loss == plain.evaluate().train_loss  # same start
    assert penalised._penalty().item() > 1.0  # while training it would have counted


@pytest.mark.parametrize("batch_size", [1, 100])
def test_online_and_full_batch_train(batch_size: int) -> None:
    data = {**EASY, "model": {"layers": [{"units": 4}]}, "batch_size": batch_size,
            "max_steps": 150, "optimizer": {"lr": 0.05}}
    result = _assert_learns(data, factor=0.7)
    trainer, _ = _run({**data, "max_steps": 1})
    assert trainer.n_train == 100
    assert trainer.steps_per_epoch == 100 // batch_size
    assert result.metrics is not None
    assert result.metrics.epoch == pytest.approx(150 * batch_size / 100)


def test_batches_cover_each_sample_once_per_epoch() -> None:
    trainer = Trainer(parse_spec({**EASY, "batch_size": 30}))
    rows = [trainer._next_batch()[0] for _ in range(trainer.steps_per_epoch)]
    assert [len(r) for r in rows] == [30, 30, 30, 10]
    seen = torch.cat(rows)
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, trainer.x_train.tolist()))


def test_callbacks_are_called_in_order() -> None:
    recorder = Recorder()
    _, result = _run({**EASY, "max_steps": 60}, recorder, metrics_interval=0,
                     snapshot_interval=1e-6)
    hooks = recorder.hooks()
    assert hooks[0] == "start" and hooks[-1] == "end"
    assert hooks.count("start") == hooks.count("end") == 1
    assert hooks[1:3] == ["metrics", "snapshot"]  # the picture before the first step
    events = recorder.metrics()
    steps = [event.step for event in events]
    assert steps[0] == 0 and steps[-1] == 60
    assert set(range(61)) <= set(steps)  # metrics_interval 0: a point after every step
    assert steps == sorted(steps)
    assert events[-1].report is not None  # the final point is the detailed one
    snaps = [payload.step for hook, payload in recorder.calls if hook == "snapshot"]
    assert len(snaps) >= 2 and snaps[0] == 0 and snaps[-1] == 60 and snaps == sorted(snaps)
    start = recorder.calls[0][1]
    assert start.layer_sizes == [4, 2] and start.n_outputs == 1 and start.n_classes == 2
    assert recorder.calls[-1][1] is result
    assert result.metrics is events[-1]


def test_pause_step_lr_resume_and_stop_from_another_thread() -> None:
    control = TrainerControl()

    class PauseAt20(Recorder):
        """Pauses the run from inside the training thread when step 20 is reported."""

        def on_metrics(self, event: MetricsEvent) -> None:
            super().on_metrics(event)
            if event.step == 20 and not control.paused:
                control.pause()

    recorder = PauseAt20()
    data = {**EASY, "max_steps": 1_000_000, "optimizer": {"lr": 0.03}}
    outcome: list[TrainResult] = []
    trainer = Trainer(parse_spec(data), TrainerOptions(metrics_interval=0, snapshot_interval=0,
                                                       callbacks=[recorder]), control)
    thread = threading.Thread(target=lambda: outcome.append(trainer.run()), daemon=True)
    thread.start()
    try:
        assert recorder.wait_for("pause") == 20

        control.request_steps(5)
        assert recorder.wait_for("metrics", lambda e: e.step == 25).lr == 0.03

        control.set_lr(0.5)
        control.request_steps(1)
        # Had the five credits run over, this step would not be number 26.
        event = recorder.wait_for("metrics", lambda e: e.step >= 26)
        assert (event.step, event.lr) == (26, 0.5)
        assert trainer.optimizer.param_groups[0]["lr"] == 0.5

        control.resume()
        assert recorder.wait_for("resume") == 26
        assert recorder.wait_for("metrics", lambda e: e.step >= 40).lr == 0.5
    finally:
        control.stop()
        thread.join(WAIT)
    assert not thread.is_alive()
    (result,) = outcome
    assert result.status == RunStatus.stopped
    assert 40 <= result.steps < 1_000_000
    assert recorder.hooks()[-1] == "end"
    paused_steps = {e.step for e in recorder.metrics() if 20 < e.step < 26}
    assert paused_steps == {25}  # stepping while paused reports once, after the last step


def test_stop_wakes_a_paused_run() -> None:
    control = TrainerControl(paused=True)
    recorder = Recorder()
    outcome: list[TrainResult] = []
    trainer = Trainer(parse_spec({**EASY, "max_steps": 100}),
                      TrainerOptions(snapshot_interval=0, callbacks=[recorder]), control)
    thread = threading.Thread(target=lambda: outcome.append(trainer.run()), daemon=True)
    thread.start()
    assert recorder.wait_for("pause") == 0
    control.stop()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcome[0].status == RunStatus.stopped
    assert outcome[0].steps == 0


class Explodes(Callback):
    """Raises inside the training loop once `step` is reported."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_metrics(self, event: MetricsEvent) -> None:
        if event.step == self.step:
            raise RuntimeError("boom")


def test_an_error_fails_the_run_and_still_ends_it() -> None:
    recorder = Recorder()
    _, result = _run({**EASY, "max_steps": 50}, Explodes(7), recorder, metrics_interval=0)
    assert result.status == RunStatus.failed
    assert result.reason == "error at step 7: boom"
    assert result.steps == 7
    assert recorder.hooks()[-1] == "end"
    assert recorder.calls[-1][1] is result


def test_an_error_in_the_model_fails_the_run() -> None:
    recorder = Recorder()
    trainer = Trainer(parse_spec({**EASY, "max_steps": 50}),
                      TrainerOptions(metrics_interval=0, snapshot_interval=0,
                                     callbacks=[recorder]))

    def broken(x: torch.Tensor) -> torch.Tensor:
        raise ValueError("bad shapes")

    trainer.network.forward = broken  # type: ignore[method-assign]
    result = trainer.run()
    assert result.status == RunStatus.failed
    assert result.reason is not None and "bad shapes" in result.reason
    assert recorder.hooks() == ["start", "end"]


def test_divergence_fails_with_the_step() -> None:
    _, result = _run({"task": "regression", "dataset": {"name": "plane"},
                      "model": {"layers": []}, "optimizer": {"lr": 1.0}, "max_steps": 500})
    assert result.status == RunStatus.failed
    assert result.reason is not None
    assert result.reason.startswith("diverged") and f"at step {result.steps}" in result.reason
    assert result.seconds > 0  # the steps before the blow-up still count as training time


def test_points_near_divergence_are_strict_json() -> None:
    """Losses that overflow before the step's own loss does reach the page as null, not
    Infinity (which JSON.parse refuses)."""
    recorder = Recorder()
    spec = PRESETS["lr-too-high"].build().model_dump(mode="json")
    _, result = _run({**spec, "max_steps": 100_000}, recorder, metrics_interval=0.0)
    assert result.status == RunStatus.failed
    points = [event.to_dict() for event in recorder.metrics()]
    overflowed = [p for p in points if p["train_loss"] is None]
    assert overflowed, "the lesson no longer overflows in evaluation first"
    for point in points:
        json.dumps(point, allow_nan=False)


@pytest.mark.parametrize("layers", [
    [{"units": 6}, {"units": 4}],
    [{"units": 6}, {"type": "dropout", "p": 0.3}, {"units": 4}],
], ids=["dense", "dropout"])
def test_same_seed_same_run(layers: list[dict[str, Any]]) -> None:
    data = {"dataset": {"name": "circle", "n_samples": 200, "noise": 0.2},
            "model": {"layers": layers}, "max_steps": 150, "seed": 3}
    (first, a), (second, b) = _run(data), _run(data)
    assert a.metrics is not None and b.metrics is not None
    assert a.metrics.train_loss == b.metrics.train_loss
    assert a.metrics.test_loss == b.metrics.test_loss
    for x, y in zip(first.network.parameters(), second.network.parameters(), strict=True):
        assert torch.equal(x, y)
    _, c = _run({**data, "seed": 4})
    assert c.metrics is not None and c.metrics.train_loss != a.metrics.train_loss


def test_final_metrics_carry_the_detailed_report() -> None:
    recorder = Recorder()
    _, result = _run({"dataset": {"name": "blobs", "classes": 3, "n_samples": 150},
                      "loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.02},
                      "model": {"layers": [{"units": 6}]}, "max_steps": 100}, recorder)
    assert result.metrics is not None
    report = result.metrics.report
    assert report is not None
    assert all(event.report is None for event in recorder.metrics()[:-1])
    for key in ("precision", "recall", "f1", "support"):
        assert len(report[key]) == 3
    confusion = report["confusion"]
    assert len(confusion) == 3 and all(len(row) == 3 for row in confusion)
    assert sum(map(sum, confusion)) == 75  # the test set
    assert report["accuracy"] == pytest.approx(result.metrics.test_accuracy)
    assert 0 <= report["macro_f1"] <= 1


def test_regression_has_no_report() -> None:
    _, result = _run({"task": "regression", "dataset": {"name": "plane", "n_samples": 100},
                      "max_steps": 5})
    assert result.metrics is not None
    assert result.metrics.report is None and result.metrics.test_accuracy is None


def test_summary_holds_what_the_cli_prints() -> None:
    _, result = _run({**EASY, "max_steps": 20})
    summary = result.summary()
    assert summary["status"] == "completed" and summary["steps"] == 20
    assert set(summary) == {"status", "steps", "train_loss", "test_loss", "train_accuracy",
                            "test_accuracy", "seconds"}
