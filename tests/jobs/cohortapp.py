"""What the cohort job tests (dense and GAN) share: in-process apps with cohorts on or
off, a counter of batched steps, and comparing a member's point with solo's.

Not named conftest: other test folders' helpers are imported by module name too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.jobs.job import Job
from nnplay.jobs.manager import JobManager


def final(job: Job) -> dict[str, Any]:
    """The job's last metrics point."""
    assert job.latest is not None
    return job.latest


def close(a: dict[str, Any], b: dict[str, Any], figures: Iterable[str]) -> None:
    """Two metrics points agree on `figures` within float tolerance (None where b's is)."""
    assert a["step"] == b["step"]
    for key in figures:
        if b.get(key) is None:
            assert a.get(key) is None, key
        else:
            assert a[key] == pytest.approx(b[key], rel=1e-3, abs=1e-4), key


@pytest.fixture(name="make_app")
def cohort_apps(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., JobManager]]:
    """In-process apps (thread executor, no disk) with cohorts on or off."""
    apps: list[FastAPI] = []

    def make(cohorts: str, **settings: Any) -> JobManager:
        monkeypatch.setenv("NNPLAY_COHORTS", cohorts)
        app = create_app(Settings(**{"workers": 0, "persist": False, "device": "cpu",
                                     **settings}))
        apps.append(app)
        manager: JobManager = app.state.manager
        return manager

    yield make
    for app in apps:
        app.state.manager.shutdown(timeout=5.0)


def count_steps(monkeypatch: pytest.MonkeyPatch, engine: type[Any]) -> list[int]:
    """How many members each `engine.step` stepped (the real step still runs)."""
    sizes: list[int] = []
    real = engine.step

    def counted(self: Any) -> Any:
        sizes.append(len(self))
        return real(self)

    monkeypatch.setattr(engine, "step", counted)
    return sizes
