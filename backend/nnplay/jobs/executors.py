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
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from typing import Any, Protocol

import torch

from nnplay.jobs.cohort_pool import CohortPool
from nnplay.jobs.placement import Placement
from nnplay.jobs.runner import FrameEncoder, RunEvents, RunRequest, job_steps
from nnplay.jobs.scheduler import RunScheduler
from nnplay.jobs.worker import WorkerJobs
from nnplay.train.allocator import keep_freed_memory
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnyMetricsEvent, AnySnapshot, TrainResult, TrainStart
from nnplay.train.loop import Yield
from nnplay.train.report_budget import ReportBudget
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
    def set_probe(self, index: int | None = None,
                  image: list[list[float]] | None = None) -> None: ...


class Executor(Protocol):
    """Runs jobs somewhere other than the event loop."""

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Start a run; its outcome reaches `events`. Returns its controls."""

    def request_checkpoint(self, job_id: str) -> None:
        """Ask a running job to write a checkpoint soon."""

    def shutdown(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for runs (already told to stop) to end."""

    def health(self) -> dict[str, Any]:
        """What `/api/health` says of it: `executor` and, for a cluster, whether it is up."""


class ExecutorUnavailable(RuntimeError):
    """The executor cannot start (e.g. its cluster is unreachable); says why."""


