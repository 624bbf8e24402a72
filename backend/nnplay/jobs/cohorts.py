"""A cohort runner: the jobs of one worker sharing a cohort key, trained as one `Cohort`.

`CohortPool` (`nnplay.jobs.cohort_pool`) hands it the jobs of its key. A runner is
one generator on the worker's `RunScheduler` (not a thread of its own: threads
would fight solo runs for the interpreter lock), stepping all its running members
in one batched step. Each member keeps its solo `Trainer` beside the cohort (its
"shadow"): it gives start info, probes, the final per-class report and
checkpoints, and holds the member's state whenever the member is not stepping in
the cohort (paused, stepping N while paused, alone, ended). Members move in and
out at step boundaries in the solo `state_dict()` format, so what a viewer sees
matches a solo run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnplay.jobs.runner import CheckpointSaver, RunEvents, RunRequest, prepare_run
from nnplay.train.cohort import Cohort, CohortMetrics
from nnplay.train.cohort_probes import stacked_snapshots
from nnplay.train.control import TrainerControl
from nnplay.train.events import Failure, MetricsEvent, RunStatus, TrainResult
from nnplay.train.loop import Diverged, ReportBudget, Yield
from nnplay.train.trainer import Trainer

if TYPE_CHECKING:
    from nnplay.jobs.cohort_pool import CohortPool

log = logging.getLogger("nnplay.jobs")

WEIGHTS_SYNC = 1.0  # s: an in-cohort member's shadow network is at most this stale


@dataclass
class _Member:
    """One job of a cohort runner, with its shadow trainer and report clocks."""

    job_id: str
    control: TrainerControl
    trainer: Trainer
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
    last_metrics: MetricsEvent | None = None


@dataclass
class Join:
    """A job handed to a runner, admitted at its next round."""

    request: RunRequest
    control: TrainerControl
    events: RunEvents
    wanted: threading.Event
    on_done: Callable[[], None] | None


class CohortRunner:
    """The members of one cohort key in one worker, stepped together on its scheduler."""

    def __init__(self, pool: CohortPool) -> None:
        self.pool = pool
        self.control = TrainerControl()  # only a wake-up signal for the scheduler
        self.incoming: list[Join] = []  # guarded by the pool's lock
        self.members: dict[str, _Member] = {}
        self.cohort: Cohort | None = None

    # ----- membership -----------------------------------------------------------------
    def _admit(self, join: Join) -> None:
        prepared = prepare_run(join.request, join.control, join.events, join.wanted)
        if prepared is None:
            if join.on_done is not None:
                join.on_done()
            return
        trainer, saver = prepared
        assert isinstance(trainer, Trainer)  # keyed specs are supervised
        join.events.on_trainer(trainer)
        now = time.perf_counter()
        m = _Member(join.request.job_id, join.control, trainer, saver, join.on_done,
                    trainer.step, trainer.elapsed, now, trainer.device.type == "cpu",
                    mark=(trainer.step, trainer.elapsed))
        self.members[m.job_id] = m
        try:
            for callback in trainer.callbacks:
                callback.on_train_start(trainer.start_info())
            trainer.network.train()
            self._emit_all(m)
        except Exception as error:
            self._fail(m, "error", f"error at step {m.step}: {error}")
        m.next_metrics = m.next_snapshot = time.perf_counter() + trainer.options.metrics_interval

    def _to_solo(self, m: _Member) -> None:
        """Move a member's state from the cohort's rows into its trainer."""
        if m.in_cohort and self.cohort is not None:
            state = self.cohort.remove(m.job_id)
            state["elapsed"] = m.elapsed
            m.trainer.load_state_dict(state)
            m.in_cohort = False
        m.trainer.step, m.trainer.elapsed = m.step, m.elapsed

    def _to_cohort(self, members: list[_Member]) -> None:
        joining = [m for m in members if not m.in_cohort]
        if not joining:
            return
        if self.cohort is None:
            options = joining[0].trainer.options
            self.cohort = Cohort(joining[0].trainer.spec, options.grid_size,
                                 options.neuron_grid_size)
        for m in joining:
            m.trainer.step, m.trainer.elapsed = m.step, m.elapsed
        self.cohort.add_many([(m.job_id, m.trainer.spec, m.trainer.state_dict())
                              for m in joining])
        for m in joining:
            m.in_cohort = True

    def _sync(self, m: _Member) -> None:
        """Bring an in-cohort member's shadow network up to its weights now."""
        if m.in_cohort and self.cohort is not None:
            m.trainer.network.load_state_dict(self.cohort.weights_of(m.job_id))
            m.last_sync = time.perf_counter()
        m.trainer.step = m.step

    def _leave(self, m: _Member, result: TrainResult) -> None:
        self.members.pop(m.job_id, None)
        for callback in m.trainer.callbacks:
            callback.on_train_end(result)
        if m.on_done is not None:
            m.on_done()

    def _finish(self, m: _Member, status: RunStatus) -> None:
        """A member ends (completed or stopped): final detailed point and snapshot, as solo."""
        if not m.parked:
            self._bank(m)
        try:
            self._to_solo(m)
            self._emit_all(m, detailed=True)
        except Exception as error:
            self._fail(m, "error", f"error at step {m.step}: {error}")
            return
        self._leave(m, TrainResult(status=status, steps=m.step, seconds=m.elapsed,
                                   metrics=m.last_metrics))

    def _fail(self, m: _Member, kind: str, reason: str) -> None:
        if m.in_cohort and self.cohort is not None and m.job_id in self.cohort:
            self.cohort.remove(m.job_id)
        m.in_cohort = False
        self._leave(m, TrainResult(status=RunStatus.failed, steps=m.step, seconds=m.elapsed,
                                   reason=reason, metrics=m.last_metrics,
                                   failure=Failure(kind, m.step, reason)))

    # ----- clocks and reports --------------------------------------------------------------
    @staticmethod
    def _bank(m: _Member) -> None:
        now = time.perf_counter()
        m.elapsed += now - m.resumed_at
        m.resumed_at = now

    def _rate(self, m: _Member) -> float:
        last_step, last_elapsed = m.mark
        dt = m.elapsed - last_elapsed
        m.mark = (m.step, m.elapsed)
        return (m.step - last_step) / dt if dt > 0 else 0.0

    def _solo_metrics(self, m: _Member, detailed: bool) -> MetricsEvent:
        self._sync(m)
        m.trainer.elapsed = m.elapsed
        event = m.trainer.evaluate(detailed)
        return dataclasses.replace(event, steps_per_second=self._rate(m))

    def _cohort_metrics(self, m: _Member, figures: CohortMetrics, row: int) -> MetricsEvent:
        def at(values: object) -> float | None:
            return None if values is None else float(values[row])  # type: ignore[index]

        train_loss = at(figures.train_loss)
        assert train_loss is not None
        trainer = m.trainer
        return MetricsEvent(
            step=m.step, epoch=m.step * trainer.batch_size / trainer.n_train,
            train_loss=train_loss, test_loss=at(figures.test_loss),
            train_accuracy=at(figures.train_accuracy), test_accuracy=at(figures.test_accuracy),
            lr=trainer.lr, steps_per_second=self._rate(m), elapsed=m.elapsed)

    def _publish(self, m: _Member, event: MetricsEvent) -> None:
        m.last_metrics = m.trainer.last_metrics = event
        if m.saver is not None and m.in_cohort and m.saver.due():
            self._refresh(m)  # the saver writes the trainer's state: make it the member's
        for callback in m.trainer.callbacks:
            callback.on_metrics(event)

    def _refresh(self, m: _Member) -> None:
        """Copy an in-cohort member's whole state into its trainer (for a checkpoint)."""
        assert self.cohort is not None
        state = self.cohort.export_state(m.job_id)
        state["elapsed"] = m.elapsed
        m.trainer.load_state_dict(state)

    def _snapshot(self, m: _Member) -> None:
        self._sync(m)
        snap = m.trainer.snapshot()
        for callback in m.trainer.callbacks:
            callback.on_snapshot(snap)

    def _emit_all(self, m: _Member, detailed: bool = False) -> None:
        """A metrics point and a snapshot of a solo-held member (start, pause, end)."""
        self._publish(m, self._solo_metrics(m, detailed))
        if m.trainer.options.snapshot_interval > 0:
            self._snapshot(m)

    def _report(self, running: list[_Member], budget: ReportBudget | None) -> None:
        now = time.perf_counter()
        due = [m for m in running if now >= m.next_metrics]
        if due:
            started = time.thread_time()
            figures = self.cohort.evaluate() if self.cohort is not None and any(
                m.in_cohort for m in due) else None
            rows = {member: i for i, member in enumerate(figures.ids)} if figures else {}
            for m in due:
                self._bank(m)
                options = m.trainer.options
                detailed = options.detailed_metrics and \
                    now - m.last_report >= options.report_interval
                if detailed:
                    m.last_report = now
                if m.in_cohort and not detailed and figures is not None:
                    event = self._cohort_metrics(m, figures, rows[m.job_id])
                    if now - m.last_sync >= WEIGHTS_SYNC:
                        self._sync(m)  # live weights for exports stay fresh enough
                else:
                    event = self._solo_metrics(m, detailed)
                self._publish(m, event)
            cost = time.thread_time() - started
            for m in due:
                options = m.trainer.options
                every = options.metrics_interval if m.control.watched else max(
                    options.metrics_interval, options.unwatched_metrics_interval)
                if options.metrics_interval > 0:
                    every = max(every, cost / options.metrics_budget)
                if budget is not None:
                    every = max(every, budget.spacing(cost))
                m.next_metrics = time.perf_counter() + every
        self._probe(running, budget)

    def _probe(self, running: list[_Member], budget: ReportBudget | None) -> None:
        """Snapshots of the watched members that are due: in-cohort ones in one stacked
        pass, solo-held ones one by one (at most a time slice of those per round)."""
        now = time.perf_counter()
        watched = 0
        stacked: list[_Member] = []
        alone: list[_Member] = []
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
                (stacked if m.in_cohort else alone).append(m)
        if stacked and any(now >= m.next_snapshot for m in stacked):
            assert self.cohort is not None
            started = time.thread_time()
            snapshots = stacked_snapshots(
                self.cohort, [m.job_id for m in stacked], [m.step for m in stacked],
                [self.cohort.look_of(m.job_id) for m in stacked])
            for m, snap in zip(stacked, snapshots, strict=True):
                for callback in m.trainer.callbacks:
                    callback.on_snapshot(snap)
            self._space(stacked, (time.thread_time() - started) / len(stacked), watched,
                        budget)
        round_end = time.perf_counter() + self.pool.slice_seconds
        for m in sorted(alone, key=lambda m: m.next_snapshot):
            if now < m.next_snapshot or time.perf_counter() >= round_end:
                break
            started = time.thread_time()
            self._snapshot(m)
            self._space([m], time.thread_time() - started, watched, budget)

    @staticmethod
    def _space(probed: list[_Member], cost: float, watched: int,
               budget: ReportBudget | None) -> None:
        """Set the next snapshot time of members just probed at `cost` CPU s each."""
        for m in probed:
            options = m.trainer.options
            # This runner counts as one run of the shared budget: its watched members'
            # snapshots together stay within that run's part.
            every = max(options.snapshot_interval, cost / options.snapshot_budget)
            if budget is not None:
                every = max(every, budget.spacing(cost * watched))
            m.next_snapshot = time.perf_counter() + every

    # ----- one round --------------------------------------------------------------------
    def _solo_step(self, m: _Member) -> bool:
        """One step of a member on its own trainer; False if it failed (and left)."""
        self._to_solo(m)
        started = time.perf_counter()
        try:
            m.trainer.train_step()
        except Diverged as error:
            m.step = m.trainer.step
            m.elapsed += time.perf_counter() - started
            self._fail(m, "diverged", str(error))
            return False
        except Exception as error:
            m.elapsed += time.perf_counter() - started
            self._fail(m, "error", f"error at step {m.step}: {error}")
            return False
        m.step = m.trainer.step
        return True

    def _cohort_step(self, group: list[_Member]) -> list[_Member]:
        """One batched step of `group`; returns those still running."""
        self._to_cohort(group)
        assert self.cohort is not None
        try:
            result = self.cohort.step()
        except Exception as error:  # a bug: every member fails alike, the worker goes on
            log.exception("a cohort step failed")
            for m in group:
                self._fail(m, "error", f"error at step {m.step}: {error}")
            return []
        for m in group:
            m.step += 1
        for member, reason in result.diverged.items():
            m = self.members[str(member)]
            m.in_cohort = False  # the cohort has dropped its row
            self._bank(m)
            self._fail(m, "diverged", reason)
        return [m for m in group if m.job_id not in result.diverged]

    def _controls(self, m: _Member) -> str:
        """Act on a member's control; returns "run", "step" (one paused step) or "idle"."""
        control = m.control
        if not control.dirty:
            return "run"
        pending = control.take_pending_lrs()
        if pending:
            lr = pending.get("all", next(iter(pending.values())))
            m.trainer.lr = lr
            if m.in_cohort and self.cohort is not None:
                self.cohort.set_lr(m.job_id, lr)
            else:
                m.trainer.set_lr(lr)
        control.take_pending_probe()  # dense networks have no feature maps to probe
        if control.stop_requested:
            self._finish(m, RunStatus.stopped)
            return "idle"
        if control.paused:
            if control.take_step_credit():
                return "step"
            if not m.parked:
                self._bank(m)
                m.parked = True
                self._to_solo(m)
                self._emit_all(m)
                for callback in m.trainer.callbacks:
                    callback.on_pause(m.step)
            else:
                for callback in m.trainer.callbacks:
                    callback.on_parked(m.step)
            return "idle"
        if m.parked:
            m.parked = False
            m.resumed_at = time.perf_counter()
            for callback in m.trainer.callbacks:
                callback.on_resume(m.step)
        control.settle()
        return "run"

    def _round(self, budget: ReportBudget | None) -> bool:
        """Controls, one step of every running member, reports; False when all are idle."""
        running: list[_Member] = []
        busy = False
        for m in list(self.members.values()):
            try:
                what = self._controls(m)
                if what == "step":
                    busy = True
                    started = time.perf_counter()
                    if self._solo_step(m):
                        m.elapsed += time.perf_counter() - started
                        if m.step >= m.trainer.spec.max_steps:
                            self._finish(m, RunStatus.completed)
                        elif not m.control.has_step_credits():
                            self._emit_all(m)
                elif what == "run":
                    running.append(m)
            except Exception as error:  # one member's hooks must not stop the others
                log.exception("cohort member %s failed", m.job_id)
                if m.job_id in self.members:
                    self._fail(m, "error", f"error at step {m.step}: {error}")
        if not running:
            return busy
        group = [m for m in running if m.stacked]
        if len(group) < max(2, self.pool.min_size):
            group = []  # too few to gain from stacking: they step solo
        stepped = self._cohort_step(group) if group else []
        grouped = {m.job_id for m in group}  # (a set: _Member's == compares every field)
        for m in running:
            if m.job_id not in grouped and self._solo_step(m):
                stepped.append(m)
        going = []
        for m in stepped:
            if m.step >= m.trainer.spec.max_steps:
                self._finish(m, RunStatus.completed)
            else:
                going.append(m)
        self._report(going, budget)
        return True

    def run(self) -> Generator[Yield, None, None]:
        """The runner as scheduler slices; ends when it has no member and none is coming."""
        budget = self.pool.report_budget
        if budget is not None:
            budget.join()
        try:
            slice_end = time.perf_counter() + self.pool.slice_seconds
            while True:
                joins = self.pool.take_incoming(self)
                if joins is None:
                    return
                try:
                    for join in joins:
                        self._admit(join)
                    busy = self._round(budget)
                except Exception as error:  # a bug here: its members fail, the worker goes on
                    log.exception("a cohort runner failed")
                    for m in list(self.members.values()):
                        m.in_cohort = False  # its rows may be half changed: not read again
                        self._fail(m, "error", f"error at step {m.step}: {error}")
                    raise
                finally:
                    self.pool.flush()  # this round's hooks, in one message
                if not busy and not self.members:
                    # Its last member just ended: look at `incoming` again and end now if
                    # none came. Parked instead, nothing would wake it (its members'
                    # controls are gone) and the scheduler's close would wait it out.
                    continue
                if not busy:
                    yield Yield.PARKED
                    slice_end = time.perf_counter() + self.pool.slice_seconds
                elif time.perf_counter() >= slice_end:
                    yield Yield.SLICE
                    slice_end = time.perf_counter() + self.pool.slice_seconds
        finally:
            if budget is not None:
                budget.leave()
            for join in self.pool.forget(self):  # only a failed runner has any
                join.events.on_start_failed("could not start: its cohort runner failed")
            self.pool.flush()


__all__ = ["CohortRunner", "Join"]
