"""Segment trees compiled to SQLAlchemy Core conditions over `contacts`.

Every value from the expression reaches the database as a bound parameter,
attribute names included (they travel inside the JSON path parameter), so no
text a user typed is ever part of the SQL. The same tree compiles for SQLite and
PostgreSQL; where the two differ (JSON arrays, numeric text) the helpers below
pick the dialect's form.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from smscast.core.router import REPLY_ROUTES
from smscast.core.segments import (
    Ago,
    And,
    Call,
    Compare,
    Contains,
    Everyone,
    Field,
    InList,
    Node,
    Not,
    Or,
    Value,
)
from smscast.store.campaign_models import Click, Coupon
from smscast.store.inbound_models import InboundRoute
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import ConsentState, Contact, table_of

contacts = table_of(Contact)
consent_states = table_of(ConsentState)
messages = table_of(Message)
clicks = table_of(Click)
coupons = table_of(Coupon)
campaigns = table_of(Campaign)
routes = table_of(InboundRoute)

RECEIVED_STATUSES = ("sent", "delivered", "unknown")
_NUMERIC_SQLITE = "*[^0-9.+-]*"
_NUMERIC_POSTGRES = r"^[+-]?[0-9]+(\.[0-9]+)?$"

Condition = ColumnElement[bool]


class SegmentCompiler:
    """Turns one checked tree into a WHERE condition for one workspace, dialect and moment."""

    def __init__(self, workspace_id: int, dialect: str, now: datetime) -> None:
        self.workspace_id = workspace_id
        self.postgres = dialect == "postgresql"
        self.now = now

    def compile(self, node: Node) -> Condition:
        if isinstance(node, Everyone):
            return true()
        if isinstance(node, And):
            return and_(*(self.compile(item) for item in node.items))
        if isinstance(node, Or):
            return or_(*(self.compile(item) for item in node.items))
        if isinstance(node, Not):
            return not_(self.compile(node.item))
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, InList):
            matched = or_(*(self.equals(node.field, value) for value in node.values))
            return and_(self.is_set(node.field), not_(matched)) if node.negated else matched
        if isinstance(node, Contains):
            return self.contains(node)
        set_ = self.is_set(node.field)
        return not_(set_) if node.negated else set_

    # conditions on fields

    def text(self, field: Field) -> ColumnElement[Any]:
        if field.attribute:
            return cast(contacts.c.attributes[field.name].as_string(), String)
        column: ColumnElement[Any] = contacts.c[field.name]
        return column

    def number(self, field: Field) -> ColumnElement[Any]:
        """The attribute as a number where it looks like one, NULL where it does not."""
        text = self.text(field)
        looks_numeric: ColumnElement[bool]
        if self.postgres:
            pattern: Any = bindparam("numeric", _NUMERIC_POSTGRES, unique=True)
            looks_numeric = text.op("~", is_comparison=True)(pattern)
        else:
            glob = text.op("GLOB", is_comparison=True)
            digits = glob(bindparam("digit", "*[0-9]*", unique=True))
            others = glob(bindparam("other", _NUMERIC_SQLITE, unique=True))
            looks_numeric = and_(digits, not_(others))
        return case((looks_numeric, cast(text, Float)), else_=None)

    def value_of(self, field: Field, value: Value | Ago) -> tuple[ColumnElement[Any], Any]:
        """The column expression to compare and the bound value, by the value's type."""
        if isinstance(value, Ago):
            return contacts.c[field.name], value.moment(self.now)
        if isinstance(value, datetime):
            return contacts.c[field.name], value
        if isinstance(value, bool):
            return self.text(field), "true" if value else "false"
        if isinstance(value, float):
            return self.number(field), value
        if field.name == "country" and not field.attribute:
            return self.text(field), value.upper()
        if field.name == "language" and not field.attribute:
            return func.lower(self.text(field)), value.lower()
        return self.text(field), value

    def equals(self, field: Field, value: Value | Ago) -> Condition:
        column, bound = self.value_of(field, value)
        condition: Condition = column == bound
        return condition

    def compare(self, node: Compare) -> Condition:
        column, bound = self.value_of(node.field, node.value)
        ops: dict[str, Condition] = {
            "=": column == bound,
            "!=": and_(column.is_not(None), column != bound),
            "<": column < bound,
            "<=": column <= bound,
            ">": column > bound,
            ">=": column >= bound,
        }
        return ops[node.op]

    def contains(self, node: Contains) -> Condition:
        if node.field.name == "tags" and not node.field.attribute:
            return self.tagged((node.value,))
        text = self.text(node.field)
        return func.lower(text).contains(node.value.lower(), autoescape=True)

    def is_set(self, field: Field) -> Condition:
        if field.name == "tags" and not field.attribute:
            return func.coalesce(self.tag_count(), 0) > 0
        text = self.text(field)
        return and_(text.is_not(None), text != "")

    def tag_count(self) -> ColumnElement[Any]:
        if self.postgres:
            return func.jsonb_array_length(contacts.c.tags)
        return func.json_array_length(contacts.c.tags)

    def tagged(self, tags: tuple[str | int, ...]) -> Condition:
        if self.postgres:
            return or_(
                *(
                    contacts.c.tags.op("@>")(cast(literal(json.dumps([str(tag)])), JSONB))
                    for tag in tags
                )
            )
        each = func.json_each(contacts.c.tags).table_valued("value")
        return exists(
            select(literal(1)).select_from(each).where(each.c.value.in_([str(t) for t in tags]))
        )

    # functions

    def call(self, call: Call) -> Condition:
        if call.name == "tagged":
            return self.tagged(call.args)
        if call.name in ("opted_in", "opted_out"):
            purpose = str(call.args[0]) if call.args else "promotional"
            status = "opted_in" if call.name == "opted_in" else "opted_out"
            return exists(
                select(literal(1)).where(
                    consent_states.c.contact_id == contacts.c.id,
                    consent_states.c.channel == "sms",
                    consent_states.c.purpose == purpose,
                    consent_states.c.status == status,
                )
            )
        since = call.period.start(self.now) if call.period else None
        builders = {
            "received": self.received,
            "clicked": self.clicked,
            "replied": self.replied,
            "redeemed": self.redeemed,
        }
        return builders[call.name](call.args, since)

    def campaign_ids(self, args: tuple[str | int, ...]) -> Any:
        """The campaigns named or numbered in `args`, within this workspace only."""
        names = [arg for arg in args if isinstance(arg, str)]
        ids = [arg for arg in args if isinstance(arg, int)]
        return (
            select(campaigns.c.id)
            .where(campaigns.c.workspace_id == self.workspace_id)
            .where(or_(campaigns.c.name.in_(names), campaigns.c.id.in_(ids)))
            .scalar_subquery()
        )

    def received(self, args: tuple[str | int, ...], since: datetime | None) -> Condition:
        query = select(literal(1)).where(
            messages.c.contact_id == contacts.c.id,
            messages.c.direction == "out",
            messages.c.status.in_(RECEIVED_STATUSES),
        )
        if args:
            query = query.where(messages.c.campaign_id.in_(self.campaign_ids(args)))
        if since is not None:
            query = query.where(func.coalesce(messages.c.sent_at, messages.c.created_at) >= since)
        return exists(query)

    def clicked(self, args: tuple[str | int, ...], since: datetime | None) -> Condition:
        query = select(literal(1)).where(
            clicks.c.contact_id == contacts.c.id, clicks.c.is_bot == false()
        )
        if args:
            query = query.where(clicks.c.campaign_id.in_(self.campaign_ids(args)))
        if since is not None:
            query = query.where(clicks.c.at >= since)
        return exists(query)

    def replied(self, args: tuple[str | int, ...], since: datetime | None) -> Condition:
        """A text the contact wrote back, found by how it was routed: the route names the
        campaign it answered (the reply's message row cannot: its (campaign, run, contact)
        key is the campaign's own message to that contact) and tells a reply from STOP,
        START or HELP."""
        query = select(literal(1)).where(
            routes.c.contact_id == contacts.c.id,
            routes.c.route.in_([route.value for route in REPLY_ROUTES]),
        )
        if args:
            query = query.where(routes.c.campaign_id.in_(self.campaign_ids(args)))
        else:  # by contact through its messages: inbound_routes has no contact index
            query = query.select_from(messages.join(routes, routes.c.message_id == messages.c.id))
            query = query.where(messages.c.contact_id == contacts.c.id,
                                messages.c.direction == "in")  # fmt: skip
        if since is not None:
            query = query.where(routes.c.received_at >= since)
        return exists(query)

    def redeemed(self, args: tuple[str | int, ...], since: datetime | None) -> Condition:
        query = select(literal(1)).where(
            messages.c.contact_id == contacts.c.id,
            messages.c.campaign_id == coupons.c.campaign_id,
            messages.c.coupon_code == coupons.c.code,
            coupons.c.redeemed_at.is_not(None),
        )
        if args:
            query = query.where(coupons.c.campaign_id.in_(self.campaign_ids(args)))
        if since is not None:
            query = query.where(coupons.c.redeemed_at >= since)
        return exists(query)


def segment_condition(tree: Node, *, workspace_id: int, dialect: str, now: datetime) -> Condition:
    """The WHERE condition of `tree`, to be combined with `contacts.workspace_id = …`."""
    return SegmentCompiler(workspace_id, dialect, now).compile(tree)


def attribute_names(conn: Connection, workspace_id: int) -> list[str]:
    """Every attribute name some contact of the workspace has."""
    if conn.dialect.name == "postgresql":
        keys = func.jsonb_object_keys(contacts.c.attributes).label("key")
        query = select(keys).where(contacts.c.workspace_id == workspace_id).distinct()
    else:
        each = func.json_each(contacts.c.attributes).table_valued("key")
        query = (
            select(each.c.key)
            .select_from(contacts)
            .join(each, true())
            .where(contacts.c.workspace_id == workspace_id)
            .distinct()
        )
    return sorted(str(name) for name in conn.execute(query).scalars())
