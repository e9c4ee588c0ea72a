"""Saved dashboards: named tile layouts, each owned by one user, shareable in a workspace.

A user opens their own dashboards and those others shared in the workspace; only the
owner changes, shares or deletes one (anyone else gets a `forbidden` error naming the
dashboard), and someone who likes a shared one copies it to their own. A dashboard
another user cannot open does not exist for them (`unknown_dashboard`), so ids leak
nothing. Every write owns its transaction and takes `now` from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from smscast.core.dashboard_tiles import (
    Layout,
    default_layout,
    layout_to_json,
    stored_layout,
    validate_layout,
)
from smscast.core.errors import UserError
from smscast.store.db import begin_write
from smscast.store.models import Dashboard, table_of

dashboards = table_of(Dashboard)
NAME_LIMIT = 200


@dataclass(frozen=True, slots=True)
class DashboardView:
    """A dashboard as the user who asked sees it; `mine` says whether they may change it."""

    id: int
    name: str
    owner_id: int
    shared: bool
    mine: bool
    layout: Layout
    created_at: datetime
    updated_at: datetime


def _view(row: Any, user_id: int) -> DashboardView:
    return DashboardView(
        id=row.id, name=row.name, owner_id=row.owner_id, shared=bool(row.shared),
        mine=row.owner_id == user_id, layout=stored_layout(row.layout),
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def _visible(workspace_id: int, user_id: int) -> Any:
    return and_(
        dashboards.c.workspace_id == workspace_id,
        or_(dashboards.c.owner_id == user_id, dashboards.c.shared.is_(True)),
    )


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise UserError.of("invalid_name", "a dashboard needs a name", field="name")
    if len(cleaned) > NAME_LIMIT:
        raise UserError.of(
            "invalid_name",
            f"a dashboard name has at most {NAME_LIMIT} characters, got {len(cleaned)}",
            field="name",
        )
    return cleaned


def _refuse_taken(conn: Connection, workspace_id: int, user_id: int, name: str,
                  other_than: int | None = None) -> None:  # fmt: skip
    query = select(dashboards.c.id).where(
        dashboards.c.workspace_id == workspace_id,
        dashboards.c.owner_id == user_id,
        dashboards.c.name == name,
    )
    if other_than is not None:
        query = query.where(dashboards.c.id != other_than)
    if conn.execute(query).first() is not None:
        raise _taken(name)


def _taken(name: str) -> UserError:
    return UserError.of(
        "dashboard_exists", f'you already have a dashboard named "{name}"', field="name"
    )


def _load(conn: Connection, workspace_id: int, user_id: int, dashboard_id: int) -> Any:
    row = conn.execute(
        select(dashboards).where(dashboards.c.id == dashboard_id, _visible(workspace_id, user_id))
    ).first()
    if row is None:
        raise UserError.of(
            "unknown_dashboard", f"no dashboard with id {dashboard_id}", field="dashboard_id"
        )
    return row


def _owned(conn: Connection, workspace_id: int, user_id: int, dashboard_id: int) -> Any:
    row = _load(conn, workspace_id, user_id, dashboard_id)
    if row.owner_id != user_id:
        raise UserError.of(
            "forbidden",
            f'only its owner may change the dashboard "{row.name}"; copy it to make your own',
            field="dashboard_id",
        )
    return row


def list_dashboards(engine: Engine, workspace_id: int, user_id: int) -> list[DashboardView]:
    """The user's own dashboards, then those others shared in the workspace, by name."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(dashboards)
            .where(_visible(workspace_id, user_id))
            .order_by((dashboards.c.owner_id != user_id), dashboards.c.name, dashboards.c.id)
        ).all()
    return [_view(row, user_id) for row in rows]


def get_dashboard(
    engine: Engine, workspace_id: int, user_id: int, dashboard_id: int
) -> DashboardView:
    """One dashboard the user may open (their own or a shared one)."""
    with engine.connect() as conn:
        return _view(_load(conn, workspace_id, user_id, dashboard_id), user_id)


def _insert(conn: Connection, workspace_id: int, user_id: int, name: str, layout: Layout,
            now: datetime) -> int:  # fmt: skip
    _refuse_taken(conn, workspace_id, user_id, name)
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(dashboards)
                .values(workspace_id=workspace_id, owner_id=user_id, name=name, shared=False,
                        layout=layout_to_json(layout), created_at=now, updated_at=now)
                .returning(dashboards.c.id)
            ).scalar_one()  # fmt: skip
    except IntegrityError:  # the same user saved the same name from another tab meanwhile
        raise _taken(name) from None
    return int(new_id)


