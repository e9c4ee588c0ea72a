"""Numbers a workspace owns (long numbers, short codes) and how an inbound finds its own.

Carriers write the number a text was sent to in many ways: `48500100200` (no plus,
international TON), `+48500100200`, `0048…`, or the national form `500100200`;
a short code is just its digits. `find_number` accepts all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, nodes
from sqlalchemy import Connection, Engine, delete, insert, select, update

from smscast.core.contact_rows import ATTRIBUTE_COLUMNS
from smscast.core.errors import UserError
from smscast.core.phones import PhoneError, parse_phone
from smscast.core.rule_actions import ActionKind
from smscast.core.templates import compile_template
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.inbound_models import KeywordRule
from smscast.store.messaging_models import Connector, Number
from smscast.store.models import table_of
from smscast.store.segment_sql import attribute_names

numbers = table_of(Number)
connectors = table_of(Connector)
keyword_rules = table_of(KeywordRule)
SHORT_CODE_MAX_DIGITS = 8
REPLY_VARIABLES = ("phone", "text", "keyword", "rest", "sender")
"""What an automatic answer may use besides the contact's attributes (see
`engine.inbound_apply._render`): their phone, their text, and the number's brand."""


@dataclass(frozen=True, slots=True)
class NumberRef:
    id: int
    workspace_id: int
    number: str
    kind: str
    country: str
    connector_id: int | None
    settings: dict[str, Any]


def digits_of(address: str) -> str:
    """The digits of an address as carriers write it, without `+` or a `00` prefix."""
    text = address.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if text.startswith("00") or (not text.startswith("+") and digits.startswith("00")):
        digits = digits[2:]
    return digits


def parse_number(raw: str, country: str) -> tuple[str, str]:
    """(stored form, kind): E.164 for a long number, bare digits for a short code."""
    text = raw.strip()
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") and 3 <= len(digits) <= SHORT_CODE_MAX_DIGITS and digits == text:
        return digits, "short"
    try:
        return parse_phone(text, country).e164, "long"
    except PhoneError as error:
        raise UserError.of(
            "invalid_number",
            f'"{raw}" is neither a phone number for {country} nor a short code (3-8 digits)',
            field="number",
        ) from error


def add_number(
    engine: Engine,
    workspace: WorkspaceRef,
    raw: str,
    *,
    connector: str | None,
    country: str | None = None,
    settings: dict[str, Any] | None = None,
    actor: str,
    now: datetime,
) -> NumberRef:
    """Registers a number the workspace owns, bound to the connector its texts use."""
    country = (country or workspace.country).upper()
    number, kind = parse_number(raw, country)
    with engine.begin() as conn:
        connector_id = _connector_id(conn, workspace, connector) if connector else None
        exists = conn.execute(
            select(numbers.c.id).where(
                numbers.c.workspace_id == workspace.id, numbers.c.number == number
            )
        ).first()
        if exists:
            raise UserError.of("number_exists", f"{number} is already registered", field="number")
        values = {
            "workspace_id": workspace.id, "number": number, "kind": kind, "country": country,
            "connector_id": connector_id, "smart_encoding": False, "settings": settings or {},
            "created_at": now,
        }  # fmt: skip
        number_id = conn.execute(
            insert(numbers).values(values).returning(numbers.c.id)
        ).scalar_one()
        record_audit(conn, workspace.id, actor, "number.added", number, {"kind": kind}, now)
    return NumberRef(number_id, workspace.id, number, kind, country, connector_id, settings or {})


def _connector_id(conn: Connection, workspace: WorkspaceRef, name: str) -> int:
    condition = connectors.c.name == name
    if name.isdigit():
        condition = condition | (connectors.c.id == int(name))
    row = conn.execute(
        select(connectors.c.id).where(connectors.c.workspace_id == workspace.id, condition)
    ).first()
    if row is None:
        raise UserError.of("unknown_connector", f'no connector named "{name}"', field="connector")
    return int(row.id)


def list_numbers(
    engine: Engine, workspace: WorkspaceRef, *, after_id: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Numbers in id order, each with its `auto_reply` (None: texts that match no keyword
    are not answered); `after_id` and `limit` read them a page at a time."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(numbers, connectors.c.name.label("connector"))
            .outerjoin(connectors, connectors.c.id == numbers.c.connector_id)
            .where(numbers.c.workspace_id == workspace.id, numbers.c.id > after_id)
            .order_by(numbers.c.id)
            .limit(limit)
        ).all()
        defaults = conn.execute(
            select(keyword_rules.c.number_id, keyword_rules.c.actions).where(
                keyword_rules.c.workspace_id == workspace.id, keyword_rules.c.keyword.is_(None)
            )
        )
        replies = {
            number_id: next((a.get("text") for a in actions or [] if a.get("type") == "reply"),
                            None)
            for number_id, actions in defaults
        }  # fmt: skip
        return [
            {
                "id": r.id, "number": r.number, "kind": r.kind, "country": r.country,
                "connector": r.connector, "auto_reply": replies.get(r.id),
                "created_at": r.created_at,
            }
            for r in rows
        ]  # fmt: skip


def number_by_text(conn: Connection, workspace: WorkspaceRef, raw: str) -> NumberRef:
    """The workspace's number written as `raw` (any form); an error naming it if none."""
    candidates = [_ref(r) for r in conn.execute(
        select(numbers).where(numbers.c.workspace_id == workspace.id)
    )]  # fmt: skip
    found = find_number(candidates, raw)
    if found is None:
        raise UserError.of("unknown_number", f'"{raw}" is not a number of this workspace',
                           field="number")  # fmt: skip
    return found


