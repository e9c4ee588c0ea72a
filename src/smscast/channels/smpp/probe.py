"""Testing an SMPP connection: connect, bind as configured, unbind — nothing is sent.

The bind is the one the connector makes (system id, password, system type, bind mode,
address range, TLS), on a connection of its own, so a working connector bound to the
same SMSC keeps running. Should the SMSC hand this short session a delivery report or
an inbound text, it is answered ESME_RX_T_APPN (try again later): the SMSC keeps it
for the connector's own binding instead of it being lost here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from datetime import UTC, datetime

from smscast.channels.base import LogEntry
from smscast.channels.probe import LOG_KIND, PROBE_TIMEOUT_S, Outcome, ProbeResult, elapsed_ms
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import RESPONSE_BIT, CommandStatus, status_name
from smscast.channels.smpp.session import SmppSession
from smscast.channels.smpp.settings import BindMode, SmppSettings

BINDS: dict[BindMode, type[pdu.BindTransmitter | pdu.BindReceiver | pdu.BindTransceiver]] = {
    BindMode.TRANSMITTER: pdu.BindTransmitter,
    BindMode.RECEIVER: pdu.BindReceiver,
    BindMode.TRANSCEIVER: pdu.BindTransceiver,
}
#: Refusals that say who we claimed to be is wrong, not that the SMSC is unwell.
CREDENTIAL_REFUSALS = frozenset(
    {CommandStatus.ESME_RINVPASWD, CommandStatus.ESME_RINVSYSID, CommandStatus.ESME_RINVSYSTYP}
)


class _ProbeHandler:
    """The session's handler for a bind that only looks: it takes no traffic."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def on_submit_resp(self, seq: int, status: int, message_id: str) -> None:
        self.problems.append(f"submit_sm_resp {seq} for no submit of ours")

    def on_deliver(self, deliver: pdu.DeliverSm, session: SmppSession) -> int | None:
        return CommandStatus.ESME_RX_T_APPN

    def on_problem(self, kind: str, detail: str, wire: bytes) -> None:
        self.problems.append(f"{kind}: {detail}")

    def on_readable(self) -> None:
        return None

    def on_lost(self, session: SmppSession, reason: str) -> None:
        return None


async def probe_smpp(settings: SmppSettings, *, timeout_s: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """Connects to the SMSC, binds with `settings`, unbinds; what the SMSC answered."""
    at = datetime.now(UTC)
    started = time.perf_counter()
    bind = BINDS[settings.bind_mode](
        system_id=settings.system_id,
        password=settings.password,
        system_type=settings.system_type,
        addr_ton=settings.bind_ton,
        addr_npi=settings.bind_npi,
        address_range=settings.address_range,
    )
    request = f"{bind.name} {settings.describe()}"

    def result(
        outcome: Outcome, detail: str, code: str | None = None, answer: str = ""
    ) -> ProbeResult:
        took = elapsed_ms(started)
        error = None if outcome is Outcome.CONNECTED else detail
        entry = LogEntry(settings.name, LOG_KIND, request, answer, took, at, (), error)
        return ProbeResult(outcome, took, timeout_s, detail, code, (entry,))

    loop = asyncio.get_running_loop()
    handler = _ProbeHandler()
    try:
        _, session = await asyncio.wait_for(
            loop.create_connection(
                lambda: SmppSession(handler, 1), settings.host, settings.port, ssl=_tls(settings)
            ),
            timeout_s,
        )
    except TimeoutError:
        return result(
            Outcome.NO_ANSWER, f"no connection to {settings.host}:{settings.port} in {timeout_s:g}s"
        )
    except OSError as exc:
        return result(
            Outcome.UNREACHABLE, f"cannot connect to {settings.host}:{settings.port}: {exc}"
        )
    try:
        try:
            answer = await session.request(bind, timeout_s)
        except TimeoutError:
            return result(Outcome.NO_ANSWER, f"{bind.name}: no answer within {timeout_s:g}s")
        except ConnectionError as exc:
            return result(Outcome.REFUSED, f"{bind.name}: the SMSC closed the connection ({exc})")
        status = status_name(answer.command_status)
        said = f"{answer.name} {status}"
        if answer.command_id != bind.command_id | RESPONSE_BIT:
            detail = f"{bind.name} answered by {answer.name} ({status})"
            return result(Outcome.UNEXPECTED, detail, status, said)
        if answer.command_status != CommandStatus.ESME_ROK:
            refused = (
                Outcome.WRONG_CREDENTIALS
                if answer.command_status in CREDENTIAL_REFUSALS
                else Outcome.REFUSED
            )
            return result(refused, f"{bind.name} refused: {status}", status, said)
        smsc = getattr(answer, "system_id", "") or ""
        bound = result(
            Outcome.CONNECTED,
            f"bound as {settings.bind_mode}" + (f" to {smsc}" if smsc else ""),
            status,
            f"{said} system_id={smsc}",
        )
        with contextlib.suppress(TimeoutError, ConnectionError):
            await session.request(pdu.Unbind(), min(timeout_s, 2.0))
        return bound
    finally:
        session.close("connection test over")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(session.closed), 1.0)


def _tls(settings: SmppSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    return ssl.create_default_context(cafile=settings.tls_ca_file)
