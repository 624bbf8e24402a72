"""Where the page's templates and static files are, in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """`frontend` or `static`: the repo's top-level folder, else the copy inside the wheel."""
    checkout = _PACKAGE.parent.parent / name  # backend/nnplay -> repo root
    if checkout.is_dir():
        return checkout
    return _PACKAGE / name
