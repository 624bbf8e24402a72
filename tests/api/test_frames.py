"""Tests for binary stream frames: round trip, the header layout and snapshot payload sizes."""

from __future__ import annotations

import json
import math
import struct
import time
from typing import Any

import numpy as np
import pytest

from nnplay.api.frames import decode_frame, encode_frame, points_frame, snapshot_frames
from nnplay.spec import parse_spec
from nnplay.train.events import BoundaryProbe, LayerWeights, NeuronsProbe, Snapshot
from nnplay.train.trainer import Trainer, TrainerOptions


def _trainer(**fields: Any) -> Trainer:
    """A trainer without clocks for a spec built from `fields`."""
    spec = parse_spec({"max_steps": 100, **fields})
    return Trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))


Decoded = dict[str, tuple[dict[str, Any], np.ndarray, bytes]]


def _decoded(frames: list[tuple[str, bytes]]) -> Decoded:
    """Each frame by kind: its header, decoded array and raw bytes."""
    out = {}
    for kind, data in frames:
        header, array = decode_frame(data)
        assert header["type"] == kind
        out[kind] = (header, array, data)
    return out


def _payload_size(data: bytes) -> int:
    """Bytes after the length prefix and the JSON header."""
    (length,) = struct.unpack_from("<I", data)
    return len(data) - 4 - length


def test_round_trip_keeps_header_and_values() -> None:
    values = np.arange(24, dtype="<f4").reshape(2, 3, 4) / 7
    header = {"type": "test", "step": 12, "shape": [2, 3, 4], "dtype": "float32", "note": "é"}
    decoded_header, array = decode_frame(encode_frame(header, values.tobytes()))
    assert decoded_header == header
    assert array.shape == (2, 3, 4)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, values)


def test_round_trip_of_uint8_grid() -> None:
    grid = np.arange(256, dtype=np.uint8).reshape(16, 16)
    _, array = decode_frame(encode_frame(
        {"type": "boundary", "shape": [16, 16], "dtype": "uint8"}, grid.tobytes()))
    np.testing.assert_array_equal(array, grid)


def test_header_length_is_little_endian_uint32() -> None:
    # A header longer than 255 bytes: big-endian would put a non-zero byte first.
    header = {"type": "test", "shape": [0], "dtype": "uint8", "pad": "x" * 300}
    data = encode_frame(header, b"")
    head = json.dumps(header, separators=(",", ":")).encode()
    assert data[:4] == struct.pack("<I", len(head))
    assert data[0] == len(head) & 0xFF and data[3] == 0
    assert json.loads(data[4:4 + len(head)]) == header
    assert len(data) == 4 + len(head)


def test_a_header_number_that_overflowed_goes_as_null_and_the_frame_still_parses() -> None:
    header = {"type": "test", "shape": [0], "dtype": "uint8", "value_range": [-math.inf, 1.0],
              "nested": {"scale": math.nan}}
    data = encode_frame(header, b"")
    (length,) = struct.unpack_from("<I", data)
    text = data[4:4 + length].decode()
    assert "Infinity" not in text and "NaN" not in text  # a browser's JSON.parse refuses both
    decoded, _ = decode_frame(data)
    assert decoded["value_range"] == [None, 1.0] and decoded["nested"] == {"scale": None}


def test_payload_follows_header_as_raw_little_endian_float32() -> None:
    values = np.array([1.5, -2.0], dtype="<f4")
    data = encode_frame({"type": "test", "shape": [2], "dtype": "float32"}, values.tobytes())
    assert data[-8:] == struct.pack("<2f", 1.5, -2.0)


