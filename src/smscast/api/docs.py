"""The API's own documentation page, /docs: Swagger UI served from this server.

FastAPI's default page loads Swagger UI from a CDN, and smscast normally runs where there
is no internet, so the page came up blank. The PyPI copy (`swagger-ui-bundle`) is
Swagger UI 4, which cannot read the OpenAPI 3.1 FastAPI writes ("Unable to render this
definition"). So `./dev` takes Swagger UI 5 from npm at the version and integrity hash
package-lock.json pins and copies the three files the page needs into `docs_static/`
next to this module (gitignored, shipped as package data). A plain `pip install` skips
that step; /docs then says so instead of showing an empty page.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_ASSETS = Path(__file__).parent / "docs_static"
DOCS_STATIC = "/docs/static"
# The files the page loads, with the type each is served as.
DOCS_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def install_docs(app: FastAPI, assets: Path = DOCS_ASSETS) -> None:
    """Adds /docs and its files under /docs/static, read from `assets` on each request
    (so running `./dev` while the server is up is enough to bring the page back)."""
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False, response_model=None)
    def docs() -> HTMLResponse:
        missing = missing_files(assets)
        if missing:
            return _assets_missing_page(missing, openapi_url)
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
            # No badge from validator.swagger.io: the page must not reach off the machine.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(DOCS_STATIC + "/{name}", include_in_schema=False, response_model=None)
    def docs_file(name: str) -> FileResponse | HTMLResponse:
        if name not in DOCS_FILES:
            raise HTTPException(404, f"/docs has no file named {name!r}")
        if missing_files(assets):
            return _assets_missing_page([name], openapi_url)
        return FileResponse(assets / name, media_type=DOCS_FILES[name])


def missing_files(assets: Path) -> list[str]:
    """The names of Swagger UI's files not (or no longer) in `assets`."""
    return [name for name in DOCS_FILES if not (assets / name).is_file()]


def _assets_missing_page(missing: list[str], openapi_url: str) -> HTMLResponse:
    """503, naming the files and the command that installs them."""
    names = ", ".join(f"<code>{escape(name)}</code>" for name in missing)
    return HTMLResponse(
        f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>smscast API docs are not installed</title></head>
<body>
<h1>The API docs are not installed</h1>
<p>Swagger UI's files ({names}) are missing from <code>smscast/api/docs_static/</code>.
Run <code>./dev start</code> from the smscast source folder: it fetches Swagger UI from
npm at the version <code>package-lock.json</code> pins and copies it there
(<code>pip install</code> alone does not).</p>
<p>The API itself works; its OpenAPI description is at
<a href="{escape(openapi_url)}">{escape(openapi_url)}</a>.</p>
</body>
</html>
""",
        status_code=503,
    )
