"""Signing in and out of the dashboard, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import SESSION_COOKIE, Api, app_engine, app_settings, reader
from smscast.api.problems import COMMON_RESPONSES
from smscast.engine.users import sign_in, sign_out

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=COMMON_RESPONSES)


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["admin@localhost"])
    password: str = Field(max_length=1000, examples=["correct horse battery"])
    workspace_id: int | None = Field(None, ge=1, description="Default: the first one")


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


@router.post("/login", summary="Sign in with email and password", response_model=Session)
def login(body: Login, request: Request, response: Response) -> Session:
    settings = app_settings(request)
    lifetime = timedelta(hours=settings.session_hours)
    done = sign_in(
        app_engine(request),
        body.email,
        body.password,
        workspace_id=body.workspace_id,
        lifetime=lifetime,
        now=datetime.now(UTC),
    )
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
        token = (
            request.cookies.get(SESSION_COOKIE)
            or request.headers.get("authorization", "").partition(" ")[2]
        )
        sign_out(api.engine, token.strip())
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
    )
