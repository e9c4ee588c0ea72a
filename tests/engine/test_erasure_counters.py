"""Erasing a recipient whose campaign text is still queued: the counters follow."""

from __future__ import annotations

from datetime import datetime, timedelta

from campaign_data import add_contact
from outbound_helpers import add_sim_connector
from sqlalchemy import Engine, select

from smscast.channels.base import SubmitOutcome, SubmitResult
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import (
    CampaignDraft,
    complete_finished_campaigns,
    create_campaign,
)
from smscast.engine.contacts.records import erase_contact
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.stats import campaign_report
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)


def test_erasing_a_queued_recipient_takes_them_off_the_queue_and_the_campaign_completes(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_contact(engine, workspace, "+48600100200", now, first_name="Ala")
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    assert campaign_report(engine, workspace.id, campaign_id)["queued"] == 1

    erase_contact(engine, settings, workspace, "+48600100200", actor="t", now=now)

    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["targeted"], report["queued"]) == (1, 0)
    assert report["excluded"]["contact_deleted"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.id)).all() == []
    assert complete_finished_campaigns(engine, now) == [campaign_id]
    assert campaign_report(engine, workspace.id, campaign_id)["status"] == "completed"


def test_a_text_already_being_sent_when_its_recipient_is_erased_is_counted_once(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    add_contact(engine, workspace, "+48600100200", now, first_name="Ala")
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    with engine.begin() as conn:
        assert take_lease(conn, connector.id, "w1", now, 60)
        [claimed] = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=10,
                              validity=timedelta(hours=48))  # fmt: skip

    erase_contact(engine, settings, workspace, "+48600100200", actor="t", now=now)
    with engine.begin() as conn:  # the carrier's answer comes after the erasure
        tally = Tally()
        record_results(conn, connector_id=connector.id, worker="w1",
                       claimed={claimed.id: claimed},
                       results=[SubmitResult(claimed.id, SubmitOutcome.ACCEPTED, ("c1",))],
                       now=now, retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)

    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["queued"], report["sent"], report["excluded"]["contact_deleted"]) == (0, 1, 0)
