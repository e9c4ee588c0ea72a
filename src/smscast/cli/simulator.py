"""`smscast simulator`: run the built-in SMSC, or inject an inbound message into it."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from smscast.cli.context import missing_database
from smscast.cli.output import console, fail, print_json
from smscast.config import Settings, load_settings
from smscast.engine.inbound.outcome import InboundOutcome, find_inbound_outcome, last_inbound_id
from smscast.store.db import create_db_engine

app = typer.Typer(
    help="The built-in SMSC simulator: run it, or send it an inbound message.",
    invoke_without_command=True,
)


@app.callback()
def run(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int | None = typer.Option(
        None, help="SMPP port [default: SMSCAST_SIMULATOR_PORT, 2775]."
    ),
    http_port: int | None = typer.Option(
        None,
        help="HTTP port for MO injection, 0: none [default: SMSCAST_SIMULATOR_HTTP_PORT, 2776].",
    ),
    system_id: str = typer.Option("smscast", help="system_id binds must use ('' for any)."),
    password: str = typer.Option("", help="Password binds must use ('' for any)."),
    message_ids: str = typer.Option("hex", help="Message ids in submit_sm_resp: hex or dec."),
    dlr_ids: str = typer.Option("same", help="Ids in delivery reports: same, hex or dec."),
    dlr_delay: float = typer.Option(1.0, help="Seconds from submit to delivery report."),
    delivered: float = typer.Option(0.9, help="Share of reports that say DELIVRD."),
    undeliverable: float = typer.Option(0.05, help="Share of reports that say UNDELIV."),
    expired: float = typer.Option(0.03, help="Share of reports that say EXPIRED."),
    rejected: float = typer.Option(0.02, help="Share of reports that say REJECTD."),
    mo_concat: str = typer.Option("udh", help="How long MOs are split: udh or sar."),
    throttle_fraction: float = typer.Option(0.0, help="Share of submits throttled."),
    max_submit_per_s: float = typer.Option(0.0, help="Throttle above this rate (0: never)."),
    response_delay: float = typer.Option(0.0, help="Seconds before every response."),
    drop_after: int = typer.Option(0, help="Cut a connection on its Nth PDU (0: never)."),
    garbage_after: int = typer.Option(0, help="Send a garbage PDU every N PDUs (0: never)."),
    refuse_binds: bool = typer.Option(False, help="Refuse every bind."),
    seed: int | None = typer.Option(None, help="Fix the random draws."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every bind and fault."),
) -> None:
    """Run the SMSC simulator (SMPP 3.4) until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    from smscast.channels.simulator import SimulatorConfig

    # The same ports `smscast serve` and `send-mo` use, unless given here.
    settings = _settings()
    port = settings.simulator_port if port is None else port
    http_port = settings.simulator_http_port if http_port is None else http_port
    choices = {
        "message_ids": (message_ids, ("hex", "dec")),
        "dlr_ids": (dlr_ids, ("same", "hex", "dec")),
        "mo_concat": (mo_concat, ("udh", "sar")),
    }
    for name, (value, allowed) in choices.items():
        if value not in allowed:
            fail(f"--{name.replace('_', '-')} {value!r}: choose one of {', '.join(allowed)}")
    config = SimulatorConfig(
        host=host,
        port=port,
        http_port=http_port or None,
        system_id=system_id,
        password=password,
        message_ids=message_ids,  # type: ignore[arg-type]
        dlr_ids=dlr_ids,  # type: ignore[arg-type]
        dlr_delay=dlr_delay,
        delivered=delivered,
        undeliverable=undeliverable,
        expired=expired,
        rejected=rejected,
        mo_concat=mo_concat,  # type: ignore[arg-type]
        throttle_fraction=throttle_fraction,
        max_submit_per_s=max_submit_per_s,
        response_delay=response_delay,
        drop_after=drop_after,
        garbage_after=garbage_after,
        refuse_binds=refuse_binds,
        seed=seed,
    )
    try:
        config.outcome_weights()
    except ValueError as exc:
        fail(str(exc))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    try:
        asyncio.run(_serve(config))
    except KeyboardInterrupt:
        console.print("simulator stopped")
    except OSError as exc:
        fail(f"cannot listen on {host}: {exc.strerror or exc}")


async def _serve(config: Any) -> None:
    from smscast.channels.simulator import start_simulator

    sim = await start_simulator(config)
    http = f", MO injection on http://{config.host}:{sim.http_port}/mo" if sim.http_port else ""
    console.print(f"SMSC simulator on {config.host}:{sim.port}{http} (Ctrl-C to stop)")
    stop = asyncio.Event()
    # `kill` (SIGTERM) stops it as cleanly as Ctrl-C: connections closed, ports freed.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.close()


