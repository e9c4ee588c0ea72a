"""Saved dashboards: who may open, change, share, copy and delete them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from smscast.core.dashboard_tiles import Tile, default_layout
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import users
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.dashboards.layouts import (
    copy_dashboard,
    create_dashboard,
    delete_dashboard,
    ensure_default_dashboard,
    get_dashboard,
    list_dashboards,
    rename_dashboard,
    save_layout,
    set_shared,
)

SMALL = [{"kind": "kpi-sent", "size": "m"}, {"kind": "chart-funnel", "size": "l"}]


@pytest.fixture
def people(engine: Engine, workspace: WorkspaceRef, add_member, now: datetime) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Two members of the workspace: Ala (a marketer) and Bob (a viewer)."""
    add_member(engine, workspace, "ala@example.com", "marketer", now)
    add_member(engine, workspace, "bob@example.com", "viewer", now)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(users.c.email, users.c.id)).all())
    return ids["ala@example.com"], ids["bob@example.com"]


def refused(call, *args, **kwargs) -> tuple[str, str | None, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(UserError) as caught:
        call(*args, **kwargs)
    problem = caught.value.problem
    return problem.code, problem.field, problem.message


def test_a_first_visit_creates_the_default_dashboard_once(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, _ = people
    first = ensure_default_dashboard(engine, workspace.id, ala, "Overview", now)
    assert (first.name, first.mine, first.shared) == ("Overview", True, False)
    assert first.layout == default_layout()
    again = ensure_default_dashboard(engine, workspace.id, ala, "Przegląd", now)
    assert again.id == first.id
    assert [d.name for d in list_dashboards(engine, workspace.id, ala)] == ["Overview"]


def test_the_layout_saved_is_the_layout_read_and_a_bad_one_changes_nothing(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, _ = people
    board = create_dashboard(engine, workspace.id, ala, "Launch day", now)
    later = now + timedelta(minutes=5)
    saved = save_layout(engine, workspace.id, ala, board, SMALL, later)
    assert saved.layout == (Tile("kpi-sent", "m"), Tile("chart-funnel", "l"))
    assert saved.updated_at == later
    code, field, _ = refused(save_layout, engine, workspace.id, ala, board,
                             [*SMALL, {"kind": "kpi-sent"}], later)  # fmt: skip
    assert (code, field) == ("invalid_layout", "layout[2].kind")
    assert get_dashboard(engine, workspace.id, ala, board).layout == saved.layout


def test_names_are_unique_per_owner_with_a_clear_error(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, bob = people
    create_dashboard(engine, workspace.id, ala, "Sales", now)
    other = create_dashboard(engine, workspace.id, ala, "Other", now)
    assert refused(create_dashboard, engine, workspace.id, ala, "  Sales ", now) == (
        "dashboard_exists",
        "name",
        'you already have a dashboard named "Sales"',
    )
    assert refused(rename_dashboard, engine, workspace.id, ala, other, "Sales", now)[0] == (
        "dashboard_exists")  # fmt: skip
    create_dashboard(engine, workspace.id, bob, "Sales", now)  # Bob's own "Sales" is fine
    assert refused(create_dashboard, engine, workspace.id, ala, "   ", now)[:2] == (
        "invalid_name", "name")  # fmt: skip
    renamed = rename_dashboard(engine, workspace.id, ala, other, "Black Friday", now)
    assert renamed.name == "Black Friday"


def test_others_see_a_dashboard_only_once_shared_and_may_not_change_it(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, bob = people
    board = create_dashboard(engine, workspace.id, ala, "Team", now, layout=SMALL)
    assert list_dashboards(engine, workspace.id, bob) == []
    assert refused(get_dashboard, engine, workspace.id, bob, board)[:2] == (
        "unknown_dashboard", "dashboard_id")  # fmt: skip
    set_shared(engine, workspace.id, ala, board, True, now)
    seen = get_dashboard(engine, workspace.id, bob, board)
    assert (seen.name, seen.shared, seen.mine) == ("Team", True, False)
    for change in (
        lambda: save_layout(engine, workspace.id, bob, board, [], now),
        lambda: rename_dashboard(engine, workspace.id, bob, board, "Mine now", now),
        lambda: set_shared(engine, workspace.id, bob, board, False, now),
        lambda: delete_dashboard(engine, workspace.id, bob, board),
    ):
        code, _, message = refused(change)
        assert code == "forbidden" and '"Team"' in message
    assert get_dashboard(engine, workspace.id, ala, board).layout == (
        Tile("kpi-sent", "m"), Tile("chart-funnel", "l"))  # fmt: skip
    set_shared(engine, workspace.id, ala, board, False, now)
    assert list_dashboards(engine, workspace.id, bob) == []


def test_a_shared_dashboard_is_copied_into_ones_own_and_changed_there(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, bob = people
    board = create_dashboard(engine, workspace.id, ala, "Team", now, layout=SMALL)
    assert refused(copy_dashboard, engine, workspace.id, bob, board, "Team", now)[0] == (
        "unknown_dashboard")  # fmt: skip
    set_shared(engine, workspace.id, ala, board, True, now)
    copy = copy_dashboard(engine, workspace.id, bob, board, "Team", now)
    save_layout(engine, workspace.id, bob, copy, [{"kind": "kpi-cost"}], now)
    listed = list_dashboards(engine, workspace.id, bob)
    assert [(d.name, d.mine) for d in listed] == [("Team", True), ("Team", False)]
    assert get_dashboard(engine, workspace.id, ala, board).layout[0].kind == "kpi-sent"


def test_only_the_owner_deletes_and_the_next_visit_starts_afresh(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, _ = people
    first = ensure_default_dashboard(engine, workspace.id, ala, "Overview", now)
    save_layout(engine, workspace.id, ala, first.id, SMALL, now)
    delete_dashboard(engine, workspace.id, ala, first.id)
    assert list_dashboards(engine, workspace.id, ala) == []
    again = ensure_default_dashboard(engine, workspace.id, ala, "Overview", now)
    assert again.layout == default_layout()


def test_a_dashboard_of_another_workspace_does_not_exist_here(
    engine: Engine, workspace: WorkspaceRef, people: tuple[int, int], now: datetime
) -> None:
    ala, _ = people
    board = create_dashboard(engine, workspace.id, ala, "Shop", now)
    set_shared(engine, workspace.id, ala, board, True, now)
    elsewhere = create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="t", now=now)
    assert refused(get_dashboard, engine, elsewhere.id, ala, board)[0] == "unknown_dashboard"
    assert list_dashboards(engine, elsewhere.id, ala) == []
