"""One sender for every outgoing request: keyword-rule webhook actions are checked,
signed, retried and logged like subscriptions; the address checked is the address
connected to; redirects are never followed.

Every listener is on loopback, and the policy that lets the sender reach it allows
127.0.0.0/8 only (never a blanket bypass); other addresses are refused before any
connection is attempted.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from mo_harness import SHORT, setup_numbers
from sqlalchemy import Engine, insert, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.addresses import AddressPolicy, IpAddress
from smscast.core.errors import UserError
from smscast.core.webhook_signing import verify_signature_header
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import NumberRef
from smscast.engine.inbound.receive import InboundResult, handle_inbound
from smscast.engine.webhooks.endpoints import (
    create_webhook,
    deliveries,
    emit_event,
    list_deliveries,
    list_webhooks,
)
from smscast.engine.webhooks.keyword_forward import list_rule_deliveries
from smscast.engine.webhooks.message_callbacks import show_callback_secret
from smscast.engine.webhooks.sender import deliver_due_webhooks
from smscast.engine.webhooks.targets import post_pinned
from smscast.store.inbound_models import KeywordRule
from smscast.store.models import table_of

PHONE = "+48600100200"
LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
TEN = AddressPolicy((ipaddress.ip_network("10.0.0.0/8"),))
TLS = Path(__file__).parent / "tls"  # a test CA and its certificate for hooks.example.test


@dataclass
class Listener:
    host: str
    port: int
    hits: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; then 200
    location: str = ""  # sent with a 3xx
    scheme: str = "http"
    server_names: list[str | None] = field(default_factory=list)  # SNI of TLS handshakes

    def url(self, host: str | None = None, path: str = "/hook") -> str:
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"


@contextmanager
def listener(host: str = "127.0.0.1", port: int = 0, *, tls: bool = False) -> Iterator[Listener]:
    """A loopback HTTP(S) server that records every request (path, headers, body)."""
    state = Listener(host, port, scheme="https" if tls else "http")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.hits.append((self.path, dict(self.headers.items()), self.rfile.read(length)))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", state.location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = _answer
        do_GET = _answer

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    state.port = server.server_address[1]
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(TLS / "hooks.pem", TLS / "hooks.key")
        context.sni_callback = lambda _sock, name, _ctx: state.server_names.append(name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class Resolver:
    """A DNS that answers from a script, one answer per call (the last one repeats)."""

    def __init__(self, *answers: str) -> None:
        self.answers = [[ipaddress.ip_address(a) for a in answer.split(",")] for answer in answers]
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[IpAddress]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


@pytest.fixture
def short(engine: Engine, workspace: WorkspaceRef, now: datetime) -> tuple[int, NumberRef]:
    connector_id, _, short_number = setup_numbers(engine, workspace, now)
    return connector_id, short_number


def _text(
    engine: Engine, settings: Settings, connector_id: int, text: str, at: datetime
) -> InboundResult:
    return handle_inbound(engine, settings, connector_id, InboundMessage(PHONE, SHORT, text, at))


# --- the address checked is the address connected to ----------------------------------


def test_the_request_goes_to_the_checked_address_with_the_name_as_host() -> None:
    resolver = Resolver("127.0.0.1")
    with listener() as hooks, httpx.Client() as client:
        url = hooks.url("hooks.example.test")
        response = post_pinned(client, url, b"{}", {}, LOOPBACK, resolver)
    assert response.status_code == 200
    [(path, headers, _)] = hooks.hits
    assert path == "/hook" and headers["Host"] == f"hooks.example.test:{hooks.port}"
    assert resolver.calls == ["hooks.example.test"]


def test_over_tls_the_certificate_is_checked_for_the_name_not_the_address() -> None:
    """Pinned to 127.0.0.1, the TLS server name (SNI) and the certificate check are still
    the URL's host: the right name gets through, another name on the same address fails."""
    trust = ssl.create_default_context(cafile=str(TLS / "ca.pem"))
    with listener(tls=True) as hooks, httpx.Client(verify=trust) as client:
        response = post_pinned(client, hooks.url("hooks.example.test"), b"{}", {}, LOOPBACK,
                               Resolver("127.0.0.1"))  # fmt: skip
        assert response.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            post_pinned(client, hooks.url("other.example.test"), b"{}", {}, LOOPBACK,
                        Resolver("127.0.0.1"))  # fmt: skip
    assert hooks.server_names[0] == "hooks.example.test"
    assert [headers["Host"] for _, headers, _ in hooks.hits] == [f"hooks.example.test:{hooks.port}"]


