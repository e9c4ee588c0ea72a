"""The public sign-up form (`/join/<slug>`): a phone, the workspace's consent text, a
checkbox, then the existing double opt-in by SMS.

Nothing is consented on the web alone: the form queues the "reply YES to confirm"
text through the one outbox (an informational answer to the person's own request,
kind `confirm`) and records a double opt-in waiting for that YES. The YES arrives
through the ordinary inbound path (`double_opt_in.confirm_double_opt_in`), which
writes the opt-in with the form's evidence: the exact text ticked, when, from which
address and browser, and the words that confirmed it.

The form's settings live in the workspace's `settings` JSON, checked whole by
`check_sign_up_settings` whenever one of them changes:

- `sign_up_text`: what the person agrees to ("I agree to receive promotional texts
  from ACME, up to 4 a month. Reply STOP to opt out.");
- `sign_up_open` (false): the form takes sign-ups; it cannot open without a text, so
  a workspace is closed until it wrote one;
- `sign_up_slug`: the address `/join/<slug>`, lowercase letters, digits and dashes,
  unique among workspaces; derived from the workspace's name when the form opens
  without one. A slug of its own rather than the workspace's name or id: names have
  spaces and capitals and are the operators' to change, ids can be counted through;
- `sign_up_number` (the workspace's default sender): the number the confirmation
  comes from, which is where the YES must be sent;
- `sign_up_prompt` (built in, English or Polish): the confirmation text, a template
  that may use `{{ sender }}` (the number's brand, else the workspace's name).

The form is public, so it is throttled: a phone may set off at most a few attempts an
hour on one workspace's form, and a client address a few on all forms together
(counted in the database, so every process counts alike). The phone's count is per
workspace because signing up to one shop's texts says nothing about another's: two
workspaces on one instance must not use up each other's attempts.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from smscast.config import Settings
from smscast.core.consent import Status
from smscast.core.errors import Problem, UserError
from smscast.core.phones import PhoneError, parse_phone
from smscast.core.templates import compile_template, render
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.records import contact_for_phone, create_contact_for_phone
from smscast.engine.inbound.double_opt_in import pending_row, start_double_opt_ins
from smscast.engine.inbound.keyword_rules import workspace_languages
from smscast.engine.inbound.numbers import NumberRef, parse_number
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.sending.routing import load_routes
from smscast.store import consent as consent_store
from smscast.store.db import begin_write
from smscast.store.inbound_models import WebSignUp
from smscast.store.messaging_models import Number
from smscast.store.models import Workspace, table_of

web_sign_ups = table_of(WebSignUp)
workspaces = table_of(Workspace)
numbers = table_of(Number)

SIGN_UP_KEYS = frozenset(
    {"sign_up_text", "sign_up_open", "sign_up_slug", "sign_up_number", "sign_up_prompt"}
)
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_TEXT = 2000
DEFAULT_PROMPTS = {
    "en": "{{ sender }}: reply YES to confirm you want our texts (you signed up on our "
    "website). Reply STOP to opt out.",
    "pl": "{{ sender }}: odpisz TAK, aby potwierdzić zapis na nasze SMS-y ze strony "
    "internetowej. Odpisz STOP, aby się wypisać.",
}


@dataclass(frozen=True, slots=True)
class SignUpSettings:
    """The form's settings of one workspace, read and type-checked."""

    text: str = ""
    open: bool = False
    slug: str | None = None
    number: str | None = None
    prompt: str | None = None

    @property
    def takes_sign_ups(self) -> bool:
        return self.open and bool(self.text) and self.slug is not None


