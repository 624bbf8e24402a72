"""The job manager: creates jobs, runs them within limits, and applies controls."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from nnplay.jobs.checkpoints import CheckpointError, CheckpointStore
from nnplay.jobs.job import RESULT_STATUS, FrameEncoder, Job, JobRecorder
from nnplay.jobs.status import IllegalTransition, JobStatus
from nnplay.jobs.store import RunStore, StoredRun
from nnplay.spec import LIMITS, ExperimentSpec, SpecError, parse_spec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import MetricsEvent, RunStatus, TrainResult
from nnplay.train.trainer import Trainer, TrainerOptions

log = logging.getLogger("nnplay.jobs")

INTERRUPTED_REASON = "the server stopped while it was training"


class Executor(Protocol):
    """Runs job bodies somewhere other than the event loop."""

    def submit(self, body: Callable[[], None], name: str) -> None:
        """Start `body` soon."""

    def shutdown(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for running bodies to return."""


class ThreadExecutor:
    """The default executor: one daemon thread per running job, in this process."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def submit(self, body: Callable[[], None], name: str) -> None:
        """Start `body` on a new thread."""
        def run() -> None:
            try:
                body()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"nnplay-{name}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def shutdown(self, timeout: float) -> None:
        """Join every thread, sharing `timeout` between them."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


class UnknownJob(KeyError):
    """No job has that id."""

    def __str__(self) -> str:
        return f"no job with id {self.args[0]!r}; list jobs with GET /api/jobs"


