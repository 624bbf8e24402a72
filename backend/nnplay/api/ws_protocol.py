"""The websocket connection protocol of `nnplay serve`: uvicorn's, plus a stall limit.

uvicorn holds at most the transport's high-water mark (64 KiB) of unsent data per
connection and makes the app's sends wait while it is full. A client that never
reads would keep its connection, that buffer and the app's sender forever; here,
once writes have waited `stall_timeout` seconds, the server queues a close frame
(code `STALLED_CLOSE`, reason `STALLED_REASON`), tells the app the client is gone,
and drops the TCP connection if it still has not drained `stall_timeout` later.

Writes are coalesced: everything written to a connection in one pass of the event
loop (a snapshot's boundary, neurons and weights frames, a metrics message) goes out
in one socket write at the end of that pass rather than one each. On loopback at 100
viewers each write was a syscall of ~30 µs, most of the event loop's time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("nnplay.api")

STALLED_CLOSE = 4008
STALLED_REASON = "not reading: the send buffer stayed full"


class CoalescingTransport:
    """A connection's transport whose writes within one event-loop pass leave as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []  # written this pass, not yet handed on

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Hand this pass's writes to the real transport, in one write."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()  # a close frame written just before must still go out
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class StallLimitedProtocol(WebSocketsSansIOProtocol):
    """Closes connections whose send buffer stays full for `stall_timeout` seconds."""

    stall_timeout = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport = CoalescingTransport(self.transport, self.loop)  # type: ignore[assignment]

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None and not self.close_sent:
            self._stall_timer = self.loop.call_later(self.stall_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        super().connection_lost(exc)

    def _stalled(self) -> None:
        self._stall_timer = None
        if self.close_sent or self.disconnected:
            return
        log.warning("closing websocket %s with %d: its client did not read for %g s",
                    self.client, STALLED_CLOSE, self.stall_timeout)
        self.conn.send_close(STALLED_CLOSE, STALLED_REASON)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": STALLED_CLOSE,
                               "reason": STALLED_REASON})
        # The app's sends now fail at once instead of waiting for room.
        self.disconnected = True
        self.writable.set()
        # A client that reads again gets the close frame; one that does not is cut off.
        self.close_timer = self.loop.call_later(self.stall_timeout, self.transport.abort)


def stall_limited_protocol(stall_timeout: float) -> type[StallLimitedProtocol]:
    """The protocol class for uvicorn's `ws=` setting, with this server's stall limit."""
    return type("StallLimitedProtocol", (StallLimitedProtocol,),
                {"stall_timeout": stall_timeout})
