"""Contacts: list with filters, create, read, change, erase, upsert in bulk; a contact's
address, suppression and consent on every channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.api.routes.consent import ConsentStateOut
from smscast.core.roles import Permission
from smscast.engine.contacts.channel_overview import channel_overview
from smscast.engine.contacts.edits import (
    MAX_BATCH,
    ContactFields,
    contact_phone,
    create_contact,
    get_contact,
    list_contacts,
    update_contact,
    upsert_contacts,
)
from smscast.engine.contacts.records import erase_contact

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"], responses=COMMON_RESPONSES)
writer = require(Permission.CONTACTS_WRITE)
ContactId = Path(ge=1, le=2**63 - 1, description="The contact's id", examples=[1042])
AttributeValue = str | int | float | bool | None


class ContactOut(BaseModel):
    id: int
    phone: str = Field(examples=["+48601234567"])
    country: str = Field(examples=["PL"])
    attributes: dict[str, Any] = Field(examples=[{"first_name": "Ala", "city": "Kraków"}])
    language: str | None = Field(examples=["pl"])
    timezone: str = Field(examples=["Europe/Warsaw"])
    email: str | None = Field(examples=["ala@example.com"])
    whatsapp: str | None = Field(
        examples=["+48601234568"], description="WhatsApp number (E.164); null: the phone's"
    )
    tags: list[str] = Field(examples=[["vip"]])
    created_at: datetime
    updated_at: datetime


class ContactDetail(ContactOut):
    consent: list[ConsentStateOut]


class ContactIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+48 601 234 567",
                    "attributes": {"first_name": "Ala"},
                    "language": "pl",
                    "tags": ["vip"],
                }
            ]
        },
    )

    phone: str = Field(
        min_length=1,
        max_length=40,
        description="Any common format; without + it is read in the workspace's country",
    )
    attributes: dict[str, AttributeValue] | None = Field(None, max_length=200)
    language: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=320)
    whatsapp: str | None = Field(
        None, max_length=40, description="WhatsApp number when not the phone; any common format"
    )
    tags: list[str] | None = Field(None, max_length=100)

    def fields(self) -> ContactFields:
        return ContactFields(
            self.phone, self.attributes, self.language, self.timezone, self.email, self.tags,
            self.whatsapp,
        )  # fmt: skip


class ContactChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"attributes": {"city": "Gdańsk"}, "tags": ["vip"]}]},
    )

    attributes: dict[str, AttributeValue] | None = Field(
        None, max_length=200, description="Merged key by key; a null value removes a key"
    )
    language: str | None = Field(None, max_length=16)
    timezone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=320, description='"" removes the email')
    whatsapp: str | None = Field(
        None, max_length=40, description='"" removes the WhatsApp number (the phone then is)'
    )
    tags: list[str] | None = Field(None, max_length=100, description="Replaces the tags")


class SuppressionOut(BaseModel):
    reason: str = Field(examples=["bounce"], description="bounce, complaint or gone")
    detail: str = Field(examples=["550 5.1.1 user unknown"])
    at: datetime


class ChannelAddressOut(BaseModel):
    channel: str = Field(examples=["email"])
    address: str | None = Field(examples=["ala@example.com"])
    suppressed: SuppressionOut | None


class PushSubscriptionOut(BaseModel):
    id: int
    browser: str = Field(examples=["Firefox"], description="The user agent when not known")
    system: str = Field(examples=["Android"], description='"" when not known')
    created_at: datetime
    last_sent_at: datetime | None
    suppressed: SuppressionOut | None


class ChannelConsentOut(BaseModel):
    channel: str = Field(examples=["whatsapp"])
    purpose: str = Field(examples=["promotional"])
    status: str | None = Field(examples=["opted_in"], description="null: nothing recorded")
    changed_at: datetime | None


class ContactChannels(BaseModel):
    contact_id: int
    addresses: list[ChannelAddressOut]
    push_subscriptions: list[PushSubscriptionOut]
    consent: list[ChannelConsentOut]


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contacts: list[ContactIn] = Field(min_length=1, max_length=MAX_BATCH)


class BulkError(BaseModel):
    code: str
    field: str = Field(examples=["contacts[3].phone"])
    message: str


class BulkItem(BaseModel):
    index: int
    id: int | None
    outcome: str = Field(examples=["created"], description="created, updated, unchanged, rejected")
    error: BulkError | None = None


class BulkOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    rejected: int
    items: list[BulkItem]


@router.get("", summary="List contacts", response_model=Page[ContactOut])
def contacts(
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
    tag: str | None = Query(None, max_length=100, description="Only contacts with this tag"),
    phone_prefix: str | None = Query(None, max_length=20, examples=["+4860"]),
    updated_since: AwareDatetime | None = Query(None),
) -> Any:
    items = list_contacts(
        api.engine,
        api.workspace,
        after=page.after,
        limit=page.limit,
        tag=tag,
        phone_prefix=phone_prefix,
        updated_since=updated_since,
    )
    return page_of(items, page)


@router.post(
    "",
    summary="Create a contact",
    status_code=201,
    response_model=ContactDetail,
    dependencies=[Depends(idempotency_key)],
)
def create(body: ContactIn, api: Api = Depends(writer)) -> Any:
    return create_contact(
        api.engine, api.settings, api.workspace, body.fields(), actor=api.caller.actor, now=api.now
    )


@router.post(
    "/bulk",
    summary="Create or merge up to 1000 contacts by phone",
    response_model=BulkOut,
    dependencies=[Depends(idempotency_key)],
)
def bulk(body: BulkIn, api: Api = Depends(writer)) -> Any:
    result = upsert_contacts(
        api.engine,
        api.settings,
        api.workspace,
        [item.fields() for item in body.contacts],
        actor=api.caller.actor,
        now=api.now,
    )
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "items": result.items,
    }


@router.get("/{contact_id}", summary="One contact with its consent", response_model=ContactDetail)
def one(contact_id: int = ContactId, api: Api = Depends(reader)) -> Any:
    return get_contact(api.engine, api.workspace, contact_id)


@router.get(
    "/{contact_id}/channels",
    summary="A contact on every channel: address, suppression, push subscriptions, consent",
    response_model=ContactChannels,
)
def channels(contact_id: int = ContactId, api: Api = Depends(reader)) -> Any:
    return channel_overview(api.engine, api.workspace, contact_id).as_dict()


@router.patch("/{contact_id}", summary="Change a contact", response_model=ContactDetail)
def change(body: ContactChange, contact_id: int = ContactId, api: Api = Depends(writer)) -> Any:
    fields = ContactFields(
        "", body.attributes, body.language, body.timezone, body.email, body.tags, body.whatsapp
    )
    return update_contact(api.engine, api.workspace, contact_id, fields, now=api.now)


@router.delete(
    "/{contact_id}",
    status_code=204,
    summary="Erase a contact: data and consent ledger go, a keyed hash stays",
)
def erase(
    contact_id: int = ContactId, api: Api = Depends(require(Permission.CONTACTS_ERASE))
) -> Response:
    phone = contact_phone(api.engine, api.workspace, contact_id)
    erase_contact(
        api.engine, api.settings, api.workspace, phone, actor=api.caller.actor, now=api.now
    )
    return Response(status_code=204)
