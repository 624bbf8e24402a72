"""The frame registry: one entry per snapshot frame type, encoded and decoded by `type`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nnplay.api.frames import FRAME_TYPES, FrameType, decode_frame, encode_frame, snapshot_frames
from nnplay.spec import parse_spec
from nnplay.train.events import AnySnapshot
from nnplay.train.gan import GanTrainer
from nnplay.train.trainer import Trainer, TrainerOptions

OPTIONS = TrainerOptions(metrics_interval=0, snapshot_interval=0)


def _supervised() -> AnySnapshot:
    trainer = Trainer(parse_spec({"max_steps": 10}), OPTIONS)
    trainer.train_step()
    return trainer.snapshot()


def _cnn() -> AnySnapshot:
    trainer = Trainer(parse_spec({
        "dataset": {"name": "digits", "n_samples": 100},
        "model": {"layers": [{"type": "conv2d", "filters": 2}, {"type": "maxpool2d"}]},
        "batch_size": 10, "max_steps": 10}), OPTIONS)
    trainer.train_step()
    return trainer.snapshot()


def _rnn() -> AnySnapshot:
    trainer = Trainer(parse_spec({
        "task": "classification", "sequence_mode": "many_to_many",
        "dataset": {"name": "text", "n_samples": 40, "seq_len": 8},
        "model": {"layers": [{"type": "lstm", "units": 4}]}, "max_steps": 10}), OPTIONS)
    trainer.train_step()
    return trainer.snapshot()


def _gan(target: str, **fields: Any) -> AnySnapshot:
    spec = parse_spec({"task": "gan", "dataset": {"name": target, "n_samples": 200},
                       "batch_size": 20, "max_steps": 10, **fields})
    trainer = GanTrainer(spec, OPTIONS)
    trainer.train_step()
    return trainer.snapshot()


@pytest.fixture(scope="module")
def snapshots() -> list[AnySnapshot]:
    """A supervised snapshot, a 2-D GAN's (with manifold), an image GAN's, a CNN's and a
    char-RNN's."""
    return [_supervised(), _gan("ring", latent_dim=2), _gan("digits"), _cnn(), _rnn()]


def test_every_registered_frame_round_trips(snapshots: list[AnySnapshot]) -> None:
    seen = set()
    for snapshot in snapshots:
        frames = snapshot_frames(snapshot)
        expected = [name for name, entry in FRAME_TYPES.items()
                    if isinstance(snapshot, entry.snapshot)
                    and entry.encode(snapshot, 0.0) is not None]
        assert [kind for kind, _ in frames] == expected  # registry order, nothing else
        for kind, data in frames:
            header, array = decode_frame(data)
            assert header["type"] == kind and header["step"] == snapshot.step
            assert list(array.shape) == header["shape"]
            seen.add(kind)
    assert seen == set(FRAME_TYPES)  # every entry is reachable from a real run


def test_a_new_probe_is_one_registry_entry(snapshots: list[AnySnapshot],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    supervised = snapshots[0]

    def encode(snapshot: Any, made: float) -> bytes:
        values = np.full((2, 2), snapshot.step, dtype=np.uint8)
        return encode_frame({"type": "probe_test", "step": snapshot.step, "t": made,
                             "shape": [2, 2], "dtype": "uint8"}, values.tobytes())

    monkeypatch.setitem(FRAME_TYPES, "probe_test", FrameType("probe_test", type(supervised),
                                                             encode))
    frames = dict(snapshot_frames(supervised))
    header, array = decode_frame(frames["probe_test"])
    assert header["type"] == "probe_test" and int(array[0, 0]) == supervised.step % 256
    assert "probe_test" not in dict(snapshot_frames(snapshots[1]))  # GAN snapshots skip it
