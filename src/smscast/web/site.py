"""The whole site: the API app with the portal added to it.

`smscast serve` and the tests build it with `create_site`. The API under /api/v1
is unchanged (its middleware only looks at /api/v1); the portal answers every other
path, behind `guard.PortalGuard` (security headers, CSRF).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware import Middleware

from smscast.api.app import create_app
from smscast.config import Settings
from smscast.web.errors import csrf_refusal, install_page_errors
from smscast.web.guard import PortalGuard
from smscast.web.routes import NAV, ROUTERS
from smscast.web.templating import build_templating

STATIC_DIR = Path(__file__).parent / "static"


def _now() -> datetime:
    return datetime.now(UTC)


def create_site(
    settings: Settings,
    engine: Engine | None = None,
    *,
    clock: Callable[[], datetime] = _now,
) -> FastAPI:
    """The API and the portal on one app; `clock` gives the portal its "now" (tests fix it).

    Every language's catalogue is loaded here: a missing one stops the start.
    """
    app = create_app(settings, engine)  # builds the database engine when none is given
    app.state.templating = build_templating(NAV)
    app.state.portal_clock = clock
    app.state.portal_key = settings.resolved_secret_key()  # read once: CSRF tokens use it
    # Set by `smscast serve` when it is asked to stop: live streams end at their next
    # poll instead of holding the stop until the browser goes away.
    app.state.stopping = threading.Event()
    # Innermost of the user middleware: inside the API's body-size limit, before routing.
    app.user_middleware.append(Middleware(PortalGuard, refuse=csrf_refusal))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        app.include_router(router)
    install_page_errors(app)
    return app
