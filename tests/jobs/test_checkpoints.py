"""Checkpoint files: atomic save, exact resume, refusal of damaged or foreign files,
back-off on a full disk."""

from __future__ import annotations

import errno
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from nnplay.jobs.checkpoints import CheckpointError, CheckpointStore
from nnplay.jobs.runner import CheckpointSaver, RunEvents
from nnplay.presets import get_preset
from nnplay.train.trainer import Trainer, TrainerOptions


def _options() -> TrainerOptions:
    return TrainerOptions(snapshot_interval=0, metrics_interval=10)


def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    spec = get_preset("regularization").race()[-1][1].model_copy(update={"max_steps": 300})
    first = Trainer(spec.model_copy(update={"max_steps": 120}), _options())
    first.run()
    store.save("aa11", first.state_dict())

    resumed = Trainer(spec, _options())
    resumed.load_state_dict(store.load("aa11"))
    assert resumed.step == 120
    resumed_result = resumed.run()
    straight = Trainer(spec, _options()).run()
    assert resumed_result.metrics is not None and straight.metrics is not None
    assert resumed_result.metrics.train_loss == straight.metrics.train_loss


def test_a_truncated_checkpoint_gives_a_clear_error(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    trainer = Trainer(get_preset("xor").build({"max_steps": 5}), _options())
    store.save("bb22", trainer.state_dict())
    path = store.path("bb22")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="bb22 is unreadable"):
        store.load("bb22")


def test_a_pickle_with_code_is_refused(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("this must never run",))

    with store.path("cc33").open("wb") as out:
        pickle.dump({"format": 1, "x": Evil()}, out)
    with pytest.raises(CheckpointError):
        store.load("cc33")


def test_missing_and_foreign_checkpoints(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        store.load("dd44")
    torch.save({"something": 1}, store.path("ee55"))
    with pytest.raises(CheckpointError, match="not an nnplay checkpoint"):
        store.load("ee55")


def test_run_ids_cannot_name_other_paths(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    with pytest.raises(CheckpointError):
        store.path("../../etc/passwd")


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    trainer = Trainer(get_preset("xor").build({"max_steps": 5}), _options())
    size = store.save("ff66", trainer.state_dict())
    assert size == store.size("ff66") > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ff66.pt"]


class _FullDisk(CheckpointStore):
    """A checkpoint folder on a full disk: the write layer raises ENOSPC while `full`."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.full = True
        self.tries = 0

    def save(self, run_id: str, state: dict[str, Any]) -> int:
        self.tries += 1
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().save(run_id, state)


def test_failed_checkpoints_are_logged_once_and_retried_with_back_off(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """ENOSPC is injected at the write layer (CheckpointStore.save)."""
    store = _FullDisk(tmp_path)
    saved: list[int] = []

    class Events(RunEvents):
        def on_checkpoint(self, step: int, size: int) -> None:
            saved.append(step)

    saver = CheckpointSaver("ff66", store, Events(), interval=0.05, requested=threading.Event())
    saver.trainer = Trainer(get_preset("circle").build(), _options())
    tick = saver.trainer.evaluate()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # ~200 metrics points in a second
        saver.on_metrics(tick)
        time.sleep(0.005)
    assert 1 <= store.tries <= 8  # 0.1, 0.2, 0.4, 0.8 s apart, not at every point
    failures = [r for r in caplog.records if "could not checkpoint" in r.getMessage()]
    assert len(failures) == 1 and "back-off" in failures[0].getMessage()
    store.full = False
    deadline = time.monotonic() + 10.0
    while not saved and time.monotonic() < deadline:
        saver.on_metrics(tick)
        time.sleep(0.01)
    assert saved and store.path("ff66").exists()
    assert any("work again" in r.getMessage() for r in caplog.records)
