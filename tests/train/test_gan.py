"""Tests for the GAN trainer: learning, every loss, probes, metrics, control and checkpoints."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
import torch

from nnplay.cli import main
from nnplay.presets import get_preset
from nnplay.spec import ExperimentSpec, GanLoss, NoiseKind, parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import (
    AnyMetricsEvent,
    AnySnapshot,
    GanMetricsEvent,
    GanSnapshot,
    RunStatus,
    TrainResult,
)
from nnplay.train.gan import GanTrainer
from nnplay.train.gan_metrics import SlicedWasserstein, digits_classifier, score_digits
from nnplay.train.gan_probes import MANIFOLD_SIZE, SAMPLE_COLS, SAMPLE_ROWS, SHOWN_POINTS
from nnplay.train.trainer import Trainer, TrainerOptions, make_trainer

WAIT = 30.0  # seconds a thread test waits (never reached when it passes)
TRIANGLE = [[-3.0, -2.0], [3.0, -2.0], [0.0, 3.0]]

# A small, quick 2-D GAN on eight Gaussians.
SMALL: dict[str, Any] = {
    "task": "gan", "dataset": {"name": "gaussians", "modes": 8, "n_samples": 500},
    "generator": {"layers": [{"units": 16, "activation": "relu"}] * 2},
    "discriminator": {"layers": [{"units": 16, "activation": "leaky_relu"}] * 2},
    "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5}, "batch_size": 32,
    "max_steps": 200,
}


class Recorder(Callback):
    """Keeps metrics points and snapshots, and lets another thread wait for one."""

    def __init__(self) -> None:
        self.metrics: list[GanMetricsEvent] = []
        self.snapshots: list[GanSnapshot] = []
        self.pauses: list[int] = []
        self._cond = threading.Condition()

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        assert isinstance(event, GanMetricsEvent)
        with self._cond:
            self.metrics.append(event)
            self._cond.notify_all()

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        assert isinstance(snapshot, GanSnapshot)
        self.snapshots.append(snapshot)

    def on_pause(self, step: int) -> None:
        with self._cond:
            self.pauses.append(step)
            self._cond.notify_all()

    def wait_for_step(self, step: int) -> GanMetricsEvent:
        """Block until a metrics point at `step` or later arrives."""
        def found() -> GanMetricsEvent | None:
            return next((e for e in self.metrics if e.step >= step), None)

        with self._cond:
            assert self._cond.wait_for(lambda: found() is not None, timeout=WAIT)
            event = found()
            assert event is not None
            return event

    def wait_for_pause(self) -> int:
        """Block until the loop parks; return the step it parked at."""
        with self._cond:
            assert self._cond.wait_for(lambda: bool(self.pauses), timeout=WAIT)
            return self.pauses[-1]


def quiet(*callbacks: Callback, snapshots: bool = False) -> TrainerOptions:
    """Options with metrics only at the start and end (and snapshots if asked)."""
    return TrainerOptions(metrics_interval=3600.0, snapshot_interval=3600.0 if snapshots else 0,
                          callbacks=list(callbacks))


def train(spec: ExperimentSpec | dict[str, Any], *callbacks: Callback,
          snapshots: bool = False) -> tuple[GanTrainer, TrainResult]:
    """Run a GAN spec to its end; return the trainer and the result."""
    if isinstance(spec, dict):
        spec = parse_spec(spec)
    trainer = GanTrainer(spec, quiet(*callbacks, snapshots=snapshots))
    return trainer, trainer.run()


def final(result: TrainResult) -> GanMetricsEvent:
    """The last metrics point of a completed run."""
    assert result.status == RunStatus.completed, result.reason
    assert isinstance(result.metrics, GanMetricsEvent)
    return result.metrics


# ----- learning ----------------------------------------------------------------------

def test_gan_gaussians_preset_halves_the_distance_within_its_budget() -> None:
    recorder = Recorder()
    spec = get_preset("gan-gaussians").build()
    _, result = train(spec, recorder)
    first, last = recorder.metrics[0], final(result)
    assert first.step == 0 and last.step == spec.max_steps == result.steps
    assert last.distance <= 0.5 * first.distance, (first.distance, last.distance)
    assert last.js is not None and first.js is not None and last.js < first.js
    assert last.coverage is not None and last.coverage >= 0.75  # most of the eight modes


@pytest.mark.parametrize("loss", list(GanLoss))
def test_every_gan_loss_trains(loss: GanLoss) -> None:
    recorder = Recorder()
    spec = {**SMALL, "gan_loss": loss.value}
    if loss == GanLoss.wasserstein_gp:  # the usual critic settings (as the catalog suggests)
        spec |= {"d_steps": 5, "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5,
                                             "beta2": 0.9}}
    _, result = train(spec, recorder, snapshots=True)
    last = final(result)
    assert result.steps == 200
    for value in (last.d_loss, last.g_loss, last.d_real, last.d_fake, last.distance):
        assert np.isfinite(value)
    assert recorder.snapshots and recorder.snapshots[-1].step == 200
    if loss == GanLoss.wasserstein_gp:
        # A critic needs more iterations to move G far; it has learnt to rank real first.
        assert last.d_real > last.d_fake and last.d_loss < 0
    else:
        assert last.distance < recorder.metrics[0].distance


@pytest.mark.parametrize(("noise", "latent_dim"), [(NoiseKind.uniform, 1),
                                                   (NoiseKind.gaussian, 5)])
def test_noise_kinds_and_latent_sizes_train(noise: NoiseKind, latent_dim: int) -> None:
    recorder = Recorder()
    _, result = train({**SMALL, "noise": noise.value, "latent_dim": latent_dim}, recorder,
                      snapshots=True)
    final(result)
    manifold = recorder.snapshots[-1].manifold
    if latent_dim == 1:
        assert manifold is not None and manifold.points.shape == (MANIFOLD_SIZE[1], 2)
        assert manifold.latent_range == (-1.0, 1.0)  # uniform noise
    else:
        assert manifold is None  # no manifold view beyond two latent dimensions


def test_a_drawn_target_trains() -> None:
    spec = {**SMALL, "dataset": {"name": "drawn", "points": TRIANGLE, "n_samples": 300}}
    _, result = train(spec)
    last = final(result)
    assert last.coverage is None  # drawn points are not a mixture with known modes
    assert last.kl is not None and last.js is not None


def test_same_seed_same_run_and_another_seed_differs() -> None:
    spec = {**SMALL, "max_steps": 50}
    first, second = final(train(spec)[1]), final(train(spec)[1])
    assert (first.d_loss, first.g_loss, first.distance) == (second.d_loss, second.g_loss,
                                                            second.distance)
    other = final(train({**spec, "seed": 1})[1])
    assert other.distance != first.distance


def test_make_trainer_picks_by_task() -> None:
    options = TrainerOptions(snapshot_interval=0)
    assert isinstance(make_trainer(parse_spec(SMALL), options), GanTrainer)
    assert isinstance(make_trainer(parse_spec({}), options), Trainer)


# ----- digits ------------------------------------------------------------------------

def test_digits_classifier_scores_real_digits_high_and_noise_low() -> None:
    from nnplay.data.gan_targets import digit_images

    assert digits_classifier() is digits_classifier()  # trained once, then cached
    pixels, _ = digit_images()
    real = score_digits(pixels[:200])
    noise = score_digits(torch.rand(200, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    one_digit = score_digits(pixels[:1].repeat(200, 1))
    assert real.score > 8 and real.confidence > 0.9 and real.coverage == 1.0
    assert noise.score < 3.5 and noise.confidence < 0.7
    assert one_digit.coverage == 0.1 and one_digit.score < 1.1  # mode collapse: one class


def test_building_the_classifier_leaves_torch_random_stream_alone() -> None:
    digits_classifier.cache_clear()
    torch.manual_seed(5)
    before = torch.get_rng_state()
    first = digits_classifier()
    assert torch.equal(torch.get_rng_state(), before)
    digits_classifier.cache_clear()
    again = digits_classifier()  # the same weights every time it is built
    for a, b in zip(first.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)


def test_gan_digits_preset_scores_well_above_noise() -> None:
    recorder = Recorder()
    _, result = train(get_preset("gan-digits").build(), recorder, snapshots=True)
    last = final(result)
    noise = score_digits(torch.rand(200, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    assert last.score is not None and last.coverage is not None
    assert last.score > noise.score + 2.0, (last.score, noise.score)
    assert last.coverage >= 0.8
    assert last.distance < 0.5 * recorder.metrics[0].distance
    samples = recorder.snapshots[-1].samples
    assert samples is not None and samples.grid.shape == (SAMPLE_ROWS * 8, SAMPLE_COLS * 8)


def test_a_conv_discriminator_trains_on_digits() -> None:
    spec = {"task": "gan", "dataset": {"name": "digits", "n_samples": 500}, "latent_dim": 8,
            "discriminator": {"layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": 1},
                {"type": "maxpool2d", "kernel_size": 2}, {"type": "dropout", "p": 0.2},
                {"units": 16, "activation": "leaky_relu"}]},
            "optimizer": {"name": "adam", "lr": 0.001, "beta1": 0.5}, "batch_size": 32,
            "max_steps": 30}
    trainer, result = train(spec)
    final(result)
    rows = trainer.start_info().gan
    assert rows is not None
    kinds = [row["kind"] for row in rows["discriminator"]]
    assert kinds == ["input", "conv2d", "maxpool2d", "dropout", "dense", "output"]
    assert rows["discriminator"][1]["shape"] == "(m, 4, 8, 8)"
    assert rows["discriminator"][2]["shape"] == "(m, 4, 4, 4)"


# ----- probes ------------------------------------------------------------------------

def test_snapshot_shapes_and_dtypes_2d() -> None:
    trainer = GanTrainer(parse_spec(SMALL), quiet())
    for _ in range(20):
        trainer.train_step()
    snap = trainer.snapshot()
    assert snap.step == 20 and snap.samples is None
    assert snap.fake is not None and snap.fake.shape == (SHOWN_POINTS, 2)
    assert snap.fake.dtype == np.float32
    assert snap.discriminator is not None
    assert snap.discriminator.grid.shape == (64, 64) and snap.discriminator.grid.dtype == np.uint8
    assert snap.discriminator.value_range == (0.0, 1.0)
    assert snap.manifold is not None and snap.manifold.points.shape == (21, 21, 2)
    assert snap.manifold.points.dtype == np.float32
    assert snap.gradients is not None and snap.gradients.shape == (SHOWN_POINTS, 2)
    norms = np.linalg.norm(snap.gradients, axis=1)
    assert norms.max() == pytest.approx(1.0) and snap.gradient_norm > 0
    # Fixed latent vectors: the same weights show the same points.
    assert np.array_equal(trainer.snapshot().fake, snap.fake)


def test_heatmap_and_manifold_follow_the_networks() -> None:
    trainer = GanTrainer(parse_spec(SMALL), quiet())
    snap = trainer.snapshot()
    assert snap.discriminator is not None and snap.manifold is not None
    n = trainer.options.grid_size
    with torch.no_grad():
        # Top-left cell centre of the heatmap; bottom-right latent of the manifold.
        lo, hi = snap.discriminator.domain
        cell = (hi - lo) / n
        corner = torch.tensor([[lo + cell / 2, hi - cell / 2]])
        expected = torch.sigmoid(trainer.discriminator(corner)).item()
        z_lo, z_hi = snap.manifold.latent_range
        mapped = trainer.generator(torch.tensor([[z_hi, z_lo]]))[0].numpy()
    assert abs(int(snap.discriminator.grid[0, 0]) - expected * 255) <= 1
    np.testing.assert_allclose(snap.manifold.points[-1, -1], mapped, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", [GanLoss.non_saturating, GanLoss.least_squares,
                                  GanLoss.wasserstein_gp])
def test_gradient_arrows_point_where_the_generator_loss_falls(loss: GanLoss) -> None:
    trainer = GanTrainer(parse_spec({**SMALL, "gan_loss": loss.value}), quiet())
    for _ in range(30):
        trainer.train_step()
    snap = trainer.snapshot()
    assert snap.fake is not None and snap.gradients is not None
    objective, discriminator = trainer.objective, trainer.discriminator
    with torch.no_grad():
        def loss_at(points: np.ndarray) -> float:
            return float(objective.g_loss(discriminator(torch.from_numpy(points))))

        step = 1e-3
        moved = snap.fake + step * snap.gradients
        # A small step along the arrows lowers G's loss; against them raises it.
        assert loss_at(moved) < loss_at(snap.fake) < loss_at(snap.fake - step * snap.gradients)
    if loss == GanLoss.wasserstein_gp:
        low, high = snap.discriminator.value_range if snap.discriminator else (0.0, 0.0)
        assert low < high  # the critic's unbounded scores are scaled per frame


def test_digits_snapshot_is_a_sample_grid() -> None:
    trainer = GanTrainer(parse_spec({"task": "gan", "dataset": {"name": "digits"},
                                     "latent_dim": 8, "batch_size": 16}), quiet())
    snap = trainer.snapshot()
    assert snap.fake is None and snap.discriminator is None and snap.gradients is None
    assert snap.samples is not None
    grid = snap.samples.grid
    assert grid.shape == (64, 64) and grid.dtype == np.uint8
    assert (snap.samples.rows, snap.samples.cols, snap.samples.cell) == (8, 8, (8, 8))
    # Cell (0, 1) is the second fixed latent vector's image.
    with torch.no_grad():
        second = trainer.generator(trainer.prober.shown_latents[1:2])[0].reshape(8, 8)
    expected = ((second + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(grid[0:8, 8:16], expected)


def test_sliced_wasserstein_is_zero_for_the_same_sample_and_grows_with_a_shift() -> None:
    points = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    distance = SlicedWasserstein(points)
    assert distance(points) == pytest.approx(0.0, abs=1e-7)
    assert distance(points + 1.0) > distance(points + 0.1) > 0


# ----- control, checkpoints, CLI -----------------------------------------------------

def test_pause_step_lr_and_stop_a_gan() -> None:
    control = TrainerControl(paused=True)
    recorder = Recorder()
    spec = parse_spec({**SMALL, "max_steps": 1_000_000})
    trainer = GanTrainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0,
                                              callbacks=[recorder]), control)
    outcome: list[TrainResult] = []
    thread = threading.Thread(target=lambda: outcome.append(trainer.run()), daemon=True)
    thread.start()
    try:
        assert recorder.wait_for_pause() == 0
        control.request_steps(3)
        assert recorder.wait_for_step(3).step == 3
        control.set_lr(0.0005)
        control.request_steps(1)
        event = recorder.wait_for_step(4)
        assert (event.step, event.lr, event.g_lr, event.d_lr) == (4, 0.0005, 0.0005, 0.0005)
        for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
            assert optimizer.param_groups[0]["lr"] == 0.0005
        control.resume()
        assert recorder.wait_for_step(50).step >= 50
    finally:
        control.stop()
        thread.join(WAIT)
    assert not thread.is_alive()
    (result,) = outcome
    assert result.status == RunStatus.stopped and 50 <= result.steps < 1_000_000


@pytest.mark.parametrize("extra", [
    {},
    {"gan_loss": "wasserstein_gp", "d_steps": 2,
     "discriminator": {"layers": [{"units": 16}, {"type": "dropout", "p": 0.2}]}},
])
def test_resuming_a_gan_from_its_state_matches_an_uninterrupted_run(extra: dict[str, Any]
                                                                    ) -> None:
    spec = parse_spec({**SMALL, **extra, "max_steps": 150})
    first = GanTrainer(spec.model_copy(update={"max_steps": 60}), quiet())
    first.run()
    state = first.state_dict()
    buffer = __import__("io").BytesIO()
    torch.save(state, buffer)  # what a checkpoint file holds, loaded as the server does
    buffer.seek(0)
    resumed = GanTrainer(spec, quiet())
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.step == 60
    resumed_last = final(resumed.run())
    straight_last = final(GanTrainer(spec, quiet()).run())
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "distance", "kl", "js"):
        assert getattr(resumed_last, key) == getattr(straight_last, key), key


def test_weights_hold_both_networks() -> None:
    trainer = GanTrainer(parse_spec(SMALL), quiet())
    keys = set(trainer.network.state_dict())
    assert any(key.startswith("generator.") for key in keys)
    assert any(key.startswith("discriminator.") for key in keys)
    info = trainer.start_info()
    assert info.gan is not None and info.gan["latent_dim"] == 2
    assert info.parameter_count == (info.gan["generator_parameters"]
                                    + info.gan["discriminator_parameters"])


def test_cli_trains_a_gan_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--preset", "gan-gaussians", "--steps", "40", "--quiet",
                 "--device", "cpu"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "completed" and summary["steps"] == 40
    for key in ("d_loss", "g_loss", "distance", "seconds"):
        assert isinstance(summary[key], float)
    assert "train_loss" not in summary


def test_stepping_only_the_discriminator_leaves_the_generator_unchanged() -> None:
    """GAN Lab's "step D" / "step G": one network moves, the other stays put."""
    from nnplay.presets import get_preset
    from nnplay.train.control import TrainerControl

    spec = get_preset("gan-ring").build({"max_steps": 50})
    trainer = make_trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0),
                           TrainerControl())
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    trainer.train_phase("d")
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters(),
                                                 strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters(),
                                                     strict=True))
    d_after = [p.detach().clone() for p in trainer.discriminator.parameters()]
    trainer.train_phase("g")
    assert all(torch.equal(a, b) for a, b in zip(d_after, trainer.discriminator.parameters(),
                                                 strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters(),
                                                     strict=True))
