"""Tests for `parse_spec` error messages, spec defaults and the dict helpers."""

from __future__ import annotations

from typing import Any

import pytest

from nnplay.presets import get_preset
from nnplay.spec import (
    LIMITS,
    Activation,
    DatasetName,
    DenseLayer,
    ExperimentSpec,
    Feature,
    LossName,
    OptimizerName,
    SpecError,
    Task,
    deep_merge,
    parse_spec,
    set_dotted,
)


def _messages(data: dict[str, Any]) -> str:
    """Parse `data`, expect a `SpecError`, and return its messages joined by newlines."""
    with pytest.raises(SpecError) as caught:
        parse_spec(data)
    assert caught.value.messages, "a SpecError must carry at least one message"
    return "\n".join(caught.value.messages)


def test_empty_dict_gives_the_defaults() -> None:
    spec = parse_spec({})
    assert spec == ExperimentSpec()
    assert spec.dataset.name == DatasetName.spiral
    assert [layer.units for layer in spec.model.layers] == [4, 2]  # type: ignore[union-attr]
    assert spec.optimizer.name == OptimizerName.sgd
    assert spec.batch_size == 10


def test_unknown_activation_names_the_field_and_the_choices() -> None:
    text = _messages({"model": {"layers": [{"units": 3, "activation": "relu6"}]}})
    assert "model.layers.0.activation" in text
    assert "relu6" in text
    for activation in Activation:
        assert f"'{activation.value}'" in text


def test_too_many_layers_names_the_maximum() -> None:
    text = _messages({"model": {"layers": [{"units": 2}] * (LIMITS.max_layers + 1)}})
    assert "model.layers" in text
    assert "at most 10" in text
    assert "11" in text


@pytest.mark.parametrize("lr", [0, -0.5])
def test_non_positive_lr_names_the_range(lr: float) -> None:
    text = _messages({"optimizer": {"lr": lr}})
    assert "optimizer.lr" in text
    assert "between 1e-06 and 10" in text


def test_batch_size_zero_names_the_range() -> None:
    text = _messages({"batch_size": 0})
    assert text.startswith("batch_size")
    assert "between 1 and 5000" in text


def test_batch_larger_than_training_set_names_the_allowed_sizes() -> None:
    # 500 samples with half held out leaves 250 to train on.
    text = _messages({"batch_size": 300})
    assert "batch_size 300" in text
    assert "250" in text
    assert "use 1 to 250" in text


def test_full_batch_is_accepted() -> None:
    spec = parse_spec({"batch_size": 250})
    assert spec.batch_size == spec.train_size == 250


def test_unknown_dataset_lists_the_datasets() -> None:
    text = _messages({"dataset": {"name": "swirl"}})
    assert "dataset.name" in text
    assert "swirl" in text
    for name in DatasetName:
        assert f"'{name.value}'" in text


def test_unknown_feature_lists_the_features() -> None:
    text = _messages({"features": ["x1", "x3"]})
    assert "features.1" in text
    assert "x3" in text
    for feature in Feature:
        assert f"'{feature.value}'" in text


def test_unknown_field_is_refused_by_name() -> None:
    text = _messages({"learning_rate": 0.1})
    assert text == "learning_rate: is not a known field"


def test_unknown_nested_field_is_refused_by_path() -> None:
    text = _messages({"optimizer": {"learning_rate": 0.1}})
    assert "optimizer.learning_rate: is not a known field" in text


def test_unknown_layer_type_lists_the_types() -> None:
    text = _messages({"model": {"layers": [{"type": "attention", "units": 3}]}})
    assert "model.layers.0" in text
    assert "layer type is unknown" in text
    for name in ("dense", "dropout", "batchnorm"):
        assert name in text


def test_image_layer_on_2d_data_is_refused() -> None:
    text = _messages({"model": {"layers": [{"type": "conv2d"}]}})
    assert "model.layers.0.type 'conv2d'" in text
    assert "'dense', 'dropout' and 'batchnorm'" in text


