"""The experiment spec: every field name, default and limit of an nnplay experiment.

This module is the only place that knows them. REST bodies, share links, presets,
saved runs and the CLI all go through `ExperimentSpec`; the catalog shown to the
page is derived from the enums and `LIMITS` below.
"""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo


class Limits(BaseModel):
    """Upper and lower bounds for every numeric field, in one place."""

    model_config = ConfigDict(frozen=True)

    max_layers: int = 10
    max_units: int = 256
    min_samples: int = 10
    max_samples: int = 5000
    max_noise: float = 1.0
    max_test_fraction: float = 0.9
    min_classes: int = 2
    max_classes: int = 10
    max_batch_size: int = 5000
    max_steps: int = 1_000_000
    min_lr: float = 1e-6
    max_lr: float = 10.0
    max_regularization: float = 1.0
    max_dropout: float = 0.9
    max_kernel_size: int = 7
    max_filters: int = 64
    max_name_length: int = 80
    max_seed: int = 2**31 - 1


LIMITS = Limits()


class Task(StrEnum):
    classification = "classification"
    regression = "regression"
    gan = "gan"


class DatasetName(StrEnum):
    circle = "circle"
    xor = "xor"
    gaussians = "gaussians"
    spiral = "spiral"
    moons = "moons"
    blobs = "blobs"
    plane = "plane"
    multi_gaussian = "multi_gaussian"


class Feature(StrEnum):
    x1 = "x1"
    x2 = "x2"
    x1_sq = "x1_sq"
    x2_sq = "x2_sq"
    x1x2 = "x1x2"
    sin_x1 = "sin_x1"
    sin_x2 = "sin_x2"


class Normalization(StrEnum):
    none = "none"
    minmax = "minmax"
    standard = "standard"


class Activation(StrEnum):
    linear = "linear"
    relu = "relu"
    leaky_relu = "leaky_relu"
    elu = "elu"
    gelu = "gelu"
    sigmoid = "sigmoid"
    tanh = "tanh"
    softplus = "softplus"
    swish = "swish"


class Init(StrEnum):
    default = "default"
    zeros = "zeros"
    normal = "normal"
    uniform = "uniform"
    xavier_uniform = "xavier_uniform"
    xavier_normal = "xavier_normal"
    kaiming_uniform = "kaiming_uniform"
    kaiming_normal = "kaiming_normal"


class OptimizerName(StrEnum):
    sgd = "sgd"
    adagrad = "adagrad"
    adadelta = "adadelta"
    rmsprop = "rmsprop"
    adam = "adam"
    adamw = "adamw"
    nadam = "nadam"


class LossName(StrEnum):
    mse = "mse"
    mae = "mae"
    huber = "huber"
    bce = "bce"
    cross_entropy = "cross_entropy"
    hinge = "hinge"


# Which datasets serve which task; the catalog and the validator both read this.
DATASET_TASKS: dict[DatasetName, Task] = {
    DatasetName.circle: Task.classification,
    DatasetName.xor: Task.classification,
    DatasetName.gaussians: Task.classification,
    DatasetName.spiral: Task.classification,
    DatasetName.moons: Task.classification,
    DatasetName.blobs: Task.classification,
    DatasetName.plane: Task.regression,
    DatasetName.multi_gaussian: Task.regression,
}

REGRESSION_LOSSES = frozenset({LossName.mse, LossName.mae, LossName.huber})


class _Strict(BaseModel):
    # Unknown fields are refused so a typo ("learning_rate") is not silently ignored.
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class DatasetSpec(_Strict):
    """Which data to train on and how it is sampled, split and normalised."""

    name: DatasetName = DatasetName.spiral
    n_samples: int = Field(500, ge=LIMITS.min_samples, le=LIMITS.max_samples)
    noise: float = Field(0.0, ge=0.0, le=LIMITS.max_noise)
    test_fraction: float = Field(0.5, ge=0.0, le=LIMITS.max_test_fraction)
    classes: int = Field(3, ge=LIMITS.min_classes, le=LIMITS.max_classes)  # blobs only
    normalization: Normalization = Normalization.none
    seed: int = Field(0, ge=0, le=LIMITS.max_seed)


class DenseLayer(_Strict):
    type: Literal["dense"] = "dense"
    units: int = Field(4, ge=1, le=LIMITS.max_units)
    activation: Activation = Activation.tanh


class Conv2dLayer(_Strict):
    type: Literal["conv2d"] = "conv2d"
    filters: int = Field(8, ge=1, le=LIMITS.max_filters)
    kernel_size: int = Field(3, ge=1, le=LIMITS.max_kernel_size)
    stride: int = Field(1, ge=1, le=4)
    padding: int = Field(0, ge=0, le=3)
    activation: Activation = Activation.relu


