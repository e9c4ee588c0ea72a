"""The dashboard's numbers after real campaigns: launched, sent through connectors,
reported on by carriers, replied to, clicked and redeemed, all through the use cases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from campaign_data import add_contact, add_pool
from outbound_helpers import add_sim_connector
from sqlalchemy import Engine, event, select, update

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    ReportState,
    SubmitOutcome,
    SubmitResult,
)
from smscast.config import Settings
from smscast.core.dashboard_tiles import CATALOGUE, Tile
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import redeem_coupon
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.campaigns.links import follow_link
from smscast.engine.dashboards.metrics import Filters, dashboard_metrics, live_snapshot
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Message, Number
from smscast.store.models import Workspace, table_of

messages = table_of(Message)
numbers = table_of(Number)
workspaces = table_of(Workspace)
BROWSER = "Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36"


@dataclass
class Shop:
    """Two campaigns on two routes: "Sale" (promotional, 3 texts, one refused by the
    carrier) through connector "red", "Notice" (informational, 2 texts) through "blue"."""

    sale: int
    notice: int
    red: int
    blue: int
    red_number: int
    blue_number: int


def dispatch(engine: Engine, connector_id: int, now: datetime,
             refuse: set[str] = frozenset()) -> dict[str, int]:  # type: ignore[assignment]  # fmt: skip
    """What the dispatcher does for one batch: claim, submit, record; phone → message id."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        batch = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=100,
                          validity=timedelta(hours=48))  # fmt: skip
        phones = dict(conn.execute(
            select(messages.c.id, messages.c.phone).where(messages.c.id.in_([m.id for m in batch]))
        ).all())  # fmt: skip
        results = [
            SubmitResult(m.id, SubmitOutcome.PERMANENT, error_code="0x0B", error="bad number")
            if phones[m.id] in refuse else SubmitResult(m.id, SubmitOutcome.ACCEPTED, (f"c{m.id}",))
            for m in batch
        ]  # fmt: skip
        tally = Tally()
        record_results(conn, connector_id=connector_id, worker="w1",
                       claimed={m.id: m for m in batch}, results=results, now=now,
                       retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)
    return {phone: message_id for message_id, phone in phones.items()}


def report(engine: Engine, connector_id: int, sent: dict[str, int], states: dict[str, ReportState],
           now: datetime) -> None:  # fmt: skip
    with engine.begin() as conn:
        apply_reports(conn, connector_id,
                      [DeliveryReport(f"c{sent[phone]}", state) for phone, state in states.items()],
                      now, timedelta(hours=72))  # fmt: skip


def priced(engine: Engine, workspace: WorkspaceRef, part_price: float) -> WorkspaceRef:
    """The workspace with a price per part, as `smscast workspace settings` sets it."""
    settings = {**workspace.settings, "part_price": part_price}
    with engine.begin() as conn:
        conn.execute(update(workspaces).where(workspaces.c.id == workspace.id)
                     .values(settings=settings))  # fmt: skip
    return replace(workspace, settings=settings)


def number_of(engine: Engine, connector_id: int) -> tuple[int, str]:
    with engine.connect() as conn:
        row = conn.execute(
            select(numbers.c.id, numbers.c.number).where(numbers.c.connector_id == connector_id)
        ).one()
    return int(row.id), str(row.number)


