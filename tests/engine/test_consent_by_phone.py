"""Consent belongs to the person, found by phone: a promotional text queued without a
linked contact, or to someone erased since, is cancelled at dispatch."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from outbound_helpers import add_sim_connector, queue_texts
from sqlalchemy import Engine, select

from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.contacts.records import erase_contact
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import claim_due, settle_unsendable
from smscast.engine.sending.single_messages import send_message
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)


def _opt_in(engine: Engine, settings: Settings, workspace: WorkspaceRef, phone: str,
            now: datetime) -> None:  # fmt: skip
    change = ConsentChange("sms", "all", Action.OPT_IN, Source.API, "test", "form", now)
    record_consent(engine, settings, workspace, phone, change)


def _dispatch_check(engine: Engine, connector_id: int, now: datetime) -> list[int]:
    """Claims every due text, runs the checks at dispatch and settles the refused ones;
    returns the ids that would be handed to the carrier."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        claimed = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=50,
                            validity=timedelta(hours=48))  # fmt: skip
        to_send, held = check_before_sending(conn, claimed, now)
        settle_unsendable(conn, held, now, Tally())
    return [m.id for m in to_send]


def _status(engine: Engine, message_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(messages.c.status, messages.c.error_code).where(messages.c.id == message_id)
        ).one()
    return row.status, row.error_code


def test_promotional_texts_without_a_contact_are_cancelled_at_dispatch(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    _opt_in(engine, settings, workspace, "+48600100201", now)
    _opt_in(engine, settings, workspace, "+48600100202", now)
    # Queued without a contact link, as API texts and answers to new senders are.
    [stranger] = queue_texts(engine, workspace, ["+48600100200"], now, purpose="promotional")
    [opted_in] = queue_texts(engine, workspace, ["+48600100201"], now, purpose="promotional")
    [erased] = queue_texts(engine, workspace, ["+48600100202"], now, purpose="promotional")
    [info] = queue_texts(engine, workspace, ["+48600100200"], now)
    erase_contact(engine, settings, workspace, "+48600100202", actor="t", now=now)

    sent = _dispatch_check(engine, connector.id, now)

    assert sorted(sent) == sorted([opted_in, info])
    assert _status(engine, stranger) == ("cancelled", "no_consent")
    assert _status(engine, erased) == ("cancelled", "no_consent")


def test_an_unlinked_text_to_someone_opted_out_is_cancelled_at_dispatch(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    _opt_in(engine, settings, workspace, "+48600100200", now)
    [info] = queue_texts(engine, workspace, ["+48600100200"], now)
    change = ConsentChange("sms", "all", Action.OPT_OUT, Source.API, "test", "STOP", now)
    record_consent(engine, settings, workspace, "+48600100200", change)

    assert _dispatch_check(engine, connector.id, now) == []
    assert _status(engine, info) == ("cancelled", "opted_out")


def test_a_promotional_send_needs_an_opt_in_on_record_for_the_phone(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now)

    def send(to: str, purpose: str = "promotional") -> dict[str, object]:
        return send_message(engine, workspace, to, "Sale today", sender=None, purpose=purpose,
                            valid_until=None, actor="t", now=now)  # fmt: skip

    with pytest.raises(UserError) as never:
        send("+48600100200")
    assert (never.value.problem.code, never.value.problem.field) == ("no_consent", "to")
    assert send("+48600100200", "informational")["status"] == "queued"
    _opt_in(engine, settings, workspace, "+48600100200", now)
    assert send("+48600100200")["status"] == "queued"
    erase_contact(engine, settings, workspace, "+48600100200", actor="t", now=now)
    with pytest.raises(UserError) as erased:
        send("+48600100200")
    assert (erased.value.problem.code, erased.value.problem.field) == ("no_consent", "to")
    _opt_in(engine, settings, workspace, "+48600100201", now)
    change = ConsentChange("sms", "all", Action.OPT_OUT, Source.API, "test", "STOP", now)
    record_consent(engine, settings, workspace, "+48600100201", change)
    with pytest.raises(UserError) as opted_out:
        send("+48600100201")
    assert (opted_out.value.problem.code, opted_out.value.problem.field) == ("opted_out", "to")