class ThreadExecutor:
    """Jobs in this process, sharing one scheduler thread (never the event loop's)."""

    def __init__(self, report_share: float = 0.5, cohorts: bool = False,
                 cohort_min_size: int = 3) -> None:
        self._checkpoint_requests: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.report_budget = ReportBudget(report_share)
        self._scheduler = RunScheduler()
        # With cohorts on, jobs sharing a cohort key train as one stacked model.
        self.cohorts = CohortPool(self._scheduler, self.report_budget,
                                  min_size=cohort_min_size) if cohorts else None

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Hand the job to the scheduler."""
        control = TrainerControl(paused=request.paused)
        wanted = threading.Event()
        with self._lock:
            self._checkpoint_requests[request.job_id] = wanted
        key = self.cohorts.key_of(request) if self.cohorts is not None else None
        if self.cohorts is not None and key is not None:
            self.cohorts.start(key, request, control, events, wanted,
                               on_done=lambda: self._forget(request.job_id))
            return control
        steps = job_steps(request, control, events, wanted, self.report_budget)
        self._scheduler.submit(self._forget_when_done(request.job_id, steps), control)
        return control

    def _forget_when_done(self, job_id: str, steps: Generator[Yield, None, None]
                          ) -> Generator[Yield, None, None]:
        try:
            yield from steps
        finally:
            self._forget(job_id)

    def _forget(self, job_id: str) -> None:
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

    def health(self) -> dict[str, Any]:
        """Jobs train in this process."""
        return {"executor": "local", "workers": 0}


# ----- worker processes ----------------------------------------------------------------

HookMessage = tuple[str, str, tuple[Any, ...]]  # (job id, hook name, arguments)


class _EventBatch:
    """Inside a worker: hooks of cohort members, sent as one message per runner round.

    A cohort round reports for dozens of members; one queue message (one pickle, one
    pipe write, one wake-up of the server's dispatcher) for all of them costs far less
    than one each.
    """

    def __init__(self, events: EventSink) -> None:
        self.events = events
        self._items: list[HookMessage] = []
        self._lock = threading.Lock()

    def add(self, item: HookMessage) -> None:
        """Hold one hook until the next `flush`."""
        with self._lock:
            self._items.append(item)

    def flush(self) -> None:
        """Send the held hooks, in order, as one ("", "batch", (hooks,)) message."""
        with self._lock:
            items, self._items = self._items, []
        if items:
            self.events.put(("", "batch", (items,)))


class EventSink(Protocol):
    """Where a worker puts the hooks it forwards (a queue to the server)."""

    def put(self, item: HookMessage) -> None: ...


class QueueEvents(RunEvents):
    """Inside a worker: forwards every hook to the server (or to a batch of a round's)."""

    def __init__(self, events: EventSink, job_id: str,
                 batch: _EventBatch | None = None, encode: FrameEncoder | None = None) -> None:
        self.events = events
        self.job_id = job_id
        self.batch = batch
        self.encode = encode  # snapshots leave as frames, encoded here, when given

    def _send(self, hook: str, *args: Any) -> None:
        if self.batch is not None:
            self.batch.add((self.job_id, hook, args))
        else:
            self.events.put((self.job_id, hook, args))

    def on_train_start(self, start: TrainStart) -> None:
        self._send("on_train_start", start)

    def on_metrics(self, event: AnyMetricsEvent) -> None:
        self._send("on_metrics", event)

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        # Encoded here, the frames cross the queue as bytes: pickling and unpickling a
        # snapshot's arrays and encoding them in the server cost ~3x as much CPU.
        if self.encode is not None:
            self._send("on_frames", self.encode(snapshot))
        else:
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

    def on_checkpoint_data(self, data: bytes) -> None:
        self._send("on_checkpoint_data", data)


def _exit_with_parent() -> None:
    # A server killed with SIGKILL runs no cleanup: without this its workers would
    # train on, orphaned, using the cores and writing checkpoints.
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


@dataclass(frozen=True)
class WorkerSettings:
    """How every worker process runs its jobs."""

    torch_threads: int = 1
    report_share: float = 0.5  # of a core, for metrics and snapshots (`ReportBudget`)
    cohorts: bool = False
    cohort_min_size: int = 3
    # Encodes snapshots into frames in the worker (a module-level function, so that it
    # pickles by name); None sends the snapshots themselves.
    encode_frames: FrameEncoder | None = None


def _worker_main(commands: multiprocessing.Queue[tuple[Any, ...] | None],
                 events: multiprocessing.Queue[HookMessage | None],
                 settings: WorkerSettings) -> None:
    """A worker process: runs the jobs it is sent on its scheduler (`WorkerJobs`)."""
    threading.Thread(target=_exit_with_parent, name="nnplay-parent-watch", daemon=True).start()
    torch.set_num_threads(settings.torch_threads)
    keep_freed_memory()
    warm_up()
    events.put(("", "ready", ()))
    batch = _EventBatch(events)
    jobs = WorkerJobs(f"nnplay-{multiprocessing.current_process().name}",
                      settings.report_share, settings.cohorts,
                      lambda job_id, member: QueueEvents(
                          events, job_id, batch if member else None, settings.encode_frames),
                      settings.cohort_min_size, batch.flush)
    while True:
        command = commands.get()
        if command is None:
            break
        jobs.handle(command)
    jobs.close(10)


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

    def set_probe(self, index: int | None = None,
                  image: list[list[float]] | None = None) -> None:
        self._send(("control", self.job_id, "set_probe", index, image))


# job id -> (the run's events, the worker or actor slot it runs on)
Routes = dict[str, tuple[RunEvents, Any]]
END_HOOKS = ("on_train_end", "on_start_failed")


def route_hook(routes: Routes, owner: Any, job_id: str, hook: str) -> RunEvents | None:
    """The events `owner`'s run of `job_id` reports to, or None for a stale run (the job now
    runs elsewhere); an end hook removes the route. The caller holds the lock over `routes`."""
    entry = routes.get(job_id)
    if entry is None or entry[1] is not owner:
        return None
    if hook in END_HOOKS:
        del routes[job_id]
        owner.jobs.discard(job_id)
    return entry[0]


def take_routes(routes: Routes, owners: list[Any]) -> list[tuple[str, RunEvents]]:
    """Remove and return the routes of the jobs running on `owners` (which are gone); the
    caller holds the lock over `routes`."""
    lost = [(job_id, entry[0]) for job_id, entry in routes.items()
            if any(entry[1] is owner for owner in owners)]
    for job_id, _ in lost:
        del routes[job_id]
    for owner in owners:
        owner.jobs.clear()
    return lost


class _Worker:
    """One worker process with its own command and event queues.

    Own queues: a worker killed while writing can leave a queue's lock held or a
    message half written, which then only ever affects its own, discarded queue.
    """

    def __init__(self, context: Any, settings: WorkerSettings, index: int) -> None:
        self.commands: multiprocessing.Queue[tuple[Any, ...] | None] = context.Queue()
        self.events: multiprocessing.Queue[HookMessage | None] = context.Queue()
        self.process: SpawnProcess = context.Process(
            target=_worker_main, args=(self.commands, self.events, settings),
            name=f"nnplay-worker-{index}", daemon=True)
        self.jobs: set[str] = set()
        self.dead = False  # its process exited (set by the watcher)
        self.process.start()
        self.dispatcher: threading.Thread | None = None

    def close(self) -> None:
        """Release the queues and the process handle (the process has exited)."""
        # A dead worker never reads its commands: do not wait to flush them.
        self.commands.cancel_join_thread()
        for channel in (self.commands, self.events):
            channel.close()
            channel.join_thread()
        self.process.close()


class ProcessExecutor:
    """Jobs spread over `workers` processes; a worker that dies is replaced at once."""

    def __init__(self, workers: int, settings: WorkerSettings | None = None) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._settings = settings or WorkerSettings()
        self._placement = Placement(self._settings.cohorts)
        self._lock = threading.Lock()
        self._handlers: Routes = {}
        self._closing = False
        self._ready = threading.Semaphore(0)
        self._spawned = 0
        self._workers = [self._spawn() for _ in range(workers)]
        self._watcher = threading.Thread(target=self._watch, name="nnplay-worker-watch",
                                         daemon=True)
        self._watcher.start()

    def _spawn(self) -> _Worker:
        worker = _Worker(self._context, self._settings, self._spawned)
        self._spawned += 1
        worker.dispatcher = threading.Thread(target=self._dispatch, args=(worker,),
                                             name=f"nnplay-dispatch-{worker.process.name}",
                                             daemon=True)
        worker.dispatcher.start()
        return worker

    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Send the job to a live worker: the least loaded, or one training its cohort."""
        with self._lock:
            worker = self._placement.choose([w for w in self._workers if not w.dead], request)
            worker.jobs.add(request.job_id)
            self._handlers[request.job_id] = (events, worker)
        worker.commands.put(("start", request.job_id, request))
        return RemoteControl(worker.commands.put, request.job_id)

    def health(self) -> dict[str, Any]:
        """Jobs train in this machine's worker processes."""
        return {"executor": "local", "workers": len(self._workers)}

    def wait_ready(self, timeout: float) -> bool:
        """Block until every worker has started (imports done), or `timeout` passes."""
        deadline = time.monotonic() + timeout
        for _ in self._workers:
            if not self._ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
        return True

    def request_checkpoint(self, job_id: str) -> None:
        """Ask the job's worker for a checkpoint (a paused job writes it at once)."""
        with self._lock:
            entry = self._handlers.get(job_id)
        if entry is not None:
            entry[1].commands.put(("checkpoint", job_id))

    def _dispatch(self, worker: _Worker) -> None:
        # Replays one worker's hooks; ends once the worker is gone and its queue drained.
        while True:
            try:
                item = worker.events.get(timeout=0.1)
            except queue.Empty:
                if worker.dead or (self._closing and not worker.process.is_alive()):
                    return
                continue
            if item is None:
                return
            if item[1] == "batch":  # a cohort round's hooks (`_EventBatch`)
                for each in item[2][0]:
                    self._handle(worker, each)
            else:
                self._handle(worker, item)

    def _handle(self, worker: _Worker, item: HookMessage) -> None:
        """Replay one hook of one of `worker`'s runs on its job's events."""
        job_id, hook, args = item
        if hook == "ready":
            self._ready.release()
            return
        with self._lock:
            events = route_hook(self._handlers, worker, job_id, hook)
        if events is None:
            return
        try:
            getattr(events, hook)(*args)
        except Exception:  # one job's bookkeeping must not stop the others' events
            log.exception("handling %s of job %s failed", hook, job_id)

    def _watch(self) -> None:
        # Wakes the moment a worker process exits (its sentinel becomes ready).
        while not self._closing:
            with self._lock:
                sentinels = {w.process.sentinel: w for w in self._workers}
            ready = multiprocessing.connection.wait(list(sentinels), timeout=0.5)
            if self._closing:
                return
            for sentinel in ready:
                self._replace(sentinels[sentinel])  # type: ignore[index]

    def _replace(self, dead: _Worker) -> None:
        started = time.monotonic()
        replacement = self._spawn()
        with self._lock:
            dead.dead = True  # no new job goes there
            self._workers[self._workers.index(dead)] = replacement
        # Hooks the worker sent before it died still count (e.g. a run that completed).
        if dead.dispatcher is not None:
            dead.dispatcher.join(1.0)
        with self._lock:
            lost = take_routes(self._handlers, [dead])
        reason = (f"the worker process running this job died (exit code "
                  f"{dead.process.exitcode}); resume continues from its last checkpoint")
        log.error("worker %s died (exit code %s) with %d job(s); they are interrupted and "
                  "%s replaces it", dead.process.name, dead.process.exitcode, len(lost),
                  replacement.process.name)
        for job_id, events in lost:
            try:
                events.on_worker_lost(reason)
            except Exception:
                log.exception("marking job %s interrupted failed", job_id)
        if dead.dispatcher is None or not dead.dispatcher.is_alive():
            dead.close()
        log.info("recovered from the death of %s in %.2f s", dead.process.name,
                 time.monotonic() - started)

    def shutdown(self, timeout: float) -> None:
        """Stop the workers (their jobs were told to stop), then release every queue."""
        self._closing = True
        self._watcher.join(timeout)
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.commands.put(None)
        for worker in workers:
            worker.process.join(timeout)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout)
        for worker in workers:
            if worker.dispatcher is not None:
                worker.dispatcher.join(timeout)
            worker.close()
