"""Tests for the hub: latest-wins frames, ordered batched metrics, bounds and clean detaching."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from nnplay.jobs.hub import Hub, Subscription

WAIT = 5.0  # seconds an await may take before the test fails (never reached when it passes)


def run(test: Callable[[], Awaitable[None]]) -> None:
    """Run an async test body on a fresh event loop."""
    asyncio.run(asyncio.wait_for(test(), WAIT * 2))


def point(step: int) -> dict[str, Any]:
    """A metrics point."""
    return {"step": step, "train_loss": 1.0 / (step + 1)}


def test_frames_are_latest_wins_and_drops_are_counted() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            for index in range(10):  # the viewer does not read meanwhile
                hub.publish_frames([("boundary", b"frame-%d" % index)])
            messages, frames = await asyncio.wait_for(subscription.next_batch(), WAIT)
            assert messages == []
            assert frames == [b"frame-9"]
            assert subscription.dropped_frames == 9

    run(body)


def test_each_frame_kind_keeps_its_own_latest() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            hub.publish_frames([("boundary", b"b1"), ("neurons", b"n1")])
            hub.publish_frames([("boundary", b"b2"), ("neurons", b"n2"), ("weights", b"w2")])
            _, frames = await asyncio.wait_for(subscription.next_batch(), WAIT)
            assert sorted(frames) == [b"b2", b"n2", b"w2"]
            assert subscription.dropped_frames == 2

    run(body)


def test_metrics_are_batched_in_order_between_messages() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            hub.publish_message({"type": "status", "status": "running"})
            for step in (1, 2, 3):
                hub.publish_metrics(point(step))
            hub.publish_message({"type": "status", "status": "paused"})
            for step in (4, 5):
                hub.publish_metrics(point(step))
            messages, _ = await asyncio.wait_for(subscription.next_batch(), WAIT)
            assert [m["type"] for m in messages] == ["status", "metrics", "status", "metrics"]
            assert [p["step"] for p in messages[1]["points"]] == [1, 2, 3]
            assert messages[2]["status"] == "paused"
            assert [p["step"] for p in messages[3]["points"]] == [4, 5]

    run(body)


def test_a_batch_is_taken_whole_and_the_next_waits_for_news() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            hub.publish_metrics(point(1))
            await asyncio.wait_for(subscription.next_batch(), WAIT)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(subscription.next_batch(), 0.05)

    run(body)


def test_unread_metrics_are_bounded_keeping_the_newest() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            for step in range(6000):
                hub.publish_metrics(point(step))
            messages, _ = await asyncio.wait_for(subscription.next_batch(), WAIT)
            steps = [p["step"] for m in messages for p in m["points"]]
            assert steps == list(range(1000, 6000))
            assert subscription.dropped_points == 1000

    run(body)


def test_the_bound_drops_points_but_keeps_status_messages() -> None:
    async def body() -> None:
        subscription = Subscription(asyncio.get_running_loop(), max_points=3)
        subscription.put_message({"type": "status", "status": "running"})
        for step in range(5):
            subscription.put_metrics(point(step))
        subscription.put_message({"type": "status", "status": "completed"})
        messages, _ = await asyncio.wait_for(subscription.next_batch(), WAIT)
        assert [m["type"] for m in messages] == ["status", "metrics", "status"]
        assert [p["step"] for p in messages[1]["points"]] == [2, 3, 4]

    run(body)


def test_every_viewer_gets_every_message() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as first, hub.subscribe() as second:
            assert hub.subscriber_count == 2
            hub.publish_message({"type": "status", "status": "running"})
            for subscription in (first, second):
                messages, _ = await asyncio.wait_for(subscription.next_batch(), WAIT)
                assert messages == [{"type": "status", "status": "running"}]
            # A viewer changing its copy does not change the other's.
            hub.publish_message({"type": "status", "status": "paused"})
            (mine,), _ = await asyncio.wait_for(first.next_batch(), WAIT)
            mine["status"] = "changed"
            (theirs,), _ = await asyncio.wait_for(second.next_batch(), WAIT)
            assert theirs["status"] == "paused"

    run(body)


def test_publishing_from_another_thread_wakes_the_viewer() -> None:
    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            publisher = threading.Timer(0.05, hub.publish_frames, [[("boundary", b"late")]])
            publisher.start()
            _, frames = await asyncio.wait_for(subscription.next_batch(), WAIT)
            publisher.join()
            assert frames == [b"late"]

    run(body)


def test_subscription_is_removed_after_the_block() -> None:
    async def body() -> None:
        hub = Hub()
        assert not hub.has_subscribers
        async with hub.subscribe():
            assert hub.has_subscribers and hub.subscriber_count == 1
        assert not hub.has_subscribers and hub.subscriber_count == 0
        hub.publish_frames([("boundary", b"nobody")])  # publishing to nobody is fine

    run(body)


def test_subscription_is_removed_when_the_block_raises() -> None:
    async def body() -> None:
        hub = Hub()
        with pytest.raises(RuntimeError, match="viewer failed"):
            async with hub.subscribe():
                raise RuntimeError("viewer failed")
        assert hub.subscriber_count == 0

    run(body)


def test_subscription_is_removed_when_the_viewer_is_cancelled() -> None:
    async def body() -> None:
        hub = Hub()

        async def viewer() -> None:
            async with hub.subscribe() as subscription:
                await subscription.next_batch()  # waits forever: nothing is published

        task = asyncio.create_task(viewer())
        while hub.subscriber_count == 0:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert hub.subscriber_count == 0

    run(body)


def test_text_messages_of_a_viewer_that_does_not_read_stay_bounded() -> None:
    async def body() -> None:
        subscription = Subscription(asyncio.get_running_loop(), max_messages=10)
        for index in range(10_000):  # e.g. error replies to a flood, never sent
            subscription.put_message({"type": "error", "message": str(index)})
            if index == 5000:
                subscription.put_metrics(point(index))
        messages, _ = await asyncio.wait_for(subscription.next_batch(), WAIT)
        texts = [m for m in messages if m["type"] == "error"]
        assert [m["message"] for m in texts] == [str(i) for i in range(9990, 10_000)]
        assert [m["type"] for m in messages].count("metrics") == 1  # points are not dropped
        assert subscription.dropped_messages == 9990

    run(body)


def test_a_viewer_gets_a_snapshots_frames_whole_and_in_order() -> None:
    """A trainer thread publishes snapshot after snapshot while the viewer drains: every
    batch holds one snapshot's frames, in the order they were published (before, a drain
    between two frames left the rest behind an older snapshot's, and a viewer waiting
    for `hidden_state` then `sequence` of a new probe could wait for ever)."""
    kinds = ["hidden_state", "gates", "sequence", "gradient_norms"]

    async def body() -> None:
        hub = Hub()
        async with hub.subscribe() as subscription:
            def publish() -> None:
                for step in range(3000):
                    hub.publish_frames([(kind, b"%s-%d" % (kind.encode(), step))
                                        for kind in kinds])

            publisher = threading.Thread(target=publish)
            publisher.start()
            batches: list[list[bytes]] = []
            while not batches or not batches[-1][-1].endswith(b"-2999"):  # the last one
                _, frames = await asyncio.wait_for(subscription.next_batch(), WAIT)
                batches.append(frames)
            publisher.join()
            for frames in batches:
                steps = {frame.rsplit(b"-", 1)[1] for frame in frames}
                assert len(steps) == 1, frames
                assert [frame.rsplit(b"-", 1)[0].decode() for frame in frames] == kinds

    run(body)
