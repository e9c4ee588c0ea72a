"""Members of the workspace and their roles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission, Role
from smscast.engine.accounts.users import (
    add_member,
    change_member_role,
    list_members,
    remove_member,
    show_member,
)

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=COMMON_RESPONSES)
manager = require(Permission.USERS_MANAGE)
UserId = Path(ge=1, le=2**31 - 1, description="A member's user id", examples=[2])


class Member(BaseModel):
    id: int
    email: str = Field(examples=["ala@shop.example"])
    name: str = Field(examples=["Ala"])
    role: Role
    is_active: bool
    created_at: datetime


class NewMember(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # No control characters (a NUL among them): PostgreSQL refuses them in text, and an
    # email or a name never has one.
    email: str = Field(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$",
        examples=["ala@shop.example"],
    )
    role: Role = Field(examples=["agent"])
    name: str = Field("", max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$", examples=["Ala"])
    password: str | None = Field(
        None,
        max_length=1000,
        description="Needed when the email has no account yet",
        examples=["a long passphrase"],
    )


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Field(examples=["admin"])


@router.get("", summary="List members", response_model=Page[Member])
def members(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    return page_of(
        list_members(api.engine, api.workspace, after=page.after, limit=page.limit), page
    )


@router.post(
    "",
    summary="Add a member (a new email creates the user)",
    status_code=201,
    response_model=Member,
    dependencies=[Depends(idempotency_key)],
)
def add(body: NewMember, api: Api = Depends(manager)) -> Any:
    return add_member(
        api.engine,
        api.workspace,
        body.email,
        body.role.value,
        name=body.name,
        password=body.password,
        caller=api.caller,
        now=api.now,
    )


@router.get("/{user_id}", summary="One member", response_model=Member)
def one(user_id: int = UserId, api: Api = Depends(reader)) -> Any:
    return show_member(api.engine, api.workspace, user_id)


@router.patch("/{user_id}", summary="Change a member's role", response_model=Member)
def change(body: RoleChange, user_id: int = UserId, api: Api = Depends(manager)) -> Any:
    return change_member_role(
        api.engine, api.workspace, user_id, body.role.value, caller=api.caller, now=api.now
    )


@router.delete("/{user_id}", summary="Remove a member from the workspace", status_code=204)
def remove(user_id: int = UserId, api: Api = Depends(manager)) -> Response:
    remove_member(api.engine, api.workspace, user_id, caller=api.caller, now=api.now)
    return Response(status_code=204)
