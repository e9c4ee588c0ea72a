"""GET /metrics: the Prometheus text format, for this machine or a scraper with the token."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from smscast.api.app import create_app
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.outbox import enqueue_messages
from smscast.web.site import create_site

LOOPBACK = ("127.0.0.1", 50000)
ELSEWHERE = ("203.0.113.9", 50000)


def outbox_depths(body: str) -> dict[str, float]:
    """smscast_outbox_depth by connector name, read with prometheus-client's parser."""
    for family in text_string_to_metric_families(body):
        if family.name == "smscast_outbox_depth":
            return {s.labels["connector"]: s.value for s in family.samples}
    raise AssertionError("no smscast_outbox_depth in the scrape")


@pytest.fixture
def three_queued(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    """A connector with three messages queued for it, and one with none."""
    for name in ("carrier", "spare"):
        row = add_connector(engine, workspace, name=name, kind="smpp",
                            settings={"host": "127.0.0.1", "port": 2775, "system_id": "s"},
                            rate_per_s=10, window=5, actor="test", now=now)  # fmt: skip
        if name == "carrier":
            rows = [
                {"workspace_id": workspace.id, "phone": f"+4860010020{i}", "body": "Hi",
                 "kind": "agent_reply", "created_at": now, "connector_id": row.id}
                for i in range(3)
            ]  # fmt: skip
            with engine.begin() as conn:
                enqueue_messages(conn, rows)


def test_a_loopback_caller_reads_the_outbox_depth_in_prometheus_format(
    app: FastAPI, three_queued: None
) -> None:
    response = TestClient(app, client=LOOPBACK).get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert outbox_depths(response.text) == {"carrier": 3, "spare": 0}


def test_ipv6_loopback_is_this_machine_too(app: FastAPI) -> None:
    assert TestClient(app, client=("::1", 50000)).get("/metrics").status_code == 200
    assert TestClient(app, client=("::ffff:127.0.0.1", 5)).get("/metrics").status_code == 200


def test_a_caller_from_elsewhere_is_refused_without_the_token(app: FastAPI) -> None:
    response = TestClient(app, client=ELSEWHERE).get("/metrics")
    assert response.status_code == 403
    assert response.json()["code"] == "metrics_forbidden"
    assert "SMSCAST_METRICS_TOKEN" in response.json()["detail"]
    assert "smscast_" not in response.text


def test_a_proxy_on_this_machine_relaying_someone_else_is_refused(app: FastAPI) -> None:
    client = TestClient(app, client=LOOPBACK)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        assert client.get("/metrics", headers={header: "203.0.113.9"}).status_code == 403


def test_the_token_lets_a_scraper_from_elsewhere_in(
    api_settings: Settings, engine: Engine, three_queued: None
) -> None:
    app = create_app(api_settings.model_copy(update={"metrics_token": "s3cret-scrape"}), engine)
    client = TestClient(app, client=ELSEWHERE)
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert allowed.status_code == 200
    assert outbox_depths(allowed.text)["carrier"] == 3
    for wrong in ("Bearer s3cret", "Bearer ", "Basic s3cret-scrape", "s3cret-scrape"):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 403
    assert client.get("/metrics").status_code == 403
    # Through a proxy too: the token is the proof, wherever the caller is.
    relayed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape",
                                              "X-Forwarded-For": "198.51.100.7"})  # fmt: skip
    assert relayed.status_code == 200


def test_the_portal_site_answers_metrics_and_refuses_with_problem_json(
    api_settings: Settings, engine: Engine, three_queued: None
) -> None:
    site = create_site(api_settings, engine)
    assert outbox_depths(TestClient(site, client=LOOPBACK).get("/metrics").text)["carrier"] == 3
    refused = TestClient(site, client=ELSEWHERE).get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
