"""The catalog: every menu the page shows, derived from the spec enums and the registries."""

from __future__ import annotations

from typing import Any

from nnplay.data import DATASET_INFO, FEATURE_INFO
from nnplay.data.kinds import DATA_KINDS
from nnplay.models.activations import ACTIVATIONS
from nnplay.models.init import INITS
from nnplay.models.layers import layer_catalog
from nnplay.presets import PRESETS, START_LESSON
from nnplay.spec import (
    DATASET_KINDS,
    IMAGE_CLASS_NAMES,
    IMAGE_SHAPES,
    LIMITS,
    DataKindName,
    DatasetName,
    ExperimentSpec,
    NoiseKind,
    Normalization,
    Task,
    default_discriminator,
    default_generator,
)
from nnplay.train.gan_objectives import GAN_LOSSES
from nnplay.train.heads import LOSSES
from nnplay.train.optimizers import OPTIMIZERS

# The layer types of each data kind, from the layer registry: a 2-D network (and every
# GAN generator) takes the flat ones; a GAN's discriminator on images adds conv and pooling.
LAYER_TYPES = layer_catalog(DATA_KINDS[DataKindName.points2d].layer_types)
IMAGE_LAYER_TYPES = layer_catalog(
    [name for name in DATA_KINDS[DataKindName.image].layer_types
     if name not in DATA_KINDS[DataKindName.points2d].layer_types])
SEQUENCE_LAYER_TYPES = layer_catalog(
    [name for name in DATA_KINDS[DataKindName.sequence].layer_types
     if name not in DATA_KINDS[DataKindName.points2d].layer_types])

NOISE_KINDS = {
    NoiseKind.gaussian: ("Gaussian", "Each latent number is drawn from a standard normal."),
    NoiseKind.uniform: ("Uniform", "Each latent number is drawn uniformly from [-1, 1]."),
}

# GAN fields and their limits (names in "limits"), for the page's GAN panel.
GAN_LIMITS = ["max_latent_dim", "max_manifold_latent_dim", "max_gan_steps",
              "max_gradient_penalty", "min_modes", "max_modes", "min_drawn_points",
              "max_drawn_points", "max_coordinate", "max_digits"]


def _gan_catalog() -> dict[str, Any]:
    """The GAN menus: targets, losses, noise kinds, layer types, defaults and limits."""
    spec = ExperimentSpec()
    image_target = DatasetName.digits
    point_target = DatasetName.ring
    return {
        "targets": [info.name.value for info in DATASET_INFO.values() if Task.gan in info.tasks],
        "losses": [{"name": info.name.value, "label": info.label,
                    "description": info.description,
                    "suggested_d_steps": info.suggested_d_steps}
                   for info in GAN_LOSSES.values()],
        "noises": [{"name": kind.value, "label": label, "description": description}
                   for kind, (label, description) in NOISE_KINDS.items()],
        "layer_types": {"generator": LAYER_TYPES, "discriminator": LAYER_TYPES,
                        "discriminator_images": LAYER_TYPES + IMAGE_LAYER_TYPES},
        "defaults": {
            "latent_dim": spec.latent_dim, "noise": spec.noise.value,
            "gan_loss": spec.gan_loss.value, "d_steps": spec.d_steps, "g_steps": spec.g_steps,
            "gradient_penalty": spec.gradient_penalty,
            "modes": spec.dataset.modes,
            "generator": {
                "points": default_generator(point_target).model_dump(mode="json"),
                "images": default_generator(image_target).model_dump(mode="json")},
            "discriminator": {
                "points": default_discriminator(point_target).model_dump(mode="json"),
                "images": default_discriminator(image_target).model_dump(mode="json")},
        },
        "limits": {key: getattr(LIMITS, key) for key in GAN_LIMITS},
        # Settings that train well, read from the lessons so they live in one place.
        "suggested": {kind: _gan_suggestion(preset) for kind, preset in
                      (("points", "gan-ring"), ("images", "gan-digits"))},
    }


def _gan_suggestion(preset_name: str) -> dict[str, Any]:
    spec = PRESETS[preset_name].build()
    g_optimizer, d_optimizer = spec.gan_optimizers()
    return {"g_optimizer": g_optimizer.model_dump(mode="json"),
            "d_optimizer": d_optimizer.model_dump(mode="json"),
            "batch_size": spec.batch_size, "n_samples": spec.dataset.n_samples,
            "latent_dim": spec.latent_dim}


# A learning rate that trains each optimizer well on the playground's problems.
SUGGESTED_LR = {"sgd": 0.03, "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 0.003,
                "adam": 0.01, "adamw": 0.01, "nadam": 0.01}


def build_catalog() -> dict[str, Any]:
    """Everything the page needs to build its menus, in one JSON-ready dict."""
    return {
        "tasks": [task.value for task in Task],
        # `task` is the one a dataset is listed under first ("gan" for GAN-only targets);
        # `tasks` all it serves (gaussians, spiral and moons are GAN targets too).
        "datasets": [{"name": info.name.value, "title": info.title,
                      "description": info.description, "task": info.task.value,
                      "tasks": [task.value for task in info.tasks],
                      "multi_class": info.multi_class, "gan_description": info.gan_description,
                      "modes": info.modes, "points": info.points, "image": info.image,
                      "kind": DATASET_KINDS[info.name].value,
                      **({"input_shape": [1, *IMAGE_SHAPES[info.name]],
                          "class_names": list(IMAGE_CLASS_NAMES[info.name])}
                         if info.name in IMAGE_SHAPES else {})}
                     for info in DATASET_INFO.values()],
        "features": [{"name": info.name.value, "label": info.label}
                     for info in FEATURE_INFO.values()],
        "normalizations": [n.value for n in Normalization],
        # The flat layer types first (what the playground uses), then image-only ones,
        # then recurrent ones; each entry's `takes` and each data kind's `layer_types` say
        # which data they apply to.
        "layer_types": LAYER_TYPES + IMAGE_LAYER_TYPES + SEQUENCE_LAYER_TYPES,
        "data_kinds": [kind.catalog() for kind in DATA_KINDS.values()],
        "activations": [{"name": info.name.value, "label": info.label}
                        for info in ACTIVATIONS.values()],
        "inits": [{"name": info.name.value, "label": info.label,
                   "description": info.description} for info in INITS.values()],
        "optimizers": [{"name": info.name.value, "label": info.label,
                        "description": info.description, "params": list(info.params),
                        "suggested_lr": SUGGESTED_LR[info.name.value]}
                       for info in OPTIMIZERS.values()],
        "losses": [{"name": info.name.value, "label": info.label,
                    "description": info.description,
                    "tasks": [task.value for task in info.tasks]} for info in LOSSES.values()],
        "limits": LIMITS.model_dump(),
        "defaults": ExperimentSpec().model_dump(mode="json"),
        "presets": [{"name": p.name, "title": p.title, "summary": p.summary,
                     "race": bool(p.variants), "task": p.build().task.value}
                    for p in PRESETS.values()],
        "start_lesson": START_LESSON,  # the playground opens with it when its link is empty
        "gan": _gan_catalog(),
    }
