"""The whole experiment (`ExperimentSpec`): optimizer, regularization, GAN networks, budget,
and the rules that tie the parts together.
"""

from __future__ import annotations

from pydantic import (
    Field,
    StrictBool,
    StrictFloat,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nnplay.spec.data import DatasetSpec, custom_data_check
from nnplay.spec.layers import (
    BatchNormLayer,
    DenseLayer,
    ModelSpec,
    flat_stack_problem,
    image_stack_problem,
    kind_layer_types,
    quoted_words,
)
from nnplay.spec.names import (
    DATASET_KINDS,
    DATASET_TASKS,
    IMAGE_SET_SIZES,
    IMAGE_SHAPES,
    LIMITS,
    REGRESSION_LOSSES,
    Activation,
    DataKindName,
    DatasetName,
    Feature,
    GanLoss,
    Init,
    LossName,
    NoiseKind,
    OptimizerName,
    SequenceMode,
    StrictModel,
    Task,
    WholeNumber,
    served_words,
)


class OptimizerSpec(StrictModel):
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


class RegularizationSpec(StrictModel):
    l1: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_regularization)
    l2: StrictFloat = Field(0.0, ge=0.0, le=LIMITS.max_regularization)


def _default_gan_network(target: DatasetName, activation: Activation) -> ModelSpec:
    """One dense layer of 128 units for images, two of 32 for 2-D points."""
    if DATASET_KINDS[target] == DataKindName.image:
        layers = [DenseLayer(units=128, activation=activation)]
    else:
        layers = [DenseLayer(units=32, activation=activation)] * 2
    return ModelSpec(layers=layers, init=Init.kaiming_uniform)


def default_generator(target: DatasetName) -> ModelSpec:
    """The generator a GAN spec gets when it names none."""
    return _default_gan_network(target, Activation.relu)


def default_discriminator(target: DatasetName) -> ModelSpec:
    """The discriminator a GAN spec gets when it names none."""
    return _default_gan_network(target, Activation.leaky_relu)


class ExperimentSpec(StrictModel):
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
                f"dataset.name '{self.dataset.name.value}' is {served_words(served)}; "
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
            from nnplay.spec.sequences import check_sequence_spec

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
        layer_types = kind_layer_types(kind)
        for index, layer in enumerate(self.model.layers):
            if layer.type not in layer_types:
                raise ValueError(
                    f"model.layers.{index}.type '{layer.type}' needs image or sequence data; "
                    f"2-D datasets take {quoted_words(layer_types)} layers"
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
        problem = image_stack_problem(self.model.layers, "model", IMAGE_SHAPES[self.dataset.name])
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
        problem = flat_stack_problem(
            self.generator.layers, "generator",
            "generators (their output is reshaped into the image)" if image else "2-D GANs")
        if problem is None:
            problem = (image_stack_problem(self.discriminator.layers, "discriminator",
                                            IMAGE_SHAPES[data.name]) if image
                       else flat_stack_problem(self.discriminator.layers, "discriminator",
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
