"""Tests for the websocket stream: catch-up, decoded frames, controls and error replies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from nnplay.api.app import create_app
from nnplay.api.frames import decode_frame
from nnplay.api.stream import MAX_CLIENT_MESSAGE
from nnplay.config import Settings

# A stream that goes quiet blocks `receive()`; this bounds how long that can hang.
pytestmark = pytest.mark.timeout(60)

WAIT = 15.0  # seconds a test reads the stream for something (never reached when it passes)

SMALL: dict[str, Any] = {
    "dataset": {"name": "circle", "n_samples": 200, "noise": 0.1},
    "model": {"layers": [{"units": 4, "activation": "tanh"}, {"units": 2,
                                                               "activation": "tanh"}]},
    "optimizer": {"name": "sgd", "lr": 0.1}, "loss": "mse", "batch_size": 10,
    "max_steps": 1_000_000,
}


@dataclass
class Event:
    """One decoded stream message: JSON for text, header + array for binary."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    array: np.ndarray | None = None


class Stream:
    """A websocket test session that yields decoded events."""

    def __init__(self, session: WebSocketTestSession) -> None:
        self.session = session

    def next(self) -> Event:
        """The next event (raises WebSocketDisconnect when the server closes)."""
        message = self.session.receive()
        if message["type"] == "websocket.close":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        if message.get("bytes") is not None:
            header, array = decode_frame(message["bytes"])
            return Event(header["type"], header, array)
        data = json.loads(message["text"])
        return Event(data["type"], data)

    def until(self, condition: Callable[[Event], bool], timeout: float = WAIT) -> Event:
        """Read events until one satisfies `condition`; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.next()
            if condition(event):
                return event
        raise AssertionError(f"no matching event within {timeout} s")

    def collect(self, condition: Callable[[list[Event]], bool],
                timeout: float = WAIT) -> list[Event]:
        """Read events until the list read so far satisfies `condition`."""
        events: list[Event] = []
        deadline = time.monotonic() + timeout
        while not condition(events):
            if time.monotonic() > deadline:
                raise AssertionError(f"stream never got there; read {len(events)} events")
            events.append(self.next())
        return events

    def send(self, message: dict[str, Any]) -> None:
        """Send a JSON message."""
        self.session.send_text(json.dumps(message))

    def control(self, action: str, **extra: Any) -> None:
        """Send a control message."""
        self.send({"type": "control", "action": action, **extra})


def is_status(status: str) -> Callable[[Event], bool]:
    """Matches a `status` message with that status."""
    return lambda event: event.type == "status" and event.data["status"] == status


def metrics_steps(event: Event) -> list[int]:
    """The steps of a live `metrics` message (empty for anything else)."""
    if event.type != "metrics":
        return []
    return [point["step"] for point in event.data["points"]]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app (runs not persisted) with its lifespan running."""
    with TestClient(create_app(Settings(data_dir=tmp_path / "data", persist=False))) as client:
        yield client


@pytest.fixture
def watch(client: TestClient) -> Iterator[Callable[[str], Stream]]:
    """Open streams of jobs; all are closed after the test."""
    sessions: list[WebSocketTestSession] = []

    def open_stream(job_id: str) -> Stream:
        session = client.websocket_connect(f"/ws/jobs/{job_id}")
        session.__enter__()
        sessions.append(session)
        return Stream(session)

    yield open_stream
    for session in reversed(sessions):
        session.__exit__(None, None, None)


def create(client: TestClient, **changes: Any) -> str:
    """Create a job from the small spec (top-level fields replaced); return its id."""
    response = client.post("/api/jobs", json={**SMALL, **changes})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def poll(client: TestClient, job_id: str, condition: Callable[[dict[str, Any]], bool]
         ) -> dict[str, Any]:
    """GET the job until `condition(job)` holds."""
    deadline = time.monotonic() + WAIT
    while True:
        job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"job never got there: {job}"
        time.sleep(0.01)


def test_connect_sends_status_then_history(client: TestClient,
                                           watch: Callable[[str], Stream]) -> None:
    job_id = create(client)
    stream = watch(job_id)
    first = stream.next()
    assert first.type == "status" and first.data["id"] == job_id
    assert first.data["status"] in ("queued", "running")
    second = stream.next()
    assert second.type == "metrics" and second.data["history"] is True
    assert isinstance(second.data["points"], list)


