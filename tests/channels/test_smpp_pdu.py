"""The SMPP 3.4 codec against hand-assembled wire bytes, and its answers to bad PDUs."""

from __future__ import annotations

import struct

import pytest

from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandId, CommandStatus, MessageState, Tag


def header(length: int, command_id: int, status: int = 0, sequence: int = 1) -> bytes:
    return struct.pack(">IIII", length, command_id, status, sequence)


def frame(command_id: int, body: bytes, status: int = 0, sequence: int = 1) -> bytes:
    return header(16 + len(body), command_id, status, sequence) + body


SUBMIT_BODY = (
    b"CMT\0"  # service_type
    + b"\x05\x00"  # source TON alphanumeric, NPI unknown
    + b"Shop\0"
    + b"\x01\x01"  # destination TON international, NPI ISDN
    + b"48600111222\0"
    + b"\x40\x00\x01"  # esm_class UDHI, protocol_id, priority_flag
    + b"\0"  # schedule_delivery_time
    + b"000001000000000R\0"  # validity_period (relative, one day)
    + b"\x01\x00\x08\x00"  # registered_delivery, replace_if_present, data_coding UCS2, default id
    + b"\x04"
    + b"\x00h\x00i"  # short_message "hi" in UCS-2
    + b"\x02\x0c\x00\x02\x12\x34"  # sar_msg_ref_num 0x1234
    + b"\x14\x00\x00\x03abc"  # a vendor TLV nobody here knows
)


def test_submit_sm_is_read_field_by_field_from_the_wire() -> None:
    got = pdu.decode(frame(CommandId.SUBMIT_SM, SUBMIT_BODY, sequence=77))
    assert isinstance(got, pdu.SubmitSm)
    assert got.sequence_number == 77
    assert (got.service_type, got.source_addr_ton, got.source_addr) == ("CMT", 5, "Shop")
    assert (got.dest_addr_ton, got.dest_addr_npi, got.destination_addr) == (1, 1, "48600111222")
    assert (got.esm_class, got.priority_flag) == (0x40, 1)
    assert got.schedule_delivery_time == ""
    assert got.validity_period == "000001000000000R"
    assert (got.registered_delivery, got.data_coding) == (1, 8)
    assert got.short_message == "hi".encode("utf-16-be")
    assert got.tlvs == {Tag.SAR_MSG_REF_NUM: b"\x12\x34", 0x1400: b"abc"}
    assert pdu.read_tlv_int(got.tlvs, Tag.SAR_MSG_REF_NUM) == 0x1234


def test_submit_sm_is_written_octet_for_octet_as_the_specification_lays_it_out() -> None:
    built = pdu.SubmitSm(
        sequence_number=77,
        service_type="CMT",
        source_addr_ton=5,
        source_addr="Shop",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr="48600111222",
        esm_class=0x40,
        priority_flag=1,
        validity_period="000001000000000R",
        registered_delivery=1,
        data_coding=8,
        short_message="hi".encode("utf-16-be"),
        tlvs={Tag.SAR_MSG_REF_NUM: pdu.tlv_int(0x1234, 2), 0x1400: b"abc"},
    )
    assert built.encode() == frame(CommandId.SUBMIT_SM, SUBMIT_BODY, sequence=77)


def test_a_response_carries_the_sequence_number_of_its_request() -> None:
    request = pdu.SubmitSm(sequence_number=9, destination_addr="1")
    response = request.response(message_id="5f3a")
    assert response.encode() == frame(CommandId.SUBMIT_SM_RESP, b"5f3a\0", sequence=9)
    nack = request.response(CommandStatus.ESME_RTHROTTLED)
    # An error response goes without a body, as the specification has it.
    assert nack.encode() == header(16, CommandId.SUBMIT_SM_RESP, 0x58, 9)


