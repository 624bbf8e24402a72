"""Checkpoint files: a run's full training state, written atomically, read without pickle.

Files are `torch.save` dicts of tensors and plain values, loaded back with
`torch.load(weights_only=True)`, which refuses arbitrary pickled objects.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

_RUN_ID = re.compile(r"^[0-9a-f]{1,64}$")


class CheckpointError(Exception):
    """A checkpoint is missing, truncated or not one of ours."""


def encode_state(state: dict[str, Any]) -> bytes:
    """A checkpoint's bytes, as a file of the store holds them (for sending elsewhere)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def decode_state(data: bytes | Path, run_id: str) -> dict[str, Any]:
    """A checkpoint read back from its bytes (or file) without pickle, or `CheckpointError`."""
    source: Any = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, corrupted, or a pickle we refuse
        raise CheckpointError(
            f"the checkpoint of run {run_id} is unreadable ({type(error).__name__}); "
            "it may be truncated or corrupted") from None
    if not isinstance(state, dict) or state.get("format") != 1:
        raise CheckpointError(f"the checkpoint of run {run_id} is not an nnplay checkpoint")
    return state


class CheckpointStore:
    """One file per run in a folder of the data dir."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, run_id: str) -> Path:
        """Where a run's checkpoint lives (ids are hex, never a path from outside)."""
        if not _RUN_ID.match(run_id):
            raise CheckpointError(f"not a run id: {run_id!r}")
        return self.directory / f"{run_id}.pt"

    def save(self, run_id: str, state: dict[str, Any] | bytes) -> int:
        """Write atomically (temp file, fsync, rename); returns the size in bytes.

        `state` may be a checkpoint's bytes already (`encode_state`, from another machine).
        """
        target = self.path(run_id)
        handle, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".pt")
        try:
            with os.fdopen(handle, "wb") as out:
                if isinstance(state, bytes):
                    out.write(state)
                else:
                    torch.save(state, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def load(self, run_id: str) -> dict[str, Any]:
        """Read a run's checkpoint, or raise `CheckpointError` saying what is wrong."""
        target = self.path(run_id)
        if not target.exists():
            raise CheckpointError(f"no checkpoint was saved for run {run_id}")
        return decode_state(target, run_id)

    def exists(self, run_id: str) -> bool:
        """Whether a checkpoint of the run is on disk."""
        return self.path(run_id).exists()

    def delete(self, run_id: str) -> None:
        """Remove a run's checkpoint if there is one."""
        self.path(run_id).unlink(missing_ok=True)

    def sizes(self) -> dict[str, int]:
        """Bytes of every run's checkpoint on disk, by run id (runs we forgot included)."""
        found = {}
        for path in self.directory.glob("*.pt"):
            if _RUN_ID.match(path.stem):
                try:
                    found[path.stem] = path.stat().st_size
                except FileNotFoundError:  # deleted meanwhile
                    continue
        return found

    def remove_temp_files(self) -> None:
        """Remove half-written checkpoints (a kill during a save leaves one)."""
        for path in self.directory.glob(".tmp-*.pt"):
            path.unlink(missing_ok=True)

    def size(self, run_id: str) -> int:
        """Bytes used by a run's checkpoint (0 if none)."""
        target = self.path(run_id)
        return target.stat().st_size if target.exists() else 0