def test_frames_have_documented_shapes_and_dtypes(client: TestClient,
                                                  watch: Callable[[str], Stream]) -> None:
    job_id = create(client)
    stream = watch(job_id)
    wanted = {"points", "boundary", "neurons", "weights"}
    events = stream.collect(lambda events: wanted <= {e.type for e in events if e.array
                                                      is not None})
    frames = {e.type: e for e in events if e.array is not None}

    points = frames["points"]
    assert points.array is not None and points.array.dtype == np.float32
    assert points.array.shape == (200, 3)
    assert points.data["n_train"] + points.data["n_test"] == 200
    assert set(np.unique(points.array[:, 2])) <= {0.0, 1.0}
    low, high = points.data["domain"]
    assert np.all((points.array[:, :2] >= low) & (points.array[:, :2] <= high))

    boundary = frames["boundary"]
    assert boundary.array is not None and boundary.array.dtype == np.uint8
    assert boundary.array.shape == (64, 64)
    assert boundary.data["value_range"] == [-1.0, 1.0] and boundary.data["classes"] == 2

    neurons = frames["neurons"]
    assert neurons.array is not None and neurons.array.dtype == np.uint8
    assert neurons.array.shape == (6, 16, 16) and neurons.data["layer_sizes"] == [4, 2]

    weights = frames["weights"]
    assert weights.array is not None and weights.array.dtype == np.float32
    assert weights.array.shape == ((2 * 4 + 4) + (4 * 2 + 2) + (2 * 1 + 1),)
    assert [layer["weight"] for layer in weights.data["layers"]] == [[4, 2], [2, 4], [1, 2]]
    for frame in (boundary, neurons, weights):
        assert isinstance(frame.data["step"], int) and frame.data["t"] > 0


def test_many_classes_send_class_and_confidence_planes(
        client: TestClient, watch: Callable[[str], Stream]) -> None:
    job_id = create(client, dataset={"name": "blobs", "classes": 4, "n_samples": 200},
                    loss="cross_entropy")
    boundary = watch(job_id).until(lambda event: event.type == "boundary")
    assert boundary.array is not None and boundary.array.shape == (2, 64, 64)
    assert boundary.data["classes"] == 4
    assert int(boundary.array[0].max()) <= 3  # plane 0: predicted class ids


def test_boundary_changes_as_the_network_learns(client: TestClient,
                                                watch: Callable[[str], Stream]) -> None:
    stream = watch(create(client))
    first = stream.until(lambda event: event.type == "boundary")
    later = stream.until(lambda event: event.type == "boundary" and event.array is not None
                         and first.array is not None
                         and not np.array_equal(event.array, first.array))
    assert later.data["step"] > first.data["step"]


def test_live_metrics_follow_in_step_order(client: TestClient,
                                           watch: Callable[[str], Stream]) -> None:
    stream = watch(create(client))
    events = stream.collect(lambda events: sum(len(metrics_steps(e)) for e in events) >= 5)
    steps = [step for event in events for step in metrics_steps(event)]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    point = next(e for e in events if metrics_steps(e)).data["points"][0]
    assert {"step", "epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy",
            "lr", "steps_per_second"} <= set(point)


def test_late_viewer_gets_the_history_first(client: TestClient,
                                            watch: Callable[[str], Stream]) -> None:
    job_id = create(client)
    poll(client, job_id, lambda job: job["step"] >= 200)
    stream = watch(job_id)
    assert stream.next().type == "status"
    history = stream.next()
    assert history.type == "metrics" and history.data["history"] is True
    steps = [point["step"] for point in history.data["points"]]
    assert steps[0] == 0 and steps[-1] >= 200 and len(steps) >= 3
    assert steps == sorted(steps)
    # Live points continue after the history, without repeating it.
    live = stream.until(lambda event: bool(metrics_steps(event)))
    assert min(metrics_steps(live)) > steps[-1]
    assert stream.until(lambda event: event.type == "boundary").data["step"] >= 200


