"""Query parameters a route does not take are refused (400), naming them.

A misspelt or unsupported filter (`?phone=` where a list has no such filter) used
to be ignored silently, so a client got every row and believed it was filtered.
One app-wide dependency checks every /api/v1 route against the query parameters
its own signature and its dependencies declare, so no route can forget it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from smscast.api.problems import ApiProblem

API_PREFIX = "/api/v1"
#: The names a route takes, kept on the route itself after its first request (routes
#: are not hashable, and a table keyed by id() could hand a dropped app's names on).
_NAMES = "_smscast_query_names"


def declared_query_names(dependant: Dependant) -> frozenset[str]:
    """Every query parameter name (alias) the route and its dependencies read."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared_query_names(sub)
    return frozenset(names)


async def refuse_unknown_query(request: Request) -> None:
    """400 `unknown_parameter` on the first query parameter the route does not take."""
    if not request.url.path.startswith(API_PREFIX) or not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known: frozenset[str] | None = getattr(route, _NAMES, None)
    if known is None:
        known = declared_query_names(route.dependant)
        setattr(route, _NAMES, known)
    for name in request.query_params:
        if name not in known:
            takes = ", ".join(sorted(known)) or "none"
            raise ApiProblem(
                400,
                "unknown_parameter",
                f'"{name}" is not a query parameter of {request.method} {route.path} '
                f"(it takes: {takes})",
                field=name,
            )