def test_a_second_dns_answer_cannot_move_the_connection() -> None:
    """DNS rebinding: the name is resolved once; a different later answer is never used."""
    resolver = Resolver("127.0.0.1", "127.0.0.2")
    with (
        listener() as checked,
        listener("127.0.0.2", checked.port) as elsewhere,
        httpx.Client() as client,
    ):
        post_pinned(client, checked.url("hooks.example.test"), b"{}", {}, LOOPBACK, resolver)
    assert len(checked.hits) == 1 and elsewhere.hits == []
    assert resolver.calls == ["hooks.example.test"]


@pytest.mark.parametrize(
    "answer",
    ["10.0.0.5", "169.254.169.254", "127.0.0.1,10.0.0.5", "::ffff:10.0.0.5", "2002:a00:5::1",
     "64:ff9b::a00:5", "2001:0:c000:201::f5ff:fffa", "fd00:ec2::254", "0.0.0.0", "100.64.0.1"],
)  # fmt: skip
def test_a_name_resolving_to_any_internal_address_is_refused_before_connecting(
    answer: str,
) -> None:
    with listener() as hooks, httpx.Client() as client, pytest.raises(UserError) as caught:
        post_pinned(client, hooks.url("hooks.example.test"), b"{}", {}, LOOPBACK,
                    Resolver(answer))  # fmt: skip
    assert caught.value.problem.code == "unsafe_url"
    assert hooks.hits == []


def test_a_redirect_is_a_failed_attempt_and_never_followed(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    with listener() as target, listener() as redirecting:
        redirecting.statuses = [302]
        redirecting.location = target.url()
        hook, _ = create_webhook(engine, settings, workspace, redirecting.url(), ["*"],
                                 description="", actor="t", now=now, policy=LOOPBACK)  # fmt: skip
        with engine.begin() as conn:
            emit_event(conn, workspace.id, "webhook.test", {}, now, endpoint_id=hook["id"])
        with httpx.Client(follow_redirects=True) as client:  # even a client that would
            assert deliver_due_webhooks(engine, settings, client, now, policy=LOOPBACK) == 1
    assert len(redirecting.hits) == 1 and target.hits == []
    [log] = list_deliveries(engine, workspace, hook["id"], after=0, limit=10)
    assert log["status"] == "pending" and log["attempts"] == 1
    assert log["last_status_code"] == 302 and "not followed" in log["last_error"]


# --- keyword-rule webhook actions --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("http://169.254.169.254/latest/meta-data", None),
        ("http://10.0.0.5/hook", None),
        ("http://[::ffff:10.0.0.5]/hook", None),
        ("http://169.254.169.254/latest/meta-data", AddressPolicy.of_setting(True)),
    ],
)
def test_a_rule_webhook_to_an_internal_address_is_refused_when_saved(
    engine: Engine, workspace: WorkspaceRef, now: datetime, short: Any, url: str,
    policy: AddressPolicy | None,
) -> None:  # fmt: skip
    actions = [{"type": "reply", "text": "Thanks"}, {"type": "webhook", "url": url}]
    with pytest.raises(UserError) as caught:
        add_keyword_rule(engine, workspace, SHORT, "ORDER", actions, actor="t", now=now,
                         policy=policy)  # fmt: skip
    assert caught.value.problem.code == "unsafe_url"
    assert caught.value.problem.field == "actions[1].url"


