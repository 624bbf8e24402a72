"""Schemathesis over `/openapi.json`: every answer of the in-process app matches the document.

The app runs in this process through schemathesis's ASGI transport (`NNPLAY_WORKERS=0`,
runs stored under the test's tmp folder). Generated requests hit random ids and, for
half of the examples, a real paused job, so the answers of a live job are checked too.
Every route in the document is fuzzed, downloads included; the websocket is not an
OpenAPI operation (its contract is tested in test_stream.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from nnplay.api.app import create_app
from nnplay.config import Settings
from nnplay.spec import parse_spec

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _fuzz(operation: Any, job_id: str, failures: list[str]) -> None:
    """Send `operation` bounded examples; every failed check is added to `failures`."""
    turns = itertools.count()

    @given(operation.as_strategy())
    @settings(max_examples=15, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def send(case: Any) -> None:
        if "job_id" in (case.path_parameters or {}) and next(turns) % 2 == 0:
            case.path_parameters["job_id"] = job_id  # half the examples hit a real job
        try:
            case.call_and_validate(checks=CHECKS)
        except FailureGroup as failure:
            failures.append(f"{operation.label}: {failure}")

    send()


def test_every_answer_matches_the_openapi_document(tmp_path: Path) -> None:
    """No 5xx, no status the document does not list, no body that breaks its schema.

    At most one job trains and four exist (the rest get 429, which is documented), so
    the jobs the fuzzer creates cannot load the machine.
    """
    app = create_app(Settings(data_dir=tmp_path / "data", workers=0, max_running_jobs=1,
                              max_jobs=4))
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the lifespan
        job = app.state.manager.create(parse_spec(
            {"dataset": {"name": "circle", "n_samples": 100}, "max_steps": 200}), paused=True)
        failures: list[str] = []
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            _fuzz(operation, job.id, failures)
    finally:
        shutdown_lifespans()  # stops the app's jobs and closes its store
    assert len(operations) >= 15, "the document lost its routes"
    assert not failures, "\n\n".join(failures)
