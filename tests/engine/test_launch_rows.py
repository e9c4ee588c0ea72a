"""Outbox rows sent as one JSON array arrive exactly as an executemany would write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from campaign_data import add_contact
from sqlalchemy import select

from smscast.store.bulk import DriverValues
from smscast.store.bulk_values import insert_value_rows
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
BODIES = ["plain", 'quote " and \\ backslash', "line\nbreak\ttab", "Zażółć 😀 €", "", "{}[]"]


def test_texts_numbers_and_empty_values_round_trip(engine, workspace, now):
    contact = add_contact(engine, workspace, "+48600100999", now)
    due = datetime(2026, 11, 25, 11, 30, 15, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        values = DriverValues(conn)
        fixed = {
            "workspace_id": workspace.id,
            "direction": "out",
            "kind": "campaign",
            "purpose": "promotional",
            "status": "queued",
            "encoding": "UCS-2",
            "run": 0,
            "parts_done": 0,
            "attempts": 0,
            "created_at": values.moment(now),
        }
        rows = [(contact, "+48600100999", body, 2 + i, 0.07 * i, values.moment(due),
                 None if i % 2 else f"C{i}") for i, body in enumerate(BODIES)]  # fmt: skip
        insert_value_rows(conn, messages, ("contact_id", "phone", "body", "parts", "cost",
                                          "send_after", "coupon_code"), rows, fixed)  # fmt: skip
    with engine.connect() as conn:
        stored = conn.execute(select(messages).order_by(messages.c.id)).all()
    assert [m.body for m in stored] == BODIES
    assert [m.parts for m in stored] == [2 + i for i in range(len(BODIES))]
    assert [float(m.cost) for m in stored] == pytest.approx([0.07 * i for i in range(len(BODIES))])
    assert [m.coupon_code for m in stored] == [None if i % 2 else f"C{i}"
                                               for i in range(len(BODIES))]  # fmt: skip
    assert {(m.send_after, m.created_at, m.status, m.contact_id) for m in stored} == {
        (due, now, "queued", contact)
    }
