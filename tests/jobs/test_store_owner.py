"""Run owners in the store: new runs keep theirs, runs stored before owners existed have none."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from nnplay.api.frames import snapshot_frames
from nnplay.api.security import Caller
from nnplay.jobs.executors import ThreadExecutor
from nnplay.jobs.manager import JobManager
from nnplay.jobs.store import _MIGRATIONS, SCHEMA_VERSION, RunStore
from nnplay.spec import parse_spec


def test_a_run_keeps_its_owner_across_reopening(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.insert_run("abc123", "mine", {"seed": 1}, "completed", 10.0, 0.03, owner="alice")
    store.close()
    reopened = RunStore(tmp_path / "runs.sqlite3")
    (run,) = reopened.load_runs()
    assert run.owner == "alice"
    reopened.close()


def test_runs_stored_before_owners_migrate_and_only_the_admin_may_change_them(
        tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite3"
    old = sqlite3.connect(path)  # a database as version 1 of the schema left it
    old.executescript(f"BEGIN; {_MIGRATIONS[1]} PRAGMA user_version = 1; COMMIT;")
    spec = parse_spec({"dataset": {"name": "circle"}, "max_steps": 10}).model_dump_json()
    old.execute("INSERT INTO runs (id, name, spec, status, created_at) VALUES (?, ?, ?, ?, ?)",
                ("old123", "from before", spec, "completed", 1.0))
    old.commit()
    old.close()

    store = RunStore(path)
    manager = JobManager(ThreadExecutor(), snapshot_frames, device="cpu", store=store)
    try:
        assert manager.restore() == 1
        job = manager.get("old123")
        assert job.owner is None
        assert not Caller("anyone").may_control(job.owner)
        assert Caller("teacher", admin=True).may_control(job.owner)
        assert store._read.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        manager.shutdown()
        store.close()
