"""The dashboard: the figures that matter, arranged by each user, updated live.

Who may change what: a dashboard is a member's own arrangement of numbers they may
already read, like their language, so every member (viewers included) arranges, names,
shares and deletes their own dashboards, and only those (`core.roles` guards workspace
data, and a layout is none: no permission beyond READ is asked). Someone else's shared
dashboard is read-only for them: no edit buttons, the engine refuses a forged post
(403), and "Copy" makes it their own.

Every change is a plain form post that lands back on the same dashboard with the same
filters (303), so the page works without JavaScript; htmx (`hx-boost` on the page's
forms) turns each into a swap of the dashboard alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import StreamingResponse
from starlette.responses import RedirectResponse, Response

from smscast.api.deps import SESSION_COOKIE
from smscast.core.dashboard_tiles import KINDS, SIZES
from smscast.core.errors import UserError
from smscast.engine.campaigns.lifecycle import list_campaigns
from smscast.engine.dashboards import layouts
from smscast.engine.dashboards.layouts import DashboardView
from smscast.engine.dashboards.metrics import (
    CHANNELS,
    PURPOSES,
    dashboard_metrics,
    live_snapshot,
)
from smscast.engine.inbound.numbers import list_numbers
from smscast.web.auth import Page, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.connector_forms import CHANNEL_NAMES
from smscast.web.routes.dashboard_query import RANGES, Query, read_query
from smscast.web.routes.dashboard_stream import (
    DEFAULT_TIMING,
    StreamTiming,
    live_events,
    session_check,
)
from smscast.web.routes.dashboard_view import (
    FUNNEL_STAGES,
    LABELS,
    SIZE_NAMES,
    family_of,
    kpi_payload,
    kpi_texts,
    missing_kinds,
    moved,
    resized,
    with_added,
    without,
    workspace_currency,
)
from smscast.web.templating import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)
NAV = [NavItem(10, N_("Dashboard"), "/dashboard")]

RANGE_NAMES = {"today": N_("Today"), "7d": N_("Last 7 days"), "30d": N_("Last 30 days"),
               "custom": N_("Custom")}  # fmt: skip
PURPOSE_NAMES = {"promotional": N_("Promotional"), "informational": N_("Informational")}


def _query_of(request: Request) -> Query:
    return read_query(dict(request.query_params), gettext_for(request))


def _back_query(raw: str, request: Request) -> Query:
    """The filters a form came from (its hidden `filters` field), read as strictly as
    the address; anything else in it is dropped."""
    return read_query(dict(parse_qsl(raw)), gettext_for(request))


def _address(dashboard_id: int | None, query: Query) -> str:
    params = query.encoded(with_dashboard=False)
    parts = [f"dashboard={dashboard_id}"] if dashboard_id is not None else []
    if params:
        parts.append(params)
    return "/dashboard" + ("?" + "&".join(parts) if parts else "")


def _open(page: Page, query: Query) -> DashboardView:
    """The dashboard the address names, else the user's first (created on a first visit)."""
    ws, user = page.workspace.id, _user(page)
    if query.dashboard_id is not None:
        return layouts.get_dashboard(page.engine, ws, user, query.dashboard_id)
    _ = gettext_for(page.request)
    return layouts.ensure_default_dashboard(page.engine, ws, user, _("My dashboard"), page.now)


def _chart_data(
    metrics: dict[str, Any], gettext: Callable[..., str], timezone: str
) -> dict[str, Any]:
    """What dashboard.js draws, with the series' names in the reader's language."""
    data: dict[str, Any] = {}
    traffic = metrics.get("traffic")
    if traffic is not None:
        points = traffic["points"]
        data["traffic"] = {
            "step": traffic["step"],
            "time_label": gettext("Time"),
            "timezone": timezone,  # the axis's hours, as every moment on the page
            "x": [int(datetime.fromisoformat(p["at"]).timestamp()) for p in points],
            "series": [
                {"label": gettext("Sent"), "values": [p["sent"] for p in points]},
                {"label": gettext("Delivered"), "values": [p["delivered"] for p in points]},
                {"label": gettext("Failed"), "values": [p["failed"] for p in points]},
            ],
        }
    funnel = metrics.get("funnel")
    if funnel is not None:
        data["funnel"] = {
            "labels": [gettext(FUNNEL_STAGES[stage["stage"]]) for stage in funnel],
            "values": [stage["count"] for stage in funnel],
            "label": gettext("Texts"),
        }
    return data


