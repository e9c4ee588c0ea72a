"""Tickets: the inbox of conversations with agents: list, read, reply, assign, change state."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.tickets import (
    add_ticket_note,
    assign_ticket,
    list_tickets,
    reply_to_ticket,
    show_ticket,
    solve_ticket,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=COMMON_RESPONSES)
writer = require(Permission.TICKETS_WRITE)
Id = Path(ge=1, le=2**31 - 1, description="The ticket's id")


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TicketList(BaseModel):
    items: list[Loose]


class Text(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "We are on it!"}]}
    )

    body: str = Field(min_length=1, max_length=1600)


class Assignment(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"assignee": "ala@shop.example"}]}
    )

    assignee: str | None = Field(None, max_length=200, description="null unassigns")


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"state": "solved"}]})

    state: Literal["solved"]


class Created(BaseModel):
    id: int


@router.get("", summary="Tickets, most recently active first", response_model=TicketList)
def tickets(
    api: Api = Depends(reader),
    state: Literal["open", "pending", "solved"] | None = Query(None),
    assignee: str | None = Query(None, max_length=200),
    search: str | None = Query(None, max_length=200),
    limit: int = Query(100, ge=1, le=500),
) -> Any:
    return {
        "items": list_tickets(
            api.engine, api.workspace, state=state, assignee=assignee, search=search, limit=limit
        )
    }


@router.get("/{ticket_id}", summary="A ticket and its thread", response_model=Loose)
def one(ticket_id: int = Id, api: Api = Depends(reader)) -> Any:
    return show_ticket(api.engine, api.workspace, ticket_id)


@router.post(
    "/{ticket_id}/replies",
    summary="Reply to the contact (texted)",
    status_code=202,
    response_model=Created,
    dependencies=[Depends(idempotency_key)],
)
def reply(body: Text, ticket_id: int = Id, api: Api = Depends(writer)) -> Any:
    return {
        "id": reply_to_ticket(
            api.engine, api.workspace, ticket_id, body.body, actor=api.caller.actor, now=api.now
        )
    }


@router.post(
    "/{ticket_id}/notes",
    summary="An internal note (never texted)",
    status_code=201,
    response_model=Created,
    dependencies=[Depends(idempotency_key)],
)
def note(body: Text, ticket_id: int = Id, api: Api = Depends(writer)) -> Any:
    return {
        "id": add_ticket_note(
            api.engine, api.workspace, ticket_id, body.body, actor=api.caller.actor, now=api.now
        )
    }


@router.post("/{ticket_id}/assign", summary="Assign to an agent", response_model=Loose)
def assign(body: Assignment, ticket_id: int = Id, api: Api = Depends(writer)) -> Any:
    assign_ticket(
        api.engine, api.workspace, ticket_id, body.assignee, actor=api.caller.actor, now=api.now
    )
    return show_ticket(api.engine, api.workspace, ticket_id)


@router.post("/{ticket_id}/state", summary="Change the state (solve)", response_model=Loose)
def change_state(body: StateChange, ticket_id: int = Id, api: Api = Depends(writer)) -> Any:
    solve_ticket(api.engine, api.workspace, ticket_id, actor=api.caller.actor, now=api.now)
    return show_ticket(api.engine, api.workspace, ticket_id)
