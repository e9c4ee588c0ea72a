"""The workspace's settings: one form for everything `update_workspace` takes.

Name, country and time zone; the portal's default language and the currency money is
shown in; the languages people text in (their STOP/START/HELP words); quiet hours, with
a clock of the blocked hours that follows the two times as they are changed (htmx asks
`/settings/quiet-clock`); the frequency cap; the opt-out footer; the link domain and the
part price; the default sender number and connector; and the public sign-up page
(`/join/<slug>`) with its consent text.

The page sends only what changed, and the engine checks the whole result before
anything is stored (`rules_from_settings`, `check_sign_up_settings`), so what the CLI
and the API refuse is refused here too. A wrong value is shown at its field with what
was typed kept. Only a role with `workspace.manage` opens the page.
"""

from __future__ import annotations

import dataclasses
import math
import zoneinfo
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from babel.numbers import list_currencies
from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.campaign_rules import rules_from_settings
from smscast.core.errors import UserError
from smscast.core.keywords import DEFAULT_WORDS
from smscast.core.roles import Permission
from smscast.core.schedule import parse_clock
from smscast.engine.accounts.workspace_settings import update_workspace
from smscast.engine.inbound.keyword_rules import workspace_languages
from smscast.engine.inbound.numbers import list_numbers
from smscast.engine.inbound.web_sign_up import MAX_TEXT, SLUG, read_sign_up_settings
from smscast.engine.sending.connector_views import connectors_of
from smscast.web import i18n
from smscast.web.auth import Page, page_for
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
NAV = [NavItem(80, N_("Settings"), "/settings", Permission.WORKSPACE_MANAGE)]

manager_page = page_for(Permission.WORKSPACE_MANAGE)
AUTOMATIC = ""  # the select's value for "let smscast choose"
# Settings as they read when never set (`core.campaign_rules`, `web_sign_up`): the form
# sends them back unchanged, and they are not stored as if someone had chosen them.
DEFAULTS: dict[str, Any] = {
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "quiet_hours_informational": True,
    "frequency_cap_limit": 2,
    "frequency_cap_days": 7,
    "opt_out_footer_required": False,
    "opt_out_keyword": "STOP",
    "part_price": 0.0,
    "sign_up_open": False,
    "sign_up_text": "",
}
# The engine's refusals, by the field they name, in the reader's words (the engine's
# own English sentence is the fallback for any not listed).
ENGINE_PROBLEMS = {
    "empty_name": N_("Give the workspace a name."),
    "workspace_exists": N_("Another workspace has this name: choose another one."),
    "unknown_country": N_("Enter a country as its two-letter code, like PL, DE or US."),
    "unknown_timezone": N_("Choose a time zone from the list."),
}


@dataclass(frozen=True, slots=True)
class QuietClock:
    """The 24-hour ring of `_quiet_clock.html`: the blocked arc as an SVG path, the hour
    marks, and the words under it. Midnight is at the top, noon at the bottom."""

    enabled: bool
    valid: bool
    start: str = ""
    end: str = ""
    hours: int = 0
    minutes: int = 0
    arc: str = ""
    ticks: list[tuple[float, float, float, float]] = field(default_factory=list)
    labels: list[tuple[str, float, float]] = field(default_factory=list)


CENTRE, OUTER, INNER = 100.0, 84.0, 58.0


def _point(minute: float, radius: float) -> tuple[float, float]:
    angle = math.radians(minute / 1440 * 360 - 90)
    return (
        round(CENTRE + radius * math.cos(angle), 2),
        round(CENTRE + radius * math.sin(angle), 2),
    )


def quiet_clock(start: time | None, end: time | None, enabled: bool) -> QuietClock:
    """The picture of quiet hours `start`–`end` (over midnight when start is later);
    None for a time that could not be read draws the ring alone."""
    ticks = []
    for hour in range(24):
        inner, outer = _point(hour * 60, OUTER - 6), _point(hour * 60, OUTER)
        ticks.append((*inner, *outer))
    labels = [(f"{hour:02d}", *_point(hour * 60, OUTER + 9)) for hour in (0, 6, 12, 18)]
    if not enabled:
        return QuietClock(False, True, ticks=ticks, labels=labels)
    if start is None or end is None:
        return QuietClock(True, False, ticks=ticks, labels=labels)
    first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    span = (last - first) % 1440
    shown = QuietClock(True, True, f"{start:%H:%M}", f"{end:%H:%M}", span // 60, span % 60,
                       ticks=ticks, labels=labels)  # fmt: skip
    if span == 0:  # the same start and end: no quiet hours, as the rule reads it
        return QuietClock(False, True, ticks=ticks, labels=labels)
    large = 1 if span > 720 else 0
    (ax, ay), (bx, by) = _point(first, OUTER), _point(first + span, OUTER)
    (cx, cy), (dx, dy) = _point(first + span, INNER), _point(first, INNER)
    arc = (
        f"M {ax} {ay} A {OUTER} {OUTER} 0 {large} 1 {bx} {by} "
        f"L {cx} {cy} A {INNER} {INNER} 0 {large} 0 {dx} {dy} Z"
    )
    return dataclasses.replace(shown, arc=arc)


