"""What a deliver_sm becomes: a delivery report for one of our messages, or an inbound text.

Reports are matched to our message refs by normalised carrier id (held a while
when they beat their submit_sm_resp); inbound parts are decoded by the message
core and reassembled across deliver_sm. Each event carries the `ack` of every
deliver_sm it came from: the engine calls it once the event is stored, and only then
is the deliver_sm answered. A deliver_sm we cannot read is acknowledged at once (the
SMSC would otherwise redeliver it forever) and logged with what was wrong; an
inbound text is delivered as well as it can be read rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from smscast.channels.base import Ack, ChannelEvent, DeliveryReport, InboundMessage
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import ESM_TYPE_MASK, ESM_UDHI, Tag
from smscast.channels.smpp.dlr import ReadReport, ReportError, normalise_id, read_report
from smscast.channels.smpp.matching import ReportMatcher
from smscast.channels.smpp.reassembly import Incomplete, ReassemblyBuffer
from smscast.channels.smpp.settings import BindMode, IdFormat, SmppSettings
from smscast.core.errors import UserError
from smscast.core.parts import DC_UCS2, DecodedPart, decode_short_message, reassemble

# esm_class message types that carry a report rather than a text (SMPP 3.4 5.2.12).
_REPORT_TYPES = frozenset({0x04, 0x08, 0x10, 0x20})
# Plain ints: read for every report, and an enum member lookup costs more than the dict's.
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_MESSAGE_STATE = int(Tag.MESSAGE_STATE)
_NETWORK_ERROR_CODE = int(Tag.NETWORK_ERROR_CODE)
_MESSAGE_PAYLOAD = int(Tag.MESSAGE_PAYLOAD)

Emit = Callable[[ChannelEvent], None]
OnLog = Callable[[str, str, str], None]  # kind, detail, raw


class Receiver:
    """Turns deliver_sm into DeliveryReport and InboundMessage events."""

    def __init__(
        self,
        settings: SmppSettings,
        emit: Emit,
        on_log: OnLog,
        awaiting_ids: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.awaiting_ids = awaiting_ids
        self.emit = emit
        self.on_log = on_log
        self.matcher: ReportMatcher[DeliveryReport] = ReportMatcher(
            settings.report_hold_s, settings.report_match_s
        )
        self.parts: ReassemblyBuffer[tuple[DecodedPart, datetime, Ack]] = ReassemblyBuffer(
            settings.mo_part_timeout_s
        )
        self.link = ""  # the current bind, set by the client; texts carry it

    def normalise_submit_id(self, raw: str) -> str:
        return normalise_id(raw, self.settings.submit_id_format)

    def on_accepted(self, carrier_id: str, ref: int, now: float) -> None:
        """A submit_sm_resp told us an id: release any report that came before it."""
        for early in self.matcher.remember(carrier_id, ref, now):
            self.emit(_with_ref(early, ref))

    def on_deliver(self, deliver: pdu.DeliverSm, now: float, ack: Ack) -> bool:
        """Emits (or holds) what `deliver` carries; False when nothing carries `ack`,
        so the deliver_sm is answered at once."""
        is_report = (deliver.esm_class & ESM_TYPE_MASK) in _REPORT_TYPES or (
            _RECEIPTED_MESSAGE_ID in deliver.tlvs
        )
        if is_report:
            return self._report(deliver, now, ack)
        return self._inbound(deliver, now, datetime.now(UTC), ack)

    def expire(self, now: float) -> None:
        for report in self.matcher.expire(now):
            self._emit_unmatched(report)
        for late in self.parts.expire(now):
            self._emit_incomplete(late)

    # --- delivery reports -------------------------------------------------------------

    def _report(self, deliver: pdu.DeliverSm, now: float, ack: Ack) -> bool:
        tlvs = deliver.tlvs
        text = (deliver.short_message or tlvs.get(_MESSAGE_PAYLOAD, b"")).decode("latin-1")
        state = tlvs.get(_MESSAGE_STATE)
        try:
            read = read_report(
                text,
                receipted_id=pdu.read_tlv_cstring(tlvs, _RECEIPTED_MESSAGE_ID),
                message_state=None if state is None else int.from_bytes(state, "big"),
                network_error=tlvs.get(_NETWORK_ERROR_CODE),
            )
        except ReportError as exc:
            self.on_log("bad_report", str(exc), text)
            return False
        carrier_id = self._carrier_id(read)
        ref = self.matcher.ref_for(carrier_id)
        if ref is not None:
            self.emit(_event(read, carrier_id, ref, ack))
        elif self.awaiting_ids():
            # Its submit_sm_resp may still be on the way: hold it rather than lose the ref.
            self.matcher.hold(carrier_id, _event(read, carrier_id, None, ack), now)
        else:
            self._emit_unmatched(_event(read, carrier_id, None, ack))
        return True

    def _emit_unmatched(self, report: DeliveryReport) -> None:
        if self.settings.bind_mode is BindMode.RECEIVER:
            # A receiver bind sent nothing, so no report of its can match here: each is
            # matched by carrier id in the engine, and a log line apiece says nothing.
            self.emit(report)
            return
        self.on_log(
            "report_unmatched",
            f"delivery report for carrier id {report.carrier_id} matches no message this "
            "connector sent recently; passed on to be matched by carrier id",
            report.raw,
        )
        self.emit(report)

    def _carrier_id(self, read: ReadReport) -> str:
        settings = self.settings
        try:
            return normalise_id(
                read.carrier_id, settings.report_id_format, settings.submit_id_format
            )
        except ValueError as exc:
            self.on_log("bad_message_id", f"delivery report: {exc}", read.raw)
            return normalise_id(read.carrier_id, IdFormat.TEXT)

    # --- inbound texts ----------------------------------------------------------------

    def _inbound(self, deliver: pdu.DeliverSm, now: float, wall: datetime, ack: Ack) -> bool:
        payload = deliver.short_message or deliver.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
        udhi = bool(deliver.esm_class & ESM_UDHI)
        try:
            part = decode_short_message(payload, data_coding=deliver.data_coding, udhi=udhi)
        except UserError as exc:
            self.on_log("bad_inbound", f"from {deliver.source_addr}: {exc}", payload.hex())
            part = DecodedPart(_best_effort(payload, deliver.data_coding), None)
        sar = _sar(deliver.tlvs)
        if sar is not None and part.concat is None:
            part = DecodedPart(part.text, sar)
        sender, recipient = deliver.source_addr, deliver.destination_addr
        if part.concat is None or part.concat[1] == 1:
            self.emit(InboundMessage(sender, recipient, reassemble([part]), wall, ack=ack,
                                     link=self.link))  # fmt: skip
            return True
        reference, total, seq = part.concat
        key = (sender, recipient, reference, total)
        if self.parts.holds(key, seq):
            return False  # a part the carrier sent again: the first one's event answers for it
        done = self.parts.add(key, seq, (part, wall, ack), now)
        if done is None:
            return True
        try:
            text = reassemble([p for p, _, _ in done])
        except UserError as exc:
            self.on_log("bad_inbound", f"from {sender}: {exc}", "")
            text = _join_best_effort([p.text for p, _, _ in done])
        acks = _all_of([a for _, _, a in done])
        self.emit(InboundMessage(sender, recipient, text, done[0][1], parts=total, ack=acks,
                                 link=self.link))  # fmt: skip
        return True

    def _emit_incomplete(self, late: Incomplete[tuple[DecodedPart, datetime, Ack]]) -> None:
        sender, recipient, reference, total = late.key
        missing = ", ".join(str(m) for m in late.missing)
        self.on_log(
            "incomplete_inbound",
            f"from {sender}: part(s) {missing} of {total} (reference {reference}) never came; "
            "delivering what arrived",
            "",
        )
        texts: list[str] = []
        by_seq = {p.concat[2]: p.text for p, _, _ in late.parts if p.concat is not None}
        for seq in range(1, total + 1):
            texts.append(by_seq.get(seq, "[…]"))
        self.emit(
            InboundMessage(
                sender,
                recipient,
                _join_best_effort(texts),
                late.parts[0][1],
                parts=total,
                ack=_all_of([a for _, _, a in late.parts]),
                link=self.link,
            )
        )


def _event(read: ReadReport, carrier_id: str, ref: int | None, ack: Ack) -> DeliveryReport:
    return DeliveryReport(carrier_id, read.state, ref, read.error_code, read.done_at, read.raw, ack)


def _with_ref(report: DeliveryReport, ref: int) -> DeliveryReport:
    return DeliveryReport(
        report.carrier_id,
        report.state,
        ref,
        report.error_code,
        report.done_at,
        report.raw,
        report.ack,
    )


def _all_of(acks: list[Ack]) -> Ack:
    """One ack for a text that came in several deliver_sm: answers every one of them."""

    def ack() -> None:
        for each in acks:
            each()

    return ack


def _sar(tlvs: dict[int, bytes]) -> tuple[int, int, int] | None:
    ref = pdu.read_tlv_int(tlvs, Tag.SAR_MSG_REF_NUM)
    total = pdu.read_tlv_int(tlvs, Tag.SAR_TOTAL_SEGMENTS)
    seq = pdu.read_tlv_int(tlvs, Tag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None or not 1 <= seq <= total:
        return None
    return ref, total, seq


def _best_effort(payload: bytes, data_coding: int) -> str:
    if data_coding == DC_UCS2:
        return payload[: len(payload) // 2 * 2].decode("utf-16-be", "replace")
    return payload.decode("latin-1")


def _join_best_effort(texts: list[str]) -> str:
    """Joins part texts, pairing surrogate halves split at cuts and replacing lone ones."""
    return "".join(texts).encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