def test_a_rule_webhook_is_queued_then_signed_retried_and_logged(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, short: Any
) -> None:
    connector_id, _ = short
    with listener() as hooks, httpx.Client() as client:
        hooks.statuses = [500]
        rule = add_keyword_rule(engine, workspace, SHORT, "ORDER",
                                [{"type": "webhook", "url": hooks.url()}], actor="t", now=now,
                                policy=LOOPBACK)  # fmt: skip
        received = _text(engine, settings, connector_id, "order no 17", now)
        assert hooks.hits == []  # nothing leaves inside the routing transaction
        assert deliver_due_webhooks(engine, settings, client, now, policy=LOOPBACK) == 1
        [log] = list_rule_deliveries(engine, workspace, rule["id"], after=0, limit=10)
        assert (log["status"], log["last_status_code"]) == ("pending", 500)
        retry_at = log["next_attempt_at"]
        assert retry_at > now
        assert deliver_due_webhooks(engine, settings, client, retry_at, policy=LOOPBACK) == 1
    assert len(hooks.hits) == 2
    _, headers, body = hooks.hits[1]
    secret = show_callback_secret(engine, workspace, now)["secret"]
    assert verify_signature_header(
        secret, headers["Smscast-Signature"], body, int(retry_at.timestamp())
    )
    event = json.loads(body)
    assert event["type"] == "inbound.received" and headers["Smscast-Event"] == "inbound.received"
    assert event["data"]["text"] == "order no 17" and event["data"]["from"] == PHONE
    assert event["data"]["message_id"] == received.message_id
    assert event["data"]["rule_id"] == rule["id"] and event["data"]["rest"] == "no 17"
    [log] = list_rule_deliveries(engine, workspace, rule["id"], after=0, limit=10)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 2, 200)
    assert list_webhooks(engine, workspace, after=0, limit=10) == []  # no subscription


def test_a_rule_webhook_to_an_internal_address_is_refused_when_sent(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, short: Any
) -> None:
    """A rule saved where 10/8 was allowed, and one saved before rules were checked
    (to the metadata address): neither reaches its address once the policy says no."""
    connector_id, number = short
    rule = add_keyword_rule(engine, workspace, SHORT, "TEN",
                            [{"type": "webhook", "url": "http://10.0.0.5/hook"}], actor="t",
                            now=now, policy=TEN)  # fmt: skip
    with engine.begin() as conn:
        legacy = conn.execute(insert(table_of(KeywordRule)).values(
            workspace_id=workspace.id, number_id=number.id, keyword="META", aliases=[],
            match="first_word", enabled=True, created_at=now,
            actions=[{"type": "webhook", "url": "http://169.254.169.254/latest/meta-data"}],
        ).returning(table_of(KeywordRule).c.id)).scalar_one()  # fmt: skip
    _text(engine, settings, connector_id, "meta", now)
    with httpx.Client() as client:  # SMSCAST_WEBHOOK_ALLOW_PRIVATE never allows metadata
        tried = deliver_due_webhooks(engine, settings, client, now,
                                     policy=AddressPolicy.of_setting(True),
                                     resolver=Resolver())  # fmt: skip
    assert tried == 1
    [meta] = list_rule_deliveries(engine, workspace, legacy, after=0, limit=10)
    assert meta["last_status_code"] is None and "metadata" in meta["last_error"]
    later = now + timedelta(seconds=1)
    _text(engine, settings, connector_id, "ten", later)
    with httpx.Client() as client:  # the default policy refuses 10/8
        assert deliver_due_webhooks(engine, settings, client, later, policy=AddressPolicy()) == 1
    [ten] = list_rule_deliveries(engine, workspace, rule["id"], after=0, limit=10)
    assert ten["last_status_code"] is None and "internal address" in ten["last_error"]


def test_nothing_posts_to_a_rule_url_but_the_sender(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, short: Any
) -> None:
    """Routing never makes the request itself: without a delivery round, no hit."""
    connector_id, _ = short
    with listener() as hooks:
        add_keyword_rule(engine, workspace, SHORT, "HOOK",
                         [{"type": "webhook", "url": hooks.url()},
                          {"type": "reply", "text": "got it"}], actor="t", now=now,
                         policy=LOOPBACK)  # fmt: skip
        _text(engine, settings, connector_id, "hook", now)
    assert hooks.hits == []
    with engine.connect() as conn:
        assert conn.execute(select(deliveries.c.status)).scalars().all() == ["pending"]
