"""What the trainer publishes: metrics points, probe snapshots and the final result.

Plain dataclasses with numpy payloads; the web layer encodes them for the wire.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


@dataclass(frozen=True)
class MetricsEvent:
    """One point of the training curves."""

    step: int
    epoch: float  # samples seen / training-set size
    train_loss: float
    test_loss: float | None  # None when there is no test set
    train_accuracy: float | None  # None for regression
    test_accuracy: float | None
    lr: float
    steps_per_second: float
    elapsed: float  # seconds of training so far (pauses excluded)
    report: dict[str, Any] | None = None  # per-class precision/recall/F1 + confusion (test set)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class BoundaryProbe:
    """The network's output over the plane, as an image.

    `grid` is `(n, n)` uint8 for two classes and regression, `(2, n, n)` uint8 for
    more classes (plane 0 = predicted class id, plane 1 = confidence 0..255).
    Row 0 is the top of the plane (x2 = domain max), column 0 its left (x1 = min).
    """

    grid: np.ndarray
    value_range: tuple[float, float]  # what 0 and 255 stand for (two classes: -1, 1)
    domain: tuple[float, float]  # x1 and x2 both span this
    n_classes: int  # 0 for regression


@dataclass(frozen=True)
class NeuronsProbe:
    """Every hidden dense unit's output over the plane: `(units, g, g)` uint8.

    Values are clamped to `value_range` (-1..1, TensorFlow Playground's scale),
    units in layer order; `layer_sizes` says how many belong to each layer.
    """

    grids: np.ndarray
    layer_sizes: tuple[int, ...]
    value_range: tuple[float, float]


@dataclass(frozen=True)
class LayerWeights:
    """One dense layer's parameters: weight `(out, in)` and bias `(out,)` float32."""

    weight: np.ndarray
    bias: np.ndarray


@dataclass(frozen=True)
class Snapshot:
    """All probes taken at one step: boundary, neuron heatmaps and weights."""

    step: int
    boundary: BoundaryProbe
    neurons: NeuronsProbe
    weights: tuple[LayerWeights, ...]


class RunStatus(StrEnum):
    """How a training run ended."""

    completed = "completed"
    stopped = "stopped"
    failed = "failed"


@dataclass(frozen=True)
class TrainResult:
    """The outcome of `Trainer.run()`."""

    status: RunStatus
    steps: int
    seconds: float
    reason: str | None = None
    metrics: MetricsEvent | None = None

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary the CLI prints."""
        out: dict[str, Any] = {"status": self.status.value, "steps": self.steps}
        if self.reason:
            out["reason"] = self.reason
        if self.metrics is not None:
            out["train_loss"] = self.metrics.train_loss
            out["test_loss"] = self.metrics.test_loss
            if self.metrics.train_accuracy is not None:
                out["train_accuracy"] = self.metrics.train_accuracy
                out["test_accuracy"] = self.metrics.test_accuracy
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass
class TrainStart:
    """Sent once before the first step: sizes the views need."""

    n_inputs: int
    n_outputs: int
    n_classes: int
    layer_sizes: list[int]
    parameter_count: int
    steps_per_epoch: int
    device: str
    layers: list[dict[str, Any]] = field(default_factory=list)  # per-layer shapes and params
