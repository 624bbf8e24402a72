"""The structural key of a cohort: which specs can train together as one stacked model.

Two specs share a key when one batched step computes both: the same data kind and
input width, the same layer types, sizes and activations, the same head and loss, the
same optimizer kind, batch size and train/test sizes. Everything that is a value (seeds,
and so data and initial weights; learning rate, momentum, betas, weight decay, L1/L2,
noise, init) may differ per member. The key is built from the layer registry
(`LAYER_TYPES`) and the data-kind registry (`DATA_KINDS`); a spec whose layers or data
have no batched form gets `None` and a reason (`cohort_refusal`).

GAN pairs (`nnplay.train.gan_cohort`) key on the same registries: the target's data
kind and sample shape, the latent size and noise kind, both networks' layer shapes
and activations, the GAN loss and whether its gradient penalty is on, d_steps and
g_steps, the batch size and real sample count, and both optimizer kinds.
"""

from __future__ import annotations

from collections.abc import Hashable

from nnplay.data.kinds import DATA_KINDS, kind_of
from nnplay.data.toy2d import class_count
from nnplay.models.layers import LAYER_TYPES, layer_type
from nnplay.spec import (
    DataKindName,
    DatasetName,
    ExperimentSpec,
    GanLoss,
    LayerSpec,
    OptimizerName,
    Task,
)
from nnplay.train.heads import SoftmaxHead, make_head

# Layer types with a batched (member-stacked) form, and what of a layer changes the
# computation's shape. Dense only for now: dropout draws from the global RNG per
# member and batchnorm keeps running statistics, so neither stacks yet; conv stacks
# later as grouped convolution, recurrent layers as batched cells.
BATCHED_LAYERS: dict[str, tuple[str, ...]] = {"dense": ("units", "activation")}
# Data kinds whose datasets stack along a member axis (equal sample shape per key).
BATCHED_KINDS: frozenset[DataKindName] = frozenset({DataKindName.points2d})
# Optimizers with a vectorised step (`nnplay.train.cohort_optim.STACKED_RULES`).
BATCHED_OPTIMIZERS: frozenset[OptimizerName] = frozenset(OptimizerName)
# GAN losses with a batched form, the gradient penalty's double backward included.
BATCHED_GAN_LOSSES: frozenset[GanLoss] = frozenset(GanLoss)

assert set(BATCHED_LAYERS) <= set(LAYER_TYPES), "batched layers must be registry layers"
assert set(DATA_KINDS) >= BATCHED_KINDS, "batched kinds must be registry kinds"


def _n_classes(spec: ExperimentSpec) -> int:
    """Classes of the spec's dataset without building it (custom data: largest label + 1)."""
    if spec.task == Task.regression:
        return 0
    if spec.dataset.name == DatasetName.custom:
        return max(spec.dataset.labels or [0]) + 1
    return class_count(spec.dataset.name, spec.dataset.classes)


def _layers_refusal(layers: list[LayerSpec], where: str) -> str | None:
    for index, layer in enumerate(layers):
        if layer.type not in BATCHED_LAYERS:
            return (f"{where}.layers.{index}: layer type '{layer.type}' has no batched form "
                    "yet (only dense layers stack)")
    return None


def _gan_refusal(spec: ExperimentSpec) -> str | None:
    assert spec.generator is not None and spec.discriminator is not None  # the validator
    kind = kind_of(spec)
    if kind.name not in BATCHED_KINDS:
        return (f"GAN pairs on {kind.label.lower()} data have no batched form yet "
                "(only 2-D targets stack)")
    for where, model in (("generator", spec.generator), ("discriminator", spec.discriminator)):
        refusal = _layers_refusal(model.layers, where)
        if refusal is not None:
            return refusal
    for where, optimizer in zip(("g_optimizer", "d_optimizer"), spec.gan_optimizers(),
                                strict=True):
        if optimizer.name not in BATCHED_OPTIMIZERS:
            return f"{where} '{optimizer.name.value}' has no vectorised step yet"
    if spec.gan_loss not in BATCHED_GAN_LOSSES:
        return f"gan_loss '{spec.gan_loss.value}' has no batched form yet"
    return None


def cohort_refusal(spec: ExperimentSpec) -> str | None:
    """Why `spec` cannot join a cohort (one sentence), or None when it can."""
    if spec.task == Task.gan:
        return _gan_refusal(spec)
    kind = kind_of(spec)
    if kind.name not in BATCHED_KINDS:
        return f"{kind.label.lower()} data have no batched form yet"
    refusal = _layers_refusal(spec.model.layers, "model")
    if refusal is not None:
        return refusal
    if spec.optimizer.name not in BATCHED_OPTIMIZERS:
        return f"optimizer '{spec.optimizer.name.value}' has no vectorised step yet"
    return None


def _layer_shapes(layers: list[LayerSpec]) -> tuple[tuple[str, ...], ...]:
    """What of each layer changes the computation's shape (`BATCHED_LAYERS`)."""
    return tuple((layer.type, *(str(getattr(layer, name)) for name in BATCHED_LAYERS[layer.type]))
                 for layer in layers)


def _gan_key(spec: ExperimentSpec) -> Hashable:
    assert spec.generator is not None and spec.discriminator is not None
    kind = kind_of(spec)
    n_real = spec.dataset.n_samples
    g_optimizer, d_optimizer = spec.gan_optimizers()
    return (
        "gan-cohort/1", kind.name.value, tuple(kind.sample_shape(spec.dataset.name)),
        spec.latent_dim, spec.noise.value, _layer_shapes(spec.generator.layers),
        _layer_shapes(spec.discriminator.layers), spec.gan_loss.value,
        # The penalty's mixes are drawn only when it is on: on/off changes the draws.
        spec.gan_loss == GanLoss.wasserstein_gp and spec.gradient_penalty > 0,
        spec.d_steps, spec.g_steps,
        # A batch as large as the real set is the whole set, undrawn (as the trainer does).
        spec.batch_size if spec.batch_size < n_real else "full", n_real,
        g_optimizer.name.value, d_optimizer.name.value,
    )


def cohort_key(spec: ExperimentSpec) -> Hashable | None:
    """What must be equal for specs to train as one stacked model; None if `spec` cannot."""
    if cohort_refusal(spec) is not None:
        return None
    if spec.task == Task.gan:
        return _gan_key(spec)
    kind = kind_of(spec)
    n_classes = _n_classes(spec)
    head = make_head(spec.task, spec.loss, max(n_classes, 2))
    layers = _layer_shapes(spec.model.layers)
    n_train = spec.train_size
    # A batch as large as the train set is the whole set, unshuffled (as the trainer does).
    batch = spec.batch_size if spec.batch_size < n_train else "full"
    return (
        "cohort/1", kind.name.value, tuple(kind.sample_shape(spec.dataset.name)),
        len(spec.features), spec.task.value, spec.loss.value, type(head).__name__,
        head.out_units if not isinstance(head, SoftmaxHead) else n_classes, n_classes,
        tuple(layer_type(layer).name for layer in spec.model.layers), layers,
        spec.optimizer.name.value, batch, n_train, spec.dataset.n_samples - n_train,
    )


__all__ = ["BATCHED_GAN_LOSSES", "BATCHED_KINDS", "BATCHED_LAYERS", "BATCHED_OPTIMIZERS",
           "cohort_key", "cohort_refusal"]
