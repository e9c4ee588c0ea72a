"""Response analysis by day: over all time its totals are the response report's (the
API's `GET /numbers/{id}/report`), and a day is the workspace's local day.

The story (Warsaw, two days before the tests' frozen moment, 10:00 UTC): a campaign
texts A, B and C from the number; A answers PIZZA twice (a keyword linked to the
campaign), B texts STOP, C asks where the order is (a ticket, answered after 300 s and
solved after an hour); the next day D says hello at 23:30 UTC — already the day after in
Warsaw — and gets a ticket nobody answers. Another number gets one text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, insert

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.response_analysis import analysis_rows, response_analysis
from smscast.engine.inbound.response_report import (
    campaign_response,
    keyword_rule_report,
    number_report,
)
from smscast.engine.inbound.tickets import reply_to_ticket, solve_ticket
from smscast.store.messaging_models import Campaign, Connector, Message
from smscast.store.models import Contact, table_of

NUMBER, OTHER_NUMBER = "+48500100200", "+48500100300"
A, B, C, D = "+48600100201", "+48600100202", "+48600100203", "+48600100204"
WARSAW = ZoneInfo("Europe/Warsaw")
MINUTE = timedelta(minutes=1)
REPORTED = (
    "inbound", "responses", "unique_senders", "opt_outs", "campaign_recipients",
    "campaign_responders", "response_rate", "tickets_opened", "tickets_answered",
    "median_first_answer_s",
)  # fmt: skip


def seed(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> dict[str, Any]:
    """The story above; returns the ids and moments a test needs."""
    tables = {name: table_of(model) for name, model in
              (("connectors", Connector), ("campaigns", Campaign), ("messages", Message),
               ("contacts", Contact))}  # fmt: skip
    with engine.begin() as conn:
        connector_id = int(conn.execute(insert(tables["connectors"]).values(
            workspace_id=workspace.id, name="sim", kind="smpp", settings={}, rate_per_s=100.0,
            window=10, enabled=True, created_at=now,
        ).returning(tables["connectors"].c.id)).scalar_one())  # fmt: skip
    number = add_number(engine, workspace, NUMBER, connector="sim", actor="t", now=now)
    other = add_number(engine, workspace, OTHER_NUMBER, connector="sim", actor="t", now=now)
    people: dict[str, int] = {}
    t0 = now - timedelta(days=2)
    with engine.begin() as conn:
        for phone in (A, B, C, D):
            people[phone] = int(conn.execute(insert(tables["contacts"]).values(
                workspace_id=workspace.id, phone=phone, country="PL", attributes={},
                language="en", timezone="Europe/Warsaw", tags=[], created_at=now,
                updated_at=now,
            ).returning(tables["contacts"].c.id)).scalar_one())  # fmt: skip
        campaign = int(conn.execute(insert(tables["campaigns"]).values(
            workspace_id=workspace.id, name="Pizza week", status="running",
            purpose="promotional", segment_expression="", number_id=number.id, schedule={},
            options={}, excluded={}, created_by="t", created_at=t0,
        ).returning(tables["campaigns"].c.id)).scalar_one())  # fmt: skip
        for phone in (A, B, C):
            conn.execute(insert(tables["messages"]).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=people[phone], phone=phone,
                number_id=number.id, campaign_id=campaign, run=0, body="Pizza -20%! Reply PIZZA",
                encoding="GSM-7", parts=1, parts_done=1, cost=0, status="delivered",
                attempts=1, created_at=t0, sent_at=t0,
            ))  # fmt: skip
    rule = add_keyword_rule(engine, workspace, NUMBER, "PIZZA",
                            [{"type": "reply", "text": "Enjoy!"}], campaign_id=campaign,
                            actor="t", now=t0)  # fmt: skip

    def text(phone: str, body: str, at: datetime, to: str = NUMBER) -> Any:
        return handle_inbound(engine, settings, connector_id, InboundMessage(phone, to, body, at))

    text(A, "pizza", t0 + 10 * MINUTE)
    text(A, "pizza large", t0 + 20 * MINUTE)
    text(B, "STOP", t0 + 30 * MINUTE)
    opened_c = t0 + 40 * MINUTE
    ticket_c = text(C, "where is my order", opened_c).ticket_id
    reply_to_ticket(engine, workspace, ticket_c, "On its way", actor="t",
                    now=opened_c + timedelta(seconds=300))  # fmt: skip
    reply_to_ticket(engine, workspace, ticket_c, "Delivered?", actor="t",
                    now=opened_c + timedelta(seconds=900))  # fmt: skip
    solve_ticket(engine, workspace, ticket_c, actor="t", now=opened_c + timedelta(hours=1))
    late = (t0 + timedelta(days=1)).replace(hour=23, minute=30)  # 00:30 the next day in Warsaw
    text(D, "hello", late)
    text(A, "hi there", t0 + timedelta(hours=2), to=OTHER_NUMBER)
    return {"number": number.id, "other": other.id, "campaign": campaign,
            "rule": rule["id"], "t0": t0, "late": late}  # fmt: skip


@pytest.fixture
def story(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> dict[str, Any]:
    return seed(engine, settings, workspace, now)


def test_all_time_totals_are_the_reports(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    found = response_analysis(engine, workspace, story["number"], None, now, WARSAW)
    report = number_report(engine, workspace, story["number"])
    assert {k: found["total"][k] for k in REPORTED} == {k: report[k] for k in REPORTED}
    assert found["total"]["inbound"] == 5 and found["total"]["response_rate"] == 0.6667
    [numbers] = found["numbers"]
    assert {k: numbers[k] for k in REPORTED} == {k: report[k] for k in REPORTED}

    [pizza] = found["keywords"]
    rule = keyword_rule_report(engine, workspace, story["rule"])
    keyword_figures = ("responses", "unique_senders", "opt_outs", "tickets_opened",
                       "median_first_answer_s")  # fmt: skip
    assert {k: pizza[k] for k in keyword_figures} == {k: rule[k] for k in keyword_figures}
    assert pizza["keyword"] == "pizza" and pizza["responses"] == 2

    [campaign] = found["campaigns"]
    with engine.connect() as conn:
        expected = campaign_response(conn, story["campaign"])
    assert {k: campaign[k] for k in expected} == expected
    assert campaign["median_first_reply_s"] == 1800.0  # A 600 s, B 1800 s, C 2400 s


def test_figures_by_local_day(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    found = response_analysis(engine, workspace, story["number"], None, now, WARSAW)
    first = story["t0"].astimezone(WARSAW).date()
    assert found["days"] == [first + timedelta(days=i) for i in range(3)]
    by_day = {day["day"]: day for day in found["total"]["by_day"]}
    assert by_day[first]["inbound"] == 4 and by_day[first]["unique_senders"] == 3
    assert by_day[first]["opt_outs"] == 1 and by_day[first]["opt_out_rate"] == 0.3333
    assert by_day[first]["campaign_recipients"] == 3
    assert by_day[first]["campaign_responders"] == 2 and by_day[first]["response_rate"] == 0.6667
    assert by_day[first]["tickets_opened"] == 1
    assert by_day[first]["median_first_answer_s"] == 300.0
    assert by_day[first]["median_solve_s"] == 3600.0
    # D's 23:30 UTC text is on the third day in Warsaw; nothing on the second.
    assert by_day[first + timedelta(days=1)]["inbound"] == 0
    assert by_day[first + timedelta(days=1)]["response_rate"] is None
    late_day = story["late"].astimezone(WARSAW).date()
    assert late_day == first + timedelta(days=2)
    assert by_day[late_day]["inbound"] == 1 and by_day[late_day]["tickets_opened"] == 1
    assert by_day[late_day]["tickets_answered"] == 0
    # The same instant is still the second day in UTC (and the third is today's).
    in_utc = response_analysis(engine, workspace, story["number"], None, now, ZoneInfo("UTC"))
    assert [d["inbound"] for d in in_utc["total"]["by_day"]] == [4, 1, 0]


def test_a_period_counts_only_what_happened_in_it(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    since = datetime.combine(story["late"].astimezone(WARSAW).date(), datetime.min.time(), WARSAW)
    found = response_analysis(engine, workspace, story["number"], since, now, WARSAW)
    assert found["days"] == [since.date()]
    total = found["total"]
    assert (total["inbound"], total["responses"], total["tickets_opened"]) == (1, 1, 1)
    assert total["campaign_recipients"] == 0 and total["response_rate"] is None
    [campaign] = found["campaigns"]
    assert (campaign["sent"], campaign["replies"]) == (0, 0)
    [pizza] = found["keywords"]
    assert pizza["responses"] == 0 and pizza["by_day"] == [
        {"day": since.date(), "responses": 0, "unique_senders": 0, "opt_outs": 0,
         "tickets_opened": 0, "tickets_answered": 0, "median_first_answer_s": None}
    ]  # fmt: skip


def test_every_number_together(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    found = response_analysis(engine, workspace, None, None, now, WARSAW)
    assert [n["number_id"] for n in found["numbers"]] == [story["number"], story["other"]]
    assert [n["inbound"] for n in found["numbers"]] == [5, 1]
    assert found["total"]["inbound"] == 6
    assert found["total"]["unique_senders"] == 4  # A texted both numbers: one person
    assert found["total"]["campaign_recipients"] == 3


def test_csv_rows_one_per_day_and_scope(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    found = response_analysis(engine, workspace, None, None, now, WARSAW)
    columns, rows = analysis_rows(found, "number")
    assert columns[:4] == ("day", "number_id", "number", "kind")
    assert "median_solve_s" in columns and len(rows) == 2 * 3
    first = dict(zip(columns, rows[0], strict=True))
    assert first["day"] == found["days"][0].isoformat() and first["inbound"] == 4
    assert first["response_rate"] == 0.6667 and first["median_first_answer_s"] == 300.0
    columns, rows = analysis_rows(found, "keyword")
    assert columns[:6] == ("day", "rule_id", "number_id", "number", "keyword", "campaign_id")
    assert [r[4] for r in rows] == ["pizza"] * 3
    columns, rows = analysis_rows(found, "campaign")
    assert columns[:4] == ("day", "campaign_id", "campaign", "number_id")
    first = dict(zip(columns, rows[0], strict=True))
    assert (first["campaign"], first["sent"], first["replies"]) == ("Pizza week", 3, 4)
    assert first["response_rate"] == 1.0 and rows[1][columns.index("response_rate")] == ""


def test_an_unknown_number_is_refused(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    with pytest.raises(UserError, match="4242"):
        response_analysis(engine, workspace, 4242, None, now, WARSAW)


@pytest.mark.sqlite_only
def test_texts_routes_and_tickets_are_read_through_indexes_only(
    engine: Engine, workspace: WorkspaceRef, now: datetime, story: dict[str, Any]
) -> None:
    """Every read of texts, their routes and tickets the analysis makes goes through an
    index: never a scan of the whole table (SQLite's plan is the one checked)."""
    reads: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             many: bool) -> None:  # fmt: skip
        if statement.lstrip().upper().startswith("SELECT") and any(
            table in statement for table in ("messages", "inbound_routes", "tickets")
        ):
            reads.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        response_analysis(engine, workspace, None, None, now, WARSAW)  # all time
        response_analysis(engine, workspace, story["number"], now - timedelta(days=7), now,
                          WARSAW)  # fmt: skip
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    assert len(reads) >= 3  # texts with their ticket, tickets' answers, campaign sends
    with engine.connect() as conn:
        for statement, params in reads:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            scans = [row[-1] for row in plan if str(row[-1]).startswith(
                ("SCAN messages", "SCAN inbound_routes", "SCAN tickets"))]  # fmt: skip
            assert not scans, (statement, plan)
