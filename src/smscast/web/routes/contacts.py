"""The contacts pages: the list (search, segment filter, export) and one contact's page
(attributes, the address on each channel with push subscriptions and suppressions,
consent per channel and purpose with its full evidence, messages, tickets; edit, opt out
of one channel or of everything, erase).

Every figure comes from the engine's use cases, the same as the API's and the CLI's:
`search_contacts` finds, `export_found_contacts` streams the same contacts as CSV,
`channel_overview` is the contact on every channel, `consent_history` is the ledger,
`list_messages` and `list_tickets` filtered by the contact. Buttons show only to roles
that may use them; the routes check again.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from starlette.responses import RedirectResponse, Response, StreamingResponse

from smscast.core.consent import ALL_CHANNELS, Action, ConsentChannel, Purpose, Source
from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.contacts.channel_overview import channel_overview
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.edits import ContactFields, get_contact, update_contact
from smscast.engine.contacts.records import erase_contact
from smscast.engine.contacts.search import ContactSearch, export_found_contacts, search_contacts
from smscast.engine.delivery.messages_view import list_messages
from smscast.engine.inbound.tickets import list_tickets
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
NAV = [NavItem(30, N_("Contacts"), "/contacts")]

PAGE_SIZE = 50
_PLACE = re.compile(r"^line \d+, column \d+: ")  # the engine's own "where", said again here
MESSAGES_SHOWN = 500
MAX_TEXT = 200
MAX_SEGMENT = 4000
NAMES = ("first_name", "last_name")
OPT_OUT_PURPOSES = (
    (Purpose.ALL.value, N_("All messages")),
    (Purpose.PROMOTIONAL.value, N_("Promotional messages")),
    (Purpose.INFORMATIONAL.value, N_("Informational messages")),
)
CHANNEL_NAMES = {
    "sms": N_("SMS"),
    "email": N_("Email"),
    "whatsapp": N_("WhatsApp"),
    "push": N_("Web push"),
    "voice": N_("Voice calls"),
    ALL_CHANNELS: N_("All channels"),
}
OPT_OUT_CHANNELS = (
    (ALL_CHANNELS, N_("Every channel (opt out of everything)")),
    *((c.value, CHANNEL_NAMES[c.value]) for c in ConsentChannel if c.value != ALL_CHANNELS),
)
# How stored codes read on the page (msgids; translated in the template).
WORDS: dict[str, dict[str, str]] = {
    "channel": CHANNEL_NAMES,
    "suppression": {
        "bounce": N_("bounced"),
        "complaint": N_("marked as spam"),
        "gone": N_("no longer exists"),
        "opt_out": N_("opted out"),
    },
    "purpose": {
        "promotional": N_("promotional"),
        "informational": N_("informational"),
        "all": N_("all messages"),
    },
    "source": {
        "import": N_("import"),
        "keyword": N_("text message keyword"),
        "api": N_("API"),
        "ui": N_("portal"),
        "double_opt_in": N_("double opt-in by text"),
        "cli": N_("command line"),
        "web_form": N_("sign-up page"),
        "unsubscribe": N_("email unsubscribe link"),
        "complaint": N_("spam complaint"),
        "voice_key": N_("key pressed in a call"),
        "push_subscribe": N_("browser notification permission"),
    },
    "status": {
        "queued": N_("queued"),
        "sending": N_("sending"),
        "sent": N_("sent"),
        "delivered": N_("delivered"),
        "undelivered": N_("undelivered"),
        "failed": N_("failed"),
        "expired": N_("expired"),
        "unknown": N_("unknown"),
        "cancelled": N_("cancelled"),
        "received": N_("received"),
        "set_aside": N_("set aside"),
    },
    "ticket": {"open": N_("open"), "pending": N_("pending"), "solved": N_("solved")},
}


@router.get("/contacts")
def contact_list(
    page: Page = Depends(reader_page),
    q: str = Query("", max_length=MAX_TEXT),
    segment: str = Query("", max_length=MAX_SEGMENT),
    number: int = Query(1, alias="page", ge=1, le=1_000_000),
) -> Response:
    """The contacts found by `q` (phone, name, any attribute value) within `segment`."""
    _ = gettext_for(page.request)
    search = ContactSearch(q, segment)
    errors: list[FieldError] = []
    found = None
    try:
        found = search_contacts(
            page.engine, page.workspace, search, now=page.now, page=number, page_size=PAGE_SIZE
        )
    except UserError as error:
        errors.append(FieldError("segment", _segment_error(page, error)))
    query = {"q": q, "segment": segment}
    return render(
        page.request,
        "contacts/list.html",
        {
            "q": q,
            "segment": segment,
            "found": found,
            "errors": errors,
            "export_link": "/contacts/export.csv?" + urlencode(query),
            "page_link": "/contacts?" + urlencode(query) + "&page=",
        },
        status_code=422 if errors else 200,
    )


def _segment_error(page: Page, error: UserError) -> str:
    _ = gettext_for(page.request)
    problem = error.problem
    if problem.line is not None and problem.column is not None:
        return _(
            "The segment expression is wrong at line %(line)s, column %(column)s: %(reason)s",
            line=problem.line,
            column=problem.column,
            reason=_PLACE.sub("", problem.message),
        )
    return _("The segment expression is wrong: %(reason)s", reason=problem.message)


@router.get("/contacts/export.csv")
def export(
    page: Page = Depends(reader_page),
    q: str = Query("", max_length=MAX_TEXT),
    segment: str = Query("", max_length=MAX_SEGMENT),
) -> Response:
    """The contacts the list finds, as CSV, streamed from the database as it is read."""
    pieces = export_found_contacts(page.engine, page.workspace, ContactSearch(q, segment),
                                   now=page.now)  # fmt: skip
    stamp = page.now.strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        pieces,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="contacts-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/contacts/{contact_id:int}")
def contact_page(contact_id: int, page: Page = Depends(reader_page)) -> Response:
    return _contact_view(page, contact_id)


def _contact_view(
    page: Page,
    contact_id: int,
    *,
    errors: list[FieldError] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    _ = gettext_for(page.request)
    contact = get_contact(page.engine, page.workspace, contact_id)
    history = consent_history(page.engine, page.workspace, contact["phone"])
    messages = list_messages(page.engine, page.workspace, phone=contact["phone"],
                             limit=MESSAGES_SHOWN)  # fmt: skip
    tickets = list_tickets(page.engine, page.workspace, contact_id=contact_id)
    channels = channel_overview(page.engine, page.workspace, contact_id)
    attributes = dict(contact["attributes"] or {})
    return render(
        page.request,
        "contacts/show.html",
        {
            "contact": contact,
            "name": _full_name(attributes),
            "attributes": sorted(
                (key, value) for key, value in attributes.items() if key not in NAMES
            ),
            "consent_state": history["state"],
            "channels": channels,
            "consent_events": list(reversed(history["events"])),
            "messages": list(reversed(messages)),
            "messages_capped": len(messages) >= MESSAGES_SHOWN,
            "tickets": tickets,
            "errors": errors or [],
            "form": typed if typed is not None else _form_of(contact),
            "purposes": [(value, _(label)) for value, label in OPT_OUT_PURPOSES],
            "opt_out_channels": [(value, _(label)) for value, label in OPT_OUT_CHANNELS],
            "words": WORDS,
        },
        status_code=status_code,
    )


def _full_name(attributes: dict[str, Any]) -> str:
    return " ".join(str(attributes[key]) for key in NAMES if attributes.get(key)).strip()


def _form_of(contact: dict[str, Any]) -> dict[str, str]:
    attributes = contact["attributes"] or {}
    return {
        "first_name": str(attributes.get("first_name", "")),
        "last_name": str(attributes.get("last_name", "")),
        "language": contact["language"] or "",
        "timezone": contact["timezone"] or "",
        "email": contact["email"] or "",
        "whatsapp": contact["whatsapp"] or "",
        "tags": ", ".join(contact["tags"] or []),
        "attributes": "\n".join(
            f"{key} = {value}" for key, value in sorted(attributes.items()) if key not in NAMES
        ),
    }


@router.post("/contacts/{contact_id:int}/edit")
def edit(
    contact_id: int,
    page: Page = Depends(page_for(Permission.CONTACTS_WRITE)),
    first_name: str = Form("", max_length=MAX_TEXT),
    last_name: str = Form("", max_length=MAX_TEXT),
    language: str = Form("", max_length=20),
    timezone: str = Form("", max_length=64),
    email: str = Form("", max_length=320),
    whatsapp: str | None = Form(None, max_length=40),
    tags: str = Form("", max_length=2000),
    attributes: str = Form("", max_length=20_000),
) -> Response:
    """Saves the edit form: names and other attributes (a line removed removes it),
    language, time zone, email, WhatsApp number (empty: the phone) and tags."""
    _ = gettext_for(page.request)
    typed = {
        "first_name": first_name, "last_name": last_name, "language": language,
        "timezone": timezone, "email": email, "whatsapp": whatsapp or "", "tags": tags,
        "attributes": attributes,
    }  # fmt: skip
    errors: list[FieldError] = []
    given, bad_line = _attribute_lines(attributes)
    if bad_line:
        errors.append(FieldError("attributes", _(
            'Line %(line)s is not "name = value".', line=bad_line,
        )))  # fmt: skip
    if not timezone.strip():
        errors.append(FieldError("timezone", _("Enter a time zone, such as Europe/Warsaw.")))
    if not errors:
        stored = get_contact(page.engine, page.workspace, contact_id)["attributes"] or {}
        wanted: dict[str, Any] = {**given, "first_name": first_name.strip() or None,
                                  "last_name": last_name.strip() or None}  # fmt: skip
        changes = {key: None for key in stored if key not in wanted}
        changes.update(wanted)
        fields = ContactFields(
            attributes=changes,
            language=language.strip() or None,
            timezone=timezone.strip(),
            email=email.strip(),
            tags=[tag for tag in tags.replace(";", ",").split(",")],
            whatsapp=whatsapp.strip() if whatsapp is not None else None,
        )
        try:
            update_contact(page.engine, page.workspace, contact_id, fields, now=page.now)
        except UserError as error:
            errors.append(_edit_refusal(page, error))
    if errors:
        return _contact_view(page, contact_id, errors=errors, typed=typed, status_code=422)
    return RedirectResponse(f"/contacts/{contact_id}?saved=1", status_code=303)


def _attribute_lines(text: str) -> tuple[dict[str, str], int]:
    """`name = value` lines as a dict; the number of the first line that is not one."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip() or name.strip() in NAMES:
            return found, number
        found[name.strip()] = value.strip()
    return found, 0


