"""The layer registry's spec side: each layer type's fields and shape rule, and the stacks
each data kind takes.
"""

from __future__ import annotations

import math
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Discriminator,
    Field,
    StrictFloat,
    Tag,
)

from nnplay.spec.names import LIMITS, Activation, DataKindName, Init, StrictModel, WholeNumber

Shape = tuple[int, ...]  # one sample, without the batch: (features,) or (channels, h, w)


class ShrinksError(ValueError):
    """A layer would shrink its input below 1x1; the message says how, without the location."""


class LayerBase(StrictModel):
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


class ModelSpec(StrictModel):
    """Hidden layers (the output layer follows from task and dataset) and weight init."""

    layers: list[LayerSpec] = Field(
        default_factory=_default_layers, max_length=LIMITS.max_layers
    )
    init: Init = Init.xavier_uniform


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
                             f"sequence data take {quoted_words(allowed)} layers")
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


def kind_layer_types(kind: DataKindName) -> tuple[str, ...]:
    """The layer types data of `kind` takes."""
    return KIND_LAYER_TYPES[kind]


def quoted_words(names: tuple[str, ...]) -> str:
    """'dense', 'dropout' and 'batchnorm'."""
    quoted = [f"'{name}'" for name in names]
    return ", ".join(quoted[:-1]) + f" and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def flat_stack_problem(layers: list[LayerSpec], where: str, data: str) -> str | None:
    """Why a stack of flat vectors (2-D points, latent vectors) cannot take these layers."""
    allowed = kind_layer_types(DataKindName.points2d)
    for index, layer in enumerate(layers):
        if layer.type not in allowed:
            return (f"{where}.layers.{index}.type '{layer.type}' cannot be used here; "
                    f"{data} take {quoted_words(allowed)} layers")
    return None


def image_stack_problem(layers: list[LayerSpec], where: str,
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
