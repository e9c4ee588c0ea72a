"""What a route needs, as FastAPI dependencies: the database, the caller, permission.

The caller is resolved once per request by `middleware.CallerMiddleware`; these
dependencies read it, refuse a missing one (401) or a role without the needed
permission (403), and declare the security schemes so the OpenAPI spec shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPBearer
from sqlalchemy import Engine

from smscast.api.problems import ApiProblem
from smscast.config import Settings
from smscast.core.roles import Permission, allows
from smscast.engine.auth import AuthError, Caller
from smscast.engine.workspaces import WorkspaceRef

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


def require(permission: Permission) -> Callable[..., Api]:
    """A dependency giving the request's `Api` once the caller's role allows `permission`."""

    def dependency(request: Request, caller: Caller = Depends(current_caller)) -> Api:
        if not allows(caller.role, permission):
            raise ApiProblem(
                403, "forbidden", f"the {caller.role} role may not do this ({permission.value})"
            )
        return Api(app_engine(request), app_settings(request), caller, datetime.now(UTC))

    return dependency


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
