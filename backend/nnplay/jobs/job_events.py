"""A running job's reports applied to its `Job`: start info, metrics history (and its
rows in the store), frames for viewers, status changes and the end of the run."""

from __future__ import annotations

from typing import Protocol

from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.job import Job, metrics_point
from nnplay.jobs.runner import FrameEncoder, Frames, RunEvents
from nnplay.jobs.status import JobStatus
from nnplay.jobs.store import RunStore
from nnplay.train.events import AnyMetricsEvent, AnySnapshot, TrainResult, TrainStart
from nnplay.train.loop import TrainLoop


class JobKeeper(Protocol):
    """What a job's events need of the manager that keeps the job."""

    store: RunStore | None
    checkpoints: CheckpointStore | None
    encode_frames: FrameEncoder

    def forgotten(self, job: Job) -> bool: ...

    def record_end(self, job: Job, result: TrainResult | None, reason: str | None = None,
                 lost: bool = False) -> None: ...


class JobEvents(RunEvents):
    """Keeps one job's state, history, store and viewers current as its run reports."""

    def __init__(self, manager: JobKeeper, job: Job) -> None:
        self.manager = manager
        self.job = job

    def on_trainer(self, trainer: TrainLoop) -> None:
        self.job.trainer = trainer

    def on_train_start(self, start: TrainStart) -> None:
        self.job.start_info = start

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        job, store = self.job, self.manager.store
        point = metrics_point(event)
        job.latest = point
        job.lr = event.lr
        # The per-class report goes to viewers and the latest state, not the history.
        kept = {key: value for key, value in point.items() if key != "report"}
        seq, thinned = job.history.append(kept)
        if store is not None and not self.manager.forgotten(job):
            store.add_point(job.id, seq, kept, job.history.stride, latest=point)
            if thinned:
                store.thin_points(job.id, job.history.stride)
        job.hub.publish_metrics(point)

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        self.on_frames(self.manager.encode_frames(snapshot))

    def on_frames(self, frames: Frames) -> None:
        job = self.job
        job.latest_frames = frames  # what a viewer that connects later gets first
        if job.hub.has_subscribers:
            job.hub.publish_frames(frames)

    def on_pause(self, step: int) -> None:
        self.job.note_step(step, paused=True)
        if self.job.status == JobStatus.running:
            self.job.set_status(JobStatus.paused)

    def on_resume(self, step: int) -> None:
        if self.job.status == JobStatus.paused:
            self.job.set_status(JobStatus.running)

    def on_restored(self, step: int) -> None:
        # The run reports its checkpoint step again at once: drop that point and later.
        job = self.job
        job.history.truncate(step)
        points = job.history.points()
        job.latest = points[-1] if points else None
        if self.manager.store is not None:
            self.manager.store.truncate_points(job.id, step)

    def on_checkpoint(self, step: int, size: int) -> None:
        if self.manager.forgotten(self.job):
            if self.manager.checkpoints is not None:
                self.manager.checkpoints.delete(self.job.id)
        elif self.manager.store is not None:
            self.manager.store.update_run(self.job.id, checkpoint_step=step,
                                          checkpoint_bytes=size)
        self.job.checkpoint_saved.set()

    def on_train_end(self, result: TrainResult) -> None:
        self.job.note_step(result.steps)
        self.manager.record_end(self.job, result)

    def on_start_failed(self, reason: str) -> None:
        self.manager.record_end(self.job, None, reason)

    def on_worker_lost(self, reason: str) -> None:
        self.manager.record_end(self.job, None, reason, lost=True)


__all__ = ["JobEvents", "JobKeeper"]