def read_sign_up_settings(settings: dict[str, Any]) -> SignUpSettings:
    """The form's settings from a workspace's `settings`; a wrong type names its key."""
    opened = settings.get("sign_up_open", False)
    if not isinstance(opened, bool):
        raise UserError.of("bad_setting", "sign_up_open must be true or false",
                           field="sign_up_open")  # fmt: skip
    values: dict[str, str | None] = {}
    for key in ("sign_up_text", "sign_up_slug", "sign_up_number", "sign_up_prompt"):
        value = settings.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError.of("bad_setting", f"{key} must be text", field=key)
        values[key] = (value.strip() or None) if isinstance(value, str) else None
    return SignUpSettings(
        text=_plain_lines(values["sign_up_text"] or ""), open=opened,
        slug=values["sign_up_slug"], number=values["sign_up_number"],
        prompt=values["sign_up_prompt"],
    )  # fmt: skip


def _plain_lines(text: str) -> str:
    """The text as compared and stored: browsers send a form's line breaks as CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def slug_of(name: str) -> str:
    """A slug from a workspace's name: "Café Łódź 2" → "cafe-odz-2" (letters that do
    not decompose to ASCII are dropped; choose `sign_up_slug` yourself for better)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].strip("-")


def check_sign_up_settings(
    conn: Connection, workspace: WorkspaceRef, settings: dict[str, Any]
) -> dict[str, Any]:
    """Checks the form's settings as they would be stored; returns them completed (a
    derived slug, the number in its stored form). Call it in the transaction that
    stores them: the slug's uniqueness is checked under a lock."""
    form = read_sign_up_settings(settings)
    checked = dict(settings)
    if isinstance(settings.get("sign_up_text"), str):
        checked["sign_up_text"] = form.text  # as the form shows it and compares it
    if form.text and len(form.text) > MAX_TEXT:
        raise UserError.of("bad_setting", f"sign_up_text is longer than {MAX_TEXT} characters",
                           field="sign_up_text")  # fmt: skip
    if "\x00" in form.text:
        raise UserError.of("bad_setting", "sign_up_text may not contain a NUL character",
                           field="sign_up_text")  # fmt: skip
    slug = form.slug
    if slug is None and form.open:
        slug = slug_of(workspace.name)
        if not slug:
            raise UserError.of(
                "bad_setting", f'no address can be made from the name "{workspace.name}": set '
                "sign_up_slug (lowercase letters, digits and dashes)", field="sign_up_slug",
            )  # fmt: skip
    if slug is not None:
        checked["sign_up_slug"] = _check_slug(conn, workspace.id, slug)
    number = _sign_up_number(conn, workspace, form.number) if form.number else None
    if number is not None:
        checked["sign_up_number"] = number.number
    brand = str((number.settings if number else {}).get("brand") or workspace.name)
    if form.prompt is not None:
        _render_prompt(form.prompt, brand, "en")
    if form.open:
        if not form.text:
            raise UserError.of(
                "bad_setting", "set sign_up_text (what people agree to) before opening sign-up",
                field="sign_up_text",
            )  # fmt: skip
        if number is None and load_routes(conn, workspace.id).default_number is None:
            raise UserError.of(
                "bad_setting", "the workspace has no number to send the confirmation from: "
                "add one (smscast numbers add) or set sign_up_number", field="sign_up_number",
            )  # fmt: skip
    return checked


def _check_slug(conn: Connection, workspace_id: int, slug: str) -> str:
    slug = slug.lower()
    if not SLUG.fullmatch(slug):
        raise UserError.of(
            "bad_setting", f'"{slug}" is not a sign-up address: 1-63 lowercase letters, digits '
            "and dashes, not starting or ending with a dash", field="sign_up_slug",
        )  # fmt: skip
    _lock(conn, "sign_up_slug")
    taken = conn.execute(
        select(workspaces.c.id).where(
            workspaces.c.settings["sign_up_slug"].as_string() == slug,
            workspaces.c.id != workspace_id,
        )
    ).first()
    if taken is not None:
        raise UserError.of("bad_setting", f'another workspace signs people up at "/join/{slug}"',
                           field="sign_up_slug")  # fmt: skip
    return slug


