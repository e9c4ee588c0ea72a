"""One ticket: the conversation both ways with each reply's delivery state, the internal
notes, the contact's card, the reply box with saved replies, assignment, solve and reopen,
and the contact's opt-out; plus the agents' saved replies (`/inbox/saved-replies`).

Live for two agents: `/inbox/{id}/stream` polls the ticket's pulse (one small query:
its version and who is replying) and tells the page when the conversation changed —
a text either way, a delivery report, a note, a new state or assignee — and who else is
typing a reply; the page then fetches `/inbox/{id}/live` (the conversation alone) and
swaps it in. Typing in the reply box tells the server every few seconds
(`/inbox/{id}/typing`); the mark lapses by itself when the typing stops.

Every write is a plain form post answered with a redirect back to the ticket, so the
page works without JavaScript. Reading takes `read`; answering, notes, assignment,
states and saved replies take `tickets.write`; the opt-out takes `consent.opt_out`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import StreamingResponse
from starlette.responses import RedirectResponse, Response

from smscast.api.deps import SESSION_COOKIE
from smscast.core.consent import Action, Purpose, Source
from smscast.core.errors import UserError
from smscast.core.roles import Permission, allows
from smscast.engine.accounts.users import list_members
from smscast.engine.campaigns.lifecycle import list_campaigns
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.contacts.records import show_contact
from smscast.engine.delivery.messages_view import list_messages
from smscast.engine.inbound.presence import mark_replying, stop_replying, ticket_pulse
from smscast.engine.inbound.saved_replies import (
    delete_saved_reply,
    fill_saved_reply,
    get_saved_reply,
    list_saved_replies,
    save_saved_reply,
)
from smscast.engine.inbound.tickets import (
    REOPENED_BY_TEXT,
    SYSTEM_AUTHOR,
    add_ticket_note,
    assign_ticket,
    reopen_ticket,
    reply_to_ticket,
    show_ticket,
    solve_ticket,
)
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.routes.connector_forms import CHANNEL_NAMES
from smscast.web.routes.contacts import NAMES, OPT_OUT_PURPOSES, WORDS
from smscast.web.routes.dashboard_stream import (
    DEFAULT_TIMING,
    StreamTiming,
    live_events,
    session_check,
)
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)

writer_page = page_for(Permission.TICKETS_WRITE)
opt_out_page = page_for(Permission.CONSENT_OPT_OUT)
MAX_REPLY = 1600  # about ten parts: longer is no text message
MAX_NOTE = 5000
MEMBERS_SHOWN = 500
MESSAGES_READ = 500  # the contact's texts read for "campaigns received", as their page does
ENDED = frozenset({"failed", "undelivered", "expired", "unknown"})
# The engine's refusals, in the reader's words (msgids).
REFUSALS = {
    "empty_reply": N_("Write a reply first."),
    "empty_note": N_("Write the note first."),
    "unknown_assignee": N_("Choose a member of this workspace."),
    "assignee_cannot_answer": N_("This member's role may not answer tickets."),
    "ticket_not_solved": N_("The ticket is not solved: there is nothing to reopen."),
    "empty_title": N_("Give the saved reply a title."),
    "title_too_long": N_("A title has at most 120 characters."),
    "saved_reply_exists": N_("Another saved reply has this title: choose another one."),
    "empty_body": N_("Write the text of the saved reply."),
    "body_too_long": N_("A saved reply has at most 2000 characters."),
    "template.syntax": N_("The text cannot be read as a template here"),
    "template.unsafe": N_("The text uses something templates may not do"),
}
# Who sent a text of the conversation (msgids, by message kind).
KINDS = {
    "inbound": N_("received"),
    "agent_reply": N_("agent's reply"),
    "auto_reply": N_("automatic reply"),
    "help": N_("HELP answer"),
    "confirm": N_("confirmation"),
    "campaign": N_("campaign"),
}
REOPENED = N_("Reopened: the contact texted again after the ticket was solved")
NOTICES = {
    "sent": N_("Your reply is queued: its delivery shows in the conversation."),
    "noted": N_("The note was added."),
    "assigned": N_("The assignee was changed."),
    "solved": N_("The ticket is solved."),
    "reopened": N_("The ticket is open again."),
    "opted_out": N_("The opt-out was recorded."),
}


# --- saved replies (declared before /inbox/{ticket_id}) ---------------------------------


@router.get("/inbox/saved-replies")
def saved_replies_page(page: Page = Depends(writer_page), done: str = "") -> Response:
    return _saved_replies_view(page, notice=done)


@router.get("/inbox/saved-replies/{reply_id:int}/edit")
def edit_saved_reply_page(reply_id: int, page: Page = Depends(writer_page)) -> Response:
    try:
        found = get_saved_reply(page.engine, page.workspace, reply_id)
    except UserError:
        return _missing(page, N_("There is no such saved reply."))
    return _saved_replies_view(page, editing=found, typed=found)


@router.post("/inbox/saved-replies")
def add_saved_reply(
    page: Page = Depends(writer_page),
    title: str = Form("", max_length=1000),
    body: str = Form("", max_length=20_000),
) -> Response:
    return _save(page, None, title, body)


@router.post("/inbox/saved-replies/{reply_id:int}")
def change_saved_reply(
    reply_id: int,
    page: Page = Depends(writer_page),
    title: str = Form("", max_length=1000),
    body: str = Form("", max_length=20_000),
) -> Response:
    return _save(page, reply_id, title, body)


@router.post("/inbox/saved-replies/{reply_id:int}/delete")
def remove_saved_reply(reply_id: int, page: Page = Depends(writer_page)) -> Response:
    try:
        delete_saved_reply(page.engine, page.workspace, reply_id, actor=page.caller.actor,
                           now=page.now)  # fmt: skip
    except UserError:
        return _missing(page, N_("There is no such saved reply."))
    return RedirectResponse("/inbox/saved-replies?done=deleted", status_code=303)


def _save(page: Page, reply_id: int | None, title: str, body: str) -> Response:
    try:
        save_saved_reply(page.engine, page.workspace, reply_id=reply_id, title=title, body=body,
                         actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:
        if error.problem.code == "unknown_saved_reply":
            return _missing(page, N_("There is no such saved reply."))
        editing = {"id": reply_id} if reply_id is not None else None
        return _saved_replies_view(page, editing=editing, typed={"title": title, "body": body},
                                   errors=[_refusal(page, error)], status_code=422)  # fmt: skip
    return RedirectResponse("/inbox/saved-replies?done=saved", status_code=303)


def _saved_replies_view(
    page: Page, *, editing: dict[str, Any] | None = None, typed: dict[str, Any] | None = None,
    errors: list[FieldError] | None = None, notice: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    notices = {"saved": N_("The saved reply was saved."),
               "deleted": N_("The saved reply was deleted.")}  # fmt: skip
    return render(page.request, "inbox/saved_replies.html", {
        "replies": list_saved_replies(page.engine, page.workspace),
        "editing": editing,
        "typed": typed or {"title": "", "body": ""},
        "errors": errors or [],
        "notice": notices.get(notice, ""),
    }, status_code=status_code)  # fmt: skip


# --- the ticket -------------------------------------------------------------------------


@router.get("/inbox/{ticket_id:int}")
def ticket_page(ticket_id: int, page: Page = Depends(reader_page), done: str = "") -> Response:
    return _ticket_view(page, ticket_id, notice=NOTICES.get(done, ""))


@router.get("/inbox/{ticket_id:int}/live")
def ticket_live(ticket_id: int, page: Page = Depends(reader_page)) -> Response:
    """The conversation alone (state, assignee, thread), swapped in when it changed."""
    try:
        ticket = show_ticket(page.engine, page.workspace, ticket_id)
    except UserError:
        return Response(status_code=404)
    context = {"ticket": _shown(page, ticket), "members": _members(page), "words": WORDS,
               "kinds": KINDS, "version": _version(page, ticket_id), "errors": [],
               "channel_names": CHANNEL_NAMES}  # fmt: skip
    return render(page.request, "inbox/_ticket_live.html", context)


@router.post("/inbox/{ticket_id:int}/reply")
def reply(
    ticket_id: int, page: Page = Depends(writer_page), reply: str = Form("", max_length=20_000)
) -> Response:
    _ = gettext_for(page.request)
    if len(reply) > MAX_REPLY:
        error = FieldError("reply", _("A reply has at most %(limit)s characters.",
                                      limit=MAX_REPLY))  # fmt: skip
        return _ticket_view(page, ticket_id, errors=[error], reply_text=reply, status_code=422)
    try:
        reply_to_ticket(page.engine, page.workspace, ticket_id, reply, actor=page.caller.actor,
                        now=page.now)  # fmt: skip
    except UserError as error:
        return _refused(page, ticket_id, error, "reply", reply_text=reply)
    stop_replying(page.engine, page.workspace, ticket_id, page.caller.id)
    return _back(ticket_id, "sent")


@router.post("/inbox/{ticket_id:int}/fill")
def fill(
    ticket_id: int,
    page: Page = Depends(writer_page),
    saved_reply: int = Form(0),
    reply: str = Form("", max_length=20_000),
) -> Response:
    """The reply box filled with a saved reply for this ticket's contact; what was typed
    stays, with the reason beside the picker, when it cannot be filled in."""
    errors: list[FieldError] = []
    try:
        reply = fill_saved_reply(page.engine, page.workspace, saved_reply, ticket_id)
    except UserError as error:
        if error.problem.code == "unknown_ticket":
            return _missing(page, N_("There is no such ticket."))
        errors.append(_fill_refusal(page, error))
    status = 422 if errors else 200
    if not page.request.headers.get("hx-request"):
        return _ticket_view(page, ticket_id, errors=errors, reply_text=reply, picked=saved_reply,
                            status_code=status)  # fmt: skip
    try:
        ticket = show_ticket(page.engine, page.workspace, ticket_id)
    except UserError:
        return _missing(page, N_("There is no such ticket."))
    context = {"ticket": {"id": ticket_id}, "reply_text": reply, "picked": saved_reply,
               "saved_replies": list_saved_replies(page.engine, page.workspace),
               "errors": errors, "reply_to": reply_target(ticket),
               "channel_names": CHANNEL_NAMES}  # fmt: skip
    # htmx swaps only a 2xx answer in: the refusal is shown in the box it replaces.
    return render(page.request, "inbox/_ticket_reply.html", context)


@router.post("/inbox/{ticket_id:int}/typing")
def typing(ticket_id: int, page: Page = Depends(writer_page)) -> Response:
    """The agent is typing a reply: other agents on the ticket see it for a few seconds."""
    try:
        mark_replying(page.engine, page.workspace, ticket_id, page.caller.id, now=page.now)
    except UserError:
        return Response(status_code=404)
    return Response(status_code=204)


@router.post("/inbox/{ticket_id:int}/note")
def note(
    ticket_id: int, page: Page = Depends(writer_page), body: str = Form("", max_length=20_000)
) -> Response:
    _ = gettext_for(page.request)
    if len(body) > MAX_NOTE:
        error = FieldError("body", _("A note has at most %(limit)s characters.", limit=MAX_NOTE))
        return _ticket_view(page, ticket_id, errors=[error], note_text=body, status_code=422)
    try:
        add_ticket_note(page.engine, page.workspace, ticket_id, body, actor=page.caller.actor,
                        now=page.now)  # fmt: skip
    except UserError as error:
        return _refused(page, ticket_id, error, "body", note_text=body)
    return _back(ticket_id, "noted")


@router.post("/inbox/{ticket_id:int}/assign")
def assign(
    ticket_id: int, page: Page = Depends(writer_page), assignee: str = Form("", max_length=320)
) -> Response:
    """To a member by email, to the one asking ("me"), or to nobody ("")."""
    chosen = page.viewer.profile.email if assignee == "me" else assignee.strip() or None
    try:
        assign_ticket(page.engine, page.workspace, ticket_id, chosen, actor=page.caller.actor,
                      now=page.now)  # fmt: skip
    except UserError as error:
        return _refused(page, ticket_id, error, "assignee")
    return _back(ticket_id, "assigned")


@router.post("/inbox/{ticket_id:int}/solve")
def solve(ticket_id: int, page: Page = Depends(writer_page)) -> Response:
    return _change_state(page, ticket_id, solve_ticket, "solved")


@router.post("/inbox/{ticket_id:int}/reopen")
def reopen(ticket_id: int, page: Page = Depends(writer_page)) -> Response:
    return _change_state(page, ticket_id, reopen_ticket, "reopened")


def _change_state(page: Page, ticket_id: int, use_case: Callable[..., None], done: str) -> Response:
    try:
        use_case(page.engine, page.workspace, ticket_id, actor=page.caller.actor, now=page.now)
    except UserError as error:
        return _refused(page, ticket_id, error, "state")
    return _back(ticket_id, done)


@router.post("/inbox/{ticket_id:int}/opt-out")
def opt_out(
    ticket_id: int,
    page: Page = Depends(opt_out_page),
    purpose: str = Form(Purpose.ALL.value),
    reason: str = Form("", max_length=1000),
) -> Response:
    """Records the contact's opt-out from SMS, with the agent as actor and their reason."""
    _ = gettext_for(page.request)
    errors = []
    if purpose not in {value for value, _label in OPT_OUT_PURPOSES}:
        errors.append(FieldError("purpose", _("Choose which messages they no longer want.")))
    if not reason.strip():
        errors.append(FieldError("reason", _("Say how they asked: it is kept as evidence.")))
    if errors:
        return _ticket_view(page, ticket_id, errors=errors, reason_text=reason, status_code=422)
    try:
        ticket = show_ticket(page.engine, page.workspace, ticket_id)
    except UserError:
        return _missing(page, N_("There is no such ticket."))
    change = ConsentChange(
        channel="sms", purpose=purpose, action=Action.OPT_OUT, source=Source.UI,
        evidence=f"ticket #{ticket_id}: {reason.strip()}", actor=page.caller.actor, now=page.now,
    )  # fmt: skip
    record_consent(page.engine, page.settings, page.workspace, ticket["phone"], change)
    return _back(ticket_id, "opted_out")


