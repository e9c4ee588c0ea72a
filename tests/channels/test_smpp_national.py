"""The SMPP client sends national shift tables as the engine counted them, and the simulator
reads the texts back with the tables each part's header names."""

from __future__ import annotations

import pytest

from smscast.channels.base import OutgoingMessage, SubmitOutcome
from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.channels.smpp import pdu
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.constants import Tag
from smscast.channels.smpp.settings import SmppSettings

SPANISH = "¿Qué tal, señora Núñez? Su pedido llegó. ¡Gracias por su compra! " * 3  # 195
TURKISH = "Işık şişçi Şükrü ğı " * 13  # 260


def message(ref: int, text: str, national: tuple[str | None, str | None] | None) -> OutgoingMessage:
    return OutgoingMessage(ref, "4000", f"+4860010020{ref}", text, national=national)


@pytest.mark.parametrize("concat", ["udh", "sar"])
async def test_parts_carry_the_tables_and_read_back_the_same(concat: str) -> None:
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05, seed=1))
    client = SmppClient(SmppSettings(port=sim.port, concat=concat, national_tables=("es", "tr")))
    await client.start()
    try:
        results = await client.send([
            message(1, SPANISH, None),  # planned with the connector's tables
            message(2, TURKISH, ("tr", None)),  # as the engine chose and counted it
            message(3, TURKISH, (None, None)),  # counted with the default alphabet: UCS-2
        ])  # fmt: skip
    finally:
        await client.stop()
        await sim.close()
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 3
    by_phone: dict[str, list[pdu.SubmitSm]] = {}
    for submit in sim.recent_submits:
        assert isinstance(submit, pdu.SubmitSm)
        by_phone.setdefault(submit.destination_addr, []).append(submit)
    spanish, turkish, ucs2 = (by_phone[f"4860010020{i}"] for i in (1, 2, 3))
    assert [len(spanish), len(turkish), len(ucs2)] == [2, 2, 4]
    for parts, ie in ((spanish, b"\x24\x01\x02"), (turkish, b"\x25\x01\x01")):
        for submit in parts:
            assert submit.data_coding == 0
            body = submit.short_message
            assert submit.esm_class & 0x40
            assert body[1 : 1 + body[0]].endswith(ie)  # the table's IE in every part
            if concat == "sar":
                assert Tag.SAR_MSG_REF_NUM in submit.tlvs
    assert all(s.data_coding == 8 for s in ucs2)
    texts = {t.recipient: (t.text, t.parts) for t in sim.received_texts}
    assert texts == {
        "48600100201": (SPANISH, 2),
        "48600100202": (TURKISH, 2),
        "48600100203": (TURKISH, 4),
    }


def test_an_unknown_table_in_the_settings_is_refused() -> None:
    with pytest.raises(ValueError, match="'xx'"):
        SmppSettings.from_mapping({"national_tables": "tr,xx"})
    assert SmppSettings.from_mapping({"national_tables": "tr, es"}).national_tables == ("es", "tr")
