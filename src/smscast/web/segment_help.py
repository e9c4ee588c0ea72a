"""The segment language's help, as the segments page shows it beside the editor.

The names come from `core.segments` (the tuples the parser itself reads), and only the
words are kept here: a function or field added to the language without a line of help
stops the portal at start instead of going unexplained, and one removed from the
language cannot linger in the help. Each example is checked by the tests to parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from smscast.core.segments import BUILTIN_FIELDS, FUNCTIONS
from smscast.web.i18n import N_


@dataclass(frozen=True, slots=True)
class HelpEntry:
    """One function or field: `takes` and `description` are msgids (translated when
    shown); `example` is an expression, shown as typed."""

    name: str
    takes: str
    description: str
    example: str


_PERIOD = N_(
    "campaign names in quotes or campaign numbers, then a period (last 30 days, since "
    '"2026-11-01"); all optional'
)
_FUNCTIONS: Mapping[str, tuple[str, str, str]] = {
    "received": (
        _PERIOD,
        N_(
            "Contacts who were sent a text (from the campaigns named, if any) that left for "
            "the carrier."
        ),
        'received("Black Friday", last 30 days)',
    ),
    "clicked": (
        _PERIOD,
        N_(
            "Contacts who clicked a tracked link in a text (clicks by link checkers and bots "
            "do not count)."
        ),
        "clicked(last 7 days)",
    ),
    "replied": (
        _PERIOD,
        N_("Contacts who wrote back to a campaign; STOP, START and HELP are not replies."),
        'replied("Spring sale")',
    ),
    "redeemed": (
        _PERIOD,
        N_("Contacts who redeemed a coupon code they were sent."),
        'redeemed(since "2026-11-01")',
    ),
    "opted_in": (
        N_("a purpose: promotional (when left out) or informational"),
        N_("Contacts who agreed to receive texts of that purpose."),
        "opted_in(informational)",
    ),
    "opted_out": (
        N_("a purpose: promotional (when left out) or informational"),
        N_("Contacts who asked to stop texts of that purpose."),
        "not opted_out()",
    ),
    "tagged": (
        N_("one or more tags in quotes"),
        N_("Contacts with any of the tags."),
        'tagged("vip", "newsletter")',
    ),
}
_TEXT = N_("= != in (…) not in (…) contains, is set, with text in quotes")
_DATE = N_('< <= > >= with a date in quotes or a time ago ("2026-11-01", 30 days ago)')
_FIELDS: Mapping[str, tuple[str, str, str]] = {
    "phone": (
        _TEXT,
        N_("The contact's phone number, in international form."),
        'phone contains "+48600"',
    ),
    "country": (
        _TEXT,
        N_("The country of the phone number, a two-letter code."),
        'country in ("PL", "DE")',
    ),
    "language": (_TEXT, N_("The contact's language, a code like pl or en."), 'language = "pl"'),
    "timezone": (
        _TEXT,
        N_("The contact's time zone, when it differs from the workspace's."),
        'timezone = "Europe/London"',
    ),
    "email": (_TEXT, N_("The contact's email address."), 'email contains "@example.com"'),
    "created_at": (_DATE, N_("When the contact was added."), "created_at > 30 days ago"),
    "updated_at": (_DATE, N_("When the contact was last changed."), 'updated_at < "2026-01-01"'),
    "tags": (
        N_("contains with a tag in quotes; is set, is not set"),
        N_("The contact's tags."),
        'tags contains "vip"',
    ),
}
ATTRIBUTE_EXAMPLE = 'plan = "gold" and attributes.age >= 18'
SYNTAX_EXAMPLE = (
    'country = "PL" and (plan in ("gold", "silver") or tagged("vip"))\n'
    "and not clicked(last 30 days)"
)


def _entries(
    names: tuple[str, ...], words: Mapping[str, tuple[str, str, str]], kind: str
) -> tuple[HelpEntry, ...]:
    """The help of each of `names`, in their order; refuses to start out of step."""
    missing = [name for name in names if name not in words]
    retired = sorted(set(words) - set(names))
    if missing or retired:
        raise RuntimeError(
            f"the segment help is out of step with core.segments: {kind} without help: "
            f"{', '.join(missing) or 'none'}; help for {kind} the language no longer has: "
            f"{', '.join(retired) or 'none'}"
        )
    return tuple(HelpEntry(name, *words[name]) for name in names)


FUNCTION_HELP = _entries(FUNCTIONS, _FUNCTIONS, "functions")
"""Behaviours first, then consent, then tags: the order of `core.segments.FUNCTIONS`."""
FIELD_HELP = _entries(BUILTIN_FIELDS, _FIELDS, "fields")
