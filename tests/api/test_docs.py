"""Tests for /docs: Swagger UI's page and every file it loads come from the server itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nnplay.api import docs
from nnplay.api.app import create_app
from nnplay.resources import resource_dir

VENDORED = (resource_dir("static") / "vendor" / "swagger-ui" / "swagger-ui-bundle.js").is_file()


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A client of a fresh app, lifespan running."""
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.mark.skipif(not VENDORED, reason="run `make vendor` first (static/vendor/swagger-ui)")
def test_docs_page_loads_every_asset_from_the_server(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    html = response.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']""", html)
    urls = [a or b for a, b in urls]
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert "/openapi.json" in urls
    assert not [url for url in urls if "//" in url], "/docs loads files from another host"
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert '"validatorUrl": null' in html  # no badge that posts the spec to swagger.io


def test_redoc_is_not_served(client: TestClient) -> None:
    """ReDoc would load its script and fonts from CDNs, so there is no /redoc."""
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "nnplay"


def test_docs_without_vendored_files_name_the_fix(client: TestClient, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout where `make vendor` never ran: a sentence naming it, not a blank page."""
    monkeypatch.setattr(docs, "resource_dir", lambda name: tmp_path / name)
    response = client.get("/docs")
    assert response.status_code == 503
    assert "make vendor" in response.text and "/openapi.json" in response.text
