"""What a connector is doing, told from its lease and its holder's last report.

One rule for the portal's connectors pages and for `/readyz`, so a load balancer and a
person looking at the page never disagree about a connector.
"""

from __future__ import annotations

from datetime import datetime

STATES = ("sending", "paused", "waiting", "connecting", "down")


def sending_state(
    enabled: bool, holder: str | None, lease_until: datetime | None,
    connected: bool | None, now: datetime,
) -> str:  # fmt: skip
    """sending, paused, waiting (no live worker holds it), connecting or down.

    `connected` is what the holder last reported: None when it has said nothing yet
    (it is still connecting).
    """
    if not enabled:
        return "paused"
    if holder is None or lease_until is None or lease_until < now:
        return "waiting"
    if connected is None:
        return "connecting"
    return "sending" if connected else "down"
