"""The job manager: creates jobs, runs them within limits, and applies controls."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from nnplay.data.images import image_set_problem
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.executors import Executor, ThreadExecutor
from nnplay.jobs.job import RESULT_STATUS, Job
from nnplay.jobs.job_events import JobEvents
from nnplay.jobs.job_weights import JobWeights
from nnplay.jobs.refusals import StoreUnavailable, TooManyJobs, TooManyJobsPerUser, UnknownJob
from nnplay.jobs.runner import FrameEncoder, RunRequest
from nnplay.jobs.status import IllegalTransition, JobStatus
from nnplay.jobs.store import RunStore, StoredRun
from nnplay.spec import (
    DATASET_KINDS,
    IMAGE_SHAPES,
    LIMITS,
    DataKindName,
    ExperimentSpec,
    SpecError,
    Task,
    parse_spec,
)
from nnplay.train.control import TrainerControl
from nnplay.train.events import (
    Failure,
    RunStatus,
    TrainResult,
)
from nnplay.train.predict import check_image, is_image_classifier

log = logging.getLogger("nnplay.jobs")

STEP_PHASES = ("both", "d", "g")

INTERRUPTED_REASON = "the server stopped while it was training"
UNWATCHED_REASON = "paused after {:g} s with nobody watching; resume continues it"
FINISH_FLUSH_TIMEOUT = 5.0  # most seconds a finished status waits to be on disk


class JobManager:
    """All jobs of one server, the queue, and the limits."""

    def __init__(self, executor: Executor, encode_frames: FrameEncoder, *,
                 max_running: int = 100, max_jobs: int = 200, device: str = "auto",
                 snapshot_budget: float = 0.1, store: RunStore | None = None,
                 checkpoints: CheckpointStore | None = None, checkpoint_interval: float = 10.0,
                 max_runs: int = 1000, max_checkpoint_bytes: int = 2**30,
                 idle_timeout: float = 600.0, max_jobs_per_owner: int = 16,
                 unwatched_timeout: float = 300.0, data_dir: Path | None = None) -> None:
        self.executor = executor
        self.data_dir = data_dir  # IDX files and the MNIST cache, for image runs
        self.max_jobs_per_owner = max_jobs_per_owner
        self.idle_timeout = idle_timeout
        self.unwatched_timeout = unwatched_timeout
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
        self._unloadable: set[str] = set()  # stored runs whose spec no longer parses: kept
        self._queue: deque[Job] = deque()
        self._running = 0
        self._lock = threading.RLock()
        self._shutting_down = False
        self._stop_reaper = threading.Event()
        self._reaper = threading.Thread(target=self._reap_idle_loop, name="nnplay-reaper",
                                        daemon=True)
        self._reaper.start()
        # Reading a job's network after the fact (exports, predict, generate, pictures).
        self.weights = JobWeights(self.get, executor, checkpoints, data_dir, encode_frames)

    def _reap_idle_loop(self) -> None:
        interval = min(30.0, max(0.1, min(self.idle_timeout, self.unwatched_timeout) / 4))
        while not self._stop_reaper.wait(interval):
            self.reap_idle()
            self.pause_unwatched()

    def pause_unwatched(self) -> list[str]:
        """Pause running jobs that asked for it and nobody viewed or touched for a while."""
        now = time.monotonic()
        with self._lock:
            unwatched = [job for job in self._jobs.values()
                         if job.pause_when_unwatched and job.status == JobStatus.running
                         and job.hub.subscriber_count == 0
                         and now - max(job.hub.last_seen, job.last_activity)
                         > self.unwatched_timeout]
        paused = []
        for job in unwatched:
            try:
                self.pause(job.id, UNWATCHED_REASON.format(self.unwatched_timeout))
            except (IllegalTransition, UnknownJob):
                continue  # paused, finished or deleted meanwhile
            log.info("paused job %s: nobody watched it for %g s", job.id,
                     self.unwatched_timeout)
            paused.append(job.id)
        return paused

    def reap_idle(self) -> list[str]:
        """Stop paused jobs nobody has watched for `idle_timeout` s (e.g. a closed tab's)."""
        now = time.monotonic()
        with self._lock:
            idle = [job for job in self._jobs.values()
                    if job.status == JobStatus.paused and job.hub.subscriber_count == 0
                    and now - job.hub.last_seen > self.idle_timeout]
        for job in idle:
            job.reason = (f"stopped after {self.idle_timeout:g} s paused with nobody "
                          "watching; resume is not possible, start it again")
            try:
                self.stop(job.id)
            except (IllegalTransition, UnknownJob):
                continue  # it finished or went away meanwhile
        return [job.id for job in idle]

    # ----- lookup -------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with `job_id`, or `UnknownJob`; counts as activity on the job."""
        try:
            job = self._jobs[job_id]
        except KeyError:
            raise UnknownJob(job_id) from None
        job.last_activity = time.monotonic()
        return job

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
               frame_rate: float = 20.0, detailed_metrics: bool = False,
               owner: str | None = None, owner_limited: bool = True,
               pause_when_unwatched: bool = False) -> Job:
        """Add a job; it starts at once if a slot is free, otherwise it queues.

        `owner` is the creating identity; unless `owner_limited` is false (the admin)
        it may hold at most `max_jobs_per_owner` active jobs.
        """
        if is_image_classifier(spec):
            problem = image_set_problem(spec.dataset.name.value, self.data_dir)
            if problem is not None:
                raise ValueError(problem)
        with self._lock:
            if self._shutting_down:
                raise IllegalTransition(JobStatus.interrupted, JobStatus.queued,
                                        "start a job while the server shuts down")
            if self.active_count() >= self.max_jobs:
                raise TooManyJobs(self.max_jobs, retry_after=5)
            if owner_limited:
                self._check_owner_limit(owner)
            health = self.store.health() if self.store is not None else None
            if health is not None and not health.ok:
                raise StoreUnavailable(health.reason or "the run store cannot write")
            job = Job(spec, name=name, paused=paused, frame_rate=frame_rate)
            job.detailed_metrics = detailed_metrics
            job.owner = owner
            job.pause_when_unwatched = pause_when_unwatched
            self._jobs[job.id] = job
            if self.store is not None:
                self.store.insert_run(job.id, job.name, spec.model_dump(mode="json"),
                                      job.status.value, job.created_at, job.lr, owner)
            self._watch(job)
            self._prune()
            self._queue.append(job)
            self._schedule()
        return job

    # ----- persistence ----------------------------------------------------------------
    def _watch(self, job: Job) -> None:
        if self.store is not None:
            job.listeners.append(self._persist_status)
            job.persist_finished = self._persist_finished

    def _persist_status(self, job: Job) -> None:
        if self.store is None or job.status.finished or self.forgotten(job):
            return  # finished statuses were written (and flushed) before they showed
        self.store.update_run(job.id, status=job.status.value, reason=job.reason,
                              failure=job.failure, started_at=job.started_at,
                              finished_at=job.finished_at, lr=job.lr)

    def _persist_finished(self, job: Job, columns: dict[str, Any]) -> None:
        # Runs on the thread that ends the job, before the status is visible: a run the
        # API reported finished is on disk (unless the store is failing; health says so).
        if self.store is None or self.forgotten(job):
            return
        self.store.update_run(job.id, **columns)
        if self.store.health().ok and not self.store.flush(FINISH_FLUSH_TIMEOUT):
            log.warning("run %s: its %s status took over %g s to save", job.id,
                        columns["status"], FINISH_FLUSH_TIMEOUT)

    def forgotten(self, job: Job) -> bool:
        """Deleted or pruned: nothing of it may be written any more."""
        return self._jobs.get(job.id) is not job

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
                else:
                    self._unloadable.add(run.id)
            if self.checkpoints is not None:
                self.checkpoints.remove_temp_files()  # writes a kill cut short
            self._prune()
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
        job.owner = run.owner
        job.failure = run.failure
        tail = {k: v for k, v in run.latest.items() if k != "report"} if run.latest else None
        job.history.restore(run.points, run.history_stride, tail)
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
        # Caller holds the lock. Checkpoints of runs we no longer know (deleted while
        # their run wrote one) are removed; then the oldest finished runs go first.
        on_disk = self.checkpoints.sizes() if self.checkpoints is not None else {}
        for run_id in on_disk.keys() - self._jobs.keys() - self._unloadable:
            log.info("removed the checkpoint of deleted run %s", run_id)
            assert self.checkpoints is not None
            self.checkpoints.delete(run_id)
            del on_disk[run_id]
        finished = [job for job in sorted(self._jobs.values(), key=lambda j: j.created_at)
                    if job.status.finished]
        total_bytes = sum(on_disk.values())
        while finished and (len(self._jobs) > self.max_runs
                            or total_bytes > self.max_checkpoint_bytes):
            job = finished.pop(0)
            total_bytes -= on_disk.get(job.id, 0)
            log.warning("pruned run %s (%s, %s) to stay within max_runs=%d and "
                        "max_checkpoint_bytes=%d", job.id, job.name or "unnamed",
                        job.status.value, self.max_runs, self.max_checkpoint_bytes)
            self._forget(job)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        if self.store is not None:
            self.store.delete_run(job.id)
        if self.checkpoints is not None:
            self.checkpoints.delete(job.id)

    def _schedule(self) -> None:
        # Caller holds the lock.
        while self._queue and self._running < self.max_running and not self._shutting_down:
            job = self._queue.popleft()
            if job.status != JobStatus.queued:
                continue  # stopped while it waited
            self._running += 1
            # A job created paused answers `paused` at once, so a resume right away works.
            job.set_status(JobStatus.paused if job.start_paused else JobStatus.running)
            request = RunRequest(
                job_id=job.id, spec=job.spec.model_dump(mode="json"), frame_rate=job.frame_rate,
                snapshot_budget=self.snapshot_budget, device=self.device,
                paused=job.start_paused, resume=job.resume_from_checkpoint,
                detailed_metrics=job.detailed_metrics,
                checkpoint_dir=str(self.checkpoints.directory) if self.checkpoints else None,
                checkpoint_interval=self.checkpoint_interval,
                data_dir=str(self.data_dir) if self.data_dir is not None else None,
            )
            job.resume_from_checkpoint = False
            job.control = self.executor.start(request, JobEvents(self, job))
            # Runs nobody watches skip their periodic snapshots.
            job.control.set_watched(job.hub.has_subscribers)

    def record_end(self, job: Job, result: TrainResult | None, reason: str | None = None,
                   lost: bool = False) -> None:
        """Give an ended run its final status (from `result`, or failed with `reason`).

        `lost`: the run's process died; it can resume from its checkpoint.
        """
        why: str | None
        failure: Failure | None = None
        with self._lock:
            self._running -= 1
            if self._shutting_down and (result is None or result.status == RunStatus.stopped):
                status, why = JobStatus.interrupted, INTERRUPTED_REASON
            elif lost:
                status, why = JobStatus.interrupted, reason
            elif result is None:
                status, why = JobStatus.failed, reason
                failure = Failure("start_failed", job.step, reason or "could not start")
            else:
                status, why = RESULT_STATUS[result.status], result.reason
                failure = result.failure
            job.set_status(status, why,
                           failure=failure.to_dict() if failure is not None else None)
            if self.forgotten(job) and self.checkpoints is not None:
                self.checkpoints.delete(job.id)  # its last checkpoint, written after DELETE
            self._schedule()

    def _check_owner_limit(self, owner: str | None) -> None:
        # Caller holds the lock. Runs stored before owners (None) have no per-person limit.
        # A job told to stop is ending (after its current step, on its worker): it no
        # longer counts, so stop-then-start right away works as a person expects.
        held = sum(job.status.active and job.owner == owner and not job.stop_asked
                   for job in self._jobs.values())
        if owner is not None and held >= self.max_jobs_per_owner:
            raise TooManyJobsPerUser(self.max_jobs_per_owner, retry_after=5)

    # ----- controls -----------------------------------------------------------------
    def pause(self, job_id: str, reason: str | None = None) -> Job:
        """Pause a running job after its current step (`reason`: why, if not asked)."""
        job = self.get(job_id)
        with self._lock:
            if job.status != JobStatus.running:
                raise IllegalTransition(job.status, JobStatus.paused, "pause")
            job.pause_acked.clear()
            job.control.pause()
            job.set_status(JobStatus.paused, reason)
        return job

    def resume(self, job_id: str) -> Job:
        """Continue a paused job."""
        job = self.get(job_id)
        with self._lock:
            if job.status == JobStatus.interrupted and self.checkpoints is not None:
                if self.active_count() >= self.max_jobs:
                    raise TooManyJobs(self.max_jobs, retry_after=5)
                self._check_owner_limit(job.owner)
                job.control = TrainerControl()
                job.trainer = None
                job.start_paused = False
                job.resume_from_checkpoint = True
                job.set_status(JobStatus.queued, action="resume")
                self._queue.append(job)
                self._schedule()
                return job
            if job.status != JobStatus.paused:
                raise IllegalTransition(job.status, JobStatus.running, "resume")
            job.control.resume()
            job.reason = None  # e.g. why it was paused
            job.set_status(JobStatus.running)
        return job

    def step(self, job_id: str, steps: int, phase: str = "both") -> Job:
        """Train `steps` more steps of a paused job (a GAN may step only "d" or "g")."""
        job = self.get(job_id)
        if not 1 <= steps <= LIMITS.max_steps:
            raise ValueError(f"steps must be between 1 and {LIMITS.max_steps} (got {steps})")
        if phase not in STEP_PHASES:
            raise ValueError(f"phase must be one of {', '.join(STEP_PHASES)} (got {phase!r})")
        if phase != "both" and job.spec.task != Task.gan:
            raise ValueError("phase 'd' or 'g' steps one network of a GAN; this job is not a GAN")
        with self._lock:
            if job.status != JobStatus.paused:
                raise IllegalTransition(job.status, JobStatus.paused,
                                        "step (pause the job first)")
            job.control.request_steps(steps, phase)
        return job

    def stop(self, job_id: str) -> Job:
        """End a job; a queued job stops at once, a running one after its current step."""
        job = self.get(job_id)
        with self._lock:
            if job.status.finished:
                raise IllegalTransition(job.status, JobStatus.stopped, "stop")
            job.stop_asked = True
            job.control.stop()
            if job.status == JobStatus.queued:
                job.set_status(JobStatus.stopped)
        return job

    def set_probe(self, job_id: str, index: Any = None, image: Any = None) -> None:
        """Choose the image a running image classifier's feature maps are of."""
        job = self.get(job_id)
        spec = job.spec
        sequences = DATASET_KINDS[spec.dataset.name] == DataKindName.sequence
        if not is_image_classifier(spec) and not sequences:
            raise ValueError("probe: this run is not an image classifier or a sequence run")
        if sequences and image is not None:
            raise ValueError("probe: a sequence run takes 'index' (a test sequence), not "
                             "an image")
        if (index is None) == (image is None):
            raise ValueError("probe needs 'index' (a test image) or 'image' (h x w, 0..1)")
        if image is not None:
            image = check_image(image, IMAGE_SHAPES[spec.dataset.name]).tolist()
        else:
            n_test = spec.dataset.n_samples - spec.train_size
            if not isinstance(index, int) or isinstance(index, bool) or \
                    not 0 <= index < n_test:
                what = "sequences" if sequences else "images"
                raise ValueError(f"index: must be a whole number from 0 to {n_test - 1} (the "
                                 f"test set has {n_test} {what}; got {index!r})")
        with self._lock:
            if job.status not in (JobStatus.running, JobStatus.paused):
                raise IllegalTransition(job.status, job.status, "probe")
            job.control.set_probe(index, image)

    def set_lr(self, job_id: str, lr: float, target: str = "all") -> Job:
        """Change a job's learning rate while it trains (a GAN's "g" or "d" alone, or all)."""
        job = self.get(job_id)
        field = {"all": "lr", "g": "g_lr", "d": "d_lr"}.get(target)
        if field is None:
            raise ValueError(f"target must be 'all', 'g' or 'd' (got {target!r})")
        if target != "all" and job.spec.task != Task.gan:
            raise ValueError(f"{field} sets one network of a GAN; this job is not a GAN: "
                             "use lr")
        if not LIMITS.min_lr <= lr <= LIMITS.max_lr:
            raise ValueError(f"{field} must be between {LIMITS.min_lr:g} and "
                             f"{LIMITS.max_lr:g} (got {lr})")
        with self._lock:
            if job.status.finished:
                raise IllegalTransition(job.status, JobStatus.running, "change the learning rate")
            job.control.set_lr(lr, target)
            if target != "d":
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
        """Stop a job if needed and forget it: its run, points and checkpoint files.

        What its run still reports is not written; a checkpoint it writes while
        stopping is removed when it ends.
        """
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
        self._stop_reaper.set()
        with self._lock:
            if self._shutting_down:
                return  # already done (the server stops jobs before closing sockets)
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


__all__ = ["Executor", "JobEvents", "JobManager", "StoreUnavailable", "ThreadExecutor",
           "TooManyJobs", "TooManyJobsPerUser", "UnknownJob"]
