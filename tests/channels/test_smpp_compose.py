"""The submit_sm bodies a connector writes are the ones the PDU codec writes and reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.channels.base import OutgoingMessage
from smscast.channels.smpp import pdu
from smscast.channels.smpp.compose import (
    _encode_text,
    _encoded_body,
    compose_parts,
    source_address,
    submit_frame,
    validity_period,
)
from smscast.channels.smpp.settings import SmppSettings


def _through_codec(message: OutgoingMessage, smpp: SmppSettings, reference: int) -> list[bytes]:
    """The same bodies, each part through the dataclass codec."""
    parts = _encode_text(message, smpp, reference)
    ton, npi, source = source_address(message.sender, smpp)
    validity = validity_period(message.valid_until, smpp.validity_s)
    registered = smpp.registered_delivery if message.want_report else 0
    destination = message.recipient.lstrip("+")
    return [
        _encoded_body(part, smpp, ton, npi, source, destination, validity, registered)
        for part in parts
    ]


TEXTS = st.sampled_from(
    [
        "Code 123",
        "Zażółć gęślą jaźń",
        "€ and [brackets] in GSM-7 " * 8,
        "Długi tekst po polsku, który nie mieści się w jednej części. " * 5,
        "x" * 160,
        "x" * 161,
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    text=TEXTS,
    sender=st.sampled_from(["Shop", "+48600111222", "7890", "123456789"]),
    concat=st.sampled_from(["udh", "sar"]),
    data_coding=st.sampled_from([0, 3, 8]),
    want_report=st.booleans(),
    validity_s=st.sampled_from([None, 3600, 86400 * 3]),
    service_type=st.sampled_from(["", "CMT"]),
    reference=st.integers(0, 70000),
)
def test_every_part_is_the_codecs_own_submit_sm(
    text: str,
    sender: str,
    concat: str,
    data_coding: int,
    want_report: bool,
    validity_s: int | None,
    service_type: str,
    reference: int,
) -> None:
    smpp = SmppSettings(
        name="t",
        port=1,
        concat=concat,
        data_coding=data_coding,
        validity_s=validity_s,
        service_type=service_type,
        reference_bits=16,
    )
    message = OutgoingMessage(
        ref=1, sender=sender, recipient="+48600111222", text=text, want_report=want_report
    )
    bodies = compose_parts(message, smpp, reference)
    assert bodies == _through_codec(message, smpp, reference)
    for seq, body in enumerate(bodies, start=1):
        decoded = pdu.decode(submit_frame(body, seq))
        assert isinstance(decoded, pdu.SubmitSm)
        assert decoded.destination_addr == "48600111222"
        assert decoded.registered_delivery == (1 if want_report else 0)


def test_a_message_deadline_is_an_absolute_validity_period() -> None:
    smpp = SmppSettings(name="t", port=1)
    deadline = datetime(2026, 12, 7, 18, 30, tzinfo=UTC)
    message = OutgoingMessage(
        ref=1, sender="Shop", recipient="+48600111222", text="Hi", valid_until=deadline
    )
    (body,) = compose_parts(message, smpp, 1)
    decoded = pdu.decode(submit_frame(body, 1))
    assert isinstance(decoded, pdu.SubmitSm)
    assert decoded.validity_period == "261207183000000+"


@pytest.mark.parametrize(
    ("sender", "recipient"),
    [("A sender name far too long for SMPP", "+48600111222"), ("Shop", "+4860011122233344455566")],
)
def test_an_address_that_does_not_fit_names_the_field(sender: str, recipient: str) -> None:
    message = OutgoingMessage(ref=1, sender=sender, recipient=recipient, text="Hi")
    with pytest.raises(pdu.PduError, match=r"source_addr|destination_addr"):
        compose_parts(message, SmppSettings(name="t", port=1), 1)
