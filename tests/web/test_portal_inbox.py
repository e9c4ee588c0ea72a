"""The agents' inbox (/inbox): the ticket list with its filters and pages, and its live
stream — rows for the page's filters at once and whenever a ticket changes, one shared
poll of the workspace's inbox version for any number of open tabs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import assign_ticket, reply_to_ticket, solve_ticket
from smscast.engine.sending.connectors import add_connector
from smscast.store.models import Contact, table_of
from smscast.web.routes.dashboard_stream import StreamTiming
from smscast.web.routes.inbox import InboxWatches, watch_events

OLA, PIOTR = "ola@shop.test", "piotr@shop.test"
SHORT, LONG = "4000", "+48500100200"
ANNA, BOLEK, CELINA = "+48600100201", "+48600100202", "+48600100203"
FAST = StreamTiming(interval=0.01, recheck_every=1000, lifetime=5000, keepalive_every=1000)
Texting = Callable[..., int]


@pytest.fixture
def texting(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Texting:
    """`texting(phone, text, at, to=SHORT)`: a text that becomes (or reopens) a ticket."""
    connector = add_connector(engine, workspace, name="sim", kind="smpp",
                                 settings={"host": "127.0.0.1", "port": 2775, "system_id": "t"},
                                 rate_per_s=10.0, window=10, actor="t", now=now)  # fmt: skip
    for number in (SHORT, LONG):
        add_number(engine, workspace, number, connector="sim", actor="t", now=now)

    def send(phone: str, body: str, at: datetime, to: str = SHORT) -> int:
        result = handle_inbound(engine, settings, connector.id, InboundMessage(phone, to, body, at))
        assert result.route == "ticket" and result.ticket_id is not None
        return result.ticket_id

    return send


def client_for(settings: Settings, engine: Engine, workspace: WorkspaceRef, clock: Clock,
               email: str = OLA, role: str = "agent") -> TestClient:  # fmt: skip
    app = build_site(settings, engine, clock)
    app.state.inbox_stream = StreamTiming(interval=0.0, lifetime=1)
    client = TestClient(app)
    make_user(engine, [workspace], email, role=role, name="Ola Agent", now=clock.now)
    sign_in(client, email)
    return client


def rows_of(html: str) -> list[str]:
    """Each ticket row's text, spaces squeezed."""
    rows = re.findall(r'<tr data-testid="ticket-row".*?</tr>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]


def title_of(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return " ".join(found.group(1).split())


def events_of(text: str) -> list[tuple[str, Any]]:
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_the_inbox_lists_open_tickets_most_recently_active_first(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    anna = texting(ANNA, "My order 1234 has not arrived", now)
    texting(BOLEK, "Do you deliver on Sundays?", now + timedelta(minutes=2))
    solved = texting(CELINA, "Thanks, all good", now + timedelta(minutes=3))
    solve_ticket(engine, workspace, solved, actor="t", now=now + timedelta(minutes=4))
    with engine.begin() as conn:
        conn.execute(update(table_of(Contact)).where(table_of(Contact).c.phone == ANNA)
                     .values(attributes={"first_name": "Anna", "last_name": "Nowak"}))  # fmt: skip
    client = client_for(settings, engine, workspace, Clock(now + timedelta(minutes=7)))

    page = client.get("/inbox")
    assert page.status_code == 200
    assert title_of(page.text) == "(2) Inbox · smscast"
    assert "2 tickets wait for an answer" in page.text
    assert rows_of(page.text) == [
        f"{BOLEK} Do you deliver on Sundays? 4000 open nobody 5 min. ago",
        f"Anna Nowak {ANNA} My order 1234 has not arrived 4000 open nobody 7 min. ago",
    ]
    assert f'href="/inbox/{anna}"' in page.text
    assert 'data-stream="/inbox/stream?state=open"' in page.text
    assert '<script src="/static/inbox.js" defer></script>' in page.text

    every = client.get("/inbox?state=all")
    assert [row.split()[0] for row in rows_of(every.text)] == [CELINA, BOLEK, "Anna"]
    assert "solved" in rows_of(every.text)[0]


def test_filters_by_assignee_number_and_search_and_the_reply_shows_as_the_last_text(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    client = client_for(settings, engine, workspace, Clock(now + timedelta(hours=1)))
    make_user(engine, [workspace], PIOTR, role="admin", name="Piotr", now=now)
    anna = texting(ANNA, "Where is my parcel?", now)
    bolek = texting(BOLEK, "Refund please", now + timedelta(minutes=1), to=LONG)
    texting(CELINA, "Hello", now + timedelta(minutes=2))
    assign_ticket(engine, workspace, anna, OLA, actor="t", now=now + timedelta(minutes=3))
    assign_ticket(engine, workspace, bolek, PIOTR, actor="t", now=now + timedelta(minutes=4))
    reply_to_ticket(engine, workspace, anna, "It left today", actor=OLA,
                    now=now + timedelta(minutes=5))  # fmt: skip

    def phones(address: str) -> list[str]:
        page = client.get(address)
        assert page.status_code == 200, page.text
        return [re.findall(r"\+\d+", row)[0] for row in rows_of(page.text)]

    assert phones("/inbox?state=all&assignee=me") == [ANNA]
    assert phones("/inbox?state=all&assignee=nobody") == [CELINA]
    assert phones(f"/inbox?state=all&assignee={PIOTR}") == [BOLEK]
    assert phones(f"/inbox?state=all&number={LONG}") == [BOLEK]
    assert phones("/inbox?state=all&q=refund") == [BOLEK]
    assert phones("/inbox?state=pending") == [ANNA]
    [row] = rows_of(client.get("/inbox?state=pending").text)
    assert "You: It left today" in row and "Ola Agent" in row

    page = client.get("/inbox?assignee=me")
    assert '<option value="me" selected>Me</option>' in page.text
    assert f'<option value="{PIOTR}">Piotr</option>' in page.text  # members who answer


def test_a_wrong_filter_is_shown_beside_its_field_with_what_was_typed(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    texting(ANNA, "Hi", now)
    client = client_for(settings, engine, workspace, Clock(now))
    page = client.get("/inbox?number=%2B48999000111&q=parcel")
    assert page.status_code == 422
    assert 'id="number-error"' in page.text and "This workspace has no such number." in page.text
    assert 'value="parcel"' in page.text and rows_of(page.text) == []
    assert "data-stream" not in page.text
    wrong = client.get("/inbox?state=closed&assignee=stranger@elsewhere.test")
    assert wrong.status_code == 422
    assert 'id="state-error"' in wrong.text and 'id="assignee-error"' in wrong.text
    assert client.get("/inbox/stream?state=closed").status_code == 422


def test_long_lists_page_by_activity(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    for i in range(53):
        texting(f"+486001{i:05d}", f"text {i}", now + timedelta(seconds=i))
    client = client_for(settings, engine, workspace, Clock(now + timedelta(hours=1)))
    first = client.get("/inbox")
    assert len(rows_of(first.text)) == 50
    assert rows_of(first.text)[0].startswith("+48600100052 text 52")
    later = re.search(r'<a href="([^"]+)" rel="next">Older tickets</a>', first.text)
    assert later
    second = client.get(later.group(1).replace("&amp;", "&"))
    assert [row.split()[0] for row in rows_of(second.text)] == [
        "+48600100002", "+48600100001", "+48600100000",
    ]  # fmt: skip
    assert 'rel="next"' not in second.text and "Most recent tickets" in second.text


def test_every_member_reads_the_inbox_and_a_stranger_signs_in_first(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    client = client_for(settings, engine, workspace, Clock(now), role="viewer")
    assert client.get("/inbox").status_code == 200
    assert 'data-testid="no-tickets"' in client.get("/inbox").text
    stranger = TestClient(build_site(settings, engine, Clock(now)))
    answer = stranger.get("/inbox", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert stranger.get("/inbox/stream", follow_redirects=False).status_code == 303


def test_the_inbox_in_polish(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    texting(ANNA, "Gdzie paczka?", now)
    client = client_for(settings, engine, workspace, Clock(now + timedelta(minutes=5)))
    page = client.get("/inbox", headers={"Accept-Language": "pl"})
    assert title_of(page.text) == "(1) Skrzynka · smscast"
    assert rows_of(page.text) == [f"{ANNA} Gdzie paczka? 4000 otwarte nikt 5 min temu"]
    for words in (
        "1 zgłoszenie czeka na odpowiedź",
        "Włącz powiadomienia",
        "Osoba przypisana",
        "Otwarte zgłoszenia",
        "Ostatnia aktywność",
        "Filtruj zgłoszenia",
    ):
        assert words in page.text, words
    csrf_of(page.text)


def test_the_stream_sends_the_rows_for_the_pages_filters(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    texting(ANNA, "Where is my parcel?", now)
    texting(BOLEK, "Refund please", now + timedelta(minutes=1))
    client = client_for(settings, engine, workspace, Clock(now + timedelta(minutes=2)))
    answer = client.get("/inbox/stream?q=refund")
    assert answer.headers["content-type"].startswith("text/event-stream")
    [(name, data)] = events_of(answer.text)
    assert name == "rows"
    assert rows_of(data["rows"]) == [f"{BOLEK} Refund please 4000 open nobody 1 min. ago"]
    assert (data["title"], data["open"]) == ("(2) Inbox", 2)
    assert data["count"] == "2 tickets wait for an answer"


async def next_event(stream: AsyncIterator[str]) -> tuple[str, Any]:
    async for chunk in stream:
        if chunk.startswith("event: "):
            return events_of(chunk)[0]
    raise AssertionError("the stream ended without another event")


async def test_a_new_text_reaches_every_open_inbox_through_one_shared_poll(
    engine: Engine, workspace: WorkspaceRef, now: datetime, texting: Texting
) -> None:
    watches = InboxWatches()
    renders: list[int] = []

    def payload(version: Any) -> dict[str, Any]:
        renders.append(version.open)
        return {"open": version.open}

    async def present() -> bool:
        return False

    def stream() -> AsyncIterator[str]:
        watching = watches.watching(engine, workspace.id, lambda: now, FAST.interval)
        return watch_events(watching, "same filters", payload, lambda: True, present, FAST)

    tabs = [stream() for _ in range(20)]
    assert [await next_event(tab) for tab in tabs] == [("rows", {"open": 0})] * 20
    assert len(watches.watches) == 1 and renders == [0]  # one loop, one render for all
    assert engine.pool.checkedout() == 0  # waiting holds no connection

    texting(ANNA, "Hello?", now)
    assert [await next_event(tab) for tab in tabs] == [("rows", {"open": 1})] * 20
    assert renders == [0, 1]  # the change read and rendered once for the 20 tabs
    assert len(watches.watches) == 1 and watches.watches[workspace.id].listeners == 20

    for tab in tabs:
        await tab.aclose()  # type: ignore[attr-defined]
    assert watches.watches == {}  # the last tab closed: the loop stopped


async def test_the_stream_ends_when_the_session_ends_or_the_browser_leaves(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    watches = InboxWatches()
    left = {"yes": False}
    alive = {"yes": True}

    async def gone() -> bool:
        return left["yes"]

    timing = StreamTiming(interval=0.01, recheck_every=1, lifetime=5000, keepalive_every=1000)
    watching = watches.watching(engine, workspace.id, lambda: now, 0.01)
    stream = watch_events(watching, "k", lambda v: {"open": v.open}, lambda: alive["yes"], gone,
                          timing)  # fmt: skip
    assert (await next_event(stream))[0] == "rows"
    alive["yes"] = False
    assert (await next_event(stream))[0] == "signed-out"
    assert [chunk async for chunk in stream] == []
    assert watches.watches == {}

    other = watch_events(watches.watching(engine, workspace.id, lambda: now, 0.01), "k",
                         lambda v: {"open": v.open}, lambda: True, gone, timing)  # fmt: skip
    assert (await next_event(other))[0] == "rows"
    left["yes"] = True
    assert [chunk async for chunk in other] == []
    assert watches.watches == {}
