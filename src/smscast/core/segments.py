"""The segment language: a tree of conditions over contacts, and the fields it may name.

A segment is written as text (`country = "PL" and plan in ("gold", "silver") and not
clicked(last 30 days)`), parsed by `smscast.core.segment_parser` into the nodes
below, checked here against the fields contacts have, and compiled to SQL by
`smscast.store.segment_sql` with every value bound as a parameter.

Every node remembers the line and column it starts at, so an error about it can
say where it is.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from smscast.core.errors import UserError

TEXT_FIELDS = ("phone", "country", "language", "timezone", "email")
DATE_FIELDS = ("created_at", "updated_at")
BUILTIN_FIELDS = (*TEXT_FIELDS, *DATE_FIELDS, "tags")
BEHAVIOURS = ("received", "clicked", "replied", "redeemed")
CONSENT_CALLS = ("opted_in", "opted_out")
FUNCTIONS = (*BEHAVIOURS, *CONSENT_CALLS, "tagged")
PURPOSES = ("promotional", "informational")
UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}

Value = str | float | bool | datetime


@dataclass(frozen=True, slots=True)
class Where:
    line: int
    column: int

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}"


@dataclass(frozen=True, slots=True)
class Ago:
    """A moment relative to when the segment is evaluated: `30 days ago`."""

    seconds: int

    def moment(self, now: datetime) -> datetime:
        return now - timedelta(seconds=self.seconds)


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    attribute: bool
    """True for a contact attribute (`plan`, `attributes.plan`), False for a built-in field."""
    where: Where


@dataclass(frozen=True, slots=True)
class Compare:
    field: Field
    op: str  # = != < <= > >=
    value: Value | Ago
    where: Where


@dataclass(frozen=True, slots=True)
class InList:
    field: Field
    values: tuple[Value | Ago, ...]
    negated: bool
    where: Where


@dataclass(frozen=True, slots=True)
class Contains:
    """`tags contains "vip"` (a tag) or `email contains "@example"` (a substring)."""

    field: Field
    value: str
    where: Where


@dataclass(frozen=True, slots=True)
class IsSet:
    field: Field
    negated: bool
    where: Where


@dataclass(frozen=True, slots=True)
class Period:
    """`last 30 days`, `since "2026-11-01"`: when a behaviour must have happened."""

    since: Ago | datetime

    def start(self, now: datetime) -> datetime:
        return self.since.moment(now) if isinstance(self.since, Ago) else self.since


@dataclass(frozen=True, slots=True)
class Call:
    """A function: behaviour (`clicked(...)`), consent (`opted_in(...)`) or `tagged(...)`."""

    name: str
    args: tuple[str | int, ...]
    """Campaign names or ids for behaviours, purposes for consent, tags for `tagged`."""
    period: Period | None
    where: Where


@dataclass(frozen=True, slots=True)
class Not:
    item: Node
    where: Where


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]
    where: Where


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]
    where: Where


@dataclass(frozen=True, slots=True)
class Everyone:
    """The empty expression: every contact of the workspace."""

    where: Where


Node = Compare | InList | Contains | IsSet | Call | Not | And | Or | Everyone
Condition = Compare | InList | Contains | IsSet


def error_at(where: Where, code: str, message: str, field: str | None = None) -> UserError:
    return UserError.of(
        code, f"{where}: {message}", field=field or "segment", line=where.line, column=where.column
    )


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, Not):
        yield from walk(node.item)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from walk(item)


def check_segment(tree: Node, attributes: Collection[str]) -> None:
    """Refuses fields contacts do not have and values that cannot match their field."""
    for node in walk(tree):
        if isinstance(node, Compare | InList | Contains | IsSet):
            _check_field(node.field, attributes)
            _check_condition(node)
        elif isinstance(node, Call):
            _check_call(node)


def _check_field(field: Field, attributes: Collection[str]) -> None:
    if field.attribute and field.name not in attributes:
        known = ", ".join(sorted(attributes)) or "none yet"
        raise error_at(
            field.where,
            "segment.unknown_field",
            f"unknown field {field.name!r} (built-in: {', '.join(BUILTIN_FIELDS)}; "
            f"contact attributes: {known})",
            field=field.name,
        )


def _check_condition(node: Condition) -> None:
    name = node.field.name
    values: tuple[object, ...] = ()
    if isinstance(node, Compare):
        values = (node.value,)
    elif isinstance(node, InList):
        values = node.values
    if node.field.attribute:
        if any(isinstance(value, Ago | datetime) for value in values):
            raise error_at(node.where, "segment.bad_value", f"{name} holds text or numbers")
        return
    if name == "tags" and not isinstance(node, Contains | IsSet):
        raise error_at(
            node.where, "segment.bad_operator",
            'tags are matched with `tags contains "vip"` or `tagged("vip", "news")`',
        )  # fmt: skip
    if name in DATE_FIELDS:
        if isinstance(node, Contains) or any(not isinstance(v, Ago | datetime) for v in values):
            raise error_at(
                node.where, "segment.bad_value",
                f'{name} is compared with a date ("2026-11-01") or a time ago (30 days ago)',
            )  # fmt: skip
    elif name in TEXT_FIELDS and any(not isinstance(v, str) for v in values):
        raise error_at(node.where, "segment.bad_value", f"{name} is compared with text in quotes")
    if isinstance(node, Compare) and name in TEXT_FIELDS and node.op not in ("=", "!="):
        raise error_at(node.where, "segment.bad_operator", f"{name} takes = != in contains")


def _check_call(call: Call) -> None:
    if call.name in CONSENT_CALLS:
        if call.period is not None or len(call.args) > 1:
            raise error_at(call.where, "segment.bad_call", f"{call.name}() takes one purpose")
        if call.args and call.args[0] not in PURPOSES:
            raise error_at(
                call.where, "segment.bad_call",
                f"{call.name}() purpose is promotional or informational, not {call.args[0]!r}",
            )  # fmt: skip
    elif call.name == "tagged":
        if not call.args or call.period is not None:
            raise error_at(call.where, "segment.bad_call", 'tagged() takes tags: tagged("vip")')
        if any(not isinstance(arg, str) for arg in call.args):
            raise error_at(call.where, "segment.bad_call", "tags are text in quotes")
