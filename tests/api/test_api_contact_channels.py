"""A contact's addresses and consent per channel over the API: the email and WhatsApp
number kept as they are stored, consent on each channel, the opt-out from everything
(`channel: all`), and `GET /contacts/{id}/channels` with push subscriptions and
suppressed addresses."""

from __future__ import annotations

from datetime import datetime, timedelta

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.channel_models import PushSubscription, SuppressedAddress
from smscast.store.models import table_of

EVERY_CHANNEL = ("sms", "email", "whatsapp", "push", "voice")
FIREFOX_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"


def promotional(state: list[dict[str, object]]) -> dict[object, object]:
    return {s["channel"]: s["status"] for s in state if s["purpose"] == "promotional"}


def test_email_and_whatsapp_are_stored_normalised_and_a_bad_one_is_named(
    client: TestClient,
) -> None:
    made = client.post("/api/v1/contacts", json={
        "phone": "+48601234567", "email": "Ala@Example.COM", "whatsapp": "0048 602 000 111",
    })  # fmt: skip
    assert made.status_code == 201, made.text
    contact = made.json()
    assert (contact["email"], contact["whatsapp"]) == ("Ala@example.com", "+48602000111")

    wrong = client.patch(f"/api/v1/contacts/{contact['id']}", json={"whatsapp": "+48 12"})
    problem = problem_of(wrong, 422)
    assert (problem["code"], problem["field"]) == ("invalid_whatsapp", "whatsapp")

    cleared = client.patch(f"/api/v1/contacts/{contact['id']}", json={"whatsapp": ""})
    assert cleared.json()["whatsapp"] is None
    assert client.get(f"/api/v1/contacts/{contact['id']}").json()["email"] == "Ala@example.com"
    listed = client.get("/api/v1/contacts").json()["items"]
    assert [item["whatsapp"] for item in listed] == [None]


def test_consent_per_channel_and_the_opt_out_from_everything(client: TestClient) -> None:
    for channel in ("sms", "email", "whatsapp"):
        given = client.post("/api/v1/consent/opt-in", json={
            "phone": "+48601234567", "channel": channel, "evidence": f"ticked {channel} box",
        })  # fmt: skip
        assert given.status_code == 200, given.text
    email_out = client.post("/api/v1/consent/opt-out",
                            json={"phone": "+48601234567", "channel": "email"})  # fmt: skip
    assert promotional(email_out.json()["state"]) == {
        "sms": "opted_in", "email": "opted_out", "whatsapp": "opted_in",
    }  # fmt: skip

    everything = client.post("/api/v1/consent/opt-out", json={
        "phone": "+48601234567", "channel": "all", "evidence": "asked us to stop everything",
    })  # fmt: skip

    assert everything.status_code == 200, everything.text
    assert promotional(everything.json()["state"]) == dict.fromkeys(EVERY_CHANNEL, "opted_out")
    contact_id = client.get("/api/v1/contacts").json()["items"][0]["id"]
    events = client.get(f"/api/v1/contacts/{contact_id}/consent").json()["events"]
    assert (events[-1]["channel"], events[-1]["action"]) == ("all", "opt_out")

    # An opt-in names one channel; "all" is refused, as is a channel that does not exist.
    all_in = client.post("/api/v1/consent/opt-in", json={
        "phone": "+48601234567", "channel": "all", "evidence": "yes to all",
    })  # fmt: skip
    assert all_in.status_code == 422
    fax = client.post("/api/v1/consent/opt-out", json={"phone": "+48601234567", "channel": "fax"})
    assert fax.status_code == 422
    again = client.post("/api/v1/consent/opt-in", json={
        "phone": "+48601234567", "channel": "whatsapp", "evidence": "wrote to us on WhatsApp",
    })  # fmt: skip
    assert promotional(again.json()["state"]) == {
        **dict.fromkeys(EVERY_CHANNEL, "opted_out"), "whatsapp": "opted_in",
    }  # fmt: skip


def test_channels_show_addresses_push_subscriptions_suppressions_and_consent(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    made = client.post("/api/v1/contacts", json={
        "phone": "+48601234567", "email": "ala@example.com",
    }).json()  # fmt: skip
    client.post("/api/v1/consent/opt-in", json={
        "phone": "+48601234567", "channel": "email", "evidence": "newsletter form",
    })  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(table_of(PushSubscription)).values(
            workspace_id=workspace.id, contact_id=made["id"],
            endpoint="https://push.example/sub/1", p256dh="key", auth="secret",
            user_agent=FIREFOX_ANDROID, created_at=now - timedelta(days=2),
        ))  # fmt: skip
        conn.execute(insert(table_of(SuppressedAddress)).values(
            workspace_id=workspace.id, channel="email", address="ala@example.com",
            reason="bounce", detail="550 5.1.1 user unknown", at=now,
        ))  # fmt: skip
        # The same address suppressed on another channel's name is not this one's.
        conn.execute(insert(table_of(SuppressedAddress)).values(
            workspace_id=workspace.id, channel="sms", address="ala@example.com",
            reason="gone", detail="", at=now,
        ))  # fmt: skip

    answer = client.get(f"/api/v1/contacts/{made['id']}/channels")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    addresses = {a["channel"]: a for a in body["addresses"]}
    assert {c: a["address"] for c, a in addresses.items()} == {
        "sms": "+48601234567", "email": "ala@example.com", "whatsapp": "+48601234567",
        "voice": "+48601234567",
    }  # fmt: skip
    assert addresses["email"]["suppressed"]["reason"] == "bounce"
    assert addresses["email"]["suppressed"]["detail"] == "550 5.1.1 user unknown"
    assert addresses["sms"]["suppressed"] is None
    [sub] = body["push_subscriptions"]
    assert (sub["browser"], sub["system"]) == ("Firefox", "Android")
    grid = {(c["channel"], c["purpose"]): c["status"] for c in body["consent"]}
    assert grid[("email", "promotional")] == "opted_in"
    assert grid[("sms", "promotional")] is None
    assert len(grid) == 2 * len(EVERY_CHANNEL)

    unknown = client.get("/api/v1/contacts/999999/channels")
    assert problem_of(unknown, 404)["code"] == "unknown_contact"
