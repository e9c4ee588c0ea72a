"""API keys: created for one role in this workspace, shown once, revocable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES, ApiProblem
from smscast.core.roles import Permission, Role, may_grant
from smscast.engine.accounts.api_keys import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
    show_api_key,
)

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"], responses=COMMON_RESPONSES)
manager = require(Permission.KEYS_MANAGE)
KeyId = Path(ge=1, le=2**31 - 1, description="The key's id")


class ApiKeyOut(BaseModel):
    id: int
    name: str = Field(examples=["shop backend"])
    prefix: str = Field(examples=["3f9a0c1b2d4e"], description="The public part of the key")
    role: Role
    created_by: str = Field(examples=["user:admin@localhost"])
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    token: str = Field(
        description="The key itself: shown only in this answer, stored only as a hash",
        examples=["smc_3f9a0c1b2d4e_Qk9...Zx"],
    )


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["shop backend"])
    role: Role = Field(examples=["marketer"])
    expires_at: AwareDatetime | None = Field(None, examples=["2027-01-01T00:00:00Z"])


@router.get("", summary="List API keys (never their secrets)", response_model=Page[ApiKeyOut])
def keys(api: Api = Depends(manager), page: PageParams = Depends(page_params)) -> Any:
    return page_of(
        list_api_keys(api.engine, api.workspace, after=page.after, limit=page.limit), page
    )


@router.post(
    "",
    summary="Create an API key; the answer is the only time it is shown",
    status_code=201,
    response_model=NewApiKeyOut,
    dependencies=[Depends(idempotency_key)],
)
def create(body: NewApiKey, api: Api = Depends(manager)) -> Any:
    if not may_grant(api.caller.role, body.role.value):
        raise ApiProblem(
            403,
            "forbidden_role",
            f"a {api.caller.role} cannot create {body.role.value} keys",
            field="role",
        )
    made = create_api_key(
        api.engine,
        api.workspace,
        body.name,
        body.role.value,
        expires_at=body.expires_at,
        actor=api.caller.actor,
        now=api.now,
    )
    return {**made.key, "token": made.token}


@router.get("/{key_id}", summary="One API key", response_model=ApiKeyOut)
def one(key_id: int = KeyId, api: Api = Depends(manager)) -> Any:
    return show_api_key(api.engine, api.workspace, key_id)


@router.delete(
    "/{key_id}", summary="Revoke an API key (takes effect at once)", response_model=ApiKeyOut
)
def revoke(key_id: int = KeyId, api: Api = Depends(manager)) -> Any:
    return revoke_api_key(api.engine, api.workspace, key_id, caller=api.caller, now=api.now)