class MaxPool2dLayer(_Strict):
    type: Literal["maxpool2d"] = "maxpool2d"
    kernel_size: int = Field(2, ge=1, le=LIMITS.max_kernel_size)


class AvgPool2dLayer(_Strict):
    type: Literal["avgpool2d"] = "avgpool2d"
    kernel_size: int = Field(2, ge=1, le=LIMITS.max_kernel_size)


class FlattenLayer(_Strict):
    type: Literal["flatten"] = "flatten"


class DropoutLayer(_Strict):
    type: Literal["dropout"] = "dropout"
    p: float = Field(0.2, ge=0.0, le=LIMITS.max_dropout)


class BatchNormLayer(_Strict):
    type: Literal["batchnorm"] = "batchnorm"


class RecurrentLayer(_Strict):
    type: Literal["rnn", "gru", "lstm"] = "rnn"
    units: int = Field(16, ge=1, le=LIMITS.max_units)


def _layer_type(value: Any) -> str:
    # A layer given without "type" is dense, so {"units": 8} is enough.
    if isinstance(value, dict):
        return str(value.get("type", "dense"))
    return str(getattr(value, "type", "dense"))


LayerSpec = Annotated[
    Annotated[DenseLayer, Tag("dense")]
    | Annotated[Conv2dLayer, Tag("conv2d")]
    | Annotated[MaxPool2dLayer, Tag("maxpool2d")]
    | Annotated[AvgPool2dLayer, Tag("avgpool2d")]
    | Annotated[FlattenLayer, Tag("flatten")]
    | Annotated[DropoutLayer, Tag("dropout")]
    | Annotated[BatchNormLayer, Tag("batchnorm")]
    | Annotated[RecurrentLayer, Tag("rnn")]
    | Annotated[RecurrentLayer, Tag("gru")]
    | Annotated[RecurrentLayer, Tag("lstm")],
    Discriminator(
        _layer_type,
        custom_error_type="layer_type",
        custom_error_message="layer type is unknown; use one of: dense, conv2d, maxpool2d, "
        "avgpool2d, flatten, dropout, batchnorm, rnn, gru, lstm",
    ),
]


def _default_layers() -> list[LayerSpec]:
    return [DenseLayer(units=4), DenseLayer(units=2)]


class ModelSpec(_Strict):
    """Hidden layers (the output layer follows from task and dataset) and weight init."""

    layers: list[LayerSpec] = Field(
        default_factory=_default_layers, max_length=LIMITS.max_layers
    )
    init: Init = Init.xavier_uniform


class OptimizerSpec(_Strict):
    """Optimizer and its hyperparameters; fields an optimizer does not use are ignored."""

    name: OptimizerName = OptimizerName.sgd
    lr: float = Field(0.03, ge=LIMITS.min_lr, le=LIMITS.max_lr)
    momentum: float = Field(0.0, ge=0.0, lt=1.0)  # sgd, rmsprop
    nesterov: bool = False  # sgd; needs momentum > 0
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    beta1: float = Field(0.9, ge=0.0, lt=1.0)  # adam, adamw, nadam
    beta2: float = Field(0.999, ge=0.0, lt=1.0)  # adam, adamw, nadam
    alpha: float = Field(0.99, ge=0.0, lt=1.0)  # rmsprop smoothing
    rho: float = Field(0.9, ge=0.0, lt=1.0)  # adadelta

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimizerSpec:
        if self.nesterov and (self.name != OptimizerName.sgd or self.momentum <= 0):
            raise ValueError(
                "optimizer.nesterov needs optimizer.name 'sgd' and optimizer.momentum > 0"
            )
        return self


class RegularizationSpec(_Strict):
    l1: float = Field(0.0, ge=0.0, le=LIMITS.max_regularization)
    l2: float = Field(0.0, ge=0.0, le=LIMITS.max_regularization)


