"""The hub: fans one job's events out to its viewers without ever blocking the trainer.

Publishers run on the training thread; subscribers are read on the event loop.
Each subscription is a mailbox with an ordered, bounded list of text messages
(metric points coalesced into batches; at most `max_messages` others, the oldest
dropped first) and one latest-wins slot per frame kind, so a slow viewer skips
frames and stale replies instead of slowing training, other viewers, or growing
the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

Message = dict[str, Any]


class Subscription:
    """One viewer's mailbox."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_points: int = 5000,
                 max_messages: int = 100) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._messages: deque[Message] = deque()
        self._frames: dict[str, bytes] = {}  # kind -> newest encoded frame
        self._points = 0  # metric points waiting in `_messages`
        self._max_points = max_points
        self._texts = 0  # non-metrics messages waiting in `_messages`
        self._max_messages = max_messages
        self._wakeup = asyncio.Event()
        self._armed = False  # a wake-up is already on its way to the loop
        self.dropped_points = 0
        self.dropped_frames = 0
        self.dropped_messages = 0

    def _signal(self) -> None:
        # Caller holds the lock. One wake-up per drain, not one per event.
        if not self._armed:
            self._armed = True
            # A closed loop means nobody is listening any more.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wakeup.set)

    def put_message(self, message: Message) -> None:
        """Queue a text message (status, error) in order; past the bound the oldest goes."""
        with self._lock:
            self._messages.append(message)
            self._texts += 1
            if self._texts > self._max_messages:
                self._drop_oldest_text()
            self._signal()

    def _drop_oldest_text(self) -> None:
        # A newer status supersedes an older one, so the oldest is the one to lose.
        for index, queued in enumerate(self._messages):
            if queued.get("type") != "metrics":
                del self._messages[index]
                self._texts -= 1
                self.dropped_messages += 1
                return

    def put_metrics(self, point: Message) -> None:
        """Queue a metrics point, batched with the points queued just before it."""
        with self._lock:
            last = self._messages[-1] if self._messages else None
            if last is not None and last.get("type") == "metrics":
                last["points"].append(point)
            else:
                self._messages.append({"type": "metrics", "points": [point]})
            self._points += 1
            if self._points > self._max_points:
                self._drop_oldest_point()
            self._signal()

    def _drop_oldest_point(self) -> None:
        for message in self._messages:
            if message.get("type") == "metrics" and message["points"]:
                message["points"].pop(0)
                self._points -= 1
                self.dropped_points += 1
                return

    def put_frames(self, frames: list[tuple[str, bytes]]) -> None:
        """Offer one snapshot's binary frames `(kind, bytes)`; an unread frame of the same
        kind is replaced. All at once: a batch never holds part of a snapshot's frames, the
        rest following behind an older snapshot's (frames of a kind keep their place)."""
        with self._lock:
            for kind, data in frames:
                if kind in self._frames:
                    self.dropped_frames += 1
                self._frames[kind] = data
            self._signal()

    async def next_batch(self) -> tuple[list[Message], list[bytes]]:
        """Wait for news, then take everything queued: messages in order, then frames."""
        await self._wakeup.wait()
        with self._lock:
            self._wakeup.clear()
            self._armed = False
            messages = [m for m in self._messages if m.get("type") != "metrics" or m["points"]]
            self._messages.clear()
            self._points = 0
            self._texts = 0
            frames = list(self._frames.values())
            self._frames.clear()
        return messages, frames


class Hub:
    """The set of subscriptions of one job."""

    def __init__(self, on_viewers: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._on_viewers = on_viewers  # told the viewer count whenever it changes
        self.last_seen = time.monotonic()  # when a viewer last came or went

    @property
    def has_subscribers(self) -> bool:
        """Whether anyone is watching (frames are encoded only then)."""
        return bool(self._subscriptions)

    @property
    def subscriber_count(self) -> int:
        """How many viewers are attached."""
        return len(self._subscriptions)

    def _targets(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def publish_message(self, message: Message) -> None:
        """Send a text message to every viewer."""
        for subscription in self._targets():
            subscription.put_message(dict(message))

    def publish_metrics(self, point: Message) -> None:
        """Send a metrics point to every viewer."""
        for subscription in self._targets():
            subscription.put_metrics(point)

    def publish_frames(self, frames: list[tuple[str, bytes]]) -> None:
        """Send binary frames (kind, bytes) to every viewer, latest-wins per kind."""
        for subscription in self._targets():
            subscription.put_frames(frames)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """Attach a viewer for the duration of the block; always detaches."""
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
            self.last_seen = time.monotonic()
            count = len(self._subscriptions)
        if self._on_viewers is not None:
            self._on_viewers(count)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)
                self.last_seen = time.monotonic()
                count = len(self._subscriptions)
            if self._on_viewers is not None:
                self._on_viewers(count)
