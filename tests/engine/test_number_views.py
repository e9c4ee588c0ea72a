"""What the portal's number pages read: each number with its rules and campaigns, the
texts it received with what the router decided and the answers they got, and the
number's response figures — read through indexes, never by scanning the messages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, insert, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.number_views import (
    number_details,
    number_overview,
    recent_inbound,
)
from smscast.engine.inbound.numbers import NumberRef, add_number, set_auto_reply
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.response_analysis import response_analysis
from smscast.engine.inbound.response_report import number_report
from smscast.engine.inbound.tickets import solve_ticket
from smscast.engine.sending.connectors import add_connector
from smscast.store.inbound_models import Ticket
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

PHONE = "+48600100200"
OTHER = "+48600100300"


def connector(engine: Engine, workspace: WorkspaceRef, now: datetime, name: str = "sim") -> int:
    row = add_connector(engine, workspace, name=name, kind="smpp", actor="t", now=now,
                        settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
                        rate_per_s=0.0, window=10)  # fmt: skip
    return int(row.id)


def campaign(engine: Engine, workspace: WorkspaceRef, name: str, number_id: int | None,
             now: datetime) -> int:  # fmt: skip
    table = table_of(Campaign)
    with engine.begin() as conn:
        return int(conn.execute(insert(table).values(
            workspace_id=workspace.id, name=name, status="completed", purpose="promotional",
            segment_expression="", number_id=number_id, schedule={}, options={}, excluded={},
            created_by="t", created_at=now,
        ).returning(table.c.id)).scalar_one())  # fmt: skip


@pytest.fixture
def setup(engine: Engine, workspace: WorkspaceRef, now: datetime) -> tuple[int, NumberRef]:
    connector_id = connector(engine, workspace, now)
    return connector_id, add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)


def text(engine: Engine, settings: Settings, connector_id: int, sender: str, to: str, body: str,
         at: datetime) -> Any:  # fmt: skip
    return handle_inbound(engine, settings, connector_id, InboundMessage(sender, to, body, at))


def test_the_overview_gives_each_number_its_rules_campaigns_and_automatic_reply(
    engine: Engine, workspace: WorkspaceRef, now: datetime, setup: tuple[int, NumberRef]
) -> None:
    _, short = setup
    long = add_number(engine, workspace, "+48500100200", connector="sim", actor="t", now=now)
    campaign(engine, workspace, "Autumn sale", long.id, now)
    answered = campaign(engine, workspace, "Pizza week", None, now)
    add_keyword_rule(engine, workspace, "7391", "pizza", [{"type": "reply", "text": "Yum"}],
                     aliases=["pizze"], campaign_id=answered, actor="t", now=now)  # fmt: skip
    set_auto_reply(engine, workspace, "7391", "Thanks, we read every text.", actor="t", now=now)
    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    connector(engine, elsewhere, now, name="theirs")
    add_number(engine, elsewhere, "7392", connector="theirs", actor="t", now=now)

    shown = {n["number"]: n for n in number_overview(engine, workspace)}

    assert set(shown) == {"7391", "+48500100200"}
    code = shown["7391"]
    assert (code["kind"], code["country"], code["connector"]) == ("short", "PL", "sim")
    assert code["auto_reply"] == "Thanks, we read every text."
    # The default rule holding the reply is the automatic reply, not a keyword rule.
    assert [(r["keyword"], r["aliases"]) for r in code["rules"]] == [("pizza", ["pizze"])]
    assert [(c["name"], c["sent_from"], c["keywords"]) for c in code["campaigns"]] == [
        ("Pizza week", False, ["pizza"])
    ]
    assert [(c["name"], c["sent_from"]) for c in shown["+48500100200"]["campaigns"]] == [
        ("Autumn sale", True)
    ]
    assert shown["+48500100200"]["rules"] == [] and shown["+48500100200"]["auto_reply"] is None
    assert number_details(engine, workspace, short.id) == code


def test_a_number_of_another_workspace_is_as_unknown_as_none(
    engine: Engine, workspace: WorkspaceRef, now: datetime, setup: tuple[int, NumberRef]
) -> None:
    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    for missing in (setup[1].id + 100, setup[1].id):
        with pytest.raises(UserError) as refused:
            number_details(engine, elsewhere, missing)
        assert refused.value.problem.code == "unknown_number"
        with pytest.raises(UserError):
            recent_inbound(engine, elsewhere, missing)


def test_recent_texts_are_newest_first_with_their_route_ticket_and_answers(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    setup: tuple[int, NumberRef],
) -> None:  # fmt: skip
    connector_id, short = setup
    add_keyword_rule(engine, workspace, "7391", "pizza",
                     [{"type": "reply", "text": "Pizza {{ rest }} on its way"}],
                     actor="t", now=now)  # fmt: skip
    ticketed = text(engine, settings, connector_id, PHONE, "7391", "Where is my order?", now)
    text(engine, settings, connector_id, OTHER, "7391", "pizza margherita",
         now + timedelta(minutes=1))  # fmt: skip
    set_auto_reply(engine, workspace, "7391", "Hi {{ phone }}, thanks!", actor="t", now=now)
    text(engine, settings, connector_id, OTHER, "7391", "hello there", now + timedelta(minutes=2))

    rows = recent_inbound(engine, workspace, short.id)

    assert [r["text"] for r in rows] == ["hello there", "pizza margherita", "Where is my order?"]
    default, keyword, ticket = rows
    assert (default["route"], default["phone"], default["replies"]) == ("default", OTHER, 1)
    assert [(a["body"], a["status"]) for a in default["answers"]] == [
        (f"Hi {OTHER}, thanks!", "queued")
    ]
    assert (keyword["route"], keyword["keyword"]) == ("keyword", "pizza")
    assert [a["body"] for a in keyword["answers"]] == ["Pizza margherita on its way"]
    assert ticket["route"] == "ticket" and ticket["ticket_id"] == ticketed.ticket_id
    assert ticket["answers"] == [] and ticket["contact_id"] == ticketed.contact_id
    assert [r["text"] for r in recent_inbound(engine, workspace, short.id, limit=1)] == [
        "hello there"
    ]


def test_texts_of_one_moment_each_get_their_own_answers_even_past_the_limit(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    setup: tuple[int, NumberRef],
) -> None:  # fmt: skip
    connector_id, short = setup
    add_keyword_rule(engine, workspace, "7391", "pizza", [{"type": "reply", "text": "Yum"}],
                     actor="t", now=now)  # fmt: skip
    text(engine, settings, connector_id, PHONE, "7391", "pizza", now)
    text(engine, settings, connector_id, PHONE, "7391", "Where is my order?", now)
    text(engine, settings, connector_id, PHONE, "7391", "STOP", now)

    rows = recent_inbound(engine, workspace, short.id)

    assert [(r["text"], [a["body"] for a in r["answers"]]) for r in rows] == [
        ("STOP", [rows[0]["answers"][0]["body"]]),
        ("Where is my order?", []),
        ("pizza", ["Yum"]),
    ]
    assert "START" in rows[0]["answers"][0]["body"]  # the opt-out's confirmation
    [newest] = recent_inbound(engine, workspace, short.id, limit=1)
    assert newest["answers"] == rows[0]["answers"]


def test_recent_texts_are_only_the_numbers_own(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    setup: tuple[int, NumberRef],
) -> None:  # fmt: skip
    connector_id, short = setup
    long = add_number(engine, workspace, "+48500100200", connector="sim", actor="t", now=now)
    text(engine, settings, connector_id, PHONE, "7391", "to the short code", now)
    text(engine, settings, connector_id, PHONE, "48500100200", "to the long number", now)

    assert [r["text"] for r in recent_inbound(engine, workspace, short.id)] == ["to the short code"]
    assert [r["text"] for r in recent_inbound(engine, workspace, long.id)] == ["to the long number"]


def test_the_responses_are_the_reports_with_the_opt_out_rate_and_time_to_solve(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    setup: tuple[int, NumberRef],
) -> None:  # fmt: skip
    connector_id, short = setup
    first = text(engine, settings, connector_id, PHONE, "7391", "My parcel?", now)
    text(engine, settings, connector_id, OTHER, "7391", "STOP", now)
    solve_ticket(engine, workspace, first.ticket_id, actor="t", now=now + timedelta(minutes=30))
    with engine.begin() as conn:  # solved half an hour after it was opened
        tickets = table_of(Ticket)
        conn.execute(update(tickets).where(tickets.c.id == first.ticket_id)
                     .values(created_at=now, solved_at=now + timedelta(minutes=30)))  # fmt: skip

    figures = number_report(engine, workspace, short.id)  # the API's report too
    assert (figures["inbound"], figures["unique_senders"], figures["opt_outs"]) == (2, 2, 1)
    assert figures["opt_out_rate"] == 0.5
    assert figures["median_solve_s"] == 1800.0
    # The same definitions as the response analysis' (/analytics/responses) over all time.
    total = response_analysis(engine, workspace, short.id, None, now + timedelta(days=1),
                              ZoneInfo("Europe/Warsaw"))["total"]  # fmt: skip
    assert {k: total[k] for k in figures if k in total} == {
        k: figures[k] for k in figures if k in total
    }


def test_figures_of_a_quiet_number_have_no_rates(
    engine: Engine, workspace: WorkspaceRef, setup: tuple[int, NumberRef]
) -> None:
    figures = number_report(engine, workspace, setup[1].id)
    assert figures["inbound"] == 0
    assert figures["opt_out_rate"] is figures["median_solve_s"] is None


@pytest.mark.sqlite_only
def test_recent_texts_are_found_by_index_without_scanning_the_messages(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    setup: tuple[int, NumberRef],
) -> None:  # fmt: skip
    connector_id, short = setup
    set_auto_reply(engine, workspace, "7391", "Thanks!", actor="t", now=now)
    text(engine, settings, connector_id, PHONE, "7391", "hello", now)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM inbound_routes" in statement or "FROM messages" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert recent_inbound(engine, workspace, short.id)[0]["answers"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(seen) == 3
    with engine.connect() as conn:
        plans = [
            " | ".join(row[-1] for row in
                       conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all())
            for sql, params in seen
        ]  # fmt: skip
    texts, moments, answers = plans
    assert "ix_inbound_routes_number" in texts and "TEMP B-TREE" not in texts, texts
    assert "ix_inbound_routes_number" in moments, moments
    assert "ix_messages_contact" in answers, answers
    assert not any("SCAN messages" in plan for plan in plans), plans
