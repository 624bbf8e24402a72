"""Waiting in the job tests: poll a condition every few milliseconds until it holds.

Not named conftest: test modules import it by name, as the other folders' helpers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT = 60.0  # seconds a test waits for something (never reached when it passes)


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll `condition` until it holds, or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.005)
