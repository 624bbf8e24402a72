"""The wheel carries everything `nnplay serve` needs, and nothing installed by npm."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from nnplay.api.docs import SWAGGER_UI_FILES

REPO = Path(__file__).resolve().parent.parent


def test_wheel_contains_the_page_and_static_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("nnplay-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nnplay/frontend/index.html" in names
    assert "nnplay/frontend/js/main.js" in names
    assert "nnplay/static/css/nnplay.css" in names
    assert "nnplay/spec/experiment.py" in names and "nnplay/api/app.py" in names
    assert not any("node_modules" in name for name in names)
    if (REPO / "static" / "vendor" / "uPlot.iife.min.js").exists():  # after `make vendor`
        assert "nnplay/static/vendor/uPlot.iife.min.js" in names
    if (REPO / "static" / "vendor" / "swagger-ui").exists():  # /docs works from the wheel too
        for name in SWAGGER_UI_FILES:
            assert f"nnplay/static/vendor/swagger-ui/{name}" in names
