"""The Ray executor: every job trains in a Ray actor, one actor per worker slot.

Each actor (`WorkerActor`) runs `WorkerJobs`, the same scheduler and cohorts a
local worker process runs; the server places a job on the live actor with the
fewest jobs and sends controls as actor calls, which Ray runs in the order sent.

Events come back by long-polling: one `poll` call in flight per actor, answered
with every hook queued since (up to `POLL_BATCH`, gathering for `POLL_LINGER` s
after the first), or after `POLL_WAIT` s with none. We chose this over a Ray
streaming generator because the batch is whatever piled up since the last poll
(large under load, a few events when quiet: few Ray calls per second),
the queue it drains is bounded in the actor (`ray_actor.ActorEvents`: frames are dropped
when it is full, other hooks wait), and a dead actor surfaces as the failure of
that one call, so its jobs become `interrupted` within a poll.

No shared filesystem: runs ship their checkpoints back as bytes
(`RunRequest.ship_checkpoints`), which the server writes to its own
`CheckpointStore` before it replays the `on_checkpoint` that follows, and a
resumed run gets its checkpoint's bytes with the start command. Image sets go once
through the object store (`nnplay.jobs.ray_data`): runs never read the server's data dir.

This module and `ray_actor` import Ray; only `create_app` with `executor="ray"`
imports them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError

from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.executors import Controls, RemoteControl, Routes, route_hook, take_routes
from nnplay.jobs.placement import Placement
from nnplay.jobs.ray_actor import RayUnavailable, RemoteWorker, connect
from nnplay.jobs.ray_data import ServerImageSets, ShippedSet
from nnplay.jobs.runner import RunEvents, RunRequest
from nnplay.jobs.worker import Command

log = logging.getLogger("nnplay.jobs")

POLL_BATCH = 1024  # most events one poll returns
POLL_WAIT = 0.1  # seconds an actor holds a poll open while it has nothing to send
# After the first event, a poll gathers more for this long: each poll is a Ray call
# that costs the actor's interpreter time, so fewer, fuller batches leave more for
# training (frames arrive at most this much later).
POLL_LINGER = 0.02
POLL_TIMEOUT = 30.0  # seconds without an answer before the cluster counts as lost
START_WARNING = 120.0  # seconds an actor may take to start before the log says so
START_BACKOFF_MAX = 60.0  # most seconds between tries to start an actor that keeps failing
RECONNECT_EVERY = 5.0  # seconds between attempts to reach a lost cluster


@dataclasses.dataclass(eq=False)
class _Slot:
    """One worker slot: its actor, the jobs placed on it, and the thread polling it."""

    index: int
    actor: Any
    jobs: set[str] = dataclasses.field(default_factory=set)
    where: tuple[str, int] | None = None  # (node address, pid) once it answered
    dead: bool = False
    poller: threading.Thread | None = None
    spawned_at: float = dataclasses.field(default_factory=time.monotonic)


class RayExecutor:
    """Jobs spread over Ray actors; a dead actor is replaced and its jobs interrupted."""

    def __init__(self, address: str, workers: int | None, checkpoints: CheckpointStore,
                 torch_threads: int = 1, report_share: float = 0.5, cohorts: bool = False,
                 actor_cpus: float = 1.0, cohort_min_size: int = 3) -> None:
        self.address = address
        self._owns_connection = connect(address)
        self._checkpoints = checkpoints
        self._options = (torch_threads, report_share, cohorts, cohort_min_size)
        self._placement = Placement(cohorts)
        self._actor_cpus = actor_cpus
        self._lock = threading.Lock()
        self._handlers: Routes = {}
        self._failed_writes: set[str] = set()  # jobs whose last shipped checkpoint was lost
        self._image_sets = ServerImageSets()
        self._closing = False
        self._start_failures = 0  # actors in a row that died before they started
        self.lost_reason: str | None = None  # why the cluster is unreachable, while it is
        cpus = ray.cluster_resources().get("CPU", 1.0)
        count = workers or max(1, int(cpus / actor_cpus) if actor_cpus > 0 else int(cpus))
        self._slots = [self._spawn(index) for index in range(count)]

    # ----- actors -----------------------------------------------------------------------
    def _spawn(self, index: int) -> _Slot:
        actor = RemoteWorker.options(num_cpus=self._actor_cpus).remote(
            f"nnplay-ray-{index}", *self._options)
        slot = _Slot(index, actor)
        slot.poller = threading.Thread(target=self._poll, args=(slot,),
                                       name=f"nnplay-ray-poll-{index}", daemon=True)
        slot.poller.start()
        return slot

    def wait_ready(self, timeout: float) -> bool:
        """Block until every actor has started (torch imported and warm), or `timeout` passes."""
        with self._lock:
            slots = list(self._slots)
        try:
            places = ray.get([slot.actor.where.remote() for slot in slots], timeout=timeout)
        except GetTimeoutError:
            return False
        except Exception as error:  # an actor died while starting: its poller replaces it
            log.warning("a Ray worker failed to start: %s", error)
            return False
        for slot, place in zip(slots, places, strict=True):
            slot.where = tuple(place)
        return True

    def _send(self, slot: _Slot, command: Command, image_set: ShippedSet | None = None) -> None:
        try:
            slot.actor.handle.remote(command, image_set)
        except Exception as error:  # the cluster is gone: the poller reports the jobs
            log.warning("could not send %s to Ray worker %d: %s", command[0], slot.index, error)

    # ----- Executor -----------------------------------------------------------------------
    def start(self, request: RunRequest, events: RunEvents) -> Controls:
        """Send the job (its checkpoint's bytes, its image set) to the least-loaded actor,
        or to one training its cohort (`nnplay.jobs.placement`)."""
        data = None
        if request.resume and self._checkpoints.exists(request.job_id):
            data = self._checkpoints.path(request.job_id).read_bytes()
        try:
            # Read once per set on this server; the actor gets it from the object store.
            image_set = self._image_sets.ship(request.spec, request.data_dir)
        except Exception as error:  # the set left the server since the job was accepted
            events.on_start_failed(f"{type(error).__name__}: {error}")
            return RemoteControl(lambda command: None, request.job_id)
        shipped = dataclasses.replace(request, ship_checkpoints=True, checkpoint_data=data,
                                      checkpoint_dir=None, data_dir=None)
        with self._lock:
            live = [slot for slot in self._slots if not slot.dead]
            # An actor still waiting for a CPU after START_WARNING s (a worker yet to join)
            # gets jobs only when no other can take them.
            now = time.monotonic()
            started = [slot for slot in live if slot.where is not None
                       or now - slot.spawned_at < START_WARNING] or live
            slot = self._placement.choose(started, shipped) if started else None
            if slot is not None:
                slot.jobs.add(request.job_id)
                self._handlers[request.job_id] = (events, slot)
        if slot is None:
            events.on_worker_lost(f"no Ray worker is reachable ({self.lost_reason}); "
                                  "resume it once the cluster is back")
            return RemoteControl(lambda command: None, request.job_id)
        self._send(slot, ("start", request.job_id, shipped), image_set)
        return RemoteControl(lambda command: self._send(slot, command), request.job_id)

    def request_checkpoint(self, job_id: str) -> None:
        """Ask the job's actor for a checkpoint (a paused job writes it at once)."""
        with self._lock:
            entry = self._handlers.get(job_id)
        if entry is not None:
            self._send(entry[1], ("checkpoint", job_id))

    def health(self) -> dict[str, Any]:
        """Executor, cluster address, whether it is reachable, and where each worker runs."""
        with self._lock:
            workers = [{"node": slot.where[0] if slot.where else None,
                        "pid": slot.where[1] if slot.where else None, "jobs": len(slot.jobs)}
                       for slot in self._slots if not slot.dead]
        out: dict[str, Any] = {"executor": "ray", "ray_address": self.address or "local",
                               "ray_reachable": self.lost_reason is None, "workers": workers}
        if self.lost_reason is not None:
            out["reason"] = self.lost_reason
        return out

    # ----- events ---------------------------------------------------------------------------
    def _poll(self, slot: _Slot) -> None:
        # Once the actor has started, one poll in flight; each answer is replayed in order.
        if not self._wait_started(slot):
            return
        unavailable = 0
        while not self._closing and not slot.dead:
            try:
                batch = ray.get(slot.actor.poll.remote(POLL_BATCH, POLL_WAIT, POLL_LINGER),
                                timeout=POLL_TIMEOUT)
            except ActorUnavailableError as error:  # a passing network fault: try again
                unavailable += 1
                if unavailable < 5:
                    time.sleep(0.5)
                    continue
                self._fail(slot, error)
                return
            except Exception as error:
                self._fail(slot, error)
                return
            unavailable = 0
            for job_id, hook, args in batch:
                self._deliver(slot, job_id, hook, args)

    def _wait_started(self, slot: _Slot) -> bool:
        # Starting may wait for a free CPU (a worker joining later): say so, keep waiting.
        while not self._closing and not slot.dead:
            try:
                slot.where = tuple(ray.get(slot.actor.where.remote(), timeout=START_WARNING))
                self._start_failures = 0
                return True
            except GetTimeoutError:
                log.warning("Ray worker %d has not started after %g s: does the cluster have "
                            "%g free CPU for it (NNPLAY_RAY_ACTOR_CPUS)?", slot.index,
                            START_WARNING, self._actor_cpus)
            except Exception as error:
                self._fail(slot, error)
                return False
        return False

    def _fail(self, slot: _Slot, error: Exception) -> None:
        if self._closing:
            return
        if isinstance(error, RayActorError) and slot.where is None:
            # It never started (nnplay missing on the cluster, a failing import): say why
            # and back off, instead of replacing it in a tight loop.
            self._start_failures += 1
            delay = min(START_BACKOFF_MAX, 2.0 ** self._start_failures)
            log.error("a Ray worker could not start (is nnplay installed on every node of the "
                      "cluster?); trying again in %g s: %s", delay, str(error)[:500])
            time.sleep(delay)
            if self._closing:
                return
        if isinstance(error, RayActorError):  # its process died (kill -9, node lost)
            self._replace(slot, f"the Ray worker running this job died "
                                f"({type(error).__name__})")
        else:  # the cluster itself: no answer in time, connection lost
            self._lose_cluster(f"{type(error).__name__}: {error}")

    def _deliver(self, slot: _Slot, job_id: str, hook: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            events = route_hook(self._handlers, slot, job_id, hook)
        if events is None:
            return
        try:
            if hook == "on_checkpoint_data":
                self._store_checkpoint(job_id, args[0])
            elif hook == "on_checkpoint" and job_id in self._failed_writes:
                return  # not on the server's disk: do not claim it
            else:
                getattr(events, hook)(*args)
        except Exception:  # one job's bookkeeping must not stop the others' events
            log.exception("handling %s of job %s failed", hook, job_id)

    def _store_checkpoint(self, job_id: str, data: bytes) -> None:
        try:
            self._checkpoints.save(job_id, data)
        except (OSError, RuntimeError) as error:  # a full disk: the run keeps training
            if job_id not in self._failed_writes:
                log.warning("could not store the checkpoint of run %s: %s", job_id, error)
            self._failed_writes.add(job_id)
            return
        self._failed_writes.discard(job_id)

    # ----- faults -----------------------------------------------------------------------------
    def _take_jobs(self, slots: list[_Slot]) -> list[tuple[str, RunEvents]]:
        with self._lock:
            lost = take_routes(self._handlers, slots)
            for slot in slots:
                slot.dead = True
        return lost

    def _interrupt(self, lost: list[tuple[str, RunEvents]], reason: str) -> None:
        for job_id, events in lost:
            try:
                events.on_worker_lost(reason)
            except Exception:
                log.exception("marking job %s interrupted failed", job_id)

    def _replace(self, dead: _Slot, why: str) -> None:
        started = time.monotonic()
        replacement = self._spawn(dead.index)
        lost = self._take_jobs([dead])
        with self._lock:
            self._slots[self._slots.index(dead)] = replacement
        log.error("Ray worker %d (%s) is gone with %d job(s): %s; they are interrupted and a "
                  "new actor replaces it", dead.index, dead.where, len(lost), why)
        self._interrupt(lost, f"{why}; resume continues from its last checkpoint")
        log.info("recovered from the loss of Ray worker %d in %.2f s", dead.index,
                 time.monotonic() - started)

    def _lose_cluster(self, why: str) -> None:
        with self._lock:
            if self.lost_reason is not None:
                return  # another poller already handles it
            self.lost_reason = f"the Ray cluster at {self.address or 'local'} is unreachable " \
                               f"({why})"
            slots = list(self._slots)
        lost = self._take_jobs(slots)
        log.error("%s; %d running job(s) are interrupted", self.lost_reason, len(lost))
        self._interrupt(lost, f"{self.lost_reason}; resume continues from its last "
                              "checkpoint once it is back")
        threading.Thread(target=self._reconnect, name="nnplay-ray-reconnect",
                         daemon=True).start()

    def _reconnect(self) -> None:
        while not self._closing:
            time.sleep(RECONNECT_EVERY)
            try:
                if self._owns_connection or not self.address:
                    ray.shutdown()
                    self._owns_connection = connect(self.address)
                fresh = [self._spawn(index) for index in range(len(self._slots))]
                ray.get([slot.actor.where.remote() for slot in fresh], timeout=60.0)
            except Exception as error:
                log.info("the Ray cluster at %s is still unreachable: %s", self.address, error)
                continue
            with self._lock:
                self._slots = fresh
                self.lost_reason = None
            self._image_sets.forget()  # a cluster that came back holds none of them
            log.warning("the Ray cluster at %s is reachable again", self.address)
            return

    def shutdown(self, timeout: float) -> None:
        """Let the actors end their runs (already told to stop), then end the actors."""
        with self._lock:
            slots = [slot for slot in self._slots if not slot.dead]
        try:
            ray.get([slot.actor.close.remote(timeout) for slot in slots], timeout=timeout + 5)
        except Exception as error:
            log.warning("Ray workers did not stop cleanly: %s", error)
        self._closing = True
        for slot in slots:
            if slot.poller is not None:
                slot.poller.join(POLL_TIMEOUT)
        for slot in slots:  # the runs' last hooks (their ends, final checkpoints)
            self._drain(slot)
            try:
                ray.kill(slot.actor)
            except Exception:
                continue
        if self._owns_connection:
            ray.shutdown()

    def _drain(self, slot: _Slot) -> None:
        while True:
            try:
                batch = ray.get(slot.actor.poll.remote(POLL_BATCH, 0.0), timeout=5.0)
            except Exception:
                return
            if not batch:
                return
            for job_id, hook, args in batch:
                self._deliver(slot, job_id, hook, args)


__all__ = ["RayExecutor", "RayUnavailable"]
