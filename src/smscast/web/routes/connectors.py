"""Carrier connections: state, throughput, log; add and edit.

`/connectors` lists each connector with what its worker last reported (sending, paused
and why, who holds its lease, the window in use, the last errors); the block refreshes
itself every few seconds from `/connectors/live`, one query over the connector rows and
their state rows (`list_connectors`), never the messages. `/connectors/{id}` adds its
throughput per hour (the traffic counters, `connector_traffic`), its settings with every
secret shown only as "set", and its log — every exchange with the carrier, credentials
redacted when written — searchable by message id or phone (the message's own carrier
exchanges, `show_message`).

Adding and editing (`connectors.write`) use one form per kind, its fields those of the
kind's settings class; secrets are write-only: never put back into a page, kept when
left empty on edit. "Test connection" (`test_connector`) really tries the carrier with
what the form holds and says what happened in words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from smscast.channels.probe import Outcome, ProbeResult
from smscast.channels.smpp.settings import SmppSettings
from smscast.core.connector_state import sending_state
from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.delivery.messages_view import list_messages, show_message
from smscast.engine.sending.connector_check import connector_traffic, test_connector
from smscast.engine.sending.connector_views import (
    connector_log_entries,
    connectors_of,
    show_connector,
)
from smscast.engine.sending.connectors import (
    HTTP_KINDS,
    SECRET_SHOWN,
    add_connector,
    update_connector,
)
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.connector_forms import (
    KIND_HINTS,
    KIND_NAMES,
    SIMULATOR,
    SettingField,
    channel_name,
    form_of,
    kind_groups,
    kind_name,
    known_kind,
)
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
NAV = [NavItem(70, N_("Connectors"), "/connectors", Permission.READ)]

writer_page = page_for(Permission.CONNECTORS_WRITE)
Id = Path(ge=1, le=2**31 - 1)
POLL_SECONDS = 5
LOG_PAGE = 50
TRAFFIC_HOURS = 24


# The SMSC's refusal of a bind, in the reader's words, by its command_status.
REFUSALS = {
    "ESME_RINVPASWD": N_("The SMSC says the password is wrong"),
    "ESME_RINVSYSID": N_("The SMSC does not know this system ID"),
    "ESME_RINVSYSTYP": N_("The SMSC does not accept this system type"),
    "ESME_RBINDFAIL": N_("The SMSC refused the bind"),
    "ESME_RALYBND": N_("The SMSC says this account is already bound"),
}
ENGINE_PROBLEMS = {
    "empty_name": ("name", N_("Give the connector a name.")),
    "connector_exists": ("name", N_("Another connector has this name: choose another one.")),
    "bad_rate": ("rate_per_s", N_("Enter 0 (no limit) or more parts per second.")),
    "bad_window": ("window", N_("Enter a whole number from 1 to 65535.")),
}


# -- state in words ----------------------------------------------------------------------


def state_of(connector: dict[str, Any], now: datetime) -> str:
    """sending, paused, waiting (no live worker holds it), connecting or down."""
    return sending_state(connector["enabled"], connector["held_by"], connector["lease_until"],
                         connector["connected"], now)  # fmt: skip


STATE_NAMES = {
    "sending": N_("Sending texts"),  # not "Sending": a campaign's state, in Polish another form
    "paused": N_("Paused"),
    "waiting": N_("Waiting for a worker"),
    "connecting": N_("Connecting"),
    "down": N_("Not connected"),
}
STATE_WHY = {
    "paused": N_("Sending is switched off for this connector; its texts wait in the outbox."),
    "waiting": N_("No running worker holds this connector: start smscast serve or a worker."),
    "connecting": N_("A worker has taken it and is connecting."),
}


def receiver_of(connector: dict[str, Any], now: datetime) -> str | None:
    """The worker holding the receiving side when it is not the sending one's
    (`smscast worker --role receive`), else None."""
    until = connector.get("receive_until")
    if connector.get("received_by") is None or until is None or until < now:
        return None
    return None if connector["received_by"] == connector["held_by"] else connector["received_by"]


def _shown(connector: dict[str, Any], now: datetime) -> dict[str, Any]:
    state = state_of(connector, now)
    window = max(1, int(connector["window"]))
    return {
        **connector,
        "state": state,
        "receiver": receiver_of(connector, now),
        "parts_per_minute": round(connector["sent_per_s"] * 60) if state == "sending" else 0,
        "window_used": min(1.0, connector["in_flight"] / window),
        "kind_name": kind_name(connector["kind"]),
        "channel_name": channel_name(connector["kind"]),
    }


def _connectors(page: Page) -> list[dict[str, Any]]:
    return [_shown(c, page.now) for c in connectors_of(page.engine, page.workspace)]


def _labels() -> dict[str, Any]:
    return {"state_names": STATE_NAMES, "state_why": STATE_WHY, "poll_seconds": POLL_SECONDS}


# -- the list and one connector ------------------------------------------------------------


@router.get("/connectors")
def connectors_page(page: Page = Depends(reader_page)) -> Response:
    return render(page.request, "connectors/list.html",
                  {**_labels(), "connectors": _connectors(page)})  # fmt: skip


@router.get("/connectors/live")
def connectors_live(page: Page = Depends(reader_page)) -> Response:
    """The list's changing part alone, for its poll: one query."""
    return render(page.request, "connectors/_list_live.html",
                  {**_labels(), "connectors": _connectors(page)})  # fmt: skip


