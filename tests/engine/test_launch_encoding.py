"""What a launch writes about each text's encoding: the connector's national tables and the
parts and cost they give, what smart encoding replaced, and no empty text ever queued."""

from __future__ import annotations

import json
import random
from datetime import datetime

from campaign_data import add_contact, add_pool
from outbound_helpers import add_sim_connector
from sqlalchemy import Engine, select, update

from smscast.config import Settings
from smscast.core.encoding import analyse
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.stats import campaign_report
from smscast.store.messaging_models import Message
from smscast.store.models import Workspace, table_of

messages = table_of(Message)
workspaces = table_of(Workspace)
PRICE = 0.05
TURKISH = ("Merhaba {{ first_name }}, siparişiniz hazır! Mağazamıza gelin, bugün çok güzel "
           "indirimler var: şimdi yüzde elli, yarın kırk. Kod {{ coupon }} "
           "{{ link('https://shop.example/tr') }}")  # fmt: skip


def launch(engine: Engine, settings: Settings, workspace: WorkspaceRef, draft: CampaignDraft,
           now: datetime) -> tuple[int, dict[str, object]]:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(workspaces).values(settings={"part_price": PRICE}))
    workspace = WorkspaceRef(workspace.id, workspace.name, workspace.country,
                             workspace.timezone, {"part_price": PRICE})  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    result = launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                             rng=random.Random(1))  # fmt: skip
    return campaign_id, result


def rows(engine: Engine) -> list[tuple[str, str, int, float, str | None, str | None]]:
    with engine.connect() as conn:
        found = conn.execute(
            select(messages.c.body, messages.c.encoding, messages.c.parts, messages.c.cost,
                   messages.c.national, messages.c.smart_changes).order_by(messages.c.contact_id)
        ).all()  # fmt: skip
    return [(r.body, r.encoding, r.parts, float(r.cost), r.national, r.smart_changes)
            for r in found]  # fmt: skip


def test_launch_counts_parts_and_cost_with_the_connectors_national_tables(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now, national_tables="tr")
    names = ["Ayşe", "Ali", "Ali", "Ali", "Çağrı", "Ali", "Жанна", "Ali", "Ali"]
    for i, name in enumerate(names):
        add_contact(engine, workspace, f"+4860010020{i}", now, first_name=name)
    # codes of one length and of others, and one with a letter only some tables have
    add_pool(engine, workspace, "tr", ["AB12", "CD34", "EF56", "kış5", "GH78", "LONGER99",
                                       "IJ90", "KL12", "MN34"], now)  # fmt: skip

    launch(engine, settings, workspace,
           CampaignDraft(name="TR", body=TURKISH, coupon_pool="tr"), now)  # fmt: skip

    found = rows(engine)
    assert len(found) == len(names)
    for body, encoding, parts, cost, national, _ in found:
        info = analyse(body, tables=("tr",))
        assert (encoding, parts) == (info.encoding.value, info.parts)
        assert cost == round(parts * PRICE, 5)
        if "Жанна" in body:  # no Turkish table has Cyrillic: UCS-2 with the default tables
            assert (encoding, national) == ("UCS-2", None)
        else:  # GSM-7 in fewer parts than the UCS-2 the default tables would need
            assert encoding == "GSM-7" and national in ("/tr", "tr/")
            assert parts < analyse(body).parts


def test_smart_encoding_is_recorded_per_message_counted_and_reported(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now)
    for i, name in enumerate(["Ola", "Łucja", "Жанна"]):
        add_contact(engine, workspace, f"+4860010020{i}", now, first_name=name)
    # 90 characters: 2 UCS-2 parts as written, 1 GSM-7 part with look-alikes
    body = ("Hi {{ first_name }} — it’s our sale day, every coat and every scarf is half "
            "price until Sunday.")  # fmt: skip
    draft = CampaignDraft(name="Sale", body=body, smart_encoding=True, purpose="informational")

    campaign_id, _ = launch(engine, settings, workspace, draft, now)

    (ola, *_, ola_changes), (lucja, *_, lucja_changes), (zhanna, *_, zhanna_changes) = rows(
        engine
    )
    assert ola.startswith("Hi Ola - it's our sale day")
    assert json.loads(ola_changes) == {"—": "-", "’": "'"}
    assert lucja.startswith("Hi Lucja - it's")
    assert json.loads(lucja_changes) == {"Ł": "L", "—": "-", "’": "'"}
    assert zhanna_changes is None and "Жанна — it’s" in zhanna  # nothing saved: unchanged
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["smart_changed"] == 2
    assert report["smart_encoding"] == {
        "changed": 2,
        "characters": {"—": "-", "’": "'", "Ł": "L"},
    }


def test_a_text_that_renders_empty_excludes_its_recipient(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now)
    add_contact(engine, workspace, "+48600100200", now, note="Your table is ready")
    add_contact(engine, workspace, "+48600100201", now, note="")
    add_contact(engine, workspace, "+48600100202", now, note="  ")

    campaign_id, result = launch(engine, settings, workspace,
                                 CampaignDraft(name="N", body="{{ note }}"), now)  # fmt: skip

    assert result["queued"] == 1
    assert result["excluded"] == {"missing_value": 2}
    assert "+48600100201: the text is empty" in result["problems"][0]
    ((body, _, parts, *_),) = rows(engine)  # the opt-out footer alone is no message
    assert body.startswith("Your table is ready") and parts == 1
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["excluded"]["missing_value"] == 2
