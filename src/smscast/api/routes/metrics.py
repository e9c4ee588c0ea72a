"""GET /metrics: Prometheus's text format, for a scraper, not for the internet.

The figures tell how busy the platform is and how its connectors and numbers are
named, so the route answers only a caller on this machine (a loopback address, and no
proxy header saying it came from further away), or one sending
`Authorization: Bearer <SMSCAST_METRICS_TOKEN>` when that token is set.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import Engine

from smscast.api.deps import app_engine, app_settings
from smscast.api.problems import problem
from smscast.config import Settings
from smscast.engine.metrics.collector import utc_now
from smscast.engine.metrics.registry import CONTENT_TYPE, metrics_registry, render

router = APIRouter(tags=["operations"])
PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


@router.get("/metrics", include_in_schema=False)
def metrics(
    request: Request,
    settings: Settings = Depends(app_settings),
    engine: Engine = Depends(app_engine),
) -> Response:
    """Every smscast_* metric: the database's figures and the process's own. A refusal
    is answered here, as problem JSON on the portal's site too (not as a page)."""
    if not may_scrape(request, settings.metrics_token):
        return problem(
            403,
            "metrics_forbidden",
            "/metrics answers loopback callers, or `Authorization: Bearer <token>` with the "
            "token set in SMSCAST_METRICS_TOKEN",
        )
    clock = getattr(request.app.state, "portal_clock", utc_now)
    return Response(render(metrics_registry(engine, clock)), media_type=CONTENT_TYPE)


def may_scrape(request: Request, token: str) -> bool:
    """Whether the caller may read the metrics (see the module docstring)."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode()):  # fmt: skip
            return True
    if any(name in request.headers for name in PROXY_HEADERS):
        return False  # relayed by a proxy on this machine for someone elsewhere
    host = request.client.host if request.client is not None else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback  # ::ffff:127.0.0.1 from a dual-stack socket
    return address.is_loopback