def _connector_or_none(page: Page, connector_id: int) -> dict[str, Any] | None:
    try:
        return _shown(show_connector(page.engine, page.workspace, connector_id), page.now)
    except UserError:
        return None


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such connector in this workspace."))


@router.get("/connectors/{connector_id:int}")
def connector_page(
    connector_id: int = Id,
    page: Page = Depends(reader_page),
    before: int = 0,
    errors_only: bool = False,
    message: str = "",
    phone: str = "",
    saved: bool = False,
) -> Response:
    connector = _connector_or_none(page, connector_id)
    if connector is None:
        return _missing(page)
    return _detail(page, connector, before=before, errors_only=errors_only,
                   message=message.strip(), phone=phone.strip(), saved=saved)  # fmt: skip


@router.get("/connectors/{connector_id:int}/live")
def connector_live(connector_id: int = Id, page: Page = Depends(reader_page)) -> Response:
    connector = _connector_or_none(page, connector_id)
    if connector is None:
        return _missing(page)
    return render(page.request, "connectors/_state.html", {**_labels(), "connector": connector})


def _detail(
    page: Page,
    connector: dict[str, Any],
    *,
    before: int = 0,
    errors_only: bool = False,
    message: str = "",
    phone: str = "",
    result: dict[str, Any] | None = None,
    saved: bool = False,
) -> Response:
    _ = gettext_for(page.request)
    connector_id = int(connector["id"])
    until = page.now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - timedelta(hours=TRAFFIC_HOURS)
    traffic = connector_traffic(page.engine, page.workspace, connector_id, since=since, until=until)
    log = connector_log_entries(page.engine, page.workspace, connector_id, before=before,
                                limit=LOG_PAGE, errors_only=errors_only)  # fmt: skip
    search = _search(page, connector_id, message, phone)
    return render(
        page.request,
        "connectors/detail.html",
        {
            **_labels(),
            "connector": connector,
            "settings_shown": _settings_shown(connector),
            "callbacks": callback_urls(page, connector),
            "traffic": traffic,
            "chart": {
                "x": [int(p["at"].timestamp()) for p in traffic["points"]],
                "series": [
                    {"label": _(label), "values": [p[name] for p in traffic["points"]]}
                    for name, label in (
                        ("sent", N_("Texts sent")),
                        ("parts", N_("Parts sent")),
                        ("delivered", N_("Delivered")),
                        ("failed", N_("Failed")),
                    )
                ],
            },
            "log": log,
            "older": log[-1]["id"] if len(log) == LOG_PAGE else None,
            "errors_only": errors_only,
            "search": search,
            "search_errors": [FieldError(search["field"], search["error"])]
            if search and search["error"]
            else [],
            "message_query": message,
            "phone_query": phone,
            "result": result,
            "saved": saved,
        },
    )