def test_controls_over_the_socket(client: TestClient, watch: Callable[[str], Stream]) -> None:
    job_id = create(client, paused=True)
    poll(client, job_id, lambda job: job["status"] == "paused")
    stream = watch(job_id)

    stream.control("step", steps=5)
    event = stream.until(lambda event: bool(metrics_steps(event)) and
                         max(metrics_steps(event)) >= 5)
    assert max(metrics_steps(event)) == 5  # exactly the steps asked for
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "paused"

    stream.control("resume")
    stream.until(is_status("running"))
    stream.until(lambda event: bool(metrics_steps(event)) and max(metrics_steps(event)) > 5)

    stream.control("pause")
    stream.until(is_status("paused"))

    stream.control("stop")
    stopped = stream.until(is_status("stopped"))
    assert stopped.data["step"] >= 5
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "stopped"


def test_update_lr_over_the_socket(client: TestClient, watch: Callable[[str], Stream]) -> None:
    stream = watch(create(client))
    stream.until(lambda event: bool(metrics_steps(event)))
    stream.send({"type": "update", "lr": 0.005})
    status = stream.until(lambda event: event.type == "status" and event.data["lr"] == 0.005)
    assert status.data["status"] == "running"
    event = stream.until(lambda event: event.type == "metrics"
                         and event.data["points"][-1]["lr"] == 0.005)
    assert all(point["lr"] in (0.1, 0.005) for point in event.data["points"])


BAD_MESSAGES: list[tuple[str, Any, str]] = [
    ("malformed JSON", "{not json", "valid JSON"),
    ("not an object", "[1, 2]", "JSON objects"),
    ("unknown type", json.dumps({"type": "dance"}), "unknown message type 'dance'"),
    ("unknown action", json.dumps({"type": "control", "action": "rewind"}),
     "pause, resume, step, stop"),
    ("step while running", json.dumps({"type": "control", "action": "step"}),
     "pause the job first"),
    ("steps not a number", json.dumps({"type": "control", "action": "step", "steps": "x"}),
     "whole number"),
    ("update without lr", json.dumps({"type": "update"}), "needs 'lr'"),
    ("lr not a number", json.dumps({"type": "update", "lr": "fast"}), "must be a number"),
    ("lr out of range", json.dumps({"type": "update", "lr": 100}), "between"),
    ("oversized", json.dumps({"type": "control", "action": "pause",
                              "pad": "x" * MAX_CLIENT_MESSAGE}), "too large"),
    ("binary", b"\x00\x01\x02", "not binary"),
]


@pytest.mark.parametrize(("message", "expected"),
                         [pytest.param(m, e, id=name) for name, m, e in BAD_MESSAGES])
def test_bad_message_gets_an_error_and_the_stream_stays_usable(
        client: TestClient, watch: Callable[[str], Stream], message: str | bytes,
        expected: str) -> None:
    job_id = create(client)
    stream = watch(job_id)
    stream.until(lambda event: bool(metrics_steps(event)))  # running
    if isinstance(message, bytes):
        stream.session.send_bytes(message)
    else:
        stream.session.send_text(message)
    error = stream.until(lambda event: event.type == "error")
    assert expected in error.data["message"]
    assert len(error.data["message"].split()) >= 3  # a sentence, not a code
    # The connection is still usable: a later control works, and frames keep coming.
    stream.control("pause")
    stream.until(is_status("paused"))
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "paused"
    stream.control("resume")
    stream.until(is_status("running"))
    stream.until(lambda event: event.type == "boundary")


def test_unknown_job_gets_an_error_then_close(client: TestClient) -> None:
    with client.websocket_connect("/ws/jobs/0123456789ab") as session:
        stream = Stream(session)
        error = stream.next()
        assert error.type == "error" and "'0123456789ab'" in error.data["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            stream.next()
        assert closed.value.code == 4404


def test_viewer_count_follows_connections(client: TestClient) -> None:
    job_id = create(client)
    with client.websocket_connect(f"/ws/jobs/{job_id}") as session:
        Stream(session).until(lambda event: event.type == "boundary")
        assert client.get(f"/api/jobs/{job_id}").json()["viewers"] == 1
    poll(client, job_id, lambda job: job["viewers"] == 0)


def test_finished_job_streams_its_final_state(client: TestClient,
                                              watch: Callable[[str], Stream]) -> None:
    job_id = create(client, max_steps=100)
    poll(client, job_id, lambda job: job["status"] == "completed")
    stream = watch(job_id)
    status = stream.next()
    assert status.type == "status" and status.data["status"] == "completed"
    history = stream.next()
    assert history.data["points"][-1]["step"] == 100
    boundary = stream.until(lambda event: event.type == "boundary")  # the last picture
    assert boundary.data["step"] == 100
