"""The agents' inbox: tickets, most recently active first, live.

The list is filtered by state, assignee (me, nobody, a member), number, channel (the one
the person last wrote on: SMS, email, WhatsApp, voice) and a search in phones, subjects
and texts (`inbound.inbox_tickets`, which is `list_tickets` with each
contact's name and last text), and paged by activity. Without JavaScript it is a plain
page with a filter form; with it, `/inbox/stream` (Server-Sent Events) sends the rows
again, for the same filters, whenever a ticket of the workspace changes, and the open
count for the page's title.

A stream costs one cheap query per tick for the whole workspace, whatever the number
of open tabs: every stream of a workspace listens to one shared polling loop
(`InboxWatch`) that asks `inbox_version` — the tickets' indexes only, never the
messages — and only when the version moves are the rows read and rendered again, once
per set of filters and language, and handed to every stream that shows them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_timedelta
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from smscast.api.deps import SESSION_COOKIE
from smscast.core.channels import channel_of_kind
from smscast.core.errors import UserError
from smscast.core.roles import Permission, allows
from smscast.engine.accounts.users import list_members
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.inbox_feed import InboxVersion, inbox_tickets, inbox_version
from smscast.engine.inbound.numbers import list_numbers
from smscast.engine.inbound.tickets import STATES
from smscast.engine.sending.connector_views import connectors_of
from smscast.web.auth import Page, reader_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.connector_forms import CHANNEL_NAMES
from smscast.web.routes.dashboard_stream import (
    RETRY_MS,
    StreamTiming,
    session_check,
    sse,
)
from smscast.web.templating import Templating, gettext_for, render, request_language

router = APIRouter(include_in_schema=False)
NAV = [NavItem(15, N_("Inbox"), "/inbox", Permission.READ)]
log = logging.getLogger(__name__)

PAGE_SIZE = 50
MAX_SEARCH = 200  # as the API's `q`
STATE_NAMES = {"open": N_("open"), "pending": N_("pending"), "solved": N_("solved")}
STATE_CHOICES = {"open": N_("Open tickets"), "pending": N_("Pending tickets"),
                 "solved": N_("Solved tickets"), "all": N_("All tickets")}  # fmt: skip
INBOX_CHANNELS = ("sms", "email", "whatsapp", "voice")
"""The channels people write (or press a digit) on: web push has no way back."""
DEFAULT_TIMING = StreamTiming(interval=0.5, recheck_every=30, lifetime=1200, keepalive_every=30)
"""Poll twice a second (one small query for all of a workspace's tabs: a new text shows
within half a second); the session is checked every 15 s; a stream ends after 10 min
(the browser reconnects by itself)."""


@dataclass(frozen=True, slots=True)
class Filters:
    """The inbox's filters as the address gives them ("" for any), and where a page
    starts (`before`: the last row of the page before, its activity and id)."""

    state: str = "open"
    assignee: str = ""  # "", "me", "nobody" or a member's email
    number: str = ""
    q: str = ""
    before: tuple[datetime, int] | None = None
    channel: str = ""

    def address(self, *, paged: bool = True) -> str:
        """The query string that shows these filters (the page's, the stream's)."""
        params = {"state": self.state, "assignee": self.assignee, "number": self.number,
                  "channel": self.channel, "q": self.q}  # fmt: skip
        if paged and self.before is not None:
            params |= {"before": str(self.before[1]), "at": self.before[0].isoformat()}
        return urlencode({name: value for name, value in params.items() if value})


def read_filters(params: dict[str, str], members: list[str], gettext: Callable[..., str]
                 ) -> tuple[Filters, list[FieldError]]:  # fmt: skip
    """The filters from the address, with what is wrong with them beside their fields."""
    errors = []
    state = params.get("state", "open").strip() or "open"
    if state not in (*STATES, "all"):
        errors.append(FieldError("state", gettext("Choose open, pending, solved or all.")))
    assignee = params.get("assignee", "").strip().lower()
    if assignee not in ("", "me", "nobody", *members):
        errors.append(FieldError("assignee", gettext("Choose a member who answers tickets.")))
    q = params.get("q", "").strip()
    if len(q) > MAX_SEARCH:
        errors.append(FieldError("q", gettext("Search for at most %(limit)s characters.",
                                              limit=MAX_SEARCH)))  # fmt: skip
    channel = params.get("channel", "").strip().lower()
    if channel not in ("", *INBOX_CHANNELS):
        errors.append(FieldError("channel", gettext("Choose one of the channels.")))
    before = None
    if params.get("before", "").isdigit():
        try:
            before = (datetime.fromisoformat(params.get("at", "")), int(params["before"]))
        except ValueError:
            before = None  # a mangled page address: the first page
    if before is not None and before[0].tzinfo is None:
        before = None
    filters = Filters(state, assignee, params.get("number", "").strip(), q, before, channel)
    return filters, errors


def read_tickets(page: Page, filters: Filters, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The tickets these filters show (`limit` of them); raises UserError for a number
    the workspace does not have."""
    return inbox_tickets(
        page.engine, page.workspace,
        state=None if filters.state == "all" else filters.state,
        assignee=page.viewer.profile.email if filters.assignee == "me" else (
            filters.assignee if filters.assignee not in ("", "nobody") else None),
        unassigned=filters.assignee == "nobody",
        number=filters.number or None, search=filters.q or None, before=filters.before,
        limit=limit, channel=filters.channel or None,
    )  # fmt: skip