def _clock_of(values: dict[str, Any]) -> QuietClock:
    def read(text: str) -> time | None:
        try:
            return parse_clock(text)
        except UserError:
            return None

    return quiet_clock(read(values["quiet_start"]), read(values["quiet_end"]),
                       not values["quiet_off"])  # fmt: skip


LEGACY_ZONES = ("Etc/", "US/", "Canada/", "Brazil/", "Chile/", "Mexico/", "SystemV/")


@cache
def _time_zones() -> list[str]:
    """Zones by their Area/City names (and UTC), without the old aliases (Poland, US/…)."""
    return sorted(
        zone
        for zone in zoneinfo.available_timezones()
        if ("/" in zone and not zone.startswith(LEGACY_ZONES)) or zone == "UTC"
    )


@cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _stored_values(page: Page) -> dict[str, Any]:
    """The form as the workspace is now (defaults where a setting was never set)."""
    workspace = page.workspace
    settings = workspace.settings
    rules = rules_from_settings(settings, short_domain=page.settings.served_url())
    form = read_sign_up_settings(settings)
    return {
        "name": workspace.name,
        "country": workspace.country,
        "timezone": workspace.timezone,
        "portal_language": str(settings.get(i18n.WORKSPACE_LANGUAGE_SETTING) or AUTOMATIC),
        "currency": str(settings.get("currency") or ""),
        "languages": workspace_languages(workspace),
        "quiet_off": not rules.quiet.enabled,
        "quiet_start": f"{rules.quiet.start:%H:%M}" if rules.quiet.enabled else "21:00",
        "quiet_end": f"{rules.quiet.end:%H:%M}" if rules.quiet.enabled else "08:00",
        "quiet_hours_informational": rules.quiet_informational,
        "frequency_cap_limit": str(rules.cap.limit),
        "frequency_cap_days": _plain_number(rules.cap.window.total_seconds() / 86400),
        "opt_out_footer_required": rules.footer_required,
        "opt_out_keyword": rules.opt_out_keyword,
        "short_domain": str(settings.get("short_domain") or ""),
        "part_price": _plain_number(rules.part_price),
        "default_number_id": str(settings.get("default_number_id") or AUTOMATIC),
        "default_connector_id": str(settings.get("default_connector_id") or AUTOMATIC),
        "sign_up_open": form.open,
        "sign_up_text": form.text,
        "sign_up_slug": form.slug or "",
        "sign_up_number": form.number or "",
        "sign_up_prompt": form.prompt or "",
    }


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _page(
    page: Page,
    values: dict[str, Any],
    errors: list[FieldError],
    *,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    numbers = list_numbers(page.engine, page.workspace)
    connectors = connectors_of(page.engine, page.workspace)
    return render(
        page.request,
        "settings/workspace.html",
        {
            "values": values,
            "errors": errors,
            "saved": saved,
            "clock": _clock_of(values),
            "time_zones": [(zone, zone) for zone in _time_zones()],
            "text_languages": [(code, i18n.language_name(code)) for code in sorted(DEFAULT_WORDS)],
            "number_options": [(str(n["id"]), n["number"]) for n in numbers],
            "sign_up_number_options": [(n["number"], n["number"]) for n in numbers],
            "connector_options": [(str(c["id"]), c["name"]) for c in connectors],
            "served_url": page.settings.served_url(),
            "join_slug": read_sign_up_settings(page.workspace.settings).slug,
            "max_sign_up_text": MAX_TEXT,
        },
        status_code=status_code,
    )


@router.get("/settings")
def settings_page(page: Page = Depends(manager_page), saved: bool = False) -> Response:
    return _page(page, _stored_values(page), [], saved=saved)


@router.get("/settings/quiet-clock")
def quiet_clock_fragment(
    page: Page = Depends(manager_page),
    quiet_start: str = "",
    quiet_end: str = "",
    quiet_off: str = "",
) -> Response:
    """The clock alone, for htmx to swap in as the times change (always 200)."""
    values = {"quiet_start": quiet_start[:10], "quiet_end": quiet_end[:10],
              "quiet_off": bool(quiet_off)}  # fmt: skip
    return render(page.request, "settings/_quiet_clock.html", {"clock": _clock_of(values)})


@router.post("/settings")
def save_settings(
    page: Page = Depends(manager_page),
    name: str = Form(""),
    country: str = Form(""),
    timezone: str = Form(""),
    portal_language: str = Form(""),
    currency: str = Form(""),
    languages: list[str] = Form([]),
    quiet_off: str = Form(""),
    quiet_start: str = Form(""),
    quiet_end: str = Form(""),
    quiet_hours_informational: str = Form(""),
    frequency_cap_limit: str = Form(""),
    frequency_cap_days: str = Form(""),
    opt_out_footer_required: str = Form(""),
    opt_out_keyword: str = Form(""),
    short_domain: str = Form(""),
    part_price: str = Form(""),
    default_number_id: str = Form(""),
    default_connector_id: str = Form(""),
    sign_up_open: str = Form(""),
    sign_up_text: str = Form(""),
    sign_up_slug: str = Form(""),
    sign_up_number: str = Form(""),
    sign_up_prompt: str = Form(""),
) -> Response:
    typed: dict[str, Any] = {
        "name": name[:200], "country": country.strip()[:8], "timezone": timezone[:64],
        "portal_language": portal_language, "currency": currency.strip().upper()[:8],
        "languages": [code for code in languages if code in DEFAULT_WORDS],
        "quiet_off": bool(quiet_off), "quiet_start": quiet_start.strip()[:10],
        "quiet_end": quiet_end.strip()[:10],
        "quiet_hours_informational": bool(quiet_hours_informational),
        "frequency_cap_limit": frequency_cap_limit.strip()[:20],
        "frequency_cap_days": frequency_cap_days.strip()[:20],
        "opt_out_footer_required": bool(opt_out_footer_required),
        "opt_out_keyword": opt_out_keyword.strip()[:40], "short_domain": short_domain.strip()[:300],
        "part_price": part_price.strip()[:20], "default_number_id": default_number_id,
        "default_connector_id": default_connector_id, "sign_up_open": bool(sign_up_open),
        "sign_up_text": sign_up_text[: MAX_TEXT * 2], "sign_up_slug": sign_up_slug.strip()[:80],
        "sign_up_number": sign_up_number[:64], "sign_up_prompt": sign_up_prompt[:2000],
    }  # fmt: skip
    read = _read_form(page, typed)
    if read.errors:
        return _page(page, typed, read.errors, status_code=422)
    changes = _changes(page, read)
    if changes:
        try:
            update_workspace(page.engine, page.workspace, changes, caller=page.caller, now=page.now)
        except UserError as error:
            return _page(page, typed, [_engine_error(page, error)], status_code=422)
    return RedirectResponse("/settings?saved=true", status_code=303)


@dataclass
class ReadForm:
    fields: dict[str, Any] = field(default_factory=dict)  # name, country, timezone
    settings: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


def _read_form(page: Page, typed: dict[str, Any]) -> ReadForm:
    """The typed values as settings; each wrong one as an error at its field (all of
    them at once, before the engine sees any)."""
    _ = gettext_for(page.request)
    read = ReadForm()
    bad = read.errors.append
    read.fields = {"name": typed["name"], "country": typed["country"].upper(),
                   "timezone": typed["timezone"]}  # fmt: skip
    if not typed["name"].strip():
        bad(FieldError("name", _(ENGINE_PROBLEMS["empty_name"])))
    settings = read.settings
    if typed["portal_language"] not in (AUTOMATIC, *i18n.LANGUAGES):
        bad(FieldError("portal_language", _("Choose a language from the list.")))
    settings[i18n.WORKSPACE_LANGUAGE_SETTING] = typed["portal_language"] or None
    if typed["currency"] and typed["currency"] not in _currencies():
        message = _("Enter a currency as its three-letter code, like PLN, EUR or USD.")
        bad(FieldError("currency", message))
    settings["currency"] = typed["currency"] or None
    if not typed["languages"]:
        bad(FieldError("languages-" + sorted(DEFAULT_WORDS)[0],
                       _("Tick at least one language people text you in.")))  # fmt: skip
    settings["languages"] = sorted(typed["languages"])
    if typed["quiet_off"]:
        settings["quiet_hours"] = "off"
    else:
        window = {}
        for key, label in (("quiet_start", "start"), ("quiet_end", "end")):
            try:
                window[label] = f"{parse_clock(typed[key]):%H:%M}"
            except UserError:
                bad(FieldError(key, _("Enter a time of day as hours and minutes, like 21:00.")))
        if window.get("start") is not None and window.get("start") == window.get("end"):
            bad(FieldError("quiet_end", _(
                "The end must differ from the start. For no quiet hours at all, tick "
                "“No quiet hours”."
            )))  # fmt: skip
        settings["quiet_hours"] = window
    settings["quiet_hours_informational"] = typed["quiet_hours_informational"]
    limit = _whole(typed["frequency_cap_limit"])
    if limit is None or limit < 0:
        bad(FieldError("frequency_cap_limit", _("Enter a whole number, 0 or more.")))
    settings["frequency_cap_limit"] = limit
    days = _number(typed["frequency_cap_days"])
    if days is None or days <= 0:
        bad(FieldError("frequency_cap_days", _("Enter a number of days greater than 0.")))
    settings["frequency_cap_days"] = int(days) if days is not None and days.is_integer() else days
    settings["opt_out_footer_required"] = typed["opt_out_footer_required"]
    keyword = typed["opt_out_keyword"]
    if not keyword:
        bad(FieldError("opt_out_keyword", _("Enter the word people reply to opt out, like STOP.")))
    settings["opt_out_keyword"] = keyword
    domain = typed["short_domain"].rstrip("/")
    parts = urlsplit(domain)
    if domain and (parts.scheme not in ("http", "https") or not parts.netloc):
        bad(FieldError("short_domain", _("Enter an address that starts with https:// or http://.")))
    elif not domain and "short_domain" in page.workspace.settings:
        bad(
            FieldError(
                "short_domain", _("Enter the address links start with, like https://sho.rt.")
            )
        )
    settings["short_domain"] = domain or None
    price = _number(typed["part_price"])
    if price is None or price < 0:
        bad(FieldError("part_price", _("Enter a price of 0 or more, like 0.05.")))
    settings["part_price"] = price
    for key, choices in (
        ("default_number_id", [n["id"] for n in list_numbers(page.engine, page.workspace)]),
        ("default_connector_id", [c["id"] for c in connectors_of(page.engine, page.workspace)]),
    ):
        chosen = typed[key]
        if chosen != AUTOMATIC and (not chosen.isdigit() or int(chosen) not in choices):
            bad(FieldError(key, _("Choose one from the list.")))
        settings[key] = int(chosen) if chosen.isdigit() else None
    settings["sign_up_open"] = typed["sign_up_open"]
    slug = typed["sign_up_slug"].lower()
    if slug and not SLUG.fullmatch(slug):
        bad(FieldError("sign_up_slug", _(
            "Use 1 to 63 lowercase letters, digits and dashes, not starting or ending with a dash."
        )))  # fmt: skip
    text = typed["sign_up_text"].replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        bad(FieldError("sign_up_text", _("The text has more than %(count)s characters.",
                                         count=MAX_TEXT)))  # fmt: skip
    settings["sign_up_text"] = text
    settings["sign_up_slug"] = slug or None
    settings["sign_up_number"] = typed["sign_up_number"] or None
    settings["sign_up_prompt"] = typed["sign_up_prompt"].replace("\r\n", "\n").strip() or None
    return read


def _whole(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", ".").replace(" ", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _changes(page: Page, read: ReadForm) -> dict[str, Any]:
    """What differs from the workspace now: the engine audits and re-times only that."""
    workspace = page.workspace
    changes: dict[str, Any] = {
        key: value for key, value in read.fields.items() if value != getattr(workspace, key)
    }
    stored = workspace.settings
    settings = {
        key: value
        for key, value in read.settings.items()
        if value != stored.get(key) and not (value is None and key not in stored)
    }
    defaults = {**DEFAULTS, "languages": workspace_languages(workspace)}
    for key, default in defaults.items():
        if key in settings and key not in stored and settings[key] == default:
            del settings[key]  # still the default: not written as if someone chose it
    if settings:
        changes["settings"] = settings
    return changes


def _engine_error(page: Page, error: UserError) -> FieldError:
    """The engine's refusal at the form's field, in the reader's words where known."""
    _ = gettext_for(page.request)
    problem = error.problem
    where = problem.field or "name"
    where = {"quiet_hours.start": "quiet_start", "quiet_hours.end": "quiet_end",
             "quiet_hours": "quiet_start"}.get(where, where)  # fmt: skip
    if problem.code in ENGINE_PROBLEMS:
        return FieldError(where, _(ENGINE_PROBLEMS[problem.code]))
    message = problem.message
    if where == "sign_up_slug" and "another workspace" in message:
        return FieldError(where, _("Another workspace uses this address: choose another one."))
    if where == "sign_up_slug":
        return FieldError(where, _("No address can be made from the workspace's name: write one."))
    if where == "sign_up_text":
        return FieldError(where, _("Write the text people agree to before opening the page."))
    if where == "sign_up_number" and "no number" in message:
        return FieldError(where, _(
            "The workspace has no number to send the confirmation text from: add one on the "
            "Numbers page first."
        ))  # fmt: skip
    if where == "sign_up_number":
        return FieldError(where, _("Choose one of the workspace's numbers."))
    if where == "sign_up_prompt":
        return FieldError(where, _("This text cannot be used: %(detail)s", detail=message))
    return FieldError(where, message)
