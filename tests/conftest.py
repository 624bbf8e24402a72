"""Shared fixtures: a real nnplay server process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """A running `nnplay serve` subprocess."""

    process: subprocess.Popen[bytes]
    url: str
    data_dir: Path
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal the server and wait for it to exit; returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_server(data_dir: Path, env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> ServerProcess:
    """Start `nnplay serve` on a free port and wait until /api/health answers."""
    port = free_port()
    log = data_dir / f"server-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {key: value for key, value in os.environ.items() if key != "NNPLAY_WORKERS"}
    full_env.update({"NNPLAY_DATA_DIR": str(data_dir), "NNPLAY_LOG_LEVEL": "warning",
                     **(env or {})})
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nnplay.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                return ServerProcess(process, url, data_dir, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"server did not answer within {timeout} s:\n{log.read_text()}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: the slowest, and they drive an event loop of their own."""
    items.sort(key=lambda item: "tests/browser/" in str(item.path).replace("\\", "/"))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server shared by the tests of a session."""
    # The tests drive many jobs from one client (one identity): lift the per-person limit.
    server = start_server(tmp_path_factory.mktemp("live-server"),
                          {"NNPLAY_MAX_JOBS_PER_USER": "200"})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory,
                  ) -> Iterator[Callable[[dict[str, str]], ServerProcess]]:
    """Servers for tests that need a setting but no fresh state: one per distinct `env`,
    started on first use and shared by the session (each start costs seconds of torch)."""
    servers: dict[tuple[tuple[str, str], ...], ServerProcess] = {}

    def get(env: dict[str, str]) -> ServerProcess:
        key = tuple(sorted(env.items()))
        if key not in servers:
            servers[key] = start_server(tmp_path_factory.mktemp("shared-server"), env)
        return servers[key]

    yield get
    for server in servers.values():
        server.stop(signal.SIGKILL)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers of a test's own (e.g. to kill them); all are stopped afterwards."""
    started: list[ServerProcess] = []

    def make(env: dict[str, str] | None = None, data_dir: Path | None = None) -> ServerProcess:
        server = start_server(data_dir or tmp_path / f"server-{len(started)}", env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop(signal.SIGKILL)


@pytest.fixture
def disk_full(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """While the returned event is set, run stores fail every COMMIT with SQLite's own
    "database or disk is full" error, rolled back first as SQLite does on SQLITE_FULL.

    The fault is injected at the write layer (the writer's connection class), since a
    real tiny filesystem needs root to mount; stores opened before this fixture are not
    affected.
    """
    from nnplay.jobs.store import RunStore

    full = threading.Event()

    class DiskFullConnection(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            if full.is_set() and sql.lstrip().upper().startswith("COMMIT"):
                super().execute("ROLLBACK")
                raise sqlite3.OperationalError("database or disk is full")
            return super().execute(sql, parameters)

        def executescript(self, script: str, /) -> sqlite3.Cursor:
            if full.is_set():  # a schema script (a new store) cannot be written either
                raise sqlite3.OperationalError("database or disk is full")
            return super().executescript(script)

    monkeypatch.setattr(RunStore, "connection_class", DiskFullConnection)
    return full


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    """Train in-process on one thread, as a server worker does: torch's thread pool
    thrashes on a busy 2-core machine and tiny networks gain nothing from it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's `Settings()` stores runs in its own folder, never in the repo."""
    monkeypatch.setenv("NNPLAY_DATA_DIR", str(tmp_path / "nnplay-data"))
    # In-process apps (TestClient) train on threads; real servers use worker processes.
    monkeypatch.setenv("NNPLAY_WORKERS", "0")
    # TestClient sends `Host: testserver`; real servers are reached as 127.0.0.1.
    monkeypatch.setenv("NNPLAY_ALLOW_HOSTS", "testserver")