class TooManyJobs(Exception):
    """The server holds as many active jobs as it allows."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"the server is running its limit of {limit} active jobs; stop or delete one, "
            f"or try again in {retry_after} s"
        )


class JobManager:
    """All jobs of one server, the queue, and the limits."""

    def __init__(self, executor: Executor, encode_frames: FrameEncoder, *,
                 max_running: int = 100, max_jobs: int = 200, device: str = "auto",
                 snapshot_budget: float = 0.1, store: RunStore | None = None,
                 checkpoints: CheckpointStore | None = None, checkpoint_interval: float = 10.0,
                 max_runs: int = 1000, max_checkpoint_bytes: int = 2**30) -> None:
        self.executor = executor
        self.store = store
        self.checkpoints = checkpoints
        self.checkpoint_interval = checkpoint_interval
        self.max_runs = max_runs
        self.max_checkpoint_bytes = max_checkpoint_bytes
        self.encode_frames = encode_frames
        self.max_running = max_running
        self.max_jobs = max_jobs
        self.device = device
        self.snapshot_budget = snapshot_budget
        self._jobs: dict[str, Job] = {}
        self._queue: deque[Job] = deque()
        self._running = 0
        self._lock = threading.RLock()
        self._shutting_down = False

    # ----- lookup -------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with `job_id`, or `UnknownJob`."""
        try:
            return self._jobs[job_id]
        except KeyError:
            raise UnknownJob(job_id) from None

    def list(self) -> list[Job]:
        """Every job, oldest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: job.created_at)

    def active_count(self) -> int:
        """Jobs queued, running or paused."""
        with self._lock:
            return sum(job.status.active for job in self._jobs.values())

    # ----- creation and scheduling ---------------------------------------------------
    def create(self, spec: ExperimentSpec, *, name: str = "", paused: bool = False,
               frame_rate: float = 20.0) -> Job:
        """Add a job; it starts at once if a slot is free, otherwise it queues."""
        with self._lock:
            if self._shutting_down:
                raise IllegalTransition(JobStatus.interrupted, JobStatus.queued,
                                        "start a job while the server shuts down")
            if self.active_count() >= self.max_jobs:
                raise TooManyJobs(self.max_jobs, retry_after=5)
            job = Job(spec, name=name, paused=paused, frame_rate=frame_rate)
            self._jobs[job.id] = job
            if self.store is not None:
                self.store.insert_run(job.id, job.name, spec.model_dump(mode="json"),
                                      job.status.value, job.created_at, job.lr)
            self._watch(job)
            self._prune()
            self._queue.append(job)
            self._schedule()
        return job

    # ----- persistence ----------------------------------------------------------------
    def _watch(self, job: Job) -> None:
        if self.store is not None:
            job.listeners.append(self._persist_status)

    def _persist_status(self, job: Job) -> None:
        assert self.store is not None
        self.store.update_run(job.id, status=job.status.value, reason=job.reason,
                              started_at=job.started_at, finished_at=job.finished_at,
                              lr=job.lr)

    def _persist_point(self, job: Job, seq: int, point: dict[str, Any], thinned: bool) -> None:
        assert self.store is not None
        self.store.add_point(job.id, seq, point, job.history.stride)
        if thinned:
            self.store.thin_points(job.id, job.history.stride)

    def restore(self) -> int:
        """Load stored runs; those that were active become `interrupted`. Returns how many."""
        if self.store is None:
            return 0
        runs = self.store.load_runs()
        with self._lock:
            for run in runs:
                job = self._job_from_run(run)
                if job is not None:
                    self._jobs[job.id] = job
        return len(runs)

    def _job_from_run(self, run: StoredRun) -> Job | None:
        try:
            spec = parse_spec(run.spec)
        except SpecError as error:
            log.warning("skipping stored run %s: its spec is no longer valid (%s)", run.id, error)
            return None
        job = Job(spec, name=run.name)
        job.id = run.id
        job.created_at = run.created_at
        job.started_at = run.started_at
        job.finished_at = run.finished_at
        job.lr = run.lr if run.lr is not None else spec.optimizer.lr
        job.reason = run.reason
        job.history.restore(run.points, run.history_stride, run.latest)
        job.latest = run.latest
        status = JobStatus(run.status)
        if status.active:
            status, job.reason = JobStatus.interrupted, INTERRUPTED_REASON
            assert self.store is not None
            self.store.update_run(job.id, status=status.value, reason=job.reason)
        job.restore_status(status)
        self._watch(job)
        return job

    def _prune(self) -> None:
        # Caller holds the lock. Oldest finished runs go first.
        finished = [job for job in sorted(self._jobs.values(), key=lambda j: j.created_at)
                    if job.status.finished]
        total_bytes = sum(self._checkpoint_bytes(job) for job in self._jobs.values())
        while finished and (len(self._jobs) > self.max_runs
                            or total_bytes > self.max_checkpoint_bytes):
            job = finished.pop(0)
            total_bytes -= self._checkpoint_bytes(job)
            log.warning("pruned run %s (%s, %s) to stay within max_runs=%d and "
                        "max_checkpoint_bytes=%d", job.id, job.name or "unnamed",
                        job.status.value, self.max_runs, self.max_checkpoint_bytes)
            self._forget(job)

    def _checkpoint_bytes(self, job: Job) -> int:
        return self.checkpoints.size(job.id) if self.checkpoints is not None else 0

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        if self.store is not None:
            self.store.delete_run(job.id)
        if self.checkpoints is not None:
            self.checkpoints.delete(job.id)

    def network_state(self, job_id: str) -> tuple[dict[str, Any], int]:
        """A job's weights and their step: live from its trainer, else from its checkpoint."""
        job = self.get(job_id)
        trainer = job.trainer
        if trainer is not None:
            state = {k: v.detach().cpu().clone() for k, v in
                     trainer.network.state_dict().items()}
            return state, trainer.step
        if self.checkpoints is None:
            raise ValueError("the job has no weights yet: it has not started")
        try:
            checkpoint = self.checkpoints.load(job.id)
        except CheckpointError as error:
            raise ValueError(f"no weights for this job: {error}") from None
        return checkpoint["network"], int(checkpoint["step"])

    def _schedule(self) -> None:
        # Caller holds the lock.
        while self._queue and self._running < self.max_running and not self._shutting_down:
            job = self._queue.popleft()
            if job.status != JobStatus.queued:
                continue  # stopped while it waited
            self._running += 1
            job.set_status(JobStatus.running)
            self.executor.submit(functools.partial(self._run, job), job.id)

    def _run(self, job: Job) -> None:
        """The job body, on the executor's thread."""
        on_point = self._persist_point if self.store is not None else None
        callbacks: list[Callback] = [JobRecorder(job, self.encode_frames, self._finished,
                                                 on_point)]
        saver = None
        if self.checkpoints is not None:
            saver = CheckpointSaver(job, self.checkpoints, self.store, self.checkpoint_interval)
            callbacks.insert(0, saver)
        options = TrainerOptions(
            metrics_interval=1.0 / job.frame_rate, snapshot_interval=1.0 / job.frame_rate,
            snapshot_budget=self.snapshot_budget, device=self.device, callbacks=callbacks,
        )
        try:
            trainer = Trainer(job.spec, options, job.control)
            if job.resume_from_checkpoint:
                self._load_checkpoint(job, trainer)
        except Exception as error:  # a bad checkpoint, or cuda asked for but absent
            self._finished(job, None, f"could not start: {error}")
            return
        if saver is not None:
            saver.trainer = trainer
        job.trainer = trainer
        trainer.run()

    def _load_checkpoint(self, job: Job, trainer: Trainer) -> None:
        assert self.checkpoints is not None
        job.resume_from_checkpoint = False
        if not self.checkpoints.path(job.id).exists():
            step = 0  # killed before its first checkpoint: start again from the beginning
        else:
            state = self.checkpoints.load(job.id)
            trainer.load_state_dict(state)
            step = trainer.step
        job.history.truncate(step)
        job.latest = job.history.points()[-1] if len(job.history) else None
        if self.store is not None:
            self.store.truncate_points(job.id, step)

    def _finished(self, job: Job, result: TrainResult | None, reason: str | None = None) -> None:
        why: str | None
        with self._lock:
            self._running -= 1
            if self._shutting_down and (result is None or result.status == RunStatus.stopped):
                status, why = JobStatus.interrupted, INTERRUPTED_REASON
            elif result is None:
                status, why = JobStatus.failed, reason
            else:
                status, why = RESULT_STATUS[result.status], result.reason
            job.set_status(status, why)
            self._schedule()

    # ----- controls -----------------------------------------------------------------
    def pause(self, job_id: str) -> Job:
        """Pause a running job after its current step."""
        job = self.get(job_id)
        with self._lock:
            if job.status != JobStatus.running:
                raise IllegalTransition(job.status, JobStatus.paused, "pause")
            job.control.pause()
            job.set_status(JobStatus.paused)
        return job

    def resume(self, job_id: str) -> Job:
        """Continue a paused job."""
        job = self.get(job_id)
        with self._lock:
            if job.status == JobStatus.interrupted and self.checkpoints is not None:
                job.control = TrainerControl()
                job.trainer = None
                job.resume_from_checkpoint = True
                job.set_status(JobStatus.queued, action="resume")
                self._queue.append(job)
                self._schedule()
                return job
            if job.status != JobStatus.paused:
                raise IllegalTransition(job.status, JobStatus.running, "resume")
            job.control.resume()
            job.set_status(JobStatus.running)
        return job

    def step(self, job_id: str, steps: int) -> Job:
        """Train `steps` more steps of a paused job."""
        job = self.get(job_id)
        if not 1 <= steps <= LIMITS.max_steps:
            raise ValueError(f"steps must be between 1 and {LIMITS.max_steps} (got {steps})")
        with self._lock:
            if job.status != JobStatus.paused:
                raise IllegalTransition(job.status, JobStatus.paused,
                                        "step (pause the job first)")
            job.control.request_steps(steps)
        return job

    def stop(self, job_id: str) -> Job:
        """End a job; a queued job stops at once, a running one after its current step."""
        job = self.get(job_id)
        with self._lock:
            if job.status.finished:
                raise IllegalTransition(job.status, JobStatus.stopped, "stop")
            job.control.stop()
            if job.status == JobStatus.queued:
                job.set_status(JobStatus.stopped)
        return job

    def set_lr(self, job_id: str, lr: float) -> Job:
        """Change the learning rate of a job while it trains."""
        job = self.get(job_id)
        if not LIMITS.min_lr <= lr <= LIMITS.max_lr:
            raise ValueError(f"lr must be between {LIMITS.min_lr:g} and {LIMITS.max_lr:g} "
                             f"(got {lr})")
        with self._lock:
            if job.status.finished:
                raise IllegalTransition(job.status, JobStatus.running, "change the learning rate")
            job.control.set_lr(lr)
            job.lr = lr
        return job

    def rename(self, job_id: str, name: str) -> Job:
        """Give a job a new name."""
        job = self.get(job_id)
        job.name = name
        if self.store is not None:
            self.store.update_run(job.id, name=name)
        return job

    def delete(self, job_id: str) -> Job:
        """Stop a job if needed and forget it."""
        job = self.get(job_id)
        with self._lock:
            if not job.status.finished:
                job.control.stop()
                if job.status == JobStatus.queued:
                    job.set_status(JobStatus.stopped)
            self._forget(job)
        return job

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every job, wait for the workers, and mark unfinished jobs interrupted."""
        with self._lock:
            self._shutting_down = True
            jobs = list(self._jobs.values())
            for job in jobs:
                job.control.stop()
        self.executor.shutdown(timeout)
        with self._lock:
            for job in jobs:
                if not job.status.finished:
                    job.set_status(JobStatus.interrupted, INTERRUPTED_REASON)
        if self.store is not None:
            self.store.flush()


class CheckpointSaver(Callback):
    """Saves a job's training state every `interval` seconds, on pause and at the end."""

    def __init__(self, job: Job, checkpoints: CheckpointStore, store: RunStore | None,
                 interval: float) -> None:
        self.job = job
        self.checkpoints = checkpoints
        self.store = store
        self.interval = interval
        self.trainer: Trainer | None = None
        self._last = time.monotonic()

    def save(self) -> None:
        """Write the checkpoint now (on the training thread, between steps)."""
        if self.trainer is None:
            return
        try:
            size = self.checkpoints.save(self.job.id, self.trainer.state_dict())
        except OSError as error:  # a full disk must not kill the run
            log.warning("could not checkpoint run %s: %s", self.job.id, error)
            return
        self._last = time.monotonic()
        if self.store is not None:
            self.store.update_run(self.job.id, checkpoint_step=self.trainer.step,
                                  checkpoint_bytes=size)

    def on_metrics(self, event: MetricsEvent) -> None:
        if time.monotonic() - self._last >= self.interval:
            self.save()

    def on_pause(self, step: int) -> None:
        self.save()

    def on_train_end(self, result: TrainResult) -> None:
        if result.status != RunStatus.failed:
            self.save()
