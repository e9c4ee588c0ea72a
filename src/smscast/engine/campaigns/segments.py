"""Segment use cases: count an expression, save it under a name, list and delete saved ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from smscast.core.errors import UserError
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import check_segment
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.messaging_models import Segment
from smscast.store.models import Contact, table_of
from smscast.store.segment_sql import Condition, attribute_names, segment_condition

segments = table_of(Segment)
contacts = table_of(Contact)


def segment_where(
    conn: Connection, workspace: WorkspaceRef, expression: str, now: datetime
) -> Condition:
    """The checked expression as a condition on this workspace's contacts."""
    tree = parse_segment(expression)
    check_segment(tree, attribute_names(conn, workspace.id))
    condition = segment_condition(
        tree, workspace_id=workspace.id, dialect=conn.dialect.name, now=now
    )
    return (contacts.c.workspace_id == workspace.id) & condition


def count_segment(
    engine: Engine, workspace: WorkspaceRef, expression: str, now: datetime
) -> dict[str, Any]:
    """How many contacts the expression selects right now."""
    with engine.connect() as conn:
        where = segment_where(conn, workspace, expression, now)
        count = conn.execute(select(func.count()).select_from(contacts).where(where)).scalar_one()
    return {"expression": expression, "count": int(count)}


def saved_expression(conn: Connection, workspace: WorkspaceRef, name: str) -> str:
    row = conn.execute(
        select(segments.c.expression).where(
            segments.c.workspace_id == workspace.id, segments.c.name == name
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_segment", f'no saved segment named "{name}"', field="segment")
    return str(row.expression)


def save_segment(
    engine: Engine, workspace: WorkspaceRef, name: str, expression: str, *,
    actor: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Saves (or replaces) a named segment after checking that it parses and names real fields."""
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "a segment needs a name", field="name")
    with engine.begin() as conn:
        segment_where(conn, workspace, expression, now)
        conn.execute(
            delete(segments).where(
                segments.c.workspace_id == workspace.id, segments.c.name == name
            )
        )
        segment_id = conn.execute(
            insert(segments)
            .values(workspace_id=workspace.id, name=name, expression=expression, created_at=now)
            .returning(segments.c.id)
        ).scalar_one()
        record_audit(conn, workspace.id, actor, "segment.saved", name, {"expression": expression},
                     now)  # fmt: skip
    return {"id": segment_id, "name": name, "expression": expression}


def list_segments(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Segments by name; given `after_id`, in id order instead, so pages stay stable."""
    query = select(segments).where(segments.c.workspace_id == workspace.id).limit(limit)
    if after_id is None:
        query = query.order_by(segments.c.name)
    else:
        query = query.where(segments.c.id > after_id).order_by(segments.c.id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [{"id": r.id, "name": r.name, "expression": r.expression} for r in rows]


def delete_segment(
    engine: Engine, workspace: WorkspaceRef, name: str, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        saved_expression(conn, workspace, name)
        conn.execute(
            delete(segments).where(
                segments.c.workspace_id == workspace.id, segments.c.name == name
            )
        )
        record_audit(conn, workspace.id, actor, "segment.deleted", name, {}, now)
