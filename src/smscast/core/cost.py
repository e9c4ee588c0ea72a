"""What a campaign costs once every recipient's text is personalised.

The marketer sees one preview; a long first name or a non-GSM letter in one
contact's surname can push that contact's message into another part.  This counts
parts per recipient, the worst case and the average, and names the recipients
whose message takes more parts than the preview showed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from smscast.core.encoding import (
    NO_TABLES,
    Encoding,
    National,
    TextInfo,
    analyse,
    check_sendable,
    joined_encoding,
    parts_for_length,
    single_unit_encoding,
    text_parts,
)
from smscast.core.errors import Problem, UserError
from smscast.core.footer import with_opt_out
from smscast.core.national import NationalTables
from smscast.core.smart import Replacements, smart_encode
from smscast.core.templates import MessageTemplate, render


@dataclass(frozen=True, slots=True)
class Recipient:
    key: str
    """What the report calls this recipient (contact id or phone number)."""
    values: Mapping[str, object]
    """Contact attributes plus per-recipient values such as `coupon`."""
    language: str = "en"
    tz: dt.tzinfo | None = None


@dataclass(frozen=True, slots=True)
class MessageRules:
    """How a campaign's texts are finished before counting: footer, smart encoding, tables.

    `tables` are the national shift tables the connector's carrier accepts (its
    `national_tables` setting); `national` is an explicit pair, as `analyse` takes it.
    """

    promotional: bool = True
    footer_required: bool = False
    opt_out_keyword: str = "STOP"
    smart: bool = False
    national: National = (None, None)
    reference_bits: int = 8
    tables: NationalTables = NO_TABLES


DEFAULT_TABLES: National = (None, None)

Counted = tuple[str, Encoding, int, National, Replacements]
"""What an outbox row keeps of a composed text: the text, its encoding and parts, the
national tables chosen for it and what smart encoding replaced (a plain tuple: a
launch makes millions)."""


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    text: str
    info: TextInfo
    replaced: tuple[tuple[str, str], ...] = ()
    """Smart-encoding replacements made, as (from, to)."""


def _keep_url(url: str) -> str:
    return url


def link_stand_in(base_url: str, code_length: int) -> Callable[[str], str]:
    """A `link` for previews and costing: any URL becomes a short link of the real length."""
    stand_in = f"{base_url.rstrip('/')}/{'x' * code_length}"

    def link(url: str) -> str:
        return stand_in

    return link


def compose_message(
    template: MessageTemplate,
    recipient: Recipient,
    rules: MessageRules,
    *,
    link: Callable[[str], str] = _keep_url,
) -> ComposedMessage:
    """One recipient's text as it will be sent, and how it travels.

    A text that renders empty for this recipient is refused (`encoding.empty`):
    an opt-out footer alone is no message.
    """
    body = _rendered(template, recipient, link)
    check_sendable(body)
    text = _with_footer(body, recipient.language, rules)
    if rules.smart:
        result = smart_encode(text, national=rules.national, tables=rules.tables,
                              reference_bits=rules.reference_bits)  # fmt: skip
        return ComposedMessage(result.text, result.after, result.replaced)
    info = analyse(text, national=rules.national, tables=rules.tables,
                   reference_bits=rules.reference_bits)  # fmt: skip
    return ComposedMessage(text, info)


def compose_counted(
    template: MessageTemplate,
    recipient: Recipient,
    rules: MessageRules,
    *,
    link: Callable[[str], str] = _keep_url,
) -> Counted:
    """`compose_message` reduced to what an outbox row keeps (see `Counted`).

    A launch composes millions of these; skipping the full `TextInfo` (see
    `text_parts`) is a large share of its time per recipient.
    """
    if rules.smart:
        composed = compose_message(template, recipient, rules, link=link)
        info = composed.info
        return composed.text, info.encoding, info.parts, info.national, composed.replaced
    return count_finished(_rendered(template, recipient, link), recipient.language, rules)


def count_finished(body: str, language: str, rules: MessageRules,
                   units: Encoding | None = None) -> Counted:  # fmt: skip
    """A rendered body as sent (footer added where due), its encoding, parts and tables.

    The second half of `compose_counted`, for a launch that made the body itself
    (see `text_frames`); not for smart encoding, which may change the text. `units`,
    when the caller knows it, is the body's `single_unit_encoding`: the parts then
    follow from the length, unless the footer or the tables make that unsafe (a
    text in the default alphabet never uses the connector's tables, so a GSM-7
    length still counts with them). An empty body is refused, footer or not.
    """
    if not body or body.isspace():
        check_sendable(body)
    text = _with_footer(body, language, rules)
    if units is not None and rules.national == DEFAULT_TABLES:
        whole: Encoding | None = units
        if text is not body:  # the footer was added after the body as it was, or not
            suffix = text[len(body) :] if text.startswith(body) else None
            whole = joined_encoding(units, _suffix_units(suffix)) if suffix is not None else None
        if whole is not None and (not rules.tables or whole is _GSM7):
            parts = parts_for_length(whole, len(text), rules.reference_bits)
            return text, whole, parts, DEFAULT_TABLES, ()
    if rules.national == DEFAULT_TABLES and not rules.tables:
        encoding, parts = text_parts(text, reference_bits=rules.reference_bits)
        return text, encoding, parts, DEFAULT_TABLES, ()
    info = analyse(text, national=rules.national, tables=rules.tables,
                   reference_bits=rules.reference_bits)  # fmt: skip
    return text, info.encoding, info.parts, info.national, ()


def finished_text(body: str, language: str, rules: MessageRules) -> str:
    """A rendered body as sent: the opt-out footer added where the rules ask for it."""
    return _with_footer(body, language, rules)


_GSM7 = Encoding.GSM7
"""A member of an enum costs an attribute lookup through its class each time it is read."""

_suffix_units = lru_cache(maxsize=256)(single_unit_encoding)
"""Footers, of which a launch has one or two: the same few strings millions of times."""


def _rendered(template: MessageTemplate, recipient: Recipient, link: Callable[[str], str]) -> str:
    return render(
        template, recipient.values, language=recipient.language, tz=recipient.tz, link=link
    )


def _with_footer(body: str, language: str, rules: MessageRules) -> str:
    return with_opt_out(
        body,
        language=language,
        promotional=rules.promotional,
        required=rules.footer_required,
        keyword=rules.opt_out_keyword,
    )


@dataclass(frozen=True, slots=True)
class CostReport:
    preview_parts: int
    per_recipient: tuple[tuple[str, int], ...]
    """(recipient key, parts) for each recipient whose text could be composed."""
    over_preview: tuple[tuple[str, int], ...]
    """Recipients whose message takes more parts than the preview showed."""
    problems: tuple[tuple[str, Problem], ...] = field(default=())
    """Recipients whose text could not be composed (e.g. a value missing with no default)."""

    @property
    def total_parts(self) -> int:
        return sum(parts for _, parts in self.per_recipient)

    @property
    def worst(self) -> int:
        return max((parts for _, parts in self.per_recipient), default=0)

    @property
    def average(self) -> float:
        count = len(self.per_recipient)
        return self.total_parts / count if count else 0.0


def personalised_cost(
    template: MessageTemplate,
    recipients: Iterable[Recipient],
    *,
    preview_parts: int,
    rules: MessageRules,
    link: Callable[[str], str] = _keep_url,
) -> CostReport:
    """Parts for every recipient, against the part count of the preview."""
    counted: list[tuple[str, int]] = []
    over: list[tuple[str, int]] = []
    problems: list[tuple[str, Problem]] = []
    for recipient in recipients:
        try:
            parts = compose_message(template, recipient, rules, link=link).info.parts
        except UserError as exc:
            problems.append((recipient.key, exc.problem))
            continue
        counted.append((recipient.key, parts))
        if parts > preview_parts:
            over.append((recipient.key, parts))
    return CostReport(preview_parts, tuple(counted), tuple(over), tuple(problems))