def callback_urls(page: Page, connector: dict[str, Any]) -> list[str]:
    """The addresses the provider must be told for this connector, read from the paths
    the application really serves under `/hooks/<kind>/{id}/…` (its OpenAPI schema, built
    once: never a list kept by hand beside them), on the workspace's public address (its
    short domain, else where smscast is served)."""
    kind = str(connector["kind"])
    base = str(page.workspace.settings.get("short_domain") or page.settings.served_url())
    found: list[str] = []
    for path in page.request.app.openapi().get("paths", {}):
        if not path.startswith(f"/hooks/{kind}/{{"):
            continue
        concrete = re.sub(r"\{[^}/]+\}", str(connector["id"]), path, count=1)
        if "{" not in concrete and concrete not in found:
            found.append(concrete)
    return [base.rstrip("/") + path for path in sorted(found)]


def _settings_shown(connector: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings the kind's form knows, in its order, then any other stored key."""
    stored = dict(connector["settings"])
    known = form_of(connector["kind"])
    rows = [{"label": f.label, "key": f.key, "value": stored.pop(f.key),
             "secret": f.type == "secret"} for f in known if f.key in stored]  # fmt: skip
    rows += [{"label": "", "key": key, "value": value, "secret": value == SECRET_SHOWN}
             for key, value in sorted(stored.items())]  # fmt: skip
    return rows


def _search(page: Page, connector_id: int, message: str, phone: str) -> dict[str, Any] | None:
    """A message's carrier exchanges over this connector, or the messages to a phone."""
    _ = gettext_for(page.request)
    found: dict[str, Any] = {"error": None, "field": "", "message": None, "messages": None}
    if message:
        if not message.isdigit() or len(message) > 18:
            return {**found, "error": _("Enter a message number, like 1042."), "field": "message"}
        try:
            shown = show_message(page.engine, page.workspace, int(message), page.now)
        except UserError:
            error = _("There is no message %(id)s.", id=message)
            return {**found, "error": error, "field": "message"}
        if shown["connector_id"] != connector_id:
            error = _("Message %(id)s did not go through this connector.", id=message)
            return {**found, "error": error, "field": "message"}
        return {**found, "message": shown}
    if phone:
        try:
            listed = list_messages(page.engine, page.workspace, phone=phone, limit=500)
        except UserError:
            error = _("Enter a phone number, like +48 601 234 567.")
            return {**found, "error": error, "field": "phone"}
        ours = [m for m in listed if m["connector_id"] == connector_id]
        return {**found, "messages": list(reversed(ours))[:LOG_PAGE]}
    return None


# -- test connection --------------------------------------------------------------------------


def result_of(probe: ProbeResult, kind: str) -> dict[str, Any]:
    """What the template says of a test: a headline msgid, its values, the carrier's words."""
    seconds = f"{probe.timeout_s:g}"
    smpp = kind == "smpp"
    if probe.outcome is Outcome.CONNECTED:
        headline = N_("Connected in %(ms)s ms.")
    elif probe.outcome is Outcome.WRONG_CREDENTIALS:
        headline = (N_("Bind refused: wrong credentials.") if smpp
                    else N_("Refused: wrong credentials."))  # fmt: skip
    elif probe.outcome is Outcome.REFUSED:
        headline = N_("Bind refused.") if smpp else N_("Refused by the carrier.")
    elif probe.outcome is Outcome.NO_ANSWER:
        headline = N_("No answer within %(seconds)s s.")
    elif probe.outcome is Outcome.UNREACHABLE:
        headline = N_("Could not connect.")
    else:
        headline = N_("The answer is not what this kind of carrier says.")
    return {
        "ok": probe.ok,
        "outcome": str(probe.outcome),
        "headline": headline,
        "ms": round(probe.duration_ms),
        "seconds": seconds,
        "reason": REFUSALS.get(probe.code or "") if smpp else None,
        "code": probe.code,
        "detail": probe.detail,
    }


def _test(
    page: Page, kind: str, settings: dict[str, Any], connector_id: int | None
) -> dict[str, Any]:
    probe = test_connector(page.engine, page.workspace, connector_id=connector_id, kind=kind,
                           settings=settings)  # fmt: skip
    return result_of(probe, kind)


def _untestable(error: UserError) -> dict[str, Any] | None:
    """A kind the engine cannot test without sending: said as such, not as a failure."""
    if error.problem.code != "not_testable":
        return None
    return {"ok": False, "outcome": "not_testable", "detail": "", "ms": 0, "seconds": "",
            "reason": None,
            "code": None,
            "headline": N_("This kind of connector cannot be tested without sending a "
                           "message: its provider has no request that only checks the "
                           "credentials.")}  # fmt: skip


@router.post("/connectors/{connector_id:int}/test")
def test_stored(connector_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    connector = _connector_or_none(page, connector_id)
    if connector is None:
        return _missing(page)
    try:
        result = _test(page, connector["kind"], {}, connector_id)
    except UserError as error:
        result = _untestable(error) or {
            "ok": False, "headline": N_("These settings make no connector."),
            "detail": error.problem.message, "outcome": "bad_settings", "ms": 0,
            "seconds": "", "reason": None, "code": None}  # fmt: skip
    if page.request.headers.get("hx-request"):
        return render(page.request, "connectors/_test_result.html", {"result": result})
    return _detail(page, _connector_or_none(page, connector_id) or connector, result=result)


@router.post("/connectors/{connector_id:int}/pause")
def pause(connector_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    return _switch(page, connector_id, False)


@router.post("/connectors/{connector_id:int}/resume")
def resume(connector_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    return _switch(page, connector_id, True)


def _switch(page: Page, connector_id: int, enabled: bool) -> Response:
    if _connector_or_none(page, connector_id) is None:
        return _missing(page)
    update_connector(page.engine, page.workspace, connector_id, enabled=enabled,
                     actor=page.caller.actor, now=page.now)  # fmt: skip
    return RedirectResponse(f"/connectors/{connector_id}", status_code=303)


# -- add and edit ---------------------------------------------------------------------------


@dataclass(slots=True)
class FormState:
    """What the form shows: the kind, the values typed (never a secret), errors."""

    kind: str
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)
    secrets_set: frozenset[str] = frozenset()


def _defaults(kind: str, page: Page) -> dict[str, Any]:
    """A new connector's form, filled with the defaults of the kind's settings class."""
    settings_class = SmppSettings if kind in ("smpp", SIMULATOR) else HTTP_KINDS[kind][0]
    wanted = {f.key for f in form_of(kind) if f.type != "secret"}
    values = {f.name: f.default for f in fields(settings_class)
              if f.name in wanted and isinstance(f.default, str | int | float | bool)}  # fmt: skip
    values = {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}
    values.update(name="", rate_per_s=10.0, window=10)
    if kind == SIMULATOR:
        values.update(name=SIMULATOR, host="127.0.0.1", port=page.settings.simulator_port,
                      system_id="smscast", rate_per_s=100.0, window=100)  # fmt: skip
    return values


@router.get("/connectors/new")
def new_connector(page: Page = Depends(writer_page), kind: str = "") -> Response:
    if not known_kind(kind):
        choices = {"groups": kind_groups(), "kind_names": KIND_NAMES, "kind_hints": KIND_HINTS}
        return render(page.request, "connectors/new.html", choices)
    return _form(page, None, FormState(kind, _defaults(kind, page)))


async def typed_form(request: Request) -> dict[str, str]:
    """The posted form as text (its fields depend on the connector's kind)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@router.post("/connectors/new")
def create_connector_form(
    page: Page = Depends(writer_page), typed: dict[str, str] = Depends(typed_form)
) -> Response:
    return _create(page, typed)


def _create(page: Page, typed: dict[str, str]) -> Response:
    kind = typed.get("kind", "")
    if not known_kind(kind):
        return _missing(page)
    base = "smpp" if kind == SIMULATOR else kind
    state = FormState(kind, dict(typed))
    settings, limits = _read(page, base, typed, state, editing=False)
    if typed.get("action") == "test":
        return _tested(page, None, state, base, settings, None)
    if not state.errors:
        try:
            added = add_connector(page.engine, page.workspace, name=typed.get("name", ""),
                                  kind=base, settings=settings, actor=page.caller.actor,
                                  now=page.now, **limits)  # fmt: skip
        except UserError as error:
            state.errors.append(_engine_error(page, error, base))
        else:
            return RedirectResponse(f"/connectors/{added.id}?saved=1", status_code=303)
    return _form(page, None, state, status_code=422)


@router.get("/connectors/{connector_id:int}/edit")
def edit_connector(connector_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    connector = _connector_or_none(page, connector_id)
    if connector is None:
        return _missing(page)
    stored = connector["settings"]
    values = {k: v for k, v in stored.items() if v != SECRET_SHOWN}
    values.update(name=connector["name"], rate_per_s=connector["rate_per_s"],
                  window=connector["window"])  # fmt: skip
    secrets = frozenset(k for k, v in stored.items() if v == SECRET_SHOWN)
    return _form(page, connector, FormState(connector["kind"], values, secrets_set=secrets))


@router.post("/connectors/{connector_id:int}/edit")
def change_connector_form(
    connector_id: int = Id,
    page: Page = Depends(writer_page),
    typed: dict[str, str] = Depends(typed_form),
) -> Response:
    return _change(page, typed, connector_id)


def _change(page: Page, typed: dict[str, str], connector_id: int) -> Response:
    connector = _connector_or_none(page, connector_id)
    if connector is None:
        return _missing(page)
    kind = connector["kind"]
    secrets = frozenset(k for k, v in connector["settings"].items() if v == SECRET_SHOWN)
    state = FormState(kind, {**typed, "name": connector["name"]}, secrets_set=secrets)
    settings, limits = _read(page, kind, typed, state, editing=True)
    if typed.get("action") == "test":
        return _tested(page, connector, state, kind, settings, connector_id)
    if not state.errors:
        try:
            update_connector(page.engine, page.workspace, connector_id, settings=settings,
                             actor=page.caller.actor, now=page.now, **limits)  # fmt: skip
        except UserError as error:
            state.errors.append(_engine_error(page, error, kind))
        else:
            return RedirectResponse(f"/connectors/{connector_id}?saved=1", status_code=303)
    return _form(page, connector, state, status_code=422)


def _tested(
    page: Page,
    connector: dict[str, Any] | None,
    state: FormState,
    kind: str,
    settings: dict[str, Any],
    connector_id: int | None,
) -> Response:
    result: dict[str, Any] | None = None
    if not state.errors:
        try:
            result = _test(page, kind, settings, connector_id)
        except UserError as error:
            result = _untestable(error)
            if result is None:
                state.errors.append(_engine_error(page, error, kind))
    if page.request.headers.get("hx-request"):
        return render(page.request, "connectors/_test_result.html",
                      {"result": result, "test_errors": state.errors})  # fmt: skip
    return _form(page, connector, state, result=result,
                 status_code=200 if not state.errors else 422)  # fmt: skip


def _read(
    page: Page, kind: str, typed: dict[str, str], state: FormState, *, editing: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The settings and limits the form holds, each field checked by its type.

    On edit, an empty secret keeps the stored one and an emptied field goes back to its
    default (None: removed from the stored settings); on add, empty fields are left out.
    """
    _ = gettext_for(page.request)
    settings: dict[str, Any] = {}
    for spec in form_of(kind):
        raw = typed.get(spec.key, "").strip()
        if spec.type == "bool":
            settings[spec.key] = spec.key in typed
            continue
        if not raw:
            if spec.required and not (spec.type == "secret" and spec.key in state.secrets_set):
                state.errors.append(
                    FieldError(spec.key, _("Fill this in: the connector needs it."))
                )
            elif editing and spec.type != "secret":
                settings[spec.key] = None
            continue
        value = _value(spec, raw, state, _)
        if value is not None:
            settings[spec.key] = value
    rate, window = ENGINE_PROBLEMS["bad_rate"][1], ENGINE_PROBLEMS["bad_window"][1]
    limits = {
        "rate_per_s": _number(typed, "rate_per_s", float, state, _(rate), 0, 1e6),
        "window": _number(typed, "window", int, state, _(window), 1, 65535),
    }
    return settings, limits


def _value(spec: SettingField, raw: str, state: FormState, _: Any) -> Any:
    if spec.max_length and len(raw) > spec.max_length:
        state.errors.append(FieldError(spec.key, _("At most %(count)s characters.",
                                                   count=spec.max_length)))  # fmt: skip
        return None
    if spec.type == "choice":
        if raw not in {value for value, _label in spec.choices}:
            state.errors.append(FieldError(spec.key, _("Choose one of the options.")))
            return None
        return int(raw) if spec.numeric else raw
    if spec.type in ("int", "float"):
        try:
            number = int(raw) if spec.type == "int" else float(raw.replace(",", "."))
        except ValueError:
            message = _("Enter a whole number.") if spec.type == "int" else _("Enter a number.")
            state.errors.append(FieldError(spec.key, message))
            return None
        return number
    if spec.many:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if spec.type == "url" and not re.match(r"https?://[^/\s]+", raw):
        state.errors.append(
            FieldError(spec.key, _("Enter an address starting with https:// or http://."))
        )
        return None
    return raw


def _number(typed: dict[str, str], key: str, kind: type, state: FormState, message: str,
            low: float, high: float) -> Any:  # fmt: skip
    raw = typed.get(key, "").strip().replace(",", ".")
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        state.errors.append(FieldError(key, message))
        return None
    return value


def _engine_error(page: Page, error: UserError, kind: str) -> FieldError:
    """An engine refusal beside the field it concerns, in the reader's words where known."""
    _ = gettext_for(page.request)
    problem = error.problem
    if problem.code in ENGINE_PROBLEMS:
        name, message = ENGINE_PROBLEMS[problem.code]
        return FieldError(name, _(message))
    if problem.code == "missing_callback_secret" and problem.field:
        return FieldError(problem.field.removeprefix("settings."), _(
            "Enter it: the carrier's callbacks are checked with it, and without it anyone "
            "could forge delivery reports and inbound texts."))  # fmt: skip
    keys = {spec.key for spec in form_of(kind)}
    # "settings: KEY is" first: the connector's quoted name comes earlier in the message.
    named = re.search(r"settings: (\w+) is", problem.message) or re.search(
        r"'(\w+)'", problem.message
    )
    key = next((k for k in (named.groups() if named else ()) if k in keys), None)
    reason = problem.message.split("settings: ", 1)[-1]
    return FieldError(key or "name", _("Not accepted: %(reason)s", reason=reason))


def _shown_values(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the form's inputs hold them: a list as its items separated by commas."""
    return {
        key: ", ".join(map(str, value)) if isinstance(value, list | tuple) else value
        for key, value in values.items()
    }


def _form(
    page: Page,
    connector: dict[str, Any] | None,
    state: FormState,
    *,
    result: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    specs = form_of(state.kind)
    return render(
        page.request,
        "connectors/form.html",
        {
            "connector": connector,
            "kind": state.kind,
            "kind_names": KIND_NAMES,
            "basic": [s for s in specs if not s.advanced],
            "advanced": [s for s in specs if s.advanced],
            "values": _shown_values(state.values),
            "channel_name": channel_name(state.kind),
            "errors": state.errors,
            "secrets_set": state.secrets_set,
            "result": result,
        },
        status_code=status_code,
    )
