"""A cohort runner: the jobs of one worker sharing a cohort key, trained as one engine.

A pool (`nnplay.jobs.cohort_pool`, seen here as `RunnerPool`) hands it the jobs of
its key as `Join`s; the key's task picks the stacked engine (`Cohort` for dense
supervised runs, `GanCohort` for GAN pairs: `nnplay.train.cohort_engines`). A runner
is one generator on the worker's `RunScheduler` (not a thread of its own: threads
would fight solo runs for the interpreter lock), stepping all its running members in
one batched step; it owns their membership (admission, moves between the cohort's
rows and their trainers, controls, ends) and the rounds. Each member keeps its solo
trainer beside the cohort (its "shadow"): it gives start info, probes, the final
per-class report and checkpoints, and holds the member's state whenever the member
is not stepping in the cohort (paused, stepping N while paused, alone, ended).
Members move in and out at step boundaries in the solo `state_dict()` format, so
what a viewer sees matches a solo run. Their metrics points and snapshots are
`CohortReports`' (`nnplay.jobs.cohort_reports`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Protocol

from nnplay.jobs.cohort_reports import CohortReports, Member
from nnplay.jobs.runner import RunEvents, RunRequest, prepare_run
from nnplay.train.cohort_engines import CohortEngine, make_engine
from nnplay.train.control import TrainerControl
from nnplay.train.events import Failure, RunStatus, TrainResult
from nnplay.train.loop import Diverged, Yield
from nnplay.train.report_budget import ReportBudget

log = logging.getLogger("nnplay.jobs")


@dataclass
class Join:
    """A job handed to a runner, admitted at its next round."""

    request: RunRequest
    control: TrainerControl
    events: RunEvents
    wanted: threading.Event
    on_done: Callable[[], None] | None


class RunnerPool(Protocol):
    """What a runner needs from the pool that made it (`nnplay.jobs.cohort_pool.CohortPool`)."""

    min_size: int  # fewer running members than this step solo
    report_budget: ReportBudget | None
    slice_seconds: float
    flush: Callable[[], None]  # sends the hooks reported so far

    def take_incoming(self, runner: CohortRunner) -> list[Join] | None:
        """The runner's new jobs; None (and the runner is forgotten) when it is done."""

    def forget(self, runner: CohortRunner) -> list[Join]:
        """Drop an ended runner; returns the jobs that were still waiting for it."""


