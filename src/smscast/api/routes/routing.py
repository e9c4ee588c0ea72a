"""Numbers, keyword rules, segments and coupon pools: the workspace's sending setup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_by_position, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.campaigns.coupons import pool_summaries, redeem_coupon
from smscast.engine.campaigns.segments import (
    count_segment,
    delete_segment,
    list_segments,
    save_segment,
)
from smscast.engine.inbound.keyword_rules import (
    add_keyword_rule,
    link_keyword_campaign,
    list_keyword_rules,
    remove_keyword_rule,
)
from smscast.engine.inbound.numbers import add_number, list_numbers, set_auto_reply
from smscast.engine.inbound.response_report import keyword_rule_report, number_report
from smscast.engine.webhooks.keyword_forward import list_rule_deliveries
from smscast.engine.webhooks.targets import address_policy

router = APIRouter(prefix="/api/v1", responses=COMMON_RESPONSES)
numbers_writer = require(Permission.NUMBERS_WRITE)
campaigns_writer = require(Permission.CAMPAIGNS_WRITE)


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="allow", json_schema_extra={"examples": [example]})


class NumberOut(Loose):
    model_config = _example(
        {"id": 3, "number": "+48500100200", "kind": "long", "country": "PL",
         "connector": "simulator", "auto_reply": "Thanks! We answer within the hour.",
         "created_at": "2026-11-20T09:00:00Z"}
    )  # fmt: skip


class RuleOut(Loose):
    model_config = _example(
        {"id": 7, "workspace_id": 1, "number_id": 3, "keyword": "PROMO", "aliases": ["PROMOS"],
         "match": "first_word", "actions": [{"type": "reply", "text": "Your code: SAVE10"}],
         "campaign_id": None, "enabled": True, "created_at": "2026-11-20T09:05:00Z"}
    )  # fmt: skip


class SegmentOut(Loose):
    model_config = _example({"id": 2, "name": "vip", "expression": 'tags contains "vip"'})


class PoolOut(Loose):
    model_config = _example(
        {"pool": "bf-2026", "codes": 5000, "allocated": 1200, "free": 3800, "redeemed": 340}
    )


class NumberIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"number": "+48500100200", "connector": "simulator"}]},
    )

    number: str = Field(min_length=1, max_length=20)
    connector: str | None = Field(None, max_length=100)
    country: str | None = Field(None, min_length=2, max_length=2)


class RuleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "number": "+48500100200",
                    "keyword": "PROMO",
                    "aliases": ["PROMOS"],
                    "actions": [{"type": "reply", "text": "Your code: SAVE10"}],
                }
            ]
        },
    )

    number: str = Field(min_length=1, max_length=20)
    keyword: str | None = Field(None, max_length=50, description="null: the number's default")
    aliases: list[str] = Field(default_factory=list, max_length=20)
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=10)
    match: str = Field("first_word", max_length=20)
    campaign_id: int | None = Field(
        None, ge=1, le=2**31 - 1, description="The campaign this keyword answers"
    )


class CampaignLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"campaign_id": 12}]})

    campaign_id: int | None = Field(
        ge=1, le=2**31 - 1, description="The campaign this keyword answers; null unlinks"
    )


class AutoReplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"template": "Thanks! {{ sender }} answers soon."}]},
    )

    template: str = Field(
        max_length=1600,
        description="The answer to a text that matches no keyword on the number; may use "
        "the contact's attributes, phone, text and sender (the number's brand)",
    )


class AutoReplyOut(BaseModel):
    number_id: int
    number: str
    template: str | None
    rule_id: int | None = Field(description="The number's default rule holding the answer")


class NumberReportOut(Loose):
    model_config = _example(
        {"number_id": 3, "number": "+48500100200", "kind": "long", "inbound": 40,
         "responses": 31, "unique_senders": 22, "opt_outs": 4, "opt_out_rate": 0.1818,
         "campaign_recipients": 500, "campaign_responders": 18, "response_rate": 0.036,
         "tickets_opened": 6, "tickets_answered": 5, "median_first_answer_s": 420.0,
         "tickets_solved": 4, "median_solve_s": 3600.0,
         "by_route": {"keyword": 25, "opt_out": 4, "ticket": 6, "help": 5},
         "keywords": [], "campaigns": []}
    )  # fmt: skip


class RuleReportOut(Loose):
    model_config = _example(
        {"rule_id": 7, "number_id": 3, "number": "+48500100200", "keyword": "promo",
         "responses": 25, "unique_senders": 19, "opt_outs": 0, "tickets_opened": 0,
         "tickets_answered": 0, "median_first_answer_s": None, "campaign_id": None,
         "campaign": None}
    )  # fmt: skip


class SegmentIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "vip", "expression": 'tags contains "vip"'}]},
    )

    name: str = Field(min_length=1, max_length=200)
    expression: str = Field(min_length=1, max_length=5000)


class CountIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"expression": 'tags contains "vip"'}]}
    )

    expression: str = Field(min_length=1, max_length=5000)


class CountOut(BaseModel):
    expression: str
    count: int


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "AB12CD"}]})

    code: str = Field(min_length=1, max_length=64)


@router.get(
    "/numbers", tags=["numbers"], summary="The workspace's numbers", response_model=Page[NumberOut]
)
def numbers(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    items = list_numbers(api.engine, api.workspace, after_id=page.after, limit=page.limit)
    return page_of(items, page)


@router.post(
    "/numbers",
    tags=["numbers"],
    summary="Add a number",
    status_code=201,
    response_model=Loose,
    dependencies=[Depends(idempotency_key)],
)
def new_number(body: NumberIn, api: Api = Depends(numbers_writer)) -> Any:
    ref = add_number(
        api.engine,
        api.workspace,
        body.number,
        connector=body.connector,
        country=body.country,
        actor=api.caller.actor,
        now=api.now,
    )
    return {"id": ref.id, "number": body.number}


NumberId = Path(ge=1, le=2**31 - 1, description="The number's id", examples=[3])
RuleId = Path(ge=1, le=2**31 - 1, description="The keyword rule's id", examples=[7])


@router.get(
    "/numbers/{number_id}/report",
    tags=["numbers"],
    summary="Responses on a number: senders, opt-outs, campaign response rate, tickets",
    response_model=NumberReportOut,
)
def number_responses(number_id: int = NumberId, api: Api = Depends(reader)) -> Any:
    return number_report(api.engine, api.workspace, number_id)


@router.put(
    "/numbers/{number_id}/auto-reply",
    tags=["numbers"],
    summary="Set the answer to texts that match no keyword",
    response_model=AutoReplyOut,
)
def put_auto_reply(
    body: AutoReplyIn, number_id: int = NumberId, api: Api = Depends(numbers_writer)
) -> Any:
    return set_auto_reply(
        api.engine, api.workspace, number_id, body.template, actor=api.caller.actor, now=api.now
    )


@router.delete(
    "/numbers/{number_id}/auto-reply",
    tags=["numbers"],
    summary="Turn off the answer to texts that match no keyword",
    status_code=204,
)
def drop_auto_reply(number_id: int = NumberId, api: Api = Depends(numbers_writer)) -> Response:
    set_auto_reply(api.engine, api.workspace, number_id, None, actor=api.caller.actor, now=api.now)
    return Response(status_code=204)


@router.get(
    "/keyword-rules", tags=["numbers"], summary="Keyword rules", response_model=Page[RuleOut]
)
def rules(
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
    number: str | None = Query(
        None, max_length=20, description="Only this number's rules", examples=["+48500100200"]
    ),
) -> Any:
    items = list_keyword_rules(
        api.engine, api.workspace, number, after_id=page.after, limit=page.limit
    )
    return page_of(items, page)


@router.post(
    "/keyword-rules",
    tags=["numbers"],
    summary="Add a keyword rule",
    status_code=201,
    response_model=Loose,
    dependencies=[Depends(idempotency_key)],
)
def new_rule(body: RuleIn, api: Api = Depends(numbers_writer)) -> Any:
    return add_keyword_rule(
        api.engine,
        api.workspace,
        body.number,
        body.keyword,
        body.actions,
        aliases=body.aliases,
        match=body.match,
        campaign_id=body.campaign_id,
        actor=api.caller.actor,
        now=api.now,
        policy=address_policy(api.settings),
    )


@router.get(
    "/keyword-rules/{rule_id}/deliveries",
    tags=["numbers"],
    summary="The delivery log of the rule's webhook actions, newest first",
    response_model=Page[Loose],
)
def rule_deliveries(
    rule_id: int = Path(ge=1, le=2**31 - 1, examples=[7]),
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
) -> Any:
    items = list_rule_deliveries(
        api.engine, api.workspace, rule_id, after=page.after, limit=page.limit
    )
    return page_of(items, page)


@router.put(
    "/keyword-rules/{rule_id}/campaign",
    tags=["numbers"],
    summary="Link a keyword rule to the campaign it answers (null unlinks)",
    response_model=RuleOut,
)
def link_rule_campaign(
    body: CampaignLinkIn, rule_id: int = RuleId, api: Api = Depends(numbers_writer)
) -> Any:
    return link_keyword_campaign(
        api.engine, api.workspace, rule_id, body.campaign_id, actor=api.caller.actor, now=api.now
    )


@router.get(
    "/keyword-rules/{rule_id}/report",
    tags=["numbers"],
    summary="Responses to a keyword rule: senders, opt-outs, tickets, its campaign",
    response_model=RuleReportOut,
)
def rule_responses(rule_id: int = RuleId, api: Api = Depends(reader)) -> Any:
    return keyword_rule_report(api.engine, api.workspace, rule_id)


@router.delete(
    "/keyword-rules/{rule_id}", tags=["numbers"], summary="Remove a keyword rule", status_code=204
)
def drop_rule(
    rule_id: int = Path(ge=1, le=2**31 - 1, examples=[7]), api: Api = Depends(numbers_writer)
) -> Response:
    remove_keyword_rule(api.engine, api.workspace, rule_id, actor=api.caller.actor, now=api.now)
    return Response(status_code=204)


@router.get(
    "/segments", tags=["segments"], summary="Saved segments", response_model=Page[SegmentOut]
)
def segments(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    items = list_segments(api.engine, api.workspace, after_id=page.after, limit=page.limit)
    return page_of(items, page)


@router.post(
    "/segments",
    tags=["segments"],
    summary="Save (or replace) a named segment",
    status_code=201,
    response_model=Loose,
    dependencies=[Depends(idempotency_key)],
)
def new_segment(body: SegmentIn, api: Api = Depends(campaigns_writer)) -> Any:
    return save_segment(
        api.engine, api.workspace, body.name, body.expression, actor=api.caller.actor, now=api.now
    )


@router.post(
    "/segments/count",
    tags=["segments"],
    summary="How many contacts match (preview)",
    response_model=CountOut,
)
def count(body: CountIn, api: Api = Depends(reader)) -> Any:
    return count_segment(api.engine, api.workspace, body.expression, api.now)


@router.delete(
    "/segments/{name}", tags=["segments"], summary="Delete a saved segment", status_code=204
)
def drop_segment(
    name: str = Path(max_length=200, examples=["vip"]), api: Api = Depends(campaigns_writer)
) -> Response:
    delete_segment(api.engine, api.workspace, name, actor=api.caller.actor, now=api.now)
    return Response(status_code=204)


@router.get(
    "/coupon-pools",
    tags=["coupons"],
    summary="Coupon pools and their codes left",
    response_model=Page[PoolOut],
)
def pools(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    return page_by_position(pool_summaries(api.engine, api.workspace), page)


@router.post(
    "/coupons/redeem",
    tags=["coupons"],
    summary="Mark a handed-out code as used",
    response_model=Loose,
    dependencies=[Depends(idempotency_key)],
)
def redeem(body: RedeemIn, api: Api = Depends(require(Permission.COUPONS_REDEEM))) -> Any:
    return redeem_coupon(api.engine, api.workspace, body.code, actor=api.caller.actor, now=api.now)
