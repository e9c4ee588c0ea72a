"""The connectors pages through the real site on a real database: each connector's state
as its worker reported it (refreshed by a poll of one query), its throughput and log,
adding and editing with secrets that never come back into a page, the connection test
against the built-in simulator, and who may do what."""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, event, update

from smscast.channels.base import ConnectorState, LogEntry
from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import add_connector, connectors, write_states
from smscast.engine.sending.leases import take_lease
from smscast.engine.stats import hour_of
from smscast.engine.traffic import write_traffic

OWNER = "ola@shop.test"
VIEWER = "vera@shop.test"
SMSC_PASSWORD = "s3cr3t"
TOKEN = "twilio-token-that-must-not-show"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


@pytest.fixture
def viewer(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], VIEWER, role="viewer", now=now)
    sign_in(site, VIEWER)
    return site


@pytest.fixture
def smsc() -> Iterator[int]:
    """The built-in simulator on loopback, in a thread of its own, wanting SMSC_PASSWORD
    for system id "shop"; its port."""
    ports: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        config = SimulatorConfig(port=0, http_port=None, system_id="shop", password=SMSC_PASSWORD)
        sim = await start_simulator(config)
        ports.put(sim.port)
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await sim.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    yield ports.get(timeout=10)
    stop.set()
    thread.join(timeout=5)


def sending(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    """A connector held by worker "w1", bound, 3 submits in flight, 2 parts a second."""
    added = add_connector(engine, workspace, name="carrier", kind="smpp",
                          settings={"host": "10.0.0.5", "system_id": "shop",
                                    "password": SMSC_PASSWORD},
                          rate_per_s=50, window=10, actor="test", now=now)  # fmt: skip
    with engine.begin() as conn:
        take_lease(conn, added.id, "w1", now, 30)
        state = ConnectorState("carrier", True, "bound (transceiver)", 3, 2.0, ("old hiccup",))
        write_states(conn, "w1", [(added.id, state)], now)
    return added.id


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get(form_page).text)
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


