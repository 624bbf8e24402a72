"""Start uvicorn with the app, from `nnplay serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Generator
from typing import Any

import uvicorn

from nnplay.api.app import create_app
from nnplay.api.security import SecurityPolicy
from nnplay.api.ws_protocol import stall_limited_protocol
from nnplay.config import Settings
from nnplay.jobs.executors import ExecutorUnavailable
from nnplay.jobs.manager import JobManager


def serve(overrides: dict[str, Any]) -> int:
    """Run the server until interrupted; `overrides` beat `NNPLAY_*` variables."""
    settings = Settings(**overrides)
    _log_to_stderr(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        app = create_app(settings)
    except ExecutorUnavailable as error:  # e.g. the Ray cluster is unreachable
        print(f"nnplay: error: {error}", file=sys.stderr)
        return 2
    policy: SecurityPolicy = app.state.security
    for warning in policy.warnings:
        print(f"nnplay: WARNING: {warning}", file=sys.stderr)
    if settings.host in ("0.0.0.0", "::"):
        print(f"nnplay: listening on every interface (port {settings.port})", file=sys.stderr)
    print(f"nnplay: open {policy.url(policy.token)}", file=sys.stderr)
    if policy.admin_token is not None:
        print(f"nnplay: teacher (admin, manages every run): "
              f"{policy.url(policy.admin_token)}", file=sys.stderr)
    # No per-message deflate: frames are mostly incompressible pixels and weights, and
    # compressing each one again for every viewer was most of the event loop's time.
    config = uvicorn.Config(app, host=settings.host, port=settings.port,
                            log_level=settings.log_level, ws_max_size=64 * 1024,
                            ws_per_message_deflate=False,
                            ws=stall_limited_protocol(settings.ws_stall_timeout))
    _Server(config, app.state.manager).run()
    return 0


def _log_to_stderr(level: str) -> None:
    """nnplay's own log lines (workers ready, pruned runs, ...) next to uvicorn's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s:  nnplay: %(message)s"))
    logger = logging.getLogger("nnplay")
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False


class _Server(uvicorn.Server):
    """uvicorn, but jobs are stopped (and viewers told) before websockets close."""

    def __init__(self, config: uvicorn.Config, manager: JobManager) -> None:
        super().__init__(config)
        self.manager = manager

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn closes websockets before the app's lifespan shutdown runs; stop the
        # jobs first so every viewer receives its job's `interrupted` status.
        await asyncio.to_thread(self.manager.shutdown)
        await asyncio.sleep(0.3)  # let the senders flush that last status
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn re-raises SIGTERM/SIGINT after a graceful shutdown, which kills the
        # process before exit handlers run: multiprocessing's queues then never release
        # their semaphores ("leaked semaphore objects"). The shutdown is done; exit 0.
        with super().capture_signals():
            yield
            self._captured_signals.clear()
