"""The materialised consent state can always be rebuilt from the ledger alone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select, update

from smscast.core.consent import Action, Source
from smscast.engine.contacts.consent import ConsentChange, rebuild_consent_state, record_consent
from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.store.models import ConsentState, table_of


def states(engine) -> list[tuple]:
    table = table_of(ConsentState)
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.contact_id, table.c.channel, table.c.purpose, table.c.status,
                   table.c.event_id).order_by(table.c.contact_id, table.c.purpose)
        )  # fmt: skip
        return [tuple(row) for row in rows]


def test_rebuild_restores_the_state_the_ledger_says(engine, settings, workspace, now, tmp_path):
    source = tmp_path / "c.csv"
    source.write_text("phone,consent\n+48600100200,yes\n+48600100201,yes\n+48600100202,no\n")
    import_contacts(engine, settings, ImportRequest(Path(source), workspace, "form", "t", now))
    record_consent(engine, settings, workspace, "+48600100201", ConsentChange(
        "sms", "all", Action.OPT_OUT, Source.KEYWORD, "STOP", "sms", now))  # fmt: skip
    before = states(engine)
    # 200: promotional opt-in; 201: out of both purposes (STOP); 202: promotional "no"
    assert len(before) == 4

    table = table_of(ConsentState)
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.status == "opted_out"))
        conn.execute(update(table).values(status="opted_out"))
    assert states(engine) != before

    assert rebuild_consent_state(engine, workspace) == 3
    assert states(engine) == before
