"""A cohort runner's members and their reports: metrics points and snapshots on their clocks.

`Member` is one job of a `CohortRunner` (`nnplay.jobs.cohorts`) with its clocks;
`CohortReports` decides when each member's metrics point and snapshot are due and
publishes them through the member's callbacks, batched over the cohort's rows where
that is cheaper, within the report budgets. The cohort itself stays the runner's: it
is passed in, None until the runner's first batched step.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from nnplay.jobs.runner import CheckpointSaver
from nnplay.train.cohort import Cohort, CohortMetrics
from nnplay.train.cohort_engines import CohortEngine
from nnplay.train.cohort_probes import stacked_snapshots
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnyMetricsEvent, MetricsEvent
from nnplay.train.loop import TrainLoop
from nnplay.train.metrics import report_from_confusion
from nnplay.train.report_budget import ReportBudget, ReportKind
from nnplay.train.trainer import Trainer

WEIGHTS_SYNC = 1.0  # s: an in-cohort member's shadow network is at most this stale
METRICS_POINTS_PER_S = 150.0  # most metrics points a worker's cohort members send a second


@dataclass
class Member:
    """One job of a cohort runner, with its shadow trainer and report clocks."""

    job_id: str
    control: TrainerControl
    trainer: TrainLoop  # a `Trainer`, or a GAN pair's `GanTrainer`
    saver: CheckpointSaver | None
    on_done: Callable[[], None] | None
    step: int
    elapsed: float  # training seconds banked so far (pauses excluded)
    resumed_at: float  # perf_counter when the current stretch of training began
    stacked: bool  # runs on the CPU, so it may join the stacked model
    in_cohort: bool = False  # its state lives in the cohort's rows, not the trainer
    parked: bool = False
    mark: tuple[int, float] = (0, 0.0)  # (step, elapsed) at the previous metrics point
    next_metrics: float = 0.0
    next_snapshot: float = 0.0
    last_report: float = -math.inf
    last_sync: float = -math.inf
    last_metrics: AnyMetricsEvent | None = None

    def bank(self) -> None:
        """Add the training time since `resumed_at` to `elapsed`."""
        now = time.perf_counter()
        self.elapsed += now - self.resumed_at
        self.resumed_at = now


class CohortReports:
    """When and what one runner's members report: metrics points and snapshots."""

    def __init__(self, budget: ReportBudget | None, slice_seconds: float) -> None:
        self.budget = budget  # the worker's shared report budget, if any
        self.slice_seconds = slice_seconds  # solo-held snapshots per round stay within this

    def emit_all(self, m: Member, cohort: CohortEngine | None, detailed: bool = False) -> None:
        """A metrics point and a snapshot of a solo-held member (start, pause, end)."""
        self._publish(m, self._solo_metrics(m, cohort, detailed), cohort)
        if m.trainer.options.snapshot_interval > 0:
            self._snapshot(m, cohort)

    def report(self, running: list[Member], cohort: CohortEngine | None) -> None:
        """The metrics points, then the snapshots, of the running members that are due."""
        now = time.perf_counter()
        due = [m for m in running if now >= m.next_metrics]
        if due:
            started = time.thread_time()
            detailed = {m.job_id for m in due if m.trainer.options.detailed_metrics
                        and now - m.last_report >= m.trainer.options.report_interval}
            batched = _stacked(cohort)
            stacked = [m for m in due if m.in_cohort]
            figures = None
            if batched is not None and stacked:  # one batched evaluation of them all
                figures = batched.evaluate(confusion=any(m.job_id in detailed for m in stacked))
            rows = {member: i for i, member in enumerate(figures.ids)} if figures else {}
            for m in due:
                m.bank()
                if m.job_id in detailed:
                    m.last_report = now
                event: AnyMetricsEvent
                if m.in_cohort and figures is not None:
                    event = self._cohort_metrics(m, figures, rows[m.job_id],
                                                 m.job_id in detailed)
                    if now - m.last_sync >= WEIGHTS_SYNC:
                        _sync(m, cohort)  # live weights for exports stay fresh enough
                else:
                    event = self._solo_metrics(m, cohort, m.job_id in detailed)
                self._publish(m, event, cohort)
            cost = time.thread_time() - started
            if self.budget is not None:
                self.budget.spent(ReportKind.metrics, cost)
            each = cost / len(due)  # one member's part of the pass
            # A point costs the server more than the worker (its store, history and JSON
            # to the viewers), so a worker's cohort members send at most
            # METRICS_POINTS_PER_S points a second together: twenty a second each for
            # seven, three for fifty. Measured at 100 jobs on 2 cores: twenty each cut
            # steps/s from ~190 to ~42 and frames/s from 18 to 10.7.
            runners = self.budget.runs if self.budget is not None else 1
            points = len(running) * runners / METRICS_POINTS_PER_S
            # The shared budget's spacing is the same for every member of this pass.
            shared = self.budget.spacing(cost, ReportKind.metrics) if self.budget else 0.0
            for m in due:
                options = m.trainer.options
                every = options.metrics_interval if m.control.watched else max(
                    options.metrics_interval, options.unwatched_metrics_interval)
                if options.metrics_interval > 0:  # as a solo run: its own point's cost
                    every = max(every, each / options.metrics_budget, points)
                # From when it was due: a cadence, not a gap.
                m.next_metrics = now + max(every, shared)
        self._probe(running, cohort)

    # ----- metrics points -----------------------------------------------------------------
    def _solo_metrics(self, m: Member, cohort: CohortEngine | None,
                      detailed: bool) -> AnyMetricsEvent:
        _sync(m, cohort)
        m.trainer.elapsed = m.elapsed
        event = m.trainer.evaluate(detailed)
        return dataclasses.replace(event, steps_per_second=_rate(m))

    @staticmethod
    def _cohort_metrics(m: Member, figures: CohortMetrics, row: int,
                        detailed: bool) -> MetricsEvent:
        def at(values: object) -> float | None:
            return None if values is None else float(values[row])  # type: ignore[index]

        train_loss = at(figures.train_loss)
        assert train_loss is not None
        trainer = m.trainer
        assert isinstance(trainer, Trainer)  # batched figures are the dense `Cohort`'s
        return MetricsEvent(
            step=m.step, epoch=m.step * trainer.batch_size / trainer.n_train,
            train_loss=train_loss, test_loss=at(figures.test_loss),
            train_accuracy=at(figures.train_accuracy), test_accuracy=at(figures.test_accuracy),
            lr=trainer.lr, steps_per_second=_rate(m), elapsed=m.elapsed,
            report=report_from_confusion(figures.confusion[row]).to_dict()
            if detailed and figures.confusion is not None else None,
            test_samples=int(trainer.x_test.shape[0]) or None)

    @staticmethod
    def _publish(m: Member, event: AnyMetricsEvent, cohort: CohortEngine | None) -> None:
        m.last_metrics = m.trainer.last_metrics = event
        if m.saver is not None and m.in_cohort and m.saver.due():
            # The saver writes the trainer's state: make it the member's whole state.
            assert cohort is not None
            state = cohort.export_state(m.job_id)
            state["elapsed"] = m.elapsed
            m.trainer.load_state_dict(state)
        for callback in m.trainer.callbacks:
            callback.on_metrics(event)

    # ----- snapshots ----------------------------------------------------------------------
    @staticmethod
    def _snapshot(m: Member, cohort: CohortEngine | None) -> None:
        _sync(m, cohort)
        snap = m.trainer.snapshot()
        for callback in m.trainer.callbacks:
            callback.on_snapshot(snap)

    def _probe(self, running: list[Member], cohort: CohortEngine | None) -> None:
        """Snapshots of the watched members that are due: in-cohort ones in one stacked
        pass, solo-held ones one by one (at most a time slice of those per round)."""
        now = time.perf_counter()
        watched = 0
        batched = _stacked(cohort)  # GAN pairs: each member's shadow probes, one by one
        stacked: list[Member] = []
        alone: list[Member] = []
        for m in running:
            interval = m.trainer.options.snapshot_interval
            if interval <= 0:
                continue
            if not m.control.watched:
                if now >= m.next_snapshot:
                    m.next_snapshot = now + interval
                continue
            watched += 1
            # Members due within a quarter interval join this pass: their clocks line up
            # and later passes stay batched rather than one member each.
            if now >= m.next_snapshot - interval / 4:
                (stacked if m.in_cohort and batched is not None else alone).append(m)
        if stacked and any(now >= m.next_snapshot for m in stacked):
            assert cohort is not None and batched is not None
            began, started = time.perf_counter(), time.thread_time()
            snapshots = stacked_snapshots(
                batched, [m.job_id for m in stacked], [m.step for m in stacked],
                [batched.look_of(m.job_id) for m in stacked])
            for m, snap in zip(stacked, snapshots, strict=True):
                for callback in m.trainer.callbacks:
                    callback.on_snapshot(snap)
            self._space(stacked, time.thread_time() - started, watched, began)
        round_end = time.perf_counter() + self.slice_seconds
        for m in sorted(alone, key=lambda m: m.next_snapshot):
            if now < m.next_snapshot or time.perf_counter() >= round_end:
                break
            began, started = time.perf_counter(), time.thread_time()
            self._snapshot(m, cohort)
            self._space([m], time.thread_time() - started, watched, began)

    def _space(self, probed: list[Member], cost: float, watched: int, began: float) -> None:
        """Set the next snapshot time of members probed together from `began` for `cost` CPU s.

        The interval runs from when the pass began, so a 15 ms pass of fifty members
        does not stretch a 50 ms cadence to 65 ms.
        """
        if self.budget is not None:
            self.budget.spent(ReportKind.snapshots, cost)
        cost /= len(probed)  # each member's part
        # This runner counts as one run of the shared budget: its watched members'
        # snapshots together stay within that run's part (the same for each of them).
        shared = self.budget.spacing(cost * watched, ReportKind.snapshots) \
            if self.budget is not None else 0.0
        for m in probed:
            options = m.trainer.options
            every = max(options.snapshot_interval, cost / options.snapshot_budget, shared)
            m.next_snapshot = began + every


def _stacked(cohort: CohortEngine | None) -> Cohort | None:
    """The cohort when its members' metrics and probes are batched (dense ones), else None."""
    return cohort if isinstance(cohort, Cohort) else None


def _sync(m: Member, cohort: CohortEngine | None) -> None:
    """Bring an in-cohort member's shadow network up to its weights now."""
    if m.in_cohort and cohort is not None:
        m.trainer.network.load_state_dict(cohort.weights_of(m.job_id))
        m.last_sync = time.perf_counter()
    m.trainer.step = m.step


def _rate(m: Member) -> float:
    """Steps per training second since the member's previous metrics point (moves the mark)."""
    last_step, last_elapsed = m.mark
    dt = m.elapsed - last_elapsed
    m.mark = (m.step, m.elapsed)
    return (m.step - last_step) / dt if dt > 0 else 0.0


__all__ = ["METRICS_POINTS_PER_S", "WEIGHTS_SYNC", "CohortReports", "Member"]
