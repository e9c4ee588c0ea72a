"""The simulator's fast paths write and read exactly what the PDU codec does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.channels.simulator import dlr
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import MessageState

ADDRESSES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=20)
STATES = st.sampled_from([int(s) for s in MessageState])


@settings(max_examples=200, deadline=None)
@given(
    report_id=st.text("0123456789abcdefABCDEF", min_size=1, max_size=40),
    sender=st.tuples(st.integers(0, 6), st.integers(0, 18), ADDRESSES),
    recipient=st.tuples(st.integers(0, 6), st.integers(0, 18), ADDRESSES),
    text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20),
    state=STATES,
    submitted_at=st.floats(1.6e9, 1.9e9),
    delay=st.floats(0, 86400 * 3),
)
def test_a_report_is_the_codecs_deliver_sm(
    report_id: str,
    sender: tuple[int, int, str],
    recipient: tuple[int, int, str],
    text: str,
    state: int,
    submitted_at: float,
    delay: float,
) -> None:
    message = dlr.Submitted(
        report_id, report_id, "smscast", 1, submitted_at, sender, recipient, text
    )
    done_at = submitted_at + delay
    assert dlr.encode_report(message, state, done_at) == (
        dlr.build_report(message, state, done_at).encode()
    )


def test_a_report_to_an_address_too_long_for_deliver_sm_is_refused_by_the_codec() -> None:
    message = dlr.Submitted("1", "1", None, 1, 1.7e9, (1, 1, "9" * 40), (1, 1, "48600"), "")
    try:
        dlr.encode_report(message, MessageState.DELIVERED, 1.7e9)
    except pdu.PduError as exc:
        assert "destination_addr" in str(exc)
    else:
        raise AssertionError("a 40-digit address went into a 21-octet field")


@settings(max_examples=200, deadline=None)
@given(
    source=st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=20),
    destination=st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=20),
    esm_class=st.integers(0, 255),
    registered=st.integers(0, 255),
    data_coding=st.sampled_from([0, 3, 8, 0xF0]),
    short_message=st.binary(max_size=254),
    sequence=st.integers(1, 0x7FFFFFFF),
    tlvs=st.sampled_from([{}, {0x020C: b"\x00\x01"}]),
)
def test_a_plain_submit_sm_reads_as_the_codec_reads_it(
    source: str,
    destination: str,
    esm_class: int,
    registered: int,
    data_coding: int,
    short_message: bytes,
    sequence: int,
    tlvs: dict[int, bytes],
) -> None:
    frame = pdu.SubmitSm(
        sequence_number=sequence,
        source_addr_ton=5,
        source_addr=source,
        destination_addr=destination,
        dest_addr_ton=1,
        dest_addr_npi=1,
        esm_class=esm_class,
        registered_delivery=registered,
        data_coding=data_coding,
        short_message=short_message,
        tlvs=tlvs,
    ).encode()
    fields = pdu.read_short_message(frame)
    if tlvs:
        assert fields is None  # TLVs are the full decoder's to check
        return
    decoded = pdu.decode(frame)
    assert isinstance(decoded, pdu.SubmitSm)
    assert fields == (
        decoded.sequence_number,
        decoded.source_addr_ton,
        decoded.source_addr_npi,
        decoded.source_addr,
        decoded.dest_addr_ton,
        decoded.dest_addr_npi,
        decoded.destination_addr,
        decoded.esm_class,
        decoded.registered_delivery,
        decoded.data_coding,
        decoded.short_message,
    )


def test_a_submit_sm_whose_lengths_disagree_is_left_to_the_codec() -> None:
    frame = pdu.SubmitSm(destination_addr="48600", short_message=b"hello").encode()
    assert pdu.read_short_message(frame[:-1]) is None  # short_message cut short
    assert pdu.read_short_message(frame + b"\0") is None  # a stray octet after it
    longer = (len(frame) + 1).to_bytes(4, "big") + frame[4:]
    assert pdu.read_short_message(longer) is None  # command_length says otherwise
