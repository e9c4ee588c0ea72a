"""National shift tables end to end: a connector allows them, a text is counted with them,
the pair chosen is kept on the message, and the SMPP parts name it for the phone."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from outbound_helpers import RunningClock, add_sim_connector, count_by_status, wait_for
from sqlalchemy import Engine, select, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.core.alphabet import alphabet_for
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.engine.sending.single_messages import send_message
from smscast.store.messaging_models import Message
from smscast.store.models import Workspace, table_of

messages = table_of(Message)
workspaces = table_of(Workspace)
NO_QUIET = {"start": "00:00", "end": "00:00"}
# 157 characters, 12 of them Turkish letters outside the default alphabet: 3 UCS-2 parts;
# 2 GSM-7 parts with the Turkish single shift table (an escape pair per such letter).
TURKISH = ("Merhaba Şule Hanım, siparişiniz bugün kargoya verildi. Teslimat için "
           "kapıda olmanız gerekiyor; sorularınız için bize yazın. Teşekkürler, iyi "
           "günler dileriz ğ")  # fmt: skip
# 260 characters, half of them Turkish letters: 4 UCS-2 parts, 3 with the single shift
# table, 2 with the Turkish locking shift table (one septet each).
DENSE = "Işık şişçi Şükrü ğı " * 13


def stored(engine: Engine, message_id: int) -> tuple[str, int, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(messages.c.encoding, messages.c.parts, messages.c.national).where(
                messages.c.id == message_id
            )
        ).one()
    return row.encoding, row.parts, row.national


def send(engine: Engine, workspace: WorkspaceRef, now: datetime, body: str = TURKISH,
         to: str = "+48600100200") -> int:  # fmt: skip
    return int(send_message(engine, workspace, to, body, sender=None,
                            purpose="informational", valid_until=None, actor="t",
                            now=now)["id"])  # fmt: skip


def test_without_tables_a_turkish_text_is_ucs2(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now)
    assert stored(engine, send(engine, workspace, now)) == ("UCS-2", 3, None)


def test_an_unknown_table_is_refused_when_the_connector_is_added(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    with pytest.raises(UserError) as caught:
        add_sim_connector(engine, workspace, 2775, now, national_tables="tr,xx")
    assert "national_tables" in caught.value.problem.message
    assert "'xx'" in caught.value.problem.message


def test_an_empty_text_is_refused_naming_the_body(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_sim_connector(engine, workspace, 2775, now)
    for empty in ("", "   "):
        with pytest.raises(UserError) as caught:
            send(engine, workspace, now, body=empty)
        assert (caught.value.problem.code, caught.value.problem.field) == ("encoding.empty", "body")
    assert count_by_status(engine) == {}


async def test_a_turkish_text_goes_as_gsm7_with_the_tables_and_reads_back_the_same(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    with engine.begin() as conn:
        conn.execute(update(workspaces).values(settings={"quiet_hours": NO_QUIET}))
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05, seed=5,
                                                delivered=1.0, undeliverable=0.0, expired=0.0,
                                                rejected=0.0))  # fmt: skip
    add_sim_connector(engine, workspace, sim.port, now, national_tables="tr,es")
    single = send(engine, workspace, now)
    locking = send(engine, workspace, now, body=DENSE, to="+48600100201")
    assert stored(engine, single) == ("GSM-7", 2, "/tr")
    assert stored(engine, locking) == ("GSM-7", 2, "tr/")
    runtime = Runtime(engine, settings, worker="w1", clock=RunningClock(now))
    running = asyncio.create_task(runtime.run())
    try:

        def delivered() -> bool:
            """the Turkish texts delivered"""
            return count_by_status(engine) == {"delivered": 2}

        await wait_for(delivered)
    finally:
        runtime.stop()
        await running
        await sim.close()
    submits = sim.recent_submits
    assert len(submits) == 4
    # the Turkish national language identifier is 1; single shift IE 0x24, locking 0x25
    for phone, text, alphabet, national_ie in [
        ("48600100200", TURKISH, alphabet_for(None, "tr"), b"\x24\x01\x01"),
        ("48600100201", DENSE, alphabet_for("tr", None), b"\x25\x01\x01"),
    ]:
        parts = [s for s in submits if s.destination_addr == phone]
        bodies = []
        for seq, submit in enumerate(parts, start=1):
            assert submit.data_coding == 0 and submit.esm_class & 0x40
            udh_length = submit.short_message[0]
            udh = submit.short_message[1 : 1 + udh_length]
            # the concatenation IE (reference, 2 parts, this part), then the table's IE
            assert udh[:2] == b"\x00\x03" and udh[3:5] == bytes((2, seq))
            assert udh[5:] == national_ie
            bodies.append(submit.short_message[1 + udh_length :])
        assert all(max(body) < 0x80 for body in bodies)  # septets, one per octet
        assert b"".join(bodies) == alphabet.encode(text)
    assert sorted((t.recipient, t.text, t.parts) for t in sim.received_texts) == [
        ("48600100200", TURKISH, 2),
        ("48600100201", DENSE, 2),
    ]
