"""The generic training loop every task shares: control, clocks, callbacks, checkpoints.

`TrainLoop.run()` steps until `max_steps`, a stop, divergence or an error. It polls
a `TrainerControl` between steps (one attribute read when nothing is asked of it),
takes metrics and snapshots on a clock so that a fast run is not slowed by its
viewers, counts training time without pauses, and always tells its callbacks how
the run ended. Subclasses say what one step, one evaluation and one snapshot are
(`Trainer` for classification and regression, `GanTrainer` for GANs).
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnplay.spec import ExperimentSpec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import (
    AnyMetricsEvent,
    AnySnapshot,
    Failure,
    RunStatus,
    TrainResult,
    TrainStart,
)
from nnplay.train.report_budget import ReportBudget, ReportKind

# torch's default generator is process-wide: building two networks at once on
# two threads would interleave their random draws and break reproducibility.
BUILD_LOCK = threading.Lock()


class Diverged(Exception):
    """The loss stopped being a finite number."""


class Yield(Enum):
    """Why `TrainLoop.run_steps()` handed control back."""

    SLICE = "slice"  # a time slice is used up; call again to go on
    PARKED = "parked"  # paused: call again once the control has changed


@dataclass
class TrainerOptions:
    """How often to report and probe, and where to run."""

    metrics_interval: float = 0.05  # seconds between metric points
    snapshot_interval: float = 0.05  # seconds between probe snapshots; 0 turns them off
    snapshot_budget: float = 0.1  # at most this share of wall time goes to snapshots
    # ... and this share to metrics points (a CNN's evaluation of 1,000 images costs
    # several training steps; a 2-D net's costs microseconds and never reaches it). With
    # the snapshots a CNN actually spends, reporting stays under a tenth of the run.
    metrics_budget: float = 0.03
    grid_size: int = 64  # boundary image is grid_size x grid_size
    neuron_grid_size: int = 16  # each neuron heatmap is this square
    detailed_metrics: bool = False  # per-class report in metrics points, not just the last
    report_interval: float = 0.5  # with detailed_metrics: seconds between reports
    unwatched_metrics_interval: float = 0.25  # metrics spacing while nobody watches
    slice_seconds: float = 0.005  # run_steps() yields after about this long
    report_budget: ReportBudget | None = None  # shared by the runs of one process
    device: str = "cpu"  # "auto", "cpu" or "cuda"
    data_dir: Path | None = None  # the server's data dir: IDX files and the MNIST cache
    callbacks: list[Callback] = field(default_factory=list)


class TrainLoop(ABC):
    """One training run of a spec: the loop, with the task-specific parts left abstract."""

    network: nn.Module  # everything that trains (its state dict is the run's weights)
    device: torch.device

    def __init__(self, spec: ExperimentSpec, options: TrainerOptions | None = None,
                 control: TrainerControl | None = None) -> None:
        self.spec = spec
        self.options = options or TrainerOptions()
        self.control = control or TrainerControl()
        self.callbacks: Sequence[Callback] = self.options.callbacks
        self.step = 0
        self.elapsed = 0.0  # training seconds, pauses excluded
        self.last_metrics: AnyMetricsEvent | None = None
        self._rate_mark = (0, 0.0)  # (step, elapsed) at the previous metrics point
        self._last_report = -math.inf  # monotonic time of the last detailed metrics point
        # True once the loop has ended: the last metrics point may measure what earlier,
        # frequent ones only sample (an image run's whole test set).
        self.finished = False
        # True while the loop takes its clocked snapshots of a run in motion: a probe may
        # then reuse a part it renews less often (an RNN's gradient norms and text sample).
        self.streaming = False

    # ----- what a task defines ------------------------------------------------------
    @abstractmethod
    def train_step(self) -> float:
        """One step (raising `Diverged` when a loss stops being finite); returns a loss."""

    def train_phase(self, phase: str) -> float:
        """One step of part of the model (GANs: "d" or "g"); a plain model steps whole."""
        return self.train_step()

    def set_probe(self, index: int | None = None,
                  image: list[list[float]] | None = None) -> None:
        """Choose the image feature maps are of (image classifiers; others ignore it)."""
        del index, image

    @abstractmethod
    def evaluate(self, detailed: bool = False) -> AnyMetricsEvent:
        """A metrics point for the current weights (`detailed`: the run's last point)."""

    @abstractmethod
    def snapshot(self) -> AnySnapshot:
        """Probe the networks now."""

    @abstractmethod
    def set_lr(self, lr: float, target: str = "all") -> None:
        """Change the learning rate from the training thread ("all" optimizers, or a GAN's
        "g" or "d")."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (see `loop_state`)."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` (the spec must be the same)."""

    @abstractmethod
    def start_info(self) -> TrainStart:
        """Sizes and shapes the views need before the first step."""

    # ----- shared pieces for subclasses ---------------------------------------------
    def steps_per_second(self) -> float:
        """Steps per second of training time since the previous call (a metrics point)."""
        last_step, last_elapsed = self._rate_mark
        dt = self.elapsed - last_elapsed
        rate = (self.step - last_step) / dt if dt > 0 else 0.0
        self._rate_mark = (self.step, self.elapsed)
        return rate

    def loop_state(self) -> dict[str, Any]:
        """The checkpoint entries every run has: format, step, elapsed time, torch's RNG."""
        return {"format": 1, "step": self.step, "elapsed": self.elapsed,
                "torch_rng": torch.get_rng_state()}

    def load_loop_state(self, state: dict[str, Any]) -> None:
        """Restore what `loop_state()` saved."""
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        torch.set_rng_state(state["torch_rng"])
        self._rate_mark = (self.step, self.elapsed)

    # ----- reporting ----------------------------------------------------------------
    def _emit_metrics(self, detailed: bool = False) -> float:
        started = time.thread_time()
        if not detailed and self.options.detailed_metrics:
            # A detailed point (per-class report) is the dearest: a few per second suffice.
            now = time.monotonic()
            detailed = now - self._last_report >= self.options.report_interval
        if detailed:
            self._last_report = time.monotonic()
        event = self.evaluate(detailed)
        self.last_metrics = event
        for callback in self.callbacks:
            callback.on_metrics(event)
        return time.thread_time() - started

    def _emit_snapshot(self) -> float:
        # CPU time of this thread, not wall time: when many jobs share the cores, wall
        # time inflates with waiting and would throttle frames for no saving.
        started = time.thread_time()
        snap = self.snapshot()
        for callback in self.callbacks:
            callback.on_snapshot(snap)
        return time.thread_time() - started

    def _emit_all(self, detailed: bool = False) -> None:
        self._emit_metrics(detailed)
        if self.options.snapshot_interval > 0:
            self._emit_snapshot()

    # ----- the loop -----------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until `max_steps`, a stop, divergence or an error; hooks always see the end."""
        steps = self.run_steps()
        while True:
            try:
                signal = next(steps)
            except StopIteration as done:
                result: TrainResult = done.value
                return result
            if signal is Yield.PARKED:
                self.control.wait_while_paused()

    def run_steps(self) -> Generator[Yield, None, TrainResult]:
        """The run in time slices, for a scheduler that runs many on one thread.

        Yields `Yield.SLICE` every `slice_seconds` of training and `Yield.PARKED`
        while paused; returns the `TrainResult`. One thread per run would make
        every small torch call fight for the interpreter lock.
        """
        status, reason = RunStatus.completed, None
        failure: Failure | None = None
        budget = self.options.report_budget
        self.finished = False
        try:
            for callback in self.callbacks:
                callback.on_train_start(self.start_info())
            self.network.train()
            self._emit_all()
            if budget is not None:
                budget.join()
            try:
                status = yield from self._loop()
            finally:
                if budget is not None:
                    budget.leave()
            self.finished = True
            self._emit_all(detailed=True)
        except Diverged as error:
            status, reason = RunStatus.failed, str(error)
            failure = Failure("diverged", self.step, reason)
        except Exception as error:  # the run fails; the process and other runs go on
            status, reason = RunStatus.failed, f"error at step {self.step}: {error}"
            failure = Failure("error", self.step, reason)
        result = TrainResult(status=status, steps=self.step, seconds=self.elapsed,
                             reason=reason, metrics=self.last_metrics, failure=failure)
        for callback in self.callbacks:
            callback.on_train_end(result)
        return result

    def _loop(self) -> Generator[Yield, None, RunStatus]:
        control, options = self.control, self.options
        slice_seconds = options.slice_seconds
        max_steps = self.spec.max_steps
        metrics_every = options.metrics_interval
        snapshot_every = options.snapshot_interval
        clock = time.perf_counter
        budget = options.report_budget
        resumed_at = clock()
        next_metrics = resumed_at + metrics_every
        next_snapshot = resumed_at + snapshot_every if snapshot_every > 0 else math.inf
        parked = False
        slice_end = resumed_at + slice_seconds
        while self.step < max_steps:
            stepping = False  # True while spending step credits in a pause
            if control.dirty:
                for target, lr in control.take_pending_lrs().items():
                    self.set_lr(lr, target)
                probe = control.take_pending_probe()
                if probe is not None:
                    self.set_probe(*probe)
                    self._emit_snapshot()  # the new probe image's maps, even while paused
                if control.stop_requested:
                    if not parked:
                        self.elapsed += clock() - resumed_at
                    return RunStatus.stopped
                if control.paused:
                    if control.take_step_credit():
                        stepping = True
                    else:
                        if not parked:
                            parked = True
                            self.elapsed += clock() - resumed_at
                            self._emit_all()
                            for callback in self.callbacks:
                                callback.on_pause(self.step)
                        else:
                            for callback in self.callbacks:
                                callback.on_parked(self.step)
                        yield Yield.PARKED
                        continue
                if parked:  # resumed, or a requested step while paused: its time counts
                    resumed_at = clock()
                    if not control.paused:
                        parked = False
                        for callback in self.callbacks:
                            callback.on_resume(self.step)
                control.settle()

            try:
                if stepping and control.step_phase != "both":
                    self.train_phase(control.step_phase)
                else:
                    self.train_step()
            except Exception:  # a diverged or broken run still reports its training time
                self.elapsed += clock() - resumed_at
                raise

            if stepping:
                self.elapsed += clock() - resumed_at
                resumed_at = clock()
                if self.step < max_steps and not control.has_step_credits():
                    self._emit_all()
                if resumed_at >= slice_end:  # many requested steps: let others run too
                    yield Yield.SLICE
                    slice_end = clock() + slice_seconds
                continue
            now = clock()
            if self.step == max_steps:
                break  # the final, detailed point and snapshot follow the loop
            if now >= slice_end:
                yield Yield.SLICE  # other runs of this thread take their turn
                slice_end = clock() + slice_seconds
            if now >= next_metrics:
                self.elapsed += now - resumed_at
                resumed_at = now
                cost = self._emit_metrics()
                every = metrics_every if control.watched else max(
                    metrics_every, options.unwatched_metrics_interval)
                if metrics_every > 0:  # 0 asks for a point after every step: keep it
                    every = max(every, cost / options.metrics_budget)
                if budget is not None:
                    budget.spent(ReportKind.metrics, cost)
                    every = max(every, budget.spacing(cost, ReportKind.metrics))
                next_metrics = now + every  # from when it was due: a cadence, not a gap
            if now >= next_snapshot:
                if control.watched:
                    self.streaming = True
                    try:
                        cost = self._emit_snapshot()
                    finally:
                        self.streaming = False
                    # Adaptive rate: a slow snapshot pushes the next one out so probes
                    # never take more than `snapshot_budget` of this run's time, nor
                    # more than its part of the process's shared report budget.
                    every = max(snapshot_every, cost / options.snapshot_budget)
                    if budget is not None:
                        budget.spent(ReportKind.snapshots, cost)
                        every = max(every, budget.spacing(cost, ReportKind.snapshots))
                    next_snapshot = now + every
                else:  # nobody is watching: no pictures to draw
                    next_snapshot = clock() + snapshot_every
        self.elapsed += clock() - resumed_at
        return RunStatus.completed
