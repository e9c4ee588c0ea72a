"""One ticket through the real site on a real database: the conversation both ways with
each reply's delivery state as the dispatcher and the carrier move it, notes, the
contact's card, saved replies filled in for the contact, assignment, solve and reopen,
the opt-out, the live stream with "someone is replying", and who may do what."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from dashboard_data import Traffic, dispatch, make_traffic, report
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine
from test_portal_dashboard_stream import events_of

from smscast.channels.base import InboundMessage, ReportState
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.edits import ContactFields, update_contact
from smscast.engine.inbound.presence import mark_replying, ticket_pulse
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.saved_replies import list_saved_replies, save_saved_reply
from smscast.engine.inbound.tickets import show_ticket
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import claim_due, settle_unsendable
from smscast.engine.tally import Tally
from smscast.web.routes.dashboard_stream import StreamTiming

AGENT = "ola@shop.test"
OTHER_AGENT = "jan@shop.test"
VIEWER = "vic@shop.test"
MARKETER = "mark@shop.test"
PHONE = "+48600100200"  # received the "Sale" campaign


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now + timedelta(hours=1))


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    app = build_site(settings, engine, clock)
    app.state.ticket_stream = StreamTiming(interval=0.0, lifetime=1)
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def traffic(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Traffic:
    return make_traffic(engine, settings, workspace, now)


@pytest.fixture
def ticket(engine: Engine, settings: Settings, workspace: WorkspaceRef, traffic: Traffic,
           now: datetime) -> int:  # fmt: skip
    """The Sale's first recipient asks about their parcel: a ticket on +48500100100."""
    text = InboundMessage(PHONE, "+48500100100", "Where is my parcel?", now + timedelta(minutes=30))
    result = handle_inbound(engine, settings, traffic.red, text)
    assert result.route == "ticket" and result.ticket_id is not None, result
    return result.ticket_id


@pytest.fixture
def people(engine: Engine, workspace: WorkspaceRef, now: datetime) -> dict[str, int]:
    return {
        "ola": make_user(engine, [workspace], AGENT, role="agent", name="Ola", now=now),
        "jan": make_user(engine, [workspace], OTHER_AGENT, role="agent", name="Jan", now=now),
        "vic": make_user(engine, [workspace], VIEWER, role="viewer", now=now),
        "mark": make_user(engine, [workspace], MARKETER, role="marketer", now=now),
    }


def post(client: TestClient, path: str, page: str, **data: Any) -> httpx.Response:
    """A form post as the browser sends it after loading `page`."""
    token = csrf_of(client.get(page).text)
    answer: httpx.Response = client.post(path, data={**data, "csrf_token": token},
                                         follow_redirects=False)  # fmt: skip
    return answer


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def thread_of(html: str) -> list[str]:
    """Each item of the conversation as its text."""
    thread = html.split('data-testid="thread"')[1].split("</ol>")[0]
    return [text_of(item) for item in re.findall(r"<li[^>]*>(.*?)</li>", thread, re.S)]


def test_an_agent_reads_the_conversation_and_the_contacts_card(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int], now: datetime,
) -> None:  # fmt: skip
    contact = show_ticket(engine, workspace, ticket)
    sign_in(site, AGENT)

    page = site.get(f"/inbox/{ticket}")

    assert page.status_code == 200
    [first] = thread_of(page.text)
    assert PHONE in first and "Where is my parcel?" in first
    card = text_of(page.text.split('data-testid="contact-card"')[1].split("</section>")[0])
    assert PHONE in card and "Sale" in card and "opted in" in card
    assert "Open the contact" in card and "/contacts/" in page.text
    assert 'name="reply" rows="4"' in page.text and 'id="reply"' in page.text
    assert 'data-testid="parts-count"' in page.text and 'data-testid="encoding"' in page.text
    assert contact["state"] == "open" and 'data-testid="ticket-state">open<' in page.text
    assert site.get("/inbox/999999").status_code == 404


