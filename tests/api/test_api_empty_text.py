"""An empty text cannot be sent: the send API refuses it, naming the field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("body", ["", "   ", "\n"])
def test_an_empty_body_is_a_422_naming_body(client: TestClient, body: str) -> None:
    client.post("/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "form"})
    refused = client.post("/api/v1/messages", json={"to": "+48601234567", "body": body})
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "body"
    assert "empty" in refused.json()["detail"] or body == ""
    assert client.get("/api/v1/messages").json()["items"] == []
