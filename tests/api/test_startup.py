"""Start-up: the server answers before its workers have warmed up, and says when they have."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from realserver import ServerProcess


def test_a_job_started_before_the_workers_are_ready_trains_and_the_log_says_ready(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory({"NNPLAY_LOG_LEVEL": "info", "NNPLAY_WORKERS": "1"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        # Straight after the first answer: the worker may still be importing torch.
        spec: dict[str, Any] = {"dataset": {"name": "circle"}, "max_steps": 200}
        created = client.post("/api/jobs", json=spec)
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/api/jobs/{job_id}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the job never completed"
            time.sleep(0.2)
    log = server.log.read_text()
    assert "nnplay: workers ready" in log
    # The server answered before the workers were ready, not after.
    assert log.index("Application startup complete") < log.index("workers ready")
