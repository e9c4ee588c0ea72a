"""`GET /readyz`: what a load balancer asks before sending a process traffic.

200 when the database answers and its schema is the newest; 503 naming what is wrong
(and how to fix it) otherwise. Connectors are reported, never failed on.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from smscast.api.app import create_app
from smscast.channels.base import ConnectorState
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.ops.readiness import check_readiness, newest_revisions
from smscast.engine.sending.connectors import add_connector, update_connector, write_states
from smscast.engine.sending.leases import take_lease
from smscast.store.db import create_db_engine
from smscast.web.site import create_site


def _connector(engine: Engine, workspace: WorkspaceRef, name: str, now: datetime) -> int:
    row = add_connector(
        engine, workspace, name=name, kind="smpp",
        settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
        rate_per_s=10.0, window=10, actor="test", now=now,
    )  # fmt: skip
    return row.id


def test_a_migrated_database_is_ready_and_its_connectors_are_summed_up(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    waiting = _connector(engine, workspace, "carrier-a", now)
    paused = _connector(engine, workspace, "carrier-b", now)
    update_connector(engine, workspace, paused, enabled=False, actor="test", now=now)
    client = TestClient(create_app(settings, engine))  # no key, no session: a probe has none

    answer = client.get("/readyz")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["ready"], body["problems"]) == ("ready", True, [])
    assert body["schema"] == {"current": list(newest_revisions()),
                              "expected": list(newest_revisions())}  # fmt: skip
    summary = body["connectors"]
    assert (summary["total"], summary["enabled"], summary["paused"]) == (2, 1, 1)
    assert summary["waiting"] == [
        {"id": waiting, "workspace_id": workspace.id, "name": "carrier-a"}
    ]
    assert "/readyz" in client.get("/openapi.json").json()["paths"]


def test_connectors_held_sending_and_down_are_told_apart(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    sending = _connector(engine, workspace, "up", now)
    down = _connector(engine, workspace, "down", now)
    taken = _connector(engine, workspace, "just-taken", now)
    with engine.begin() as conn:
        for connector_id in (sending, down, taken):
            assert take_lease(conn, connector_id, "worker-1", now, 30.0)
        write_states(conn, "worker-1", [
            (sending, ConnectorState("up", connected=True)),
            (down, ConnectorState("down", connected=False, detail="bind refused")),
        ], now)  # fmt: skip

    found = check_readiness(engine, now)

    assert found.ready, found.problems
    summary = found.connectors
    assert summary is not None
    assert (summary.held, summary.sending, summary.connecting) == (3, 1, 1)
    assert [c.name for c in summary.down] == ["down"]
    assert summary.waiting == []


@pytest.fixture
def revision_put_back(engine: Engine) -> Iterator[None]:
    """Puts `alembic_version` back at the head after a test changed it: on PostgreSQL the
    tests share one migrated schema, and its cleanup empties the tables, not this one."""
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:head)"),
                     {"head": newest_revisions()[0]})  # fmt: skip


@pytest.mark.usefixtures("revision_put_back")
def test_a_schema_behind_answers_503_with_both_revisions_and_the_fix(
    settings: Settings, engine: Engine
) -> None:
    with engine.begin() as conn:  # as the database stood before the newest migrations
        conn.execute(text("UPDATE alembic_version SET version_num = '0011'"))
    client = TestClient(create_app(settings, engine))

    answer = client.get("/readyz")

    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["ready"], body["database_ok"]) == ("not_ready", False, True)
    head = newest_revisions()[0]
    assert body["problems"] == [
        f"the database schema is at revision 0011, this version needs {head}: "
        "run `smscast db upgrade`"
    ]
    assert body["schema"] == {"current": ["0011"], "expected": [head]}


@pytest.mark.usefixtures("revision_put_back")
def test_a_database_without_a_schema_is_told_to_upgrade(settings: Settings, engine: Engine
                                                        ) -> None:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    answer = TestClient(create_app(settings, engine)).get("/readyz")
    assert answer.status_code == 503
    assert "no schema yet" in answer.json()["problems"][0]
    assert "smscast db upgrade" in answer.json()["problems"][0]


@pytest.mark.sqlite_only  # no database of the fixtures is used
def test_a_sqlite_file_that_cannot_be_opened_answers_503(settings: Settings, tmp_path: Path
                                                         ) -> None:  # fmt: skip
    folder = tmp_path / "a-folder"  # a folder where the database file should be
    folder.mkdir()
    broken = create_db_engine(f"sqlite:///{folder}")
    try:
        answer = TestClient(create_app(settings, broken)).get("/readyz")
    finally:
        broken.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert (body["database_ok"], body["schema"], body["connectors"]) == (False, None, None)
    assert body["problems"] == ["the database does not answer: unable to open database file"]
    assert client_of(settings).get("/healthz").status_code == 200  # alive, only not ready


@pytest.mark.sqlite_only  # no database of the fixtures is used
def test_a_postgresql_port_nothing_listens_on_answers_503(settings: Settings) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = create_db_engine(f"postgresql+psycopg://smscast@127.0.0.1:{port}/smscast")
    try:
        answer = TestClient(create_app(settings, nowhere)).get("/readyz")
    finally:
        nowhere.dispose()
    assert answer.status_code == 503
    problem = answer.json()["problems"][0]
    assert problem.startswith("the database does not answer: ")
    assert str(port) in problem
    assert answer.json()["database"] == "postgresql"


def test_the_portal_leaves_readyz_to_the_probe(settings: Settings, engine: Engine) -> None:
    """Served beside the portal by `smscast serve`: no sign-in page, no portal headers."""
    answer = TestClient(create_site(settings, engine)).get("/readyz", follow_redirects=False)
    assert answer.status_code == 200 and answer.json()["ready"] is True
    assert "content-security-policy" not in answer.headers


def client_of(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))