def test_the_list_shows_each_connectors_state_and_who_holds_it(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    sending(engine, workspace, now)
    add_connector(engine, workspace, name="spare", kind="smpp", settings={}, rate_per_s=1,
                  window=1, actor="test", now=now)  # fmt: skip

    page = viewer.get("/connectors")

    assert page.status_code == 200
    rows = re.findall(r'data-connector="(\w+)".*?data-state="(\w+)"', page.text, re.S)
    assert rows == [("carrier", "sending"), ("spare", "waiting")]
    assert "<code>w1</code>" in page.text
    assert "3 of 10" in page.text  # the window in use
    assert ">120<" in page.text  # 2 parts a second: 120 a minute
    assert "old hiccup" in page.text
    assert 'hx-get="/connectors/live"' in page.text
    assert "Add connector" not in page.text  # a viewer only looks


def test_the_live_block_costs_one_query(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    sending(engine, workspace, now)
    viewer.get("/connectors/live")  # the viewer's session is read once per request anyway
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        block = viewer.get("/connectors/live")
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert block.status_code == 200 and 'data-state="sending"' in block.text
    ours = [s for s in seen if "connector_states" in s]
    assert len(ours) == 1
    assert not any("FROM messages" in s for s in seen)


def test_a_paused_connector_says_so_and_can_be_resumed(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = sending(engine, workspace, now)
    path = f"/connectors/{connector_id}"

    paused = post_form(owner, f"{path}/pause", path)
    assert paused.status_code == 303
    page = owner.get(path)
    assert 'data-state="paused"' in page.text
    assert "Sending is switched off for this connector" in page.text

    post_form(owner, f"{path}/resume", path)
    assert 'data-state="sending"' in owner.get(path).text


def test_one_connector_shows_throughput_settings_and_its_log_without_secrets(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = sending(engine, workspace, now)
    with engine.begin() as conn:
        write_traffic(conn, [((workspace.id, connector_id, 0, "promotional", 0), hour_of(now),
                              {"sent": 7, "parts": 9, "delivered": 5, "failed": 1})])  # fmt: skip
        record_log_entries(conn, connector_id, [
            LogEntry("carrier", "submit_sm", "submit_sm to +48600100200", "submit_sm_resp OK",
                     3.0, now, (41, 42)),
            LogEntry("carrier", "bind", "bind_transceiver shop@10.0.0.5", "", 12.0, now,
                     error="bind_transceiver refused: ESME_RINVPASWD"),
        ])  # fmt: skip

    page = viewer.get(f"/connectors/{connector_id}")

    assert page.status_code == 200
    assert "Texts sent: 7 in 9 parts. Delivered: 5. Failed: 1. Received: 0." in page.text
    assert "data-campaign-chart" in page.text
    assert SMSC_PASSWORD not in page.text
    assert re.search(r"Password</dt>\s*<dd>set</dd>", page.text)
    assert page.text.count('data-testid="log-entry"') == 2
    assert '<a href="?message=41">41</a>' in page.text
    assert "ESME_RINVPASWD" in page.text
    failed_only = viewer.get(f"/connectors/{connector_id}?errors_only=true")
    assert failed_only.text.count('data-testid="log-entry"') == 1
    assert "Test connection" not in page.text and "Edit" not in page.text


def test_an_unknown_message_or_phone_is_said_beside_the_search(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = sending(engine, workspace, now)

    missing = viewer.get(f"/connectors/{connector_id}?message=999")
    bad_phone = viewer.get(f"/connectors/{connector_id}?phone=abc")
    nobody = viewer.get(f"/connectors/{connector_id}?phone=%2B48600100200")

    assert "There is no message 999." in missing.text
    assert "Enter a phone number" in bad_phone.text
    assert "No message to or from this number went through this connector." in nobody.text


def test_readers_and_other_workspaces_cannot_write(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = sending(engine, workspace, now)
    token = csrf_of(viewer.get("/connectors").text)

    for path in ("/connectors/new", f"/connectors/{connector_id}/edit"):
        assert viewer.get(path).status_code == 403
    for path in (f"/connectors/{connector_id}/pause", f"/connectors/{connector_id}/test",
                 "/connectors/new"):  # fmt: skip
        assert viewer.post(path, data={"csrf_token": token, "kind": "smpp"}).status_code == 403
    assert viewer.get("/connectors/99999").status_code == 404


def test_adding_a_twilio_connector_keeps_what_was_typed_and_never_shows_the_token(
    owner: TestClient, engine: Engine
) -> None:
    form = owner.get("/connectors/new?kind=twilio")
    assert form.status_code == 200
    assert 'name="auth_token"' in form.text and 'value="https://api.twilio.com"' in form.text

    wrong = post_form(owner, "/connectors/new", "/connectors/new?kind=twilio", kind="twilio",
                      name="twilio-eu", account_sid="", auth_token=TOKEN,
                      status_callback_url="not a url", rate_per_s="ten", window="4")  # fmt: skip

    assert wrong.status_code == 422
    assert 'href="#account_sid">Fill this in: the connector needs it.' in wrong.text
    assert "Enter an address starting with https:// or http://." in wrong.text
    assert 'href="#rate_per_s"' in wrong.text
    assert 'value="twilio-eu"' in wrong.text and 'value="not a url"' in wrong.text
    assert TOKEN not in wrong.text

    saved = post_form(owner, "/connectors/new", "/connectors/new?kind=twilio", kind="twilio",
                      name="twilio-eu", account_sid="AC123", auth_token=TOKEN,
                      rate_per_s="5", window="4", base_url="https://api.twilio.com")  # fmt: skip
    assert saved.status_code == 303
    page = owner.get(saved.headers["location"])
    assert "The connector was saved." in page.text and TOKEN not in page.text
    edit = owner.get(page.url.path + "/edit")
    assert "Set: leave empty to keep it." in edit.text and TOKEN not in edit.text


def test_editing_leaves_an_empty_secret_as_it_was(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = sending(engine, workspace, now)
    path = f"/connectors/{connector_id}/edit"

    changed = post_form(owner, path, path, host="10.0.0.6", port="2776", system_id="shop",
                        password="", bind_mode="transmitter", rate_per_s="20",
                        window="5")  # fmt: skip

    assert changed.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(connectors.select().where(connectors.c.id == connector_id)).one()
    assert row.settings["password"] == SMSC_PASSWORD
    changes = (row.settings["host"], row.settings["bind_mode"], row.window)
    assert changes == ("10.0.0.6", "transmitter", 5)
    too_long = post_form(owner, path, path, host="h", port="2775", password="much too long",
                         bind_mode="transceiver", rate_per_s="1", window="1")  # fmt: skip
    assert too_long.status_code == 422 and "At most 8 characters." in too_long.text


def test_the_connection_test_binds_to_the_simulator_and_names_a_refusal(
    owner: TestClient, smsc: int
) -> None:
    fields = {"kind": "simulator", "name": "sim-2", "host": "127.0.0.1", "port": str(smsc),
              "system_id": "shop", "bind_mode": "transceiver", "rate_per_s": "10",
              "window": "10"}  # fmt: skip
    page = "/connectors/new?kind=simulator"

    right = post_form(owner, "/connectors/new", page, action="test", password=SMSC_PASSWORD,
                      **fields)  # fmt: skip
    wrong = post_form(owner, "/connectors/new", page, action="test", password="nope", **fields)

    assert right.status_code == 200
    assert re.search(r"Connected in \d+ ms\.", right.text)
    assert "Nothing was sent." in right.text
    assert "Bind refused: wrong credentials." in wrong.text
    assert "The SMSC says the password is wrong (ESME_RINVPASWD)." in wrong.text
    assert 'value="sim-2"' in wrong.text and "nope" not in wrong.text

    fragment = owner.post("/connectors/new", data={**fields, "action": "test",
                          "password": "nope"}, headers={"HX-Request": "true",
                          "X-CSRF-Token": csrf_of(owner.get(page).text)})  # fmt: skip
    assert fragment.text.lstrip().startswith("<div") or "test-result" in fragment.text
    assert "<html" not in fragment.text and "ESME_RINVPASWD" in fragment.text


def test_a_stored_connectors_test_goes_into_its_log(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime, smsc: int
) -> None:
    added = add_connector(engine, workspace, name="sim", kind="smpp",
                          settings={"port": smsc, "system_id": "shop", "password": "wrong"},
                          rate_per_s=1, window=1, actor="test", now=now)  # fmt: skip
    path = f"/connectors/{added.id}"

    tested = post_form(owner, f"{path}/test", path)

    assert "Bind refused: wrong credentials." in tested.text
    assert "test_connection" in owner.get(path).text
    with engine.begin() as conn:  # the lease ran out: nobody holds it
        conn.execute(update(connectors).values(lease_owner="gone",
                                               lease_until=now - timedelta(minutes=1)))  # fmt: skip
    assert 'data-state="waiting"' in owner.get(path).text
