"""The dashboard counts every text, campaign or not, on the route it really took: single
API sends, automatic and agent replies, HELP answers and inbound texts that answer no
campaign, each by the connector and number it left through or arrived on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from campaign_data import add_contact, add_pool
from outbound_helpers import add_sim_connector
from sqlalchemy import Engine, select, update

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    ReportState,
    SubmitOutcome,
    SubmitResult,
)
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import redeem_coupon
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.campaigns.links import follow_link
from smscast.engine.dashboards.metrics import Filters, dashboard_metrics, live_snapshot
from smscast.engine.delivery.reports import apply_reports, expire_silent
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import set_auto_reply
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import reply_to_ticket
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.sending.single_messages import send_message
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Message, Number
from smscast.store.migrate import downgrade_engine, upgrade_engine
from smscast.store.models import Workspace, table_of
from smscast.store.traffic_models import TrafficStats

messages = table_of(Message)
numbers = table_of(Number)
workspaces = table_of(Workspace)
traffic_stats = table_of(TrafficStats)
BROWSER = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"
CUSTOMER = "+48600100200"
OTHER = "+48600100300"


@dataclass
class Desk:
    """Two connectors, "red" and "blue", each with its own number."""

    red: int
    blue: int
    red_number: int
    blue_number: int
    red_text: str
    blue_text: str


@pytest.fixture
def desk(engine: Engine, workspace: WorkspaceRef, now: datetime) -> Desk:
    red = add_sim_connector(engine, workspace, 2775, now, name="red").id
    blue = add_sim_connector(engine, workspace, 2776, now, name="blue").id
    with engine.connect() as conn:
        found = dict(conn.execute(select(numbers.c.connector_id, numbers.c.id)).all())
        texts = dict(conn.execute(select(numbers.c.id, numbers.c.number)).all())
    return Desk(red, blue, found[red], found[blue], texts[found[red]], texts[found[blue]])


def dispatch(engine: Engine, connector_id: int, now: datetime,
             refuse: frozenset[str] = frozenset()) -> dict[int, str]:  # fmt: skip
    """One dispatcher batch: claim what is due, hand it over, record the answers;
    message id → phone of what went."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        batch = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=100,
                          validity=timedelta(hours=48))  # fmt: skip
        results = [
            SubmitResult(m.id, SubmitOutcome.PERMANENT, error_code="0x0B", error="bad number")
            if m.phone in refuse else SubmitResult(m.id, SubmitOutcome.ACCEPTED, (f"c{m.id}",))
            for m in batch
        ]  # fmt: skip
        tally = Tally()
        record_results(conn, connector_id=connector_id, worker="w1",
                       claimed={m.id: m for m in batch}, results=results, now=now,
                       retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)
    return {m.id: m.phone for m in batch}


def deliver(engine: Engine, connector_id: int, message_ids: list[int], now: datetime) -> None:
    with engine.begin() as conn:
        apply_reports(conn, connector_id,
                      [DeliveryReport(f"c{i}", ReportState.DELIVERED) for i in message_ids],
                      now, timedelta(hours=72))  # fmt: skip


def day(engine: Engine, workspace: WorkspaceRef, now: datetime,
        filters: Filters = Filters()) -> dict[str, object]:  # fmt: skip
    return dashboard_metrics(engine, workspace.id, now - timedelta(hours=1),
                             now + timedelta(days=1), filters)  # fmt: skip


def rows(got: dict[str, object], table: str, key: str) -> dict[object, tuple[int, ...]]:
    listed = got[table]
    assert isinstance(listed, list)
    return {r[key]: (r["sent"], r["delivered"], r["failed"], r["inbound"], r["replies"])
            for r in listed}  # fmt: skip


