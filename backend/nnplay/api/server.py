"""Start uvicorn with the app, from `nnplay serve`."""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from nnplay.api.app import create_app
from nnplay.config import Settings


def serve(overrides: dict[str, Any]) -> int:
    """Run the server until interrupted; `overrides` beat `NNPLAY_*` variables."""
    settings = Settings(**overrides)
    if settings.host in ("0.0.0.0", "::"):
        print(f"nnplay: listening on every interface (port {settings.port}); anyone who can "
              "reach this machine can use the playground", file=sys.stderr)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    print(f"nnplay: open http://{settings.host}:{settings.port}/", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                ws_max_size=64 * 1024)
    return 0
