"""Properties of the codec that must hold for every input, not just the ones we thought of."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandStatus
from smscast.channels.smpp.wire import _decode_layout, _encode_layout

octet = st.integers(0, 255)


def cstring(max_chars: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_chars)


submit_sms = st.builds(
    pdu.SubmitSm,
    sequence_number=st.integers(0, 0x7FFFFFFF),
    service_type=cstring(5),
    source_addr_ton=octet,
    source_addr_npi=octet,
    source_addr=cstring(20),
    dest_addr_ton=octet,
    dest_addr_npi=octet,
    destination_addr=cstring(20),
    esm_class=octet,
    protocol_id=octet,
    priority_flag=octet,
    schedule_delivery_time=cstring(16),
    validity_period=cstring(16),
    registered_delivery=octet,
    replace_if_present_flag=octet,
    data_coding=octet,
    sm_default_msg_id=octet,
    short_message=st.binary(max_size=254),
    tlvs=st.dictionaries(st.integers(0x1400, 0x3FFF), st.binary(max_size=40), max_size=4),
)


@given(submit_sms)
def test_submit_sm_reads_back_as_written(message: pdu.SubmitSm) -> None:
    assert pdu.decode(message.encode()) == message


@given(submit_sms)
def test_the_fast_submit_sm_codec_writes_what_the_table_driven_one_writes(
    message: pdu.SubmitSm,
) -> None:
    body = _encode_layout(message, message.layout)
    assert message._encode_body() == body
    wire = message.encode()
    values, _ = _decode_layout(pdu.SubmitSm, pdu.SubmitSm.layout, wire, 16)
    assert values == {name: getattr(message, name) for name, _, _ in message.layout}


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_pdu_or_a_decode_error(data: bytes) -> None:
    try:
        decoded = pdu.decode(data)
    except pdu.PduError as error:
        assert str(error)
        assert error.status != CommandStatus.ESME_ROK
    else:
        assert isinstance(decoded, pdu.Pdu)


known_ids = st.sampled_from(
    [0x1, 0x2, 0x3, 0x4, 0x5, 0x7, 0x8, 0x9, 0xB, 0x21, 0x102, 0x103]
    + [0x80000000 | n for n in (0x1, 0x2, 0x3, 0x4, 0x5, 0x21, 0x103)]
)


@settings(max_examples=1000)
@given(known_ids, st.binary(max_size=200))
def test_any_body_of_a_known_command_gives_a_pdu_or_a_decode_error(
    command_id: int, body: bytes
) -> None:
    wire = struct.pack(">IIII", 16 + len(body), command_id, 0, 99) + body
    try:
        decoded = pdu.decode(wire)
    except pdu.PduError as error:
        assert error.command_id == command_id
        assert error.sequence_number == 99
    else:
        assert decoded.command_id == command_id


@given(st.lists(submit_sms, min_size=1, max_size=5), st.data())
def test_the_framer_finds_every_pdu_however_the_stream_is_cut(
    messages: list[pdu.SubmitSm], data: st.DataObject
) -> None:
    stream = pdu.encode_all(messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    framer = pdu.Framer()
    frames = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        frames += framer.feed(stream[start:end])
    assert [pdu.decode(f) for f in frames] == messages
    assert framer.pending == 0 and framer.error is None


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_the_framer_never_raises_and_never_holds_more_than_one_pdu(chunks: list[bytes]) -> None:
    framer = pdu.Framer(max_length=1024)
    for chunk in chunks:
        for frame in framer.feed(chunk):
            assert 16 <= len(frame) <= 1024
        assert framer.pending < 1024


def test_a_4_gb_command_length_is_refused_on_its_first_four_octets() -> None:
    framer = pdu.Framer()
    link = pdu.EnquireLink(sequence_number=1).encode()
    assert framer.feed(link + b"\xff\xff\xff\xff") == [link]
    assert framer.error is not None
    assert framer.error.status == CommandStatus.ESME_RINVCMDLEN
    assert "4294967295" in str(framer.error)
    assert framer.feed(link) == []


def test_a_command_length_under_the_header_size_is_refused_with_its_sequence() -> None:
    framer = pdu.Framer()
    assert framer.feed(struct.pack(">IIII", 8, 4, 0, 31)) == []
    assert framer.error is not None
    assert framer.error.sequence_number == 31
    assert "shorter than the 16-octet header" in str(framer.error)


def test_a_pdu_trickling_in_one_octet_at_a_time_comes_out_whole() -> None:
    message = pdu.SubmitSm(destination_addr="48600111222", short_message=b"x" * 200)
    wire = message.encode()
    framer = pdu.Framer()
    out = []
    for index in range(len(wire)):
        out += framer.feed(wire[index : index + 1])
    assert out == [wire]