def test_regression_with_bce_names_the_regression_losses() -> None:
    text = _messages({"task": "regression", "dataset": {"name": "plane"}, "loss": "bce"})
    assert "loss 'bce'" in text
    assert "huber, mae, mse" in text


def test_classification_dataset_with_regression_task_names_the_regression_datasets() -> None:
    text = _messages({"task": "regression", "dataset": {"name": "spiral"}})
    assert "dataset.name 'spiral' is a classification dataset" in text
    assert "multi_gaussian, plane" in text


def test_regression_dataset_with_default_task_is_refused() -> None:
    text = _messages({"dataset": {"name": "plane"}})
    assert "dataset.name 'plane' is a regression dataset" in text
    assert "spiral" in text


def test_nesterov_without_momentum_is_refused() -> None:
    text = _messages({"optimizer": {"nesterov": True}})
    assert "optimizer.nesterov" in text
    assert "momentum > 0" in text


def test_nesterov_with_momentum_is_accepted() -> None:
    spec = parse_spec({"optimizer": {"nesterov": True, "momentum": 0.9}})
    assert spec.optimizer.nesterov


def test_batch_one_with_batchnorm_is_refused() -> None:
    text = _messages({"batch_size": 1,
                      "model": {"layers": [{"units": 4}, {"type": "batchnorm"}]}})
    assert "batch_size 1" in text
    assert "batchnorm" in text
    assert "2 or more" in text


def test_duplicate_features_are_refused() -> None:
    assert "features" in _messages({"features": ["x1", "x1"]})


def test_several_errors_are_all_reported() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec({"batch_size": 0, "optimizer": {"lr": -1}, "learning_rate": 1})
    text = "\n".join(caught.value.messages)
    assert len(caught.value.messages) == 3
    for field in ("batch_size", "optimizer.lr", "learning_rate"):
        assert field in text
    assert str(caught.value) == "; ".join(caught.value.messages)


def test_layer_without_type_is_dense() -> None:
    spec = parse_spec({"model": {"layers": [{"units": 8, "activation": "relu"}, {}]}})
    first, second = spec.model.layers
    assert isinstance(first, DenseLayer) and isinstance(second, DenseLayer)
    assert (first.units, first.activation) == (8, Activation.relu)
    assert (second.units, second.activation) == (4, Activation.tanh)


def test_dense_layer_fields_are_checked_without_type() -> None:
    text = _messages({"model": {"layers": [{"units": 0}]}})
    assert "model.layers.0.units: must be between 1 and 256" in text


def test_regression_spec_parses() -> None:
    spec = parse_spec({"task": "regression", "dataset": {"name": "plane"}, "loss": "huber"})
    assert spec.task == Task.regression
    assert spec.loss == LossName.huber


def test_deep_merge_merges_nested_dicts_and_replaces_the_rest() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [1, 2], "c": 3}
    overrides = {"a": {"y": {"q": 20}, "z": 5}, "b": [9], "d": 4}
    merged = deep_merge(base, overrides)
    assert merged == {"a": {"x": 1, "y": {"p": 1, "q": 20}, "z": 5}, "b": [9], "c": 3, "d": 4}
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [1, 2], "c": 3}  # untouched


def test_deep_merge_copies_so_later_edits_do_not_leak() -> None:
    overrides: dict[str, Any] = {"layers": [{"units": 3}]}
    merged = deep_merge({}, overrides)
    merged["layers"][0]["units"] = 99
    assert overrides["layers"][0]["units"] == 3


def test_deep_merge_dict_replaces_scalar() -> None:
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert deep_merge({"a": {"b": 2}}, {"a": 1}) == {"a": 1}


