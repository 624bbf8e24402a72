"""The websocket protocol's coalescing transport: one socket write per event-loop pass."""

from __future__ import annotations

import asyncio
import socket

from nnplay.api.ws_protocol import CoalescingTransport


class _Received(asyncio.Protocol):
    """Collects what arrives on the far end of a socket pair."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(True)


async def _pair() -> tuple[asyncio.Transport, _Received, list[bytes]]:
    """A real socket transport (its writes recorded) and the protocol reading its far end."""
    loop = asyncio.get_running_loop()
    near, far = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=near)
    _, received = await loop.create_connection(_Received, sock=far)
    writes: list[bytes] = []
    real_write = transport.write

    def write(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        real_write(data)

    setattr(transport, "write", write)  # noqa: B010 (mypy refuses assigning a method)
    return transport, received, writes


def test_writes_in_one_pass_leave_in_one_write_and_in_order() -> None:
    async def run() -> None:
        transport, received, writes = await _pair()
        wrapped = CoalescingTransport(transport, asyncio.get_running_loop())
        for part in (b"boundary", b"neurons", b"weights"):
            wrapped.write(part)
        assert writes == []  # nothing yet: the pass has not ended
        await asyncio.sleep(0)
        assert writes == [b"boundaryneuronsweights"]
        wrapped.write(b"metrics")
        await asyncio.sleep(0)
        assert writes[1:] == [b"metrics"]
        wrapped.close()
        await asyncio.wait_for(received.closed, 5)
        assert bytes(received.data) == b"boundaryneuronsweightsmetrics"

    asyncio.run(run())


def test_a_close_right_after_a_write_still_sends_it() -> None:
    async def run() -> None:
        transport, received, writes = await _pair()
        wrapped = CoalescingTransport(transport, asyncio.get_running_loop())
        wrapped.write(b"close frame")
        wrapped.close()
        await asyncio.wait_for(received.closed, 5)
        assert bytes(received.data) == b"close frame"
        assert writes == [b"close frame"]
        assert wrapped.is_closing()  # everything else is the real transport's

    asyncio.run(run())
