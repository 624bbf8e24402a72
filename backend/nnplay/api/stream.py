"""The websocket stream of a job: catch-up on connect, then live messages and frames.

Only the sender task writes to the socket; replies to the client's own messages
go through its subscription so they stay in order with everything else.

Limits per connection: every queue towards the client is bounded (see `Subscription`);
client messages pass a token bucket (`NNPLAY_WS_MESSAGE_RATE` per second, bursts of
`NNPLAY_WS_MESSAGE_BURST`): past it the excess is dropped, the client gets one
`error` per second at most, and reading pauses until a token is back, so a flood
costs the server no more than the allowed rate. A client that stops reading is
closed with code 4008 (`STALLED_CLOSE`, see `nnplay.api.ws_protocol`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from nnplay.api.frames import points_frame
from nnplay.api.security import READ_ONLY, get_caller
from nnplay.jobs.hub import Subscription
from nnplay.jobs.job import Job
from nnplay.jobs.manager import JobManager, UnknownJob
from nnplay.jobs.status import IllegalTransition

router = APIRouter()

MAX_CLIENT_MESSAGE = 16384  # bytes; controls are tiny, a drawn 28x28 image is not
CONTROL_ACTIONS = ("pause", "resume", "step", "stop")
UPDATE_KEYS = {"lr": "all", "g_lr": "g", "d_lr": "d"}  # update message key -> lr target


class MessageBudget:
    """A token bucket: `rate` client messages per second, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._warned_at = -1.0  # when the client was last told it sends too fast

    def take(self) -> float:
        """Use a token; 0 when there was one, else the seconds until the next one."""
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    def should_warn(self) -> bool:
        """Whether to tell the client about dropped messages (at most once a second)."""
        now = time.monotonic()
        if now - self._warned_at < 1.0:
            return False
        self._warned_at = now
        return True


def _apply(manager: JobManager, job: Job, message: Any) -> dict[str, Any] | None:
    """Carry out one client message; return an error message for the client, if any."""
    if not isinstance(message, dict):
        return {"type": "error", "message": "messages must be JSON objects with a 'type'"}
    kind = message.get("type")
    try:
        if kind == "control":
            action = message.get("action")
            if action == "pause":
                manager.pause(job.id)
            elif action == "resume":
                manager.resume(job.id)
            elif action == "step":
                steps = message.get("steps", 1)
                if not isinstance(steps, int) or isinstance(steps, bool):
                    raise ValueError("steps must be a whole number")
                manager.step(job.id, steps, str(message.get("phase", "both")))
            elif action == "stop":
                manager.stop(job.id)
            else:
                return {"type": "error", "message": f"control action must be one of "
                        f"{', '.join(CONTROL_ACTIONS)} (got {action!r})"}
        elif kind == "update":
            given = [key for key in UPDATE_KEYS if message.get(key) is not None]
            if not given:
                return {"type": "error", "message": "update needs 'lr' (a number), or a "
                        "GAN's 'g_lr' / 'd_lr'"}
            for key in given:
                value = message[key]
                if not isinstance(value, int | float) or isinstance(value, bool):
                    return {"type": "error", "message": f"{key} must be a number "
                            f"(got {value!r})"}
            for key in given:
                manager.set_lr(job.id, float(message[key]), UPDATE_KEYS[key])
            job.hub.publish_message(job.status_message())
        elif kind == "probe":
            manager.set_probe(job.id, message.get("index"), message.get("image"))
        else:
            return {"type": "error", "message": f"unknown message type {kind!r}; "
                    "send 'control', 'update' or 'probe'"}
    except (IllegalTransition, ValueError) as error:
        return {"type": "error", "message": str(error)}
    return None


async def _receive(websocket: WebSocket, manager: JobManager, job: Job,
                   subscription: Subscription, may_control: bool,
                   budget: MessageBudget) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        wait = budget.take()
        if wait > 0:
            if budget.should_warn():
                subscription.put_message({
                    "type": "error", "message": f"too many messages: at most "
                    f"{budget.rate:g} per second (bursts of {budget.burst}); the excess "
                    "was dropped"})
            # Read no more until a token is back: the flood waits in the client's socket.
            await asyncio.sleep(wait)
            continue
        if text is None:
            reply: dict[str, Any] | None = {
                "type": "error", "message": "send JSON text messages, not binary"}
        elif len(text) > MAX_CLIENT_MESSAGE:
            reply = {"type": "error",
                     "message": f"message too large (at most {MAX_CLIENT_MESSAGE} bytes)"}
        elif not may_control:  # someone else's run: watch only
            reply = {"type": "error", "message": READ_ONLY}
        else:
            try:
                reply = _apply(manager, job, json.loads(text))
            except json.JSONDecodeError:
                reply = {"type": "error", "message": "messages must be valid JSON"}
            except RecursionError:
                reply = {"type": "error", "message": "message nests too deeply"}
        if reply is not None:
            subscription.put_message(reply)


async def _send(websocket: WebSocket, job: Job, subscription: Subscription) -> None:
    # Catch-up first: status, the history so far, the data and the latest frames.
    await websocket.send_json(job.status_message())
    history = job.history.points()
    await websocket.send_json({"type": "metrics", "history": True, "points": history})
    last_step = history[-1]["step"] if history else -1
    points_sent = False
    frames = job.latest_frames
    if frames is None and job.status.finished:
        # A run restored after a restart: draw its final state from its checkpoint.
        manager: JobManager = websocket.app.state.manager
        frames = await asyncio.to_thread(manager.weights.restored_frames, job)
    pending_frames = [data for _, data in frames or []]
    while True:
        if not points_sent and job.start_info is not None:
            if job.sends_points:
                await websocket.send_bytes(points_frame(job.dataset))
            points_sent = True
        for data in pending_frames:
            await websocket.send_bytes(data)
        messages, pending_frames = await subscription.next_batch()
        for message in messages:
            if message.get("type") == "metrics" and last_step >= 0:
                # Points already sent in the history may also be queued; skip them.
                message["points"] = [p for p in message["points"] if p["step"] > last_step]
                if not message["points"]:
                    continue
                last_step = -1
            await websocket.send_json(message)


@router.websocket("/ws/jobs/{job_id}")
async def stream_job(websocket: WebSocket, job_id: str) -> None:
    """Stream a job: status, metrics history and live metrics (text), frames (binary)."""
    manager: JobManager = websocket.app.state.manager
    await websocket.accept()
    try:
        job = manager.get(job_id)
    except UnknownJob as error:
        await websocket.send_json({"type": "error", "message": str(error)})
        await websocket.close(code=4404)
        return
    may_control = get_caller(websocket).may_control(job.owner)
    settings = websocket.app.state.settings
    budget = MessageBudget(settings.ws_message_rate, settings.ws_message_burst)
    async with job.hub.subscribe() as subscription:
        sender = asyncio.create_task(_send(websocket, job, subscription))
        receiver = asyncio.create_task(_receive(websocket, manager, job, subscription,
                                                may_control, budget))
        try:
            done, _ = await asyncio.wait({sender, receiver},
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                # A peer that went away is normal; anything else is a bug worth seeing.
                if failure is not None and not isinstance(
                        failure, WebSocketDisconnect | RuntimeError | OSError):
                    raise failure
        finally:
            for task in (sender, receiver):
                task.cancel()
            for task in (sender, receiver):
                with contextlib.suppress(BaseException):
                    await task
