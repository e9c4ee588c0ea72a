"""Holding parts of long inbound messages until they are complete or time out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.channels.smpp.reassembly import ReassemblyBuffer

KEY = ("48600100200", "4411", 7, 3)


def test_parts_in_any_order_come_out_in_order() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60)
    assert buffer.add(KEY, 3, "c", now=0) is None
    assert buffer.add(KEY, 1, "a", now=1) is None
    assert buffer.add(KEY, 2, "b", now=2) == ["a", "b", "c"]
    assert len(buffer) == 0


def test_a_repeated_part_is_ignored() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60)
    buffer.add(KEY, 1, "a", now=0)
    buffer.add(KEY, 1, "again", now=0)
    buffer.add(KEY, 2, "b", now=0)
    assert buffer.add(KEY, 3, "c", now=0) == ["a", "b", "c"]


def test_messages_from_different_senders_do_not_mix() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60)
    other = ("48600999999", "4411", 7, 2)
    buffer.add(KEY, 1, "a", now=0)
    buffer.add(other, 1, "x", now=0)
    assert buffer.add(other, 2, "y", now=0) == ["x", "y"]
    assert len(buffer) == 1


def test_parts_that_never_come_time_out_with_what_arrived() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60)
    buffer.add(KEY, 3, "c", now=10)
    buffer.add(KEY, 1, "a", now=20)
    assert buffer.next_expiry() == 70
    assert buffer.expire(now=69) == []
    [late] = buffer.expire(now=70)
    assert late.parts == ["a", "c"]
    assert late.missing == (2,)
    assert len(buffer) == 0


def test_too_many_waiting_messages_push_out_the_oldest() -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60, max_pending=2)
    for ref in range(3):
        buffer.add(("a", "b", ref, 2), 1, f"part of {ref}", now=ref)
    [evicted] = buffer.expire(now=3)
    assert evicted.key == ("a", "b", 0, 2)
    assert len(buffer) == 2


@pytest.mark.parametrize(("seq", "total"), [(0, 2), (3, 2), (1, 0)])
def test_impossible_part_numbers_are_refused(seq: int, total: int) -> None:
    buffer: ReassemblyBuffer[str] = ReassemblyBuffer(timeout_s=60)
    with pytest.raises(ValueError, match=f"part {seq} of {total}"):
        buffer.add(("a", "b", 1, total), seq, "x", now=0)


@given(st.permutations(list(range(1, 9))))
def test_any_arrival_order_completes_exactly_once(order: list[int]) -> None:
    buffer: ReassemblyBuffer[int] = ReassemblyBuffer(timeout_s=60)
    results = [buffer.add(("s", "r", 1, 8), seq, seq, now=0) for seq in order]
    assert results[-1] == list(range(1, 9))
    assert all(r is None for r in results[:-1])
