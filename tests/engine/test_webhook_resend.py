"""Resending a webhook delivery: a finished one is queued again as a new delivery of the
same event, a pending one is brought forward, never across endpoints or workspaces, and
never to a paused endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update

from smscast.config import Settings
from smscast.core.addresses import AddressPolicy
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import list_audit_events
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.webhooks.endpoints import (
    create_webhook,
    deliveries,
    list_deliveries,
    send_test_event,
    update_webhook,
)
from smscast.engine.webhooks.resend import resend_delivery

PUBLIC = AddressPolicy()


def hook(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> int:
    made, _ = create_webhook(engine, settings, workspace, "https://93.184.216.34/hook", ["*"],
                             description="", actor="test", now=now, policy=PUBLIC)  # fmt: skip
    return int(made["id"])


def test_a_finished_delivery_is_queued_again_and_a_pending_one_brought_forward(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    hook_id = hook(engine, settings, workspace, now)
    send_test_event(engine, workspace, hook_id, actor="test", now=now)
    [pending] = list_deliveries(engine, workspace, hook_id, after=0, limit=10)
    with engine.begin() as conn:
        conn.execute(update(deliveries).values(next_attempt_at=now + timedelta(hours=1)))
    later = now + timedelta(minutes=1)
    same = resend_delivery(engine, workspace, hook_id, pending["id"], actor="user:a", now=later)
    assert same["id"] == pending["id"] and same["next_attempt_at"] == later

    with engine.begin() as conn:
        conn.execute(update(deliveries).values(status="failed", next_attempt_at=None))
    again = resend_delivery(engine, workspace, hook_id, pending["id"], actor="user:a", now=later)
    assert again["id"] != pending["id"]
    assert (again["status"], again["attempts"], again["next_attempt_at"]) == ("pending", 0, later)
    assert again["payload"] == pending["payload"] and again["event"] == "webhook.test"
    old = [d for d in list_deliveries(engine, workspace, hook_id, after=0, limit=10)
           if d["id"] == pending["id"]]  # fmt: skip
    assert old[0]["status"] == "failed"  # the log keeps what happened
    audit = list_audit_events(engine, workspace.id, before=0, limit=2,
                              action="webhook.delivery_resent")  # fmt: skip
    assert [a["details"]["queued_delivery_id"] for a in audit] == [again["id"], pending["id"]]


def test_no_resend_to_a_paused_endpoint_or_across_endpoints_or_workspaces(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    first = hook(engine, settings, workspace, now)
    second = hook(engine, settings, workspace, now)
    send_test_event(engine, workspace, first, actor="test", now=now)
    [delivery] = list_deliveries(engine, workspace, first, after=0, limit=10)
    with pytest.raises(UserError) as wrong_endpoint:
        resend_delivery(engine, workspace, second, delivery["id"], actor="x", now=now)
    assert wrong_endpoint.value.problem.code == "unknown_delivery"
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="test", now=now)
    with pytest.raises(UserError) as wrong_workspace:
        resend_delivery(engine, other, first, delivery["id"], actor="x", now=now)
    assert wrong_workspace.value.problem.code == "unknown_webhook"
    update_webhook(engine, settings, workspace, first, {"enabled": False}, actor="x", now=now)
    with pytest.raises(UserError) as paused:
        resend_delivery(engine, workspace, first, delivery["id"], actor="x", now=now)
    assert paused.value.problem.code == "webhook_paused"
