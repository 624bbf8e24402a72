"""The SQLite run store: runs, points, thinning, truncation, migration, failing disks."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from nnplay.jobs.job import MetricsHistory
from nnplay.jobs.store import SCHEMA_VERSION, RunStore


def _point(step: int, loss: float = 1.0) -> dict[str, float]:
    return {"step": step, "train_loss": loss, "test_loss": loss / 2, "test_accuracy": 0.5}


def test_runs_and_points_survive_reopening(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run("abc123", "first", {"seed": 1}, "running", 10.0, 0.03)
    for seq in range(5):
        store.add_point("abc123", seq, _point(seq * 10, 1.0 / (seq + 1)), stride=1)
    store.update_run("abc123", status="completed", finished_at=20.0)
    store.close()

    reopened = RunStore(tmp_path / "runs.sqlite3")
    (run,) = reopened.load_runs()
    assert (run.id, run.name, run.status, run.spec) == ("abc123", "first", "completed", {"seed": 1})
    assert [point["step"] for _, point in run.points] == [0, 10, 20, 30, 40]
    assert run.latest is not None and run.latest["step"] == 40
    assert run.step == 40
    reopened.close()


def test_best_test_loss_is_tracked(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run("r1", "", {}, "running", 1.0, 0.1)
    for seq, loss in enumerate([0.9, 0.2, 0.5]):
        store.add_point("r1", seq, _point(seq, loss), stride=1)
    store.flush()
    db = sqlite3.connect(tmp_path / "runs.sqlite3")
    best = db.execute("SELECT best_test_loss FROM runs WHERE id='r1'").fetchone()[0]
    assert best == 0.1  # test_loss is loss / 2 in _point
    db.close()
    store.close()


def test_thinning_keeps_the_same_points_as_the_history(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run("r1", "", {}, "running", 1.0, 0.1)
    history = MetricsHistory(capacity=8)
    for step in range(50):
        point = _point(step)
        seq, thinned = history.append(point)
        store.add_point("r1", seq, point, history.stride)
        if thinned:
            store.thin_points("r1", history.stride)
    store.close()
    (run,) = RunStore(tmp_path / "runs.sqlite3").load_runs()
    restored = MetricsHistory(capacity=8)
    restored.restore(run.points, run.history_stride, run.latest)
    assert restored.points() == history.points()
    assert restored.points()[0]["step"] == 0 and restored.points()[-1]["step"] == 49


def test_truncate_and_delete(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run("r1", "", {}, "running", 1.0, 0.1)
    store.insert_run("r2", "", {}, "running", 2.0, 0.1)
    for seq in range(10):
        store.add_point("r1", seq, _point(seq), stride=1)
    store.truncate_points("r1", from_step=5)
    store.delete_run("r2")
    store.flush()
    runs = store.load_runs()
    assert [run.id for run in runs] == ["r1"]
    assert [point["step"] for _, point in runs[0].points] == [0, 1, 2, 3, 4]
    store.close()


def test_schema_version_is_recorded(tmp_path: Path) -> None:
    RunStore(tmp_path / "runs.sqlite3").close()
    db = sqlite3.connect(tmp_path / "runs.sqlite3")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_full_disk_holds_changes_and_loses_none_once_space_returns(
        tmp_path: Path, disk_full: threading.Event) -> None:
    """Disk full is injected at the write layer (see the `disk_full` fixture)."""
    store = RunStore(tmp_path / "runs.sqlite3", flush_interval=0.05)
    store.insert_run("before", "", {}, "running", 1.0, 0.1)
    assert store.flush() and store.health().ok
    disk_full.set()
    store.insert_run("during", "made while full", {}, "running", 2.0, 0.1)
    for seq in range(20):
        store.add_point("during", seq, _point(seq), stride=1)
    store.update_run("during", status="completed")
    store.delete_run("before")
    _wait_for(lambda: not store.health().ok)
    health = store.health()
    assert health.reason is not None and "database or disk is full" in health.reason
    assert not store.flush(timeout=0.3)  # nothing is claimed written while it is not
    store.update_run("during", name="renamed while full")  # the writer is still alive
    time.sleep(0.6)  # a few retries fail too
    disk_full.clear()
    assert store.flush(timeout=10.0)
    assert store.health().ok
    store.close()

    (run,) = RunStore(tmp_path / "runs.sqlite3").load_runs()
    assert (run.id, run.name, run.status) == ("during", "renamed while full", "completed")
    assert [point["step"] for _, point in run.points] == list(range(20))


def test_past_the_memory_bound_each_run_keeps_its_newest_point(
        tmp_path: Path, disk_full: threading.Event) -> None:
    """Disk full is injected at the write layer; `max_held` bounds what waits in memory."""
    store = RunStore(tmp_path / "runs.sqlite3", flush_interval=0.05, max_held=10)
    disk_full.set()
    store.insert_run("r1", "", {}, "running", 1.0, 0.1)
    for seq in range(500):
        store.add_point("r1", seq, _point(seq), stride=1)
    store.update_run("r1", status="stopped")
    _wait_for(lambda: not store.health().ok)
    disk_full.clear()
    assert store.flush(timeout=10.0)
    store.close()
    (run,) = RunStore(tmp_path / "runs.sqlite3").load_runs()
    assert run.status == "stopped"  # run changes are never dropped
    assert run.step == 499 and run.latest is not None and run.latest["step"] == 499
    assert len(run.points) <= 11


def test_the_store_opens_on_a_full_disk_and_saves_once_space_returns(
        tmp_path: Path, disk_full: threading.Event) -> None:
    """Disk full (injected at the write layer) from the first write of a new store on."""
    disk_full.set()
    store = RunStore(tmp_path / "runs.sqlite3", flush_interval=0.05)
    store.insert_run("r1", "", {}, "running", 1.0, 0.1)
    _wait_for(lambda: not store.health().ok)
    assert store.load_runs() == []
    disk_full.clear()
    assert store.flush(timeout=10.0)
    assert [run.id for run in store.load_runs()] == ["r1"]
    store.close()


def test_one_bad_row_does_not_roll_back_the_others(tmp_path: Path) -> None:
    """A point of a run deleted in the same batch violates the foreign key: only it goes."""
    store = RunStore(tmp_path / "runs.sqlite3", flush_interval=0.5)
    store.insert_run("kept", "", {}, "running", 1.0, 0.1)
    store.insert_run("deleted", "", {}, "running", 2.0, 0.1)
    assert store.flush()
    store.add_point("kept", 0, _point(0), stride=1)
    store.delete_run("deleted")
    store.add_point("deleted", 0, _point(0), stride=1)  # arrives after its DELETE
    store.update_run("kept", status="completed")
    assert store.flush()
    store.close()
    (run,) = RunStore(tmp_path / "runs.sqlite3").load_runs()
    assert (run.id, run.status, len(run.points)) == ("kept", "completed", 1)
