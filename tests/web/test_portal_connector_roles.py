"""The connectors pages name the worker receiving a connector's reports and texts when
it is not the one sending (`smscast worker --role receive`)."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, make_user, sign_in
from sqlalchemy import Engine

from smscast.channels.base import ConnectorState
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import add_connector, write_states
from smscast.engine.sending.leases import WorkerRole, take_lease, write_receive_state


@pytest.fixture
def viewer(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> TestClient:
    site = TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)
    make_user(engine, [workspace], "vera@shop.test", role="viewer", now=now)
    sign_in(site, "vera@shop.test")
    return site


def carrier(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    added = add_connector(engine, workspace, name="carrier", kind="smpp",
                          settings={"host": "10.0.0.5", "system_id": "shop"}, rate_per_s=50,
                          window=10, actor="test", now=now)  # fmt: skip
    return added.id


def test_a_split_connector_shows_its_sending_and_its_receiving_worker(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = carrier(engine, workspace, now)
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "tx-1", now, 30, WorkerRole.TRANSMIT)
        assert take_lease(conn, connector_id, "rx-1", now, 30, WorkerRole.RECEIVE)
        state = ConnectorState("carrier", True, "bound (transmitter)")
        write_states(conn, "tx-1", [(connector_id, state)], now)
        write_receive_state(conn, connector_id, "rx-1", True, "bound (receiver)")
    listed = viewer.get("/connectors").text
    assert "<code>tx-1</code>" in listed and "<code>rx-1</code>" in listed
    one = viewer.get(f"/connectors/{connector_id}").text
    assert 'data-testid="received-by"><code>rx-1</code>' in one
    assert "bound (receiver)" in one


def test_a_connector_held_whole_names_one_worker(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = carrier(engine, workspace, now)
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 30, WorkerRole.ALL)
    one = viewer.get(f"/connectors/{connector_id}").text
    assert 'data-testid="held-by"><code>w1</code>' in one
    assert "received-by" not in one
