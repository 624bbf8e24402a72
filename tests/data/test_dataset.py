"""Tests for features, train-fitted normalisation and `build_dataset`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

from nnplay.data import DATASET_INFO, FEATURE_INFO, Dataset, build_dataset
from nnplay.data.dataset import FeatureTransform
from nnplay.data.features import compute_features
from nnplay.spec import (
    DATASET_KINDS,
    DataKindName,
    DatasetName,
    ExperimentSpec,
    Feature,
    Normalization,
    Task,
    primary_task,
)

ALL_FEATURES = list(Feature)
# Generated 2-D labelled datasets; GAN-only targets have real samples instead
# (tests/data/test_gan_targets.py), custom data its own rows (tests/data/test_custom.py),
# image sets are tests/data/test_images.py's and tests/train/test_cnn.py's.
SUPERVISED = [name for name in DatasetName if primary_task(name) != Task.gan
              and name != DatasetName.custom and DATASET_KINDS[name] == DataKindName.points2d]


def make_spec(
    name: DatasetName = DatasetName.spiral,
    features: list[Feature] | None = None,
    experiment_seed: int = 0,
    **dataset: Any,
) -> ExperimentSpec:
    """A valid spec for `name`; keyword arguments set fields of `spec.dataset`."""
    task = primary_task(name)
    return ExperimentSpec.model_validate(
        {
            "task": task,
            "loss": "mse" if task == Task.regression else "cross_entropy",
            "dataset": {"name": name, **dataset},
            "features": features or [Feature.x1, Feature.x2],
            "batch_size": 1,
            "seed": experiment_seed,
        }
    )


def tensors(dataset: Dataset) -> list[Tensor]:
    """Every tensor a dataset holds, for comparisons."""
    t = dataset.transform
    return [
        dataset.x_train,
        dataset.y_train,
        dataset.x_test,
        dataset.y_test,
        dataset.points_train,
        dataset.points_test,
        t.offset,
        t.scale,
    ]


# --- features -----------------------------------------------------------------------------

EXPECTED: dict[Feature, Callable[[Tensor, Tensor], Tensor]] = {
    Feature.x1: lambda a, b: a,
    Feature.x2: lambda a, b: b,
    Feature.x1_sq: lambda a, b: a * a,
    Feature.x2_sq: lambda a, b: b * b,
    Feature.x1x2: lambda a, b: a * b,
    Feature.sin_x1: lambda a, b: torch.sin(a),
    Feature.sin_x2: lambda a, b: torch.sin(b),
}


def test_every_feature_has_info_with_a_label() -> None:
    assert set(FEATURE_INFO) == set(Feature) == set(EXPECTED)
    for feature, info in FEATURE_INFO.items():
        assert info.name == feature and info.label
    assert FEATURE_INFO[Feature.x1_sq].label == "x₁²"


@pytest.mark.parametrize("feature", ALL_FEATURES)
def test_each_feature_column_computes_what_its_name_says(feature: Feature) -> None:
    points = torch.tensor([[1.5, -2.0], [-3.0, 0.5], [0.0, 4.0]])
    column = compute_features(points, [feature])
    assert column.shape == (3, 1) and column.dtype == torch.float32
    torch.testing.assert_close(column[:, 0], EXPECTED[feature](points[:, 0], points[:, 1]))


def test_feature_columns_follow_the_given_order() -> None:
    points = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    order = [Feature.sin_x2, Feature.x1, Feature.x1x2]
    columns = compute_features(points, order)
    assert columns.shape == (5, 3)
    for index, feature in enumerate(order):
        torch.testing.assert_close(columns[:, index], compute_features(points, [feature])[:, 0])


def test_compute_features_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        compute_features(torch.zeros(4, 3), [Feature.x1])
    with pytest.raises(ValueError, match="at least one"):
        compute_features(torch.zeros(4, 2), [])


# --- build_dataset ------------------------------------------------------------------------


def test_same_seed_gives_identical_tensors() -> None:
    spec = make_spec(n_samples=300, noise=0.2, normalization="standard")
    first, second = build_dataset(spec), build_dataset(spec)
    for a, b in zip(tensors(first), tensors(second), strict=True):
        assert torch.equal(a, b)


def test_different_dataset_seed_gives_different_data() -> None:
    first = build_dataset(make_spec(n_samples=300, noise=0.2, seed=0))
    other = build_dataset(make_spec(n_samples=300, noise=0.2, seed=1))
    assert not torch.equal(first.points_train, other.points_train)


def test_experiment_seed_does_not_change_the_data() -> None:
    first = build_dataset(make_spec(n_samples=200, experiment_seed=0))
    other = build_dataset(make_spec(n_samples=200, experiment_seed=5))
    assert torch.equal(first.points_train, other.points_train)


@pytest.mark.parametrize("name", SUPERVISED)
def test_shapes_dtypes_and_domain(name: DatasetName) -> None:
    spec = make_spec(name, features=ALL_FEATURES, n_samples=101, noise=0.5, classes=4)
    data = build_dataset(spec)
    n_train = spec.train_size
    n_test = 101 - n_train
    assert data.task == primary_task(name)
    assert data.n_inputs == len(Feature)
    assert data.x_train.shape == (n_train, len(Feature)) and data.x_train.dtype == torch.float32
    assert data.x_test.shape == (n_test, len(Feature)) and data.x_test.dtype == torch.float32
    assert data.points_train.shape == (n_train, 2) and data.points_train.dtype == torch.float32
    assert data.points_test.shape == (n_test, 2) and data.points_test.dtype == torch.float32
    label_dtype = torch.int64 if data.task == Task.classification else torch.float32
    assert data.y_train.shape == (n_train,) and data.y_train.dtype == label_dtype
    assert data.y_test.shape == (n_test,) and data.y_test.dtype == label_dtype
    assert all(t.device.type == "cpu" for t in tensors(data))
    assert data.domain == (-6.0, 6.0)
    every_point = torch.cat([data.points_train, data.points_test])
    assert every_point.abs().max() <= 6.0 + 1e-4


@pytest.mark.parametrize(
    ("n", "fraction"),
    [(10, 0.0), (101, 0.1), (333, 0.33), (500, 0.5), (25, 0.9), (15, 0.5), (5000, 0.25)],
)
def test_split_sizes_match_the_spec(n: int, fraction: float) -> None:
    spec = make_spec(n_samples=n, test_fraction=fraction)
    data = build_dataset(spec)
    assert len(data.y_train) == len(data.x_train) == spec.train_size
    assert len(data.y_test) == len(data.x_test) == n - spec.train_size


def test_empty_test_set_keeps_its_width() -> None:
    data = build_dataset(make_spec(features=[Feature.x1, Feature.x2_sq], test_fraction=0.0))
    assert data.x_test.shape == (0, 2) and data.points_test.shape == (0, 2)


def test_data_is_shuffled_before_splitting() -> None:
    data = build_dataset(make_spec(n_samples=400))
    for labels in (data.y_train, data.y_test):
        assert torch.bincount(labels).tolist() != [0, len(labels)]  # both classes in each part
        assert not torch.equal(labels, labels.sort().values)


@pytest.mark.parametrize(
    ("name", "classes", "expected"),
    [(DatasetName.blobs, 6, 6), (DatasetName.circle, 6, 2), (DatasetName.plane, 6, 0)],
)
def test_class_count_and_target_range(name: DatasetName, classes: int, expected: int) -> None:
    data = build_dataset(make_spec(name, n_samples=300, noise=0.3, classes=classes))
    assert data.n_classes == expected
    if DATASET_INFO[name].task == Task.classification:
        assert data.target_range == (0.0, expected - 1.0)
        assert set(torch.cat([data.y_train, data.y_test]).tolist()) == set(range(expected))
    else:
        targets = torch.cat([data.y_train, data.y_test])
        assert data.target_range == (targets.min().item(), targets.max().item())


@pytest.mark.parametrize("normalization", list(Normalization))
def test_transform_reproduces_model_inputs(normalization: Normalization) -> None:
    spec = make_spec(features=ALL_FEATURES, n_samples=300, normalization=normalization)
    data = build_dataset(spec)
    assert data.transform.features == tuple(ALL_FEATURES)
    assert torch.equal(data.transform(data.points_train), data.x_train)
    assert torch.equal(data.transform(data.points_test), data.x_test)


def test_no_normalisation_leaves_feature_values() -> None:
    data = build_dataset(make_spec(features=ALL_FEATURES, normalization="none"))
    assert torch.equal(data.x_train, compute_features(data.points_train, ALL_FEATURES))
    assert torch.equal(data.transform.offset, torch.zeros(len(Feature)))
    assert torch.equal(data.transform.scale, torch.ones(len(Feature)))


def test_standard_normalisation_is_fitted_on_train_only() -> None:
    spec = make_spec(features=ALL_FEATURES, n_samples=600, noise=0.3, normalization="standard")
    data = build_dataset(spec)
    torch.testing.assert_close(data.x_train.mean(dim=0), torch.zeros(7), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        data.x_train.std(dim=0, correction=0), torch.ones(7), atol=1e-4, rtol=0
    )
    raw = compute_features(data.points_train, ALL_FEATURES).double()
    torch.testing.assert_close(data.transform.offset, raw.mean(dim=0).float())
    assert data.x_test.mean(dim=0).abs().max() > 1e-3  # the test set was not used to fit


def test_minmax_normalisation_maps_train_to_minus_one_one() -> None:
    spec = make_spec(features=ALL_FEATURES, n_samples=600, noise=0.3, normalization="minmax")
    data = build_dataset(spec)
    torch.testing.assert_close(data.x_train.min(dim=0).values, -torch.ones(7), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x_train.max(dim=0).values, torch.ones(7), atol=1e-5, rtol=0)
    test_low, test_high = data.x_test.min(dim=0).values, data.x_test.max(dim=0).values
    assert not torch.allclose(torch.stack([-test_low, test_high]), torch.ones(2, 7))


@pytest.mark.parametrize("normalization", [Normalization.minmax, Normalization.standard])
def test_constant_columns_get_scale_one(normalization: Normalization) -> None:
    points = torch.stack([torch.full((20,), 2.0), torch.linspace(-3.0, 3.0, 20)], dim=1)
    transform = FeatureTransform.fit(points, [Feature.x1, Feature.x2], normalization)
    assert transform.scale[0].item() == 1.0
    assert torch.isfinite(transform(points)).all()
    torch.testing.assert_close(transform(points)[:, 0], torch.zeros(20))


def test_building_the_largest_set_is_fast() -> None:
    spec = make_spec(features=ALL_FEATURES, n_samples=5000, noise=0.5, normalization="standard")
    build_dataset(spec)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        build_dataset(spec)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05  # a few ms in practice; generous for a busy machine
