"""The FastAPI application factory: middleware, error shapes, and one router per subject."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware import Middleware
from swagger_ui_bundle import swagger_ui_path

from smscast import __version__
from smscast.api.links import router as links_router
from smscast.api.middleware import (
    BodyLimitMiddleware,
    CallerMiddleware,
    IdempotencyMiddleware,
    RateLimiter,
)
from smscast.api.problems import install_problem_handlers
from smscast.api.query_params import refuse_unknown_query
from smscast.api.routes import ROUTERS
from smscast.config import Settings
from smscast.store.db import create_db_engine

DESCRIPTION = """Two-way SMS campaigns: contacts, consent, campaigns, inbound, tickets.

**Authentication**: an API key as `Authorization: Bearer smc_…` (or `X-API-Key`), or a
session from `POST /api/v1/auth/login`. Every object belongs to the caller's workspace;
another workspace's objects answer 404.

**Conventions**: lists take `limit` and `cursor` and answer `items` and `next_cursor`;
a POST with an `Idempotency-Key` header is done once and its answer replayed on retries;
errors are `application/problem+json` with `code` and `field`; each key or session may
make `SMSCAST_API_RATE_LIMIT` requests per minute (over it: 429 with `Retry-After`).

**Webhooks we send** carry `Smscast-Signature: t=<unix>,v1=<hex>`, the hex being
HMAC-SHA256 with the endpoint's secret over `<t>.<raw body>`.
"""


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Builds the app for `settings`; nothing connects until the first request."""
    engine = engine or create_db_engine(settings.database_url)
    limiter = RateLimiter(settings.api_rate_limit)
    app = FastAPI(
        title="smscast",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        dependencies=[Depends(refuse_unknown_query)],
        docs_url=None,  # served by `_install_docs` from the installed package, not a CDN
        redoc_url=None,  # ReDoc has no installable copy: one offline docs page is enough
        middleware=[
            Middleware(BodyLimitMiddleware, max_bytes=settings.api_max_body_bytes),
            Middleware(CallerMiddleware, engine=engine, settings=settings, limiter=limiter),
            Middleware(IdempotencyMiddleware, engine=engine),
        ],
    )
    app.state.settings = settings
    app.state.engine = engine
    install_problem_handlers(app)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="Liveness and version",
        responses={
            200: {
                "content": {
                    "application/json": {"example": {"status": "ok", "version": __version__}}
                }
            }
        },
    )
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(links_router)
    _install_docs(app)
    return app


DOCS_STATIC = "/docs/static"


def _install_docs(app: FastAPI) -> None:
    """Serves Swagger UI at /docs from the `swagger-ui-bundle` package's own files.

    FastAPI's default page loads its script and styles from a CDN; smscast normally runs
    where there is no internet, and that page was blank there.
    """
    app.mount(DOCS_STATIC, StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
        )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs the webhook delivery worker next to the API while the server is up."""
    settings: Settings = app.state.settings
    stop = threading.Event()
    worker = None
    if settings.webhook_worker:
        from smscast.engine.webhooks.sender import run_webhook_worker

        worker = threading.Thread(
            target=run_webhook_worker,
            args=(app.state.engine, settings, stop),
            name="smscast-webhooks",
            daemon=True,
        )
        worker.start()
    try:
        yield
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=15)
