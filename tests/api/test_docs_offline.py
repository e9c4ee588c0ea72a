"""The API documentation works without internet: /docs loads nothing from another host."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from smscast.api.app import create_app
from smscast.config import Settings

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_page_loads_its_assets_from_this_server(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http" not in page.text.lower()
    assert not re.search(r"""(?:src|href|url)\s*[=:]\s*["']?(?:https?:)?//""", page.text)
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
    assert len(assets) == 3
    for asset in assets:
        assert asset.startswith("/docs/static/")
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert CONTENT_TYPES[asset[asset.rfind("."):]] in answer.headers["content-type"]
        assert len(answer.content) == int(answer.headers["content-length"]) > 0


def test_redoc_is_not_offered_without_an_offline_copy(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
