"""Tests against a real `nnplay serve` process: many jobs, stalled viewers, stop and SIGTERM."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from nnplay.client import Client, JobStream, ServerError
from realserver import ServerProcess

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

WAIT = 20.0  # seconds a test polls the server for something (never reached when it passes)
LONG = {"max_steps": 100_000}  # outlasts every test; jobs are stopped at the end
THREADS = {"NNPLAY_WORKERS": "0"}  # jobs on threads: a server that starts faster


def wait_until(condition: Callable[[], bool], timeout: float = WAIT,
               what: str = "condition") -> None:
    """Poll `condition` until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


@contextlib.contextmanager
def jobs_of(client: Client) -> Iterator[list[str]]:
    """Ids the block adds are stopped and deleted afterwards, so the shared server stays idle."""
    ids: list[str] = []
    try:
        yield ids
    finally:
        for job_id in ids:
            with contextlib.suppress(ServerError):  # already gone
                client.delete(job_id)


@pytest.fixture
def client(live_server: ServerProcess) -> Iterator[Client]:
    """A REST client of the shared live server."""
    with Client(live_server.url) as client:
        yield client


def steps_by_id(client: Client) -> dict[str, int]:
    """Every job's current step."""
    return {job["id"]: job["step"] for job in client.jobs()}


def test_twenty_jobs_at_once_all_progress(client: Client) -> None:
    with jobs_of(client) as ids:
        for _ in range(20):
            ids.append(client.create_job(preset="spiral", overrides=LONG)["id"])
        assert all(client.job(job_id)["status"] == "running" for job_id in ids)
        wait_until(lambda: all(steps_by_id(client)[i] > 0 for i in ids), what="every job started")
        first = steps_by_id(client)
        wait_until(lambda: all(steps_by_id(client)[i] > first[i] for i in ids),
                   what="every job's step rose")
        for job_id in ids:
            assert client.job(job_id)["status"] == "running"
        for job_id in ids:
            client.stop(job_id)
        wait_until(lambda: all(client.job(i)["status"] == "stopped" for i in ids),
                   what="every job stopped")


def _stalled_websocket(url: str, job_id: str) -> socket.socket:
    """Open the job's websocket by hand, with a tiny receive buffer, and never read it."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/jobs/{job_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def _send_backlog(server_port: int, client_port: int) -> int | None:
    """Bytes the server has queued in the kernel for one client (Linux), else None."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (server_port,
                                                                             client_port):
            return int(fields[4].split(":")[0], 16)
    return None


def _boundary_rate(stream: JobStream, seconds: float) -> float:
    """Boundary frames per second a reading viewer gets over `seconds`."""
    frames = 0
    started = time.monotonic()
    while (left := seconds - (time.monotonic() - started)) > 0:
        try:
            event = stream.receive(timeout=left)
        except TimeoutError:
            break
        frames += event.type == "boundary"
    return frames / seconds


def test_a_viewer_that_never_reads_does_not_slow_another(live_server: ServerProcess,
                                                         client: Client) -> None:
    with jobs_of(client) as ids:
        job_id = client.create_job(preset="spiral", overrides=LONG, frame_rate=60)["id"]
        ids.append(job_id)
        stalled = _stalled_websocket(live_server.url, job_id)
        try:
            server_port = int(live_server.url.rsplit(":", 1)[1])
            client_port = stalled.getsockname()[1]
            wait_until(lambda: client.job(job_id)["viewers"] == 1, what="stalled viewer attached")
            # Wait until the server's socket buffer towards the stalled viewer is full,
            # i.e. its sends would block (where the kernel lets us see it).
            if _send_backlog(server_port, client_port) is not None:
                backlog: list[int] = []

                def full() -> bool:
                    backlog.append(_send_backlog(server_port, client_port) or 0)
                    return len(backlog) > 5 and backlog[-1] > 0 and len(set(backlog[-5:])) == 1

                wait_until(full, what="stalled viewer's buffer filled")
            with client.stream(job_id) as stream:
                stream.receive(timeout=WAIT)  # connected
                rate = _boundary_rate(stream, 2.0)
                assert client.job(job_id)["viewers"] == 2
            assert rate >= 5, f"the reading viewer got {rate:.1f} boundary frames/s"
            steps_before = client.job(job_id)["step"]
            wait_until(lambda: client.job(job_id)["step"] > steps_before, what="training")
        finally:
            stalled.close()
        wait_until(lambda: client.job(job_id)["viewers"] == 0, what="stalled viewer dropped")