def test_a_reply_shows_queued_then_sent_then_delivered(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int, traffic: Traffic,
    people: dict[str, int], clock: Clock,
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    before = ticket_pulse(engine, workspace, ticket, now=clock.now).version

    answer = post(site, f"/inbox/{ticket}/reply", f"/inbox/{ticket}",
                  reply="It left today, ż tracking link by text.")  # fmt: skip

    assert answer.status_code == 303
    page = site.get(answer.headers["location"])
    assert "Your reply is queued" in page.text
    reply = thread_of(page.text)[-1]
    assert "It left today" in reply and "agent's reply" in reply and "queued" in reply
    assert 'data-testid="ticket-state">pending<' in page.text
    sent = dispatch(engine, traffic.red, clock.now)
    assert "sent" in thread_of(site.get(f"/inbox/{ticket}/live").text)[-1]
    report(engine, traffic.red, sent, {PHONE: ReportState.DELIVERED}, clock.now)
    live = site.get(f"/inbox/{ticket}/live").text
    assert 'data-status="delivered"' in thread_of(live)[-1] or "delivered" in thread_of(live)[-1]
    after = ticket_pulse(engine, workspace, ticket, now=clock.now).version
    assert after != before and f'data-version="{after}"' in live


def test_an_undelivered_reply_says_why(
    site: TestClient, engine: Engine, ticket: int, traffic: Traffic, people: dict[str, int],
    clock: Clock,
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    post(site, f"/inbox/{ticket}/reply", f"/inbox/{ticket}", reply="Sorry!")
    sent = dispatch(engine, traffic.red, clock.now)
    report(engine, traffic.red, sent, {PHONE: ReportState.UNDELIVERED}, clock.now)

    last = thread_of(site.get(f"/inbox/{ticket}").text)[-1]

    assert "undelivered" in last and "Not delivered" in last


def test_a_reply_to_someone_who_opted_out_is_said_not_to_leave(
    site: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef, ticket: int,
    traffic: Traffic, people: dict[str, int], clock: Clock,
) -> None:  # fmt: skip
    stop = ConsentChange(
        "sms", "all", Action.OPT_OUT, Source.KEYWORD, "STOP", "sms:4000", clock.now
    )
    record_consent(engine, settings, workspace, PHONE, stop)
    sign_in(site, AGENT)
    page = site.get(f"/inbox/{ticket}").text
    assert 'data-testid="reply-blocked"' in page and "opted out" in text_of(page)

    post(site, f"/inbox/{ticket}/reply", f"/inbox/{ticket}", reply="Are you there?")
    last_look(engine, traffic.red, clock.now)

    last = thread_of(site.get(f"/inbox/{ticket}").text)[-1]
    assert "cancelled" in last and "Not sent: they have opted out of these texts." in last


def last_look(engine: Engine, connector_id: int, now: datetime) -> None:
    """The dispatcher's claim and its last look before sending (consent, quiet hours)."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        claimed = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=10,
                            validity=timedelta(hours=48))  # fmt: skip
        _send, held = check_before_sending(conn, claimed, now)
        assert held, "the last look let it go"
        tally = Tally()
        settle_unsendable(conn, held, now, tally)
        tally.write(conn)


def test_an_empty_or_too_long_reply_is_refused_beside_the_box_keeping_the_text(
    site: TestClient, ticket: int, people: dict[str, int]
) -> None:
    sign_in(site, AGENT)
    empty = post(site, f"/inbox/{ticket}/reply", f"/inbox/{ticket}", reply="   ")
    assert empty.status_code == 422
    assert 'id="reply-error"' in empty.text and "Write a reply first." in empty.text
    long = "x" * 1601
    too_long = post(site, f"/inbox/{ticket}/reply", f"/inbox/{ticket}", reply=long)
    assert too_long.status_code == 422 and "at most 1600 characters" in too_long.text
    assert f">{long}</textarea>" in too_long.text


def test_notes_assignment_solve_and_reopen_show_in_the_thread(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int],
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    here = f"/inbox/{ticket}"
    assert post(site, f"{here}/note", here, body="VIP: ship a new one").status_code == 303
    assert post(site, f"{here}/assign", here, assignee="me").status_code == 303
    page = site.get(here).text
    assert "Internal note" in thread_of(page)[-1] and "VIP: ship a new one" in thread_of(page)[-1]
    assert f'data-testid="ticket-assignee" translate="no">{AGENT}<' in page

    post(site, f"{here}/assign", here, assignee=OTHER_AGENT)
    assert show_ticket(engine, workspace, ticket)["assignee"] == OTHER_AGENT
    refused = post(site, f"{here}/assign", here, assignee=MARKETER)
    assert refused.status_code == 422 and "may not answer tickets" in refused.text
    post(site, f"{here}/assign", here, assignee="")
    assert show_ticket(engine, workspace, ticket)["assignee"] is None

    assert post(site, f"{here}/solve", here).status_code == 303
    solved = site.get(here).text
    assert 'data-testid="ticket-state">solved<' in solved and ">Reopen<" in solved
    assert post(site, f"{here}/reopen", here).status_code == 303
    reopened = site.get(here).text
    assert 'data-testid="ticket-state">open<' in reopened
    assert f"{AGENT} · " in thread_of(reopened)[-1]  # who, without "user:"
    assert f"Reopened by {AGENT}" in thread_of(reopened)[-1]
    again = post(site, f"{here}/reopen", here)
    assert again.status_code == 422 and "nothing to reopen" in again.text


def test_the_agent_opts_the_contact_out_with_a_reason(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int],
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    here = f"/inbox/{ticket}"
    missing = post(site, f"{here}/opt-out", here, purpose="all", reason=" ")
    assert missing.status_code == 422 and 'id="reason-error"' in missing.text

    done = post(site, f"{here}/opt-out", here, purpose="promotional",
                reason="asked to stop offers in this chat")  # fmt: skip

    assert done.status_code == 303
    history = consent_history(engine, workspace, PHONE)
    last = history["events"][-1]
    assert (last["action"], last["purpose"], last["actor"]) == ("opt_out", "promotional",
                                                                f"user:{AGENT}")  # fmt: skip
    assert last["evidence"] == f"ticket #{ticket}: asked to stop offers in this chat"
    assert "The opt-out was recorded." in site.get(done.headers["location"]).text


def test_a_saved_reply_fills_the_box_for_this_contact(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int], clock: Clock,
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    here = f"/inbox/{ticket}"
    hello = save_saved_reply(engine, workspace, reply_id=None, title="Parcel",
                             body="Hi {{ first_name }}, your parcel ships today.", actor="t",
                             now=clock.now)  # fmt: skip
    token = csrf_of(site.get(here).text)

    refused = site.post(f"{here}/fill", data={"saved_reply": hello, "reply": "my draft",
                                              "csrf_token": token})  # fmt: skip
    assert refused.status_code == 422
    assert "needs first_name, which this contact does not have" in unescape(refused.text)
    assert ">my draft</textarea>" in refused.text

    page = site.get(here).text
    card_link = re.search(r'href="/contacts/(\d+)"', page)
    assert card_link is not None
    update_contact(engine, workspace, int(card_link.group(1)),
                   ContactFields(attributes={"first_name": "Ala"}), now=clock.now)  # fmt: skip
    filled = site.post(f"{here}/fill", data={"saved_reply": hello, "reply": "",
                                             "csrf_token": token},
                       headers={"HX-Request": "true"})  # fmt: skip
    assert filled.status_code == 200
    assert filled.text.lstrip().startswith('<section id="reply-box"')
    assert ">Hi Ala, your parcel ships today.</textarea>" in filled.text
    assert 'data-testid="parts-count">1<' in filled.text


def test_saved_replies_are_added_edited_and_deleted(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, people: dict[str, int]
) -> None:
    sign_in(site, AGENT)
    page = "/inbox/saved-replies"
    assert "No saved reply yet." in site.get(page).text

    added = post(site, page, page, title="Parcel late", body="Hi {{ first_name }}, sorry!")
    assert added.status_code == 303
    [saved] = list_saved_replies(engine, workspace)
    listed = site.get(added.headers["location"]).text
    assert "The saved reply was saved." in listed and "Parcel late" in listed
    taken = post(site, page, page, title="parcel LATE", body="Other")
    assert taken.status_code == 422 and "Another saved reply has this title" in taken.text
    assert 'value="parcel LATE"' in taken.text
    broken = post(site, page, page, title="Broken", body="Hi {{ first_name ")
    assert broken.status_code == 422 and 'id="body-error"' in broken.text

    edit = site.get(f"{page}/{saved['id']}/edit").text
    assert "Change the saved reply" in edit and 'value="Parcel late"' in edit
    changed = post(site, f"{page}/{saved['id']}", page, title="Parcel delayed", body="Sorry!")
    assert changed.status_code == 303
    assert [r["title"] for r in list_saved_replies(engine, workspace)] == ["Parcel delayed"]

    assert post(site, f"{page}/{saved['id']}/delete", page).status_code == 303
    assert list_saved_replies(engine, workspace) == []
    assert site.get(f"{page}/{saved['id']}/edit").status_code == 404


def test_the_stream_says_the_version_and_who_else_is_replying(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int], clock: Clock,
) -> None:  # fmt: skip
    sign_in(site, AGENT)
    here = f"/inbox/{ticket}"
    assert post(site, f"{here}/typing", here).status_code == 204  # Ola types herself
    mark_replying(engine, workspace, ticket, people["jan"], now=clock.now)

    answer = site.get(f"{here}/stream")

    assert answer.headers["content-type"].startswith("text/event-stream")
    [(name, data)] = events_of(answer.text)
    assert name == "ticket"
    assert data["version"] == ticket_pulse(engine, workspace, ticket, now=clock.now).version
    assert data["replying"] == "Jan is replying…"  # not herself
    clock.now += timedelta(seconds=11)  # Jan stopped typing: the mark lapsed
    [(_, later)] = events_of(site.get(f"{here}/stream").text)
    assert later["replying"] == ""
    assert site.get("/inbox/999999/stream").status_code == 404


def test_a_viewer_reads_but_cannot_write_and_the_server_refuses(
    site: TestClient, ticket: int, people: dict[str, int]
) -> None:
    sign_in(site, VIEWER)
    here = f"/inbox/{ticket}"
    page = site.get(here)
    assert page.status_code == 200 and "Where is my parcel?" in page.text
    assert 'name="reply"' not in page.text and "/assign" not in page.text
    assert "/opt-out" not in page.text
    token = csrf_of(page.text)
    for path in ("reply", "note", "assign", "solve", "typing", "opt-out", "fill"):
        refused = site.post(f"{here}/{path}", data={"csrf_token": token, "reply": "hi"},
                            follow_redirects=False)  # fmt: skip
        assert refused.status_code == 403, path
    assert site.get("/inbox/saved-replies").status_code == 403


def test_a_signed_out_visitor_is_sent_to_sign_in(site: TestClient, ticket: int) -> None:
    answer = site.get(f"/inbox/{ticket}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_the_page_speaks_polish(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, ticket: int,
    people: dict[str, int], clock: Clock,
) -> None:  # fmt: skip
    save_saved_reply(engine, workspace, reply_id=None, title="Paczka", body="Cześć!", actor="t",
                     now=clock.now)  # fmt: skip
    sign_in(site, AGENT)
    polish = {"Accept-Language": "pl"}
    here = f"/inbox/{ticket}"
    post(site, f"{here}/note", here, body="Klient VIP")
    page = text_of(site.get(here, headers=polish).text)
    for words in ("Rozmowa", "Notatka wewnętrzna", "Wyślij odpowiedź", "Gotowa odpowiedź",
                  "Wstaw tę odpowiedź", "Otrzymane kampanie", "Przypisz do", "Rozwiąż",
                  "Wypisz z wiadomości"):  # fmt: skip
        assert words in page, words
    for english in ("Conversation", "Internal note", "Send the reply", "Saved reply",
                    "Campaigns received", "Assign to"):  # fmt: skip
        assert english not in page, english
    saved = text_of(site.get("/inbox/saved-replies", headers=polish).text)
    assert "Gotowe odpowiedzi" in saved and "Dodaj gotową odpowiedź" in saved