class ExperimentSpec(_Strict):
    """A whole experiment: data, network, optimizer, loss and training budget."""

    name: str = Field("", max_length=LIMITS.max_name_length)
    task: Task = Task.classification
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    features: list[Feature] = Field(
        default_factory=lambda: [Feature.x1, Feature.x2], min_length=1, max_length=len(Feature)
    )
    model: ModelSpec = Field(default_factory=ModelSpec)
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    loss: LossName = LossName.mse
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    batch_size: int = Field(10, ge=1, le=LIMITS.max_batch_size)
    max_steps: int = Field(20000, ge=1, le=LIMITS.max_steps)
    seed: int = Field(0, ge=0, le=LIMITS.max_seed)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        if self.task == Task.gan:
            raise ValueError(
                "task 'gan' is not available yet; use 'classification' or 'regression'"
            )
        expected = DATASET_TASKS[self.dataset.name]
        if expected != self.task:
            names = sorted(n.value for n, t in DATASET_TASKS.items() if t == self.task)
            raise ValueError(
                f"dataset.name '{self.dataset.name.value}' is a {expected.value} dataset; "
                f"for task '{self.task.value}' use one of: {', '.join(names)}"
            )
        if self.task == Task.regression and self.loss not in REGRESSION_LOSSES:
            allowed = ", ".join(sorted(loss.value for loss in REGRESSION_LOSSES))
            raise ValueError(
                f"loss '{self.loss.value}' needs class labels; for regression use one of: {allowed}"
            )
        if len(set(self.features)) != len(self.features):
            raise ValueError("features: each feature may be listed once")
        for index, layer in enumerate(self.model.layers):
            if not isinstance(layer, DenseLayer | DropoutLayer | BatchNormLayer):
                raise ValueError(
                    f"model.layers.{index}.type '{layer.type}' needs image or sequence data; "
                    "2-D datasets take 'dense', 'dropout' and 'batchnorm' layers"
                )
        n_train = self.train_size
        if n_train < 1:
            raise ValueError("dataset.test_fraction leaves no training samples")
        if self.batch_size == 1 and any(
            isinstance(layer, BatchNormLayer) for layer in self.model.layers
        ):
            raise ValueError("batch_size 1 cannot train a batchnorm layer; use 2 or more")
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the training set "
                f"({n_train} samples); "
                f"use 1 to {n_train} ({n_train} is full batch)"
            )
        return self

    @property
    def train_size(self) -> int:
        """Number of training samples after the test split."""
        n_test = round(self.dataset.n_samples * self.dataset.test_fraction)
        return self.dataset.n_samples - n_test


class SpecError(ValueError):
    """A spec was refused; `messages` name each bad field and what is allowed."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _field_path(loc: tuple[int | str, ...]) -> str:
    # Discriminated unions add the tag ("dense") to the location; a person wants
    # `model.layers.0.activation`, not `model.layers.0.dense.activation`.
    parts: list[str] = []
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        if isinstance(previous, int) and isinstance(part, str) and part in _LAYER_TAGS:
            continue
        parts.append(str(part))
    return ".".join(parts)


_LAYER_TAGS = {"dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "dropout", "batchnorm",
               "rnn", "gru", "lstm"}


_BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal",
                 "too_long", "too_short"}

_LAYER_MODELS: dict[str, type[BaseModel]] = {
    "dense": DenseLayer, "conv2d": Conv2dLayer, "maxpool2d": MaxPool2dLayer,
    "avgpool2d": AvgPool2dLayer, "flatten": FlattenLayer, "dropout": DropoutLayer,
    "batchnorm": BatchNormLayer, "rnn": RecurrentLayer, "gru": RecurrentLayer,
    "lstm": RecurrentLayer,
}


def _field_at(loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The pydantic field an error location points at, following nested models and layers."""
    model: Any = ExperimentSpec
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if part in _LAYER_MODELS and field is not None and model is None:
            model = _LAYER_MODELS[part]  # the tag pydantic adds for a layer
            continue
        fields = getattr(model, "model_fields", None)
        if not fields or part not in fields:
            return None
        field = fields[part]
        model = field.annotation if isinstance(field.annotation, type) else None
    return field


def _bounds(field: FieldInfo) -> str | None:
    """A field's allowed range in words, e.g. 'between 1e-06 and 10'."""
    low = high = None
    for rule in field.metadata:
        for attr in ("ge", "gt", "min_length"):
            low = getattr(rule, attr, low)
        for attr in ("le", "lt", "max_length"):
            high = getattr(rule, attr, high)
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}" if high is not None else None


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn a pydantic error into sentences that name the field and what is allowed."""
    messages = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        path = _field_path(loc)
        text = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        field = _field_at(loc) if item["type"] in _BOUND_ERRORS else None
        bounds = _bounds(field) if field is not None else None
        if bounds and isinstance(got, list):
            text = f"must have {bounds} items (got {len(got)})"
        elif bounds:
            text = f"must be {bounds} (got {got!r})"
        elif item["type"] == "extra_forbidden":
            text = "is not a known field"
        elif not isinstance(got, dict | list) and got is not None and item["type"] != "value_error":
            text = f"{text} (got {got!r})"
        messages.append(f"{path}: {text}" if path else text)
    return messages


def parse_spec(data: dict[str, Any]) -> ExperimentSpec:
    """Validate a spec dict, raising `SpecError` with readable messages."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as error:
        raise SpecError(describe_validation_error(error)) from None


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return `base` with `overrides` merged in; nested dicts merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dotted(data: dict[str, Any], dotted_key: str, value: Any) -> dict[str, Any]:
    """Return a copy of `data` with `a.b.c` set to `value` (list indices allowed)."""
    result = copy.deepcopy(data)
    keys = dotted_key.split(".")
    node: Any = result
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return result


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as plain JSON-ready data (enums as strings)."""
    return spec.model_dump(mode="json")