def test_hand_made_snapshot_frames_carry_exact_shapes_and_values() -> None:
    grid = np.arange(64 * 64, dtype=np.uint32).astype(np.uint8).reshape(64, 64)
    neurons = np.full((6, 16, 16), 7, dtype=np.uint8)
    weights = (LayerWeights(np.ones((4, 2), np.float32), np.zeros(4, np.float32)),
               LayerWeights(np.full((1, 4), 0.5, np.float32), np.array([2.0], np.float32)))
    snapshot = Snapshot(
        step=42, boundary=BoundaryProbe(grid, (-1.0, 1.0), (-6.0, 6.0), 2),
        neurons=NeuronsProbe(neurons, (4, 2), (-1.0, 1.0)), weights=weights)
    before = time.time()
    frames = _decoded(snapshot_frames(snapshot))
    assert [kind for kind, _ in snapshot_frames(snapshot)] == ["boundary", "neurons", "weights"]

    header, array, data = frames["boundary"]
    assert header["step"] == 42 and header["shape"] == [64, 64] and header["dtype"] == "uint8"
    assert header["value_range"] == [-1.0, 1.0] and header["domain"] == [-6.0, 6.0]
    assert header["classes"] == 2
    assert _payload_size(data) == 64 * 64
    np.testing.assert_array_equal(array, grid)

    header, array, data = frames["neurons"]
    assert header["shape"] == [6, 16, 16] and header["layer_sizes"] == [4, 2]
    assert _payload_size(data) == 6 * 16 * 16
    np.testing.assert_array_equal(array, neurons)

    header, array, data = frames["weights"]
    assert header["dtype"] == "float32" and header["shape"] == [4 * 2 + 4 + 1 * 4 + 1]
    assert header["layers"] == [{"weight": [4, 2], "bias": [4]}, {"weight": [1, 4], "bias": [1]}]
    assert _payload_size(data) == 17 * 4
    # Layer by layer: weight (row-major) then bias.
    np.testing.assert_array_equal(array, [1] * 8 + [0] * 4 + [0.5] * 4 + [2.0])

    for header, _, _ in frames.values():  # production time, for latency measurements
        assert before - 1 <= header["t"] <= time.time() + 1


@pytest.mark.parametrize(("fields", "boundary_shape"), [
    ({"dataset": {"name": "circle"}}, [64, 64]),
    ({"dataset": {"name": "blobs", "classes": 4}, "loss": "cross_entropy"}, [2, 64, 64]),
    ({"task": "regression", "dataset": {"name": "plane"}}, [64, 64]),
])
def test_trainer_snapshot_payload_sizes_match_shapes(
        fields: dict[str, Any], boundary_shape: list[int]) -> None:
    trainer = _trainer(model={"layers": [{"units": 5}, {"units": 3}]}, **fields)
    trainer.train_step()
    frames = _decoded(snapshot_frames(trainer.snapshot()))
    for header, array, data in frames.values():
        itemsize = np.dtype(header["dtype"]).itemsize
        assert _payload_size(data) == int(np.prod(header["shape"])) * itemsize
        assert list(array.shape) == header["shape"]
        assert header["step"] == 1
    assert frames["boundary"][0]["shape"] == boundary_shape
    assert frames["neurons"][0]["shape"] == [5 + 3, 16, 16]
    assert frames["neurons"][0]["layer_sizes"] == [5, 3]
    parameters = sum(p.numel() for p in trainer.network.parameters())
    assert frames["weights"][0]["shape"] == [parameters]


def test_network_without_hidden_layers_sends_an_empty_neurons_frame() -> None:
    trainer = _trainer(model={"layers": []})
    frames = _decoded(snapshot_frames(trainer.snapshot()))
    header, array, data = frames["neurons"]
    assert header["shape"] == [0, 16, 16] and header["layer_sizes"] == []
    assert _payload_size(data) == 0 and array.size == 0


def test_points_frame_has_train_rows_then_test_rows() -> None:
    trainer = _trainer(dataset={"name": "moons", "n_samples": 100, "test_fraction": 0.3})
    header, table = decode_frame(points_frame(trainer.dataset))
    assert header["type"] == "points" and header["dtype"] == "float32"
    assert header["shape"] == [100, 3] and table.shape == (100, 3)
    assert header["n_train"] == 70 and header["n_test"] == 30
    assert header["classes"] == 2
    data = trainer.dataset
    np.testing.assert_array_equal(table[:70, :2], data.points_train.numpy())
    np.testing.assert_array_equal(table[70:, 2], data.y_test.numpy().astype(np.float32))