def create_dashboard(
    engine: Engine, workspace_id: int, user_id: int, name: str, now: datetime,
    layout: object | None = None,
) -> int:  # fmt: skip
    """A new dashboard owned by the user, not shared; `layout` (raw, as posted) is checked,
    and left out it is the default layout. Returns its id."""
    cleaned = _clean_name(name)
    tiles = default_layout() if layout is None else validate_layout(layout)
    with engine.begin() as conn:
        begin_write(conn)
        return _insert(conn, workspace_id, user_id, cleaned, tiles, now)


def ensure_default_dashboard(
    engine: Engine, workspace_id: int, user_id: int, name: str, now: datetime
) -> DashboardView:
    """The dashboard a visit to /dashboard opens: the user's first own one, created with
    the default layout (under `name`, translated by the caller) when they have none.

    Every page view calls this, so it only reads unless a dashboard must be created:
    a view never waits for the write lock behind the dispatcher.
    """
    mine = (dashboards.c.workspace_id == workspace_id) & (dashboards.c.owner_id == user_id)
    first_own = select(dashboards).where(mine).order_by(dashboards.c.id).limit(1)
    with engine.connect() as conn:
        row = conn.execute(first_own).first()
    if row is None:
        with engine.begin() as conn:
            begin_write(conn)
            row = conn.execute(first_own).first()  # again, under the lock: another tab
            if row is None:
                new_id = _insert(conn, workspace_id, user_id, _clean_name(name),
                                 default_layout(), now)  # fmt: skip
                row = _load(conn, workspace_id, user_id, new_id)
    return _view(row, user_id)


def _change(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int,
            now: datetime, **values: Any) -> DashboardView:  # fmt: skip
    with engine.begin() as conn:
        begin_write(conn)
        row = _owned(conn, workspace_id, user_id, dashboard_id)
        if "name" in values:
            _refuse_taken(conn, workspace_id, user_id, values["name"], other_than=row.id)
        try:
            with conn.begin_nested():
                conn.execute(
                    update(dashboards)
                    .where(dashboards.c.id == row.id)
                    .values(**values, updated_at=now)
                )
        except IntegrityError:
            raise _taken(values.get("name", row.name)) from None
        return _view(_load(conn, workspace_id, user_id, dashboard_id), user_id)


def rename_dashboard(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int,
                     name: str, now: datetime) -> DashboardView:  # fmt: skip
    """A new name for the user's dashboard (unique among their own)."""
    cleaned = _clean_name(name)
    return _change(engine, workspace_id, user_id, dashboard_id, now, name=cleaned)


def save_layout(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int,
                layout: object, now: datetime) -> DashboardView:  # fmt: skip
    """Replaces the tiles with `layout` as the page posts it after an add, remove, reorder
    or resize; nothing is stored unless the whole layout is valid."""
    tiles = validate_layout(layout)
    return _change(engine, workspace_id, user_id, dashboard_id, now,
                   layout=layout_to_json(tiles))  # fmt: skip


def set_shared(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int,
               shared: bool, now: datetime) -> DashboardView:  # fmt: skip
    """Shares the dashboard with everyone in the workspace, or takes it back."""
    return _change(engine, workspace_id, user_id, dashboard_id, now, shared=shared)


def delete_dashboard(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int) -> None:
    """Deletes the user's dashboard; others who had it open as shared lose it too."""
    with engine.begin() as conn:
        begin_write(conn)
        row = _owned(conn, workspace_id, user_id, dashboard_id)
        conn.execute(delete(dashboards).where(dashboards.c.id == row.id))


def copy_dashboard(engine: Engine, workspace_id: int, user_id: int, dashboard_id: int,
                   name: str, now: datetime) -> int:  # fmt: skip
    """A private copy, owned by the user, of a dashboard they may open (typically a shared
    one they want to change). Returns the copy's id."""
    cleaned = _clean_name(name)
    with engine.begin() as conn:
        begin_write(conn)
        source = _load(conn, workspace_id, user_id, dashboard_id)
        return _insert(conn, workspace_id, user_id, cleaned, stored_layout(source.layout), now)