def _edit_refusal(page: Page, error: UserError) -> FieldError:
    _ = gettext_for(page.request)
    words = {
        "invalid_language": _("Enter a language code, such as pl, en or pt-BR."),
        "invalid_timezone": _("Enter a time zone, such as Europe/Warsaw."),
        "invalid_email": _("Enter a valid email address."),
        "invalid_whatsapp": _("Enter a WhatsApp number, such as +48 601 234 567."),
    }
    field = error.problem.field or "attributes"
    return FieldError(field, words.get(error.problem.code, error.problem.message))


@router.post("/contacts/{contact_id:int}/opt-out")
def opt_out(
    contact_id: int,
    page: Page = Depends(page_for(Permission.CONSENT_OPT_OUT)),
    purpose: str = Form(Purpose.ALL.value),
    channel: str = Form("sms", max_length=20),
    evidence: str = Form("", max_length=1000),
) -> Response:
    """Records an opt-out of one channel, or of every channel at once (`all`), in the
    ledger, as asked in the portal, with who did it."""
    _ = gettext_for(page.request)
    contact = get_contact(page.engine, page.workspace, contact_id)
    if channel not in {value for value, _label in OPT_OUT_CHANNELS}:
        return _contact_view(page, contact_id, status_code=422, errors=[
            FieldError("channel", _("Choose the channel they no longer want messages on."))
        ])  # fmt: skip
    if purpose not in {value for value, _label in OPT_OUT_PURPOSES}:
        return _contact_view(page, contact_id, status_code=422, errors=[
            FieldError("purpose", _("Choose which messages they no longer want."))
        ])  # fmt: skip
    change = ConsentChange(
        channel=channel,
        purpose=purpose,
        action=Action.OPT_OUT,
        source=Source.UI,
        evidence=evidence.strip() or f"opted out in the portal by {page.caller.actor}",
        actor=page.caller.actor,
        now=page.now,
    )
    record_consent(page.engine, page.settings, page.workspace, contact["phone"], change)
    return RedirectResponse(f"/contacts/{contact_id}?opted_out=1", status_code=303)


