"""One job's run: build the trainer, restore a checkpoint, train, save checkpoints.

This is the part of a job that may live in another process: it takes a
picklable `RunRequest`, obeys a control, and reports only through `RunEvents`
hooks, so the same code runs on a thread or in a worker process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from nnplay.jobs.checkpoints import CheckpointStore, decode_state, encode_state
from nnplay.spec import parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnyMetricsEvent, AnySnapshot, RunStatus, TrainResult
from nnplay.train.loop import TrainerOptions, TrainLoop, Yield
from nnplay.train.report_budget import ReportBudget
from nnplay.train.trainer import make_trainer

log = logging.getLogger("nnplay.jobs")


@dataclass(frozen=True)
class RunRequest:
    """Everything a worker needs to run a job (plain data, so it pickles)."""

    job_id: str
    spec: dict[str, Any]
    frame_rate: float
    snapshot_budget: float = 0.1
    device: str = "cpu"
    paused: bool = False
    resume: bool = False  # continue from the job's checkpoint
    checkpoint_dir: str | None = None
    checkpoint_interval: float = 10.0
    detailed_metrics: bool = False  # per-class report in every metrics point
    data_dir: str | None = None  # the server's data dir: image sets' IDX files and cache
    # No shared filesystem (a Ray worker on another machine): checkpoints go back to the
    # server as `on_checkpoint_data` bytes, and a resumed run starts from `checkpoint_data`.
    ship_checkpoints: bool = False
    checkpoint_data: bytes | None = None


# A snapshot as the binary frames a viewer gets: `(type, bytes)` in the frame registry's order.
Frames = list[tuple[str, bytes]]
FrameEncoder = Callable[[AnySnapshot], Frames]


class RunEvents(Callback):
    """The trainer's hooks plus what a run adds; the job manager implements them."""

    def on_trainer(self, trainer: TrainLoop) -> None:
        """The trainer exists (only called when it runs in this process)."""

    def on_restored(self, step: int) -> None:
        """The run continues from a checkpoint taken at `step` (0: none was saved)."""

    def on_checkpoint(self, step: int, size: int) -> None:
        """A checkpoint of `size` bytes was written at `step`."""

    def on_start_failed(self, reason: str) -> None:
        """The run could not start; no other hook follows."""

    def on_worker_lost(self, reason: str) -> None:
        """The process running the run died; no other hook follows."""

    def on_checkpoint_data(self, data: bytes) -> None:
        """A shipped checkpoint's bytes (`RunRequest.ship_checkpoints`); `on_checkpoint` follows."""

    def on_frames(self, frames: Frames) -> None:
        """A snapshot, already encoded as frames where it was taken (a worker process)."""


class Checkpoints(Protocol):
    """Where a run's saver writes and a resumed run reads its checkpoint."""

    def save(self, run_id: str, state: dict[str, Any]) -> int: ...
    def load(self, run_id: str) -> dict[str, Any]: ...
    def exists(self, run_id: str) -> bool: ...


class ShippedCheckpoints:
    """Checkpoints of a run whose server is elsewhere: saves travel back as event bytes."""

    def __init__(self, events: RunEvents, initial: bytes | None) -> None:
        self.events = events
        self.initial = initial  # the checkpoint the server sent to resume from

    def save(self, run_id: str, state: dict[str, Any]) -> int:
        """Send the checkpoint's bytes to the server; returns their size."""
        data = encode_state(state)
        self.events.on_checkpoint_data(data)
        return len(data)

    def load(self, run_id: str) -> dict[str, Any]:
        """The checkpoint the server sent with the run."""
        if self.initial is None:
            raise FileNotFoundError(f"no checkpoint was sent for run {run_id}")
        return decode_state(self.initial, run_id)

    def exists(self, run_id: str) -> bool:
        """Whether the server sent a checkpoint to resume from."""
        return self.initial is not None


