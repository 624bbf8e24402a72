"""Tests for probe snapshots: documented shapes, grid orientation, change and eval mode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.events import Snapshot
from nnplay.train.probes import NEURON_RANGE, grid_points, to_uint8
from nnplay.train.trainer import Trainer, TrainerOptions


def _trainer(**fields: Any) -> Trainer:
    """A trainer (no metrics or snapshot clock) for a spec built from `fields`."""
    spec: ExperimentSpec = parse_spec({"max_steps": 1000, **fields})
    return Trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))


def _linear_in_x2(trainer: Trainer, scale: float = 1.0) -> None:
    """Make a network without hidden layers output `scale * x2` exactly."""
    (layer,) = trainer.network.dense_layers()
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()
        layer.weight[0, 1] = scale


def test_grid_points_are_cell_centres_in_image_order() -> None:
    points = grid_points((-6.0, 6.0), 4)  # cells of width 3: centres -4.5, -1.5, 1.5, 4.5
    assert points.shape == (16, 2)
    assert points.dtype == torch.float32
    image = points.reshape(4, 4, 2)
    centres = torch.tensor([-4.5, -1.5, 1.5, 4.5])
    assert torch.equal(image[0, 0], torch.tensor([-4.5, 4.5]))  # top left: x1 min, x2 max
    assert torch.equal(image[-1, -1], torch.tensor([4.5, -4.5]))  # bottom right
    for row in range(4):
        assert torch.equal(image[row, :, 0], centres)  # x1 grows left to right
        assert torch.equal(image[row, :, 1], centres.flip(0)[row].expand(4))
    for column in range(4):
        assert torch.equal(image[:, column, 1], centres.flip(0))  # x2 falls top to bottom


def test_to_uint8_maps_the_range_and_clamps() -> None:
    values = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert to_uint8(values, -1.0, 1.0).tolist() == [0, 0, 128, 255, 255]
    assert to_uint8(values, -1.0, 1.0).dtype == torch.uint8


def test_binary_snapshot_shapes() -> None:
    trainer = _trainer(dataset={"name": "circle", "n_samples": 100},
                       model={"layers": [{"units": 5}, {"units": 3}]})
    snap = trainer.snapshot()
    assert isinstance(snap, Snapshot)
    assert snap.step == 0
    boundary = snap.boundary
    assert boundary.grid.shape == (64, 64)
    assert boundary.grid.dtype == np.uint8
    assert boundary.value_range == (-1.0, 1.0)
    assert boundary.domain == (-6.0, 6.0)
    assert boundary.n_classes == 2
    neurons = snap.neurons
    assert neurons.grids.shape == (8, 16, 16)
    assert neurons.grids.dtype == np.uint8
    assert neurons.layer_sizes == (5, 3)
    assert neurons.value_range == NEURON_RANGE
    assert list(neurons.layer_sizes) == trainer.start_info().layer_sizes
    shapes = [(w.weight.shape, w.bias.shape) for w in snap.weights]
    assert shapes == [((5, 2), (5,)), ((3, 5), (3,)), ((1, 3), (1,))]
    assert all(w.weight.dtype == np.float32 for w in snap.weights)


def test_multi_class_boundary_has_class_and_confidence_planes() -> None:
    trainer = _trainer(dataset={"name": "blobs", "classes": 4, "n_samples": 100},
                       loss="cross_entropy", model={"layers": [{"units": 6}]})
    snap = trainer.snapshot()
    grid = snap.boundary.grid
    assert grid.shape == (2, 64, 64)
    assert grid.dtype == np.uint8
    assert snap.boundary.n_classes == 4
    assert grid[0].max() < 4  # plane 0: class ids
    assert grid[1].min() >= 255 // 4  # plane 1: confidence, at least 1/k for the winner
    # Plane 0 is the argmax the network would predict on the grid points.
    inputs = trainer.prober.grid_inputs
    with torch.no_grad():
        predicted = trainer.head.predict(trainer.network(inputs)).reshape(64, 64)
    assert np.array_equal(grid[0], predicted.numpy().astype(np.uint8))
    assert snap.neurons.grids.shape == (6, 16, 16)
    assert [w.weight.shape for w in snap.weights] == [(6, 2), (4, 6)]


def test_regression_boundary_is_one_plane_over_the_target_range() -> None:
    trainer = _trainer(task="regression", dataset={"name": "plane", "n_samples": 100},
                       model={"layers": [{"units": 3}, {"units": 2}]})
    snap = trainer.snapshot()
    assert snap.boundary.grid.shape == (64, 64)
    assert snap.boundary.n_classes == 0
    assert snap.boundary.value_range == trainer.dataset.target_range
    assert snap.neurons.grids.shape == (5, 16, 16)
    assert len(snap.weights) == 3


def test_network_without_hidden_layers_has_no_neuron_grids() -> None:
    trainer = _trainer(dataset={"name": "gaussians", "n_samples": 100}, model={"layers": []})
    snap = trainer.snapshot()
    assert snap.neurons.grids.shape == (0, 16, 16)
    assert snap.neurons.layer_sizes == ()
    assert [w.weight.shape for w in snap.weights] == [(1, 2)]


def test_boundary_row_zero_is_the_top_of_the_plane() -> None:
    trainer = _trainer(dataset={"name": "gaussians", "n_samples": 100}, model={"layers": []})
    _linear_in_x2(trainer)  # score = x2: class 1 above the x1 axis
    grid = trainer.snapshot().boundary.grid.astype(int)
    assert (grid[:32] > 128).all() and (grid[32:] < 128).all()
    assert (np.diff(grid[:, 0]) <= 0).all()  # darker going down
    assert (grid == grid[:, :1]).all()  # nothing changes along x1
    assert grid[0, 0] == 255 and grid[-1, 0] == 0  # tanh(5.9) rounds to the extreme


def test_neuron_grid_orientation_matches_the_boundary() -> None:
    trainer = _trainer(dataset={"name": "gaussians", "n_samples": 100},
                       model={"layers": [{"units": 1, "activation": "linear"}]})
    hidden, output = trainer.network.dense_layers()
    with torch.no_grad():
        for layer in (hidden, output):
            layer.weight.zero_()
            layer.bias.zero_()
        hidden.weight[0, 0] = 0.2  # the one unit is 0.2 * x1, in (-1.2, 1.2)
    (grid,) = trainer.snapshot().neurons.grids.astype(int)
    assert (grid == grid[:1]).all()  # constant down each column
    assert (np.diff(grid[0]) >= 0).all()  # brighter to the right
    assert grid[0, 0] < 128 < grid[0, -1]


def test_snapshots_follow_training() -> None:
    trainer = _trainer(dataset={"name": "circle", "n_samples": 100},
                       model={"layers": [{"units": 4}]}, optimizer={"lr": 0.3})
    before = trainer.snapshot()
    again = trainer.snapshot()
    assert np.array_equal(before.boundary.grid, again.boundary.grid)  # probing changes nothing
    for _ in range(30):
        trainer.train_step()
    after = trainer.snapshot()
    assert after.step == 30
    assert not np.array_equal(before.boundary.grid, after.boundary.grid)
    assert not np.array_equal(before.neurons.grids, after.neurons.grids)
    for old, new in zip(before.weights, after.weights, strict=True):
        assert not np.array_equal(old.weight, new.weight)
    # Weights are copies: later training does not rewrite an earlier snapshot.
    kept = after.weights[0].weight.copy()
    trainer.train_step()
    assert np.array_equal(after.weights[0].weight, kept)


@pytest.mark.parametrize("extra", [{"type": "dropout", "p": 0.5}, {"type": "batchnorm"}])
def test_snapshot_runs_in_eval_mode_and_restores_train_mode(extra: dict[str, Any]) -> None:
    trainer = _trainer(dataset={"name": "circle", "n_samples": 100},
                       model={"layers": [{"units": 8}, extra, {"units": 4}]})
    for _ in range(5):  # gives batchnorm running statistics
        trainer.train_step()
    network = trainer.network
    network.train()
    first, second = trainer.snapshot(), trainer.snapshot()
    assert network.training
    assert all(module.training for module in network.modules())
    assert np.array_equal(first.boundary.grid, second.boundary.grid)
    assert np.array_equal(first.neurons.grids, second.neurons.grids)
    # The boundary is the eval-mode output, which train mode would not reproduce.
    network.eval()
    with torch.no_grad():
        shown = trainer.head.display(network(trainer.prober.grid_inputs))
    network.train()
    expected = to_uint8(shown, -1.0, 1.0).reshape(64, 64).numpy()
    assert np.array_equal(first.boundary.grid, expected)
    with torch.no_grad():
        noisy = trainer.head.display(network(trainer.prober.grid_inputs))
    assert not np.array_equal(to_uint8(noisy, -1.0, 1.0).reshape(64, 64).numpy(), expected)
