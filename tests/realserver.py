"""A real `nnplay serve` subprocess on a free loopback port: start it, reach it, stop it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


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


# A classroom: a class token and a teacher's token (both opt-in on loopback), jobs on
# threads (a faster start), 2 active jobs per person (each test's clients and browsers
# are fresh identities holding fewer). One env, so `shared_server(CLASSROOM)` serves all.
CLASS_TOKEN, ADMIN_TOKEN = "class-token-for-tests", "admin-token-for-tests"
CLASSROOM = {"NNPLAY_WORKERS": "0", "NNPLAY_TOKEN": CLASS_TOKEN,
             "NNPLAY_ADMIN_TOKEN": ADMIN_TOKEN, "NNPLAY_MAX_JOBS_PER_USER": "2"}
