"""On PostgreSQL an opt-out that commits while a dispatcher claim is open waits for it.

So a message either passed the consent check before the opt-out was recorded, or it
sees the opt-out: never a promotional text after an opt-out already committed.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from smscast.core.consent import Action, Source
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.engine.contacts.records import show_contact
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.outbox import Claimed


def promotional_to(contact_id: int, now) -> Claimed:
    return Claimed(
        id=1, workspace_id=1, phone="+48600100200", body="Sale", number_id=None,
        campaign_id=None, contact_id=contact_id, kind="campaign", purpose="promotional",
        parts=1, cost=0.0, valid_until=None, deadline=now + timedelta(hours=1), attempts=0,
    )  # fmt: skip


def test_opt_out_commits_only_after_the_open_claim(engine, settings, workspace, now, tmp_path):
    source = tmp_path / "c.csv"
    source.write_text("phone,consent\n+48600100200,yes\n")
    import_contacts(engine, settings, ImportRequest(Path(source), workspace, "form", "t", now))
    contact_id = show_contact(engine, workspace, "+48600100200")["id"]
    stop = ConsentChange("sms", "all", Action.OPT_OUT, Source.KEYWORD, "STOP", "sms", now)
    done = threading.Event()

    def opt_out() -> None:
        record_consent(engine, settings, workspace, "+48600100200", stop)
        done.set()

    with engine.begin() as claim:
        to_send, held = check_before_sending(claim, [promotional_to(contact_id, now)], now)
        assert [m.id for m in to_send] == [1] and held == []
        worker = threading.Thread(target=opt_out)
        worker.start()
        finished_early = done.wait(1.0)
        if engine.dialect.name == "postgresql":
            assert not finished_early, "the opt-out must wait for the open claim"
    worker.join(30)
    assert done.is_set()
    assert [e["action"] for e in consent_history(engine, workspace, "+48600100200")["events"]][
        -1
    ] == "opt_out"
    with engine.begin() as claim:
        to_send, held = check_before_sending(claim, [promotional_to(contact_id, now)], now)
    assert to_send == [] and len(held) == 1
