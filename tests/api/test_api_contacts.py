"""Contacts over the API: CRUD, filters and cursors, bulk upsert, erasure, bad input."""

from __future__ import annotations

from api_checks import problem_of
from fastapi.testclient import TestClient


def test_a_contact_is_created_read_changed_and_erased(client: TestClient) -> None:
    made = client.post(
        "/api/v1/contacts",
        json={"phone": "0048 601-234-567", "attributes": {"first_name": "Ala"}, "tags": ["vip"]},
    )
    assert made.status_code == 201, made.text
    contact = made.json()
    assert contact["phone"] == "+48601234567"
    assert contact["timezone"] == "Europe/Warsaw"
    again = client.post("/api/v1/contacts", json={"phone": "601 234 567"})
    assert problem_of(again, 409)["code"] == "contact_exists"
    changed = client.patch(
        f"/api/v1/contacts/{contact['id']}",
        json={"attributes": {"city": "Kraków", "first_name": None}, "language": "PL"},
    )
    assert changed.json()["attributes"] == {"city": "Kraków"}
    assert changed.json()["language"] == "pl"
    assert client.get(f"/api/v1/contacts/{contact['id']}").json()["attributes"]["city"] == "Kraków"
    assert client.delete(f"/api/v1/contacts/{contact['id']}").status_code == 204
    assert problem_of(client.get(f"/api/v1/contacts/{contact['id']}"), 404)["code"] == (
        "unknown_contact"
    )
    refused = client.post("/api/v1/contacts", json={"phone": "+48601234567"})
    assert problem_of(refused, 422)["code"] == "erased_phone"


def test_lists_page_with_cursors_and_filter(client: TestClient) -> None:
    phones = [f"+4860123456{i}" for i in range(7)]
    for index, phone in enumerate(phones):
        tags = ["vip"] if index % 2 == 0 else ["new"]
        assert (
            client.post("/api/v1/contacts", json={"phone": phone, "tags": tags}).status_code == 201
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/contacts", params=params).json()
        seen += [item["phone"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == phones
    vip = client.get("/api/v1/contacts", params={"tag": "vip"}).json()["items"]
    assert [c["phone"] for c in vip] == phones[::2]
    prefixed = client.get("/api/v1/contacts", params={"phone_prefix": "+48601234566"}).json()
    assert [c["phone"] for c in prefixed["items"]] == ["+48601234566"]
    assert (
        problem_of(client.get("/api/v1/contacts", params={"cursor": "garbage"}), 422)["field"]
        == "cursor"
    )


def test_bulk_upsert_keeps_good_items_and_names_the_bad_ones(client: TestClient) -> None:
    client.post("/api/v1/contacts", json={"phone": "+48601234567", "tags": ["old"]})
    result = client.post(
        "/api/v1/contacts/bulk",
        json={
            "contacts": [
                {"phone": "+48601234567", "tags": ["vip"]},
                {"phone": "+48 12"},
                {"phone": "+48601234568", "email": "not-an-email"},
                {"phone": "+48601234569", "attributes": {"first_name": "Ola"}},
                {"phone": "+48601234567", "tags": ["vip"]},
            ]
        },
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert (body["created"], body["updated"], body["unchanged"], body["rejected"]) == (1, 1, 1, 2)
    errors = {item["index"]: item["error"] for item in body["items"] if item["error"]}
    assert errors[1]["field"] == "contacts[1].phone"
    assert errors[2]["field"] == "contacts[2].email"
    assert client.get("/api/v1/contacts", params={"tag": "vip"}).json()["items"][0]["phone"] == (
        "+48601234567"
    )


def test_bad_input_is_a_4xx_that_says_what_is_wrong(client: TestClient) -> None:
    bad_json = client.post(
        "/api/v1/contacts", content=b'{"phone": ', headers={"Content-Type": "application/json"}
    )
    assert problem_of(bad_json, 422)["code"] == "json_invalid"
    wrong_type = client.post("/api/v1/contacts", json={"phone": 48601234567})
    assert problem_of(wrong_type, 422)["field"] == "phone"
    unknown = client.post("/api/v1/contacts", json={"phone": "+48601234567", "favourite": 1})
    assert problem_of(unknown, 422)["field"] == "favourite"
    strange = client.post("/api/v1/contacts", json={"phone": "call me maybe"})
    assert problem_of(strange, 422)["field"] == "phone"
    zone = client.post("/api/v1/contacts", json={"phone": "+48601234567", "timezone": "Mars/Base"})
    assert problem_of(zone, 422)["field"] == "timezone"
    assert problem_of(client.get("/api/v1/contacts/abc"), 422)["field"] == "contact_id"
    assert problem_of(client.get("/api/v1/nowhere"), 404)["code"] == "not_found"
    assert problem_of(client.put("/api/v1/contacts"), 405)["code"] == "method_not_allowed"


def test_a_huge_body_is_refused_before_it_is_read(client: TestClient, app) -> None:
    limit = app.state.settings.api_max_body_bytes
    huge = b'{"phone": "' + b"1" * (limit + 10) + b'"}'
    response = client.post(
        "/api/v1/contacts", content=huge, headers={"Content-Type": "application/json"}
    )
    assert problem_of(response, 413)["code"] == "body_too_large"

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post(
        "/api/v1/contacts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert problem_of(streamed, 413)["code"] == "body_too_large"
