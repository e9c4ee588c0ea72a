"""Frequency caps: how many promotional texts one contact may get in a rolling window.

The rule counts texts across every campaign of the workspace, so three marketers
launching on the same day cannot together flood one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smscast.core.errors import UserError


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `limit` texts of `purpose` per contact in any `window`; limit 0 means no cap."""

    limit: int = 2
    window: timedelta = timedelta(days=7)
    purpose: str = "promotional"

    def applies_to(self, purpose: str) -> bool:
        return self.limit > 0 and purpose == self.purpose

    def window_start(self, now: datetime) -> datetime:
        """Texts created at or after this moment count against the cap."""
        return now - self.window

    def allows(self, already_sent: int) -> bool:
        """Whether one more text fits, given how many the contact got in the window."""
        return self.limit <= 0 or already_sent < self.limit


def cap_from_settings(settings: dict[str, Any]) -> FrequencyCap:
    """The workspace's cap from its settings (`frequency_cap_limit`, `frequency_cap_days`)."""
    limit = settings.get("frequency_cap_limit", 2)
    days = settings.get("frequency_cap_days", 7)
    if not isinstance(limit, int) or limit < 0:
        raise UserError.of(
            "bad_setting", "frequency_cap_limit must be a whole number ≥ 0",
            field="frequency_cap_limit",
        )  # fmt: skip
    if not isinstance(days, int | float) or days <= 0:
        raise UserError.of(
            "bad_setting", "frequency_cap_days must be a number of days > 0",
            field="frequency_cap_days",
        )  # fmt: skip
    return FrequencyCap(limit, timedelta(days=days))
