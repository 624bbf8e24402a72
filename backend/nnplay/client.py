"""A small Python client for an nnplay server: REST calls and a decoded event stream.

    client = Client("http://127.0.0.1:8000")
    job = client.create_job(preset="spiral")
    with client.stream(job["id"]) as events:
        for event in events:
            if event.type == "metrics":
                print(event.data["points"][-1]["test_loss"])
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import ClientConnection, connect

from nnplay.api.frames import decode_frame


class ServerError(Exception):
    """The server answered with an error; `status` is the HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass
class Event:
    """One stream message: JSON `data` for text frames, `header` + `array` for binary ones."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    array: np.ndarray | None = None

    @property
    def binary(self) -> bool:
        """Whether this came as a binary frame."""
        return self.array is not None


class JobStream:
    """A job's websocket: iterate decoded events, send controls."""

    def __init__(self, url: str, open_timeout: float = 10.0,
                 headers: dict[str, str] | None = None) -> None:
        # websockets wants connect() used as a context manager; the stack holds it open.
        self._stack = contextlib.ExitStack()
        self.connection: ClientConnection = self._stack.enter_context(
            connect(url, open_timeout=open_timeout, max_size=2**24,
                    additional_headers=headers or None))

    def receive(self, timeout: float | None = None) -> Event:
        """The next event (raises TimeoutError after `timeout` seconds)."""
        message = self.connection.recv(timeout=timeout)
        if isinstance(message, bytes):
            header, array = decode_frame(message)
            return Event(type=header["type"], data=header, array=array)
        data = json.loads(message)
        return Event(type=data.get("type", ""), data=data)

    def __iter__(self) -> Iterator[Event]:
        while True:
            yield self.receive()

    def control(self, action: str, steps: int | None = None) -> None:
        """Send pause, resume, step or stop."""
        message: dict[str, Any] = {"type": "control", "action": action}
        if steps is not None:
            message["steps"] = steps
        self.connection.send(json.dumps(message))

    def update(self, **settings: Any) -> None:
        """Change settings live, e.g. `update(lr=0.01)`."""
        self.connection.send(json.dumps({"type": "update", **settings}))

    def probe(self, index: int | None = None,
              image: list[list[float]] | None = None) -> None:
        """Choose an image classifier's probe image: test image `index` or a drawn one."""
        message: dict[str, Any] = {"type": "probe"}
        message.update({"index": index} if image is None else {"image": image})
        self.connection.send(json.dumps(message))

    def close(self) -> None:
        """Close the connection."""
        self._stack.close()

    def __enter__(self) -> JobStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


