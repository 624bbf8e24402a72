"""Reporting stays affordable: a shared budget spaces reports, unwatched runs skip pictures."""

from __future__ import annotations

import threading
import time

from nnplay.presets import get_preset
from nnplay.train.callbacks import Callback
from nnplay.train.control import TrainerControl
from nnplay.train.events import AnySnapshot
from nnplay.train.report_budget import SPENDING_WINDOW, ReportBudget, ReportKind
from nnplay.train.trainer import Trainer, TrainerOptions


def test_spacing_grows_with_the_runs_sharing_the_budget() -> None:
    budget = ReportBudget(share=0.5)
    budget.join()
    alone = budget.spacing(0.001, ReportKind.snapshots)
    for _ in range(49):
        budget.join()
    crowded = budget.spacing(0.001, ReportKind.snapshots)
    assert crowded == 50 * alone
    # Nothing spent on metrics: fifty runs' snapshots at this spacing take the whole share.
    assert abs(50 * 0.001 / crowded - 0.5) < 1e-9
    for _ in range(50):
        budget.leave()


def test_a_kind_takes_what_the_other_leaves_but_always_keeps_half() -> None:
    budget = ReportBudget(share=0.5)
    budget.join()
    # Metrics spent 0.2 CPU s lately: 0.1 of a core over the 2 s window.
    budget.spent(ReportKind.metrics, 0.2)
    assert abs(budget.allowance(ReportKind.snapshots) - 0.4) < 0.01
    assert budget.allowance(ReportKind.metrics) == 0.5  # snapshots spent nothing
    # Snapshots spending the whole share leave metrics their half, no less.
    budget.spent(ReportKind.snapshots, 2.0)
    assert budget.allowance(ReportKind.metrics) == 0.25
    assert abs(budget.allowance(ReportKind.snapshots) - 0.4) < 0.01


def test_spending_is_forgotten_after_a_few_windows() -> None:
    budget = ReportBudget(share=0.5)
    budget.spent(ReportKind.metrics, 1.0)
    assert budget.allowance(ReportKind.snapshots) == 0.25
    time.sleep(0.2)
    decayed = budget.rate(ReportKind.metrics)
    # exp(-0.2 / 2) = 0.905 of it is left after 0.2 s (less if the sleep ran long).
    assert 0.5 < decayed / (1.0 / SPENDING_WINDOW) < 0.91


class SnapshotCounter(Callback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_snapshot(self, snapshot: AnySnapshot) -> None:
        self.steps.append(snapshot.step)


def _run_for(watched: bool, seconds: float = 0.6) -> list[int]:
    counter = SnapshotCounter()
    control = TrainerControl()
    control.set_watched(watched)
    trainer = Trainer(get_preset("circle").build({"max_steps": 1_000_000}),
                      TrainerOptions(snapshot_interval=0.02, metrics_interval=0.02,
                                     callbacks=[counter]), control)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    time.sleep(seconds)
    control.stop()
    thread.join()
    return counter.steps


def test_an_unwatched_run_takes_only_its_first_and_last_snapshot() -> None:
    assert len(_run_for(watched=False)) == 2  # the start and the end
    assert len(_run_for(watched=True)) > 5


def test_a_run_that_becomes_watched_starts_taking_snapshots() -> None:
    counter = SnapshotCounter()
    control = TrainerControl()
    control.set_watched(False)
    trainer = Trainer(get_preset("circle").build({"max_steps": 1_000_000}),
                      TrainerOptions(snapshot_interval=0.02, callbacks=[counter]), control)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    time.sleep(0.3)
    before = len(counter.steps)
    control.set_watched(True)
    time.sleep(0.4)
    control.stop()
    thread.join()
    assert before == 1 and len(counter.steps) > before + 3