def test_texts_outside_campaigns_and_inbound_texts_answering_none_are_counted(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    # A single API send from the red number.
    send_message(engine, workspace, OTHER, "Your code is 1234", sender=desk.red_text,
                 purpose="informational", valid_until=None, actor="api", now=now)  # fmt: skip
    # A text to red that matches no keyword gets the number's automatic answer; HELP
    # gets the compliance answer.
    set_auto_reply(engine, workspace, desk.red_text, "Thanks, we read every text",
                   actor="t", now=now)  # fmt: skip
    handle_inbound(engine, settings, desk.red, InboundMessage(CUSTOMER, desk.red_text,
                                                              "Hello there", now))  # fmt: skip
    handle_inbound(engine, settings, desk.red, InboundMessage(CUSTOMER, desk.red_text, "HELP",
                                                              now))  # fmt: skip
    # A text to blue opens a ticket that an agent answers.
    add_keyword_rule(engine, workspace, desk.blue_text, None, [{"type": "ticket"}],
                     actor="t", now=now)  # fmt: skip
    question = InboundMessage(OTHER, desk.blue_text, "Where is my parcel?", now)
    asked = handle_inbound(engine, settings, desk.blue, question)
    assert asked.ticket_id is not None
    reply_to_ticket(engine, workspace, asked.ticket_id, "On its way", actor="ola", now=now)
    later = now + timedelta(minutes=1)
    red_sent, blue_sent = dispatch(engine, desk.red, later), dispatch(engine, desk.blue, later)
    with engine.connect() as conn:
        kinds = sorted(conn.execute(select(messages.c.kind).where(
            messages.c.id.in_([*red_sent, *blue_sent]))).scalars())  # fmt: skip
    assert kinds == ["agent_reply", "api", "auto_reply", "help"]

    got = day(engine, workspace, now)
    assert (got["sent"], got["inbound"], got["replies"], got["campaigns"]) == (4, 3, 2, 0)
    assert rows(got, "connectors", "label") == {
        "red": (3, 0, 0, 2, 1),  # API send, automatic answer, HELP answer; two texts in
        "blue": (1, 0, 0, 1, 1),  # the agent's answer; the question
    }
    assert rows(got, "numbers", "number_id") == {
        desk.red_number: (3, 0, 0, 2, 1), desk.blue_number: (1, 0, 0, 1, 1)}  # fmt: skip
    assert live_snapshot(engine, workspace.id, now, now + timedelta(days=1))["sent"] == 4


def test_a_delivery_report_moves_a_text_from_sent_to_delivered_on_its_route(
    engine: Engine, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    for phone in (CUSTOMER, OTHER):
        send_message(engine, workspace, phone, "Your code is 1234", sender=desk.blue_text,
                     purpose="informational", valid_until=None, actor="api", now=now)  # fmt: skip
    sent = dispatch(engine, desk.blue, now, refuse=frozenset({OTHER}))
    got = day(engine, workspace, now)
    assert rows(got, "connectors", "label") == {"blue": (1, 0, 1, 0, 0)}
    assert got["delivery_rate"]["value"] == 0.0  # type: ignore[index]

    reported = now + timedelta(hours=2, minutes=5)
    deliver(engine, desk.blue, [i for i, phone in sent.items() if phone == CUSTOMER], reported)
    got = day(engine, workspace, now)
    assert rows(got, "connectors", "label") == {"blue": (1, 1, 1, 0, 0)}
    assert rows(got, "numbers", "number_id") == {desk.blue_number: (1, 1, 1, 0, 0)}
    assert got["delivery_rate"]["value"] == 1.0  # type: ignore[index]
    points = {p["at"]: (p["sent"], p["delivered"], p["failed"])
              for p in got["traffic"]["points"] if any((p["sent"], p["delivered"]))}  # type: ignore[index]  # fmt: skip
    assert points == {now.isoformat(): (1, 0, 1),
                      (now + timedelta(hours=2)).isoformat(): (0, 1, 0)}  # fmt: skip


def test_a_text_the_carrier_never_reports_on_ends_expired_on_its_route(
    engine: Engine, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    send_message(engine, workspace, CUSTOMER, "Your code is 1234", sender=desk.red_text,
                 purpose="informational", valid_until=now + timedelta(hours=1), actor="api",
                 now=now)  # fmt: skip
    dispatch(engine, desk.red, now)
    with engine.begin() as conn:
        assert expire_silent(conn, now + timedelta(hours=3), timedelta(hours=72)) == 1
        expired = conn.execute(select(messages.c.id).where(messages.c.status == "expired"))
        assert len(expired.all()) == 1
    got = day(engine, workspace, now)
    assert (got["sent"], got["delivered"], got["failed"]) == (1, 0, 0)
    assert rows(got, "connectors", "label") == {"red": (1, 0, 0, 0, 0)}


def test_moving_a_number_to_another_connector_after_a_launch_moves_no_history(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    for i in range(2):
        add_contact(engine, workspace, f"+4860010040{i}", now, tags=["sale"])
    sale = create_campaign(engine, workspace, CampaignDraft(
        name="Sale", body="Sale today, reply YES", segment='tags contains "sale"',
        from_number=desk.red_text, expects_reply=True), actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, sale, actor="t", now=now)
    sent = dispatch(engine, desk.red, now)
    deliver(engine, desk.red, list(sent), now + timedelta(minutes=5))
    answer = InboundMessage("+48600100400", desk.red_text, "YES", now + timedelta(minutes=9))
    handle_inbound(engine, settings, desk.red, answer)
    before = day(engine, workspace, now)

    with engine.begin() as conn:  # the operator moves the red number to the blue connector
        conn.execute(update(numbers).where(numbers.c.id == desk.red_number)
                     .values(connector_id=desk.blue))  # fmt: skip
    after = day(engine, workspace, now)
    assert rows(after, "connectors", "label") == {"red": (2, 2, 0, 1, 1)}
    assert rows(after, "connectors", "label") == rows(before, "connectors", "label")
    only_sale = day(engine, workspace, now, Filters(campaign_ids=(sale,)))
    assert (only_sale["sent"], only_sale["replies"], only_sale["campaigns"]) == (2, 1, 1)


def test_filters_by_number_and_by_purpose_cover_texts_outside_campaigns(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    add_contact(engine, workspace, CUSTOMER, now)  # opted in to promotional texts
    send_message(engine, workspace, CUSTOMER, "20% off today", sender=desk.red_text,
                 purpose="promotional", valid_until=None, actor="api", now=now)  # fmt: skip
    send_message(engine, workspace, OTHER, "Your code is 1234", sender=desk.blue_text,
                 purpose="informational", valid_until=None, actor="api", now=now)  # fmt: skip
    dispatch(engine, desk.red, now)
    dispatch(engine, desk.blue, now)
    handle_inbound(engine, settings, desk.red,
                   InboundMessage(OTHER, desk.red_text, "who is this?", now))  # fmt: skip

    def seen(filters: Filters) -> tuple[object, ...]:
        got = day(engine, workspace, now, filters)
        return got["sent"], got["inbound"], sorted(rows(got, "connectors", "label"))  # type: ignore[type-var]

    assert seen(Filters()) == (2, 1, ["blue", "red"])
    assert seen(Filters(number_id=desk.red_number)) == (1, 1, ["red"])
    assert seen(Filters(number_id=desk.blue_number)) == (1, 0, ["blue"])
    assert seen(Filters(purpose="promotional")) == (1, 0, ["red"])
    assert seen(Filters(purpose="informational")) == (1, 1, ["blue", "red"])
    assert seen(Filters(number_id=desk.blue_number, purpose="promotional")) == (0, 0, [])


def counters(engine: Engine) -> set[tuple[object, ...]]:
    with engine.connect() as conn:
        found = conn.execute(select(traffic_stats)).all()
    return {tuple(round(v, 5) if isinstance(v, float) else v for v in row) for row in found}


def test_the_migration_rebuilds_the_counters_of_texts_stored_before_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, desk: Desk, now: datetime
) -> None:
    workspace = replace(workspace, settings={**workspace.settings, "part_price": 0.05})
    with engine.begin() as conn:  # a price per part, so cost is counted too
        conn.execute(update(workspaces).where(workspaces.c.id == workspace.id)
                     .values(settings=workspace.settings))  # fmt: skip
    for i in range(3):
        add_contact(engine, workspace, f"+4860010040{i}", now, tags=["sale"])
    add_pool(engine, workspace, "bf", ["BF-1", "BF-2", "BF-3"], now)
    sale = create_campaign(engine, workspace, CampaignDraft(
        name="Sale", body="{{ coupon }} {{ link('https://shop.example/') }} reply YES",
        segment='tags contains "sale"', from_number=desk.red_text, coupon_pool="bf",
        expects_reply=True), actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, sale, actor="t", now=now)
    send_message(engine, workspace, OTHER, "Your code is 1234", sender=desk.blue_text,
                 purpose="informational", valid_until=None, actor="api", now=now)  # fmt: skip
    sent = dispatch(engine, desk.red, now, refuse=frozenset({"+48600100402"}))
    dispatch(engine, desk.blue, now)
    delivered = [i for i, phone in sent.items() if phone != "+48600100402"]
    deliver(engine, desk.red, delivered, now + timedelta(hours=1, minutes=3))
    later = now + timedelta(hours=2, minutes=30)
    for phone, text in (("+48600100400", "YES"), ("+48600100401", "STOP")):
        answer = InboundMessage(phone, desk.red_text, text, later)
        handle_inbound(engine, settings, desk.red, answer)
    handle_inbound(engine, settings, desk.blue, InboundMessage(OTHER, "4999", "hello?", later))
    with engine.connect() as conn:
        token, code = conn.execute(select(messages.c.link_token, messages.c.coupon_code)
                                   .where(messages.c.id == delivered[0])).one()  # fmt: skip
    for _ in range(2):
        assert follow_link(engine, token, BROWSER, later + timedelta(hours=1)) is not None
    redeem_coupon(engine, workspace, code, actor="till", now=later + timedelta(hours=2))
    live = counters(engine)
    assert sum(row[12] for row in live) > 0  # type: ignore[misc]  # cost

    downgrade_engine(engine, "0016")  # back to the schema before the counters, and up again
    upgrade_engine(engine)
    assert counters(engine) == live
