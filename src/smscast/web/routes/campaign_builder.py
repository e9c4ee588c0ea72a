"""The campaign builder, `/campaigns/new`: one decision per step, each step saved.

Steps: audience, message, A/B variants, timing, sender and purpose, review. The message
step also says on which channel it goes (one channel, or a chain with the delay before
the next is tried) and each channel's own content: an email's subject and HTML, a
WhatsApp template, a push notification's title; the SMS parts counter is shown only
when SMS is in the chain. Every
POST saves what was typed into the builder draft first (even when it is wrong), then
checks the step with the engine; a refusal is shown at its field on the step it
belongs to, the typed values kept. htmx makes the recipient count and the message's
encoding and parts live; without JavaScript the "Check" buttons give the same answers.
Launching is the engine's `create_campaign` then `launch_campaign` (which schedules a
timed campaign), and lands on the campaign's report.

Paths live under `/campaigns/new/…` so that `/campaigns/{id}` (the report) can never
take them; this router is registered before the campaigns pages' all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smscast.core.char_marks import mark_non_gsm, non_gsm_characters
from smscast.core.cron import parse_cron
from smscast.core.encoding import analyse
from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.core.smart import smart_encode
from smscast.engine.campaigns.builder_drafts import (
    CHAIN_SLOTS,
    CHANNEL_FIELDS,
    LIVE_MEMBERS,
    STEPS,
    MessageCheck,
    audience_expression,
    channel_options_of,
    check_audience,
    check_draft_message,
    draft_from_fields,
    finish_builder_draft,
    list_builder_drafts,
    load_builder_draft,
    save_builder_draft,
    start_builder_draft,
    template_variables,
)
from smscast.engine.campaigns.coupons import pool_summaries
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import create_campaign
from smscast.engine.campaigns.segments import count_segment, list_segments
from smscast.engine.inbound.numbers import list_numbers
from smscast.web.auth import Page, page_for
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.routes.connector_forms import CHANNEL_NAMES
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
builder_page = page_for(Permission.CAMPAIGNS_WRITE)

STEP_TITLES = {
    "audience": N_("Audience"),
    "message": N_("Message"),
    "variants": N_("A/B variants"),
    "timing": N_("Timing"),
    "sender": N_("Sender and purpose"),
    "review": N_("Review and launch"),
}
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "audience": ("audience", "segment_name", "expression"),
    "message": ("body", "coupon_pool", "smart_encoding", "link_url", *CHANNEL_FIELDS),
    "variants": ("split", "ab_test", "ab_sample", "ab_metric", "ab_hours"),
    "timing": ("timing", "at_date", "at_time", "local_time", "cron", "spread_minutes"),
    "sender": ("from_number", "purpose", "expects_reply"),
    "review": ("name",),
}
CHECKBOXES = frozenset({"smart_encoding", "ab_test", "expects_reply"})
VARIANT_SLOTS = 2
"""Variants besides the main text (B and C)."""
FIELD_STEP = {
    **{name: step for step, names in STEP_FIELDS.items() for name in names},
    "segment": "audience", "variant": "variants", "variants": "variants", "ab_test": "variants",
    "at": "timing", "spread": "timing", "from": "sender", "status": "review",
    "channels": "message", "content": "message",
    **{f"content.{channel}.{name}": "message" for channel, name in (
        ("email", "subject"), ("email", "html"), ("whatsapp", "template"),
        ("whatsapp", "language"), ("whatsapp", "params"), ("push", "title"),
        ("push", "url"))},
    **{f"variant_{i}_{part}": "variants" for i in range(1, VARIANT_SLOTS + 1)
       for part in ("name", "body")},
}  # fmt: skip
"""Which step shows an engine refusal about a field."""
FIELD_INPUT = {"segment": "expression", "from": "from_number", "variant": "variant_1_body",
               "variants": "variant_1_body", "at": "at_date", "spread": "spread_minutes",
               "ab_test": "ab_sample", "status": "name", "channels": "channel_1",
               "content": "channel_1", "content.email.subject": "email_subject",
               "content.email.html": "email_html", "content.email.body": "body",
               "content.whatsapp.template": "whatsapp_template",
               "content.whatsapp.language": "whatsapp_language",
               "content.whatsapp.params": "whatsapp_params",
               "content.push.title": "push_title", "content.push.url": "push_url"}  # fmt: skip
"""The input an engine field name is shown at, where they differ."""
EXCLUSIONS = {
    "no_consent": N_("No consent"),
    "opted_out": N_("Opted out"),
    "duplicate": N_("Duplicate number"),
    "invalid_number": N_("Invalid number"),
    "capped": N_("Frequency cap reached"),
    "missing_value": N_("A value the text needs is missing"),
}
METRICS = {"click": N_("Clicks"), "delivery": N_("Deliveries"), "reply": N_("Replies")}
PURPOSE_NAMES = {"promotional": N_("Promotional"), "informational": N_("Informational")}


def _refusal(request: Request, error: UserError, field: str | None = None) -> FieldError:
    """An engine refusal at its input, with its line and column when it has them."""
    _ = gettext_for(request)
    problem = error.problem
    name = field or problem.field or "body"
    name = FIELD_INPUT.get(name, name)
    message = problem.message
    if problem.line is not None and problem.column is not None:
        message = _("Line %(line)s, column %(column)s: %(detail)s", line=problem.line,
                    column=problem.column, detail=message)  # fmt: skip
    return FieldError(name, message)


def _audience_refusal(request: Request, error: UserError) -> FieldError:
    """A refusal of the audience: a saved segment's at its menu, anything else at the
    expression (the engine's `field` there names the attribute the expression got wrong)."""
    wanted = "segment_name" if error.problem.field == "segment_name" else "expression"
    if error.problem.code == "unknown_segment":
        wanted = "segment_name"
    return _refusal(request, error, field=wanted)


def _typed(form: FormData, step: str) -> dict[str, Any]:
    """The step's fields as typed; an unticked checkbox is sent as nothing, kept as ""."""
    typed: dict[str, Any] = {}
    for name in STEP_FIELDS[step]:
        value = form.get(name)
        typed[name] = value if isinstance(value, str) else ""
        if name in CHECKBOXES and typed[name] != "1":
            typed[name] = ""
    if step == "variants":
        typed["variants"] = [
            {"name": _text(form, f"variant_{i}_name"), "body": _text(form, f"variant_{i}_body")}
            for i in range(1, VARIANT_SLOTS + 1)
        ]
    return typed


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _draft_or_404(page: Page, draft_id: int) -> dict[str, Any] | Response:
    try:
        return load_builder_draft(page.engine, page.workspace, page.caller.id, draft_id)
    except UserError:
        return error_page(page.request, 404, N_("There is no such campaign draft of yours."))


@router.get("/campaigns/new")
def builder_start(page: Page = Depends(builder_page)) -> Response:
    """The builder's start page: a new campaign, or a saved draft to go on with."""
    drafts = list_builder_drafts(page.engine, page.workspace, page.caller.id)
    context = {"drafts": drafts, "errors": [], "name": "", "step_titles": STEP_TITLES}
    return render(page.request, "campaigns/builder/start.html", context)


@router.post("/campaigns/new")
async def builder_create(request: Request, page: Page = Depends(builder_page)) -> Response:
    name = _text(await request.form(), "name")
    draft_id = await run_in_threadpool(start_builder_draft, page.engine, page.workspace,
                                       page.caller.id, name, now=page.now)  # fmt: skip
    return RedirectResponse(f"/campaigns/new/{draft_id}/audience", status_code=303)


@router.get("/campaigns/new/{draft_id}/{step}")
def builder_step(draft_id: int, step: str, page: Page = Depends(builder_page)) -> Response:
    if step not in STEPS:
        return error_page(page.request, 404, N_("Page not found"))
    draft = _draft_or_404(page, draft_id)
    if isinstance(draft, Response):
        return draft
    if draft["campaign_id"] is not None:
        return RedirectResponse(f"/campaigns/{draft['campaign_id']}", status_code=303)
    return _step_page(page, draft, step, [])


@router.post("/campaigns/new/{draft_id}/{step}")
async def builder_save(
    request: Request, draft_id: int, step: str, page: Page = Depends(builder_page)
) -> Response:
    """Saves the step; then back, next, a check of what was typed, or an insertion into
    the message (the no-JavaScript way to the insert buttons)."""
    return await run_in_threadpool(_save_step, page, draft_id, step, await request.form())


def _save_step(page: Page, draft_id: int, step: str, form: FormData) -> Response:
    if step not in STEPS:
        return error_page(page.request, 404, N_("Page not found"))
    draft = _draft_or_404(page, draft_id)
    if isinstance(draft, Response):
        return draft
    typed = _typed(form, step)
    action = _text(form, "action") or "next"
    insert = _text(form, "insert")
    if insert and step == "message":
        typed["body"] = _insertion(typed["body"], insert, typed.get("link_url", ""))
        action = "check"
    try:
        save_builder_draft(page.engine, page.workspace, page.caller.id, draft_id, typed, step,
                           now=page.now)  # fmt: skip
    except UserError:
        return RedirectResponse(f"/campaigns/{draft['campaign_id']}", status_code=303)
    draft["data"] = {**draft["data"], **typed}
    index = STEPS.index(step)
    if action == "back":
        return RedirectResponse(f"/campaigns/new/{draft_id}/{STEPS[max(index - 1, 0)]}",
                                status_code=303)  # fmt: skip
    if action == "launch" and step == "review":
        return _launch(page, draft)
    errors = _check_step(page, draft, step)
    if errors or action == "check" or index == len(STEPS) - 1:
        return _step_page(page, draft, step, errors, status=422 if errors else 200)
    return RedirectResponse(f"/campaigns/new/{draft_id}/{STEPS[index + 1]}", status_code=303)


def _insertion(body: str, insert: str, link_url: str) -> str:
    """The body with a variable, the coupon or a tracked link added at its end."""
    if insert == "link":
        url = link_url.strip().replace('"', "%22") or "https://"
        piece = '{{ link("' + url + '") }}'
    else:
        piece = "{{ " + "".join(c for c in insert if c.isalnum() or c in "_.") + " }}"
    return body + (" " if body and not body.endswith((" ", "\n")) else "") + piece


def _check_step(page: Page, draft: dict[str, Any], step: str) -> list[FieldError]:
    """The engine's refusals about this step's fields (other steps' wait for their turn)."""
    data = draft["data"]
    try:
        if step == "audience":
            try:
                expression = audience_expression(page.engine, page.workspace, data)
                count_segment(page.engine, page.workspace, expression, page.now)
            except UserError as error:
                return [_audience_refusal(page.request, error)]
            return []
        expression = audience_expression(page.engine, page.workspace, data)
        campaign = draft_from_fields(data, expression, page.workspace.timezone)
        if step in ("message", "variants"):
            check_draft_message(page.engine, page.settings, page.workspace, campaign, page.now,
                                samples=0)  # fmt: skip
        if step == "timing" and campaign.at is not None and campaign.at < page.now:
            _ = gettext_for(page.request)
            return [FieldError("at_date", _("That date and time has passed: choose a later one."))]
        if step == "timing" and campaign.cron:
            parse_cron(campaign.cron)
    except UserError as error:
        found = _refusal(page.request, error)
        if FIELD_STEP.get(found.field, step) == step:
            return [found]
    return []


def _launch(page: Page, draft: dict[str, Any]) -> Response:
    """Creates the campaign and launches (or schedules) it; a refusal goes to its step."""
    data = draft["data"]
    try:
        expression = audience_expression(page.engine, page.workspace, data)
        campaign = draft_from_fields(data, expression, page.workspace.timezone)
        campaign_id = create_campaign(page.engine, page.workspace, campaign,
                                      actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:
        found = _refusal(page.request, error)
        return _step_page(page, draft, FIELD_STEP.get(found.field, "review"), [found], status=422)
    finish_builder_draft(page.engine, page.workspace, page.caller.id, draft["id"], campaign_id,
                         now=page.now)  # fmt: skip
    try:
        launch_campaign(page.engine, page.settings, page.workspace, campaign_id,
                        actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:  # e.g. too few coupons: the campaign stays a draft, reported
        return error_page(page.request, 422, N_("The campaign was saved but not launched."),
                          detail=error.problem.message)  # fmt: skip
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/new/{draft_id}/audience/count")
async def builder_count(
    request: Request, draft_id: int, page: Page = Depends(builder_page)
) -> Response:
    """The live recipient count (htmx, as the expression is typed); the typed audience is
    saved with it, so leaving the page loses nothing."""
    return await run_in_threadpool(_live_count, page, draft_id, await request.form())


def _live_count(page: Page, draft_id: int, form: FormData) -> Response:
    draft = _draft_or_404(page, draft_id)
    if isinstance(draft, Response):
        return draft
    typed = _typed(form, "audience")
    save_builder_draft(page.engine, page.workspace, page.caller.id, draft_id, typed, "audience",
                       now=page.now)  # fmt: skip
    data = {**draft["data"], **typed}
    return render(page.request, "campaigns/builder/_count.html", _audience_context(page, data))


@router.post("/campaigns/new/{draft_id}/message/check")
async def builder_message_check(
    request: Request, draft_id: int, page: Page = Depends(builder_page)
) -> Response:
    """The live encoding, parts and previews (htmx, as the text is typed)."""
    return await run_in_threadpool(_live_message, page, draft_id, await request.form())


def _live_message(page: Page, draft_id: int, form: FormData) -> Response:
    draft = _draft_or_404(page, draft_id)
    if isinstance(draft, Response):
        return draft
    typed = _typed(form, "message")
    save_builder_draft(page.engine, page.workspace, page.caller.id, draft_id, typed, "message",
                       now=page.now)  # fmt: skip
    data = {**draft["data"], **typed}
    return render(page.request, "campaigns/builder/_message_check.html",
                  _message_context(page, data))  # fmt: skip


def _audience_context(page: Page, data: dict[str, Any]) -> dict[str, Any]:
    """The recipient count and exclusions for the typed audience, or the refusal."""
    check: MessageCheck | None = None
    error: FieldError | None = None
    matched = 0
    try:
        expression = audience_expression(page.engine, page.workspace, data)
        matched = int(count_segment(page.engine, page.workspace, expression, page.now)["count"])
        check = check_audience(page.engine, page.settings, page.workspace, expression,
                               str(data.get("purpose", "promotional")), page.now)  # fmt: skip
    except UserError as refused:
        error = _audience_refusal(page.request, refused)
    return {"check": check, "count_error": error, "matched": matched, "exclusions": EXCLUSIONS}


def _channel_context(data: dict[str, Any]) -> dict[str, Any]:
    """The chain as typed (the content fields shown are those of its channels) and
    whether SMS is in it: only then do encoding and parts mean anything."""
    typed = [str(data.get(f"channel_{i}", "")).strip() for i in range(1, CHAIN_SLOTS + 1)]
    try:
        chain = list(channel_options_of({**data, **{f: "x" for f in CONTENT_PLACEHOLDERS}})
                     .channels)  # fmt: skip
    except UserError:
        chain = [word for word in typed if word] or ["sms"]
    return {"chain": chain, "has_sms": "sms" in chain, "chain_slots": range(1, CHAIN_SLOTS + 1),
            "channel_names": CHANNEL_NAMES}  # fmt: skip


CONTENT_PLACEHOLDERS = ("email_subject", "whatsapp_template", "push_title")
"""Filled in only to read the chain when its content is not typed yet."""


def _message_context(page: Page, data: dict[str, Any]) -> dict[str, Any]:
    """Encoding and parts of the longest personalised text, the characters forcing UCS-2
    and what smart encoding would make of it, a few real recipients' texts."""
    check: MessageCheck | None = None
    error: FieldError | None = None
    body = str(data.get("body", ""))
    channels = _channel_context(data)
    if not body.strip():  # where everyone starts: nothing to check yet, nothing wrong
        return {"check": None, "message_error": None, "marks": [], "forcing": (),
                "smart": None, "encoding": "GSM-7", "parts": 0, **channels}  # fmt: skip
    try:
        expression = audience_expression(page.engine, page.workspace, data)
        campaign = draft_from_fields(data, expression, page.workspace.timezone)
        check = check_draft_message(page.engine, page.settings, page.workspace, campaign,
                                    page.now, limit=LIVE_MEMBERS)  # fmt: skip
    except UserError as refused:
        error = _refusal(page.request, refused)
    text = check.longest if check and check.longest else body
    try:
        marks = mark_non_gsm(body)
        forcing = non_gsm_characters(text)
        smart = smart_encode(text) if forcing else None
    except UserError:  # a control character: the refusal above names it
        marks, forcing, smart = [(body, False)], (), None
    encoding = check.encoding if check and check.recipients else ("UCS-2" if forcing else "GSM-7")
    parts = check.most_parts if check and check.recipients else _parts_of(body)
    return {"check": check, "message_error": error, "marks": marks, "forcing": forcing,
            "smart": smart, "encoding": encoding, "parts": parts, **channels}  # fmt: skip


def _parts_of(text: str) -> int:
    """Parts of the template's own text, when the audience has nobody to personalise for."""
    try:
        return analyse(text).parts
    except UserError:
        return 0


def _options(page: Page) -> dict[str, Any]:
    """What the steps' choices offer: saved segments, coupon pools, numbers, variables."""
    return {
        "segments": list_segments(page.engine, page.workspace),
        "pools": pool_summaries(page.engine, page.workspace),
        "numbers": list_numbers(page.engine, page.workspace, limit=200),
        "variables": template_variables(page.engine, page.workspace),
    }


def _step_page(page: Page, draft: dict[str, Any], step: str, errors: list[FieldError], *,
               status: int = 200) -> Response:  # fmt: skip
    data = draft["data"]
    context: dict[str, Any] = {
        "draft": draft,
        "data": data,
        "step": step,
        "steps": STEPS,
        "step_titles": STEP_TITLES,
        "reached": STEPS.index(draft["step"]) if draft["step"] in STEPS else 0,
        "errors": errors,
        "metrics": METRICS,
        "purposes": PURPOSE_NAMES,
        "exclusions": EXCLUSIONS,
        "variant_slots": range(1, VARIANT_SLOTS + 1),
        **_options(page),
    }
    more: Callable[[Page, dict[str, Any]], dict[str, Any]] | None = {
        "audience": _audience_context,
        "message": _message_context,
        "review": _review_context,
    }.get(step)
    if more is not None:
        context.update(more(page, data))
    return render(page.request, f"campaigns/builder/{step}.html", context, status_code=status)


def _review_context(page: Page, data: dict[str, Any]) -> dict[str, Any]:
    """The campaign preview of the whole draft: who gets a text, exclusions, parts, cost."""
    try:
        expression = audience_expression(page.engine, page.workspace, data)
        campaign = draft_from_fields(data, expression, page.workspace.timezone)
        check = check_draft_message(page.engine, page.settings, page.workspace, campaign,
                                    page.now)  # fmt: skip
    except UserError as refused:
        found = _refusal(page.request, refused)
        return {"check": None, "review_error": found,
                "review_step": FIELD_STEP.get(found.field, "review"), "campaign": None}  # fmt: skip
    return {"check": check, "review_error": None, "review_step": "review", "campaign": campaign}
