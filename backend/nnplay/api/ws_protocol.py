"""The websocket connection protocol of `nnplay serve`: uvicorn's, plus a stall limit.

uvicorn holds at most the transport's high-water mark (64 KiB) of unsent data per
connection and makes the app's sends wait while it is full. A client that never
reads would keep its connection, that buffer and the app's sender forever; here,
once writes have waited `stall_timeout` seconds, the server queues a close frame
(code `STALLED_CLOSE`, reason `STALLED_REASON`), tells the app the client is gone,
and drops the TCP connection if it still has not drained `stall_timeout` later.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("nnplay.api")

STALLED_CLOSE = 4008
STALLED_REASON = "not reading: the send buffer stayed full"


class StallLimitedProtocol(WebSocketsSansIOProtocol):
    """Closes connections whose send buffer stays full for `stall_timeout` seconds."""

    stall_timeout = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stall_timer: asyncio.TimerHandle | None = None

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
