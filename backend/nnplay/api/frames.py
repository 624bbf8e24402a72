"""Binary stream frames: `uint32` LE header length, UTF-8 JSON header, raw payload.

Payloads are uint8 for grids and images, float32 (little-endian) for weights and
points; the header names `type`, `step`, `shape`, `dtype` and what the values mean.
Snapshot frames also carry `t`, the wall-clock time (`time.time()`) they were made,
so a viewer can measure how late a frame arrives.

Snapshot frames come from one registry, `FRAME_TYPES` (type -> encoder), so a new
probe is one entry. Frame types of a classification or regression job: `boundary`,
`neurons`, `weights` and, once per viewer, `points`. A GAN job sends, per snapshot:

- `fake` (2-D targets): float32 `(n, 2)`, generated points from latent vectors fixed
  for the run (so row i moves smoothly from frame to frame); header `domain`.
- `discriminator` (2-D): uint8 `(64, 64)`, D's output over the plane, row 0 the top
  (x2 = domain max) and column 0 the left, as in `boundary`; header `value_range`
  (what 0 and 255 stand for: a probability (0, 1), or for `wasserstein_gp` this
  frame's lowest and highest critic score) and `domain`.
- `manifold` (2-D, latent_dim 1 or 2): float32 `(g, g, 2)` (latent 2: cell [i, j] is
  G(z1 = lo + (hi - lo) j / (g - 1), z2 = hi - (hi - lo) i / (g - 1))) or `(g, 2)`
  (latent 1); header `latent_dim` and `latent_range` [lo, hi].
- `gradients` (2-D): float32 `(n, 2)`, at each `fake` point (same rows) the direction
  the generator's loss pushes it (-d loss_G / d x), scaled so the longest is 1;
  header `max_norm` (that arrow's true length).
- `samples` (images): uint8 `(rows * h, cols * w)`, generated images from latent
  vectors fixed for the run, tiled row by row; header `rows`, `cols`, `cell` [h, w]
  and `value_range` (the pixel values 0 and 255 stand for).

and once per viewer the real data: `points` (2-D: float32 `(n, 3)` rows
[x1, x2, 0], header `gan: true`) or `images` (digits: uint8 tiled like `samples`,
header `count` of real images shown).

An image classifier (task `classification` on digits, mnist or fashion_mnist) sends
no `points` frame; per snapshot it sends:

- `kernels`: uint8 `(total,)`, every conv layer's weights concatenated; header `layers`,
  one `{"shape": [out, in, k, k], "value_range": [lo, hi]}` per conv layer in order
  (that layer's lowest and highest weight are 0 and 255; output channel o, input channel
  i is the k x k block at offset o * in * k * k + i * k * k of the layer's part).
- `feature_maps`: uint8 `(total,)`, the probe image's activations after every conv and
  pool layer concatenated; header `layers`, one `{"kind", "shape": [c, h, w],
  "value_range": [lo, hi]}` per layer, each scaled on its own range.
- `probe`: uint8 `(h, w)`, the probe image (0..255 for pixel values 0..1); header
  `index` (test image, or null for a drawn one), `label` (its class or null),
  `probabilities` (one per class) and `predicted`.
- `misclassified`: uint8 `(n, h, w)`, n <= 16 test images the network gets wrong, in
  test-set order; header `indices`, `true` and `predicted` (one class per image); its
  `step` is that of the metrics point whose predictions it shows (snapshots reuse them).

A sequence run (data kind `sequence`: sine, sines, memory, trend, text) sends no
`points` frame; per snapshot, for one probe test sequence of `time` steps (header
`index`; the client picks it with `{"type": "probe", "index": i}`), read at the first
recurrent layer (its top cell where `num_layers` > 1), it sends:

- `hidden_state`: uint8 `(time, units)`, the hidden state h_t after each step; header
  `cell` ("rnn", "gru", "lstm") and `value_range` (what 0 and 255 stand for: (-1, 1),
  or (0, max) for a relu RNN).
- `gates` (GRU and LSTM only): uint8 `(g, time, units)`; header `names` (LSTM: input,
  forget, output, cell — the cell state c_t; GRU: reset, update) and `value_ranges`,
  one [lo, hi] per gate ((0, 1) for gates, symmetric about 0 for the cell state).
- `sequence`: float32 `(3, time)`, rows input, target and prediction at each step
  (NaN where the step has no target: many_to_one answers after the last step only);
  header `input_kind` ("value", or "symbol": row 0 holds the symbol or character id)
  and `classes` (0 for regression; otherwise rows 1 and 2 hold class ids).
- `gradient_norms`: float32 `(time,)`, the norm of d loss / d h_t of the probe's loss
  at each step: how much the loss still reaches step t (the vanishing gradient); its
  `step` is the step whose weights gave it (while a run trains it is renewed at most 5
  times a second, a backward pass through time each, and resent in between).
- `sample` (text runs): uint8 `(0,)`, no payload; header `text`, characters generated
  after the probe sequence at temperature `temperature`; its `step` is the step whose
  weights wrote it (a new sample is generated at most once a second while training).

Frames of a snapshot a run takes at rest (start, pause, a requested step, the end) and
after a probe change are all of that step.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nnplay.data import Dataset, GanData
from nnplay.data.sequences import SequenceDataset
from nnplay.train.events import (
    AnySnapshot,
    CnnSnapshot,
    GanSnapshot,
    ImageLayers,
    RnnSnapshot,
    SamplesProbe,
    Snapshot,
    finite_only,
)
from nnplay.train.gan_probes import SAMPLE_COLS, SAMPLE_ROWS, tile_images
from nnplay.train.rnn_probes import SAMPLE_TEMPERATURE

_LENGTH = struct.Struct("<I")


def encode_frame(header: dict[str, Any], payload: bytes) -> bytes:
    """Pack one binary frame (a header number that overflowed goes as null: JSON has no inf)."""
    try:  # headers are almost always finite: check in C rather than walk them first
        head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        head = json.dumps(finite_only(header), separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + payload


def decode_frame(data: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """Unpack a binary frame into its header and an array shaped as the header says."""
    (length,) = _LENGTH.unpack_from(data)
    header = json.loads(data[4:4 + length])
    array = np.frombuffer(data, dtype=np.dtype(header["dtype"]).newbyteorder("<"),
                          offset=4 + length)
    return header, array.reshape(header["shape"])


def _boundary(snapshot: Snapshot, made: float) -> bytes:
    boundary = snapshot.boundary
    return encode_frame({
        "type": "boundary", "step": snapshot.step, "t": made,
        "shape": list(boundary.grid.shape), "dtype": "uint8",
        "value_range": list(boundary.value_range), "domain": list(boundary.domain),
        "classes": boundary.n_classes,
    }, boundary.grid.tobytes())


def _neurons(snapshot: Snapshot, made: float) -> bytes:
    neurons = snapshot.neurons
    return encode_frame({
        "type": "neurons", "step": snapshot.step, "t": made,
        "shape": list(neurons.grids.shape), "dtype": "uint8",
        "value_range": list(neurons.value_range), "layer_sizes": list(neurons.layer_sizes),
    }, neurons.grids.tobytes())


def _weights(snapshot: Snapshot, made: float) -> bytes:
    layers = []
    parts = []
    for layer in snapshot.weights:
        layers.append({"weight": list(layer.weight.shape), "bias": list(layer.bias.shape)})
        parts.append(layer.weight.astype("<f4").tobytes())
        parts.append(layer.bias.astype("<f4").tobytes())
    payload = b"".join(parts)
    return encode_frame({
        "type": "weights", "step": snapshot.step, "t": made, "shape": [len(payload) // 4],
        "dtype": "float32", "layers": layers,
    }, payload)


def _samples_frame(kind: str, step: int, samples: SamplesProbe,
                   extra: dict[str, Any]) -> bytes:
    return encode_frame({
        "type": kind, "step": step, "shape": list(samples.grid.shape), "dtype": "uint8",
        "rows": samples.rows, "cols": samples.cols, "cell": list(samples.cell),
        "value_range": list(samples.value_range), **extra,
    }, samples.grid.tobytes())


def _float32(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype="<f4").tobytes()


def _fake(snapshot: GanSnapshot, made: float) -> bytes | None:
    if snapshot.fake is None:
        return None
    domain = list(snapshot.discriminator.domain) if snapshot.discriminator is not None else None
    return encode_frame({
        "type": "fake", "step": snapshot.step, "t": made, "shape": list(snapshot.fake.shape),
        "dtype": "float32", "domain": domain}, _float32(snapshot.fake))


def _discriminator(snapshot: GanSnapshot, made: float) -> bytes | None:
    probe = snapshot.discriminator
    if probe is None:
        return None
    return encode_frame({
        "type": "discriminator", "step": snapshot.step, "t": made,
        "shape": list(probe.grid.shape), "dtype": "uint8",
        "value_range": list(probe.value_range), "domain": list(probe.domain)},
        probe.grid.tobytes())


def _manifold(snapshot: GanSnapshot, made: float) -> bytes | None:
    manifold = snapshot.manifold
    if manifold is None:
        return None
    return encode_frame({
        "type": "manifold", "step": snapshot.step, "t": made,
        "shape": list(manifold.points.shape), "dtype": "float32",
        "latent_dim": 2 if manifold.points.ndim == 3 else 1,
        "latent_range": list(manifold.latent_range)}, _float32(manifold.points))


def _gradients(snapshot: GanSnapshot, made: float) -> bytes | None:
    if snapshot.gradients is None:
        return None
    return encode_frame({
        "type": "gradients", "step": snapshot.step, "t": made,
        "shape": list(snapshot.gradients.shape), "dtype": "float32",
        "max_norm": snapshot.gradient_norm}, _float32(snapshot.gradients))


def _samples(snapshot: GanSnapshot, made: float) -> bytes | None:
    if snapshot.samples is None:
        return None
    return _samples_frame("samples", snapshot.step, snapshot.samples, {"t": made})


def _layers_frame(kind: str, snapshot: CnnSnapshot, layers: ImageLayers,
                  made: float) -> bytes:
    entries = [{"shape": list(shape), "value_range": list(value_range)}
               for shape, value_range in zip(layers.shapes, layers.ranges, strict=True)]
    if kind == "feature_maps":
        for entry, layer_kind in zip(entries, layers.kinds, strict=True):
            entry["kind"] = layer_kind
    return encode_frame({"type": kind, "step": snapshot.step, "t": made,
                         "shape": [int(layers.values.size)], "dtype": "uint8",
                         "layers": entries}, layers.values.tobytes())


def _kernels(snapshot: CnnSnapshot, made: float) -> bytes:
    return _layers_frame("kernels", snapshot, snapshot.kernels, made)


def _feature_maps(snapshot: CnnSnapshot, made: float) -> bytes:
    return _layers_frame("feature_maps", snapshot, snapshot.feature_maps, made)


def _probe(snapshot: CnnSnapshot, made: float) -> bytes:
    probe = snapshot.probe
    return encode_frame({
        "type": "probe", "step": snapshot.step, "t": made, "shape": list(probe.pixels.shape),
        "dtype": "uint8", "index": probe.index, "label": probe.label,
        "probabilities": list(probe.probabilities), "predicted": probe.predicted},
        np.ascontiguousarray(probe.pixels).tobytes())


def _misclassified(snapshot: CnnSnapshot, made: float) -> bytes:
    wrong = snapshot.misclassified
    return encode_frame({
        "type": "misclassified", "step": wrong.step, "t": made,
        "shape": list(wrong.images.shape), "dtype": "uint8", "indices": list(wrong.indices),
        "true": list(wrong.true), "predicted": list(wrong.predicted)},
        np.ascontiguousarray(wrong.images).tobytes())


def _hidden_state(snapshot: RnnSnapshot, made: float) -> bytes:
    return encode_frame({
        "type": "hidden_state", "step": snapshot.step, "t": made,
        "shape": list(snapshot.hidden.shape), "dtype": "uint8", "index": snapshot.index,
        "cell": snapshot.cell, "value_range": list(snapshot.hidden_range)},
        np.ascontiguousarray(snapshot.hidden).tobytes())


def _gates(snapshot: RnnSnapshot, made: float) -> bytes | None:
    if snapshot.gates is None:
        return None
    return encode_frame({
        "type": "gates", "step": snapshot.step, "t": made, "shape": list(snapshot.gates.shape),
        "dtype": "uint8", "index": snapshot.index, "cell": snapshot.cell,
        "names": list(snapshot.gate_names),
        "value_ranges": [list(r) for r in snapshot.gate_ranges]},
        np.ascontiguousarray(snapshot.gates).tobytes())


def _sequence(snapshot: RnnSnapshot, made: float) -> bytes:
    return encode_frame({
        "type": "sequence", "step": snapshot.step, "t": made,
        "shape": list(snapshot.sequence.shape), "dtype": "float32", "index": snapshot.index,
        "input_kind": snapshot.input_kind, "classes": snapshot.classes},
        _float32(snapshot.sequence))


def _gradient_norms(snapshot: RnnSnapshot, made: float) -> bytes:
    return encode_frame({
        "type": "gradient_norms", "step": snapshot.gradient_step, "t": made,
        "shape": list(snapshot.gradient_norms.shape), "dtype": "float32",
        "index": snapshot.index}, _float32(snapshot.gradient_norms))


def _sample(snapshot: RnnSnapshot, made: float) -> bytes | None:
    if snapshot.sample is None:
        return None
    return encode_frame({
        "type": "sample", "step": snapshot.sample_step, "t": made, "shape": [0], "dtype": "uint8",
        "text": snapshot.sample, "temperature": SAMPLE_TEMPERATURE}, b"")


@dataclass(frozen=True)
class FrameType:
    """One snapshot frame: its `type`, the snapshot class it reads and its encoder."""

    name: str
    snapshot: type[Snapshot | GanSnapshot | CnnSnapshot | RnnSnapshot]
    encode: Callable[[Any, float], bytes | None]  # (snapshot, time made) -> frame


# Snapshot frames in the order they are sent; a new probe is one entry here.
FRAME_TYPES: dict[str, FrameType] = {
    entry.name: entry
    for entry in (
        FrameType("boundary", Snapshot, _boundary),
        FrameType("neurons", Snapshot, _neurons),
        FrameType("weights", Snapshot, _weights),
        FrameType("fake", GanSnapshot, _fake),
        FrameType("discriminator", GanSnapshot, _discriminator),
        FrameType("manifold", GanSnapshot, _manifold),
        FrameType("gradients", GanSnapshot, _gradients),
        FrameType("samples", GanSnapshot, _samples),
        FrameType("kernels", CnnSnapshot, _kernels),
        FrameType("feature_maps", CnnSnapshot, _feature_maps),
        FrameType("probe", CnnSnapshot, _probe),
        FrameType("misclassified", CnnSnapshot, _misclassified),
        FrameType("hidden_state", RnnSnapshot, _hidden_state),
        FrameType("gates", RnnSnapshot, _gates),
        FrameType("sequence", RnnSnapshot, _sequence),
        FrameType("gradient_norms", RnnSnapshot, _gradient_norms),
        FrameType("sample", RnnSnapshot, _sample),
    )
}


def snapshot_frames(snapshot: AnySnapshot) -> list[tuple[str, bytes]]:
    """Every registered frame of one snapshot, `(type, bytes)` in registry order."""
    made = round(time.time(), 4)  # seconds since the epoch; encoding follows the probe at once
    frames: list[tuple[str, bytes]] = []
    for entry in FRAME_TYPES.values():
        if isinstance(snapshot, entry.snapshot):
            data = entry.encode(snapshot, made)
            if data is not None:
                frames.append((entry.name, data))
    return frames


def gan_snapshot_frames(snapshot: GanSnapshot) -> list[tuple[str, bytes]]:
    """The GAN frames of one snapshot (see the module docstring)."""
    return snapshot_frames(snapshot)


def gan_data_frame(data: GanData) -> bytes:
    """A GAN's real data, once: `points` for 2-D targets, `images` for image targets."""
    if data.image_shape is not None:
        shown = data.real[:SAMPLE_ROWS * SAMPLE_COLS]
        rows = max(1, -(-shown.shape[0] // SAMPLE_COLS))
        cols = min(SAMPLE_COLS, shown.shape[0])
        padded = np.full((rows * cols, shown.shape[1]), -1.0, dtype=np.float32)
        padded[:shown.shape[0]] = shown.numpy()
        grid = tile_images(torch.from_numpy(padded), rows, cols, data.image_shape)
        probe = SamplesProbe(grid=grid.numpy(), rows=rows, cols=cols, cell=data.image_shape,
                             value_range=data.domain)
        return _samples_frame("images", 0, probe, {"count": int(shown.shape[0]),
                                                   "n_real": int(data.real.shape[0])})
    points = data.real.numpy().astype("<f4")
    table = np.concatenate([points, np.zeros((points.shape[0], 1), dtype="<f4")], axis=1)
    return encode_frame({
        "type": "points", "step": 0, "shape": list(table.shape), "dtype": "float32",
        "n_train": int(table.shape[0]), "n_test": 0, "classes": 0,
        "domain": list(data.domain), "target_range": [0.0, 0.0], "gan": True,
    }, table.tobytes())


def points_frame(dataset: Dataset | GanData | SequenceDataset) -> bytes:
    """The data points as `(n, 3)` float32 rows `[x1, x2, label]`, train rows first.

    For a GAN this is `gan_data_frame`: real points `[x1, x2, 0]`, or real images.
    """
    if isinstance(dataset, GanData):
        return gan_data_frame(dataset)
    if isinstance(dataset, SequenceDataset):
        raise ValueError("sequence runs send no points frame (see Job.sends_points)")
    rows = []
    for points, labels in ((dataset.points_train, dataset.y_train),
                           (dataset.points_test, dataset.y_test)):
        rows.append(np.concatenate(
            [points.numpy().astype("<f4"), labels.numpy().astype("<f4").reshape(-1, 1)], axis=1))
    table = np.concatenate(rows, axis=0)
    return encode_frame({
        "type": "points", "step": 0, "shape": list(table.shape), "dtype": "float32",
        "n_train": int(dataset.points_train.shape[0]), "n_test": int(dataset.points_test.shape[0]),
        "classes": dataset.n_classes, "domain": list(dataset.domain),
        "target_range": list(dataset.target_range),
    }, table.tobytes())