class CheckpointSaver(Callback):
    """Saves the training state every `interval` s, when asked, on pause and at the end.

    A failed save (a full disk) is logged once per run and retried with back-off:
    `interval` doubling up to `MAX_RETRY_DELAY` s, not at every metrics point.
    """

    MAX_RETRY_DELAY = 300.0

    def __init__(self, job_id: str, checkpoints: Checkpoints, events: RunEvents,
                 interval: float, requested: threading.Event) -> None:
        self.job_id = job_id
        self.checkpoints = checkpoints
        self.events = events
        self.interval = interval
        self.requested = requested  # set by another thread for a checkpoint now
        self.trainer: TrainLoop | None = None
        self._next = time.monotonic() + interval
        self._failures = 0  # failed saves in a row
        self.attempts = 0  # saves tried (failed ones included)

    def save(self) -> None:
        """Write the checkpoint now (on the training thread, between steps)."""
        self.requested.clear()
        if self.trainer is None:
            return
        self.attempts += 1
        state = self.trainer.state_dict()
        try:
            size = self.checkpoints.save(self.job_id, state)
        except (OSError, RuntimeError) as error:  # a full disk (torch may wrap its OSError)
            self._failures += 1
            delay = min(self.MAX_RETRY_DELAY, self.interval * 2 ** self._failures)
            self._next = time.monotonic() + delay
            if self._failures == 1:
                log.warning("could not checkpoint run %s: %s; retrying with back-off (up "
                            "to every %g s) without logging each failure", self.job_id, error,
                            self.MAX_RETRY_DELAY)
            return
        if self._failures:
            log.warning("checkpoints of run %s work again after %d failed tries",
                        self.job_id, self._failures)
            self._failures = 0
        self._next = time.monotonic() + self.interval
        self.events.on_checkpoint(self.trainer.step, size)

    def due(self) -> bool:
        """Whether a checkpoint is asked for or its interval has passed."""
        return self.requested.is_set() or time.monotonic() >= self._next

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        if self.due():
            self.save()

    def on_pause(self, step: int) -> None:
        self.save()

    def on_parked(self, step: int) -> None:
        if self.requested.is_set():  # weights asked for while paused: answer now
            self.save()

    def on_train_end(self, result: TrainResult) -> None:
        if result.status != RunStatus.failed:
            self.save()


def prepare_run(request: RunRequest, control: TrainerControl, events: RunEvents,
                checkpoint_requested: threading.Event | None = None,
                report_budget: ReportBudget | None = None
                ) -> tuple[TrainLoop, CheckpointSaver | None] | None:
    """Build a job's trainer (restored from its checkpoint when resuming) and its saver.

    Returns None after telling `events` the run could not start.
    """
    saver = None
    callbacks: list[Callback] = [events]
    checkpoints: Checkpoints | None = None
    if request.ship_checkpoints:
        checkpoints = ShippedCheckpoints(events, request.checkpoint_data)
    elif request.checkpoint_dir is not None:
        checkpoints = CheckpointStore(Path(request.checkpoint_dir))
    if checkpoints is not None:
        saver = CheckpointSaver(request.job_id, checkpoints, events,
                                request.checkpoint_interval,
                                checkpoint_requested or threading.Event())
        callbacks.insert(0, saver)
    options = TrainerOptions(
        metrics_interval=1.0 / request.frame_rate, snapshot_interval=1.0 / request.frame_rate,
        snapshot_budget=request.snapshot_budget, device=request.device, callbacks=callbacks,
        detailed_metrics=request.detailed_metrics, report_budget=report_budget,
        data_dir=Path(request.data_dir) if request.data_dir is not None else None,
    )
    try:
        trainer = make_trainer(parse_spec(request.spec), options, control)
        if request.resume:
            step = 0  # killed before its first checkpoint: start again from the beginning
            if checkpoints is not None and checkpoints.exists(request.job_id):
                trainer.load_state_dict(checkpoints.load(request.job_id))
                step = trainer.step
            events.on_restored(step)
    except Exception as error:  # a bad checkpoint, or cuda asked for but absent
        events.on_start_failed(f"could not start: {error}")
        return None
    if saver is not None:
        saver.trainer = trainer
    return trainer, saver


def job_steps(request: RunRequest, control: TrainerControl, events: RunEvents,
              checkpoint_requested: threading.Event | None = None,
              report_budget: ReportBudget | None = None) -> Generator[Yield, None, None]:
    """One job as a generator of time slices (see `TrainLoop.run_steps`).

    Building the trainer happens on the first resume, on the scheduler's thread;
    every outcome reaches `events`.
    """
    prepared = prepare_run(request, control, events, checkpoint_requested, report_budget)
    if prepared is None:
        return
    trainer = prepared[0]
    events.on_trainer(trainer)
    yield from trainer.run_steps()
