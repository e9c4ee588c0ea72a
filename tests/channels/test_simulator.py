"""The SMSC simulator over real loopback sockets, driven by a raw ESME built on our codec."""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.channels.simulator.server import RunningSimulator
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandStatus, MessageState, Tag
from smscast.core.parts import decode_short_message, reassemble

S = CommandStatus
RECEIPT = re.compile(
    r"id:(?P<id>\S+) sub:(?P<sub>\d{3}) dlvrd:(?P<dlvrd>\d{3}) "
    r"submit date:(?P<submit>\d{10}) done date:(?P<done>\d{10}) "
    r"stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)"
)


class Esme:
    """Just enough of an ESME to drive the simulator PDU by PDU."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = pdu.Framer()
        self.frames: list[bytes] = []
        self.sequence = 0

    @classmethod
    async def connect(cls, sim: RunningSimulator) -> Esme:
        return cls(*await asyncio.open_connection("127.0.0.1", sim.port))

    async def bind(self, kind: type[pdu.Pdu] = pdu.BindTransceiver, **values: object) -> pdu.Pdu:
        values.setdefault("system_id", "smscast")
        return await self.request(kind(**values))

    def send(self, message: pdu.Pdu) -> pdu.Pdu:
        self.sequence += 1
        message.sequence_number = self.sequence
        self.writer.write(message.encode())
        return message

    async def next_frame(self) -> bytes:
        while not self.frames:
            data = await asyncio.wait_for(self.reader.read(65536), 10)
            if not data:
                raise EOFError("the simulator closed the connection")
            self.frames += self.framer.feed(data)
        return self.frames.pop(0)

    async def next(self) -> pdu.Pdu:
        return pdu.decode(await self.next_frame())

    async def request(self, message: pdu.Pdu) -> pdu.Pdu:
        self.send(message)
        return await self.next()

    async def report(self, ack: bool = True) -> pdu.DeliverSm:
        got = await self.next()
        assert isinstance(got, pdu.DeliverSm)
        if ack:
            self.writer.write(got.response().encode())
        return got

    async def closed(self) -> bool:
        try:
            while True:
                await self.next_frame()
        except (EOFError, ConnectionError):
            return True


def submit(**values: object) -> pdu.SubmitSm:
    values = {"source_addr": "Shop", "destination_addr": "48600111222", **values}
    values.setdefault("short_message", b"Hello from the shop")
    return pdu.SubmitSm(**values)  # type: ignore[arg-type]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    running = await start_simulator(
        SimulatorConfig(
            port=0,
            http_port=0,
            dlr_delay=0.0,
            delivered=1,
            undeliverable=0,
            expired=0,
            rejected=0,
            seed=7,
        )
    )
    yield running
    await running.close()


async def test_a_bind_with_the_right_system_id_is_answered_with_the_smsc_name(sim) -> None:
    esme = await Esme.connect(sim)
    response = await esme.bind(password="anything")
    assert isinstance(response, pdu.BindTransceiverResp)
    assert response.command_status == S.ESME_ROK
    assert response.system_id == "SMSCAST-SIM"
    assert sim.bound_sessions == 1


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"system_id": "intruder"}, S.ESME_RINVSYSID),
        ({"password": "wrong"}, S.ESME_RINVPASWD),
    ],
)
async def test_a_bind_with_wrong_credentials_is_refused_naming_which(sim, values, status) -> None:
    sim.config.password = "secret"
    esme = await Esme.connect(sim)
    response = await esme.bind(**{"password": "secret", **values})
    assert response.command_status == status
    assert sim.bound_sessions == 0


async def test_refuse_binds_fails_every_bind_kind(sim) -> None:
    sim.config.refuse_binds = True
    for kind in (pdu.BindTransmitter, pdu.BindReceiver, pdu.BindTransceiver):
        esme = await Esme.connect(sim)
        assert (await esme.bind(kind)).command_status == S.ESME_RBINDFAIL


async def test_a_submit_before_the_bind_is_refused_as_wrong_bind_state(sim) -> None:
    esme = await Esme.connect(sim)
    response = await esme.request(submit())
    assert isinstance(response, pdu.SubmitSmResp)
    assert response.command_status == S.ESME_RINVBNDSTS


async def test_a_submit_gets_an_id_and_a_report_in_text_and_tlvs(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    response = await esme.request(submit(registered_delivery=1))
    assert response.command_status == S.ESME_ROK
    message_id = response.message_id
    assert re.fullmatch("[0-9a-f]+", message_id)
    report = await esme.report()
    assert report.esm_class == 0x04
    assert (report.source_addr, report.destination_addr) == ("48600111222", "Shop")
    fields = RECEIPT.fullmatch(report.short_message.decode("ascii"))
    assert fields is not None, report.short_message
    assert fields["id"] == message_id
    assert (fields["sub"], fields["dlvrd"], fields["stat"], fields["err"]) == (
        "001",
        "001",
        "DELIVRD",
        "000",
    )
    assert fields["text"] == "Hello from the shop"
    assert pdu.read_tlv_cstring(report.tlvs, Tag.RECEIPTED_MESSAGE_ID) == message_id
    assert pdu.read_tlv_int(report.tlvs, Tag.MESSAGE_STATE) == MessageState.DELIVERED


async def test_a_failed_message_reports_undeliv_with_an_error_code(sim) -> None:
    sim.config.update({"delivered": 0, "undeliverable": 1})
    esme = await Esme.connect(sim)
    await esme.bind()
    await esme.request(submit(registered_delivery=1))
    report = await esme.report()
    fields = RECEIPT.fullmatch(report.short_message.decode("ascii"))
    assert fields is not None
    assert (fields["stat"], fields["dlvrd"], fields["err"]) == ("UNDELIV", "000", "001")
    assert pdu.read_tlv_int(report.tlvs, Tag.MESSAGE_STATE) == MessageState.UNDELIVERABLE
    assert report.tlvs[Tag.NETWORK_ERROR_CODE] == b"\x03\x00\x01"


async def test_reports_can_write_ids_in_another_form_than_the_submit_response(sim) -> None:
    sim.config.dlr_ids = "dec"
    esme = await Esme.connect(sim)
    await esme.bind()
    for _ in range(12):  # ids 1..12: from 10 on, hex and decimal differ
        response = await esme.request(submit(registered_delivery=1))
        report = await esme.report()
    receipted = pdu.read_tlv_cstring(report.tlvs, Tag.RECEIPTED_MESSAGE_ID)
    assert response.message_id == "c"
    assert receipted == "12"
    assert report.short_message.startswith(b"id:12 ")


async def test_reports_come_only_when_and_as_registered_delivery_asks(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    await esme.request(submit(registered_delivery=0))
    await esme.request(submit(registered_delivery=2))  # on failure only; this one succeeds
    wanted = await esme.request(submit(registered_delivery=1))
    # Reports go out in submit order, so the first to arrive shows the others sent none.
    report = await esme.report()
    assert pdu.read_tlv_cstring(report.tlvs, Tag.RECEIPTED_MESSAGE_ID) == wanted.message_id
    assert sim.stats.reports_sent == 1


async def test_a_report_goes_to_the_receiver_of_the_same_system_id(sim) -> None:
    transmitter, receiver = await Esme.connect(sim), await Esme.connect(sim)
    await transmitter.bind(pdu.BindTransmitter)
    await receiver.bind(pdu.BindReceiver)
    response = await transmitter.request(submit(registered_delivery=1))
    report = await receiver.report()
    assert pdu.read_tlv_cstring(report.tlvs, Tag.RECEIPTED_MESSAGE_ID) == response.message_id
    refused = await receiver.request(submit())
    assert refused.command_status == S.ESME_RINVBNDSTS


async def test_an_unacknowledged_report_is_sent_again_after_a_reconnect(sim) -> None:
    first = await Esme.connect(sim)
    await first.bind()
    response = await first.request(submit(registered_delivery=1))
    await first.report(ack=False)
    first.writer.close()
    second = await Esme.connect(sim)
    await second.bind()
    again = await second.report()
    assert pdu.read_tlv_cstring(again.tlvs, Tag.RECEIPTED_MESSAGE_ID) == response.message_id


@pytest.mark.parametrize("concat", ["udh", "sar"])
async def test_a_long_mo_arrives_in_parts_that_reassemble_to_the_text(sim, concat) -> None:
    sim.config.mo_concat = concat
    esme = await Esme.connect(sim)
    await esme.bind()
    text = "Zażółć gęślą jaźń! " * 8  # UCS-2, three parts
    sent = await sim.send_mo("+48600111222", "4000", text)
    assert (sent.parts, sent.queued) == (3, False)
    parts = [await esme.report() for _ in range(3)]
    assert {(p.source_addr, p.source_addr_ton, p.destination_addr) for p in parts} == {
        ("48600111222", 1, "4000")
    }
    decoded = []
    for part in parts:
        piece = decode_short_message(
            part.short_message, data_coding=part.data_coding, udhi=bool(part.esm_class & 0x40)
        )
        if concat == "sar":
            assert part.esm_class & 0x40 == 0
            piece = type(piece)(
                piece.text,
                (
                    pdu.read_tlv_int(part.tlvs, Tag.SAR_MSG_REF_NUM) or 0,
                    pdu.read_tlv_int(part.tlvs, Tag.SAR_TOTAL_SEGMENTS) or 0,
                    pdu.read_tlv_int(part.tlvs, Tag.SAR_SEGMENT_SEQNUM) or 0,
                ),
            )
        decoded.append(piece)
    assert reassemble(decoded) == text


async def test_an_mo_with_no_receiver_bound_waits_for_the_next_bind(sim) -> None:
    sent = await sim.send_mo("+48600111222", "4000", "START")
    assert sent.queued
    esme = await Esme.connect(sim)
    await esme.bind(pdu.BindReceiver)
    mo = await esme.report()
    assert mo.short_message == b"START"
    assert mo.esm_class == 0


async def test_throttling_in_bursts_and_on_demand(sim) -> None:
    sim.config.update({"throttle_every": 3, "throttle_burst": 1})
    esme = await Esme.connect(sim)
    await esme.bind()
    statuses = [(await esme.request(submit())).command_status for _ in range(6)]
    assert statuses == [0, 0, S.ESME_RTHROTTLED, 0, 0, S.ESME_RTHROTTLED]
    sim.config.throttle_every = 0
    sim.throttle_next(2)
    statuses = [(await esme.request(submit())).command_status for _ in range(3)]
    assert statuses == [S.ESME_RTHROTTLED, S.ESME_RTHROTTLED, 0]
    assert sim.stats.throttled == 4


async def test_drop_after_cuts_the_connection_leaving_a_window_unanswered(sim) -> None:
    sim.config.drop_after = 3
    esme = await Esme.connect(sim)
    await esme.bind()
    for _ in range(5):  # a pipelined window of five
        esme.send(submit())
    answered = []
    with pytest.raises(EOFError):
        while True:
            answered.append(await esme.next())
    assert [a.sequence_number for a in answered] == [2, 3]
    assert sim.stats.drops == 1


async def test_garbage_after_sends_a_pdu_no_esme_can_read(sim) -> None:
    sim.config.garbage_after = 2
    esme = await Esme.connect(sim)
    await esme.bind()
    await esme.request(pdu.EnquireLink())
    esme.send(pdu.EnquireLink())
    frames = [await esme.next_frame(), await esme.next_frame()]
    with pytest.raises(pdu.PduError) as caught:
        pdu.decode(frames[0])
    assert caught.value.status == S.ESME_RINVCMDID
    assert isinstance(pdu.decode(frames[1]), pdu.EnquireLinkResp)


async def test_a_4_gb_command_length_is_nacked_and_the_connection_closed(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    esme.writer.write(struct.pack(">IIII", 0xFFFFFFFF, 4, 0, 99))
    nack = await esme.next()
    assert isinstance(nack, pdu.GenericNack)
    assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDLEN, 99)
    assert await esme.closed()
    assert sim.stats.bad_pdus == 1


async def test_bad_pdus_are_answered_and_the_session_goes_on(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    esme.writer.write(struct.pack(">IIII", 16, 0x00000999, 0, 41))
    nack = await esme.next()
    assert isinstance(nack, pdu.GenericNack)
    assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDID, 41)
    truncated = submit().encode()[:30]
    esme.writer.write(
        struct.pack(">I", len(truncated)) + truncated[4:12] + b"\0\0\0\x2a" + truncated[16:]
    )
    refused = await esme.next()
    assert isinstance(refused, pdu.SubmitSmResp)
    assert (refused.command_status, refused.sequence_number) == (S.ESME_RINVCMDLEN, 42)
    bad_tlv = submit(tlvs={Tag.MESSAGE_STATE: b"\x01\x02"}).encode()
    esme.writer.write(bad_tlv[:12] + b"\0\0\0\x2b" + bad_tlv[16:])
    refused = await esme.next()
    assert (refused.command_status, refused.sequence_number) == (S.ESME_RINVPARLEN, 43)
    odd_ucs2 = await esme.request(submit(data_coding=8, short_message=b"\x00h\x00"))
    assert odd_ucs2.command_status == S.ESME_RINVMSGLEN
    fine = await esme.request(submit())
    assert fine.command_status == S.ESME_ROK
    assert sim.stats.submits == 1


async def test_query_and_cancel_a_message_whose_report_is_not_due(sim) -> None:
    sim.config.dlr_delay = 3600
    esme = await Esme.connect(sim)
    await esme.bind()
    message_id = (await esme.request(submit(registered_delivery=1))).message_id
    query = await esme.request(pdu.QuerySm(message_id=message_id, source_addr="Shop"))
    assert isinstance(query, pdu.QuerySmResp)
    assert query.message_state == MessageState.ENROUTE
    cancel = await esme.request(pdu.CancelSm(message_id=message_id, source_addr="Shop"))
    assert cancel.command_status == S.ESME_ROK
    query = await esme.request(pdu.QuerySm(message_id=message_id, source_addr="Shop"))
    assert query.message_state == MessageState.DELETED
    again = await esme.request(pdu.CancelSm(message_id=message_id))
    assert again.command_status == S.ESME_RCANCELFAIL
    unknown = await esme.request(pdu.QuerySm(message_id="nope"))
    assert unknown.command_status == S.ESME_RQUERYFAIL


async def test_data_sm_and_submit_multi_are_accepted_and_reported(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    data = await esme.request(
        pdu.DataSm(
            source_addr="Shop",
            destination_addr="48600111222",
            registered_delivery=1,
            tlvs={Tag.MESSAGE_PAYLOAD: b"payload text"},
        )
    )
    assert isinstance(data, pdu.DataSmResp) and data.command_status == S.ESME_ROK
    assert b"text:payload text" in (await esme.report()).short_message
    multi = await esme.request(
        pdu.SubmitMulti(
            source_addr="Shop",
            dest_addresses=[
                pdu.DestAddress("48600111222", 1, 1),
                pdu.DestAddress("48600111333", 1, 1),
            ],
            registered_delivery=1,
            short_message=b"to both",
        )
    )
    assert isinstance(multi, pdu.SubmitMultiResp) and multi.command_status == S.ESME_ROK
    reports = [await esme.report(), await esme.report()]
    assert sorted(r.source_addr for r in reports) == ["48600111222", "48600111333"]


async def test_enquire_link_and_unbind(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    assert isinstance(await esme.request(pdu.EnquireLink()), pdu.EnquireLinkResp)
    assert isinstance(await esme.request(pdu.Unbind()), pdu.UnbindResp)
    assert await esme.closed()


async def test_a_slow_smsc_still_answers_in_order(sim) -> None:
    sim.config.response_delay = 0.05
    esme = await Esme.connect(sim)
    await esme.bind()
    for _ in range(3):
        esme.send(pdu.EnquireLink())
    assert [(await esme.next()).sequence_number for _ in range(3)] == [2, 3, 4]


async def test_the_http_endpoint_injects_mos_and_refuses_bad_requests(sim) -> None:
    esme = await Esme.connect(sim)
    await esme.bind()
    base = f"http://127.0.0.1:{sim.http_port}"
    async with httpx.AsyncClient(base_url=base) as http:
        sent = await http.post("/mo", json={"from": "+48600111222", "to": "4000", "text": "STOP"})
        assert sent.status_code == 202
        assert sent.json() == {"parts": 1, "delivered": True}
        missing = await http.post("/mo", json={"from": "+48600111222", "to": "4000"})
        assert missing.status_code == 400 and '"text"' in missing.json()["error"]
        broken = await http.post("/mo", content=b"{not json")
        assert broken.status_code == 400 and "not JSON" in broken.json()["error"]
        fault = await http.post("/faults", json={"throttle_fraction": "lots"})
        assert fault.status_code == 400 and "throttle_fraction" in fault.json()["error"]
        assert (await http.post("/faults", json={"throttle_fraction": 1})).status_code == 200
        assert (await http.get("/nowhere")).status_code == 404
        stats = (await http.get("/stats")).json()
    assert stats["mo_parts_sent"] == 1 and stats["bound_sessions"] == 1
    assert (await esme.report()).short_message == b"STOP"
    assert (await esme.request(submit())).command_status == S.ESME_RTHROTTLED
