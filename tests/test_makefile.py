"""Tests for the Makefile a newcomer runs: set-up steps that show progress, a clean `make test`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rules() -> dict[str, list[str]]:
    """Each Makefile target with its recipe lines (tabs stripped)."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
        elif match := re.match(r"^([^\s:=#][^:=]*):(?!=)", line):
            current = []
            for target in match.group(1).split():
                found[target] = current
        elif not line.startswith("\t"):
            current = None
    return found


INSTALL_STEPS = ["$(BIN)/python", "$(VENV)/.installed", "$(VENV)/.installed-dev",
                 "static/vendor/.installed"]


@pytest.mark.parametrize("target", INSTALL_STEPS)
def test_each_install_step_says_what_it_does_and_shows_progress(
        rules: dict[str, list[str]], target: str) -> None:
    """The first `make serve` takes minutes: no step may hide its output."""
    recipe = rules[target]
    assert recipe[0].startswith("@echo"), f"{target} does not announce itself"
    for line in recipe:
        if "pip install" in line or "npm install" in line:
            assert not re.search(r"(^|\s)(--quiet|-q|--silent|-s)(\s|$)", line), line


def test_make_screenshots_updates_the_docs_pictures(rules: dict[str, list[str]]) -> None:
    """`make test` leaves docs/*.png alone; only `make screenshots` asks to overwrite them."""
    (command,) = rules["screenshots"]
    assert "NNPLAY_UPDATE_SCREENSHOTS=1" in command
    assert "tests/browser/test_screenshot.py" in command
    assert not any("NNPLAY_UPDATE_SCREENSHOTS" in line for line in rules["test"])
    pictures = (ROOT / "tests" / "browser" / "test_screenshot.py").read_text()
    assert '"test-artifacts"' in pictures and "NNPLAY_UPDATE_SCREENSHOTS" in pictures
    assert "test-artifacts/" in (ROOT / ".gitignore").read_text().splitlines()
