"""What the CNN and RNN API tests share: an in-process app client, job polling, stream errors.

Not named conftest: after collection that module name is tests/browser's conftest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from nnplay.api.app import create_app
from nnplay.config import Settings


@pytest.fixture(name="client")
def fresh_client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh in-process app (runs on a thread) with its lifespan running."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", persist=False))) as client:
        yield client


def poll(client: TestClient, job_id: str, done: Callable[[dict[str, Any]], bool],
         timeout: float = 60.0) -> None:
    """Wait until `done` holds for the job's JSON; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done(client.get(f"/api/jobs/{job_id}").json()):
            return
        time.sleep(0.05)
    raise AssertionError("job never got there")


def next_error(session: WebSocketTestSession) -> str:
    """The next error message on the stream."""
    while True:
        message = session.receive()
        if message.get("text") and json.loads(message["text"])["type"] == "error":
            return str(json.loads(message["text"])["message"])


def probe_once_streaming(stream: Any, first: str, index: int, shows: str) -> None:
    """On a real server's `client.stream`: wait for the first `first` frame, send the probe
    `index`, and wait (30 s at most) for a `shows` frame of that index."""
    while stream.receive(timeout=30).type != first:
        pass
    stream.probe(index=index)
    deadline = time.monotonic() + 30
    while True:
        assert time.monotonic() < deadline, f"no {shows} frame for test item {index}"
        event = stream.receive(timeout=30)
        if event.type == shows and event.data["index"] == index:
            return
