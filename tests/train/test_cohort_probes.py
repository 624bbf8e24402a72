"""Batched cohort probes: each member's snapshot is its solo prober's.

The solo trainer is given the member's exact state (`export_state`), so both probe
the same weights; the stacked forward sums in another order than `nn.Linear`, so a
pixel may differ by one uint8 level where a value sits on a rounding edge (and a
class id where two classes tie), nothing more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.spec import ExperimentSpec, parse_spec
from nnplay.train.cohort import Cohort
from nnplay.train.cohort_probes import stacked_snapshots
from nnplay.train.events import Snapshot
from nnplay.train.loop import TrainerOptions
from nnplay.train.trainer import Trainer


def make_spec(seed: int, task: str, dataset: str, loss: str) -> ExperimentSpec:
    """A small 2-D net with two hidden layers on `dataset`."""
    data: dict[str, Any] = {"name": dataset, "n_samples": 100, "seed": seed, "noise": 0.1}
    if dataset == "blobs":
        data["classes"] = 4
    return parse_spec({
        "task": task, "loss": loss, "dataset": data, "features": ["x1", "x2", "x1x2"],
        "model": {"layers": [{"units": 6, "activation": "tanh"},
                             {"units": 4, "activation": "relu"}]},
        "optimizer": {"name": "adam", "lr": 0.02 + 0.01 * seed}, "batch_size": 10,
        "seed": seed, "max_steps": 1000})


def assert_pixels_match(got: np.ndarray, want: np.ndarray, classes: bool = False) -> None:
    """uint8 images equal up to one level (class ids: equal but for rare ties)."""
    assert got.shape == want.shape and got.dtype == want.dtype == np.uint8
    if classes:
        assert (got == want).mean() >= 0.999
        return
    assert int(np.abs(got.astype(int) - want.astype(int)).max()) <= 1
    assert (got == want).mean() >= 0.99


def assert_snapshot_is_solo(got: Snapshot, want: Snapshot) -> None:
    """Every probe of `got` equals the solo prober's `want` (see the module docstring)."""
    assert got.step == want.step
    b, w = got.boundary, want.boundary
    assert (b.value_range, b.domain, b.n_classes) == (w.value_range, w.domain, w.n_classes)
    if w.grid.ndim == 3:  # (2, n, n): class ids, confidence
        assert_pixels_match(b.grid[0], w.grid[0], classes=True)
        assert_pixels_match(b.grid[1], w.grid[1])
    else:
        assert_pixels_match(b.grid, w.grid)
    assert got.neurons.layer_sizes == want.neurons.layer_sizes
    assert got.neurons.value_range == want.neurons.value_range
    assert_pixels_match(got.neurons.grids, want.neurons.grids)
    assert len(got.weights) == len(want.weights)
    for mine, solo in zip(got.weights, want.weights, strict=True):
        np.testing.assert_array_equal(mine.weight, solo.weight)
        np.testing.assert_array_equal(mine.bias, solo.bias)
    # The frames a viewer gets: the same headers (but the time made) and payload shapes.
    for (kind, data), (solo_kind, solo_data) in zip(snapshot_frames(got),
                                                    snapshot_frames(want), strict=True):
        header, array = decode_frame(data)
        solo_header, solo_array = decode_frame(solo_data)
        header.pop("t")
        solo_header.pop("t")
        assert (kind, header, array.shape) == (solo_kind, solo_header, solo_array.shape)


@pytest.mark.parametrize(("task", "dataset", "loss"), [
    ("classification", "spiral", "bce"), ("classification", "spiral", "hinge"),
    ("classification", "blobs", "cross_entropy"), ("classification", "blobs", "mse"),
    ("regression", "plane", "mse")])
def test_stacked_snapshots_equal_each_solo_prober(task: str, dataset: str, loss: str) -> None:
    """Members probed together (a subset, out of row order) get their solo snapshots."""
    specs = [make_spec(seed, task, dataset, loss) for seed in range(4)]
    cohort = Cohort(specs[0])
    cohort.add_many([(seed, spec, None) for seed, spec in enumerate(specs)])
    for _ in range(20):
        cohort.step()
    members = [3, 0, 2]
    snapshots = stacked_snapshots(cohort, members, [cohort.step_of(m) for m in members],
                                  [cohort.look_of(m) for m in members])
    for member, got in zip(members, snapshots, strict=True):
        trainer = Trainer(specs[member], TrainerOptions())
        trainer.load_state_dict(cohort.export_state(member))
        assert_snapshot_is_solo(got, trainer.snapshot())