class CohortRunner:
    """The members of one cohort key in one worker, stepped together on its scheduler."""

    def __init__(self, pool: RunnerPool) -> None:
        self.pool = pool
        self.reports = CohortReports(pool.report_budget, pool.slice_seconds)
        self.control = TrainerControl()  # only a wake-up signal for the scheduler
        self.incoming: list[Join] = []  # guarded by the pool's lock
        self.members: dict[str, Member] = {}
        self.cohort: CohortEngine | None = None

    # ----- membership -----------------------------------------------------------------
    def _admit(self, join: Join) -> None:
        prepared = prepare_run(join.request, join.control, join.events, join.wanted)
        if prepared is None:
            if join.on_done is not None:
                join.on_done()
            return
        trainer, saver = prepared
        join.events.on_trainer(trainer)
        now = time.perf_counter()
        m = Member(join.request.job_id, join.control, trainer, saver, join.on_done,
                   trainer.step, trainer.elapsed, now, trainer.device.type == "cpu",
                   mark=(trainer.step, trainer.elapsed))
        self.members[m.job_id] = m
        try:
            for callback in trainer.callbacks:
                callback.on_train_start(trainer.start_info())
            trainer.network.train()
            self.reports.emit_all(m, self.cohort)
        except Exception as error:
            self._fail(m, "error", f"error at step {m.step}: {error}")
        m.next_metrics = m.next_snapshot = time.perf_counter() + trainer.options.metrics_interval

    def _to_solo(self, m: Member) -> None:
        """Move a member's state from the cohort's rows into its trainer."""
        if m.in_cohort and self.cohort is not None:
            state = self.cohort.remove(m.job_id)
            state["elapsed"] = m.elapsed
            m.trainer.load_state_dict(state)
            m.in_cohort = False
        m.trainer.step, m.trainer.elapsed = m.step, m.elapsed

    def _to_cohort(self, members: list[Member]) -> None:
        joining = [m for m in members if not m.in_cohort]
        if not joining:
            return
        if self.cohort is None:
            options = joining[0].trainer.options
            self.cohort = make_engine(joining[0].trainer.spec, options.grid_size,
                                      options.neuron_grid_size)
        for m in joining:
            m.trainer.step, m.trainer.elapsed = m.step, m.elapsed
        self.cohort.add_many([(m.job_id, m.trainer.spec, m.trainer.state_dict())
                              for m in joining])
        for m in joining:
            m.in_cohort = True

    def _leave(self, m: Member, result: TrainResult) -> None:
        self.members.pop(m.job_id, None)
        for callback in m.trainer.callbacks:
            callback.on_train_end(result)
        if m.on_done is not None:
            m.on_done()

    def _finish(self, m: Member, status: RunStatus) -> None:
        """A member ends (completed or stopped): final detailed point and snapshot, as solo."""
        if not m.parked:
            m.bank()
        try:
            self._to_solo(m)
            self.reports.emit_all(m, self.cohort, detailed=True)
        except Exception as error:
            self._fail(m, "error", f"error at step {m.step}: {error}")
            return
        self._leave(m, TrainResult(status=status, steps=m.step, seconds=m.elapsed,
                                   metrics=m.last_metrics))

    def _fail(self, m: Member, kind: str, reason: str) -> None:
        if m.in_cohort and self.cohort is not None and m.job_id in self.cohort:
            self.cohort.remove(m.job_id)
        m.in_cohort = False
        self._leave(m, TrainResult(status=RunStatus.failed, steps=m.step, seconds=m.elapsed,
                                   reason=reason, metrics=m.last_metrics,
                                   failure=Failure(kind, m.step, reason)))

    # ----- one round --------------------------------------------------------------------
    def _solo_step(self, m: Member, phase: str = "both") -> bool:
        """One step of a member on its own trainer (a GAN's `phase`: "d", "g" or "both");
        False if it failed (and left)."""
        self._to_solo(m)
        started = time.perf_counter()
        try:
            m.trainer.train_phase(phase)
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

    def _cohort_step(self, group: list[Member]) -> list[Member]:
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
            m.bank()
            self._fail(m, "diverged", reason)
        return [m for m in group if m.job_id not in result.diverged]

    def _controls(self, m: Member) -> str:
        """Act on a member's control; returns "run", "step" (one paused step) or "idle"."""
        control = m.control
        if not control.dirty:
            return "run"
        for target, lr in control.take_pending_lrs().items():  # "all", or a GAN's "g"/"d"
            m.trainer.set_lr(lr, target)  # (its optimizer is reloaded on leaving the cohort)
            if m.in_cohort and self.cohort is not None:
                self.cohort.set_lr(m.job_id, lr, target)
        control.take_pending_probe()  # dense networks have no feature maps to probe
        if control.stop_requested:
            self._finish(m, RunStatus.stopped)
            return "idle"
        if control.paused:
            if control.take_step_credit():
                return "step"
            if not m.parked:
                m.bank()
                m.parked = True
                self._to_solo(m)
                self.reports.emit_all(m, self.cohort)
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

    def _round(self) -> bool:
        """Controls, one step of every running member, reports; False when all are idle."""
        running: list[Member] = []
        busy = False
        for m in list(self.members.values()):
            try:
                what = self._controls(m)
                if what == "step":
                    busy = True
                    started = time.perf_counter()
                    if self._solo_step(m, m.control.step_phase):
                        m.elapsed += time.perf_counter() - started
                        if m.step >= m.trainer.spec.max_steps:
                            self._finish(m, RunStatus.completed)
                        elif not m.control.has_step_credits():
                            self.reports.emit_all(m, self.cohort)
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
        grouped = {m.job_id for m in group}  # (a set: Member's == compares every field)
        for m in running:
            if m.job_id not in grouped and self._solo_step(m):
                stepped.append(m)
        going = []
        for m in stepped:
            if m.step >= m.trainer.spec.max_steps:
                self._finish(m, RunStatus.completed)
            else:
                going.append(m)
        self.reports.report(going, self.cohort)
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
                    busy = self._round()
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


__all__ = ["CohortRunner", "Join", "RunnerPool"]
