"""The training loop: one spec in, events out through callbacks, a result at the end.

The loop knows nothing about HTTP. It runs on whatever thread calls `run()`,
polls a `TrainerControl` between steps (one attribute read when nothing is
asked of it), and takes metrics and probe snapshots on a clock so that a fast
run is not slowed by its viewers.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from nnplay.data import Dataset, build_dataset
from nnplay.models.network import Network, build_network
from nnplay.spec import ExperimentSpec
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.device import resolve_device
from nnplay.train.events import MetricsEvent, RunStatus, Snapshot, TrainResult, TrainStart
from nnplay.train.heads import Head, make_head
from nnplay.train.metrics import classification_report
from nnplay.train.optimizers import build_optimizer, set_learning_rate
from nnplay.train.probes import Prober

# torch's default generator is process-wide: building two networks at once on
# two threads would interleave their random draws and break reproducibility.
_BUILD_LOCK = threading.Lock()


class Diverged(Exception):
    """The loss stopped being a finite number."""


@dataclass
class TrainerOptions:
    """How often to report and probe, and where to run."""

    metrics_interval: float = 0.05  # seconds between metric points
    snapshot_interval: float = 0.05  # seconds between probe snapshots; 0 turns them off
    snapshot_budget: float = 0.1  # at most this share of wall time goes to snapshots
    grid_size: int = 64  # boundary image is grid_size x grid_size
    neuron_grid_size: int = 16  # each neuron heatmap is this square
    detailed_metrics: bool = False  # per-class report in metrics points, not just the last
    report_interval: float = 0.5  # with detailed_metrics: seconds between reports
    device: str = "cpu"  # "auto", "cpu" or "cuda"
    callbacks: list[Callback] = field(default_factory=list)


class Trainer:
    """Trains the network an `ExperimentSpec` describes."""

    def __init__(self, spec: ExperimentSpec, options: TrainerOptions | None = None,
                 control: TrainerControl | None = None) -> None:
        self.spec = spec
        self.options = options or TrainerOptions()
        self.control = control or TrainerControl()
        self.callbacks: Sequence[Callback] = self.options.callbacks
        self.dataset: Dataset = build_dataset(spec)
        self.head: Head = make_head(spec.task, spec.loss, self.dataset.n_classes)
        with _BUILD_LOCK:
            torch.manual_seed(spec.seed)
            self.network: Network = build_network(spec.model, self.dataset.n_inputs,
                                                  self.head.out_units)
        self.device = resolve_device(self.options.device, self.network.parameter_count())
        self.network.to(self.device)
        self.optimizer = build_optimizer(spec.optimizer, self.network.parameters())
        self.lr = spec.optimizer.lr

        ds = self.dataset
        self.x_train = ds.x_train.to(self.device)  # (n_train, f)
        self.t_train = self.head.targets(ds.y_train).to(self.device)
        self.y_train = ds.y_train.to(self.device)
        self.x_test = ds.x_test.to(self.device)  # (n_test, f)
        self.t_test = self.head.targets(ds.y_test).to(self.device)
        self.y_test = ds.y_test.to(self.device)
        self.n_train = self.x_train.shape[0]
        self.batch_size = spec.batch_size
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self._shuffle = torch.Generator().manual_seed(spec.seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = self.n_train  # forces a shuffle before the first batch
        reg = spec.regularization
        self._l1, self._l2 = reg.l1, reg.l2
        self._penalised = [layer.weight for layer in self.network.dense_layers()]
        self.prober = Prober(self.network, self.head, ds, self.device,
                             self.options.grid_size, self.options.neuron_grid_size)

        self.step = 0
        self.elapsed = 0.0  # training seconds, pauses excluded
        self.last_metrics: MetricsEvent | None = None
        self._rate_mark = (0, 0.0)  # (step, elapsed) at the previous metrics point
        self._last_report = -math.inf  # monotonic time of the last per-class report

    # ----- one step ---------------------------------------------------------------
    def _next_batch(self) -> tuple[Tensor, Tensor]:
        if self.batch_size >= self.n_train:
            return self.x_train, self.t_train
        if self._cursor >= self.n_train:
            self._order = torch.randperm(self.n_train, generator=self._shuffle).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + self.batch_size]
        self._cursor += self.batch_size
        return self.x_train[index], self.t_train[index]

    def _penalty(self) -> Tensor:
        total = torch.zeros((), device=self.device)
        for weight in self._penalised:
            if self._l1:
                total = total + self._l1 * weight.abs().sum()
            if self._l2:
                total = total + self._l2 * weight.pow(2).sum()
        return total

    def train_step(self) -> float:
        """One optimizer step on the next mini-batch; returns its loss."""
        x, t = self._next_batch()
        loss = self.head.loss(self.network(x), t)
        if self._l1 or self._l2:
            loss = loss + self._penalty()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        value = loss.item()
        if not math.isfinite(value):
            raise Diverged(
                f"diverged: loss became {value} at step {self.step} (try a smaller learning rate)"
            )
        return value

    # ----- reporting ----------------------------------------------------------------
    def evaluate(self, detailed: bool = False) -> MetricsEvent:
        """Loss and accuracy on the whole train and test sets, without regularisation."""
        network, head = self.network, self.head
        was_training = network.training
        network.eval()
        try:
            with torch.no_grad():
                out_train = network(self.x_train)
                train_loss = head.loss(out_train, self.t_train).item()
                has_test = self.x_test.shape[0] > 0
                out_test = network(self.x_test) if has_test else None
                test_loss = head.loss(out_test, self.t_test).item() if out_test is not None \
                    else None
                train_acc = test_acc = None
                report = None
                k = self.dataset.n_classes
                if k:
                    pred_train = head.predict(out_train)
                    train_acc = (pred_train == self.y_train).float().mean().item()
                    if out_test is not None:
                        pred_test = head.predict(out_test)
                        test_acc = (pred_test == self.y_test).float().mean().item()
                    if detailed:
                        pred, truth = (pred_test, self.y_test) if out_test is not None \
                            else (pred_train, self.y_train)
                        report = classification_report(pred.cpu(), truth.cpu(), k).to_dict()
        finally:
            network.train(was_training)
        last_step, last_elapsed = self._rate_mark
        dt = self.elapsed - last_elapsed
        rate = (self.step - last_step) / dt if dt > 0 else 0.0
        self._rate_mark = (self.step, self.elapsed)
        return MetricsEvent(
            step=self.step, epoch=self.step * self.batch_size / self.n_train,
            train_loss=train_loss, test_loss=test_loss, train_accuracy=train_acc,
            test_accuracy=test_acc, lr=self.lr, steps_per_second=rate, elapsed=self.elapsed,
            report=report,
        )

    def _emit_metrics(self, detailed: bool = False) -> None:
        if not detailed and self.options.detailed_metrics:
            # The per-class report is the dearest part of a point: a few per second suffice.
            now = time.monotonic()
            detailed = now - self._last_report >= self.options.report_interval
        if detailed:
            self._last_report = time.monotonic()
        event = self.evaluate(detailed)
        self.last_metrics = event
        for callback in self.callbacks:
            callback.on_metrics(event)

    def snapshot(self) -> Snapshot:
        """Probe the network now."""
        return self.prober.snapshot(self.step)

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

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the training thread."""
        self.lr = lr
        set_learning_rate(self.optimizer, lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: weights, optimizer, step, RNGs."""
        return {
            "format": 1, "step": self.step, "elapsed": self.elapsed, "lr": self.lr,
            "network": {k: v.detach().cpu().clone() for k, v in
                        self.network.state_dict().items()},
            # The optimizer's state dict holds live tensors (Adam's moments): copy them.
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "shuffle": self._shuffle.get_state(), "order": self._order.cpu().clone(),
            "cursor": self._cursor, "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` (the spec must be the same)."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.set_lr(float(state["lr"]))
        self._shuffle.set_state(state["shuffle"])
        self._order = state["order"].to(self.device)
        self._cursor = int(state["cursor"])
        torch.set_rng_state(state["torch_rng"])
        self._rate_mark = (self.step, self.elapsed)

    def start_info(self) -> TrainStart:
        """Sizes and shapes the views need before the first step."""
        return TrainStart(
            n_inputs=self.dataset.n_inputs, n_outputs=self.head.out_units,
            n_classes=self.dataset.n_classes,
            layer_sizes=[layer.out_features for layer in self.network.dense_layers()[:-1]],
            parameter_count=self.network.parameter_count(),
            steps_per_epoch=self.steps_per_epoch, device=str(self.device),
            layers=[summary.to_dict() for summary in
                    self.network.layer_summary(self.dataset.n_inputs)],
        )

    # ----- the loop -----------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until `max_steps`, a stop, divergence or an error; hooks always see the end."""
        status, reason = RunStatus.completed, None
        try:
            for callback in self.callbacks:
                callback.on_train_start(self.start_info())
            self.network.train()
            self._emit_all()
            status = self._loop()
            self._emit_all(detailed=True)
        except Diverged as error:
            status, reason = RunStatus.failed, str(error)
        except Exception as error:  # the run fails; the process and other runs go on
            status, reason = RunStatus.failed, f"error at step {self.step}: {error}"
        result = TrainResult(status=status, steps=self.step, seconds=self.elapsed,
                             reason=reason, metrics=self.last_metrics)
        for callback in self.callbacks:
            callback.on_train_end(result)
        return result

    def _loop(self) -> RunStatus:
        control, options = self.control, self.options
        max_steps = self.spec.max_steps
        metrics_every = options.metrics_interval
        snapshot_every = options.snapshot_interval
        clock = time.perf_counter
        resumed_at = clock()
        next_metrics = resumed_at + metrics_every
        next_snapshot = resumed_at + snapshot_every if snapshot_every > 0 else math.inf
        parked = False
        while self.step < max_steps:
            stepping = False  # True while spending step credits in a pause
            if control.dirty:
                lr = control.take_pending_lr()
                if lr is not None:
                    self.set_lr(lr)
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
                        control.wait_while_paused()
                        continue
                if parked:  # resumed, or a requested step while paused: its time counts
                    resumed_at = clock()
                    if not control.paused:
                        parked = False
                        for callback in self.callbacks:
                            callback.on_resume(self.step)
                control.settle()

            try:
                self.train_step()
            except Exception:  # a diverged or broken run still reports its training time
                self.elapsed += clock() - resumed_at
                raise

            if stepping:
                self.elapsed += clock() - resumed_at
                resumed_at = clock()
                if self.step < max_steps and not control.has_step_credits():
                    self._emit_all()
                continue
            now = clock()
            if self.step == max_steps:
                break  # the final, detailed point and snapshot follow the loop
            if now >= next_metrics:
                self.elapsed += now - resumed_at
                resumed_at = now
                self._emit_metrics()
                next_metrics = clock() + metrics_every
            if now >= next_snapshot:
                cost = self._emit_snapshot()
                # Adaptive rate: a slow snapshot pushes the next one further out so
                # probes never take more than `snapshot_budget` of the time.
                next_snapshot = clock() + max(snapshot_every, cost / options.snapshot_budget)
        self.elapsed += clock() - resumed_at
        return RunStatus.completed


def warm_up() -> None:
    """Pay torch's one-off costs (lazy imports, first kernels) before a person is waiting."""
    spec = ExperimentSpec.model_validate({
        "dataset": {"n_samples": 20}, "batch_size": 5, "max_steps": 2,
        "model": {"layers": [{"units": 2}, {"type": "dropout"}]},
        "optimizer": {"name": "adam", "lr": 0.01}})
    trainer = Trainer(spec, TrainerOptions(metrics_interval=0, snapshot_interval=0))
    trainer.train_step()
    trainer.snapshot()
    trainer.evaluate()