def test_set_dotted_creates_nested_keys_and_leaves_the_input_alone() -> None:
    data: dict[str, Any] = {"optimizer": {"name": "adam"}}
    result = set_dotted(data, "optimizer.lr", 0.1)
    assert result == {"optimizer": {"name": "adam", "lr": 0.1}}
    assert data == {"optimizer": {"name": "adam"}}
    assert set_dotted({}, "a.b.c", 1) == {"a": {"b": {"c": 1}}}
    assert set_dotted({}, "batch_size", 5) == {"batch_size": 5}


def test_set_dotted_indexes_lists() -> None:
    data = {"model": {"layers": [{"units": 4}, {"units": 2}]}}
    result = set_dotted(data, "model.layers.1.units", 7)
    assert result == {"model": {"layers": [{"units": 4}, {"units": 7}]}}
    assert set_dotted({"xs": [1, 2, 3]}, "xs.0", 9) == {"xs": [9, 2, 3]}


def test_set_dotted_result_parses_as_a_spec() -> None:
    data = set_dotted(set_dotted({}, "optimizer.lr", 0.5), "model.layers", [{"units": 3}])
    spec = parse_spec(data)
    assert spec.optimizer.lr == 0.5
    assert [layer.units for layer in spec.model.layers] == [3]  # type: ignore[union-attr]


def test_preset_overrides_merge_over_the_preset() -> None:
    preset = get_preset("spiral")
    spec = preset.build({"optimizer": {"lr": 0.05}, "max_steps": 7})
    assert spec.optimizer.lr == 0.05
    assert spec.optimizer.name == OptimizerName.adam  # kept from the preset
    assert spec.max_steps == 7
    assert spec.features == [Feature.x1, Feature.x2, Feature.sin_x1, Feature.sin_x2]
    assert preset.build().optimizer.lr == 0.01  # the preset itself is unchanged


def test_invalid_preset_override_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as caught:
        get_preset("spiral").build({"optimizer": {"lr": 100}})
    assert "optimizer.lr" in caught.value.messages[0]


@pytest.mark.parametrize(("data", "message"), [
    ({"optimizer": {"lr": "0.1"}}, 'optimizer.lr: must be a number (got "0.1")'),
    ({"optimizer": {"beta1": False}}, "optimizer.beta1: must be a number (got false)"),
    ({"batch_size": "10"}, 'batch_size: must be a whole number (got "10")'),
    ({"seed": 1.5}, "seed: must be a whole number (got 1.5)"),
    ({"dataset": {"classes": True}}, "dataset.classes: must be a whole number (got true)"),
    ({"model": {"layers": [{"type": "conv2d", "stride": "2"}]}},
     'model.layers.0.stride: must be a whole number (got "2")'),
])
def test_numbers_are_strict(data: dict[str, Any], message: str) -> None:
    """Text or booleans where a number belongs are refused, naming the field (not converted)."""
    assert message in _messages(data).splitlines()


def test_json_numbers_keep_their_value_across_int_and_float() -> None:
    """JSON has no integer type: 1 is a valid float and 250.0 a valid whole number."""
    spec = parse_spec({"optimizer": {"lr": 1, "momentum": 0}, "regularization": {"l2": 0},
                       "batch_size": 250.0, "dataset": {"n_samples": 500.0}})
    assert spec.optimizer.lr == 1.0 and isinstance(spec.optimizer.lr, float)
    assert spec.batch_size == 250 and isinstance(spec.batch_size, int)
    assert spec.dataset.n_samples == 500 and isinstance(spec.dataset.n_samples, int)
    assert "batch_size: must be between 1 and 5000 (got 6000)" in _messages({"batch_size": 6e3})


def test_nesterov_error_names_the_optimizer_it_is_in() -> None:
    """A GAN's d_optimizer is named as such, not as `optimizer`."""
    text = _messages({"task": "gan", "dataset": {"name": "ring"},
                      "d_optimizer": {"name": "adam", "nesterov": True}})
    assert text == "d_optimizer.nesterov: needs name 'sgd' and momentum > 0 in the same optimizer"
