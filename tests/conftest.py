"""Shared fixtures: real nnplay servers (tests/realserver.py) for a session or a test."""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from realserver import ServerProcess, start_server


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
