"""A connector's state as the portal and /readyz both tell it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smscast.core.connector_state import sending_state

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=20)
EARLIER = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("enabled", "holder", "until", "connected", "state"),
    [
        (False, "w1", LATER, True, "paused"),  # switched off wins over everything
        (True, None, None, None, "waiting"),  # no worker has taken it
        (True, "w1", EARLIER, True, "waiting"),  # its holder's lease ran out: it died
        (True, "w1", LATER, None, "connecting"),  # taken, nothing reported yet
        (True, "w1", LATER, True, "sending"),
        (True, "w1", LATER, False, "down"),
    ],
)
def test_each_state_follows_from_the_lease_and_the_holders_report(
    enabled: bool, holder: str | None, until: datetime | None, connected: bool | None,
    state: str,
) -> None:  # fmt: skip
    assert sending_state(enabled, holder, until, connected, NOW) == state
