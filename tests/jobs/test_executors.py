"""The process executor: a worker's snapshots reach the server already encoded as frames."""

from __future__ import annotations

import threading
import time

from nnplay.api.frames import decode_frame, snapshot_frames
from nnplay.jobs.executors import ProcessExecutor, WorkerSettings
from nnplay.jobs.runner import Frames, RunEvents, RunRequest
from nnplay.presets import get_preset
from nnplay.train.events import AnySnapshot, TrainResult


class _Recorder(RunEvents):
    """What the server side of one run receives."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, Frames]] = []  # (when received, frames)
        self.snapshots: list[AnySnapshot] = []
        self.ended = threading.Event()

    def on_frames(self, frames: Frames) -> None:
        self.frames.append((time.time(), frames))

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        self.snapshots.append(snapshot)

    def on_train_end(self, result: TrainResult) -> None:
        self.ended.set()


def test_a_workers_snapshots_arrive_as_frames_encoded_in_the_worker() -> None:
    executor = ProcessExecutor(1, WorkerSettings(encode_frames=snapshot_frames))
    try:
        spec = get_preset("spiral").build({"max_steps": 400})
        events = _Recorder()
        control = executor.start(RunRequest(job_id="a", spec=spec.model_dump(mode="json"),
                                            frame_rate=20.0), events)
        control.set_watched(True)
        assert events.ended.wait(60)
    finally:
        executor.shutdown(10)
    assert events.frames and not events.snapshots  # no snapshot crossed the queue
    for received, frames in events.frames:
        decoded = {kind: decode_frame(data) for kind, data in frames}
        assert list(decoded) == ["boundary", "neurons", "weights"]
        header, grid = decoded["boundary"]
        assert grid.shape == (64, 64) and header["classes"] == 2
        assert header["t"] <= received + 0.01  # made in the worker, before it arrived
    assert decode_frame(events.frames[-1][1][0][1])[0]["step"] == 400  # the final state
