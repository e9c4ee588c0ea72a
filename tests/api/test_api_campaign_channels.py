"""A campaign on a chain of channels over the API: its fields on create, its report per channel."""

from __future__ import annotations

from api_checks import problem_of
from fastapi.testclient import TestClient


def test_a_whatsapp_campaign_falling_back_to_sms(client: TestClient) -> None:
    for phone, channel in (("+48601234567", "sms"), ("+48601234567", "whatsapp"),
                           ("+48601234568", "sms")):  # fmt: skip
        opted = client.post("/api/v1/consent/opt-in", json={
            "phone": phone, "channel": channel, "evidence": "form"})  # fmt: skip
        assert opted.status_code < 300, opted.text
    made = client.post("/api/v1/campaigns", json={
        "name": "Chain", "body": "Hi {{ phone }}", "channels": ["whatsapp", "sms"],
        "fallback_after_seconds": 600,
        "content": {"whatsapp": {"template": "sale_day", "params": ["{{ phone }}"]}},
    })  # fmt: skip
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    preview = client.get(f"/api/v1/campaigns/{campaign_id}/preview").json()
    assert preview["channels"] == {"whatsapp": 1, "sms": 1}
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch").status_code == 200
    for path in (f"/api/v1/campaigns/{campaign_id}", f"/api/v1/campaigns/{campaign_id}/report"):
        report = client.get(path)
        assert report.status_code == 200, report.text
        assert report.json()["channels"] == [
            {"channel": "whatsapp", "messages": 1, "sent": 0, "delivered": 0, "failed": 0,
             "fell_back": 0, "cost": 0.0},
            {"channel": "sms", "messages": 1, "sent": 0, "delivered": 0, "failed": 0,
             "fell_back": 0, "cost": 0.0},
        ]  # fmt: skip


def test_what_a_channel_cannot_go_without_is_a_problem_naming_the_field(
    client: TestClient,
) -> None:
    no_template = client.post("/api/v1/campaigns", json={
        "name": "x", "body": "Hi", "channels": ["whatsapp"]})  # fmt: skip
    problem = problem_of(no_template, 422)
    assert (problem["code"], problem["field"]) == ("no_template", "content.whatsapp.template")
    no_subject = client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "body": "Hi",
            "channels": ["email"],
            "content": {"email": {"html": "<p>"}},
        },
    )
    assert problem_of(no_subject, 422)["field"] == "content.email.subject"
    unknown = client.post("/api/v1/campaigns", json={"name": "x", "body": "Hi",
                                                     "channels": ["fax"]})  # fmt: skip
    assert unknown.status_code == 422