def answering_members(engine: Engine, workspace: WorkspaceRef) -> list[dict[str, Any]]:
    """The active members who may answer tickets: the inbox's assignees."""
    return [
        member for member in list_members(engine, workspace, after=0, limit=1000)
        if member["is_active"] and allows(member["role"], Permission.TICKETS_WRITE)
    ]  # fmt: skip


def ago(moment: datetime | None, now: datetime, language: str,
        gettext: Callable[..., str]) -> str:  # fmt: skip
    """How long ago, in the reader's words: "just now", "5 min ago", "3 days ago"."""
    if moment is None:
        return "–"
    passed = now - moment
    if passed < timedelta(minutes=1):
        return gettext("just now")
    return str(format_timedelta(-passed, add_direction=True, format="short", locale=language))


def rows_context(page: Page, filters: Filters, now: datetime,
                 members: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """What `inbox/_rows.html` shows: the rows with their words, and the next page."""
    found = read_tickets(page, filters, PAGE_SIZE + 1)
    shown, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    language, gettext = request_language(page.request), gettext_for(page.request)
    names = {member["email"]: member["name"] or member["email"] for member in members}
    for row in shown:
        row["activity"] = ago(row["updated_at"], now, language, gettext)
        row["assignee_name"] = names.get(row["assignee"] or "", row["assignee"])
    later = None
    if more:
        last = shown[-1]
        later = "/inbox?" + Filters(filters.state, filters.assignee, filters.number, filters.q,
                                    (last["updated_at"], last["id"]),
                                    filters.channel).address()  # fmt: skip
    return {"tickets": shown, "later": later, **_names(),
            "multichannel": multichannel(page.engine, page.workspace)}  # fmt: skip


def multichannel(engine: Engine, workspace: WorkspaceRef) -> bool:
    """Whether the workspace talks on more than one channel (its connectors' kinds): only
    then does each row say its channel; an SMS-only inbox stays as it was."""
    kinds = {connector["kind"] for connector in connectors_of(engine, workspace)}
    return len({channel_of_kind(kind) for kind in kinds}) > 1


def _names() -> dict[str, Any]:
    return {"state_names": STATE_NAMES, "channel_names": CHANNEL_NAMES}


@router.get("/inbox")
def inbox_page(page: Page = Depends(reader_page)) -> Response:
    _ = gettext_for(page.request)
    members = answering_members(page.engine, page.workspace)
    filters, errors = read_filters(dict(page.request.query_params),
                                   [m["email"] for m in members], _)  # fmt: skip
    context: dict[str, Any] = {"tickets": [], "later": None, **_names()}
    if not errors:
        try:
            context = rows_context(page, filters, page.now, members)
        except UserError as error:
            if error.problem.code != "unknown_number":
                raise
            errors.append(FieldError("number", _("This workspace has no such number.")))
    version = inbox_version(page.engine, page.workspace.id)
    return render(page.request, "inbox/list.html", {
        **context,
        "filters": filters,
        "errors": errors,
        "open_count": version.open,
        "stream_url": None if errors else "/inbox/stream?" + filters.address(),
        "states": [(name, _(label)) for name, label in STATE_CHOICES.items()],
        "members": members,
        "numbers": list_numbers(page.engine, page.workspace),
        "channels": [("", _("All channels")),
                     *((name, _(CHANNEL_NAMES[name])) for name in INBOX_CHANNELS)],
    }, status_code=422 if errors else 200)  # fmt: skip


@router.get("/inbox/stream")
async def inbox_stream(request: Request, page: Page = Depends(reader_page)) -> Response:
    """The inbox's rows for the page's filters as Server-Sent Events: `rows` first and
    whenever a ticket of the workspace changes (or a minute passes: "5 min ago")."""
    engine, workspace = page.engine, page.workspace
    members = await run_in_threadpool(answering_members, engine, workspace)
    gettext = await run_in_threadpool(gettext_for, request)
    filters, errors = read_filters(dict(request.query_params), [m["email"] for m in members],
                                   gettext)  # fmt: skip
    if errors:
        return Response(status_code=422)  # the page says why; a stream cannot
    language = request_language(request)
    templating: Templating = request.app.state.templating
    clock: Callable[[], datetime] = request.app.state.portal_clock
    timing: StreamTiming = getattr(request.app.state, "inbox_stream", DEFAULT_TIMING)
    stopping: threading.Event = request.app.state.stopping
    assignee = page.viewer.profile.email if filters.assignee == "me" else filters.assignee
    key = (
        language,
        filters.state,
        assignee,
        filters.number,
        filters.q,
        filters.before,
        filters.channel,
    )

    def payload(version: InboxVersion) -> dict[str, Any]:
        """The rows and the count, rendered once for every stream with the same key."""
        now = clock()
        environment = templating.environments[language]
        try:
            context = rows_context(page, filters, now, members)
        except UserError:  # the number was removed since the page was shown
            context = {"tickets": [], "later": None, **_names()}
        shared = {"timezone": workspace.timezone, "open_count": version.open}
        return {
            "rows": environment.get_template("inbox/_rows.html").render({**context, **shared}),
            "count": environment.get_template("inbox/_list_count.html").render(shared),
            "title": environment.get_template("inbox/_list_title.html").render(shared),
            "open": version.open,
        }

    async def gone() -> bool:
        return stopping.is_set() or await request.is_disconnected()

    watch = inbox_watches(request.app.state).watching(engine, workspace.id, clock,
                                                      timing.interval)  # fmt: skip
    alive = session_check(engine, request.cookies.get(SESSION_COOKIE, ""), clock)
    events = watch_events(watch, key, payload, alive, gone, timing)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


State = tuple[InboxVersion, datetime]
"""What a stream shows depends on: the inbox's version and the minute ("5 min ago")."""


@dataclass(eq=False)
class InboxWatch:
    """One workspace's polling loop, shared by every inbox stream open on it."""

    read: Callable[[], InboxVersion]
    clock: Callable[[], datetime]
    interval: float
    loop: asyncio.AbstractEventLoop
    state: State | None = None
    listeners: int = 0
    polls: int = 0  # how many times the version was asked (the bench and tests count)
    task: asyncio.Task[None] | None = None
    changed: asyncio.Future[State] = field(init=False)
    renders: dict[Hashable, asyncio.Future[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.changed = self.loop.create_future()

    async def run(self) -> None:
        while True:
            try:
                version = await run_in_threadpool(self.read)
            except Exception:  # the database is away: keep what was shown, try again
                log.exception("the inbox's version could not be read")
            else:
                self.polls += 1
                state = (version, self.clock().replace(second=0, microsecond=0))
                if state != self.state:
                    self.state, self.renders = state, {}
                    done, self.changed = self.changed, self.loop.create_future()
                    done.set_result(state)
            await asyncio.sleep(self.interval)

    async def current(self) -> State:
        """The state now (after the first poll, when the loop has just started)."""
        return self.state if self.state is not None else await asyncio.shield(self.changed)

    async def rendered(self, key: Hashable, make: Callable[[InboxVersion], dict[str, Any]]
                       ) -> tuple[State, str]:  # fmt: skip
        """The `rows` event of what `make` gives for the current state, made and encoded
        once per `key` and state for every stream that shows it."""
        state = await self.current()
        found = self.renders.get(key)
        if found is None:
            found = self.renders[key] = asyncio.ensure_future(
                run_in_threadpool(lambda: sse("rows", make(state[0])))
            )
        return state, await asyncio.shield(found)


class InboxWatches:
    """The watches of one site, by workspace; a watch stops with its last stream."""

    def __init__(self) -> None:
        self.watches: dict[int, InboxWatch] = {}

    @asynccontextmanager
    async def watching(self, engine: Engine, workspace_id: int, clock: Callable[[], datetime],
                       interval: float) -> AsyncIterator[InboxWatch]:  # fmt: skip
        """The workspace's watch (started by its first stream), held while inside."""
        loop = asyncio.get_running_loop()
        watch = self.watches.get(workspace_id)
        if watch is None or watch.loop is not loop:
            watch = InboxWatch(lambda: inbox_version(engine, workspace_id), clock, interval, loop)
            watch.task = loop.create_task(watch.run())
            self.watches[workspace_id] = watch
        watch.listeners += 1
        try:
            yield watch
        finally:
            watch.listeners -= 1
            if watch.listeners == 0:
                if watch.task is not None:
                    watch.task.cancel()
                if self.watches.get(workspace_id) is watch:
                    del self.watches[workspace_id]


def inbox_watches(state: Any) -> InboxWatches:
    """The site's watches, made on first use (kept on `app.state`)."""
    watches = getattr(state, "inbox_watches", None)
    if watches is None:
        watches = state.inbox_watches = InboxWatches()
    return watches


async def watch_events(
    watching: AbstractAsyncContextManager[InboxWatch],
    key: Hashable,
    payload: Callable[[InboxVersion], dict[str, Any]],
    session_alive: Callable[[], bool],
    disconnected: Callable[[], Awaitable[bool]],
    timing: StreamTiming = DEFAULT_TIMING,
) -> AsyncIterator[str]:
    """The stream's text: `rows` at once and on every change of the shared watch's
    state, `signed-out` (then the end) when the session is gone."""
    yield f"retry: {RETRY_MS}\n\n"
    async with watching as watch:
        shown, event = await watch.rendered(key, payload)  # after the loop's first poll
        yield event
        quiet = 0
        for poll in range(1, timing.lifetime):
            if await disconnected():
                return
            if poll % timing.recheck_every == 0 and not await run_in_threadpool(session_alive):
                yield sse("signed-out", {})
                return
            if watch.state == shown:
                try:
                    await asyncio.wait_for(asyncio.shield(watch.changed), timing.interval)
                except TimeoutError:
                    quiet += 1
                    if quiet % timing.keepalive_every == 0:
                        yield ": still here\n\n"  # keeps proxies from closing the stream
                    continue
            shown, event = await watch.rendered(key, payload)
            quiet = 0
            yield event