@router.get("/inbox/{ticket_id:int}/stream")
async def ticket_stream(
    ticket_id: int, request: Request, page: Page = Depends(reader_page)
) -> Response:
    """Server-Sent Events: `ticket` with the conversation's version and who else is
    replying, first and whenever either changes."""
    _ = gettext_for(request)
    me = page.caller.id
    clock: Callable[[], datetime] = request.app.state.portal_clock
    timing: StreamTiming = getattr(request.app.state, "ticket_stream", DEFAULT_TIMING)
    stopping: threading.Event = request.app.state.stopping

    def snapshot() -> dict[str, Any]:
        pulse = ticket_pulse(page.engine, page.workspace, ticket_id, now=clock())
        names = tuple(person.name for person in pulse.replying if person.user_id != me)
        return {"marker": (pulse.version, names), "version": pulse.version, "names": names}

    def payload(found: dict[str, Any]) -> dict[str, Any]:
        return {"version": found["version"], "replying": _replying_text(found["names"], _)}

    async def gone() -> bool:
        return stopping.is_set() or await request.is_disconnected()

    try:
        snapshot()
    except UserError:
        return Response(status_code=404)
    alive = session_check(page.engine, request.cookies.get(SESSION_COOKIE, ""), clock)
    events = _named("ticket", live_events(snapshot, payload, alive, gone, timing))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _named(name: str, events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The dashboard's stream text with its change events named `name` for this page."""
    generic = "event: kpis\n"
    async for chunk in events:
        yield (
            f"event: {name}\n{chunk.removeprefix(generic)}" if chunk.startswith(generic) else chunk
        )


def _replying_text(names: tuple[str, ...], _: Callable[..., str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return _("%(name)s is replying…", name=names[0])
    return _("%(names)s are replying…", names=", ".join(names))


# --- the page ---------------------------------------------------------------------------


def _ticket_view(
    page: Page, ticket_id: int, *, errors: list[FieldError] | None = None, notice: str = "",
    reply_text: str = "", note_text: str = "", reason_text: str = "", picked: int = 0,
    status_code: int = 200,
) -> Response:  # fmt: skip
    try:
        ticket = show_ticket(page.engine, page.workspace, ticket_id)
    except UserError:
        return _missing(page, N_("There is no such ticket."))
    contact = show_contact(page.engine, page.workspace, ticket["phone"])
    attributes = dict(contact["attributes"] or {})
    target = reply_target(ticket)
    # The card shows consent on the channel the conversation is on: what a reply needs.
    on_channel = [state for state in contact["consent"] if state["channel"] == target["channel"]]
    _ = gettext_for(page.request)
    context = {
        "ticket": _shown(page, ticket),
        "version": _version(page, ticket_id),
        "contact": contact,
        "name": " ".join(str(attributes[k]) for k in NAMES if attributes.get(k)),
        "attributes": sorted((k, v) for k, v in attributes.items() if k not in NAMES),
        "consent": on_channel,
        "reply_blocked": _reply_blocked(on_channel),
        "reply_to": target,
        "channel_names": CHANNEL_NAMES,
        "campaigns": _campaigns_received(page, contact["id"]),
        "members": _members(page),
        "saved_replies": list_saved_replies(page.engine, page.workspace),
        "picked": picked,
        "words": WORDS,
        "kinds": KINDS,
        "purposes": [(value, _(label)) for value, label in OPT_OUT_PURPOSES],
        "errors": errors or [],
        "notice": notice,
        "reply_text": reply_text,
        "note_text": note_text,
        "reason_text": reason_text,
    }
    return render(page.request, "inbox/ticket.html", context, status_code=status_code)


def reply_target(ticket: dict[str, Any]) -> dict[str, str]:
    """Where an agent's reply goes, as `answer_on_channel` sends it: on the ticket's
    channel (the one the person last wrote on) to the address they last wrote from there;
    by SMS to their phone when that is SMS or they never wrote from an address on it."""
    channel = str(ticket.get("channel") or "sms")
    written = [item["address"] for item in ticket["thread"]
               if item["type"] == "message" and item["direction"] == "in"
               and item.get("channel") == channel and item.get("address")]  # fmt: skip
    if channel == "sms" or not written:
        return {"channel": "sms", "address": str(ticket["phone"])}
    return {"channel": channel, "address": str(written[-1])}


def _version(page: Page, ticket_id: int) -> str:
    return ticket_pulse(page.engine, page.workspace, ticket_id, now=page.now).version


def _shown(page: Page, ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket with each reply's delivery state said for a person, and the notes the
    system writes in the reader's language."""
    _ = gettext_for(page.request)
    thread = [{**item, "delivery": _delivery(item, _)} if item["type"] == "message"
              else _note(item, _) for item in ticket["thread"]]  # fmt: skip
    return {**ticket, "thread": thread}


def _note(item: dict[str, Any], _: Callable[..., str]) -> dict[str, Any]:
    """A note as shown: `ours` when its words are the portal's (translated), not a person's."""
    author, body = item["author"], item["body"]
    who = author.removeprefix("user:")
    if author == SYSTEM_AUTHOR and body == REOPENED_BY_TEXT:
        return {**item, "author": who, "body": _(REOPENED), "ours": True}
    if body == f"Reopened by {author}":  # as `reopen_ticket` writes it
        return {**item, "author": who, "body": _("Reopened by %(who)s", who=who), "ours": True}
    return {**item, "author": who, "ours": False}


def _delivery(item: dict[str, Any], _: Callable[..., str]) -> str:
    """Why a reply has not reached the person, in words; "" when nothing is wrong."""
    status, error = item["status"], item["error"] or ""
    if item["direction"] != "out":
        return ""
    if status == "cancelled" and ("opted_out" in error or "no_consent" in error):
        return _("Not sent: they have opted out of these texts.")
    if status == "queued" and "quiet hours" in error:
        return _("Waiting: it is quiet hours where they live, so it goes when they end.")
    if status == "cancelled":
        return _("Not sent: %(reason)s", reason=error or _("it was cancelled"))
    if status in ENDED:
        return _("Not delivered: %(reason)s", reason=error or _("the carrier gave no reason"))
    return ""


def _reply_blocked(consent: list[dict[str, Any]]) -> str | None:
    """The purpose the contact opted out of that stops an agent's reply, or None."""
    for state in consent:
        if state["purpose"] in ("informational", "all") and state["status"] == "opted_out":
            return str(state["purpose"])
    return None


def _campaigns_received(page: Page, contact_id: int) -> list[dict[str, Any]]:
    """The campaigns that texted the contact, newest first, with the last status."""
    texts = list_messages(page.engine, page.workspace, contact_id=contact_id, direction="out",
                          limit=MESSAGES_READ)  # fmt: skip
    received: dict[int, dict[str, Any]] = {}
    for text in texts:
        if text["campaign_id"] is not None:
            received[text["campaign_id"]] = {"at": text["created_at"], "status": text["status"]}
    if not received:
        return []
    names = {c["id"]: c["name"] for c in list_campaigns(page.engine, page.workspace)}
    shown = [{"id": cid, "name": names.get(cid, f"#{cid}"), **seen}
             for cid, seen in received.items()]  # fmt: skip
    return sorted(shown, key=lambda c: (str(c["at"]), c["id"]), reverse=True)


def _members(page: Page) -> list[dict[str, Any]]:
    """Members who may answer tickets: whom a ticket can be given to."""
    found = list_members(page.engine, page.workspace, after=0, limit=MEMBERS_SHOWN)
    return [{"email": m["email"], "name": m["name"] or m["email"]} for m in found
            if m["is_active"] and allows(m["role"], Permission.TICKETS_WRITE)]  # fmt: skip


def _back(ticket_id: int, done: str) -> Response:
    return RedirectResponse(f"/inbox/{ticket_id}?done={done}", status_code=303)


def _missing(page: Page, reason: str) -> Response:
    return error_page(page.request, 404, reason)


def _refusal(page: Page, error: UserError) -> FieldError:
    _ = gettext_for(page.request)
    problem = error.problem
    field = problem.field or "body"
    words = REFUSALS.get(problem.code)
    if words is None:
        return FieldError(field, problem.message)
    if problem.code.startswith("template."):  # where, in the engine's words
        return FieldError(field, f"{_(words)}: {problem.message}")
    return FieldError(field, _(words))


def _fill_refusal(page: Page, error: UserError) -> FieldError:
    _ = gettext_for(page.request)
    if error.problem.code == "unknown_saved_reply":
        return FieldError("saved_reply", _("Choose one of the saved replies."))
    if error.problem.code == "template.missing_value":
        return FieldError("saved_reply", _(
            "This saved reply needs %(name)s, which this contact does not have. Add it to "
            'the contact, or give it a default in the saved reply: {{ %(name)s | default("…") }}',
            name=error.problem.field or "?",
        ))  # fmt: skip
    return FieldError("saved_reply", error.problem.message)


def _refused(page: Page, ticket_id: int, error: UserError, field: str, **typed: Any) -> Response:
    if error.problem.code == "unknown_ticket":
        return _missing(page, N_("There is no such ticket."))
    refusal = _refusal(page, error)
    shown = FieldError(field, refusal.message)
    return _ticket_view(page, ticket_id, errors=[shown], status_code=422, **typed)
