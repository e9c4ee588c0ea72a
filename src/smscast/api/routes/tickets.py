"""Tickets: the inbox of conversations with agents: list, read, reply, assign, change state."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.inbound.tickets import (
    add_ticket_note,
    assign_ticket,
    list_tickets,
    reopen_ticket,
    reply_to_ticket,
    show_ticket,
    solve_ticket,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=COMMON_RESPONSES)
writer = require(Permission.TICKETS_WRITE)
Id = Path(ge=1, le=2**31 - 1, description="The ticket's id", examples=[31])
TicketState = Literal["open", "pending", "solved"]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class TicketOut(Loose):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": 31,
                    "state": "open",
                    "phone": "+48601234567",
                    "number": "+48500100200",
                    "assignee": "ala@shop.example",
                    "subject": "Where is my order?",
                    "updated_at": "2026-11-25T09:58:00Z",
                    "created_at": "2026-11-25T09:41:00Z",
                }
            ]
        },
    )


class Text(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"body": "We are on it!"}]}
    )

    body: str = Field(min_length=1, max_length=1600)


class Assignment(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"assignee": "ala@shop.example"}]}
    )

    assignee: str | None = Field(
        None,
        max_length=320,
        description="The email of a member who may answer tickets (owner, admin, agent); "
        "null unassigns",
    )


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"state": "solved"}]})

    state: Literal["solved"]


class Created(BaseModel):
    id: int


@router.get("", summary="Tickets, newest first", response_model=Page[TicketOut])
def tickets(
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
    status: TicketState | None = Query(None, description="Only tickets in this state"),
    assignee: str | None = Query(None, max_length=200, examples=["ala@shop.example"]),
    number: str | None = Query(
        None, max_length=20, description="Only tickets on this number", examples=["+48500100200"]
    ),
    q: str | None = Query(
        None, max_length=200, description="Search phones, subjects and texts", examples=["refund"]
    ),
    state: TicketState | None = Query(None, deprecated=True, description="Old name of `status`"),
    search: str | None = Query(
        None, max_length=200, deprecated=True, description="Old name of `q`"
    ),
) -> Any:
    items = list_tickets(
        api.engine,
        api.workspace,
        state=status or state,
        assignee=assignee,
        search=q or search,
        number=number,
        limit=page.limit,
        before_id=page.after,
    )
    return page_of(items, page)


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


@router.post(
    "/{ticket_id}/reopen",
    summary="Reopen a solved ticket (noted in its thread)",
    response_model=Loose,
)
def reopen(ticket_id: int = Id, api: Api = Depends(writer)) -> Any:
    reopen_ticket(api.engine, api.workspace, ticket_id, actor=api.caller.actor, now=api.now)
    return show_ticket(api.engine, api.workspace, ticket_id)