def _sign_up_number(conn: Connection, workspace: WorkspaceRef, raw: str) -> NumberRef:
    try:
        stored, _ = parse_number(raw, workspace.country)
    except UserError:
        stored = raw
    row = conn.execute(
        select(numbers).where(numbers.c.workspace_id == workspace.id, numbers.c.number == stored)
    ).first()
    if row is None:
        raise UserError.of("bad_setting", f'sign_up_number: "{raw}" is not a number of this '
                           "workspace (smscast numbers list)", field="sign_up_number")  # fmt: skip
    return _number_ref(row)


def _number_ref(row: Any) -> NumberRef:
    return NumberRef(row.id, row.workspace_id, row.number, row.kind, row.country,
                     row.connector_id, dict(row.settings or {}))  # fmt: skip


def _render_prompt(source: str, brand: str, language: str) -> str:
    try:
        return render(compile_template(source), {"sender": brand}, language=language).strip()
    except UserError as error:
        raise UserError.of("bad_setting", f"sign_up_prompt: {error.problem.message}",
                           field="sign_up_prompt") from None  # fmt: skip


# --- the form -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignUpForm:
    """What the public page shows: whose form it is, the text to agree to, whether open."""

    slug: str
    workspace_id: int
    brand: str
    consent_text: str
    is_open: bool


@dataclass(frozen=True, slots=True)
class SignUpLimits:
    """The form's throttle and the confirmation's deadline."""

    per_phone: int = 3  # attempts per phone and workspace per window
    per_address: int = 5  # attempts per client address per window
    window: timedelta = timedelta(hours=1)
    confirm_within: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignUpLimits:
        """The deadline the keyword double opt-in has too (`double_opt_in_hours`)."""
        return cls(confirm_within=timedelta(hours=settings.double_opt_in_hours))


class SignUpStatus(enum.StrEnum):
    SENT = "sent"  # the confirmation text is queued; the person replies YES
    ALREADY_SUBSCRIBED = "already_subscribed"  # opted in already: nothing sent
    THROTTLED = "throttled"  # too many attempts this hour from the phone or address
    CLOSED = "closed"  # no such form, or it takes no sign-ups now
    INVALID = "invalid"  # `errors` names each field that is wrong


@dataclass(frozen=True, slots=True)
class SignUpOutcome:
    """What became of one submission, for the page to show (codes to translate, English
    messages, the field each error belongs to)."""

    status: SignUpStatus
    errors: tuple[Problem, ...] = ()
    phone: str | None = None  # E.164, once valid
    confirm_by: datetime | None = None  # SENT: the YES must come before this
    retry_after_s: int | None = None  # THROTTLED
    form: SignUpForm | None = None  # the form as it is now (a stale page shows it anew)
    message_id: int | None = None  # SENT: the confirmation text in the outbox


def sign_up_form(engine: Engine, slug: str) -> SignUpForm | None:
    """The form at `/join/<slug>`; None when no workspace has that address."""
    with engine.connect() as conn:
        found = _find_form(conn, slug)
    return found[1] if found else None


Found = tuple[WorkspaceRef, SignUpForm, SignUpSettings]


def _find_form(conn: Connection, slug: str) -> Found | None:
    slug = slug.strip().lower()
    if not SLUG.fullmatch(slug):
        return None
    row = conn.execute(
        select(workspaces).where(workspaces.c.settings["sign_up_slug"].as_string() == slug)
    ).first()
    if row is None:
        return None
    workspace = WorkspaceRef(row.id, row.name, row.country, row.timezone, dict(row.settings or {}))
    try:
        settings = read_sign_up_settings(workspace.settings)
    except UserError:  # written around the checks: closed rather than guessed at
        settings = SignUpSettings(slug=slug)
    number = _sender(conn, workspace, settings)
    brand = str((number.settings if number else {}).get("brand") or workspace.name)
    form = SignUpForm(slug, workspace.id, brand, settings.text,
                      settings.takes_sign_ups and number is not None)  # fmt: skip
    return workspace, form, settings


