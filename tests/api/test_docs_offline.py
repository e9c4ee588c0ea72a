"""The API documentation works without internet: /docs loads nothing from another host,
runs a Swagger UI that reads OpenAPI 3.1, and says plainly when its files are missing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from smscast.api.app import create_app
from smscast.api.docs import DOCS_ASSETS, DOCS_FILES, missing_files
from smscast.config import Settings

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_page_loads_its_assets_from_this_server(settings: Settings) -> None:
    assert missing_files(DOCS_ASSETS) == [], f"run ./dev to copy Swagger UI into {DOCS_ASSETS}"
    client = TestClient(create_app(settings))
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http" not in page.text.lower()
    assert not re.search(r"""(?:src|href|url)\s*[=:]\s*["']?(?:https?:)?//""", page.text)
    # Swagger UI would otherwise show a badge fetched from validator.swagger.io.
    assert '"validatorUrl": null' in page.text
    assets = re.findall(r"""(?:src|href)="([^"]+)\"""", page.text)
    assert len(assets) == 3
    for asset in assets:
        assert asset.startswith("/docs/static/")
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert CONTENT_TYPES[asset[asset.rfind(".") :]] in answer.headers["content-type"]
        assert len(answer.content) == int(answer.headers["content-length"]) > 0


def test_the_served_swagger_ui_is_version_5_which_reads_openapi_3_1(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1.")

    bundle = client.get("/docs/static/swagger-ui-bundle.js")

    assert bundle.status_code == 200
    version = re.search(r'PACKAGE_VERSION:"(\d+)\.', bundle.text)
    assert version is not None, "the bundle names no Swagger UI version"
    assert int(version.group(1)) >= 5, f"Swagger UI {version.group(1)} cannot read OpenAPI 3.1"


def test_docs_without_swagger_ui_files_answer_503_naming_dev_start(
    settings: Settings, tmp_path: Path
) -> None:
    client = TestClient(create_app(settings, docs_assets=tmp_path / "not-installed"))

    page = client.get("/docs")

    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "./dev start" in page.text
    for name in DOCS_FILES:
        assert name in page.text
    assert "/openapi.json" in page.text
    script = client.get("/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 503
    assert "./dev start" in script.text
    assert client.get("/openapi.json").status_code == 200


def test_docs_name_only_the_files_that_are_missing(settings: Settings, tmp_path: Path) -> None:
    shutil.copy(DOCS_ASSETS / "swagger-ui.css", tmp_path / "swagger-ui.css")
    client = TestClient(create_app(settings, docs_assets=tmp_path))

    page = client.get("/docs")

    assert page.status_code == 503
    assert "swagger-ui-bundle.js" in page.text
    assert "favicon-32x32.png" in page.text
    assert "swagger-ui.css" not in page.text


def test_only_the_files_the_docs_page_loads_are_served(settings: Settings) -> None:
    client = TestClient(create_app(settings))

    for name in ("swagger-initializer.js", "index.html", "package.json"):
        assert client.get(f"/docs/static/{name}").status_code == 404, name


def test_redoc_is_not_offered_without_an_offline_copy(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200
