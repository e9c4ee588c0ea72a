"""The FastAPI application factory: middleware, error shapes, and one router per subject."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from starlette.middleware import Middleware

from smscast import __version__
from smscast.api.docs import DOCS_ASSETS, install_docs
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
from smscast.engine.ops.readiness import check_readiness
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


class SchemaOut(BaseModel):
    current: list[str]  # empty: the database has no schema yet
    expected: list[str]


class ConnectorBriefOut(BaseModel):
    id: int
    workspace_id: int
    name: str


class ConnectorSummaryOut(BaseModel):
    total: int
    enabled: int
    paused: int
    held: int
    sending: int
    connecting: int
    down: list[ConnectorBriefOut]
    waiting: list[ConnectorBriefOut]


class ReadinessOut(BaseModel):
    """What `/readyz` answers, ready (200) or not (503)."""

    status: str  # ready, not_ready
    version: str
    ready: bool
    problems: list[str]
    database: str
    database_ok: bool
    schema_: SchemaOut | None = Field(alias="schema")
    connectors: ConnectorSummaryOut | None


READY_EXAMPLE = {
    "status": "ready", "version": __version__, "ready": True, "problems": [],
    "database": "postgresql", "database_ok": True,
    "schema": {"current": ["0020"], "expected": ["0020"]},
    "connectors": {"total": 2, "enabled": 2, "paused": 0, "held": 2, "sending": 1,
                   "connecting": 0, "down": [{"id": 2, "workspace_id": 1, "name": "backup"}],
                   "waiting": []},
}  # fmt: skip
NOT_READY_EXAMPLE = {
    "status": "not_ready", "version": __version__, "ready": False,
    "problems": ["the database schema is at revision 0019, this version needs 0020: run "
                 "`smscast db upgrade`"],
    "database": "postgresql", "database_ok": True,
    "schema": {"current": ["0019"], "expected": ["0020"]}, "connectors": None,
}  # fmt: skip


def create_app(
    settings: Settings, engine: Engine | None = None, *, docs_assets: Path = DOCS_ASSETS
) -> FastAPI:
    """Builds the app for `settings`; nothing connects until the first request.

    `docs_assets` is where /docs finds Swagger UI's files (`./dev` puts them there).
    """
    engine = engine or create_db_engine(settings.database_url)
    limiter = RateLimiter(settings.api_rate_limit)
    app = FastAPI(
        title="smscast",
        version=__version__,
        description=DESCRIPTION,
        lifespan=_lifespan,
        dependencies=[Depends(refuse_unknown_query)],
        docs_url=None,  # served by `install_docs` from files npm installed, not a CDN
        redoc_url=None,  # one offline docs page is enough
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

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the database answers, its schema is current, connectors' state",
        description=(
            "200 when this process can serve: the database answers a query and its schema "
            "is at the newest revision this version knows. 503 otherwise, with `problems` "
            "saying what is wrong and how to fix it (`smscast db upgrade` for a schema "
            "behind). Connectors are reported, not failed on: texts for a connector that "
            "is down or has no worker wait in the outbox."
        ),
        response_model=ReadinessOut,
        responses={
            200: {"content": {"application/json": {"example": READY_EXAMPLE}}},
            503: {
                "model": ReadinessOut,
                "description": "Not ready: see `problems`",
                "content": {"application/json": {"example": NOT_READY_EXAMPLE}},
            },
        },
    )
    def readyz() -> JSONResponse:
        found = check_readiness(engine, datetime.now(UTC))
        return JSONResponse(
            {"status": "ready" if found.ready else "not_ready", "version": __version__,
             **dataclasses.asdict(found)},
            status_code=200 if found.ready else 503,
        )  # fmt: skip

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(links_router)
    install_docs(app, docs_assets)
    return app


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