def _sender(conn: Connection, workspace: WorkspaceRef, form: SignUpSettings) -> NumberRef | None:
    """The number the confirmation comes from (and the YES goes to)."""
    if form.number is not None:
        try:
            return _sign_up_number(conn, workspace, form.number)
        except UserError:
            return None  # the number was removed since: no confirmation can come from it
    number_id = load_routes(conn, workspace.id).default_number
    if number_id is None:
        return None
    return _number_ref(conn.execute(select(numbers).where(numbers.c.id == number_id)).one())


def start_web_sign_up(
    engine: Engine,
    workspace_slug: str,
    *,
    phone: str,
    agreed: bool,
    consent_text_shown: str,
    client_address: str,
    user_agent: str,
    now: datetime,
    limits: SignUpLimits | None = None,
    language: str | None = None,
) -> SignUpOutcome:
    """Takes one submission of the form: checks it, then asks the phone to confirm.

    Refused, naming the field: a phone that is not one (read in the workspace's
    country), the box not ticked, a text that is not the workspace's current one
    (the page was loaded before the text changed: the person must read the new one).
    A phone already opted in gets `already_subscribed` and no text. Anyone else —
    someone who opted out before included — gets the confirmation text from the
    form's number and a double opt-in waiting `limits.confirm_within` for the YES.
    `language` (the page's) chooses the built-in confirmation's language.
    """
    limits = limits or SignUpLimits()
    with engine.connect() as conn:
        found = _find_form(conn, workspace_slug)
    if found is None or not found[1].is_open:
        return SignUpOutcome(SignUpStatus.CLOSED, form=found[1] if found else None)
    workspace, form, settings = found
    errors, e164 = _check_submission(workspace, form, phone, agreed, consent_text_shown)
    if errors:
        return SignUpOutcome(SignUpStatus.INVALID, tuple(errors), e164, form=form)
    assert e164 is not None
    address = _clean(client_address, 64) or "unknown"
    with engine.begin() as conn:
        begin_write(conn)
        found = _find_form(conn, workspace_slug)  # again, under the lock: it may have changed
        if found is None or not found[1].is_open:
            return SignUpOutcome(SignUpStatus.CLOSED, form=found[1] if found else None)
        workspace, form, settings = found
        stale, _ = _check_submission(workspace, form, e164, agreed, consent_text_shown)
        if stale:
            return SignUpOutcome(SignUpStatus.INVALID, tuple(stale), e164, form=form)
        throttled = _throttle(conn, workspace.id, e164, address, limits, now)
        if throttled is not None:
            return dataclasses.replace(throttled, form=form)  # the page shows it again
        number = _sender(conn, workspace, settings)
        assert number is not None  # the form is open, so it has one
        contact = contact_for_phone(conn, workspace, e164, must_exist=False)
        if contact is None:
            contact = create_contact_for_phone(conn, workspace, e164, now)
        subscribed = _opted_in(conn, contact.id)
        outcome = SignUpStatus.ALREADY_SUBSCRIBED if subscribed else SignUpStatus.SENT
        sign_up_id = conn.execute(insert(web_sign_ups).values(
            workspace_id=workspace.id, contact_id=contact.id, number_id=number.id,
            page=f"/join/{form.slug}", phone=e164, consent_text=form.consent_text,
            client_address=address, user_agent=_clean(user_agent, 500), outcome=outcome.value,
            created_at=now, confirmed_at=None,
        ).returning(web_sign_ups.c.id)).scalar_one()  # fmt: skip
        if subscribed:
            return SignUpOutcome(outcome, phone=e164, form=form)
        languages = [language, *workspace_languages(workspace), "en"]
        chosen = next(lang for lang in languages if lang in DEFAULT_PROMPTS)
        prompt = _render_prompt(settings.prompt or DEFAULT_PROMPTS[chosen], form.brand, chosen)
        [message_id] = enqueue_messages(conn, [{
            "workspace_id": workspace.id, "direction": "out", "kind": "confirm",
            "purpose": "informational", "contact_id": contact.id, "phone": e164,
            "number_id": number.id, "connector_id": number.connector_id, "body": prompt,
            "send_after": now, "created_at": now,
        }])  # fmt: skip
        start_double_opt_ins(conn, [pending_row(
            workspace_id=workspace.id, contact_id=contact.id, number_id=number.id, rule_id=None,
            purpose="promotional", join_text=form.consent_text, prompt_text=prompt, now=now,
            within=limits.confirm_within, web_sign_up_id=sign_up_id,
        )])  # fmt: skip
    return SignUpOutcome(SignUpStatus.SENT, phone=e164, confirm_by=now + limits.confirm_within,
                         form=form, message_id=message_id)  # fmt: skip


