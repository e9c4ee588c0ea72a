"""Signing in and out of the dashboard, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import (
    SESSION_COOKIE,
    Api,
    app_engine,
    app_settings,
    reader,
    refuse_nul_characters,
)
from smscast.api.problems import COMMON_RESPONSES, PROBLEM_CONTENT, ApiProblem, ProblemBody
from smscast.config import Settings
from smscast.engine.accounts.instance_admins import is_instance_admin
from smscast.engine.accounts.sign_in_throttle import AccountLocked, SignInLimits, SignInRefused
from smscast.engine.accounts.users import change_password, sign_in, sign_out

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=COMMON_RESPONSES)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["admin@localhost"])
    password: str = Field(max_length=1000, examples=["correct horse battery"])
    workspace_id: int | None = Field(None, ge=1, description="Default: the first one")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=1000, examples=["correct horse battery"])
    new_password: str = Field(max_length=1000, examples=["a longer passphrase now"])


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(
        examples=[2], description="Your other sessions, in every workspace, that were ended"
    )


THROTTLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": ProblemBody,
        "description": description,
        "content": PROBLEM_CONTENT,
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}},
    }
    for status, description in (
        (423, "account_locked: too many failed sign-ins; until when is in `detail`"),
        (429, "sign_in_throttled: wait `Retry-After` seconds before the next attempt"),
    )
}


def clock() -> datetime:
    """The moment of the request; tests put their own clock in its place."""
    return datetime.now(UTC)


def client_address(request: Request) -> str:
    """The address failed sign-ins are counted against (the proxy's, unless the server
    is started to trust forwarded headers)."""
    return request.client.host if request.client else "unknown"


def sign_in_limits(settings: Settings) -> SignInLimits:
    return SignInLimits.from_minutes(settings.sign_in_lock_minutes)


def _refusal(error: SignInRefused) -> ApiProblem:
    """423 for a locked account, 429 for a delay, both saying when to come back."""
    return ApiProblem(
        423 if isinstance(error, AccountLocked) else 429,
        error.problem.code,
        error.problem.message,
        field=error.problem.field,
        headers={"Retry-After": str(error.retry_after)},
    )


class Session(BaseModel):
    token: str = Field(description="Also set as the smscast_session cookie")
    expires_at: datetime
    workspace_id: int
    user_id: int
    role: str = Field(examples=["owner"])


class Me(BaseModel):
    kind: str = Field(examples=["key"], description='"key" or "user"')
    id: int
    name: str = Field(examples=["shop backend"])
    role: str = Field(examples=["marketer"])
    workspace_id: int
    workspace_name: str = Field(examples=["Shop"])
    instance_admin: bool = Field(
        False, description="May create workspaces (a signed-in instance administrator)"
    )


@router.post(
    "/login",
    summary="Sign in with email and password",
    response_model=Session,
    responses=THROTTLE_RESPONSES,
    dependencies=[Depends(refuse_nul_characters)],  # public: `require` does not check it
)
def login(
    body: Login, request: Request, response: Response, now: datetime = Depends(clock)
) -> Session:
    """After 5 failed attempts on an account or from an address each next attempt waits
    (429 with `Retry-After`); after 10 the account is locked (423) for
    `SMSCAST_SIGN_IN_LOCK_MINUTES`, a correct password included."""
    settings = app_settings(request)
    lifetime = timedelta(hours=settings.session_hours)
    try:
        done = sign_in(
            app_engine(request),
            body.email,
            body.password,
            workspace_id=body.workspace_id,
            lifetime=lifetime,
            now=now,
            address=client_address(request),
            limits=sign_in_limits(settings),
        )
    except SignInRefused as error:
        raise _refusal(error) from error
    response.set_cookie(
        SESSION_COOKIE,
        done.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return Session(
        token=done.token,
        expires_at=done.expires_at,
        workspace_id=done.workspace_id,
        user_id=done.user_id,
        role=done.role,
    )


@router.post(
    "/password",
    summary="Change your own password (a signed-in user, not an API key)",
    response_model=PasswordChanged,
    responses=THROTTLE_RESPONSES,
)
def password(
    body: PasswordChange,
    request: Request,
    api: Api = Depends(reader),
    now: datetime = Depends(clock),
) -> PasswordChanged:
    """A wrong `current_password` is 422 and counts as a failed sign-in. Every other
    session of the user, in every workspace, ends; the one making the change stays."""
    try:
        ended = change_password(
            api.engine,
            api.caller,
            body.current_password,
            body.new_password,
            keep_session=_session_token(request),
            address=client_address(request),
            limits=sign_in_limits(api.settings),
            now=now,
        )
    except SignInRefused as error:
        raise _refusal(error) from error
    return PasswordChanged(sessions_ended=ended)


def _session_token(request: Request) -> str:
    return (
        request.cookies.get(SESSION_COOKIE)
        or request.headers.get("authorization", "").partition(" ")[2]
    ).strip()


@router.post(
    "/logout",
    summary="End this session",
    status_code=204,
    responses={
        204: {
            "description": "Signed out; the session cookie is cleared",
            "headers": {
                "Set-Cookie": {
                    "schema": {"type": "string"},
                    "example": f'{SESSION_COOKIE}=""; Max-Age=0; Path=/; SameSite=lax',
                }
            },
        }
    },
)
def logout(request: Request, response: Response, api: Api = Depends(reader)) -> Response:
    if api.caller.kind == "user":
        sign_out(api.engine, _session_token(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/me", summary="The caller: key or user, role and workspace", response_model=Me)
def me(api: Api = Depends(reader)) -> Me:
    c = api.caller
    return Me(
        kind=c.kind,
        id=c.id,
        name=c.name,
        role=c.role,
        workspace_id=c.workspace.id,
        workspace_name=c.workspace.name,
        instance_admin=c.kind == "user" and is_instance_admin(api.engine, c.id),
    )
