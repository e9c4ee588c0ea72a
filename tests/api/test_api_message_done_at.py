"""A message's end is never before its sending, as the API shows it, however the carrier's
report came: before the submit answer, or stamped by a clock behind ours."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.channels.base import DeliveryReport, ReportState, SubmitOutcome, SubmitResult
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, enqueue_messages, record_results
from smscast.engine.tally import Tally


def test_done_at_is_never_before_sent_at(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_connector(engine, workspace, name="sim", kind="smpp",
                              settings={"host": "127.0.0.1", "port": 2775, "system_id": "s"},
                              rate_per_s=0, window=10, actor="t", now=now)  # fmt: skip
    with engine.begin() as conn:
        ids = enqueue_messages(conn, [
            {"workspace_id": workspace.id, "phone": phone, "body": "Hi", "kind": "agent_reply",
             "created_at": now, "connector_id": connector.id}
            for phone in ("+48600100001", "+48600100002")
        ])  # fmt: skip
        assert take_lease(conn, connector.id, "w1", now, 60)
        claimed = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=10,
                            validity=timedelta(hours=48))  # fmt: skip
    late_answer = now + timedelta(seconds=2)
    behind = now - timedelta(minutes=1)  # a carrier clock behind ours, or a minute-only date
    with engine.begin() as conn:  # the report of the first beats its submit answer
        apply_reports(conn, connector.id, [DeliveryReport("c1", ReportState.DELIVERED,
                                                          ref=ids[0], done_at=behind)],
                      now + timedelta(seconds=1), timedelta(hours=72))  # fmt: skip
    with engine.begin() as conn:
        record_results(conn, connector_id=connector.id, worker="w1",
                       claimed={m.id: m for m in claimed}, now=late_answer, retry=RetryPolicy(),
                       results=[SubmitResult(ids[0], SubmitOutcome.ACCEPTED, ("c1",)),
                                SubmitResult(ids[1], SubmitOutcome.ACCEPTED, ("c2",))],
                       tally=Tally())  # fmt: skip
        apply_reports(conn, connector.id, [DeliveryReport("c2", ReportState.UNDELIVERED,
                                                          done_at=behind)],
                      late_answer + timedelta(seconds=1), timedelta(hours=72))  # fmt: skip
    for message_id in ids:
        body = client.get(f"/api/v1/messages/{message_id}").json()
        assert body["sent_at"] is not None, body
        sent_at = datetime.fromisoformat(body["sent_at"])
        done_at = datetime.fromisoformat(body["done_at"])
        assert (sent_at, done_at) == (late_answer, late_answer)
    listed = client.get("/api/v1/messages").json()["items"]
    assert all(m["done_at"] >= m["sent_at"] for m in listed)
