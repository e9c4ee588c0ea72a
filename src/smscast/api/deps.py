"""What a route needs, as FastAPI dependencies: the database, the caller, permission.

The caller is resolved once per request by `middleware.CallerMiddleware`; these
dependencies read it, refuse a missing one (401) or a role without the needed
permission (403), and declare the security schemes so the OpenAPI spec shows them.

Each route names its one permission through `require(...)`, which registers it on the
dependency so that `route_permissions` can read the whole table back: the test that walks
every route as every role compares the answers with `core.roles.PERMISSIONS`, and a route
that declares no permission (and is not in `PUBLIC_ROUTES`) fails it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Depends, FastAPI, Header, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from sqlalchemy import Engine

from smscast.api.problems import ApiProblem
from smscast.config import Settings
from smscast.core.roles import INSTANCE_PERMISSIONS, Permission, allows
from smscast.engine.accounts.auth import AuthError, Caller
from smscast.engine.accounts.instance_admins import is_instance_admin
from smscast.engine.accounts.workspaces import WorkspaceRef

SESSION_COOKIE = "smscast_session"
bearer = HTTPBearer(auto_error=False, description="An API key (smc_…) or a session token")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="UI session")


@dataclass(frozen=True, slots=True)
class Api:
    """One request's view of the system: who asks, in which workspace, at what moment."""

    engine: Engine
    settings: Settings
    caller: Caller
    now: datetime

    @property
    def workspace(self) -> WorkspaceRef:
        return self.caller.workspace


