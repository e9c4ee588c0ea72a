"""The caller's workspace: reading and changing it, and creating new ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, reader, require
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.accounts.workspace_settings import (
    create_owned_workspace,
    update_workspace,
    workspaces_of,
)

router = APIRouter(prefix="/api/v1", tags=["workspaces"], responses=COMMON_RESPONSES)


class WorkspaceOut(BaseModel):
    id: int
    name: str = Field(examples=["Shop"])
    country: str = Field(examples=["PL"])
    timezone: str = Field(examples=["Europe/Warsaw"])
    settings: dict[str, Any] = Field(default_factory=dict)
    role: str = Field(examples=["owner"], description="The caller's role in it")


class WorkspaceList(BaseModel):
    items: list[WorkspaceOut]


class NewWorkspace(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Shop DE"])
    country: str = Field(min_length=2, max_length=2, examples=["DE"])
    timezone: str = Field(max_length=64, examples=["Europe/Berlin"])


class WorkspaceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, examples=["Shop PL"])
    country: str | None = Field(None, min_length=2, max_length=2, examples=["PL"])
    timezone: str | None = Field(None, max_length=64, examples=["Europe/Warsaw"])
    settings: dict[str, Any] | None = Field(
        None,
        examples=[{"quiet_hours": {"start": "21:00", "end": "09:00"}}],
        description='Keys to change; `"quiet_hours": "off"` sends at any hour, null is refused',
    )


@router.get("/workspaces", summary="Workspaces the caller may act in", response_model=WorkspaceList)
def list_workspaces(api: Api = Depends(reader)) -> dict[str, Any]:
    return {"items": workspaces_of(api.engine, api.caller)}


@router.post(
    "/workspaces",
    summary="Create a workspace (instance administrators; they become its owner)",
    status_code=201,
    response_model=WorkspaceOut,
)
def create(
    body: NewWorkspace, api: Api = Depends(require(Permission.WORKSPACES_CREATE))
) -> dict[str, Any]:
    ws = create_owned_workspace(
        api.engine, api.caller, body.name, body.country, body.timezone, now=api.now
    )
    return {
        "id": ws.id,
        "name": ws.name,
        "country": ws.country,
        "timezone": ws.timezone,
        "settings": ws.settings,
        "role": "owner",
    }


@router.get("/workspace", summary="The caller's workspace", response_model=WorkspaceOut)
def show(api: Api = Depends(reader)) -> dict[str, Any]:
    ws = api.workspace
    return {
        "id": ws.id,
        "name": ws.name,
        "country": ws.country,
        "timezone": ws.timezone,
        "settings": ws.settings,
        "role": api.caller.role,
    }


@router.patch("/workspace", summary="Change the workspace's settings", response_model=WorkspaceOut)
def change(
    body: WorkspaceChange, api: Api = Depends(require(Permission.WORKSPACE_MANAGE))
) -> dict[str, Any]:
    return update_workspace(
        api.engine,
        api.workspace,
        body.model_dump(exclude_unset=True),
        caller=api.caller,
        now=api.now,
    )