def _show(page: Page, query: Query, *, errors: list[FieldError] | None = None,
          status: int = 200, typed: dict[str, str] | None = None) -> Response:  # fmt: skip
    try:
        current = _open(page, query)
    except UserError as error:
        if error.problem.code == "unknown_dashboard":
            return error_page(page.request, 404, N_("There is no such dashboard, or it is no "
                                                    "longer shared with you."))  # fmt: skip
        raise
    ws = page.workspace
    since, until = query.span(page.now, ws.timezone)
    metrics = dashboard_metrics(page.engine, ws.id, since, until, query.filters,
                                layout=current.layout, timezone=ws.timezone)  # fmt: skip
    language = request_language(page.request)
    _ = gettext_for(page.request)
    tiles = [
        {"kind": tile.kind, "size": tile.size, "family": family_of(tile.kind),
         "label": LABELS[tile.kind], "sizes": KINDS[tile.kind].sizes,
         "first": index == 0, "last": index == len(current.layout) - 1}
        for index, tile in enumerate(current.layout)
    ]  # fmt: skip
    context = {
        "query": query,
        "filters": query.encoded(with_dashboard=False),
        "stream_url": "/dashboard/stream?" + query.encoded(with_dashboard=False),
        "errors": [*query.errors, *(errors or [])],
        "typed": typed or {},
        "current": current,
        "dashboards": layouts.list_dashboards(page.engine, ws.id, _user(page)),
        "tiles": tiles,
        "addable": [(kind, _(LABELS[kind])) for kind in missing_kinds(current.layout)],
        "labels": LABELS,
        "size_names": SIZE_NAMES,
        "metrics": metrics,
        "kpis": kpi_texts(metrics, language, workspace_currency(ws), _),
        "charts": _chart_data(metrics, _, ws.timezone),
        "funnel_names": FUNNEL_STAGES,
        "traffic_rows": [
            (datetime.fromisoformat(point["at"]), point)
            for point in metrics.get("traffic", {}).get("points", [])
        ],
        "since": since,
        "until": until,
        "ranges": [(name, _(RANGE_NAMES[name])) for name in RANGES],
        "campaigns": list_campaigns(page.engine, ws),
        "numbers": list_numbers(page.engine, ws),
        "purposes": [(name, _(PURPOSE_NAMES[name])) for name in PURPOSES],
        "channels": [(name, _(CHANNEL_NAMES[name])) for name in CHANNELS],
    }
    return render(page.request, "dashboard/page.html", context, status_code=status)


@router.get("/dashboard")
def dashboard_page(page: Page = Depends(reader_page)) -> Response:
    return _show(page, _query_of(page.request))


@router.get("/dashboard/stream")
async def dashboard_stream(request: Request, page: Page = Depends(reader_page)) -> Response:
    """The page's KPI texts as Server-Sent Events, for the same range and filters."""
    query = _query_of(request)
    if query.errors:
        return Response(status_code=422)  # the page shows why; a stream cannot
    ws = page.workspace
    since, until = query.span(page.now, ws.timezone)
    language, currency, gettext = request_language(request), workspace_currency(ws), \
        gettext_for(request)  # fmt: skip
    token = request.cookies.get(SESSION_COOKIE, "")
    clock: Callable[[], datetime] = request.app.state.portal_clock
    timing: StreamTiming = getattr(request.app.state, "dashboard_stream", DEFAULT_TIMING)

    def snapshot() -> dict[str, Any]:
        return live_snapshot(page.engine, ws.id, since, until, query.filters)

    def payload(found: dict[str, Any]) -> dict[str, Any]:
        return kpi_payload(kpi_texts(found, language, currency, gettext))

    alive = session_check(page.engine, token, clock)
    stopping: threading.Event = request.app.state.stopping

    async def gone() -> bool:
        """The browser left, or the server is stopping."""
        return stopping.is_set() or await request.is_disconnected()

    events = live_events(snapshot, payload, alive, gone, timing)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _user(page: Page) -> int:
    """The signed-in user's id (a portal session is always a person's, never a key's)."""
    return page.caller.id


def _name_error(page: Page, error: UserError, field: str) -> FieldError:
    """An engine refusal of a name, said in the reader's words."""
    _ = gettext_for(page.request)
    if error.problem.code == "dashboard_exists":
        return FieldError(field, _("You already have a dashboard with that name."))
    if "at most" in error.problem.message:
        return FieldError(field, _("A dashboard name has at most %(limit)s characters.",
                                   limit=layouts.NAME_LIMIT))  # fmt: skip
    return FieldError(field, _("Give the dashboard a name."))


def _refused(page: Page, error: UserError) -> Response | None:
    """The error page for refusals that are not about a field; None for the others."""
    if error.problem.code == "forbidden":
        return error_page(page.request, 403, N_("Only its owner may change this dashboard. "
                                                "Copy it to make one of your own."))  # fmt: skip
    if error.problem.code == "unknown_dashboard":
        return error_page(page.request, 404, N_("There is no such dashboard, or it is no "
                                                "longer shared with you."))  # fmt: skip
    return None


def _after(page: Page, dashboard_id: int | None, filters: str) -> Response:
    return RedirectResponse(_address(dashboard_id, _back_query(filters, page.request)), 303)


