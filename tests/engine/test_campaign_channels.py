"""Campaigns on any channel: each person's address and consent on the chain's channels,
suppressed addresses left out, content rendered per channel, the chain's later steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from campaign_data import add_pool
from channel_data import add_person, add_subscription, campaign_rows, launch, suppress
from sqlalchemy import select, update

from smscast.core.errors import UserError
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.campaigns.overview import campaign_report_with_channels
from smscast.engine.campaigns.preview import preview_campaign
from smscast.engine.sending.outbox import enqueue_messages
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

campaigns = table_of(Campaign)
messages = table_of(Message)
LINK = "{{ link('https://shop.example/sale') }}"


def create(engine, workspace, now, **fields):
    draft = CampaignDraft(**{"name": "Sale", "body": "Hi {{ first_name }}", **fields})
    return create_campaign(engine, workspace, draft, actor="t", now=now)


def test_an_email_campaign_goes_to_addresses_with_email_consent_not_suppressed(
    engine, settings, workspace, now
):
    ann = add_person(engine, workspace, "+48600100001", now, email="Ann@Example.com",
                     consent=("email",), first_name="Ann <b>")  # fmt: skip
    add_person(engine, workspace, "+48600100002", now, email=None, consent=("email",),
               first_name="NoMail")  # fmt: skip
    add_person(engine, workspace, "+48600100003", now, email="sms-only@example.com",
               consent=("sms",), first_name="SmsOnly")  # fmt: skip
    add_person(engine, workspace, "+48600100004", now, email="gone@example.com",
               consent=("email",), first_name="Gone")  # fmt: skip
    add_person(engine, workspace, "+48600100005", now, email="out@example.com",
               consent=("sms",), opted_out=("email",), first_name="Out")  # fmt: skip
    suppress(engine, workspace, "email", "gone@example.com", now)
    campaign_id = create(
        engine, workspace, now, channels=("email",), body="Hi {{ first_name }} " + LINK,
        content={"email": {"subject": "Sale for {{ first_name }}",
                           "html": "<p>Hi {{ first_name }}</p><a href=\"" + LINK + "\">go</a>"}},
    )  # fmt: skip

    result = launch(engine, settings, workspace, campaign_id, now)

    assert result["queued"] == 1
    assert result["excluded"] == {"no_address": 1, "suppressed": 1, "no_consent": 1, "opted_out": 1}
    [row] = campaign_rows(engine, campaign_id)
    assert (row.contact_id, row.channel, row.address, row.chain_step) == (
        ann, "email", "Ann@Example.com", 0)  # fmt: skip
    assert (row.encoding, row.parts, row.fallback_at, row.status) == ("UTF-8", 1, None, "queued")
    link = f"http://127.0.0.1:8000/l/{row.link_token}"
    assert row.body == f"Hi Ann <b> {link}"
    assert row.payload == {"subject": "Sale for Ann <b>",
                           "html": f'<p>Hi Ann &lt;b&gt;</p><a href="{link}">go</a>'}  # fmt: skip


def test_a_whatsapp_campaign_needs_a_template_and_prefers_the_whatsapp_number(
    engine, settings, workspace, now
):
    with pytest.raises(UserError, match="approved message template") as refused:
        create(engine, workspace, now, channels=("whatsapp",))
    assert refused.value.problem.field == "content.whatsapp.template"
    own = add_person(engine, workspace, "+48600100011", now, whatsapp="+48600999011",
                     consent=("whatsapp",), first_name="Ola")  # fmt: skip
    by_phone = add_person(engine, workspace, "+48600100012", now, consent=("whatsapp",),
                          first_name="Ewa")  # fmt: skip
    add_person(engine, workspace, "+48600100013", now, consent=("sms",), first_name="Jan")
    campaign_id = create(
        engine, workspace, now, channels=("whatsapp",),
        content={"whatsapp": {"template": "sale_2026", "language": "pl",
                              "params": ["{{ first_name }}", "-20%"]}},
    )  # fmt: skip

    result = launch(engine, settings, workspace, campaign_id, now)

    assert result["queued"] == 2 and result["excluded"] == {"no_consent": 1}
    rows = campaign_rows(engine, campaign_id)
    assert [(r.contact_id, r.channel, r.address) for r in rows] == [
        (own, "whatsapp", "+48600999011"), (by_phone, "whatsapp", "+48600100012")]  # fmt: skip
    assert rows[0].payload == {"template": "sale_2026", "params": ["Ola", "-20%"],
                               "language": "pl"}  # fmt: skip
    assert rows[0].body == "Hi Ola"


def test_push_goes_to_the_newest_subscription(engine, settings, workspace, now):
    person = add_person(engine, workspace, "+48600100021", now, consent=("push",),
                        first_name="Ala")  # fmt: skip
    add_subscription(engine, workspace, person, "https://push.example/old", now)
    newest = add_subscription(engine, workspace, person, "https://push.example/new", now)
    add_person(engine, workspace, "+48600100022", now, consent=("push",), first_name="None")
    campaign_id = create(engine, workspace, now, channels=("push",),
                         content={"push": {"title": "For {{ first_name }}",
                                           "url": "https://shop.example/"}})  # fmt: skip

    result = launch(engine, settings, workspace, campaign_id, now)

    assert result["queued"] == 1
    [row] = campaign_rows(engine, campaign_id)
    assert (row.channel, row.address) == ("push", str(newest))
    assert row.payload == {"title": "For Ala", "url": "https://shop.example/"}


def test_a_chain_starts_where_each_person_can_be_reached_and_carries_the_rest(
    engine, settings, workspace, now
):
    both = add_person(engine, workspace, "+48600100031", now, consent=("whatsapp", "sms"),
                      first_name="Both")  # fmt: skip
    sms_only = add_person(engine, workspace, "+48600100032", now, consent=("sms",),
                          first_name="Sms")  # fmt: skip
    wa_only = add_person(engine, workspace, "+48600100033", now, consent=("whatsapp",),
                         first_name="Wa")  # fmt: skip
    blocked = add_person(engine, workspace, "+48600100034", now, whatsapp="+48600999034",
                         consent=("whatsapp", "sms"), first_name="Blocked")  # fmt: skip
    suppress(engine, workspace, "whatsapp", "+48600999034", now)
    add_person(engine, workspace, "+48600100035", now, consent=(), opted_out=("sms",),
               first_name="Nobody")  # fmt: skip
    add_pool(engine, workspace, "sale", [f"CODE{i}" for i in range(9)], now)
    campaign_id = create(
        engine, workspace, now, channels=("whatsapp", "sms"),
        fallback_after=timedelta(minutes=10), coupon_pool="sale",
        body="Hi {{ first_name }}, code {{ coupon }} " + LINK,
        content={"whatsapp": {"template": "sale", "params": ["{{ first_name }}", "{{ coupon }}",
                                                             LINK]}},
    )  # fmt: skip

    result = launch(engine, settings, workspace, campaign_id, now)

    assert result["queued"] == 4 and result["excluded"] == {"no_consent": 1}  # its first channel
    rows = {row.contact_id: row for row in campaign_rows(engine, campaign_id)}
    first = rows[both]
    assert (first.channel, first.chain_step, first.address) == ("whatsapp", 0, "+48600100031")
    assert first.fallback_at == now + timedelta(minutes=10)
    link = f"http://127.0.0.1:8000/l/{first.link_token}"
    code = first.coupon_code
    assert first.payload["params"] == ["Both", code, link]
    [later] = first.payload["next"]
    assert later == {"step": 1, "channel": "sms", "address": None, "payload": {},
                     "body": f"Hi Both, code {code} {link}", "encoding": "GSM-7", "parts": 1,
                     "cost": 0.0}  # fmt: skip
    assert (rows[sms_only].channel, rows[sms_only].chain_step) == ("sms", 1)
    assert rows[sms_only].fallback_at is None and rows[sms_only].payload is None
    assert (rows[wa_only].channel, rows[wa_only].fallback_at) == ("whatsapp", None)
    assert "next" not in rows[wa_only].payload
    assert (rows[blocked].channel, rows[blocked].chain_step) == ("sms", 1)
    report = campaign_report_with_channels(engine, workspace.id, campaign_id, now=now)
    assert [(c["channel"], c["messages"]) for c in report["channels"]] == [
        ("whatsapp", 2), ("sms", 2)]  # fmt: skip
    preview = preview_campaign(engine, settings, workspace, campaign_id, now)
    assert preview["channels"] == {"whatsapp": 2, "sms": 2}


def test_a_chain_keeps_its_options_and_checks_them(engine, workspace, now):
    add_person(engine, workspace, "+48600100051", now, first_name="Kim")
    campaign_id = create(engine, workspace, now, channels=("whatsapp", "sms"),
                         content={"whatsapp": {"template": "sale"}})  # fmt: skip
    with engine.connect() as conn:
        options = conn.execute(select(campaigns.c.options)
                               .where(campaigns.c.id == campaign_id)).scalar_one()  # fmt: skip
    assert options["channels"] == ["whatsapp", "sms"]
    assert options["fallback_after_s"] == 3600  # the default delay
    assert options["content"] == {"whatsapp": {"template": "sale"}}
    for fields, words in [
        ({"channels": ("email",)}, "needs a subject"),
        ({"channels": ("sms", "sms")}, "named twice"),
        ({"channels": ("fax",)}, "not a channel"),
        ({"channels": ("sms",), "fallback_after": timedelta(minutes=5)}, "second channel"),
        ({"channels": ("push", "sms"), "fallback_after": timedelta(seconds=5),
          "content": {"push": {"title": "T"}}}, "between 1m and 3d"),
        ({"channels": ("sms",), "content": {"email": {"subject": "S"}}}, "not among"),
        ({"channels": ("email",), "content": {"email": {"subject": "{{ nope }}"}}}, "nope"),
        ({"channels": ("email",), "content": {"email": {"subject": "{{ coupon }}"}}},
         "no coupon pool"),
    ]:  # fmt: skip
        with pytest.raises(UserError, match=words):
            create(engine, workspace, now, **fields)


def test_a_plain_sms_campaign_is_written_as_before(engine, settings, workspace, now):
    person = add_person(engine, workspace, "+48600100041", now, first_name="Sam")
    campaign_id = create(engine, workspace, now)

    launch(engine, settings, workspace, campaign_id, now)

    [row] = campaign_rows(engine, campaign_id)
    assert (row.contact_id, row.channel, row.address, row.payload, row.chain_step,
            row.fallback_at) == (person, "sms", None, None, 0, None)  # fmt: skip
    report = campaign_report_with_channels(engine, workspace.id, campaign_id, now=now)
    assert report["channels"] == [{"channel": "sms", "messages": 1, "sent": 0, "delivered": 0,
                                   "failed": 0, "fell_back": 0, "cost": 0.0}]  # fmt: skip


def test_the_coupon_check_counts_consent_on_the_chains_channels(engine, settings, workspace, now):
    for i in range(3):
        add_person(engine, workspace, f"+4860010006{i}", now, email=f"p{i}@example.com",
                   consent=("email",), first_name=f"P{i}")  # fmt: skip
    add_pool(engine, workspace, "two", ["ONE", "TWO"], now)
    campaign_id = create(
        engine,
        workspace,
        now,
        channels=("email",),
        coupon_pool="two",
        body="Code {{ coupon }}",
        content={"email": {"subject": "Code"}},
    )
    with pytest.raises(UserError, match="1 code missing"):
        launch(engine, settings, workspace, campaign_id, now)
    assert campaign_rows(engine, campaign_id) == []


def _promotions_sent(engine, workspace, contact_id, phone, channel, count, at):
    """`count` promotions already sent to the person on `channel` this week."""
    with engine.begin() as conn:
        ids = enqueue_messages(conn, [
            {"workspace_id": workspace.id, "contact_id": contact_id, "phone": phone,
             "body": "Earlier offer", "kind": "campaign", "purpose": "promotional",
             "channel": channel, "created_at": at} for _ in range(count)
        ])  # fmt: skip
        conn.execute(update(messages).where(messages.c.id.in_(ids)).values(status="sent"))


def test_frequency_caps_count_each_channel_on_its_own(engine, settings, workspace, now):
    busy = add_person(engine, workspace, "+48600100011", now, email="busy@example.com",
                      whatsapp="+48600100011", consent=("sms", "email", "whatsapp"),
                      first_name="Busy")  # fmt: skip
    _promotions_sent(engine, workspace, busy, "+48600100011", "sms", 2, now - timedelta(days=1))
    mail = create(engine, workspace, now, channels=("email",),
                  content={"email": {"subject": "News"}})  # fmt: skip
    text = create(engine, workspace, now)

    assert launch(engine, settings, workspace, mail, now)["queued"] == 1  # SMS's cap only
    assert launch(engine, settings, workspace, text, now)["excluded"] == {"capped": 1}

    _promotions_sent(engine, workspace, busy, "+48600100011", "whatsapp", 2,
                     now - timedelta(days=1))  # fmt: skip
    chain = create(
        engine,
        workspace,
        now,
        channels=("whatsapp", "email"),
        fallback_after=timedelta(minutes=10),
        content={"whatsapp": {"template": "news"}, "email": {"subject": "News"}},
    )
    launch(engine, settings, workspace, chain, now)
    [row] = campaign_rows(engine, chain)
    assert (row.channel, row.chain_step) == ("email", 1)  # WhatsApp's cap is reached
