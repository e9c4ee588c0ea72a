"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from smscast import __version__
from smscast.config import Settings


def create_app(settings: Settings) -> FastAPI:
    """Builds the app for `settings`; nothing happens at import time."""
    app = FastAPI(
        title="smscast",
        version=__version__,
        description="Two-way SMS campaigns: contacts, consent, campaigns, inbound, tickets.",
    )
    app.state.settings = settings

    @app.get("/healthz", tags=["health"], summary="Liveness and version")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
