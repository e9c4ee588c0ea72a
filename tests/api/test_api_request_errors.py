"""Requests the API cannot take are told what is wrong: unknown query parameters, a
body that is not JSON, JSON that is broken."""

from __future__ import annotations

import re

from api_checks import problem_of
from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_every_get_route_refuses_a_query_parameter_it_does_not_take(
    client: TestClient, app: FastAPI
) -> None:
    paths = sorted(
        path for path, operations in app.openapi()["paths"].items()
        if "get" in operations and path.startswith("/api/v1")
    )  # fmt: skip
    assert "/api/v1/messages" in paths and len(paths) > 20
    for path in paths:
        url = re.sub(r"\{[^}]+\}", "1", path)  # any path parameter: 1
        answer = client.get(url, params={"colour": "blue"})
        body = problem_of(answer, 400)
        assert (body["code"], body["field"]) == ("unknown_parameter", "colour"), path
        assert '"colour" is not a query parameter' in body["detail"]


def test_parameters_a_route_takes_are_still_accepted(client: TestClient) -> None:
    assert client.get("/api/v1/messages", params={"phone": "+48601234567"}).status_code == 200
    assert client.get("/api/v1/contacts", params={"limit": 1, "tag": "vip"}).status_code == 200
    posted = client.post("/api/v1/contacts", params={"dry": "1"}, json={"phone": "+48601234567"})
    assert problem_of(posted, 400)["field"] == "dry"


def test_broken_json_is_named_by_line_and_column(client: TestClient) -> None:
    broken = client.post("/api/v1/contacts", content=b'{\n  "phone": +48601234567\n}',
                         headers={"Content-Type": "application/json"})  # fmt: skip
    body = problem_of(broken, 422)
    assert (body["code"], body["field"]) == ("json_invalid", "body")
    assert body["detail"] == "the body is not valid JSON: Expecting value at line 2, column 12"


def test_a_body_sent_without_the_json_content_type_is_a_415(client: TestClient) -> None:
    bare = client.post("/api/v1/contacts", content=b'{"phone": "+48601234567"}')
    body = problem_of(bare, 415)
    assert (body["code"], body["field"]) == ("unsupported_media_type", "Content-Type")
    assert body["detail"].endswith("it was sent without a Content-Type header")
    form = client.post("/api/v1/contacts", content=b"phone=1",
                       headers={"Content-Type": "text/plain; charset=utf-8"})  # fmt: skip
    assert problem_of(form, 415)["detail"].endswith("it was sent as text/plain")
    assert client.get("/api/v1/contacts").status_code == 200
