"""A job: one training run with its status, latest state, bounded history and hub."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nnplay.data import Dataset, GanData
from nnplay.data.kinds import load_data
from nnplay.data.sequences import SequenceDataset
from nnplay.jobs.hub import Hub
from nnplay.jobs.runner import Frames
from nnplay.jobs.status import JobStatus, check_transition
from nnplay.models.layers import describe_layers
from nnplay.spec import DATASET_KINDS, DataKindName, ExperimentSpec, Task
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnyMetricsEvent, RunStatus, TrainStart
from nnplay.train.loop import TrainLoop

if TYPE_CHECKING:
    from nnplay.jobs.executors import Controls

class MetricsHistory:
    """Metric points of a run, bounded: when full, every other point is dropped.

    The first point and the latest point are always exact; the rest thins out
    evenly, so a long run keeps its shape in a fixed amount of memory.
    """

    def __init__(self, capacity: int = 2000) -> None:
        self.capacity = capacity
        self._points: list[tuple[int, dict[str, Any]]] = []  # (seq, point), seq % stride == 0
        self.stride = 1
        self._seen = 0
        self._tail: dict[str, Any] | None = None  # latest point when the stride skipped it
        self.best_test_loss: float | None = None  # over every point seen, thinned or not
        self.best_test_accuracy: float | None = None

    def _track_best(self, point: dict[str, Any]) -> None:
        loss, accuracy = point.get("test_loss"), point.get("test_accuracy")
        if loss is not None and (self.best_test_loss is None or loss < self.best_test_loss):
            self.best_test_loss = loss
        if accuracy is not None and (self.best_test_accuracy is None
                                     or accuracy > self.best_test_accuracy):
            self.best_test_accuracy = accuracy

    def append(self, point: dict[str, Any]) -> tuple[int, bool]:
        """Record a point; returns its sequence number and whether older points were thinned."""
        seq = self._seen
        self._track_best(point)
        if seq % self.stride == 0:
            self._points.append((seq, point))
            self._tail = None
        else:
            self._tail = point
        self._seen += 1
        thinned = len(self._points) > self.capacity
        if thinned:
            self.stride *= 2
            self._points = [(s, p) for s, p in self._points if s % self.stride == 0]
            if seq % self.stride:  # the newest point was thinned out: keep it as the tail
                self._tail = point
        return seq, thinned

    def restore(self, points: list[tuple[int, dict[str, Any]]], stride: int,
                latest: dict[str, Any] | None) -> None:
        """Reload a stored history (points with their sequence numbers) and its latest point."""
        self._points = sorted(points, key=lambda item: item[0])
        self.stride = max(1, stride)
        self._seen = self._points[-1][0] + 1 if self._points else 0
        last_step = self._points[-1][1]["step"] if self._points else -1
        self._tail = latest if latest is not None and latest["step"] > last_step else None
        if self._tail is not None:
            self._seen += 1
        for point in self.points():
            self._track_best(point)

    def truncate(self, from_step: int) -> None:
        """Forget points at `from_step` and later (a resumed run reports its checkpoint
        step again, then goes on)."""
        self._points = [(s, p) for s, p in self._points if p["step"] < from_step]
        if self._tail is not None and self._tail["step"] >= from_step:
            self._tail = None

    def points(self) -> list[dict[str, Any]]:
        """All kept points in step order, the latest included."""
        kept = [point for _, point in self._points]
        return kept + ([self._tail] if self._tail is not None else [])

    def __len__(self) -> int:
        return len(self._points) + (self._tail is not None)


class Job:
    """One training run as the server sees it."""

    def __init__(self, spec: ExperimentSpec, name: str = "", paused: bool = False,
                 frame_rate: float = 20.0, history_capacity: int = 2000) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.spec = spec
        self.name = name or spec.name
        self.frame_rate = frame_rate
        self.created_at = time.time()
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.status = JobStatus.queued
        self.reason: str | None = None
        # Why a failed run failed, for code: {"kind", "step", "message"}; None otherwise.
        self.failure: dict[str, Any] | None = None
        self.start_paused = paused
        self.owner: str | None = None  # its creator's identity: only it and the admin change it
        self.detailed_metrics = False
        self.pause_when_unwatched = False  # paused after a while with no viewer and no REST
        self.stop_asked = False  # told to stop; it ends after its current step
        self.last_activity = time.monotonic()  # last REST or websocket use of the job
        # Until the executor starts the run this is a placeholder; then the run's own.
        self.control: Controls = TrainerControl(paused=paused)
        self.checkpoint_saved = threading.Event()
        # The newest step the run itself reported (paused at, ended at): may be past the
        # newest metrics point, e.g. the step a run diverged at.
        self.reported_step = 0
        self.pause_acked = threading.Event()  # set when the run says which step it paused at
        self.hub = Hub(on_viewers=lambda count: self.control.set_watched(count > 0))
        self.history = MetricsHistory(history_capacity)
        self.latest: dict[str, Any] | None = None  # the newest metrics point
        self.latest_frames: Frames | None = None  # the newest snapshot's frames
        self.start_info: TrainStart | None = None
        self.trainer: TrainLoop | None = None
        # GANs report (and take) the generator's lr; a change sets both optimizers'.
        self.lr = spec.gan_optimizers()[0].lr if spec.task == Task.gan else spec.optimizer.lr
        self.resume_from_checkpoint = False
        # Called after every status change (the manager persists the job there).
        self.listeners: list[Callable[[Job], None]] = []
        # Called with the columns of a finished status before anyone can see it, so a
        # run reported finished is on disk (the manager writes and flushes them).
        self.persist_finished: Callable[[Job, dict[str, Any]], None] | None = None
        self._lock = threading.RLock()
        self._finished = threading.Event()

    # ----- status -------------------------------------------------------------------
    def set_status(self, status: JobStatus, reason: str | None = None,
                   action: str | None = None, failure: dict[str, Any] | None = None) -> None:
        """Move to `status` (raising `IllegalTransition` if it does not apply) and tell viewers."""
        with self._lock:
            check_transition(self.status, status, action)
            if status == self.status and reason is None:
                return
            now = time.time()
            if status.finished and self.persist_finished is not None:
                self.persist_finished(self, {
                    "status": status.value, "reason": self.reason if reason is None else reason,
                    "started_at": self.started_at, "finished_at": now, "lr": self.lr,
                    "failure": failure if status == JobStatus.failed else None})
            self.status = status
            if reason is not None:
                self.reason = reason
            if status == JobStatus.failed:
                self.failure = failure
            if status in (JobStatus.running, JobStatus.paused) and self.started_at is None:
                self.started_at = now
            if status.finished:
                self.finished_at = now
                self._finished.set()
            else:
                self._finished.clear()
            message = self.status_message()
        for listener in self.listeners:
            listener(self)
        self.hub.publish_message(message)

    @property
    def sends_points(self) -> bool:
        """Whether viewers get the data as a `points` frame (not image classifiers, not
        sequence runs)."""
        kind = DATASET_KINDS[self.spec.dataset.name]
        return self.spec.task == Task.gan or kind == DataKindName.points2d

    @functools.cached_property
    def dataset(self) -> Dataset | GanData | SequenceDataset:
        """The job's data (a GAN's real samples), built here too (deterministic, ~1 ms)
        for the points frame, the way its data kind loads it."""
        return load_data(self.spec)

    def restore_status(self, status: JobStatus) -> None:
        """Set the status of a job read back from the store (no transition, no viewers yet)."""
        self.status = status
        if status.finished:
            self._finished.set()

    def wait_finished(self, timeout: float) -> bool:
        """Block until the job has finished (or `timeout` passes)."""
        return self._finished.wait(timeout)

    @property
    def step(self) -> int:
        """Steps trained so far: one number for the counter, the failure and REST."""
        latest = int(self.latest["step"]) if self.latest else 0
        failed_at = int(self.failure.get("step") or 0) if self.failure else 0
        return max(latest, self.reported_step, failed_at)

    def note_step(self, step: int, paused: bool = False) -> None:
        """Record a step the run reported (`paused`: the step it is paused at)."""
        with self._lock:
            self.reported_step = max(self.reported_step, step)
        if paused:
            self.pause_acked.set()

    def status_message(self) -> dict[str, Any]:
        """The `status` stream message."""
        return {"type": "status", "id": self.id, "status": self.status.value,
                "reason": self.reason, "failure": self.failure, "step": self.step,
                "lr": self.lr}

    def summary(self) -> dict[str, Any]:
        """What a table of runs shows: data, model, optimizer and the best test results."""
        spec = self.spec
        gan = spec.task == Task.gan
        return {"task": spec.task.value, "dataset": spec.dataset.name.value,
                "model": model_summary(spec),
                "optimizer": (spec.gan_optimizers()[0] if gan else spec.optimizer).name.value,
                "loss": spec.gan_loss.value if gan else spec.loss.value,
                "best_test_loss": self.history.best_test_loss,
                "best_test_accuracy": self.history.best_test_accuracy}

    def view(self, with_spec: bool = True) -> dict[str, Any]:
        """The public JSON view of the job."""
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "status": self.status.value,
            "reason": self.reason, "failure": self.failure, "step": self.step,
            "max_steps": self.spec.max_steps,
            "lr": self.lr, "created_at": self.created_at, "started_at": self.started_at,
            "finished_at": self.finished_at, "frame_rate": self.frame_rate,
            # The list of jobs is polled by many pages: it leaves out the per-class report.
            "metrics": self.latest if with_spec or not self.latest else
            {key: value for key, value in self.latest.items() if key != "report"},
            "viewers": self.hub.subscriber_count,
            "summary": self.summary(),
        }
        if self.start_info is not None:
            out["device"] = self.start_info.device
            out["parameter_count"] = self.start_info.parameter_count
            out["layers"] = self.start_info.layers
            if self.start_info.gan is not None:  # both networks' rows, latent size, loss
                out["gan"] = self.start_info.gan
        if with_spec:
            out["spec"] = self.spec.model_dump(mode="json")
        return out


def model_summary(spec: ExperimentSpec) -> str:
    """The hidden layers in a few characters, e.g. '8 tanh → 8 tanh → dropout 0.2'.

    GANs: both networks, e.g. 'G: 32 relu → 32 relu · D: 32 leaky_relu'.
    """
    if spec.task == Task.gan and spec.generator is not None and spec.discriminator is not None:
        return (f"G: {describe_layers(spec.generator.layers)} · "
                f"D: {describe_layers(spec.discriminator.layers)}")
    return describe_layers(spec.model.layers)


def metrics_point(event: AnyMetricsEvent) -> dict[str, Any]:
    """A metrics event as a compact stream point (no None fields)."""
    return {key: value for key, value in event.to_dict().items() if value is not None}


RESULT_STATUS = {RunStatus.completed: JobStatus.completed, RunStatus.stopped: JobStatus.stopped,
                 RunStatus.failed: JobStatus.failed}
