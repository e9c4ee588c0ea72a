"""Segments counted on SQLite and PostgreSQL, behaviour included, user text never in SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from campaign_data import add_contact
from sqlalchemy import func, insert, select

from smscast.core.errors import UserError
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.campaigns.segments import count_segment, save_segment
from smscast.store.campaign_models import Click
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of


@pytest.fixture
def people(engine, workspace, now):
    ids = {}
    ids["anna"] = add_contact(engine, workspace, "+48600100200", now, plan="gold", age="34",
                              tags=["vip"])  # fmt: skip
    ids["jan"] = add_contact(engine, workspace, "+48600100201", now, plan="silver", age="19",
                             consent="opted_out")  # fmt: skip
    ids["eve"] = add_contact(engine, workspace, "+4915112345678", now, country="DE",
                             plan="bronze", age="n/a", consent=None, language="de")  # fmt: skip
    return ids


def count(engine, workspace, now, expression):
    return count_segment(engine, workspace, expression, now)["count"]


def test_attribute_country_tag_consent_and_numbers(engine, workspace, now, people):
    assert count(engine, workspace, now, 'country = "pl"') == 2
    assert count(engine, workspace, now, 'plan in ("gold", "silver")') == 2
    assert count(engine, workspace, now, 'plan not in ("gold")') == 2
    assert count(engine, workspace, now, "age > 20") == 1  # "n/a" is no number, never matches
    assert count(engine, workspace, now, 'tags contains "vip" or tagged("nobody")') == 1
    assert count(engine, workspace, now, "opted_in()") == 1
    assert count(engine, workspace, now, "opted_out(promotional)") == 1
    assert count(engine, workspace, now, 'language = "DE"') == 1
    assert count(engine, workspace, now, "created_at > 1 day ago") == 3
    assert count(engine, workspace, now, 'created_at < "2020-01-01"') == 0
    assert count(engine, workspace, now, "") == 3


def test_behaviour_clicked_and_received(engine, workspace, now, people):
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="Spring", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    messages, clicks = table_of(Message), table_of(Click)
    with engine.begin() as conn:
        message_id = conn.execute(
            insert(messages).values(
                workspace_id=workspace.id, direction="out", kind="campaign", purpose="promotional",
                contact_id=people["anna"], phone="+48600100200", campaign_id=campaign_id, run=0,
                body="Hi", status="delivered", created_at=now - timedelta(days=3),
                sent_at=now - timedelta(days=3),
            ).returning(messages.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(insert(clicks).values(message_id=message_id, campaign_id=campaign_id,
                                           contact_id=people["anna"], at=now - timedelta(days=2)))
    assert count(engine, workspace, now, 'received("Spring")') == 1
    assert count(engine, workspace, now, f"received({campaign_id}, last 1 day)") == 0
    assert count(engine, workspace, now, "clicked(last 30 days)") == 1
    assert count(engine, workspace, now, 'country = "PL" and not clicked(last 30 days)') == 1
    assert count(engine, workspace, now, "replied() or redeemed()") == 0


def test_values_that_look_like_sql_are_only_values(engine, workspace, now, people):
    evil = "x' OR '1'='1"
    assert count(engine, workspace, now, f'plan = "{evil}"') == 0
    assert count(engine, workspace, now, 'plan = "gold\\"; DROP TABLE contacts; --"') == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(Contact))).scalar() == 3


def test_unknown_fields_and_saved_segments(engine, workspace, now, people):
    with pytest.raises(UserError, match="unknown field 'plna'"):
        count(engine, workspace, now, 'plna = "gold"')
    save_segment(engine, workspace, "gold", 'plan = "gold"', actor="t", now=now)
    campaign_id = create_campaign(
        engine, workspace, CampaignDraft(name="G", body="Hi", segment_name="gold"),
        actor="t", now=now,
    )  # fmt: skip
    assert campaign_id > 0
