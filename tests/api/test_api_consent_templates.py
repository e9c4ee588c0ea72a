"""Consent over the API, and template previews with parts and cost."""

from __future__ import annotations

from api_checks import problem_of
from fastapi.testclient import TestClient


def test_opt_in_with_evidence_then_opt_out_are_in_the_history(client: TestClient) -> None:
    needs_evidence = client.post("/api/v1/consent/opt-in", json={"phone": "+48601234567"})
    assert problem_of(needs_evidence, 422)["field"] == "evidence"
    opted = client.post(
        "/api/v1/consent/opt-in", json={"phone": "601 234 567", "evidence": "shop form v3"}
    )
    assert opted.status_code == 200, opted.text
    assert opted.json()["state"][0]["status"] == "opted_in"
    out = client.post("/api/v1/consent/opt-out", json={"phone": "+48601234567"})
    assert {row["status"] for row in out.json()["state"]} == {"opted_out"}
    contact = client.get("/api/v1/contacts").json()["items"][0]
    history = client.get(f"/api/v1/contacts/{contact['id']}/consent").json()
    assert [(e["action"], e["source"]) for e in history["events"]] == [
        ("opt_in", "api"),
        ("opt_out", "api"),
    ]
    assert history["events"][0]["actor"] == "key:owner key"
    unknown = client.post("/api/v1/consent/opt-out", json={"phone": "+48601234599"})
    assert problem_of(unknown, 404)["code"] == "unknown_contact"


def test_a_preview_shows_the_text_its_parts_and_cost(client: TestClient) -> None:
    client.patch(
        "/api/v1/workspace",
        json={"settings": {"part_price": 0.1, "opt_out_footer_required": True}},
    )
    contact = client.post(
        "/api/v1/contacts",
        json={"phone": "+48601234567", "attributes": {"first_name": "Zażółć"}, "language": "pl"},
    ).json()
    body = {
        "body": "Hi {{ first_name }}, code {{ coupon }} waits in our shop until Sunday",
        "contact_id": contact["id"],
        "values": {"coupon": "AB12"},
    }
    preview = client.post("/api/v1/templates/preview", json=body).json()
    assert preview["text"].endswith("Sunday\nOdpisz STOP, aby zrezygnować")
    assert (preview["encoding"], preview["parts"]) == ("UCS-2", 2)
    assert preview["cost"] == round(preview["parts"] * 0.1, 5)
    smart = client.post("/api/v1/templates/preview", json={**body, "smart": True}).json()
    assert (smart["encoding"], smart["parts"]) == ("GSM-7", 1) and smart["replaced"]
    broken = client.post("/api/v1/templates/preview", json={"body": "Hi {{ first_name"})
    assert problem_of(broken, 422)["code"].startswith("template")
    missing = client.post("/api/v1/templates/preview", json={"body": "Hi {{ nick }}"})
    assert problem_of(missing, 422)["field"] == "nick"
