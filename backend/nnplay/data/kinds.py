"""The data-kind registry: what each kind of data (2-D points, images, sequences) means.

One entry per `DataKindName`: how a dataset of that kind is loaded, its input shape
per sample, which tasks, layer types, probes and frames apply. Code asks the kind of
a spec's dataset (`kind_of`) instead of testing the task; which kind each dataset is
stays in `nnplay.spec.DATASET_KINDS`, beside the other per-dataset facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnplay.data.dataset import Dataset, build_dataset
from nnplay.data.gan_targets import GanData, build_gan_data
from nnplay.data.images import ImageSet, load_image_set
from nnplay.data.sequences import SequenceDataset, build_sequence_dataset
from nnplay.spec import (
    DATASET_KINDS,
    DATASET_TASKS,
    IMAGE_SHAPES,
    KIND_LAYER_TYPES,
    DataKindName,
    DatasetName,
    ExperimentSpec,
    Shape,
    Task,
)


@dataclass(frozen=True)
class DataKind:
    """One kind of data: its loaders, input shape and what applies to it."""

    name: DataKindName
    label: str
    layer_types: tuple[str, ...]  # names in `nnplay.models.layers.LAYER_TYPES`
    probes: tuple[str, ...]  # probe points its networks are read at
    frames: tuple[str, ...]  # binary frame types its runs send (snapshot and data frames)
    sample_shape: Callable[[DatasetName], Shape]  # one raw sample, e.g. (2,) or (1, 8, 8)
    load: Callable[[ExperimentSpec], Dataset | GanData | SequenceDataset]  # what a run trains on
    load_set: Callable[[str, Path | None], ImageSet] | None = None  # raw sets (images)

    def datasets(self) -> list[DatasetName]:
        """The datasets of this kind, in catalog order."""
        return [name for name, kind in DATASET_KINDS.items() if kind == self.name]

    def tasks(self) -> list[Task]:
        """Every task some dataset of this kind serves."""
        served = set().union(*(DATASET_TASKS[name] for name in self.datasets()))
        return [task for task in Task if task in served]

    def catalog(self) -> dict[str, Any]:
        """The kind as the page sees it: datasets with input shapes, tasks, layers, frames."""
        return {"name": self.name.value, "label": self.label,
                "tasks": [task.value for task in self.tasks()],
                "datasets": [{"name": name.value, "input_shape": list(self.sample_shape(name))}
                             for name in self.datasets()],
                "layer_types": list(self.layer_types), "probes": list(self.probes),
                "frames": list(self.frames)}


def _load_points(spec: ExperimentSpec) -> Dataset | GanData:
    # A GAN's data are real samples to imitate, not labelled points (a GAN check by nature).
    return build_gan_data(spec) if spec.task == Task.gan else build_dataset(spec)


def _sequence_shape(name: DatasetName) -> Shape:
    # Per time step: one value, or one-hot symbols (memory: 3 by default; text: its chars).
    return {DatasetName.memory: (20, 4)}.get(name, (20, 1))


def _image_shape(name: DatasetName) -> Shape:
    return (1, *IMAGE_SHAPES[name])


DATA_KINDS: dict[DataKindName, DataKind] = {
    kind.name: kind
    for kind in (
        DataKind(DataKindName.points2d, "2-D points", KIND_LAYER_TYPES[DataKindName.points2d],
                 ("neurons",),
                 ("boundary", "neurons", "weights", "points", "fake", "discriminator",
                  "manifold", "gradients"),
                 lambda name: (2,), _load_points),
        DataKind(DataKindName.image, "Images", KIND_LAYER_TYPES[DataKindName.image],
                 ("neurons", "feature_maps"),
                 ("samples", "images", "kernels", "feature_maps", "probe", "misclassified"),
                 _image_shape,
                 build_gan_data, load_image_set),
        DataKind(DataKindName.sequence, "Sequences", KIND_LAYER_TYPES[DataKindName.sequence],
                 ("hidden_state",),
                 ("hidden_state", "gates", "sequence", "gradient_norms", "sample"),
                 _sequence_shape, build_sequence_dataset),
    )
}


def kind_of(spec: ExperimentSpec) -> DataKind:
    """The data kind of a spec's dataset."""
    return DATA_KINDS[DATASET_KINDS[spec.dataset.name]]


def load_data(spec: ExperimentSpec) -> Dataset | GanData | SequenceDataset:
    """What a run of `spec` trains on, loaded the way its data kind loads it."""
    return kind_of(spec).load(spec)


__all__ = ["DATA_KINDS", "DataKind", "kind_of", "load_data"]