def test_stop_takes_effect_within_a_second(client: Client) -> None:
    with jobs_of(client) as ids:
        for _ in range(4):  # some company, so the server is busy
            ids.append(client.create_job(preset="spiral", overrides=LONG)["id"])
        job_id = ids[0]
        wait_until(lambda: client.job(job_id)["step"] > 0, what="job started")
        started = time.monotonic()
        stopped = client.stop(job_id)
        if stopped["status"] != "stopped":
            wait_until(lambda: client.job(job_id)["status"] == "stopped", timeout=1.0,
                       what="stopped within 1 s")
        assert time.monotonic() - started < 1.0
        final = client.job(job_id)["step"]
        time.sleep(0.2)
        assert client.job(job_id)["step"] == final  # no training after the stop


def _stream_until_closed(stream: JobStream, timeout: float) -> tuple[list[str], int | None]:
    """Statuses seen until the server closes the stream, and the close code."""
    statuses: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = stream.receive(timeout=max(0.1, deadline - time.monotonic()))
        except ConnectionClosed as closed:
            return statuses, closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            break
        if event.type == "status":
            statuses.append(event.data["status"])
    raise AssertionError(f"the stream did not close within {timeout} s (saw {statuses})")


def _start_streaming_job(server: ServerProcess) -> tuple[Client, str, JobStream]:
    """A long job on `server`, with a viewer that has seen it train."""
    client = Client(server.url)
    job_id = client.create_job(preset="spiral", overrides=LONG)["id"]
    stream = client.stream(job_id)
    while True:
        event = stream.receive(timeout=WAIT)
        if event.type == "metrics" and any(p["step"] > 0 for p in event.data["points"]):
            return client, job_id, stream


def test_sigterm_interrupts_running_jobs(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"NNPLAY_WORKERS": "1"})  # a worker process; one boots sooner
    client, job_id, stream = _start_streaming_job(server)
    with client, stream:
        server.process.send_signal(signal.SIGTERM)
        statuses, code = _stream_until_closed(stream, timeout=10.0)
    # A viewer learns the job was interrupted, or at least that the server is going away.
    assert statuses in ([], ["interrupted"]), statuses
    assert statuses == ["interrupted"] or code in (1001, 1012), code
    # uvicorn exits promptly after a graceful shutdown (re-raising SIGTERM: -15).
    assert server.process.wait(10) in (0, -signal.SIGTERM)
    # The job is remembered as interrupted by the next server on the same data.
    again = server_factory(env=THREADS, data_dir=server.data_dir)
    with Client(again.url) as client:
        job: dict[str, Any] = client.job(job_id)
    assert job["status"] == "interrupted"
    assert job["reason"] and "server stopped" in job["reason"]
    assert job["step"] > 0


def test_sigterm_tells_viewers_their_job_was_interrupted(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env=THREADS)
    client, _, stream = _start_streaming_job(server)
    with client, stream:
        server.process.send_signal(signal.SIGTERM)
        statuses, _ = _stream_until_closed(stream, timeout=10.0)
    assert statuses == ["interrupted"]


def test_frames_are_not_compressed_per_viewer(live_server: ServerProcess) -> None:
    """The server declines permessage-deflate, which the client offers by default.

    Compressing every frame again for every viewer was ~65% of the event loop at 50 jobs.
    """
    from websockets.sync.client import connect

    job = Client(live_server.url).create_job({"dataset": {"name": "circle"}, "max_steps": 5},
                                             paused=True)
    url = live_server.url.replace("http://", "ws://") + f"/ws/jobs/{job['id']}"
    with connect(url) as socket_:
        assert "permessage-deflate" in socket_.request.headers.get("Sec-WebSocket-Extensions", "")
        assert socket_.response.headers.get("Sec-WebSocket-Extensions") is None
        assert socket_.recv(timeout=10)  # the stream still works: its first message arrives
