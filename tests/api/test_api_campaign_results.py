"""A campaign's preview and rates over the API, and the mistakes refused when it is created."""

from __future__ import annotations

from api_checks import problem_of
from fastapi.testclient import TestClient


def _opt_in(client: TestClient, *phones: str) -> None:
    for phone in phones:
        opted = client.post("/api/v1/consent/opt-in", json={"phone": phone, "evidence": "form"})
        assert opted.status_code < 300, opted.text


def test_preview_before_launch_and_rates_in_the_report(client: TestClient) -> None:
    _opt_in(client, "+48601234567", "+48601234568")
    made = client.post("/api/v1/campaigns", json={
        "name": "Zima", "body": "Hi! " + "x" * 170, "purpose": "informational"})
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    preview = client.get(f"/api/v1/campaigns/{campaign_id}/preview")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert (body["targeted"], body["recipients"], body["excluded_total"]) == (2, 2, 0)
    assert body["encodings"] == {"GSM-7": {"messages": 2, "parts": 4}}
    assert (body["parts"], body["most_parts"], body["cost"]) == (4, 2, 0.0)
    assert problem_of(client.get("/api/v1/campaigns/999/preview"), 404)["field"] == "campaign"
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch").status_code == 200
    rates = client.get(f"/api/v1/campaigns/{campaign_id}").json()["rates"]
    assert rates["delivery"] == {"value": None, "numerator": 0, "denominator": 0}
    assert set(rates) == {"delivery", "click_through", "reply", "opt_out", "redemption"}


def test_create_refuses_unsafe_templates_and_a_coupon_without_a_pool(client: TestClient) -> None:
    unsafe = client.post("/api/v1/campaigns", json={
        "name": "x", "body": "Hi", "variants": [{"name": "B", "body": "{{ phone.__class__ }}"}]})
    problem = problem_of(unsafe, 422)
    assert (problem["code"], problem["field"]) == ("template.unsafe", "body")
    assert problem["detail"].startswith("variant B: line 1, column 10:")
    coupon = client.post("/api/v1/campaigns", json={"name": "x", "body": "Code {{ coupon }}"})
    assert (problem_of(coupon, 422)["code"], problem_of(coupon, 422)["field"]) == (
        "no_coupon_pool", "coupon_pool")
    assert client.get("/api/v1/campaigns").json()["items"] == []
