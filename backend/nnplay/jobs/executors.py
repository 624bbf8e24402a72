"""Executors: where job runs happen, never on the event loop.

`ThreadExecutor` runs jobs in this process on one scheduler thread (no set-up;
shares the interpreter with the server). `ProcessExecutor` spreads jobs over
worker processes, each with its own scheduler, so a classroom of jobs uses every
core; workers send each run's hooks back over a queue, and a dispatcher thread
here replays them on the job's `RunEvents`.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from multiprocessing.context import SpawnProcess
from typing import Any, Protocol

import torch

from nnplay.jobs.runner import RunEvents, RunRequest, job_steps
from nnplay.jobs.scheduler import RunScheduler
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnyMetricsEvent, AnySnapshot, TrainResult, TrainStart
from nnplay.train.loop import ReportBudget, Yield
from nnplay.train.trainer import warm_up

log = logging.getLogger("nnplay.jobs")


class Controls(Protocol):
    """What the manager can ask of a running job (`TrainerControl` has all of it)."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def request_steps(self, steps: int, phase: str = "both") -> None: ...
    def set_watched(self, watched: bool) -> None: ...
    def stop(self) -> None: ...
    def set_lr(self, lr: float, target: str = "all") -> None: ...


class Executor(Protocol):
    """Runs jobs somewhere other than the event loop."""

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Start a run; its outcome reaches `events`. Returns its controls."""

    def request_checkpoint(self, job_id: str) -> None:
        """Ask a running job to write a checkpoint soon."""

    def shutdown(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for runs (already told to stop) to end."""


class ThreadExecutor:
    """Jobs in this process, sharing one scheduler thread (never the event loop's)."""

    def __init__(self, report_share: float = 0.5) -> None:
        self._checkpoint_requests: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.report_budget = ReportBudget(report_share)
        self._scheduler = RunScheduler()

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Hand the job to the scheduler."""
        control = TrainerControl(paused=request.paused)
        wanted = threading.Event()
        with self._lock:
            self._checkpoint_requests[request.job_id] = wanted
        steps = job_steps(request, control, events, wanted, self.report_budget)
        self._scheduler.submit(self._forget_when_done(request.job_id, steps), control)
        return control

    def _forget_when_done(self, job_id: str, steps: Generator[Yield, None, None]
                          ) -> Generator[Yield, None, None]:
        try:
            yield from steps
        finally:
            with self._lock:
                self._checkpoint_requests.pop(job_id, None)

    def request_checkpoint(self, job_id: str) -> None:
        """Flag the job's saver; it writes at its next metrics point."""
        with self._lock:
            wanted = self._checkpoint_requests.get(job_id)
        if wanted is not None:
            wanted.set()

    def shutdown(self, timeout: float) -> None:
        """Wait for the runs (already told to stop) to finish."""
        self._scheduler.close(timeout)


# ----- worker processes ----------------------------------------------------------------

_Event = tuple[str, str, tuple[Any, ...]]  # (job id, hook name, arguments)


class _QueueEvents(RunEvents):
    """Inside a worker: forwards every hook to the server process."""

    def __init__(self, events: multiprocessing.Queue[_Event | None], job_id: str) -> None:
        self.events = events
        self.job_id = job_id

    def _send(self, hook: str, *args: Any) -> None:
        self.events.put((self.job_id, hook, args))

    def on_train_start(self, start: TrainStart) -> None:
        self._send("on_train_start", start)

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        self._send("on_metrics", event)

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        self._send("on_snapshot", snapshot)

    def on_pause(self, step: int) -> None:
        self._send("on_pause", step)

    def on_resume(self, step: int) -> None:
        self._send("on_resume", step)

    def on_train_end(self, result: TrainResult) -> None:
        self._send("on_train_end", result)

    def on_restored(self, step: int) -> None:
        self._send("on_restored", step)

    def on_checkpoint(self, step: int, size: int) -> None:
        self._send("on_checkpoint", step, size)

    def on_start_failed(self, reason: str) -> None:
        self._send("on_start_failed", reason)


def _exit_with_parent() -> None:
    # A server killed with SIGKILL runs no cleanup: without this its workers would
    # train on, orphaned, using the cores and writing checkpoints.
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _worker_main(commands: multiprocessing.Queue[tuple[Any, ...] | None],
                 events: multiprocessing.Queue[_Event | None], torch_threads: int,
                 report_share: float) -> None:
    """A worker process: runs the jobs it is sent, each on its own thread."""
    report_budget = ReportBudget(report_share)  # shared by this worker's jobs
    threading.Thread(target=_exit_with_parent, name="nnplay-parent-watch", daemon=True).start()
    torch.set_num_threads(torch_threads)
    warm_up()
    events.put(("", "ready", ()))
    controls: dict[str, TrainerControl] = {}
    wanted: dict[str, threading.Event] = {}
    scheduler = RunScheduler(f"nnplay-{multiprocessing.current_process().name}")
    while True:
        command = commands.get()
        if command is None:
            break
        kind, job_id, *args = command
        if kind == "start":
            request: RunRequest = args[0]
            controls[job_id] = TrainerControl(paused=request.paused)
            wanted[job_id] = threading.Event()
            scheduler.submit(job_steps(request, controls[job_id], _QueueEvents(events, job_id),
                                       wanted[job_id], report_budget), controls[job_id])
        elif kind == "control" and job_id in controls:
            method, *params = args
            getattr(controls[job_id], method)(*params)
        elif kind == "checkpoint" and job_id in wanted:
            wanted[job_id].set()
    for control in controls.values():
        control.stop()
    scheduler.close(10)


