"""The catalog: every menu the page shows, derived from the spec enums and the registries."""

from __future__ import annotations

from typing import Any

from nnplay.data import DATASET_INFO, FEATURE_INFO
from nnplay.models.activations import ACTIVATIONS
from nnplay.models.init import INITS
from nnplay.presets import PRESETS
from nnplay.spec import LIMITS, ExperimentSpec, Normalization, Task
from nnplay.train.heads import LOSSES
from nnplay.train.optimizers import OPTIMIZERS

# The layer types a 2-D network can use today; the others need image or sequence data.
LAYER_TYPES = [
    {"name": "dense", "label": "Dense", "fields": ["units", "activation"]},
    {"name": "dropout", "label": "Dropout", "fields": ["p"]},
    {"name": "batchnorm", "label": "Batch norm", "fields": []},
]

# A learning rate that trains each optimizer well on the playground's problems.
SUGGESTED_LR = {"sgd": 0.03, "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 0.003,
                "adam": 0.01, "adamw": 0.01, "nadam": 0.01}


def build_catalog() -> dict[str, Any]:
    """Everything the page needs to build its menus, in one JSON-ready dict."""
    return {
        "tasks": [task.value for task in Task if task != Task.gan],
        "datasets": [{"name": info.name.value, "title": info.title,
                      "description": info.description, "task": info.task.value,
                      "multi_class": info.multi_class} for info in DATASET_INFO.values()],
        "features": [{"name": info.name.value, "label": info.label}
                     for info in FEATURE_INFO.values()],
        "normalizations": [n.value for n in Normalization],
        "layer_types": LAYER_TYPES,
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
                     "race": bool(p.variants)} for p in PRESETS.values()],
    }
