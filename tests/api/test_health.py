"""The server answers /healthz and documents itself at /docs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from smscast import __version__
from smscast.api.app import create_app
from smscast.config import Settings


def test_healthz_and_docs(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/healthz").json()["version"] == __version__
    assert client.get("/docs").status_code == 200
    assert "/healthz" in client.get("/openapi.json").json()["paths"]
