"""What runs on the Ray cluster: the worker actor, its event queue, and joining the cluster.

`WorkerActor` runs `WorkerJobs`, the scheduler and cohorts a local worker process
runs, and keeps the hooks of its runs in a bounded `ActorEvents` queue that the
server drains with `poll` (see `nnplay.jobs.ray_executor`). A start command's image set
comes from the object store into the actor's own folder (`nnplay.jobs.ray_data`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import socket
import time
from typing import Any

import ray
import torch

from nnplay.jobs.executors import ExecutorUnavailable, HookMessage, QueueEvents
from nnplay.jobs.ray_data import ActorImageSets, ShippedSet
from nnplay.jobs.worker import Command, WorkerJobs
from nnplay.train.allocator import keep_freed_memory
from nnplay.train.trainer import warm_up

log = logging.getLogger("nnplay.jobs")

EVENT_QUEUE = 4096  # events an actor holds for the server
HOOK_WAIT = 30.0  # seconds a run waits for room in a full queue before a hook is lost


class RayUnavailable(ExecutorUnavailable):
    """The Ray cluster cannot be reached."""


class ActorEvents:
    """An actor's outgoing hooks: bounded; frames are dropped when full, other hooks wait."""

    def __init__(self, size: int = EVENT_QUEUE) -> None:
        self.queue: queue.Queue[HookMessage] = queue.Queue(size)
        self.dropped_frames = 0

    def put(self, item: HookMessage) -> None:
        """Queue a hook for the server (a frame only if there is room: the next one follows)."""
        if item[1] == "on_snapshot":
            try:
                self.queue.put_nowait(item)
            except queue.Full:
                self.dropped_frames += 1
            return
        try:
            self.queue.put(item, timeout=HOOK_WAIT)
        except queue.Full:
            log.error("no server took events for %g s; dropped %s of job %s",
                      HOOK_WAIT, item[1], item[0])

    def drain(self, most: int, wait: float, linger: float = 0.0) -> list[HookMessage]:
        """Up to `most` queued hooks: waits up to `wait` s for the first, then `linger` s."""
        try:
            items = [self.queue.get(timeout=wait)]
        except queue.Empty:
            return []
        until = time.monotonic() + linger
        while len(items) < most:
            try:
                items.append(self.queue.get(timeout=max(0.0, until - time.monotonic())))
            except queue.Empty:
                break
        return items


class WorkerActor:
    """A worker slot on the cluster: runs `WorkerJobs` and hands their hooks to `poll`."""

    def __init__(self, name: str, torch_threads: int, report_share: float,
                 cohorts: bool, cohort_min_size: int = 3) -> None:
        torch.set_num_threads(torch_threads)
        keep_freed_memory()
        warm_up()
        self.events = ActorEvents()
        self.image_sets = ActorImageSets()
        # No round batches here: `poll` already hands the server many hooks per call.
        self.jobs = WorkerJobs(name, report_share, cohorts,
                               lambda job_id, _member: QueueEvents(self.events, job_id),
                               cohort_min_size)

    def where(self) -> tuple[str, int]:
        """This actor's node address and process id (answers once it has warmed up)."""
        return ray.util.get_node_ip_address(), os.getpid()

    def handle(self, command: Command, image_set: ShippedSet | None = None) -> None:
        """Apply one command from the server (a start reads `image_set` as its data dir)."""
        if command[0] == "start" and image_set is not None:
            kind, job_id, request = command
            try:
                folder = self.image_sets.data_dir(image_set)
            except Exception as error:  # the object store lost it, a full disk here
                log.exception("could not fetch the image set of job %s", job_id)
                self.events.put((job_id, "on_start_failed", (
                    f"the image set could not reach this Ray worker: {error}",)))
                return
            command = (kind, job_id, dataclasses.replace(request, data_dir=str(folder)))
        self.jobs.handle(command)

    @ray.method(concurrency_group="events")
    def poll(self, most: int, wait: float, linger: float = 0.0) -> list[HookMessage]:
        """The hooks queued since the last poll (see the module docstring)."""
        return self.events.drain(most, wait, linger)

    def close(self, timeout: float) -> None:
        """Stop every job, wait for the scheduler, and remove the written image sets."""
        self.jobs.close(timeout)
        self.image_sets.close()


# Commands run one at a time in the order sent; `poll` has its own thread beside them.
_remote: Any = ray.remote  # typed by Ray for its own overloads only
RemoteWorker: Any = _remote(concurrency_groups={"events": 1})(WorkerActor)


def _check_reachable(address: str) -> None:
    # Ray itself retries an absent head for minutes: a closed port fails here in seconds.
    if address in ("", "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5.0).close()
    except (OSError, ValueError) as error:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address!r} (NNPLAY_RAY_ADDRESS / --ray-address): "
            f"{error}; give ray://HOST:10001 (Ray Client), HOST:6379 (the head's GCS), auto "
            "(the cluster this machine belongs to) or nothing (start a local Ray)") from None


def connect(address: str) -> bool:
    """Join the Ray cluster at `address` ("" starts one here); True if this call connected."""
    if ray.is_initialized():
        return False  # already connected (a test's cluster, or a reconnect)
    _check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address="local", include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
    except Exception as error:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address or 'a new local Ray'!r} (NNPLAY_RAY_ADDRESS"
            f" / --ray-address): {type(error).__name__}: {error}") from None
    return True


__all__ = ["ActorEvents", "RayUnavailable", "RemoteWorker", "WorkerActor", "connect"]
