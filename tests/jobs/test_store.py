"""The SQLite run store: runs, points, thinning, truncation, migration."""

from __future__ import annotations

import sqlite3
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
