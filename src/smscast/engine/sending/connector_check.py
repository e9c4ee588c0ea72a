"""Checking on a connector: testing its connection, and its throughput hour by hour.

`test_connector()` is the portal's "test connection" button: it tries the carrier with
the settings given (a new connector's, or a stored one's with the changes typed on
top, secrets left empty kept), the way the connector itself would connect, and sends
nothing (`channels.probe`). A stored connector's test exchanges go into its connector
log like every other exchange, credentials redacted.

The kinds of the other channels on a Twilio or Infobip account (Infobip WhatsApp and
voice, Twilio voice) are tried with the same request as the SMS kinds of that account
(`account_probe`); SMTP through the connector's own `start()` and `stop()`, which
connect, greet, sign in and quit (`START_TESTS`); a kind with no request that only
checks credentials (WhatsApp Cloud API, web push) is refused as `not_testable` rather
than reported as connected.

Where a connector connects is its owner's choice, as for sending: the webhook address
policy (`core.addresses`) guards requests made to URLs any member types for callbacks,
while a connector's host — often Kannel or an SMSC on the same private network, or the
built-in simulator on loopback — is set only by those who may change connectors
(`connectors.write`), and the probe goes exactly where the connector would.

`connector_traffic()` reads the hourly traffic counters of one connector (never the
messages table): what it sent, in how many parts, delivered, failed and received.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from smscast.channels.base import Connector, LogEntry
from smscast.channels.probe import PROBE_TIMEOUT_S, Outcome, ProbeResult, elapsed_ms, probe_http
from smscast.channels.providers.http_base import HttpSettings
from smscast.channels.providers.infobip import InfobipSettings
from smscast.channels.providers.kannel import KannelSettings
from smscast.channels.providers.twilio import TwilioSettings
from smscast.channels.smpp.probe import probe_smpp
from smscast.channels.smpp.settings import SmppSettings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import (
    KINDS,
    ConnectorRow,
    build_connector,
    merged_settings,
    workspace_connector,
)
from smscast.engine.stats import hour_of
from smscast.store.models import table_of
from smscast.store.traffic_models import TrafficStats

traffic_stats = table_of(TrafficStats)
#: Kinds whose connector's `start()` proves the credentials without sending anything,
#: and what it does (shown in the log entry of the test).
START_TESTS: dict[str, str] = {
    "smtp": "connect, EHLO, STARTTLS or TLS as set, AUTH when a user name is set; QUIT",
}
#: The counters a connector's throughput chart shows.
TRAFFIC = ("sent", "parts", "delivered", "failed", "inbound")


def test_connector(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    connector_id: int | None = None,
    kind: str = "",
    settings: dict[str, Any] | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> ProbeResult:
    """Tries the carrier connection and says what happened; nothing is sent.

    With `connector_id`, the stored connector is tried with `settings` merged in as
    `update_connector` merges them (a key set to None is removed); without it, a new
    connector of `kind` with `settings`. Settings that make no connector are refused
    with the same UserError as adding it would be.
    """
    if connector_id is not None:
        with engine.connect() as conn:
            stored = workspace_connector(conn, workspace, connector_id)
        row = dataclasses.replace(stored, settings=merged_settings(stored.settings, settings))
    else:
        if kind not in KINDS:
            raise UserError.of(
                "unknown_connector_kind",
                f"kind {kind!r} is not one of {', '.join(KINDS)}",
                field="kind",
            )
        row = ConnectorRow(0, workspace.id, kind, kind, dict(settings or {}), 0.0, 1, True)
    connector = build_connector(row)
    connector_settings = getattr(connector, "settings", None)
    if isinstance(connector_settings, SmppSettings):
        result = _run(probe_smpp(connector_settings, timeout_s=timeout_s))
    elif (account := account_probe(row.kind, connector_settings)) is not None:
        result = _run(probe_http(account, timeout_s=timeout_s))
    elif row.kind in START_TESTS:
        result = _run(probe_start(connector, START_TESTS[row.kind], timeout_s=timeout_s))
    else:
        raise UserError.of(
            "not_testable",
            f"a {row.kind} connector cannot be tested without sending a message: its "
            "provider offers no request that only checks the credentials",
            field="kind",
        )
    if connector_id is not None:
        with engine.begin() as conn:
            record_log_entries(conn, connector_id, result.log)
    return result


# Its name is the use case's (the portal's button); pytest must not take it for a test
# when a test module imports it by name.
test_connector.__test__ = False  # type: ignore[attr-defined]


#: Kinds of other channels on an SMS provider's account: tried as that account is.
ACCOUNT_OF_KIND = {"twilio_voice": "twilio", "infobip_voice": "infobip",
                   "infobip_whatsapp": "infobip"}  # fmt: skip


def account_probe(kind: str, settings: Any) -> HttpSettings | None:
    """The settings `probe_http` tries for a connector on a Twilio, Infobip or Kannel
    account: the SMS kinds' own, and for the kinds of other channels on the same account
    (`ACCOUNT_OF_KIND`) the same request with the same credentials (Twilio's Account
    resource, Infobip's balance): it proves them and sends nothing."""
    if isinstance(settings, TwilioSettings | InfobipSettings | KannelSettings):
        return settings
    account = ACCOUNT_OF_KIND.get(kind)
    if account is None or not isinstance(settings, HttpSettings):
        return None
    common: dict[str, Any] = {"name": settings.name, "base_url": settings.base_url,
                              "timeout_s": settings.timeout_s}  # fmt: skip
    given = {item.name: getattr(settings, item.name) for item in dataclasses.fields(settings)}
    if account == "twilio":
        return TwilioSettings(account_sid=given["account_sid"], auth_token=given["auth_token"],
                              **common)  # fmt: skip
    return InfobipSettings(api_key=given["api_key"], **common)


async def probe_start(connector: Connector, what: str, *, timeout_s: float) -> ProbeResult:
    """Starts the connector and stops it again: for a kind whose start signs in (SMTP's
    EHLO and AUTH), a start that succeeds is the credentials accepted. Nothing is sent."""
    at = datetime.now(UTC)
    started = time.perf_counter()
    code: str | None = None
    try:
        await asyncio.wait_for(connector.start(), timeout_s)
        outcome, detail = Outcome.CONNECTED, ""
    except TimeoutError:
        outcome, detail = Outcome.NO_ANSWER, f"no answer within {timeout_s:g} s"
    except UserError as error:
        outcome, detail = Outcome.REFUSED, error.problem.message
    except Exception as error:  # the provider's library's own exception: read, not raised
        outcome, code = _outcome_of(error), _code_of(error)
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    took = elapsed_ms(started)
    with contextlib.suppress(Exception):  # the answer is the start's; a failed goodbye is not
        await asyncio.wait_for(connector.stop(), timeout_s)
    entry = LogEntry(
        connector=connector.name,
        kind="test_connection",
        request=f"start(): {what}",
        response="started" if outcome is Outcome.CONNECTED else "",
        duration_ms=took,
        at=at,
        error=None if outcome is Outcome.CONNECTED else detail[:2000],
    )
    return ProbeResult(outcome, took, timeout_s, detail[:2000], code, (entry,))


def _outcome_of(error: Exception) -> Outcome:
    """What a failed start means, from the exception a connector's library raised."""
    status = getattr(error, "code", None) or getattr(
        getattr(error, "response", None), "status_code", None
    )
    if "Authentication" in type(error).__name__ or status in (401, 403, 530, 535):
        return Outcome.WRONG_CREDENTIALS
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return Outcome.NO_ANSWER
    if isinstance(error, OSError) or "Connect" in type(error).__name__:
        return Outcome.UNREACHABLE
    return Outcome.REFUSED


def _code_of(error: Exception) -> str | None:
    status = getattr(error, "code", None) or getattr(
        getattr(error, "response", None), "status_code", None
    )
    return str(status) if isinstance(status, int) else None


def _run(probe: Coroutine[Any, Any, ProbeResult]) -> ProbeResult:
    """Runs a probe to its end from synchronous code (a portal route's worker thread);
    called from inside an event loop, it runs on a loop of its own in another thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe).result()


def connector_traffic(
    engine: Engine, workspace: WorkspaceRef, connector_id: int, *, since: datetime, until: datetime
) -> dict[str, Any]:
    """One connector's counters per hour from `since` to `until` (every hour present,
    empty ones as zeros, so a chart has no holes), and their totals.

    Read from the hourly counters through their primary key: a page view costs the same
    whether the connector sent ten texts or ten million.
    """
    if since.tzinfo is None or until.tzinfo is None or until <= since:
        raise UserError.of("invalid_range", "since and until need a time zone, in order",
                           field="since")  # fmt: skip
    t = traffic_stats.c
    first = hour_of(since.astimezone(UTC))
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.hour, *(func.sum(t[name]).label(name) for name in TRAFFIC[:3]),
                   func.sum(t.failed + t.undelivered).label("failed"),
                   func.sum(t.inbound).label("inbound"))
            .where(t.workspace_id == workspace.id, t.hour >= first,
                   t.hour < until.astimezone(UTC), t.connector_id == connector_id)
            .group_by(t.hour)
        ).all()  # fmt: skip
    found = {
        _utc(row.hour): {name: int(row._mapping[name] or 0) for name in TRAFFIC} for row in rows
    }
    hours: list[datetime] = []
    while first + timedelta(hours=len(hours)) < until:
        hours.append(first + timedelta(hours=len(hours)))
    counts = [found.get(at, dict.fromkeys(TRAFFIC, 0)) for at in hours]
    points = [{"at": at, **count} for at, count in zip(hours, counts, strict=True)]
    totals = {name: sum(count[name] for count in counts) for name in TRAFFIC}
    return {"since": first, "until": until, "points": points, "totals": totals}


def _utc(moment: datetime) -> datetime:
    """SQLite hands stored moments back without their zone; they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
