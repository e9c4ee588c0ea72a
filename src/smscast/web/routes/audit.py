"""The audit log: who did what and when, newest first, filtered by who, what and days.

Days are the workspace's (a day from midnight to midnight in its time zone). Each
entry's action reads as words where the portal knows its code (the codes the engine's
`record_audit` calls write); a code it does not know is shown as it is. The events
are `list_audit_events`', the same the API's `GET /api/v1/audit-events` pages through.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from starlette.responses import Response

from smscast.core.roles import Permission
from smscast.engine.accounts.audit import audit_filter_choices, list_audit_events
from smscast.web.auth import Page, page_for
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)

audit_page = page_for(Permission.AUDIT_READ)
PAGE_SIZE = 50
MAX_FILTER = 200  # as the API's actor filter
#: The action codes of the engine's `record_audit` calls, in words ("who" did this).
ACTIONS = {
    "api_key.created": N_("created an API key"),
    "api_key.revoked": N_("revoked an API key"),
    "campaign.created": N_("created a campaign"),
    "campaign.scheduled": N_("scheduled a campaign"),
    "campaign.launched": N_("launched a campaign"),
    "campaign.pause": N_("paused a campaign"),
    "campaign.resume": N_("resumed a campaign"),
    "campaign.cancel": N_("cancelled a campaign"),
    "compliance_word.added": N_("added a compliance word"),
    "compliance_word.removed": N_("removed a compliance word"),
    "connector.added": N_("added a connector"),
    "connector.updated": N_("changed a connector"),
    "consent.opt_in": N_("recorded an opt-in"),
    "consent.opt_out": N_("recorded an opt-out"),
    "contact.created": N_("created a contact"),
    "contact.erased": N_("erased a contact"),
    "contacts.upserted": N_("created or updated contacts in bulk"),
    "coupon.redeemed": N_("redeemed a coupon"),
    "coupons.added": N_("added coupon codes"),
    "instance_admin.granted": N_("made someone an instance administrator"),
    "instance_admin.revoked": N_("took instance administration away"),
    "keyword_rule.added": N_("added a keyword rule"),
    "keyword_rule.campaign_linked": N_("linked a keyword rule to a campaign"),
    "keyword_rule.removed": N_("removed a keyword rule"),
    "keyword_rule.updated": N_("changed a keyword rule"),
    "keyword_rule.enabled": N_("switched a keyword rule on"),
    "keyword_rule.disabled": N_("switched a keyword rule off"),
    "member.added": N_("added a member"),
    "member.removed": N_("removed a member"),
    "member.role_changed": N_("changed a member's role"),
    "member.invited": N_("invited a member"),
    "member.invitation_revoked": N_("withdrew an invitation"),
    "member.joined": N_("joined the workspace"),
    "message.queued": N_("sent a single text"),
    "number.added": N_("added a number"),
    "number.auto_reply_set": N_("set a number's automatic reply"),
    "number.auto_reply_off": N_("turned a number's automatic reply off"),
    "number.compliance_reply_set": N_("set a number's compliance answer"),
    "password.changed": N_("changed their password"),
    "password.set": N_("set a password"),
    "saved_reply.created": N_("added a saved reply"),
    "saved_reply.changed": N_("changed a saved reply"),
    "saved_reply.deleted": N_("deleted a saved reply"),
    "segment.saved": N_("saved a segment"),
    "segment.deleted": N_("deleted a segment"),
    "sign_in.failed": N_("failed to sign in"),
    "sign_in.locked": N_("locked an account after failed sign-ins"),
    "sign_in.address_locked": N_("locked an address after failed sign-ins"),
    "ticket.assigned": N_("assigned a ticket"),
    "ticket.replied": N_("replied to a ticket"),
    "ticket.solved": N_("solved a ticket"),
    "ticket.reopened": N_("reopened a ticket"),
    "user.created": N_("created a user"),
    "user.renamed": N_("changed their name"),
    "user.signed_out_everywhere": N_("signed out everywhere"),
    "webhook.created": N_("added a webhook"),
    "webhook.changed": N_("changed a webhook"),
    "webhook.deleted": N_("deleted a webhook"),
    "webhook.delivery_resent": N_("resent a webhook delivery"),
    "workspace.created": N_("created the workspace"),
    "workspace.settings_changed": N_("changed the workspace's settings"),
}
#: How actors are named (`Caller.actor` and the CLI's): kind → words with the name.
ACTOR_KINDS = {
    "user": None,  # the email address alone
    "key": N_("API key “%(name)s”"),
    "cli": N_("command line (%(name)s)"),
}


@router.get("/settings/audit")
def audit_log_page(
    page: Page = Depends(audit_page),
    actor: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    before: int = 0,
) -> Response:
    """One page of the log, newest first, with the filters as chosen."""
    _ = gettext_for(page.request)
    filters = {"actor": actor[:MAX_FILTER], "action": action[:64], "since": since.strip(),
               "until": until.strip()}  # fmt: skip
    zone = ZoneInfo(page.workspace.timezone)
    errors: list[FieldError] = []
    start = _day(filters["since"], zone, "since", errors, _)
    end = _day(filters["until"], zone, "until", errors, _)
    if start and end and end < start:
        errors.append(FieldError("until", _("The last day comes before the first day.")))
    events: list[dict[str, Any]] = []
    older = None
    if not errors:
        found = list_audit_events(
            page.engine,
            page.workspace.id,
            before=max(before, 0),
            limit=PAGE_SIZE + 1,
            action=filters["action"] or None,
            actor=filters["actor"] or None,
            since=start,
            until=_next_day(end),
        )
        events = [_shown(event, _) for event in found[:PAGE_SIZE]]
        if len(found) > PAGE_SIZE:
            older = _link(filters, before=events[-1]["id"])
    choices = audit_filter_choices(page.engine, page.workspace.id)
    return render(
        page.request,
        "settings/audit.html",
        {
            "events": events,
            "filters": filters,
            "filtered": any(filters.values()),
            "errors": errors,
            "older": older,
            "newest": _link(filters) if before else None,
            "actor_options": [(a, actor_words(a, _)) for a in choices.actors],
            "action_options": _action_options(choices.actions, _),
        },
        status_code=422 if errors else 200,
    )


def actor_words(actor: str, _: Any) -> str:
    """`user:ola@shop.test` → the address; `key:shop` → API key “shop”; else as it is."""
    words, name = actor_parts(actor)
    return name if words is None else str(_(words, name=name))


def actor_parts(actor: str) -> tuple[str | None, str]:
    """The words around an actor's name (an msgid, or None) and the name itself: the
    table marks the name as not to be translated (a key's or a system user's name)."""
    kind, _sep, name = actor.partition(":")
    if kind not in ACTOR_KINDS or not name:
        return None, actor
    return ACTOR_KINDS[kind], name


def _action_options(present: list[str], _: Any) -> list[tuple[str, str]]:
    """Every known action and any other found in the log, by their words."""
    codes = set(ACTIONS) | set(present)
    options = [(code, str(_(ACTIONS[code])) if code in ACTIONS else code) for code in codes]
    return sorted(options, key=lambda option: option[1].casefold())


# What the engine writes as an entry's subject ("campaign #12"), in the reader's words.
SUBJECTS = {
    "campaign": N_("campaign #%(id)s"),
    "contact": N_("contact #%(id)s"),
    "saved reply": N_("saved reply #%(id)s"),
}
NUMBERED = re.compile(r"^(?P<kind>[a-z][a-z ]*) #(?P<id>\d+)$")


def subject_words(subject: str, _: Any) -> str:
    """A "campaign #12" subject in the reader's language; any other (a name, an email,
    a phone, "#7") is the object's own name and stays as written."""
    found = NUMBERED.match(subject)
    if found and found["kind"] in SUBJECTS:
        return str(_(SUBJECTS[found["kind"]], id=found["id"]))
    return subject


def _shown(event: dict[str, Any], _: Any) -> dict[str, Any]:
    details = event["details"] or {}
    return {
        **event,
        "subject": subject_words(event["subject"], _),
        "who": actor_words(event["actor"], _),
        "who_parts": actor_parts(event["actor"]),
        "phrase": ACTIONS.get(event["action"]),
        "details_shown": [(str(key), _value(value)) for key, value in details.items()],
    }


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _day(
    text: str, zone: ZoneInfo, field: str, errors: list[FieldError], _: Any
) -> datetime | None:
    """The start of day `text` in the workspace's time zone, or None (an error noted)."""
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=zone)
    except ValueError:
        errors.append(FieldError(field, _("Enter a date, e.g. 2026-11-25.")))
        return None


def _next_day(day: datetime | None) -> datetime | None:
    """The end of the last day chosen (its next midnight), or None for no bound."""
    if day is None:
        return None
    try:
        return day + timedelta(days=1)
    except OverflowError:  # 9999-12-31: no later moment to stop at
        return None


def _link(filters: dict[str, str], *, before: int = 0) -> str:
    query = {key: value for key, value in filters.items() if value}
    if before:
        query["before"] = str(before)
    return "/settings/audit" + (f"?{urlencode(query)}" if query else "")
