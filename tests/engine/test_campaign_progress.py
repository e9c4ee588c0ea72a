"""A campaign's progress counts the messages a chain fell back to: never "3 of 2"."""

from __future__ import annotations

from smscast.engine.campaigns.overview import progress_of


def test_progress_counts_people_and_the_messages_a_chain_fell_back_to() -> None:
    plain = progress_of({"targeted": 10, "excluded_no_consent": 2, "queued": 3, "sent": 5})
    assert (plain["to_send"], plain["handled"], plain["progress"]) == (8, 5, 0.625)
    # Two people, one of whom fell back from WhatsApp to SMS: three messages, all sent.
    chain = progress_of({"targeted": 2, "queued": 0, "sent": 3})
    assert (chain["to_send"], chain["handled"], chain["progress"]) == (3, 3, 1.0)
    assert progress_of({})["progress"] is None
