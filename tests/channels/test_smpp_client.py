"""The SMPP connector against a scripted SMSC on a loopback socket.

The scripted peer answers the way a test tells it to (refuse, throttle, stay
silent, answer late, send a report before the submit_sm_resp, write garbage),
and records every PDU it received, so each test checks what a user of the
connector would notice: the results, the events, and what went over the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    LogEntry,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
)
from smscast.channels.smpp import pdu
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.compose import (
    compose_parts,
    source_address,
    submit_frame,
    validity_period,
)
from smscast.channels.smpp.constants import CommandStatus, Tag
from smscast.channels.smpp.settings import BindMode, IdFormat, SmppSettings
from smscast.channels.smpp.window import MAX_SEQUENCE, Window

Handler = Callable[["Peer", pdu.Pdu], Any]


@dataclass
class Peer:
    """One connection to the scripted SMSC."""

    writer: asyncio.StreamWriter
    received: list[pdu.Pdu] = field(default_factory=list)

    def send(self, p: pdu.Pdu) -> None:
        self.writer.write(p.encode())

    def raw(self, data: bytes) -> None:
        self.writer.write(data)


class ScriptedSmsc:
    """A loopback SMSC whose answer to each PDU is decided by `on_submit`."""

    def __init__(self) -> None:
        self.peers: list[Peer] = []
        self.on_submit: Handler = ScriptedSmsc.accept
        self.bind_status = 0
        self.answer_enquire = True
        self.next_id = 0xABC000
        self.server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def all_received(self) -> list[pdu.Pdu]:
        return [p for peer in self.peers for p in peer.received]

    def submits(self) -> list[pdu.SubmitSm]:
        return [p for p in self.all_received() if isinstance(p, pdu.SubmitSm)]

    def message_id(self) -> str:
        self.next_id += 1
        return format(self.next_id, "X")

    @staticmethod
    def accept(peer: Peer, submit: pdu.Pdu) -> str:
        smsc = peer_owner[id(peer)]
        message_id = smsc.message_id()
        peer.send(pdu.SubmitSmResp(sequence_number=submit.sequence_number, message_id=message_id))
        return message_id

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(writer)
        peer_owner[id(peer)] = self
        self.peers.append(peer)
        framer = pdu.Framer()
        try:
            while data := await reader.read(65536):
                for frame in framer.feed(data):
                    try:
                        received = pdu.decode(frame)
                    except pdu.PduError:
                        continue
                    peer.received.append(received)
                    await self._answer(peer, received)
        finally:
            writer.close()

    async def _answer(self, peer: Peer, received: pdu.Pdu) -> None:
        if isinstance(received, pdu.BindTransceiver | pdu.BindTransmitter | pdu.BindReceiver):
            peer.send(received.response(status=self.bind_status, system_id="SCRIPTED"))
        elif isinstance(received, pdu.Unbind) or (
            isinstance(received, pdu.EnquireLink) and self.answer_enquire
        ):
            peer.send(received.response())
        elif isinstance(received, pdu.SubmitSm):
            result = self.on_submit(peer, received)
            if asyncio.iscoroutine(result):
                await result


peer_owner: dict[int, ScriptedSmsc] = {}


@pytest.fixture
async def smsc() -> AsyncIterator[ScriptedSmsc]:
    scripted = ScriptedSmsc()
    scripted.server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    yield scripted
    for peer in scripted.peers:
        peer.writer.close()
    scripted.server.close()


def settings_for(smsc: ScriptedSmsc, **changes: Any) -> SmppSettings:
    base = SmppSettings(
        name="test",
        port=smsc.port,
        system_id="esme1",
        password="s3cret",
        system_type="CMT",
        address_range="^4411",
        response_timeout_s=2.0,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    return replace(base, **changes)


@contextlib.asynccontextmanager
async def running(
    settings: SmppSettings, *, ack: bool = True
) -> AsyncIterator[tuple[SmppClient, list[Any]]]:
    """A bound client collecting its events; with `ack=False` the test acknowledges them."""
    client = SmppClient(settings)
    await client.start()
    events: list[Any] = []

    async def collect() -> None:
        # As the engine does: each report and text is acknowledged once it is "stored".
        async for event in client.events():
            events.append(event)
            if ack and getattr(event, "ack", None) is not None:
                event.ack()

    collector = asyncio.create_task(collect())
    try:
        yield client, events
    finally:
        await client.stop()
        await asyncio.wait_for(collector, 5)


def message(ref: int, text: str = "Hello from smscast") -> OutgoingMessage:
    return OutgoingMessage(ref=ref, sender="Shop", recipient="+48600100200", text=text)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits for something the peer or the connector will do (no timing asserted)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.005)


def deliver_receipt(seq: int, text: str, tlvs: dict[int, bytes] | None = None) -> pdu.DeliverSm:
    return pdu.DeliverSm(
        sequence_number=seq,
        source_addr="48600100200",
        destination_addr="Shop",
        esm_class=0x04,
        short_message=text.encode(),
        tlvs=tlvs or {},
    )


# --- binding ---------------------------------------------------------------------------


async def test_binds_as_configured_and_never_logs_the_password(smsc: ScriptedSmsc) -> None:
    settings = settings_for(smsc, bind_mode=BindMode.TRANSMITTER, bind_ton=1, bind_npi=1)
    async with running(settings) as (client, events):
        assert client.state().connected
    [bind] = [p for p in smsc.all_received() if isinstance(p, pdu.BindTransmitter)]
    assert (bind.system_id, bind.password, bind.system_type) == ("esme1", "s3cret", "CMT")
    assert (bind.address_range, bind.addr_ton, bind.addr_npi) == ("^4411", 1, 1)
    assert bind.interface_version == 0x34
    logs = [e for e in events if isinstance(e, LogEntry)]
    assert any(e.kind == "bind" for e in logs)
    assert not any("s3cret" in f"{e.request}{e.response}{e.error}" for e in logs)
    assert isinstance(smsc.all_received()[-1], pdu.Unbind)  # graceful unbind on stop


async def test_a_refused_bind_says_why(smsc: ScriptedSmsc) -> None:
    smsc.bind_status = CommandStatus.ESME_RINVPASWD
    with pytest.raises(ConnectionError, match="ESME_RINVPASWD"):
        await SmppClient(settings_for(smsc)).start()


async def test_a_receiver_does_not_send(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc, bind_mode=BindMode.RECEIVER)) as (client, _):
        [result] = await client.send([message(1)])
    assert result.outcome is SubmitOutcome.PERMANENT
    assert smsc.submits() == []
    assert any(isinstance(p, pdu.BindReceiver) for p in smsc.all_received())


# --- submitting ------------------------------------------------------------------------


async def test_every_part_is_submitted_and_accepted_with_carrier_ids(smsc: ScriptedSmsc) -> None:
    long_text = "Long message " * 30  # 390 GSM-7 characters: 3 parts
    async with running(settings_for(smsc)) as (client, _):
        results = await client.send([message(1), message(2, long_text)])
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2
    assert len(results[0].carrier_ids) == 1 and len(results[1].carrier_ids) == 3
    submits = smsc.submits()
    assert len(submits) == 4
    assert submits[0].short_message == b"Hello from smscast"
    assert (submits[0].source_addr, submits[0].source_addr_ton) == ("Shop", 5)
    assert (submits[0].destination_addr, submits[0].dest_addr_ton) == ("48600100200", 1)
    assert submits[0].registered_delivery == 1
    assert all(s.esm_class & 0x40 for s in submits[1:])  # UDH concatenation


async def test_sar_tlvs_and_ucs2_when_configured(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc, concat="sar", data_coding=8)) as (client, _):
        [result] = await client.send([message(1, "Zażółć gęślą jaźń " * 5)])
    assert result.outcome is SubmitOutcome.ACCEPTED
    submits = smsc.submits()
    assert len(submits) == 2
    assert all(s.data_coding == 8 and not s.esm_class & 0x40 for s in submits)
    assert [s.tlvs[Tag.SAR_SEGMENT_SEQNUM] for s in submits] == [b"\x01", b"\x02"]


async def test_the_window_bounds_submits_awaiting_answers(smsc: ScriptedSmsc) -> None:
    waiting: list[tuple[Peer, pdu.Pdu]] = []
    most = 0

    def hold(peer: Peer, submit: pdu.Pdu) -> None:
        nonlocal most
        waiting.append((peer, submit))
        most = max(most, len(waiting))
        if len(waiting) >= 4 or len(smsc.submits()) == 30:
            for p, s in waiting:
                ScriptedSmsc.accept(p, s)
            waiting.clear()

    smsc.on_submit = hold
    async with running(settings_for(smsc, window=4)) as (client, _):
        results = await client.send([message(i) for i in range(30)])
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    assert most == 4


async def test_a_permanent_refusal_fails_the_message_with_its_status_name(
    smsc: ScriptedSmsc,
) -> None:
    def refuse_second(peer: Peer, submit: pdu.Pdu) -> None:
        if len(smsc.submits()) == 2:
            peer.send(submit.response(status=CommandStatus.ESME_RINVDSTADR))
        else:
            ScriptedSmsc.accept(peer, submit)

    smsc.on_submit = refuse_second
    async with running(settings_for(smsc)) as (client, _):
        results = await client.send([message(1), message(2), message(3)])
    assert [r.outcome for r in results] == [
        SubmitOutcome.ACCEPTED,
        SubmitOutcome.PERMANENT,
        SubmitOutcome.ACCEPTED,
    ]
    assert results[1].error_code == "ESME_RINVDSTADR"


async def test_a_message_that_cannot_be_sent_fails_alone_and_never_reaches_the_wire(
    smsc: ScriptedSmsc,
) -> None:
    bad = replace(message(2), sender="A sender name far too long for SMPP")
    async with running(settings_for(smsc, window=2)) as (client, _):
        results = await client.send([message(1), bad, message(3), message(4, "")])
    assert [r.outcome for r in results] == [
        SubmitOutcome.ACCEPTED,
        SubmitOutcome.PERMANENT,
        SubmitOutcome.ACCEPTED,
        SubmitOutcome.PERMANENT,
    ]
    assert results[1].error_code == "invalid_pdu" and "source_addr" in (results[1].error or "")
    assert [s.short_message for s in smsc.submits()] == [b"Hello from smscast"] * 2


async def test_throttling_slows_down_and_retries_the_part(smsc: ScriptedSmsc) -> None:
    def throttle_twice(peer: Peer, submit: pdu.Pdu) -> None:
        if len(smsc.submits()) <= 2:
            peer.send(submit.response(status=CommandStatus.ESME_RTHROTTLED))
        else:
            ScriptedSmsc.accept(peer, submit)

    smsc.on_submit = throttle_twice
    async with running(settings_for(smsc, throttle_pause_s=0.05, rate=100)) as (client, events):
        [result] = await client.send([message(1)])
        assert client._submitter.bucket.current_rate < 100
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert len(smsc.submits()) == 3
    assert any(isinstance(e, LogEntry) and e.kind == "throttled" for e in events)


async def test_a_part_throttled_past_the_retries_is_temporary(smsc: ScriptedSmsc) -> None:
    smsc.on_submit = lambda peer, s: peer.send(s.response(status=CommandStatus.ESME_RMSGQFUL))
    settings = settings_for(smsc, throttle_pause_s=0.01, throttle_retries=2)
    async with running(settings) as (client, _):
        [result] = await client.send([message(1)])
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert result.error_code == "ESME_RMSGQFUL"
    assert result.retry_after is not None
    assert len(smsc.submits()) == 3


async def test_no_answer_makes_the_outcome_unknown_and_it_is_not_resent(
    smsc: ScriptedSmsc,
) -> None:
    smsc.on_submit = lambda peer, s: None
    async with running(settings_for(smsc, response_timeout_s=0.2)) as (client, events):
        [result] = await client.send([message(7)])
    assert result.outcome is SubmitOutcome.UNKNOWN
    assert result.error_code == "response_timeout"
    assert len(smsc.submits()) == 1
    unknown = [e for e in events if isinstance(e, LogEntry) and e.kind == "unknown_outcome"]
    assert unknown and unknown[0].refs == (7,)


async def test_a_late_answer_still_teaches_the_carrier_id(smsc: ScriptedSmsc) -> None:
    held: list[tuple[Peer, pdu.Pdu]] = []
    smsc.on_submit = lambda peer, s: held.append((peer, s))
    async with running(settings_for(smsc, response_timeout_s=0.2)) as (client, events):
        [result] = await client.send([message(7)])
        assert result.outcome is SubmitOutcome.UNKNOWN
        peer, submit = held[0]
        peer.send(submit.response(message_id="00FF"))
        peer.send(deliver_receipt(900, "id:00FF sub:001 dlvrd:001 stat:DELIVRD err:000"))
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
    [report] = [e for e in events if isinstance(e, DeliveryReport)]
    assert report.ref == 7
    assert any(isinstance(e, LogEntry) and e.kind == "late_response" for e in events)


async def test_disconnect_with_a_full_window_reports_unknown_then_reconnects(
    smsc: ScriptedSmsc,
) -> None:
    def drop_at_third(peer: Peer, submit: pdu.Pdu) -> None:
        if len(smsc.submits()) == 3:
            peer.writer.transport.abort()
        elif len(smsc.submits()) > 3:
            ScriptedSmsc.accept(peer, submit)

    smsc.on_submit = drop_at_third
    async with running(settings_for(smsc, window=3)) as (client, _):
        results = await client.send([message(i) for i in range(3)])
        assert {r.outcome for r in results} == {SubmitOutcome.UNKNOWN}
        await until(lambda: client.state().connected and len(smsc.peers) == 2)
        [again] = await client.send([message(9)])
    assert again.outcome is SubmitOutcome.ACCEPTED
    assert sum(isinstance(p, pdu.BindTransceiver) for p in smsc.all_received()) == 2


async def test_stop_waits_for_outstanding_answers_before_unbinding(smsc: ScriptedSmsc) -> None:
    held: list[tuple[Peer, pdu.Pdu]] = []
    smsc.on_submit = lambda peer, s: held.append((peer, s))
    client = SmppClient(settings_for(smsc))
    await client.start()
    sending = asyncio.create_task(client.send([message(1), message(2)]))
    await until(lambda: len(held) == 2)
    stopping = asyncio.create_task(client.stop())
    await asyncio.sleep(0.05)
    assert not any(isinstance(p, pdu.Unbind) for p in smsc.all_received())
    for peer, submit in held:
        ScriptedSmsc.accept(peer, submit)
    await stopping
    results = await sending
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2
    assert isinstance(smsc.all_received()[-1], pdu.Unbind)


async def test_enquire_link_both_ways(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc, enquire_link_s=0.05)) as (client, _):
        await until(lambda: any(isinstance(p, pdu.EnquireLink) for p in smsc.all_received()))
        smsc.peers[0].send(pdu.EnquireLink(sequence_number=4242))
        [result] = await client.send([message(1)])
    assert result.outcome is SubmitOutcome.ACCEPTED
    answers = [p for p in smsc.all_received() if isinstance(p, pdu.EnquireLinkResp)]
    assert [a.sequence_number for a in answers] == [4242]


async def test_a_silent_peer_is_dropped_and_reconnected(smsc: ScriptedSmsc) -> None:
    smsc.answer_enquire = False
    settings = settings_for(smsc, enquire_link_s=0.05, response_timeout_s=0.1)
    async with running(settings) as (_, events):
        await until(lambda: len(smsc.peers) >= 2)
    lost = [e for e in events if isinstance(e, LogEntry) and e.kind == "connection_lost"]
    assert lost and "enquire_link_resp" in (lost[0].error or "")


def test_sequence_numbers_wrap_to_one_and_skip_busy_ones() -> None:
    window: Window[str] = Window(size=10, first=MAX_SEQUENCE - 1)
    assert window.next_sequence() == MAX_SEQUENCE - 1
    window.add(MAX_SEQUENCE - 1, 0.0, "x")
    assert window.next_sequence() == MAX_SEQUENCE
    window.add(1, 0.0, "busy")
    assert window.next_sequence() == 2


# --- delivery reports ------------------------------------------------------------------


async def test_reports_are_matched_to_our_refs_across_hex_and_decimal(
    smsc: ScriptedSmsc,
) -> None:
    settings = settings_for(smsc, submit_id_format=IdFormat.HEX, report_id_format=IdFormat.DEC)
    async with running(settings) as (client, events):
        [result] = await client.send([message(5)])
        decimal_id = str(int(result.carrier_ids[0], 16))
        smsc.peers[0].send(
            deliver_receipt(
                77,
                f"id:000{decimal_id} sub:001 dlvrd:001 submit date:2403011200 "
                "done date:2403011201 stat:DELIVRD err:000 text:Hello",
            )
        )
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
    [report] = [e for e in events if isinstance(e, DeliveryReport)]
    assert (report.ref, report.state) == (5, ReportState.DELIVERED)
    assert report.carrier_id == result.carrier_ids[0]
    answers = [p for p in smsc.all_received() if isinstance(p, pdu.DeliverSmResp)]
    assert [(a.sequence_number, a.command_status) for a in answers] == [(77, 0)]


async def test_a_report_before_its_submit_answer_is_held_and_matched(
    smsc: ScriptedSmsc,
) -> None:
    def report_first(peer: Peer, submit: pdu.Pdu) -> None:
        tlvs: dict[int, bytes] = {
            Tag.RECEIPTED_MESSAGE_ID: pdu.tlv_cstring("9F"),
            Tag.MESSAGE_STATE: pdu.tlv_int(5, 1),
        }
        peer.send(deliver_receipt(1, "", tlvs))
        peer.send(submit.response(message_id="9f"))

    smsc.on_submit = report_first
    async with running(settings_for(smsc)) as (client, events):
        [result] = await client.send([message(11)])
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
    [report] = [e for e in events if isinstance(e, DeliveryReport)]
    assert result.carrier_ids == ("9f",)
    assert (report.ref, report.state, report.carrier_id) == (11, ReportState.UNDELIVERED, "9f")


async def test_a_report_for_a_message_we_never_sent_goes_out_unmatched(
    smsc: ScriptedSmsc,
) -> None:
    async with running(settings_for(smsc)) as (_, events):
        smsc.peers[0].send(deliver_receipt(3, "id:DEAD stat:EXPIRED err:012"))
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
    [report] = [e for e in events if isinstance(e, DeliveryReport)]
    assert (report.ref, report.carrier_id, report.state) == (None, "dead", ReportState.EXPIRED)
    assert report.error_code == "012"
    assert any(isinstance(e, LogEntry) and e.kind == "report_unmatched" for e in events)


async def test_a_receiver_bind_passes_reports_on_without_a_log_line_each(
    smsc: ScriptedSmsc,
) -> None:
    """It sent nothing, so no report can match here (`smscast worker --role receive`):
    every report goes to the engine, and the connector log is not filled with them."""
    async with running(settings_for(smsc, bind_mode=BindMode.RECEIVER)) as (_, events):
        smsc.peers[0].send(deliver_receipt(3, "id:DEAD stat:DELIVRD err:000"))
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
    [report] = [e for e in events if isinstance(e, DeliveryReport)]
    assert (report.ref, report.carrier_id, report.state) == (None, "dead", ReportState.DELIVERED)
    assert not [e for e in events if isinstance(e, LogEntry) and e.kind == "report_unmatched"]


# --- inbound ---------------------------------------------------------------------------


def mo(
    seq: int, payload: bytes, *, udhi: bool = False, coding: int = 0, **tlvs: bytes
) -> pdu.DeliverSm:
    return pdu.DeliverSm(
        sequence_number=seq,
        source_addr="48600100200",
        destination_addr="4411",
        esm_class=0x40 if udhi else 0,
        data_coding=coding,
        short_message=payload,
        tlvs={getattr(Tag, k.upper()): v for k, v in tlvs.items()},
    )


async def test_inbound_parts_in_any_order_become_one_message(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc)) as (_, events):
        peer = smsc.peers[0]
        peer.send(mo(1, b"single"))
        peer.send(mo(2, bytes([5, 0, 3, 0x21, 2, 2]) + b" world", udhi=True))
        peer.send(mo(3, bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"16-bit", udhi=True))
        peer.send(mo(4, bytes([5, 0, 3, 0x21, 2, 1]) + b"Hello", udhi=True))
        peer.send(mo(5, bytes([6, 8, 4, 0x12, 0x34, 2, 2]) + b" reference", udhi=True))
        peer.send(
            mo(
                6,
                "część".encode("utf-16-be"),
                coding=8,
                sar_msg_ref_num=b"\x00\x07",
                sar_total_segments=b"\x02",
                sar_segment_seqnum=b"\x02",
            )
        )
        peer.send(
            mo(
                7,
                "SAR ".encode("utf-16-be"),
                coding=8,
                sar_msg_ref_num=b"\x00\x07",
                sar_total_segments=b"\x02",
                sar_segment_seqnum=b"\x01",
            )
        )
        await until(lambda: sum(isinstance(e, InboundMessage) for e in events) == 4)
    texts = [e.text for e in events if isinstance(e, InboundMessage)]
    assert texts == ["single", "Hello world", "16-bit reference", "SAR część"]


async def test_parts_that_never_come_still_deliver_what_arrived(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc, mo_part_timeout_s=0.1)) as (_, events):
        smsc.peers[0].send(mo(1, bytes([5, 0, 3, 9, 3, 1]) + b"first ", udhi=True))
        smsc.peers[0].send(mo(2, bytes([5, 0, 3, 9, 3, 3]) + b" third", udhi=True))
        await until(lambda: any(isinstance(e, InboundMessage) for e in events))
    [inbound] = [e for e in events if isinstance(e, InboundMessage)]
    assert inbound.text == "first [\u2026] third"
    assert inbound.parts == 3
    assert any(isinstance(e, LogEntry) and e.kind == "incomplete_inbound" for e in events)


async def test_invalid_utf16_is_acknowledged_logged_and_kept(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc)) as (_, events):
        smsc.peers[0].send(mo(1, b"\xd8\x00\x00A", coding=8))  # a lone high surrogate
        smsc.peers[0].send(mo(2, b"next"))
        await until(lambda: sum(isinstance(e, InboundMessage) for e in events) == 2)
    texts = [e.text for e in events if isinstance(e, InboundMessage)]
    assert texts == ["\ufffdA", "next"]
    assert any(isinstance(e, LogEntry) and e.kind == "bad_inbound" for e in events)
    answers = [p for p in smsc.all_received() if isinstance(p, pdu.DeliverSmResp)]
    assert [a.command_status for a in answers] == [0, 0]


# --- bad input on the wire -------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "status"),
    [
        (b"\xff\xff\xff\xff" + b"\x00" * 12, CommandStatus.ESME_RINVCMDLEN),  # 4 GB length
        (
            pdu.GenericNack(sequence_number=5).encode()[:4] + b"\x00\x00\x07\x77" + bytes(8),
            CommandStatus.ESME_RINVCMDID,
        ),  # unknown command id
        (b"\x13\x37garbage bytes\x00\x01", CommandStatus.ESME_RINVCMDLEN),
    ],
)
async def test_garbage_mid_stream_gets_generic_nack_and_the_session_survives(
    smsc: ScriptedSmsc, garbage: bytes, status: int
) -> None:
    def garbage_first(peer: Peer, submit: pdu.Pdu) -> None:
        peer.raw(garbage)
        ScriptedSmsc.accept(peer, submit)

    smsc.on_submit = garbage_first
    async with running(settings_for(smsc)) as (client, events):
        results = await client.send([message(1), message(2)])
        await until(lambda: sum(isinstance(p, pdu.GenericNack) for p in smsc.all_received()) >= 2)
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2
    assert len(smsc.peers) == 1  # the same connection all along
    nacks = [p for p in smsc.all_received() if isinstance(p, pdu.GenericNack)]
    assert {n.command_status for n in nacks} == {status}
    assert any(isinstance(e, LogEntry) and e.kind == "malformed_pdu" for e in events)


async def test_a_pdu_cut_inside_its_mandatory_fields_is_nacked(smsc: ScriptedSmsc) -> None:
    cut = pdu.GenericNack(sequence_number=31).encode()[:16]
    cut = (19).to_bytes(4, "big") + (0x00000005).to_bytes(4, "big") + cut[8:] + b"abc"
    async with running(settings_for(smsc)) as (client, _):
        smsc.peers[0].raw(cut)
        [result] = await client.send([message(1)])
        await until(lambda: any(isinstance(p, pdu.GenericNack) for p in smsc.all_received()))
    [nack] = [p for p in smsc.all_received() if isinstance(p, pdu.GenericNack)]
    assert (nack.sequence_number, nack.command_status) == (31, CommandStatus.ESME_RINVCMDLEN)
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_a_malformed_deliver_sm_is_nacked_and_the_next_one_works(
    smsc: ScriptedSmsc,
) -> None:
    good = mo(8, b"fine").encode()
    bad = bytearray(mo(7, b"x", message_state=b"\x02").encode())
    bad[-3:-1] = b"\x00\x05"  # message_state TLV claims 5 octets: wrong TLV length
    bad = bad + b"\x00" * 4
    bad[0:4] = len(bad).to_bytes(4, "big")
    async with running(settings_for(smsc)) as (_, events):
        smsc.peers[0].raw(bytes(bad) + good)
        await until(lambda: any(isinstance(e, InboundMessage) for e in events))
        await until(lambda: any(isinstance(p, pdu.GenericNack) for p in smsc.all_received()))
    [nack] = [p for p in smsc.all_received() if isinstance(p, pdu.GenericNack)]
    assert nack.sequence_number == 7
    assert [e.text for e in events if isinstance(e, InboundMessage)] == ["fine"]


# --- what goes into submit_sm ----------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("+48500600700", (1, 1, "48500600700")),
        ("4411", (3, 0, "4411")),
        ("48500600700", (1, 1, "48500600700")),
        ("Shop", (5, 0, "Shop")),
    ],
)
def test_sender_ton_and_npi_follow_the_kind_of_sender(
    sender: str, expected: tuple[int, int, str]
) -> None:
    assert source_address(sender, SmppSettings()) == expected
    assert source_address(sender, SmppSettings(source_ton=2, source_npi=9))[:2] == (2, 9)


def test_validity_is_relative_from_the_connector_or_absolute_from_the_message() -> None:
    assert validity_period(None, None) == ""
    assert validity_period(None, 2 * 86400 + 3723) == "000002010203000R"
    deadline = datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    assert validity_period(deadline, 60) == "260301123000000+"


def test_latin1_connectors_fall_back_to_ucs2_for_other_scripts() -> None:
    settings = SmppSettings(data_coding=3)
    [latin] = compose_parts(message(1, "Café olé"), settings, 1)
    [cyrillic] = compose_parts(message(2, "Привет"), settings, 2)
    assert pdu.decode(submit_frame(latin, 1)).data_coding == 3  # type: ignore[attr-defined]
    assert pdu.decode(submit_frame(cyrillic, 1)).data_coding == 8  # type: ignore[attr-defined]


def test_no_report_is_asked_for_when_the_message_does_not_want_one() -> None:
    quiet = OutgoingMessage(1, "Shop", "+48600100200", "psst", want_report=False)
    [body] = compose_parts(quiet, SmppSettings(), 1)
    assert pdu.decode(submit_frame(body, 9)).registered_delivery == 0  # type: ignore[attr-defined]