@pytest.mark.parametrize(
    "message",
    [
        pdu.BindTransmitter(system_id="smscast", password="secret", system_type="VMA"),
        pdu.BindReceiver(system_id="r", addr_ton=1, addr_npi=1, address_range="^48"),
        pdu.BindTransceiver(system_id="t", password="12345678"),
        pdu.BindTransceiverResp(system_id="SMSC", tlvs={Tag.SC_INTERFACE_VERSION: b"\x34"}),
        pdu.BindTransmitterResp(system_id="SMSC"),
        pdu.BindReceiverResp(command_status=CommandStatus.ESME_RINVPASWD),
        pdu.Outbind(system_id="SMSC", password="pw"),
        pdu.Unbind(sequence_number=3),
        pdu.UnbindResp(sequence_number=3),
        pdu.GenericNack(command_status=CommandStatus.ESME_RINVCMDID, sequence_number=4),
        pdu.EnquireLink(sequence_number=0x7FFFFFFF),
        pdu.EnquireLinkResp(sequence_number=1),
        pdu.DeliverSm(
            esm_class=0x04,
            source_addr="48600111222",
            destination_addr="Shop",
            short_message=b"id:1 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
            b"stat:DELIVRD err:000 text:",
            tlvs={Tag.RECEIPTED_MESSAGE_ID: pdu.tlv_cstring("1"), Tag.MESSAGE_STATE: b"\x02"},
        ),
        pdu.DeliverSmResp(sequence_number=12),
        pdu.DataSm(source_addr="a" * 64, destination_addr="b" * 64, data_coding=8),
        pdu.DataSmResp(message_id="x", tlvs={Tag.DELIVERY_FAILURE_REASON: b"\x01"}),
        pdu.QuerySm(message_id="abc", source_addr="Shop"),
        pdu.QuerySmResp(message_id="abc", final_date="240101120000000+", message_state=2),
        pdu.CancelSm(message_id="abc", source_addr="Shop", destination_addr="1"),
        pdu.CancelSmResp(),
        pdu.ReplaceSm(message_id="abc", short_message=b"new text", registered_delivery=1),
        pdu.ReplaceSmResp(),
        pdu.AlertNotification(source_addr="48600111222", esme_addr="smscast"),
        pdu.SubmitMulti(
            source_addr="Shop",
            dest_addresses=[pdu.DestAddress("48600111222", 1, 1), pdu.DestAddress("vip", 0, 0, 2)],
            short_message=b"to many",
        ),
        pdu.SubmitMultiResp(
            message_id="m1",
            unsuccess_smes=[pdu.UnsuccessSme("48600111333", CommandStatus.ESME_RINVDSTADR, 1, 1)],
        ),
        pdu.SubmitSm(short_message=b"x" * 254),
    ],
    ids=lambda m: m.name,
)
def test_every_pdu_reads_back_as_it_was_written(message: pdu.Pdu) -> None:
    wire = message.encode()
    assert struct.unpack_from(">I", wire)[0] == len(wire)
    assert pdu.decode(wire) == message


def test_an_error_response_without_a_body_is_read() -> None:
    got = pdu.decode(header(16, CommandId.BIND_TRANSCEIVER_RESP, CommandStatus.ESME_RBINDFAIL))
    assert isinstance(got, pdu.BindTransceiverResp)
    assert got.command_status == CommandStatus.ESME_RBINDFAIL
    assert got.system_id == ""


def test_a_message_id_without_its_nul_at_the_end_of_a_response_is_accepted() -> None:
    got = pdu.decode(frame(CommandId.SUBMIT_SM_RESP, b"ABC123"))
    assert isinstance(got, pdu.SubmitSmResp)
    assert got.message_id == "ABC123"


def test_receipt_tlvs_read_as_values() -> None:
    tlvs = {Tag.RECEIPTED_MESSAGE_ID: b"0a1b\0", Tag.MESSAGE_STATE: bytes([MessageState.EXPIRED])}
    assert pdu.read_tlv_cstring(tlvs, Tag.RECEIPTED_MESSAGE_ID) == "0a1b"
    assert pdu.read_tlv_int(tlvs, Tag.MESSAGE_STATE) == MessageState.EXPIRED
    assert pdu.read_tlv_int(tlvs, Tag.NETWORK_ERROR_CODE) is None