@router.get("/contacts/{contact_id:int}/erase")
def erase_confirmation(
    contact_id: int, page: Page = Depends(page_for(Permission.CONTACTS_ERASE))
) -> Response:
    """Asks before erasing: what goes, and that it cannot be undone."""
    contact = get_contact(page.engine, page.workspace, contact_id)
    return render(
        page.request,
        "contacts/erase.html",
        {"contact": contact, "name": _full_name(dict(contact["attributes"] or {})), "errors": []},
    )


@router.post("/contacts/{contact_id:int}/erase")
def erase(
    contact_id: int,
    page: Page = Depends(page_for(Permission.CONTACTS_ERASE)),
    confirm: str = Form(""),
) -> Response:
    """Erases the person once the confirmation box is ticked; back to the list."""
    _ = gettext_for(page.request)
    contact = get_contact(page.engine, page.workspace, contact_id)
    if confirm != "yes":
        return render(
            page.request,
            "contacts/erase.html",
            {
                "contact": contact,
                "name": _full_name(dict(contact["attributes"] or {})),
                "errors": [FieldError("confirm", _("Tick the box to confirm the erasure."))],
            },
            status_code=422,
        )
    erase_contact(page.engine, page.settings, page.workspace, contact["phone"],
                  actor=page.caller.actor, now=page.now)  # fmt: skip
    return RedirectResponse("/contacts?erased=1", status_code=303)