@app.command("send-mo")
def send_mo(
    text: str = typer.Argument(..., help="The message text."),
    sender: str = typer.Option(..., "--from", help="The phone it comes from, e.g. +48600111222."),
    recipient: str = typer.Option(
        "", "--to", help="Our number it is sent to, e.g. 4000 (SMS; needed there)."
    ),
    channel: str = typer.Option(
        "sms",
        "--channel",
        help="sms; email: a reply from --from to the last email sent to it; whatsapp: a "
        "WhatsApp message from --from to the simulated business number (both need the "
        "simulator inside smscast serve).",
    ),
    url: str | None = typer.Option(
        None,
        help="The running simulator's HTTP address "
        "[default: http://127.0.0.1:SMSCAST_SIMULATOR_HTTP_PORT, 2776].",
    ),
    wait: float = typer.Option(
        5.0, help="Seconds to wait for smscast to route the text and say how (0: do not wait)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Send an inbound message (MO) through a running simulator, and say how smscast routed it.

    The simulator hands the text to the bound connector (that of `smscast serve`); the
    command then reads from the database what became of it: a keyword rule, a reply to a
    campaign, a ticket, an opt-out...
    """
    if channel not in ("sms", "email", "whatsapp"):
        fail(f"--channel {channel}: the simulator injects sms, email and whatsapp")
    if channel == "sms" and not recipient:
        fail("--to: name our number the text is sent to, e.g. 4000")
    settings = _settings()
    if url is None:
        if not settings.simulator_http_port:
            fail("the simulator's HTTP port is off (SMSCAST_SIMULATOR_HTTP_PORT=0); pass --url")
        url = f"http://127.0.0.1:{settings.simulator_http_port}"
    engine = _database(settings) if wait > 0 else None
    try:
        mark = last_inbound_id(engine) if engine is not None else 0
        answer = _inject(url, sender, recipient, text, channel)
        outcome = None
        if engine is not None and answer.get("delivered"):
            outcome = _await_outcome(engine, mark, sender, text, wait)
    finally:
        if engine is not None:
            engine.dispose()
    parts = int(answer.get("parts", 1))
    summary = _summary(answer, outcome, parts, wait, engine is not None)
    if as_json:
        print_json({**answer, "route": outcome.as_dict() if outcome else None, "summary": summary})
    else:
        console.print(summary, highlight=False)


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as error:
        fail(f"configuration: {error}")


def _database(settings: Settings) -> Engine | None:
    """The database to read the route from; None without one (a simulator on its own)."""
    if missing_database(settings) is not None:
        return None
    return create_db_engine(settings.database_url)


def _inject(url: str, sender: str, recipient: str, text: str, channel: str) -> dict[str, Any]:
    body = json.dumps({"from": sender, "to": recipient, "text": text, "channel": channel}).encode()
    request = urllib.request.Request(
        url.rstrip("/") + "/mo", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        fail(f"the simulator refused the MO: {message}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        fail(
            f"no simulator answers at {url} ({reason}); start one with `smscast serve` or "
            "`smscast simulator`, or pass --url (SMSCAST_SIMULATOR_HTTP_PORT sets the port)"
        )
    return answer


def _await_outcome(
    engine: Engine, mark: int, sender: str, text: str, wait: float
) -> InboundOutcome | None:
    """Polls for the routed text: the connector stores it a moment after the simulator
    hands it over, and a database error here only means we cannot say what happened."""
    deadline = time.monotonic() + wait
    while True:
        try:
            found = find_inbound_outcome(engine, after_id=mark, sender=sender, text=text)
        except SQLAlchemyError:
            return None
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def _summary(
    answer: dict[str, Any], outcome: InboundOutcome | None, parts: int, wait: float,
    have_database: bool,
) -> str:  # fmt: skip
    sent = f"sent in {parts} part{'s' if parts != 1 else ''}"
    if not answer.get("delivered"):
        return (
            f"{sent}, but no ESME is bound to the simulator: it holds the text and delivers "
            "it when one binds (is `smscast serve` running?)"
        )
    if outcome is not None:
        return f"{sent}: {outcome.describe()}"
    if wait <= 0:
        return f"{sent}: delivered to the bound ESME"
    if not have_database:
        return f"{sent}: delivered to the bound ESME (no database here to say how it was routed)"
    return (
        f"{sent}: delivered to the bound ESME, but smscast recorded no such text within "
        f"{wait:g}s (is `smscast serve` running on this database?)"
    )
