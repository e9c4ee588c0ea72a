"""deliver_sm is answered only after the engine stored what it carried.

Against the scripted SMSC on loopback: the test plays the engine, holding the
events it got and acknowledging them (as the engine does after its commit) or
not (as a crash does). What the SMSC sees is what counts: no deliver_sm_resp
before the ack, one ESME_ROK per deliver_sm after it, and nothing at all for
what was never stored, so the SMSC keeps it and sends it again.
"""

from __future__ import annotations

from test_smpp_client import ScriptedSmsc, deliver_receipt, mo, running, settings_for, smsc, until

from smscast.channels.base import DeliveryReport, InboundMessage
from smscast.channels.smpp import pdu

__all__ = ["smsc"]  # the scripted SMSC fixture, shared with test_smpp_client


def answers(smsc: ScriptedSmsc) -> list[tuple[int, int]]:
    """(sequence, status) of every deliver_sm_resp the SMSC received, in order."""
    return [
        (p.sequence_number, p.command_status)
        for p in smsc.all_received()
        if isinstance(p, pdu.DeliverSmResp)
    ]


async def test_no_answer_before_the_ack_and_one_rok_per_deliver_sm_after(
    smsc: ScriptedSmsc,
) -> None:
    async with running(settings_for(smsc), ack=False) as (_, events):
        peer = smsc.peers[0]
        peer.send(deliver_receipt(21, "id:AB1 stat:DELIVRD err:000"))
        peer.send(mo(22, b"single"))
        peer.send(mo(23, bytes([5, 0, 3, 0x44, 2, 2]) + b" two", udhi=True))
        peer.send(mo(24, bytes([5, 0, 3, 0x44, 2, 1]) + b"part", udhi=True))
        await until(lambda: sum(isinstance(e, InboundMessage) for e in events) == 2)
        await until(lambda: any(isinstance(e, DeliveryReport) for e in events))
        # A round trip the SMSC answers proves anything we would have written is there.
        peer.send(pdu.EnquireLink(sequence_number=99))
        await until(lambda: any(isinstance(p, pdu.EnquireLinkResp) for p in smsc.all_received()))
        assert answers(smsc) == []

        report = next(e for e in events if isinstance(e, DeliveryReport))
        long_text = next(e for e in events if isinstance(e, InboundMessage) and e.parts == 2)
        assert report.ack is not None and long_text.ack is not None
        report.ack()
        long_text.ack()
        await until(lambda: len(answers(smsc)) == 3)
        assert sorted(answers(smsc)) == [(21, 0), (23, 0), (24, 0)]

        single = next(e for e in events if isinstance(e, InboundMessage) and e.parts == 1)
        assert single.text == "single" and single.ack is not None
        single.ack()
        await until(lambda: len(answers(smsc)) == 4)
        assert sorted(answers(smsc)) == [(21, 0), (22, 0), (23, 0), (24, 0)]


async def test_what_was_never_stored_is_never_answered(smsc: ScriptedSmsc) -> None:
    async with running(settings_for(smsc, response_timeout_s=0.3), ack=False) as (_, events):
        smsc.peers[0].send(deliver_receipt(31, "id:CD2 stat:DELIVRD err:000"))
        smsc.peers[0].send(mo(32, b"kept by the SMSC"))
        await until(lambda: len([e for e in events if not hasattr(e, "kind")]) == 2)
    assert answers(smsc) == []
    assert any(isinstance(p, pdu.Unbind) for p in smsc.all_received())


async def test_an_ack_after_the_connection_dropped_writes_nothing_anywhere(
    smsc: ScriptedSmsc,
) -> None:
    async with running(settings_for(smsc), ack=False) as (client, events):
        smsc.peers[0].send(mo(41, b"before the drop"))
        await until(lambda: any(isinstance(e, InboundMessage) for e in events))
        smsc.peers[0].writer.transport.abort()
        await until(lambda: len(smsc.peers) == 2 and client.state().connected)
        [text] = [e for e in events if isinstance(e, InboundMessage)]
        assert text.ack is not None
        text.ack()  # stored after the drop: the SMSC sends it again on the new binding
        smsc.peers[1].send(mo(42, b"after"))
        await until(lambda: sum(isinstance(e, InboundMessage) for e in events) == 2)
        later = [e for e in events if isinstance(e, InboundMessage)][1]
        assert later.ack is not None
        later.ack()
        await until(lambda: len(answers(smsc)) == 1)
    assert answers(smsc) == [(42, 0)]


async def test_unreadable_reports_and_repeated_parts_are_answered_at_once(
    smsc: ScriptedSmsc,
) -> None:
    async with running(settings_for(smsc), ack=False) as (_, events):
        peer = smsc.peers[0]
        peer.send(deliver_receipt(51, "no report in here"))  # nothing to store: answered
        peer.send(mo(52, bytes([5, 0, 3, 0x55, 2, 1]) + b"first", udhi=True))
        peer.send(mo(53, bytes([5, 0, 3, 0x55, 2, 1]) + b"first", udhi=True))  # sent again
        await until(lambda: len(answers(smsc)) == 2)
        assert sorted(answers(smsc)) == [(51, 0), (53, 0)]
        peer.send(mo(54, bytes([5, 0, 3, 0x55, 2, 2]) + b" second", udhi=True))
        await until(lambda: any(isinstance(e, InboundMessage) for e in events))
        [text] = [e for e in events if isinstance(e, InboundMessage)]
        assert text.text == "first second" and text.ack is not None
        text.ack()
        await until(lambda: len(answers(smsc)) == 4)
        assert sorted(answers(smsc)) == [(51, 0), (52, 0), (53, 0), (54, 0)]