def numbers_of_connector(conn: Connection, connector_id: int) -> tuple[int | None, list[NumberRef]]:
    """(the connector's workspace, every number of that workspace), the connector's first.

    A text for a number of the workspace that arrives on another of its connectors is
    still ours; a text for a number the workspace does not have is not.
    """
    workspace_id = conn.execute(
        select(connectors.c.workspace_id).where(connectors.c.id == connector_id)
    ).scalar()
    if workspace_id is None:
        return None, []
    rows = conn.execute(
        select(numbers).where(numbers.c.workspace_id == workspace_id).order_by(numbers.c.id)
    )
    refs = [_ref(r) for r in rows]
    refs.sort(key=lambda n: n.connector_id != connector_id)
    return int(workspace_id), refs


def find_number(candidates: list[NumberRef], recipient: str) -> NumberRef | None:
    """The number a text was sent to, from the recipient address as the carrier wrote it."""
    wanted = digits_of(recipient)
    if not wanted:
        return None
    for number in candidates:
        if digits_of(number.number) == wanted:
            return number
    national = wanted.lstrip("0")
    if len(national) > SHORT_CODE_MAX_DIGITS:  # a long number written nationally
        for number in candidates:
            if number.kind == "long" and digits_of(number.number).endswith(national):
                return number
    return None


def _ref(row: Any) -> NumberRef:
    return NumberRef(
        row.id, row.workspace_id, row.number, row.kind, row.country, row.connector_id,
        dict(row.settings or {}),
    )  # fmt: skip


def number_by_id(conn: Connection, workspace: WorkspaceRef, number_id: int) -> NumberRef:
    """The workspace's number #`number_id`; another workspace's is as unknown as none."""
    row = conn.execute(
        select(numbers).where(numbers.c.id == number_id, numbers.c.workspace_id == workspace.id)
    ).first()
    if row is None:
        raise UserError.of("unknown_number", f"no number #{number_id} in this workspace",
                           field="number_id")  # fmt: skip
    return _ref(row)


def find_workspace_number(
    conn: Connection, workspace: WorkspaceRef, number: str | int
) -> NumberRef:
    """A number by id (the API's paths) or as written (the CLI's arguments)."""
    if isinstance(number, int):
        return number_by_id(conn, workspace, number)
    return number_by_text(conn, workspace, number)


def set_auto_reply(
    engine: Engine,
    workspace: WorkspaceRef,
    number: str | int,
    template: str | None,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Sets (or, with None, turns off) the answer to a text that matches no keyword on
    the number: the reply action of the number's default rule.

    The template is checked now, against the variables an inbound answer has, so a typo
    is the operator's error here rather than a silent non-answer later. Other actions of
    an existing default rule (a tag, a ticket) are kept; turning the answer off removes
    the default rule only when nothing else is left in it.
    """
    with engine.begin() as conn:
        ref = find_workspace_number(conn, workspace, number)
        if template is not None:
            _check_reply_template(conn, workspace, template)
        rule = conn.execute(
            select(keyword_rules.c.id, keyword_rules.c.actions).where(
                keyword_rules.c.number_id == ref.id, keyword_rules.c.keyword.is_(None)
            )
        ).first()
        kept = [a for a in (rule.actions if rule else []) if a.get("type") != ActionKind.REPLY]
        actions = kept if template is None else [{"type": "reply", "text": template}, *kept]
        rule_id: int | None = None if rule is None else int(rule.id)
        if rule is not None and not actions:
            conn.execute(delete(keyword_rules).where(keyword_rules.c.id == rule.id))
            rule_id = None
        elif rule is not None:
            conn.execute(
                update(keyword_rules).where(keyword_rules.c.id == rule.id).values(actions=actions)
            )
        elif template is not None:
            rule_id = int(conn.execute(insert(keyword_rules).values(
                workspace_id=workspace.id, number_id=ref.id, keyword=None, aliases=[],
                match="first_word", actions=actions, campaign_id=None, enabled=True,
                created_at=now,
            ).returning(keyword_rules.c.id)).scalar_one())  # fmt: skip
        action = "number.auto_reply_set" if template is not None else "number.auto_reply_off"
        record_audit(conn, workspace.id, actor, action, ref.number, {"template": template}, now)
    return {"number_id": ref.id, "number": ref.number, "template": template, "rule_id": rule_id}


def _check_reply_template(conn: Connection, workspace: WorkspaceRef, template: str) -> None:
    if not template.strip():
        raise UserError.of("empty_template", "the automatic answer is empty", field="template")
    # The names an import always knows (first_name …) are fine before any contact has them:
    # people who text in are often strangers, and `| default(…)` covers them.
    known = [*attribute_names(conn, workspace.id), *ATTRIBUTE_COLUMNS, *REPLY_VARIABLES]
    try:
        compiled = compile_template(template, known=known)
    except UserError as error:
        problem = error.problem
        raise UserError.of(problem.code, problem.message, field="template", line=problem.line,
                           column=problem.column) from None  # fmt: skip
    coupon = compiled.position("coupon")
    if coupon is not None:  # campaigns hand out codes; an automatic answer has none to give
        raise UserError.of(
            "template.unknown_variable", f"line {coupon.line}, column {coupon.column}: an "
            "automatic answer has no coupon code to give", field="template", line=coupon.line,
            column=coupon.column,
        )  # fmt: skip
    tree = Environment().parse(template)
    loads = next(iter(tree.find_all((nodes.Include, nodes.Import, nodes.FromImport,
                                     nodes.Extends))), None)  # fmt: skip
    if loads is not None:  # there is nothing to load: it would fail at every answer
        raise UserError.of(
            "template.unsafe", f"line {loads.lineno}: an automatic answer may not include, "
            "import or extend other templates", field="template", line=loads.lineno,
        )  # fmt: skip
