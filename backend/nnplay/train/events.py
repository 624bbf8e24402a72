"""What the trainers publish: metrics points, probe snapshots and the final result.

Plain dataclasses with numpy payloads; the web layer encodes them for the wire.
Supervised runs publish `MetricsEvent` and `Snapshot`, GANs `GanMetricsEvent` and
`GanSnapshot`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

import numpy as np


def finite_only(value: Any) -> Any:
    """`value` with every non-finite float (a loss that overflowed) made None: JSON has none."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_only(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_only(item) for item in value]
    return value


def finite_fields(event: Any) -> dict[str, Any]:
    """A dataclass event's fields, JSON-ready: `finite_only` of a shallow field dict.

    Shallow: `finite_only` copies what it walks anyway; `asdict`'s deep copy made a
    metrics point five times as costly (55 against 10 µs with a class report).
    """
    return finite_only({item.name: getattr(event, item.name) for item in fields(event)})


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
    # How many test samples the test figures (and report) cover: image runs measure a
    # fixed subset (the first 512 test images) until the run's last point, which covers all.
    test_samples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a non-finite figure is None)."""
        return finite_fields(self)


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


@dataclass(frozen=True)
class GanMetricsEvent:
    """One point of a GAN's curves; losses are on fixed evaluation batches (deterministic)."""

    step: int  # iterations: each is d_steps discriminator and g_steps generator updates
    epoch: float  # real samples the discriminator has seen / real-set size
    d_loss: float
    g_loss: float
    d_real: float  # mean discriminator output on real samples (probability, or raw score)
    d_fake: float  # the same on generated samples
    distance: float  # sliced Wasserstein distance real vs generated; falls as G learns
    lr: float  # the generator's learning rate (a live change sets both)
    g_lr: float
    d_lr: float
    steps_per_second: float
    elapsed: float  # seconds of training so far (pauses excluded)
    kl: float | None = None  # 2-D: KL(real || generated) on a grid over the plane, in nats
    js: float | None = None  # 2-D: Jensen-Shannon divergence on that grid, in nats (<= ln 2)
    confidence: float | None = None  # digits: the classifier's mean top probability
    coverage: float | None = None  # share of the target's modes (2-D mixtures) or of the 10
    # digit classes (digits) that generated samples hit; mode collapse shows as low coverage
    score: float | None = None  # digits: classifier score exp(E KL(p(y|x) || p(y))), 1..10

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a non-finite figure is None)."""
        return finite_fields(self)


@dataclass(frozen=True)
class DiscriminatorProbe:
    """The discriminator's output over the plane: `(n, n)` uint8, row 0 the top (x2 max)."""

    grid: np.ndarray
    value_range: tuple[float, float]  # what 0 and 255 stand for (a probability: 0, 1)
    domain: tuple[float, float]  # x1 and x2 both span this


@dataclass(frozen=True)
class ManifoldProbe:
    """The latent grid mapped through the generator: `(g, g, 2)` (latent 2) or `(g, 2)` float32.

    Cell `[i, j]` is G(z) for z = (lo + (hi - lo) * j / (g - 1), hi - (hi - lo) * i / (g - 1))
    (row 0 at the top, as an image); for latent_dim 1, entry `[j]` is G(lo + (hi - lo) * j /
    (g - 1)).
    """

    points: np.ndarray
    latent_range: tuple[float, float]


@dataclass(frozen=True)
class SamplesProbe:
    """Generated images from fixed latent vectors, tiled: `(rows * h, cols * w)` uint8."""

    grid: np.ndarray
    rows: int
    cols: int
    cell: tuple[int, int]  # (h, w) of one image
    value_range: tuple[float, float]  # pixel values that 0 and 255 stand for


@dataclass(frozen=True)
class GanSnapshot:
    """All GAN probes taken at one step; 2-D targets fill the first four, images `samples`.

    `fake` are generated points `(n, 2)` float32 from fixed latent vectors, so each point
    moves smoothly from frame to frame; `gradients` `(n, 2)` float32 is, per fake point,
    the direction the generator's loss pushes it (-d loss_G / d x), scaled so the longest
    arrow has length 1 (`gradient_norm` is that arrow's true length).
    """

    step: int
    fake: np.ndarray | None = None
    discriminator: DiscriminatorProbe | None = None
    manifold: ManifoldProbe | None = None
    gradients: np.ndarray | None = None
    gradient_norm: float = 0.0
    samples: SamplesProbe | None = None


@dataclass(frozen=True)
class ImageLayers:
    """Per-layer uint8 images concatenated: layer i holds `shapes[i]`, scaled from its
    own `ranges[i]` (lo, hi) to 0..255."""

    values: np.ndarray  # (total,) uint8
    shapes: tuple[tuple[int, ...], ...]
    ranges: tuple[tuple[float, float], ...]
    kinds: tuple[str, ...] = ()  # the layer type of each entry


