"""Bounded resources of a real `nnplay serve`: floods, stalled clients, dead workers, SIGTERM.

Faults are real: raw sockets that never read, a client flooding messages, a worker
process killed with SIGKILL, SIGTERM to the server; memory is the server's VmRSS.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nnplay.client import Client, JobStream
from realserver import ServerProcess, start_server

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

WAIT = 60.0  # generous: workers may still be warming up on a busy machine
LONG = {"max_steps": 1_000_000}
RSS_BOUND_MB = 64  # documented in README: what a flood plus stalled viewers may add
UNWATCHED = 1.5  # s, the module server's NNPLAY_UNWATCHED_TIMEOUT


def wait_until(condition: Callable[[], bool], timeout: float = WAIT,
               what: str = "condition") -> None:
    """Poll `condition` until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One worker process; stalled clients are kept (60 s) so only the queue bounds count."""
    process = start_server(tmp_path_factory.mktemp("limits"), {
        "NNPLAY_WORKERS": "1", "NNPLAY_WS_STALL_TIMEOUT": "60",
        "NNPLAY_UNWATCHED_TIMEOUT": str(UNWATCHED)})
    yield process
    process.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[Client]:
    """A REST client of the module's server; its jobs are deleted afterwards."""
    with Client(server.url) as client:
        yield client
        for job in client.jobs():
            with contextlib.suppress(Exception):
                client.delete(job["id"])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _raw_websocket(url: str, job_id: str) -> socket.socket:
    """The job's websocket by hand, with a tiny receive buffer; the test decides what it reads."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws/jobs/{job_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    return sock


def _text_frame(payload: bytes) -> bytes:
    """One masked client text frame (payload under 126 bytes)."""
    mask = os.urandom(4)
    return (bytes([0x81, 0x80 | len(payload)]) + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def _flood(sock: socket.socket, payload: bytes, stop: threading.Event, sent: list[int]) -> None:
    """Send `payload` frames as fast as the server takes them, never reading."""
    frame = _text_frame(payload)
    chunk = frame * 200
    sock.setblocking(False)
    pending = b""
    while not stop.is_set():
        pending = pending or chunk
        try:
            count = sock.send(pending)
        except BlockingIOError:
            time.sleep(0.002)
            continue
        except OSError:
            return
        pending = pending[count:]
        sent[0] += count // len(frame)


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


def test_a_flood_and_stalled_viewers_leave_memory_viewers_and_training_alone(
        server: ServerProcess, client: Client) -> None:
    job_id = client.create_job(preset="spiral", overrides=LONG, frame_rate=60)["id"]
    stalled = [_raw_websocket(server.url, job_id) for _ in range(10)]
    flooder = _raw_websocket(server.url, job_id)
    stop, sent = threading.Event(), [0]
    thread = threading.Thread(target=_flood, args=(
        flooder, b'{"type":"update","lr":0.01}', stop, sent), daemon=True)
    try:
        wait_until(lambda: client.job(job_id)["viewers"] == 11, what="viewers attached")
        time.sleep(2.0)  # the stalled viewers' socket buffers fill up
        before = _rss_mb(server.process.pid)
        step_before = client.job(job_id)["step"]
        thread.start()
        with client.stream(job_id) as stream:
            stream.receive(timeout=WAIT)
            rate = _boundary_rate(stream, 8.0)
        growth = _rss_mb(server.process.pid) - before
        wait_until(lambda: client.job(job_id)["step"] > step_before, what="training went on")
    finally:
        stop.set()
        thread.join(5)
        for sock in [*stalled, flooder]:
            sock.close()
    print(f"\nflood: {sent[0]} update messages sent in 8 s; server RSS grew {growth:.1f} MB "
          f"(from {before:.0f} MB); the reading viewer got {rate:.1f} boundary frames/s")
    assert growth < RSS_BOUND_MB, f"server RSS grew {growth:.0f} MB under the flood"
    assert rate >= 5, f"the reading viewer got {rate:.1f} boundary frames/s"


def test_a_client_sending_too_fast_is_told_and_the_excess_dropped(client: Client) -> None:
    job_id = client.create_job(preset="spiral", overrides=LONG)["id"]
    with client.stream(job_id) as stream:
        for _ in range(400):
            stream.update(lr=0.01)
        errors: list[str] = []
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                event = stream.receive(timeout=0.2)
                if event.type == "error":
                    errors.append(event.data["message"])
        stream.control("pause")  # the connection still works after the flood
        wait_until(lambda: client.job(job_id)["status"] == "paused", what="paused")
    assert errors and all("too many messages" in error for error in errors), errors
    assert len(errors) <= 4, f"{len(errors)} rate-limit errors in about 3 s (one a second)"


def test_a_deeply_nested_body_or_message_is_refused_with_a_sentence(
        server: ServerProcess, client: Client) -> None:
    nested = "[" * 900 + "]" * 900
    body = '{"preset": "xor", "overrides": {"dataset": ' + nested + "}}"
    response = httpx.post(f"{server.url}/api/jobs", content=body,
                          headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert "nests too deeply" in response.json()["detail"]
    job_id = client.create_job(preset="xor", paused=True)["id"]
    with client.stream(job_id) as stream:
        stream.connection.send("[" * 2000 + "]" * 2000)
        messages: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while not any(m.get("type") == "error" for m in messages):
                messages.append(stream.receive(timeout=5.0).data or {})
        assert any("nests too deeply" in m.get("message", "") for m in messages), messages
        stream.control("step", steps=3)  # the connection survived
        wait_until(lambda: client.job(job_id)["step"] >= 3, what="stepped")


def test_a_paused_create_answers_paused_and_resumes_at_once(client: Client) -> None:
    ids = []
    for _ in range(5):
        created = client.create_job(preset="spiral", overrides=LONG, paused=True)
        assert created["status"] == "paused"
        assert client.resume(created["id"])["status"] == "running"
        ids.append(created["id"])
    wait_until(lambda: all(client.job(i)["step"] > 0 for i in ids), what="every job trains")
    assert all(client.job(i)["status"] == "running" for i in ids)


def test_weights_of_a_paused_job_come_at_once(client: Client) -> None:
    job_id = client.create_job(preset="spiral", overrides=LONG)["id"]
    wait_until(lambda: client.job(job_id)["step"] > 0, what="training")
    client.pause(job_id)
    time.sleep(0.5)  # parked
    client.step(job_id, 5)  # the checkpoint written on pause is now stale
    time.sleep(0.5)
    started = time.monotonic()
    weights = client.weights(job_id)
    took = time.monotonic() - started
    print(f"\nweights of a paused job: {took:.2f} s")
    assert weights and took < 2.0, f"weights of a paused job took {took:.1f} s"


def test_a_running_job_nobody_watches_is_paused_if_it_asked(client: Client) -> None:
    asked = client.create_job(preset="spiral", overrides=LONG, pause_when_unwatched=True)["id"]
    watched = client.create_job(preset="spiral", overrides=LONG, pause_when_unwatched=True)["id"]
    rest = client.create_job(preset="spiral", overrides=LONG)["id"]

    def status(job_id: str) -> dict[str, object]:
        # The list is not activity on a job (GET /api/jobs/{id} would be).
        return next(job for job in client.jobs() if job["id"] == job_id)

    with client.stream(watched):
        wait_until(lambda: status(asked)["status"] == "paused", timeout=UNWATCHED + 10,
                   what="the unwatched job paused")
        time.sleep(UNWATCHED)
        assert status(watched)["status"] == "running"
    assert "nobody watching" in str(status(asked)["reason"])
    assert status(rest)["status"] == "running"  # REST-started jobs are exempt by default
    step = status(asked)["step"]
    assert client.resume(asked)["status"] == "running"  # not lost: it goes on
    wait_until(lambda: client.job(asked)["step"] > step, what="resumed training")


def test_a_client_that_never_reads_is_closed_with_4008(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"NNPLAY_WORKERS": "0", "NNPLAY_WS_STALL_TIMEOUT": "3"})
    with Client(server.url) as client:
        job_id = client.create_job(preset="spiral", overrides=LONG, frame_rate=60)["id"]
        stalled = _raw_websocket(server.url, job_id)
        try:
            wait_until(lambda: client.job(job_id)["viewers"] == 1, what="viewer attached")
            # Well before uvicorn's keepalive (20 s ping + 20 s timeout) would notice.
            wait_until(lambda: client.job(job_id)["viewers"] == 0, timeout=30,
                       what="the non-reading client closed")
        finally:
            stalled.close()
        assert client.job(job_id)["status"] == "running"
    # The close frame itself waits behind megabytes the client never read: the log says it.
    assert "with 4008: its client did not read for 3 s" in server.log.read_text()


def _worker_pids(server_pid: int) -> list[int]:
    """The server's worker processes (spawned children, not the resource tracker)."""
    pids = []
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
    return sorted(pids)


