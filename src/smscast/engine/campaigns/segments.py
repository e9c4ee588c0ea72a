"""Segment use cases: count an expression, save it under a name, list, change and delete
saved ones.

A saved segment is found by name where people type it (CLI, API, a campaign's
`segment_name`) and by id where a page links to it (the portal's edit and delete
buttons), so that renaming one in place keeps its address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

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
MAX_NAME = 200  # the column's length


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
    actor: str, now: datetime, replace: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Saves (or replaces) a named segment after checking that it parses and names real fields.

    With `replace=False` a name already taken is refused instead (the portal's "new
    segment" form must not overwrite one the user did not open).
    """
    name = _checked_name(name)
    with engine.begin() as conn:
        segment_where(conn, workspace, expression, now)
        if not replace:
            _refuse_taken_name(conn, workspace, name, keep_id=None)
        conn.execute(
            delete(segments).where(segments.c.workspace_id == workspace.id, segments.c.name == name)
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
    return [
        {"id": r.id, "name": r.name, "expression": r.expression, "created_at": r.created_at}
        for r in rows
    ]


def segment_by_id(engine: Engine, workspace: WorkspaceRef, segment_id: int) -> dict[str, Any]:
    """One saved segment of this workspace; another workspace's id is unknown here."""
    with engine.connect() as conn:
        row = _row_by_id(conn, workspace, segment_id)
    return {"id": row.id, "name": row.name, "expression": row.expression,
            "created_at": row.created_at}  # fmt: skip


def edit_segment(
    engine: Engine, workspace: WorkspaceRef, segment_id: int, name: str, expression: str, *,
    actor: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Changes a saved segment's name and expression in place (same id, same created_at),
    after the checks `save_segment` makes; a name another segment has is refused."""
    name = _checked_name(name)
    with engine.begin() as conn:
        row = _row_by_id(conn, workspace, segment_id)
        segment_where(conn, workspace, expression, now)
        _refuse_taken_name(conn, workspace, name, keep_id=row.id)
        conn.execute(
            update(segments).where(segments.c.id == row.id).values(name=name, expression=expression)
        )
        details = {"expression": expression, **({"was": row.name} if row.name != name else {})}
        record_audit(conn, workspace.id, actor, "segment.saved", name, details, now)
    return {"id": row.id, "name": name, "expression": expression, "created_at": row.created_at}


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "a segment needs a name", field="name")
    if len(name) > MAX_NAME:
        raise UserError.of("name_too_long", f"a segment name has at most {MAX_NAME} characters",
                           field="name")  # fmt: skip
    return name


def _refuse_taken_name(
    conn: Connection, workspace: WorkspaceRef, name: str, keep_id: int | None
) -> None:
    taken = conn.execute(
        select(segments.c.id).where(
            segments.c.workspace_id == workspace.id, segments.c.name == name
        )
    ).first()
    if taken is not None and taken.id != keep_id:
        raise UserError.of("segment_exists", f'a segment named "{name}" already exists',
                           field="name")  # fmt: skip


def _row_by_id(conn: Connection, workspace: WorkspaceRef, segment_id: int) -> Any:
    row = conn.execute(
        select(segments).where(segments.c.workspace_id == workspace.id, segments.c.id == segment_id)
    ).first()
    if row is None:
        raise UserError.of("unknown_segment", f"no saved segment #{segment_id}", field="segment")
    return row


def delete_segment(
    engine: Engine, workspace: WorkspaceRef, name: str, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        saved_expression(conn, workspace, name)
        conn.execute(
            delete(segments).where(segments.c.workspace_id == workspace.id, segments.c.name == name)
        )
        record_audit(conn, workspace.id, actor, "segment.deleted", name, {}, now)
