"""Real campaign traffic for the dashboard's page tests, made through the engine's use
cases (launch, claim and submit, delivery reports), as tests/engine/test_dashboard_metrics
makes it: the page must show what sending really counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select

from smscast.channels.base import DeliveryReport, ReportState, SubmitOutcome, SubmitResult
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentState, Contact, table_of

messages = table_of(Message)
contacts = table_of(Contact)
consent_states = table_of(ConsentState)


@dataclass(frozen=True)
class Traffic:
    """Two campaigns: "Sale" (promotional, three texts through "red" from +48500100100,
    two delivered) and "Notice" (informational, two texts through "blue" from
    +48500200200, one delivered, one undelivered)."""

    sale: int
    notice: int
    red: int
    blue: int


def add_contact(engine: Engine, workspace: WorkspaceRef, phone: str, tag: str,
                now: datetime) -> None:  # fmt: skip
    with engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts)
            .values(workspace_id=workspace.id, phone=phone, country="PL", attributes={},
                    language="pl", timezone="Europe/Warsaw", email=None, tags=[tag],
                    created_at=now, updated_at=now)
            .returning(contacts.c.id)
        ).scalar_one()  # fmt: skip
        for purpose in ("promotional", "informational"):
            conn.execute(insert(consent_states).values(
                contact_id=contact_id, channel="sms", purpose=purpose, status="opted_in",
                event_id=0, changed_at=now))  # fmt: skip


def add_route(engine: Engine, workspace: WorkspaceRef, name: str, port: int, number: str,
              now: datetime) -> int:  # fmt: skip
    row = add_connector(engine, workspace, name=name, kind="smpp",
                        settings={"host": "127.0.0.1", "port": port, "system_id": "t"},
                        rate_per_s=0.0, window=50, actor="test", now=now)  # fmt: skip
    add_number(engine, workspace, number, connector=name, actor="test", now=now)
    return row.id


def dispatch(engine: Engine, connector_id: int, now: datetime) -> dict[str, int]:
    """What the dispatcher does for one batch: claim, submit (all accepted), record."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        batch = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=100,
                          validity=timedelta(hours=48))  # fmt: skip
        phones = dict(conn.execute(
            select(messages.c.id, messages.c.phone).where(messages.c.id.in_([m.id for m in batch]))
        ).all())  # fmt: skip
        tally = Tally()
        record_results(conn, connector_id=connector_id, worker="w1",
                       claimed={m.id: m for m in batch},
                       results=[SubmitResult(m.id, SubmitOutcome.ACCEPTED, (f"c{m.id}",))
                                for m in batch],
                       now=now, retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)
    return {phone: message_id for message_id, phone in phones.items()}


def report(engine: Engine, connector_id: int, sent: dict[str, int],
           states: dict[str, ReportState], now: datetime) -> None:  # fmt: skip
    """Delivery reports from the carrier for the texts to `states`' phones."""
    with engine.begin() as conn:
        apply_reports(conn, connector_id,
                      [DeliveryReport(f"c{sent[phone]}", state) for phone, state in states.items()],
                      now, timedelta(hours=72))  # fmt: skip


def make_traffic(engine: Engine, settings: Settings, workspace: WorkspaceRef,
                 now: datetime, *, sale_name: str = "Sale") -> Traffic:  # fmt: skip
    red = add_route(engine, workspace, "red", 2775, "+48500100100", now)
    blue = add_route(engine, workspace, "blue", 2776, "+48500200200", now)
    for i in range(3):
        add_contact(engine, workspace, f"+4860010020{i}", "sale", now)
    for i in range(2):
        add_contact(engine, workspace, f"+4860010030{i}", "notice", now)
    sale = create_campaign(engine, workspace, CampaignDraft(
        name=sale_name, body="Hi, -20% today", segment='tags contains "sale"',
        from_number="+48500100100"), actor="t", now=now)  # fmt: skip
    notice = create_campaign(engine, workspace, CampaignDraft(
        name="Notice", body="Your parcel is on its way", segment='tags contains "notice"',
        from_number="+48500200200", purpose="informational"), actor="t", now=now)  # fmt: skip
    for campaign_id in (sale, notice):
        launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    red_sent = dispatch(engine, red, now)
    blue_sent = dispatch(engine, blue, now)
    later = now + timedelta(minutes=10)
    report(engine, red, red_sent, {"+48600100200": ReportState.DELIVERED,
                                   "+48600100201": ReportState.DELIVERED}, later)  # fmt: skip
    report(engine, blue, blue_sent, {"+48600100300": ReportState.DELIVERED,
                                     "+48600100301": ReportState.UNDELIVERED}, later)  # fmt: skip
    return Traffic(sale, notice, red, blue)


def deliver_rest(engine: Engine, traffic: Traffic, now: datetime) -> None:
    """The carrier reports Sale's third text delivered."""
    with engine.connect() as conn:
        message_id = conn.execute(
            select(messages.c.id).where(messages.c.phone == "+48600100202",
                                        messages.c.campaign_id == traffic.sale)
        ).scalar_one()  # fmt: skip
    report(engine, traffic.red, {"+48600100202": message_id},
           {"+48600100202": ReportState.DELIVERED}, now)  # fmt: skip
