"""Who may do what, against real `nnplay serve` processes: class token, Host, Origin, owners."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from nnplay.client import Client, ServerError
from realserver import ADMIN_TOKEN, CLASS_TOKEN, CLASSROOM, ServerProcess, free_port

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

CLASS, ADMIN = CLASS_TOKEN, ADMIN_TOKEN
THREADS = {"NNPLAY_WORKERS": "0"}  # jobs on threads: a server that starts faster
TOKENS = CLASSROOM  # shared with the browser's class-link test (one server start)
PAUSED = {"preset": "circle", "overrides": {"max_steps": 100_000}, "paused": True}
READ_ONLY = "belongs to someone else"


def handshake_status(url: str, path: str, headers: dict[str, str]) -> int:
    """Send a websocket upgrade request with exactly these headers; the HTTP status answered."""
    parts = urlsplit(url)
    lines = [f"GET {path} HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
             *[f"{name}: {value}" for name, value in headers.items()]]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def ws_url(server: ServerProcess, job_id: str) -> str:
    return server.url.replace("http", "ws", 1) + f"/ws/jobs/{job_id}"


@pytest.fixture
def classroom(shared_server: Callable[[dict[str, str]], ServerProcess]) -> ServerProcess:
    """A server with a class token and an admin token (on loopback, where both are opt-in);
    its tests need no fresh state, so they share it."""
    return shared_server(TOKENS)


def test_with_a_class_token_every_route_and_the_websocket_need_it(
        classroom: ServerProcess) -> None:
    with Client(classroom.url, token=CLASS) as student:
        job_id = student.create_job(**PAUSED)["id"]
        schema = student._call("GET", "/openapi.json")
    # Every route the API documents, plus the page, the docs and the schema itself.
    routes = [(method.upper(), path.replace("{job_id}", job_id).replace("{name}", "circle"))
              for path, methods in schema["paths"].items() for method in methods]
    routes += [("GET", "/"), ("GET", "/docs"), ("GET", "/openapi.json"),
               ("GET", "/?view=runs&token=wrong")]
    assert len(routes) > 15
    for method, path in routes:
        if path == "/api/health":
            continue
        refused = httpx.request(method, classroom.url + path, json={})
        assert refused.status_code == 401, (method, path, refused.text)
        assert "class token" in refused.text, (method, path)
        if path.startswith("/api/") or path == "/openapi.json":
            assert refused.json()["detail"].startswith("this server needs the class token")
        else:  # pages say it in HTML a student can read
            assert refused.headers["content-type"].startswith("text/html")
            assert "Ask your teacher for the link" in refused.text
        wrong = httpx.request(method, classroom.url + path, json={},
                              headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401, (method, path)
    with Client(classroom.url, token=CLASS) as student:
        for method, path in routes:
            if method == "GET" and "token=wrong" not in path:
                response = student.http.get(path)
                if path.endswith("/test-images"):  # let in, but the job is not an image run
                    assert response.status_code == 422 and "classify" in response.text, path
                    continue
                assert response.status_code == 200, (path, response.text)
        # The health check stays open and says nothing about runs; so do the page's files.
        health = httpx.get(f"{classroom.url}/api/health")
        assert health.status_code == 200 and job_id not in health.text
        assert "jobs" not in health.json()
        assert httpx.get(f"{classroom.url}/js/main.js").status_code == 200
        # The websocket: refused with 401 before it opens, accepted with the token.
        with pytest.raises(InvalidStatus) as refused_ws:
            connect(ws_url(classroom, job_id), open_timeout=10).close()
        assert refused_ws.value.response.status_code == 401
        with student.stream(job_id) as events:
            assert events.receive(timeout=10).type == "status"
        with connect(f"{ws_url(classroom, job_id)}?token={CLASS}", open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "status"


def test_token_in_the_link_becomes_a_cookie_and_leaves_the_address_bar(
        classroom: ServerProcess) -> None:
    with httpx.Client(base_url=classroom.url) as browser:
        response = browser.get(f"/?view=runs&token={CLASS}")
        assert response.status_code == 303
        assert response.headers["location"] == "/?view=runs"
        cookies = response.headers.get_list("set-cookie")
        token_cookie = next(c for c in cookies if c.startswith("nnplay_token="))
        assert "HttpOnly" in token_cookie and "SameSite=Lax" in token_cookie
        assert any(c.startswith("nnplay_identity=") and "HttpOnly" in c for c in cookies)
        # Following the redirect with the cookie: the page, the API and the websocket open.
        page = browser.get("/?view=runs")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert browser.get("/api/jobs").status_code == 200
        job_id = browser.post("/api/jobs", json=PAUSED).json()["id"]
        jar = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        with connect(ws_url(classroom, job_id), additional_headers={"Cookie": jar},
                     open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "status"
            ws.send(json.dumps({"type": "update", "lr": 0.05}))  # the run is this browser's
            replies = [ws.recv(timeout=10) for _ in range(3)]
            assert not any('"error"' in r for r in replies if isinstance(r, str)), replies


def test_a_foreign_host_or_origin_is_refused(
        shared_server: Callable[[dict[str, str]], ServerProcess]) -> None:
    # The default server (loopback, no token) is the one DNS rebinding attacks.
    server = shared_server(THREADS)
    port = urlsplit(server.url).port
    for path in ("/api/jobs", "/", "/api/catalog"):
        response = httpx.get(server.url + path, headers={"Host": f"evil.example:{port}"})
        assert response.status_code == 400, path
        assert "Host" in response.json()["detail"]
    for host in ("127.0.0.1", f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert httpx.get(server.url + "/api/jobs", headers={"Host": host}).status_code == 200
    job_id = Client(server.url).create_job(**PAUSED)["id"]
    path = f"/ws/jobs/{job_id}"
    own = {"Host": f"127.0.0.1:{port}"}
    assert handshake_status(server.url, path, own) == 101
    assert handshake_status(server.url, path, {**own, "Origin": f"http://127.0.0.1:{port}"}) == 101
    assert handshake_status(server.url, path, {**own, "Origin": "http://evil.example"}) == 403
    assert handshake_status(server.url, path, {**own, "Origin": "null"}) == 403
    assert handshake_status(server.url, path, {"Host": "evil.example"}) == 400


def test_another_identity_can_watch_a_run_but_not_change_it(
        shared_server: Callable[[dict[str, str]], ServerProcess]) -> None:
    server = shared_server(THREADS)
    with Client(server.url) as owner, Client(server.url) as other:
        job = owner.create_job(**PAUSED)
        job_id = job["id"]
        assert job["owned"] is True and "owner" not in job
        assert owner.identity()["identity"] != other.identity()["identity"]
        # Reading works: the job, the list, metrics, exports, the stream.
        assert other.job(job_id)["owned"] is False
        listed = {j["id"]: j for j in other.jobs()}
        assert listed[job_id]["owned"] is False
        assert owner.identity()["identity"] not in json.dumps(listed)
        other.metrics(job_id)
        assert other.http.get(f"/api/jobs/{job_id}/spec").status_code == 200
        assert other.http.get(f"/api/jobs/{job_id}/metrics?format=csv").status_code == 200
        # Changing does not.
        attempts: list[tuple[str, str, dict[str, Any] | None]] = [
            ("POST", "pause", None), ("POST", "resume", None), ("POST", "step", {"steps": 5}),
            ("POST", "stop", None), ("PATCH", "", {"lr": 0.5}), ("PATCH", "", {"name": "mine"}),
            ("DELETE", "", None)]
        for method, action, body in attempts:
            path = f"/api/jobs/{job_id}" + (f"/{action}" if action else "")
            response = other.http.request(method, path, json=body)
            assert response.status_code == 403, (method, action, response.text)
            assert READ_ONLY in response.json()["detail"]
        with other.stream(job_id) as events:
            assert events.receive(timeout=10).type == "status"
            events.control("step", steps=50)
            events.update(lr=0.5)
            errors: list[str] = []
            deadline = time.monotonic() + 15
            while len(errors) < 2 and time.monotonic() < deadline:  # after the catch-up
                event = events.receive(timeout=10)
                if event.type == "error":
                    errors.append(event.data["message"])
            assert len(errors) == 2 and all(READ_ONLY in m for m in errors), errors
        after = owner.job(job_id)
        assert (after["status"], after["step"], after["name"]) == ("paused", 0, job["name"])
        assert after["lr"] == job["lr"]
        # The owner still can.
        owner.step(job_id, 5)
        owner.delete(job_id)


def test_a_fresh_client_starting_jobs_from_many_threads_owns_them_all(
        shared_server: Callable[[dict[str, str]], ServerProcess]) -> None:
    """Parallel first calls of one `Client` share the identity the first answer gives."""
    server = shared_server(THREADS)
    with Client(server.url) as client, ThreadPoolExecutor(8) as pool:
        jobs = list(pool.map(lambda _: client.create_job(**PAUSED), range(8)))
        assert all(job["owned"] for job in jobs)
        list(pool.map(lambda job: client.delete(job["id"]), jobs))  # no 403
        assert {job["id"] for job in jobs}.isdisjoint(j["id"] for j in client.jobs())


def test_the_admin_token_manages_every_run(classroom: ServerProcess) -> None:
    with Client(classroom.url, token=CLASS) as student, \
            Client(classroom.url, token=ADMIN) as teacher:
        assert student.identity()["admin"] is False
        assert teacher.identity()["admin"] is True
        job_id = student.create_job(preset="circle", overrides={"max_steps": 100_000})["id"]
        assert teacher.job(job_id)["owned"] is True
        teacher.pause(job_id)
        teacher.step(job_id, 3)
        teacher.resume(job_id)
        teacher._call("PATCH", f"/api/jobs/{job_id}", json={"name": "runaway", "lr": 0.01})
        with teacher.stream(job_id) as events:
            events.control("stop")
            deadline = time.monotonic() + 15
            while teacher.job(job_id)["status"] != "stopped":
                assert time.monotonic() < deadline, "the admin's stop did not stop the run"
                time.sleep(0.05)
        teacher.delete(job_id)
        with pytest.raises(ServerError) as gone:
            student.job(job_id)
        assert gone.value.status == 404


def test_each_person_may_hold_only_so_many_jobs(classroom: ServerProcess) -> None:
    server = classroom  # its limit is 2 active jobs per person
    with Client(server.url, token=CLASS) as first, Client(server.url, token=CLASS) as second, \
            Client(server.url, token=ADMIN) as teacher:
        ids = [first.create_job(**PAUSED)["id"] for _ in range(2)]
        response = first.http.post("/api/jobs", json=PAUSED)
        assert response.status_code == 429
        assert response.headers["Retry-After"].isdigit()
        assert "you already have 2 active jobs" in response.json()["detail"]
        second.create_job(**PAUSED)  # someone else is not held back
        for _ in range(3):
            teacher.create_job(**PAUSED)  # the admin is exempt
        first.stop(ids[0])  # a finished job no longer counts
        first.create_job(**PAUSED)


def test_identities_survive_a_restart(server_factory: Callable[..., ServerProcess],
                                      tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = server_factory(env=THREADS, data_dir=data_dir)
    client = Client(server.url)
    before = client.identity()["identity"]
    job_id = client.create_job(**PAUSED)["id"]
    secret = data_dir / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    server.stop()
    again = server_factory(env=THREADS, data_dir=data_dir)
    client = Client(again.url, cookies=client.http.cookies)
    assert client.identity()["identity"] == before
    assert client.job(job_id)["owned"] is True
    client.resume(job_id)  # interrupted by the restart; still this identity's to resume
    # A forged identity cookie is not believed: it gets a fresh identity of its own.
    forged = httpx.get(f"{again.url}/api/identity",
                       cookies={"nnplay_identity": f"{before}.forgedsignature"})
    assert forged.json()["identity"] != before
    assert Client(again.url).job(job_id)["owned"] is False


def test_off_loopback_a_token_is_generated_and_printed(tmp_path: Path) -> None:
    """`--host 0.0.0.0` without a token: one is generated, printed with a URL, and required."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "NNPLAY_DATA_DIR": str(tmp_path / "data"), **THREADS}
    env.pop("NNPLAY_TOKEN", None)
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "nnplay.cli", "serve", "--host",
                                    "0.0.0.0", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        text = log.read_text()
        lines = [line for line in text.splitlines() if "?token=" in line]
        assert len(lines) == 2, text  # the class link and the teacher's link
        class_token = lines[0].rsplit("?token=", 1)[1].strip()
        admin_token = lines[1].rsplit("?token=", 1)[1].strip()
        assert len(class_token) >= 24 and class_token != admin_token
        assert httpx.get(f"{url}/api/jobs").status_code == 401
        authorized = {"Authorization": f"Bearer {class_token}"}
        assert httpx.get(f"{url}/api/jobs", headers=authorized).status_code == 200
        # The machine's own name is an allowed Host, as students may type it.
        host = {**authorized, "Host": f"{socket.gethostname()}:{port}"}
        assert httpx.get(f"{url}/api/jobs", headers=host).status_code == 200
    finally:
        process.terminate()
        process.wait(15)