@pytest.fixture
def shop(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Shop:
    workspace = priced(engine, workspace, 0.05)
    red = add_sim_connector(engine, workspace, 2775, now, name="red").id
    blue = add_sim_connector(engine, workspace, 2776, now, name="blue").id
    (red_number, red_text), (blue_number, blue_text) = (
        number_of(engine, red),
        number_of(engine, blue),
    )
    for i in range(3):
        add_contact(engine, workspace, f"+4860010020{i}", now, tags=["sale"], first_name=f"P{i}")
    for i in range(2):
        add_contact(engine, workspace, f"+4860010030{i}", now, tags=["notice"])
    add_pool(engine, workspace, "bf", ["BF-1", "BF-2", "BF-3"], now)
    sale = create_campaign(engine, workspace, CampaignDraft(
        name="Sale", body="Hi, {{ coupon }} {{ link('https://shop.example/sale') }} reply YES",
        segment='tags contains "sale"', from_number=red_text, coupon_pool="bf",
        expects_reply=True), actor="t", now=now)  # fmt: skip
    notice = create_campaign(engine, workspace, CampaignDraft(
        name="Notice", body="Your parcel is on its way", segment='tags contains "notice"',
        from_number=blue_text, purpose="informational"), actor="t", now=now)  # fmt: skip
    for campaign_id in (sale, notice):
        launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    red_sent = dispatch(engine, red, now, refuse={"+48600100202"})
    blue_sent = dispatch(engine, blue, now)
    later = now + timedelta(minutes=10)
    report(engine, red, red_sent, {"+48600100200": ReportState.DELIVERED,
                                   "+48600100201": ReportState.DELIVERED}, later)  # fmt: skip
    report(engine, blue, blue_sent, {"+48600100300": ReportState.DELIVERED,
                                     "+48600100301": ReportState.UNDELIVERED}, later)  # fmt: skip
    reply_at = now + timedelta(hours=1, minutes=5)
    handle_inbound(engine, settings, red, InboundMessage("+48600100201", red_text, "YES", reply_at))
    with engine.connect() as conn:
        token, code = conn.execute(
            select(messages.c.link_token, messages.c.coupon_code)
            .where(messages.c.id == red_sent["+48600100200"])
        ).one()  # fmt: skip
    assert follow_link(engine, token, BROWSER, reply_at) is not None
    redeem_coupon(engine, workspace, code, actor="till 1", now=reply_at)
    return Shop(sale, notice, red, blue, red_number, blue_number)


def test_every_kpi_counts_what_happened_with_its_numerator_and_denominator(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now, now + timedelta(days=1))
    assert (got["sent"], got["delivered"], got["failed"]) == (4, 3, 2)
    assert got["delivery_rate"] == {"value": 0.75, "numerator": 3, "denominator": 4}
    assert (got["clicks"], got["replies"], got["redemptions"], got["opt_outs"]) == (1, 1, 1, 0)
    assert got["cost"] == pytest.approx(4 * 0.05)  # four one-part texts handed to carriers
    assert got["click_rate"] == {"value": 0.3333, "numerator": 1, "denominator": 3}
    assert got["reply_rate"]["numerator"] == 1 and got["reply_rate"]["denominator"] == 3
    assert [(s["stage"], s["count"]) for s in got["funnel"]] == [
        ("sent", 4), ("delivered", 3), ("clicked", 1), ("replied", 1), ("redeemed", 1)]  # fmt: skip


def test_every_tile_of_the_catalogue_finds_its_figure(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now, now + timedelta(days=1))
    assert [kind.name for kind in CATALOGUE if kind.metric not in got] == []


def test_traffic_is_charted_by_hour_with_every_hour_of_the_range(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(
        engine, workspace.id, now - timedelta(hours=1), now + timedelta(hours=3)
    )
    assert got["traffic"]["step"] == "hour"
    points = [(p["at"], p["sent"], p["delivered"], p["failed"]) for p in got["traffic"]["points"]]
    assert points == [
        ((now - timedelta(hours=1)).isoformat(), 0, 0, 0),
        (now.isoformat(), 4, 3, 2),
        ((now + timedelta(hours=1)).isoformat(), 0, 0, 0),
        ((now + timedelta(hours=2)).isoformat(), 0, 0, 0),
    ]


def test_a_long_range_is_charted_by_day_in_the_workspace_time_zone(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now - timedelta(days=6), now + timedelta(days=1),
                            timezone="Europe/Warsaw")  # fmt: skip
    assert got["traffic"]["step"] == "day"
    busy = [p for p in got["traffic"]["points"] if p["sent"]]
    assert busy == [{"at": "2026-11-25T00:00:00+01:00", "sent": 4, "delivered": 3, "failed": 2}]
    assert len(got["traffic"]["points"]) == 8  # six days before, the day itself, the next


def test_rows_per_number_and_per_connector(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now, now + timedelta(days=1))
    by_connector = {row["label"]: row for row in got["connectors"]}
    assert set(by_connector) == {"red", "blue"}
    red, blue = by_connector["red"], by_connector["blue"]
    assert (red["sent"], red["delivered"], red["failed"], red["replies"]) == (2, 2, 1, 1)
    assert (blue["sent"], blue["delivered"], blue["failed"], blue["replies"]) == (2, 1, 1, 0)
    assert red["delivery_rate"]["value"] == 1.0 and blue["delivery_rate"]["value"] == 0.5
    by_number = {row["number_id"]: row["sent"] for row in got["numbers"]}
    assert by_number == {shop.red_number: 2, shop.blue_number: 2}


def test_filters_narrow_every_figure(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    since, until = now, now + timedelta(days=1)

    def sent(filters: Filters) -> tuple[int, list[str]]:
        got = dashboard_metrics(engine, workspace.id, since, until, filters)
        return got["sent"], [row["label"] for row in got["connectors"]]

    assert sent(Filters(purpose="informational")) == (2, ["blue"])
    assert sent(Filters(number_id=shop.red_number)) == (2, ["red"])
    assert sent(Filters(campaign_ids=(shop.sale,))) == (2, ["red"])
    assert sent(Filters(campaign_ids=(shop.sale,), purpose="informational")) == (0, [])
    assert sent(Filters(campaign_ids=(99999,))) == (0, [])


def test_a_range_before_anything_happened_is_all_zeros(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now - timedelta(days=2), now)
    assert (got["sent"], got["clicks"], got["cost"]) == (0, 0, 0.0)
    assert got["delivery_rate"]["value"] is None
    later = dashboard_metrics(
        engine, workspace.id, now + timedelta(hours=1), now + timedelta(days=1)
    )
    assert (later["sent"], later["clicks"], later["replies"]) == (0, 1, 1)  # clicked an hour on


def test_a_layout_without_charts_or_tables_reads_only_the_numbers(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    got = dashboard_metrics(engine, workspace.id, now, now + timedelta(days=1),
                            layout=(Tile("kpi-sent", "s"),))  # fmt: skip
    assert got["sent"] == 4
    assert not {"traffic", "funnel", "connectors", "numbers"} & set(got)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_no_page_view_reads_the_messages_table(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime, statements: list[str]
) -> None:
    dashboard_metrics(engine, workspace.id, now - timedelta(days=30), now + timedelta(days=1),
                      Filters(number_id=shop.red_number))  # fmt: skip
    live_snapshot(engine, workspace.id, now, now + timedelta(days=1))
    assert statements
    assert not [s for s in statements if "messages" in s.replace("\n", " ").split("WHERE")[0]]


def test_the_live_marker_moves_only_when_a_number_does(
    engine: Engine, workspace: WorkspaceRef, shop: Shop, now: datetime
) -> None:
    since, until = now, now + timedelta(days=1)
    first = live_snapshot(engine, workspace.id, since, until)
    assert (first["sent"], first["delivered"], first["clicks"]) == (4, 3, 1)
    assert live_snapshot(engine, workspace.id, since, until)["marker"] == first["marker"]
    with engine.connect() as conn:
        token = conn.execute(select(messages.c.link_token).where(
            messages.c.campaign_id == shop.sale, messages.c.status == "delivered",
            messages.c.phone == "+48600100201")).scalar_one()  # fmt: skip
    follow_link(engine, token, BROWSER, now + timedelta(hours=2))
    moved = live_snapshot(engine, workspace.id, since, until)
    assert moved["clicks"] == 2 and moved["marker"] != first["marker"]


@pytest.mark.parametrize(
    ("since", "until", "filters", "field"),
    [
        (timedelta(hours=1), timedelta(0), Filters(), "until"),
        (timedelta(0), timedelta(hours=1), Filters(purpose="spam"), "purpose"),
    ],
)
def test_a_bad_range_or_filter_is_refused_by_name(
    engine: Engine, workspace: WorkspaceRef, now: datetime, since: timedelta, until: timedelta,
    filters: Filters, field: str,
) -> None:  # fmt: skip
    with pytest.raises(UserError) as caught:
        dashboard_metrics(engine, workspace.id, now + since, now + until, filters)
    assert caught.value.problem.field == field