def test_a_killed_worker_interrupts_its_jobs_and_is_replaced(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"NNPLAY_WORKERS": "2"})
    with Client(server.url) as client:
        # Two lessons: a lesson's jobs go to one worker (cohort placement), so each
        # worker trains two of them.
        ids = [client.create_job(preset=preset, overrides=LONG)["id"]
               for preset in ("spiral", "spiral", "circle", "circle")]
        wait_until(lambda: all(client.job(i)["step"] > 0 for i in ids), what="all training")
        workers = _worker_pids(server.process.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: any(client.job(i)["status"] == "interrupted" for i in ids),
                   timeout=5.0, what="the dead worker's jobs interrupted")
        recovery = time.monotonic() - killed_at
        time.sleep(0.5)
        jobs = {i: client.job(i) for i in ids}
        lost = [i for i, job in jobs.items() if job["status"] == "interrupted"]
        alive = [i for i, job in jobs.items() if job["status"] == "running"]
        assert len(lost) == 2 and len(alive) == 2, jobs
        assert all("worker process" in str(jobs[i]["reason"]) for i in lost)
        steps = {i: client.job(i)["step"] for i in alive}
        wait_until(lambda: all(client.job(i)["step"] > steps[i] for i in alive),
                   what="the other worker's jobs train on")
        fresh = [client.create_job(preset="spiral", overrides=LONG)["id"] for _ in range(4)]
        wait_until(lambda: all(client.job(i)["step"] > 0 for i in fresh),
                   what="every new job trains (none went to the dead worker)")
        trained_to = jobs[lost[0]]["step"]
        assert client.resume(lost[0])["status"] in ("queued", "running")
        wait_until(lambda: client.job(lost[0])["step"] > trained_to,
                   what="the interrupted job resumed")
        replaced = _worker_pids(server.process.pid)
        assert len(replaced) == 2 and workers[0] not in replaced, replaced
    print(f"\nworker kill -9: its jobs interrupted after {recovery:.2f} s")
    assert "died" in server.log.read_text()


def test_sigterm_ends_cleanly_without_leaked_semaphores(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(env={"NNPLAY_WORKERS": "2"})
    with Client(server.url) as client:
        job_id = client.create_job(preset="spiral", overrides=LONG)["id"]
        wait_until(lambda: client.job(job_id)["step"] > 0, what="training")
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(15)
    time.sleep(1.0)  # the resource tracker reports leaks when the server's pipe closes
    log = server.log.read_text()
    assert "leaked semaphore" not in log, log
    assert "Traceback" not in log, log
    assert code == 0  # a graceful shutdown, not death by the re-raised signal