def _on_form(page: Page, dashboard_id: int | None, filters: str, field: str, name: str,
             change: Callable[[], int | None]) -> Response:  # fmt: skip
    """Runs a change that takes a name; lands on the dashboard it returns, or shows the
    page again with the name as typed and what is wrong with it."""
    try:
        landing = change()
    except UserError as error:
        refused = _refused(page, error)
        if refused is not None:
            return refused
        query = _with_dashboard(_back_query(filters, page.request), dashboard_id)
        return _show(page, query, errors=[_name_error(page, error, field)], status=422,
                     typed={field: name})  # fmt: skip
    return _after(page, landing, filters)


def _with_dashboard(query: Query, dashboard_id: int | None) -> Query:
    return replace(query, dashboard_id=dashboard_id)


@router.post("/dashboard/new")
def create(page: Page = Depends(reader_page), name: str = Form(""), filters: str = Form(""),
           current: str = Form("")) -> Response:  # fmt: skip
    """A new dashboard with every tile, opened at once."""
    shown = int(current) if current.isdigit() else None
    return _on_form(page, shown, filters, "new-name", name, lambda: layouts.create_dashboard(
        page.engine, page.workspace.id, _user(page), name, page.now))  # fmt: skip


@router.post("/dashboard/{dashboard_id}/rename")
def rename(dashboard_id: int, page: Page = Depends(reader_page), name: str = Form(""),
           filters: str = Form("")) -> Response:  # fmt: skip
    def change() -> int:
        layouts.rename_dashboard(page.engine, page.workspace.id, _user(page), dashboard_id,
                                 name, page.now)  # fmt: skip
        return dashboard_id

    return _on_form(page, dashboard_id, filters, "rename-name", name, change)


@router.post("/dashboard/{dashboard_id}/copy")
def copy(dashboard_id: int, page: Page = Depends(reader_page), name: str = Form(""),
         filters: str = Form("")) -> Response:  # fmt: skip
    """The user's own copy of a dashboard they may open, opened at once."""
    return _on_form(page, dashboard_id, filters, "copy-name", name, lambda: layouts.copy_dashboard(
        page.engine, page.workspace.id, _user(page), dashboard_id, name, page.now))  # fmt: skip


@router.post("/dashboard/{dashboard_id}/share")
def share(dashboard_id: int, page: Page = Depends(reader_page), shared: str = Form(""),
          filters: str = Form("")) -> Response:  # fmt: skip
    try:
        layouts.set_shared(page.engine, page.workspace.id, _user(page), dashboard_id,
                           shared == "1", page.now)  # fmt: skip
    except UserError as error:
        return _refused(page, error) or _after(page, dashboard_id, filters)
    return _after(page, dashboard_id, filters)


@router.post("/dashboard/{dashboard_id}/delete")
def delete(dashboard_id: int, page: Page = Depends(reader_page),
           filters: str = Form("")) -> Response:  # fmt: skip
    """Deletes the dashboard and opens the user's first one (a new default if none is left)."""
    try:
        layouts.delete_dashboard(page.engine, page.workspace.id, _user(page), dashboard_id)
    except UserError as error:
        return _refused(page, error) or _after(page, None, filters)
    return _after(page, None, filters)


@router.post("/dashboard/{dashboard_id}/tiles")
def change_tiles(
    dashboard_id: int,
    page: Page = Depends(reader_page),
    action: str = Form(""),
    tile: str = Form(""),
    size: str = Form(""),
    filters: str = Form(""),
) -> Response:
    """Adds, removes, moves or resizes one tile; the whole new layout is checked and
    saved at once (two tabs editing: the last change wins, whole)."""
    _ = gettext_for(page.request)
    ws, user = page.workspace.id, _user(page)
    try:
        layout = layouts.get_dashboard(page.engine, ws, user, dashboard_id).layout
        changes: dict[str, Callable[[], list[dict[str, Any]]]] = {
            "add": lambda: with_added(layout, tile),
            "remove": lambda: without(layout, tile),
            "earlier": lambda: moved(layout, tile, -1),
            "later": lambda: moved(layout, tile, +1),
            "resize": lambda: resized(layout, tile, size),
        }
        if action not in changes:
            raise UserError.of("invalid_layout", f"unknown action {action!r}", field="action")
        layouts.save_layout(page.engine, ws, user, dashboard_id, changes[action](), page.now)
    except UserError as error:
        refused = _refused(page, error)
        if refused is not None:
            return refused
        query = _with_dashboard(_back_query(filters, page.request), dashboard_id)
        field = "add-tile" if action == "add" else f"size-{tile}" if tile in KINDS else "add-tile"
        message = (_("Choose a size from the list.") if action == "resize" and size not in SIZES
                   else _("That tile cannot be placed on this dashboard."))  # fmt: skip
        return _show(page, query, errors=[FieldError(field, message)], status=422)
    return _after(page, dashboard_id, filters)