class RemoteControl:
    """Controls of a job in a worker process: each call becomes a command message."""

    def __init__(self, send: Callable[[tuple[Any, ...]], None], job_id: str) -> None:
        self._send = send
        self.job_id = job_id

    def pause(self) -> None:
        self._send(("control", self.job_id, "pause"))

    def resume(self) -> None:
        self._send(("control", self.job_id, "resume"))

    def request_steps(self, steps: int, phase: str = "both") -> None:
        self._send(("control", self.job_id, "request_steps", steps, phase))

    def stop(self) -> None:
        self._send(("control", self.job_id, "stop"))

    def set_lr(self, lr: float, target: str = "all") -> None:
        self._send(("control", self.job_id, "set_lr", lr, target))

    def set_watched(self, watched: bool) -> None:
        self._send(("control", self.job_id, "set_watched", watched))


class _Worker:
    def __init__(self, context: Any, events: multiprocessing.Queue[_Event | None],
                 torch_threads: int, report_share: float, index: int) -> None:
        self.commands: multiprocessing.Queue[tuple[Any, ...] | None] = context.Queue()
        self.process: SpawnProcess = context.Process(
            target=_worker_main, args=(self.commands, events, torch_threads, report_share),
            name=f"nnplay-worker-{index}", daemon=True)
        self.jobs: set[str] = set()
        self.process.start()


class ProcessExecutor:
    """Jobs spread over `workers` processes (spawned once, at start)."""

    def __init__(self, workers: int, torch_threads: int = 1,
                 report_share: float = 0.5) -> None:
        context = multiprocessing.get_context("spawn")
        self._events: multiprocessing.Queue[_Event | None] = context.Queue()
        self._workers = [_Worker(context, self._events, torch_threads, report_share, index)
                         for index in range(workers)]
        self._handlers: dict[str, tuple[RunEvents, _Worker]] = {}
        self._lock = threading.Lock()
        self._closing = False
        self._ready = threading.Semaphore(0)
        self._dispatcher = threading.Thread(target=self._dispatch, name="nnplay-dispatch",
                                            daemon=True)
        self._dispatcher.start()

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Send the job to the worker running the fewest jobs."""
        with self._lock:
            worker = min(self._workers, key=lambda w: len(w.jobs))
            worker.jobs.add(request.job_id)
            self._handlers[request.job_id] = (events, worker)
        worker.commands.put(("start", request.job_id, request))
        return RemoteControl(worker.commands.put, request.job_id)

    def wait_ready(self, timeout: float) -> bool:
        """Block until every worker has started (imports done), or `timeout` passes."""
        deadline = time.monotonic() + timeout
        for _ in self._workers:
            if not self._ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
        return True

    def request_checkpoint(self, job_id: str) -> None:
        """Ask the job's worker for a checkpoint."""
        with self._lock:
            entry = self._handlers.get(job_id)
        if entry is not None:
            entry[1].commands.put(("checkpoint", job_id))

    def _dispatch(self) -> None:
        while True:
            try:
                item = self._events.get(timeout=1.0)
            except queue.Empty:
                self._reap_dead_workers()
                continue
            if item is None:
                return
            job_id, hook, args = item
            if hook == "ready":
                self._ready.release()
                continue
            with self._lock:
                entry = self._handlers.get(job_id)
                if hook in ("on_train_end", "on_start_failed") and entry is not None:
                    del self._handlers[job_id]
                    entry[1].jobs.discard(job_id)
            if entry is None:
                continue
            try:
                getattr(entry[0], hook)(*args)
            except Exception:  # one job's bookkeeping must not stop the others' events
                log.exception("handling %s of job %s failed", hook, job_id)

    def _reap_dead_workers(self) -> None:
        if self._closing:
            return
        for worker in self._workers:
            if worker.process.is_alive():
                continue
            with self._lock:
                lost = [(job_id, self._handlers.pop(job_id)) for job_id in list(worker.jobs)
                        if job_id in self._handlers]
                worker.jobs.clear()
            for job_id, (events, _) in lost:
                log.error("worker %s died while running job %s", worker.process.name, job_id)
                events.on_start_failed(
                    f"the worker process running this job died (exit code "
                    f"{worker.process.exitcode})")

    def shutdown(self, timeout: float) -> None:
        """Stop the workers (their jobs were told to stop), then the dispatcher."""
        self._closing = True
        for worker in self._workers:
            worker.commands.put(None)
        for worker in self._workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
        self._events.put(None)
        self._dispatcher.join(timeout)