def app_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def current_caller(
    request: Request,
    _bearer: object = Security(bearer),
    _key: object = Security(key_header),
    _cookie: object = Security(session_cookie),
) -> Caller:
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller):
        return caller
    error = getattr(request.state, "auth_error", None)
    if isinstance(error, AuthError):
        raise ApiProblem(
            401, error.problem.code, error.problem.message, headers={"WWW-Authenticate": "Bearer"}
        )
    raise ApiProblem(
        401,
        "no_credentials",
        "send an API key as `Authorization: Bearer smc_…` or `X-API-Key`, or sign in",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require(permission: Permission) -> Callable[..., Awaitable[Api]]:
    """A dependency giving the request's `Api` once the caller's role allows `permission`.

    Instance permissions (creating workspaces) go by the signed-in user's
    `instance_admin` flag, never by a role in a workspace; an API key belongs to a
    workspace, not to a person, so it never holds one.
    """

    async def dependency(request: Request, caller: Caller = Depends(current_caller)) -> Api:
        engine = app_engine(request)
        if permission in INSTANCE_PERMISSIONS:
            admin = caller.kind == "user" and await run_in_threadpool(
                is_instance_admin, engine, caller.id
            )
            if not allows(caller.role, permission, instance_admin=admin):
                raise ApiProblem(
                    403,
                    "forbidden",
                    f"only instance administrators may do this ({permission.value})",
                )
        elif not allows(caller.role, permission):
            raise ApiProblem(
                403, "forbidden", f"the {caller.role} role may not do this ({permission.value})"
            )
        await refuse_nul_characters(request)
        return Api(engine, app_settings(request), caller, datetime.now(UTC))

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    return dependency


PERMISSION_ATTRIBUTE = "smscast_permission"


async def refuse_nul_characters(request: Request) -> None:
    """Refuses a NUL character anywhere in the path, the query or a JSON body (422).

    PostgreSQL cannot store U+0000 in text or JSON columns and answers with an error
    that would be a 500; no name, phone, template or setting ever needs one. Checked in
    `require`, which every guarded route passes, after the permission: a caller who may
    not do something learns only that (403).
    """
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in str(value):
            raise _nul_problem(name)
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()
    if b"\\u0000" not in body:  # JSON writes NUL only as this escape
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return  # not JSON at all: the route's own validation says so
    if (where := _nul_path(parsed, "")) is not None:
        raise _nul_problem(where)


def _nul_path(value: object, where: str) -> str | None:
    """The dotted path (`settings.footer`, `items[2].name`) of the first string with a NUL."""
    if isinstance(value, str):
        return (where or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if "\x00" in str(key):
                return inner
            if (found := _nul_path(item, inner)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_path(item, f"{where}[{index}]")) is not None:
                return found
    return None


def _nul_problem(field: str) -> ApiProblem:
    return ApiProblem(
        422, "nul_character", f"{field} contains a NUL character (U+0000)", field=field
    )


# Routes that take no credential on purpose, and why: everything else names a permission.
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe for load balancers",
    ("GET", "/metrics"): "Prometheus scrape: loopback callers or SMSCAST_METRICS_TOKEN only",
    ("GET", "/readyz"): "readiness probe for load balancers and orchestrators, which hold no key",
    ("GET", "/docs"): "the API's documentation page",
    ("GET", "/docs/static/{name}"): "the documentation page's script, styles and icon",
    ("POST", "/api/v1/auth/login"): "signing in is how a credential is obtained",
    ("GET", "/l/{token}"): "tracked links are opened by recipients, from a text",
    ("POST", "/hooks/twilio/{connector_id}/status"): "carrier callback, checked by its signature",
    ("POST", "/hooks/twilio/{connector_id}/inbound"): "carrier callback, checked by its signature",
    ("POST", "/hooks/infobip/{connector_id}/reports"): "carrier callback, checked by its secret",
    ("POST", "/hooks/infobip/{connector_id}/inbound"): "carrier callback, checked by its secret",
    ("GET", "/hooks/kannel/{connector_id}/dlr"): "carrier callback, checked by its secret",
    (
        "GET",
        "/hooks/whatsapp_cloud/{connector_id}",
    ): "Meta's webhook check, answered only for the verify token",
    ("POST", "/hooks/whatsapp_cloud/{connector_id}"): "carrier callback, checked by its signature",
    (
        "POST",
        "/hooks/infobip_whatsapp/{connector_id}/reports",
    ): "carrier callback, checked by its secret",
    (
        "POST",
        "/hooks/infobip_whatsapp/{connector_id}/inbound",
    ): "carrier callback, checked by its secret",
    (
        "POST",
        "/hooks/twilio_voice/{connector_id}/status",
    ): "carrier callback, checked by its signature",
    (
        "POST",
        "/hooks/twilio_voice/{connector_id}/gather",
    ): "carrier callback, checked by its signature",
    (
        "POST",
        "/hooks/infobip_voice/{connector_id}/reports",
    ): "carrier callback, checked by its secret",
}


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every route of `app` including those of included routers, in matching order."""

    def walk(routes: list[object]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif (included := getattr(route, "original_router", None)) is not None:
                yield from walk(list(included.routes))

    yield from walk(list(app.router.routes))


def route_permissions(app: FastAPI) -> dict[tuple[str, str], Permission | None]:
    """(method, path template) → the permission its `require` declares (None: declares none).

    A route that declares two permissions is an error here: a route is one action.
    """
    table: dict[tuple[str, str], Permission | None] = {}
    for route in api_routes(app):
        declared = {
            found
            for dependency in _dependencies(route.dependant)
            if (found := getattr(dependency, PERMISSION_ATTRIBUTE, None)) is not None
        }
        if len(declared) > 1:
            raise ValueError(f"{route.path} declares several permissions: {sorted(declared)}")
        for method in route.methods or ():
            if method != "HEAD":
                table[(method, route.path)] = next(iter(declared), None)
    return table


def _dependencies(dependant: object) -> Iterator[object]:
    for sub in getattr(dependant, "dependencies", ()):
        yield sub.call
        yield from _dependencies(sub)


def idempotency_key(
    key: str | None = Header(
        None,
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Send the same value when retrying: the first answer is replayed "
        "instead of doing the work twice (kept 24 h)",
    ),
) -> str | None:
    return key


reader = require(Permission.READ)