def _check_submission(
    workspace: WorkspaceRef, form: SignUpForm, phone: str, agreed: bool, shown: str
) -> tuple[list[Problem], str | None]:
    """Every wrong field at once (a form lists them all), in the form's order."""
    errors: list[Problem] = []
    e164 = None
    if not phone.strip():
        errors.append(Problem("phone_missing", "enter your mobile phone number", field="phone"))
    else:
        try:
            e164 = parse_phone(phone, workspace.country).e164
        except PhoneError as error:
            errors.append(Problem(error.problem.code, error.problem.message, field="phone"))
    if _plain_lines(shown) != form.consent_text:
        errors.append(Problem(
            "consent_text_changed", "the text to agree to has changed since this page was "
            "opened: read it again and tick the box if you agree", field="consent_text",
        ))  # fmt: skip
    if not agreed:
        errors.append(Problem("consent_not_given", "tick the box to agree to the text above",
                              field="agreed"))  # fmt: skip
    return errors, e164


def _clean(value: str, length: int) -> str:
    """What every database stores: no NUL, no lone surrogate, at most `length` characters."""
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value.strip()[:length]


def _lock(conn: Connection, key: str) -> None:
    """Serialises writers of `key` until commit (PostgreSQL; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": zlib.crc32(f"smscast:{key}".encode())})  # fmt: skip


def _throttle(
    conn: Connection, workspace_id: int, phone: str, address: str, limits: SignUpLimits,
    now: datetime,
) -> SignUpOutcome | None:  # fmt: skip
    """THROTTLED when the phone (on this workspace's form) or the address (on any form)
    had its attempts this window."""
    since = now - limits.window
    by_phone = (web_sign_ups.c.phone == phone) & (web_sign_ups.c.workspace_id == workspace_id)
    checks = (
        ("phone", by_phone, limits.per_phone, "this phone number"),
        (None, web_sign_ups.c.client_address == address, limits.per_address, "your connection"),
    )
    for key in sorted((f"phone:{workspace_id}:{phone}", f"address:{address}")):
        _lock(conn, f"sign_up:{key}")
    for field_name, matches, limit, who in checks:
        recent = (
            conn.execute(
                select(web_sign_ups.c.created_at)
                .where(matches, web_sign_ups.c.created_at > since)
                .order_by(web_sign_ups.c.created_at.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        if len(recent) >= limit:
            wait = max(1, math.ceil((recent[-1] + limits.window - now).total_seconds()))
            minutes = math.ceil(wait / 60)
            problem = Problem(
                "sign_up_throttled", f"too many sign-ups from {who} in the last hour: try again "
                f"in {minutes} minute{'s' if minutes != 1 else ''}", field=field_name,
            )  # fmt: skip
            return SignUpOutcome(SignUpStatus.THROTTLED, (problem,), phone, retry_after_s=wait)
    return None


def _opted_in(conn: Connection, contact_id: int) -> bool:
    """Whether the contact may already get promotional texts by SMS."""
    return any(
        s["channel"] == "sms" and s["purpose"] == "promotional" and s["status"] == Status.OPTED_IN
        for s in consent_store.current_state(conn, contact_id)
    )