def error_of(wire: bytes) -> pdu.PduError:
    with pytest.raises(pdu.PduError) as caught:
        pdu.decode(wire)
    return caught.value


def test_an_unknown_command_is_refused_with_its_sequence_number() -> None:
    error = error_of(header(16, 0x00000999, 0, 4242))
    assert error.status == CommandStatus.ESME_RINVCMDID
    assert error.sequence_number == 4242
    assert "0x00000999" in str(error)


def test_a_truncated_submit_sm_names_the_field_it_ends_in() -> None:
    error = error_of(frame(CommandId.SUBMIT_SM, SUBMIT_BODY[:16], sequence=5))
    assert error.status == CommandStatus.ESME_RINVCMDLEN
    assert error.sequence_number == 5
    assert "submit_sm" in str(error) and "destination_addr" in str(error)


def test_an_overlong_address_is_refused_as_an_invalid_address() -> None:
    body = b"\0\x01\x01" + b"4" * 30 + b"\0" + SUBMIT_BODY[11:]
    error = error_of(frame(CommandId.SUBMIT_SM, body))
    assert error.status == CommandStatus.ESME_RINVSRCADR
    assert "source_addr" in str(error)


def test_an_sm_length_past_the_end_is_an_invalid_message_length() -> None:
    body = SUBMIT_BODY.split(b"\x04\x00h")[0] + b"\xc8abc"
    error = error_of(frame(CommandId.SUBMIT_SM, body))
    assert error.status == CommandStatus.ESME_RINVMSGLEN
    assert "sm_length 200" in str(error)


def test_a_tlv_running_past_the_end_is_an_optional_parameter_stream_error() -> None:
    error = error_of(frame(CommandId.SUBMIT_SM, SUBMIT_BODY + b"\x04\x24\x00\x10abc"))
    assert error.status == CommandStatus.ESME_RINVOPTPARSTREAM
    assert "0x0424" in str(error)


def test_a_tlv_of_the_wrong_length_is_an_invalid_parameter_length() -> None:
    error = error_of(frame(CommandId.SUBMIT_SM, SUBMIT_BODY + b"\x04\x27\x00\x02\x00\x02"))
    assert error.status == CommandStatus.ESME_RINVPARLEN
    assert "0x0427" in str(error) and "length 2" in str(error)


def test_stray_octets_after_the_tlvs_are_refused() -> None:
    error = error_of(frame(CommandId.ENQUIRE_LINK, b"\x00\x01"))
    assert error.status == CommandStatus.ESME_RINVOPTPARSTREAM


def test_a_command_length_that_disagrees_with_the_frame_is_refused() -> None:
    error = error_of(header(40, CommandId.ENQUIRE_LINK, 0, 8))
    assert error.status == CommandStatus.ESME_RINVCMDLEN
    assert error.sequence_number == 8


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (pdu.SubmitSm(source_addr="x" * 21), "source_addr"),
        (pdu.SubmitSm(destination_addr="Zażółć"), "destination_addr"),
        (pdu.SubmitSm(data_coding=300), "data_coding"),
        (pdu.SubmitSm(short_message=b"x" * 255), "message_payload"),
        (pdu.BindTransmitter(password="x" * 9), "password"),
        (pdu.SubmitMulti(), "destinations"),
    ],
)
def test_a_pdu_that_cannot_be_written_says_which_field(message: pdu.Pdu, words: str) -> None:
    with pytest.raises(pdu.PduError, match=words):
        message.encode()


def test_several_pdus_go_out_as_one_write() -> None:
    links = [pdu.EnquireLink(sequence_number=n) for n in (1, 2, 3)]
    wire = pdu.encode_all(links)
    assert [pdu.decode(f) for f in pdu.Framer().feed(wire)] == links
