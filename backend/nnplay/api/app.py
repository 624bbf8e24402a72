"""The FastAPI app factory: builds every piece of a server, so each app has fresh state."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import torch
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nnplay import __version__
from nnplay.api import docs, routes_jobs, routes_meta, stream
from nnplay.api.errors import error_body, install_error_handlers, install_openapi
from nnplay.api.frames import snapshot_frames
from nnplay.api.json_depth import MAX_JSON_DEPTH, depth_error, nesting_depth
from nnplay.api.security import Guard, SecurityPolicy
from nnplay.catalog import build_catalog
from nnplay.config import Settings
from nnplay.jobs.checkpoints import CheckpointStore
from nnplay.jobs.executors import (
    Executor,
    ExecutorUnavailable,
    ProcessExecutor,
    ThreadExecutor,
    WorkerSettings,
)
from nnplay.jobs.manager import JobManager
from nnplay.jobs.store import RunStore
from nnplay.resources import resource_dir
from nnplay.train.allocator import keep_freed_memory
from nnplay.train.trainer import warm_up

log = logging.getLogger("nnplay.server")


class BodyLimit:
    """Refuses request bodies over `max_bytes` (413) or nesting too deeply (422)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        # Read the body here (at most max_bytes of it), then hand it on in one piece:
        # a chunked upload with no length is refused as soon as it passes the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        data = b"".join(chunks)
        if nesting_depth(data) > MAX_JSON_DEPTH:
            await self._refuse(send, 422, depth_error())
            return
        body = {"type": "http.request", "body": data, "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, send: Send, status: int = 413, detail: str | None = None) -> None:
        import json

        body = json.dumps(error_body(
            detail or f"request body too large: at most {self.max_bytes} bytes")).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that yields `messages` first, then defers to the real one."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _warm_workers(executor: Executor) -> None:
    """Pay torch's start-up costs (in each worker, or here) and say when that is done."""
    started = time.monotonic()
    wait_ready = getattr(executor, "wait_ready", None)  # worker processes or Ray actors
    if wait_ready is not None:
        ready = bool(wait_ready(120.0))
    else:
        warm_up()
        ready = True
    if ready:
        log.info("workers ready: jobs train at full speed (%.1f s after start)",
                 time.monotonic() - started)
    else:
        log.warning("workers are still not ready after 120 s; jobs wait for them")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app with its own job manager, hub and settings."""
    settings = settings or Settings()
    policy = SecurityPolicy.from_settings(settings)
    torch.set_num_threads(settings.torch_threads)
    keep_freed_memory()  # the thread executor's jobs train in this process
    store = checkpoints = None
    if settings.persist:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = RunStore(settings.data_dir / "nnplay.sqlite3", max_held=settings.store_max_held)
        checkpoints = CheckpointStore(settings.data_dir / "checkpoints")
    workers = settings.worker_count()
    cohorts = settings.cohorts == "on"
    min_size = settings.cohort_min_size
    executor: Executor = ThreadExecutor(settings.report_share, cohorts=cohorts,
                                        cohort_min_size=min_size)
    if settings.executor == "ray":
        try:
            from nnplay.jobs.ray_executor import RayExecutor  # Ray loads only when asked for
        except ImportError as error:
            raise ExecutorUnavailable(f"executor 'ray' needs Ray: pip install 'nnplay[ray]' "
                                      f"({error})") from None

        if checkpoints is None:  # checkpoints travel back over Ray and are kept here
            checkpoints = CheckpointStore(Path(tempfile.mkdtemp(prefix="nnplay-")))
        executor = RayExecutor(settings.ray_address, settings.workers or None, checkpoints,
                               settings.torch_threads, settings.report_share, cohorts,
                               settings.ray_actor_cpus, min_size)
    elif workers > 0:
        executor = ProcessExecutor(workers, WorkerSettings(
            settings.torch_threads, settings.report_share, cohorts, min_size,
            encode_frames=snapshot_frames))
        if checkpoints is None:  # weights of a job in a worker travel as a checkpoint
            checkpoints = CheckpointStore(Path(tempfile.mkdtemp(prefix="nnplay-")))
    manager = JobManager(
        executor, snapshot_frames, max_running=settings.max_running_jobs,
        max_jobs=settings.max_jobs, device=settings.device, data_dir=settings.data_dir,
        snapshot_budget=settings.frame_budget, store=store, checkpoints=checkpoints,
        checkpoint_interval=settings.checkpoint_interval, max_runs=settings.max_runs,
        max_checkpoint_bytes=settings.max_checkpoint_bytes, idle_timeout=settings.idle_timeout,
        max_jobs_per_owner=settings.max_jobs_per_user,
        unwatched_timeout=settings.unwatched_timeout,
    )
    manager.restore()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Serve at once: the page and REST answer while the workers pay torch's one-off
        # start-up costs; a job started meanwhile waits in its worker's queue.
        warming = threading.Thread(target=_warm_workers, args=(executor,),
                                   name="nnplay-warm-up", daemon=True)
        warming.start()
        yield
        manager.shutdown()
        if store is not None:
            store.close()

    app = FastAPI(
        title="nnplay", version=__version__, lifespan=lifespan,
        docs_url=None, redoc_url=None,  # /docs is served offline by nnplay.api.docs
        description="Train small PyTorch networks and watch them learn: REST jobs and a "
                    "websocket stream of losses, decision boundaries and neuron heatmaps.",
    )
    app.state.settings = settings
    app.state.manager = manager
    app.state.security = policy
    app.state.catalog = build_catalog()
    # Checking a stack's shapes builds the network once (up to ~50 MB for the largest CNN
    # the limits allow): two at a time, whatever the number of clients editing.
    app.state.stack_checks = asyncio.Semaphore(2)
    app.state.templates = Jinja2Templates(directory=str(resource_dir("frontend")))
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(routes_meta.router)
    app.include_router(routes_jobs.router)
    app.include_router(stream.router)
    app.include_router(docs.router)
    # The page's own ES modules (frontend/js) and what is served as is (static/).
    app.mount("/js", StaticFiles(directory=str(resource_dir("frontend") / "js"), check_dir=False),
              name="js")
    app.mount("/static", StaticFiles(directory=str(resource_dir("static")), check_dir=False),
              name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Guard, policy=policy)  # outermost: checked before a body is read
    return app
