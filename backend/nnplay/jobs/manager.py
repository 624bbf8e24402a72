"""The job manager: creates jobs, runs them within limits, and applies controls."""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from nnplay.jobs.job import RESULT_STATUS, FrameEncoder, Job, JobRecorder
from nnplay.jobs.status import IllegalTransition, JobStatus
from nnplay.spec import LIMITS, ExperimentSpec
from nnplay.train.events import TrainResult
from nnplay.train.trainer import Trainer, TrainerOptions


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
                 snapshot_budget: float = 0.1) -> None:
        self.executor = executor
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
            self._queue.append(job)
            self._schedule()
        return job

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
        options = TrainerOptions(
            metrics_interval=1.0 / job.frame_rate, snapshot_interval=1.0 / job.frame_rate,
            snapshot_budget=self.snapshot_budget, device=self.device,
            callbacks=[JobRecorder(job, self.encode_frames, self._finished)],
        )
        try:
            job.trainer = Trainer(job.spec, options, job.control)
        except Exception as error:  # e.g. cuda asked for but absent
            self._finished(job, None, f"could not start: {error}")
            return
        job.trainer.run()

    def _finished(self, job: Job, result: TrainResult | None, reason: str | None = None) -> None:
        why: str | None
        with self._lock:
            self._running -= 1
            if self._shutting_down and (result is None or result.status.value == "stopped"):
                status, why = JobStatus.interrupted, "the server stopped while it was training"
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

    def delete(self, job_id: str) -> Job:
        """Stop a job if needed and forget it."""
        job = self.get(job_id)
        with self._lock:
            if not job.status.finished:
                job.control.stop()
                if job.status == JobStatus.queued:
                    job.set_status(JobStatus.stopped)
            del self._jobs[job_id]
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
                    job.set_status(JobStatus.interrupted,
                                   "the server stopped while it was training")
