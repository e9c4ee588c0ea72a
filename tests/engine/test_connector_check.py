"""Testing a connector's connection for real, over loopback: an SMPP bind to the built-in
simulator with the right and the wrong password, and the HTTP carriers' authenticated
look-ups against a local server speaking their answers; plus a connector's hourly
throughput read from the traffic counters."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import Engine

from smscast.channels.probe import Outcome
from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending import connector_check as check
from smscast.engine.sending.connector_views import connector_log_entries
from smscast.engine.sending.connectors import add_connector
from smscast.engine.stats import hour_of
from smscast.engine.traffic import write_traffic

SMSC_PASSWORD = "s3cr3t"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-auth-token-42"
INFOBIP_KEY = "infobip-api-key-42"
KANNEL_PASSWORD = "kannel-pw-42"


class SimulatorThread:
    """The built-in SMSC simulator on its own event loop in a thread, on a free port."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sim: RunningSimulator = self._call(start_simulator(config))

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    @property
    def port(self) -> int:
        return self.sim.port

    def close(self) -> None:
        self._call(self.sim.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


@pytest.fixture
def smsc() -> Iterator[SimulatorThread]:
    running = SimulatorThread(
        SimulatorConfig(port=0, http_port=None, system_id="shop", password=SMSC_PASSWORD)
    )
    yield running
    running.close()


class Carriers(BaseHTTPRequestHandler):
    """Twilio's Account resource, Infobip's balance and Kannel's sendsms, each checking
    its credentials as the real one does."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith("/slow"):
            threading.Event().wait(1)
            # The connection test has given up waiting by now, as it should.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(200, {})
        elif url.path == f"/2010-04-01/Accounts/{TWILIO_SID}.json":
            expected = base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                self._answer(200, {"sid": TWILIO_SID, "friendly_name": "Shop", "status": "active"})
            else:
                self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
        elif url.path == "/account/1/balance":
            if self.headers.get("Authorization") == f"App {INFOBIP_KEY}":
                self._answer(200, {"balance": 47.5, "currency": "EUR"})
            else:
                error = {"serviceException": {"messageId": "UNAUTHORIZED",
                                              "text": "Invalid login details"}}  # fmt: skip
                self._answer(401, {"requestError": error})
        elif url.path == "/cgi-bin/sendsms":
            query = parse_qs(url.query)
            if query.get("password") != [KANNEL_PASSWORD] or query.get("username") != ["shop"]:
                self._answer(403, "Authorization failed for sendsms")
            elif "to" not in query:
                self._answer(400, "Missing receiver number for sendsms")
            else:
                raise AssertionError("a connection test must never send")
        else:
            self._answer(404, "no such page")

    def _answer(self, status: int, body: object) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        kind = "text/plain" if isinstance(body, str) else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def carrier_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Carriers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def smpp(port: int, password: str, **more: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "system_id": "shop", "password": password, **more}


def test_the_right_password_binds_and_unbinds(
    engine: Engine, workspace: WorkspaceRef, smsc: SimulatorThread
) -> None:
    result = check.test_connector(
        engine, workspace, kind="smpp", settings=smpp(smsc.port, SMSC_PASSWORD)
    )

    assert result.outcome is Outcome.CONNECTED, result.detail
    assert result.ok and result.code == "ESME_ROK"
    assert result.detail == "bound as transceiver to SMSCAST-SIM"
    assert smsc.sim.stats.binds == 1


def test_a_wrong_password_is_the_smscs_own_refusal(
    engine: Engine, workspace: WorkspaceRef, smsc: SimulatorThread
) -> None:
    result = check.test_connector(engine, workspace, kind="smpp", settings=smpp(smsc.port, "nope"))

    assert result.outcome is Outcome.WRONG_CREDENTIALS
    assert result.code == "ESME_RINVPASWD"
    assert result.detail == "bind_transceiver refused: ESME_RINVPASWD"
    assert "nope" not in result.log[0].request


def test_the_bind_mode_given_is_the_one_tried(
    engine: Engine, workspace: WorkspaceRef, smsc: SimulatorThread
) -> None:
    settings = smpp(smsc.port, SMSC_PASSWORD, bind_mode="transmitter")
    result = check.test_connector(engine, workspace, kind="smpp", settings=settings)

    assert result.detail == "bound as transmitter to SMSCAST-SIM"
    assert result.log[0].request.startswith("bind_transmitter transmitter shop@127.0.0.1")


def test_nobody_listening_is_said_at_once(engine: Engine, workspace: WorkspaceRef) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = check.test_connector(engine, workspace, kind="smpp", settings=smpp(port, "x"))

    assert result.outcome is Outcome.UNREACHABLE
    assert f"cannot connect to 127.0.0.1:{port}" in result.detail


def test_an_smsc_that_never_answers_the_bind_is_no_answer(
    engine: Engine, workspace: WorkspaceRef
) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        result = check.test_connector(
            engine, workspace, kind="smpp", settings=smpp(port, "x"), timeout_s=0.3
        )

    assert result.outcome is Outcome.NO_ANSWER
    assert result.detail == "bind_transceiver: no answer within 0.3s"


def test_a_stored_connector_is_tried_with_its_secret_and_the_changes_typed(
    engine: Engine, workspace: WorkspaceRef, now: datetime, smsc: SimulatorThread
) -> None:
    stored = add_connector(engine, workspace, name="carrier", kind="smpp",
                           settings=smpp(smsc.port, SMSC_PASSWORD), rate_per_s=10, window=5,
                           actor="test", now=now)  # fmt: skip

    kept = check.test_connector(
        engine, workspace, connector_id=stored.id, settings={"system_type": ""}
    )
    wrong = check.test_connector(engine, workspace, connector_id=stored.id,
                                 settings={"password": "typo"})  # fmt: skip

    assert (kept.outcome, wrong.outcome) == (Outcome.CONNECTED, Outcome.WRONG_CREDENTIALS)
    entries = connector_log_entries(engine, workspace, stored.id, before=0, limit=10)
    assert [e["kind"] for e in entries] == ["test_connection", "test_connection"]
    assert entries[0]["error"] == "bind_transceiver refused: ESME_RINVPASWD"
    assert not any(SMSC_PASSWORD in str(e) or "typo" in str(e) for e in entries)


def test_another_workspaces_connector_cannot_be_tried(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    stored = add_connector(engine, workspace, name="carrier", kind="smpp", settings={},
                           rate_per_s=10, window=5, actor="test", now=now)  # fmt: skip
    stranger = WorkspaceRef(workspace.id + 1000, "Other", "PL", "Europe/Warsaw", {})

    with pytest.raises(UserError) as refused:
        check.test_connector(engine, stranger, connector_id=stored.id)
    assert refused.value.problem.code == "unknown_connector"


def test_settings_that_make_no_connector_are_refused_before_any_connection(
    engine: Engine, workspace: WorkspaceRef
) -> None:
    with pytest.raises(UserError) as refused:
        check.test_connector(engine, workspace, kind="smpp", settings=smpp(2775, "far too long"))
    assert refused.value.problem.code == "bad_connector_settings"
    assert "password" in refused.value.problem.message
    with pytest.raises(UserError):
        check.test_connector(engine, workspace, kind="carrier-pigeon", settings={})


@pytest.mark.parametrize(
    ("kind", "right", "wrong", "said"),
    [
        ("twilio", {"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN},
         {"account_sid": TWILIO_SID, "auth_token": "bad-token-1"}, "account Shop (active)"),
        ("infobip", {"api_key": INFOBIP_KEY}, {"api_key": "bad-key-123"}, "balance 47.5 EUR"),
        ("kannel", {"username": "shop", "password": KANNEL_PASSWORD},
         {"username": "shop", "password": "bad-pass-1"},
         "sendsms accepted the credentials (Missing receiver number for sendsms)"),
    ],
)  # fmt: skip
def test_http_carriers_are_asked_who_we_are_and_nothing_is_sent(
    engine: Engine,
    workspace: WorkspaceRef,
    carrier_url: str,
    kind: str,
    right: dict[str, str],
    wrong: dict[str, str],
    said: str,
) -> None:
    good = check.test_connector(
        engine, workspace, kind=kind, settings={"base_url": carrier_url, **right}
    )
    bad = check.test_connector(
        engine, workspace, kind=kind, settings={"base_url": carrier_url, **wrong}
    )

    assert (good.outcome, good.detail) == (Outcome.CONNECTED, said)
    assert bad.outcome is Outcome.WRONG_CREDENTIALS
    assert bad.code in ("401", "403")
    for secret in (*right.values(), *wrong.values()):
        if secret not in ("shop", TWILIO_SID):
            assert secret not in f"{good.log} {bad.log} {bad.detail}"


def test_a_carrier_that_answers_too_late_is_no_answer(
    engine: Engine, workspace: WorkspaceRef, carrier_url: str
) -> None:
    settings = {"base_url": f"{carrier_url}/slow", "api_key": INFOBIP_KEY}
    result = check.test_connector(
        engine, workspace, kind="infobip", settings=settings, timeout_s=0.3
    )

    assert result.outcome is Outcome.NO_ANSWER


def test_throughput_per_hour_comes_from_the_traffic_counters(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    stored = add_connector(engine, workspace, name="carrier", kind="smpp", settings={},
                           rate_per_s=10, window=5, actor="test", now=now)  # fmt: skip
    hour = hour_of(now)
    with engine.begin() as conn:
        write_traffic(conn, [
            ((workspace.id, stored.id, 0, "promotional", 0), hour - timedelta(hours=2),
             {"sent": 3, "parts": 5, "delivered": 2, "undelivered": 1}),
            ((workspace.id, stored.id, 0, "informational", 0), hour,
             {"sent": 1, "parts": 1, "failed": 1, "inbound": 4}),
            ((workspace.id, stored.id + 1, 0, "informational", 0), hour, {"sent": 100}),
        ])  # fmt: skip

    since, until = now - timedelta(hours=3), now + timedelta(hours=1)
    traffic = check.connector_traffic(engine, workspace, stored.id, since=since, until=until)

    assert len(traffic["points"]) == 4
    assert [p["sent"] for p in traffic["points"]] == [0, 3, 0, 1]
    assert traffic["totals"] == {"sent": 4, "parts": 6, "delivered": 2, "failed": 2, "inbound": 4}
