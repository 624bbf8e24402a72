"""Binary stream frames: `uint32` LE header length, UTF-8 JSON header, raw payload.

Payloads are uint8 for grids and images, float32 (little-endian) for weights and
points; the header names `type`, `step`, `shape`, `dtype` and what the values mean.
Snapshot frames also carry `t`, the wall-clock time (`time.time()`) they were made,
so a viewer can measure how late a frame arrives.
"""

from __future__ import annotations

import json
import struct
import time
from typing import Any

import numpy as np

from nnplay.data import Dataset
from nnplay.train.events import Snapshot

_LENGTH = struct.Struct("<I")


def encode_frame(header: dict[str, Any], payload: bytes) -> bytes:
    """Pack one binary frame."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LENGTH.pack(len(head)) + head + payload


def decode_frame(data: bytes) -> tuple[dict[str, Any], np.ndarray]:
    """Unpack a binary frame into its header and an array shaped as the header says."""
    (length,) = _LENGTH.unpack_from(data)
    header = json.loads(data[4:4 + length])
    array = np.frombuffer(data, dtype=np.dtype(header["dtype"]).newbyteorder("<"),
                          offset=4 + length)
    return header, array.reshape(header["shape"])


def snapshot_frames(snapshot: Snapshot) -> list[tuple[str, bytes]]:
    """The `boundary`, `neurons` and `weights` frames of one snapshot."""
    boundary, neurons = snapshot.boundary, snapshot.neurons
    made = round(time.time(), 4)  # seconds since the epoch; encoding follows the probe at once
    frames = [
        ("boundary", encode_frame({
            "type": "boundary", "step": snapshot.step, "t": made,
            "shape": list(boundary.grid.shape), "dtype": "uint8",
            "value_range": list(boundary.value_range), "domain": list(boundary.domain),
            "classes": boundary.n_classes,
        }, boundary.grid.tobytes())),
        ("neurons", encode_frame({
            "type": "neurons", "step": snapshot.step, "t": made,
            "shape": list(neurons.grids.shape), "dtype": "uint8",
            "value_range": list(neurons.value_range), "layer_sizes": list(neurons.layer_sizes),
        }, neurons.grids.tobytes())),
    ]
    layers = []
    parts = []
    for layer in snapshot.weights:
        layers.append({"weight": list(layer.weight.shape), "bias": list(layer.bias.shape)})
        parts.append(layer.weight.astype("<f4").tobytes())
        parts.append(layer.bias.astype("<f4").tobytes())
    payload = b"".join(parts)
    frames.append(("weights", encode_frame({
        "type": "weights", "step": snapshot.step, "t": made, "shape": [len(payload) // 4],
        "dtype": "float32", "layers": layers,
    }, payload)))
    return frames


def points_frame(dataset: Dataset) -> bytes:
    """The data points as `(n, 3)` float32 rows `[x1, x2, label]`, train rows first."""
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