class Client:
    """REST calls against one nnplay server, as one identity.

    The server's identity cookie is kept like any cookie (and sent on the websocket
    too), so the runs this client creates are its own. Pass `token` for a server
    with a class token (or the admin token), and `cookies` (another client's
    `http.cookies`) to act as the same identity again, e.g. after a restart.
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", timeout: float = 30.0, *,
                 token: str | None = None, cookies: httpx.Cookies | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers,
                                 cookies=cookies)
        # Until the server has given this client its identity cookie, calls go one at a
        # time: parallel first calls (a script starting a class's jobs from a thread
        # pool) would each be given an identity of their own, and the jobs made under
        # the ones the cookie jar did not keep could no longer be changed.
        self._known = bool(self.http.cookies)
        self._first = threading.Lock()

    def identity(self) -> dict[str, Any]:
        """GET /api/identity: this client's identity and whether it is the admin."""
        result: dict[str, Any] = self._call("GET", "/api/identity")
        return result

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._known:
            response = self.http.request(method, path, **kwargs)
        else:
            with self._first:
                response = self.http.request(method, path, **kwargs)
                self._known = bool(self.http.cookies)
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServerError(response.status_code, str(detail))
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def health(self) -> dict[str, Any]:
        """GET /api/health."""
        result: dict[str, Any] = self._call("GET", "/api/health")
        return result

    def catalog(self) -> dict[str, Any]:
        """GET /api/catalog."""
        result: dict[str, Any] = self._call("GET", "/api/catalog")
        return result

    def create_job(self, spec: dict[str, Any] | None = None, *, preset: str | None = None,
                   overrides: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        """Start a job from a spec or a preset; options: paused, frame_rate, variant."""
        body: dict[str, Any] = dict(spec or {})
        if preset is not None:
            body = {"preset": preset, "overrides": overrides or {}}
        body.update(options)
        result: dict[str, Any] = self._call("POST", "/api/jobs", json=body)
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        """GET /api/jobs/{id}."""
        result: dict[str, Any] = self._call("GET", f"/api/jobs/{job_id}")
        return result

    def jobs(self) -> list[dict[str, Any]]:
        """GET /api/jobs."""
        result: list[dict[str, Any]] = self._call("GET", "/api/jobs")["jobs"]
        return result

    def pause(self, job_id: str) -> dict[str, Any]:
        """Pause a running job."""
        result: dict[str, Any] = self._call("POST", f"/api/jobs/{job_id}/pause")
        return result

    def resume(self, job_id: str) -> dict[str, Any]:
        """Resume a paused job."""
        result: dict[str, Any] = self._call("POST", f"/api/jobs/{job_id}/resume")
        return result

    def step(self, job_id: str, steps: int = 1) -> dict[str, Any]:
        """Train a paused job `steps` more steps."""
        result: dict[str, Any] = self._call("POST", f"/api/jobs/{job_id}/step",
                                            json={"steps": steps})
        return result

    def stop(self, job_id: str) -> dict[str, Any]:
        """Stop a job."""
        result: dict[str, Any] = self._call("POST", f"/api/jobs/{job_id}/stop")
        return result

    def delete(self, job_id: str) -> None:
        """Delete a job."""
        self._call("DELETE", f"/api/jobs/{job_id}")

    def set_lr(self, job_id: str, lr: float) -> dict[str, Any]:
        """Change a job's learning rate live."""
        result: dict[str, Any] = self._call("PATCH", f"/api/jobs/{job_id}", json={"lr": lr})
        return result

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """The metrics history points."""
        result: list[dict[str, Any]] = self._call("GET", f"/api/jobs/{job_id}/metrics")["points"]
        return result

    def metrics_csv(self, job_id: str) -> str:
        """The metrics history as CSV text."""
        return self.http.get(f"/api/jobs/{job_id}/metrics", params={"format": "csv"}).text

    def weights(self, job_id: str) -> bytes:
        """The safetensors weights file."""
        data: bytes = self._call("GET", f"/api/jobs/{job_id}/weights")
        return data

    def predict(self, job_id: str, image: list[list[float]],
                feature_maps: bool = False) -> dict[str, Any]:
        """An image classifier's class probabilities for one image (h x w, 0..1)."""
        path = f"/api/jobs/{job_id}/predict" + ("?feature_maps=true" if feature_maps else "")
        answer: dict[str, Any] = self._call("POST", path, json={"image": image})
        return answer

    def generate(self, job_id: str, **request: Any) -> dict[str, Any]:
        """A sequence run, free-running: `prompt`, `length`, `temperature` (text runs) ->
        `{"text"}`; `seed_values`, `length` (sine runs) -> `{"values"}`."""
        answer: dict[str, Any] = self._call("POST", f"/api/jobs/{job_id}/generate",
                                            json=request)
        return answer

    def stream(self, job_id: str, open_timeout: float = 10.0) -> JobStream:
        """Open the job's websocket stream."""
        url = self.base_url.replace("http", "ws", 1) + f"/ws/jobs/{job_id}"
        headers = {}
        if "authorization" in self.http.headers:
            headers["Authorization"] = self.http.headers["authorization"]
        jar = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.http.cookies.jar)
        if jar:
            headers["Cookie"] = jar
        return JobStream(url, open_timeout, headers)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