@dataclass(frozen=True)
class ProbeImage:
    """The image the feature maps are of: pixels `(h, w)` uint8 and what the net says."""

    pixels: np.ndarray  # (h, w) uint8, 0..255 for 0..1
    index: int | None  # test image index, None for a drawn image
    label: int | None  # its true class (test images)
    probabilities: tuple[float, ...]
    predicted: int


@dataclass(frozen=True)
class Misclassified:
    """Up to 16 test images the network gets wrong, `(n, h, w)` uint8, with classes, by
    the predictions of the weights of `step` (a metrics point's, reused by later snapshots)."""

    images: np.ndarray
    indices: tuple[int, ...]
    true: tuple[int, ...]
    predicted: tuple[int, ...]
    step: int


@dataclass(frozen=True)
class CnnSnapshot:
    """The probes of an image classifier at one step: kernels of every conv layer
    (`(out, in, k, k)` each), the probe image's feature maps after every conv and pool
    layer (`(c, h, w)` each), the probe image and the misclassified test images."""

    step: int
    kernels: ImageLayers
    feature_maps: ImageLayers
    probe: ProbeImage
    misclassified: Misclassified


@dataclass(frozen=True)
class RnnSnapshot:
    """The probes of a sequence network at one step, for one probe sequence of `time`
    steps, read at its first recurrent layer (top cell where stacked).

    `hidden`: uint8 `(time, units)` on `hidden_range`; `gates`: uint8 `(g, time, units)`
    (`gate_names`, each on its `gate_ranges` entry; none for a plain RNN); `sequence`:
    float32 `(3, time)` rows input, target, prediction (NaN where the task has none);
    `gradient_norms`: float32 `(time,)`, |d loss / d h_t| by the weights of step
    `gradient_step`; `sample`: generated text, by the weights of step `sample_step` (both
    are renewed less often than the rest while a run streams)."""

    step: int
    index: int  # the probe sequence (test set)
    cell: str  # "rnn", "gru" or "lstm"
    hidden: np.ndarray
    hidden_range: tuple[float, float]
    gates: np.ndarray | None
    gate_names: tuple[str, ...]
    gate_ranges: tuple[tuple[float, float], ...]
    sequence: np.ndarray
    input_kind: str  # "value" or "symbol" (row 0 holds a class id)
    classes: int  # 0 for regression; else rows 1 and 2 hold class ids
    gradient_norms: np.ndarray
    gradient_step: int
    sample: str | None = None
    sample_step: int | None = None


AnyMetricsEvent = MetricsEvent | GanMetricsEvent
AnySnapshot = Snapshot | GanSnapshot | CnnSnapshot | RnnSnapshot


class RunStatus(StrEnum):
    """How a training run ended."""

    completed = "completed"
    stopped = "stopped"
    failed = "failed"


@dataclass(frozen=True)
class Failure:
    """Why a run failed, for code to read: `kind` ("diverged", "error", "start_failed"),
    the step it happened at and the sentence shown to people."""

    kind: str
    step: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """The outcome of `Trainer.run()`."""

    status: RunStatus
    steps: int
    seconds: float
    reason: str | None = None
    metrics: AnyMetricsEvent | None = None
    failure: Failure | None = None  # set when status is failed

    def summary(self) -> dict[str, Any]:
        """The one-line JSON summary the CLI prints (a failed run adds a `failure` object)."""
        out: dict[str, Any] = {"status": self.status.value, "steps": self.steps}
        if self.reason:
            out["reason"] = self.reason
        if self.status == RunStatus.failed:
            failure = self.failure or Failure("error", self.steps, self.reason or "failed")
            out["failure"] = failure.to_dict()
        if isinstance(self.metrics, GanMetricsEvent):
            for key in ("d_loss", "g_loss", "distance", "score", "confidence", "coverage"):
                value = getattr(self.metrics, key)
                if value is not None:
                    out[key] = value
        elif self.metrics is not None:
            out["train_loss"] = self.metrics.train_loss
            out["test_loss"] = self.metrics.test_loss
            if self.metrics.train_accuracy is not None:
                out["train_accuracy"] = self.metrics.train_accuracy
                out["test_accuracy"] = self.metrics.test_accuracy
        if self.failure is not None and self.failure.kind == "diverged":
            # The weights are no longer finite: no metric holds.
            out.update({key: None for key in out
                        if key not in ("status", "steps", "reason", "failure")})
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
    # GANs: {"latent_dim", "noise", "gan_loss", "sample_shape", "generator": rows,
    # "discriminator": rows} (`layers` then holds the generator's rows); None otherwise.
    gan: dict[str, Any] | None = None
