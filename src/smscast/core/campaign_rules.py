"""A workspace's campaign rules, read from its `settings` JSON with defaults in code.

- `quiet_hours` ({"start": "21:00", "end": "08:00"}): recipient-local hours without
  promotional texts (the dispatcher reads the same key); "off" for none at all; null
  or an empty value is refused, not read as the default;
  `quiet_hours_informational` (true): false exempts informational campaigns;
  `quiet_hours_email` (true): false lets email go at any hour (it waits unread).
- `frequency_cap_limit` / `frequency_cap_days` (2 / 7): promotional texts per contact
  per rolling window, across campaigns (limit 0: no cap).
- `opt_out_footer_required` (false), `opt_out_keyword` ("STOP"): promotional texts end
  with the opt-out instruction in the contact's language.
- `short_domain` (default: the address `smscast serve` listens on, `http://HOST:PORT`):
  tracked links are `{short_domain}/l/{token}`.
- `part_price` (0.0): cost of one SMS part, for campaign cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smscast.core.caps import FrequencyCap, cap_from_settings
from smscast.core.errors import UserError
from smscast.core.schedule import QuietHours, parse_clock

#: The link base when neither the workspace nor the caller says: serve's default address.
DEFAULT_SHORT_DOMAIN = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class CampaignRules:
    quiet: QuietHours = field(default_factory=QuietHours)
    quiet_informational: bool = True
    quiet_email: bool = True  # false: email is not held for quiet hours (it waits unread)
    cap: FrequencyCap = field(default_factory=FrequencyCap)
    footer_required: bool = False
    opt_out_keyword: str = "STOP"
    short_domain: str = DEFAULT_SHORT_DOMAIN
    part_price: float = 0.0

    def quiet_applies(self, purpose: str, channel: str = "sms") -> bool:
        if channel == "email" and not self.quiet_email:
            return False
        return purpose == "promotional" or self.quiet_informational


def _bool(settings: dict[str, Any], key: str, default: bool) -> bool:
    value = settings.get(key, default)
    if not isinstance(value, bool):
        raise UserError.of("bad_setting", f"{key} must be true or false", field=key)
    return value


QUIET_HOURS_FORMAT = '{"start": "21:00", "end": "08:00"}, or "off" for none'


def quiet_hours_of(settings: dict[str, Any]) -> QuietHours:
    """The workspace's quiet hours: the default when the key is absent, none when "off".

    null or an empty value is refused rather than read as the default: whoever
    wrote it meant something, and guessing which is how texts go out at night.
    """
    if "quiet_hours" not in settings:
        return QuietHours()
    window = settings["quiet_hours"]
    if isinstance(window, str) and window.strip().lower() == "off":
        return QuietHours.off()
    if window is None or window == "" or window == {}:
        raise UserError.of(
            "bad_setting", f"quiet_hours cannot be empty: give {QUIET_HOURS_FORMAT}",
            field="quiet_hours",
        )  # fmt: skip
    if not isinstance(window, dict):
        raise UserError.of("bad_setting", f"quiet_hours is {QUIET_HOURS_FORMAT}",
                           field="quiet_hours")  # fmt: skip
    return QuietHours(
        parse_clock(str(window.get("start", "21:00")), field="quiet_hours.start"),
        parse_clock(str(window.get("end", "08:00")), field="quiet_hours.end"),
    )


def rules_from_settings(
    settings: dict[str, Any], *, short_domain: str = DEFAULT_SHORT_DOMAIN
) -> CampaignRules:
    """The rules of a workspace; a wrong value names its setting.

    `short_domain` is the link base when the workspace sets none: callers pass the
    address the server really listens on, which only they know (`Settings.served_url`).
    """
    quiet = quiet_hours_of(settings)
    price = settings.get("part_price", 0.0)
    if not isinstance(price, int | float) or price < 0:
        raise UserError.of("bad_setting", "part_price must be a number ≥ 0", field="part_price")
    domain = str(settings.get("short_domain", short_domain)).rstrip("/")
    if not domain.startswith(("http://", "https://")):
        raise UserError.of(
            "bad_setting", "short_domain must start with http:// or https://", field="short_domain"
        )
    return CampaignRules(
        quiet=quiet,
        quiet_informational=_bool(settings, "quiet_hours_informational", True),
        quiet_email=_bool(settings, "quiet_hours_email", True),
        cap=cap_from_settings(settings),
        footer_required=_bool(settings, "opt_out_footer_required", False),
        opt_out_keyword=str(settings.get("opt_out_keyword", "STOP")),
        short_domain=domain,
        part_price=float(price),
    )
