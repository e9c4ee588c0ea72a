"""`smscast worker` runs the dispatcher without the web server; `smscast connectors` sets
up the carrier connections it sends through."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime
from typing import Any

import typer

from smscast.cli.context import actor, command_context, now
from smscast.cli.log_format import configure_logging
from smscast.cli.output import WORKSPACE, console, fail, print_json
from smscast.core.counts import counted
from smscast.engine.sending.connectors import (
    KINDS,
    add_connector,
    list_connectors,
    redacted_settings,
    update_connector,
)
from smscast.engine.sending.outbox import outbox_counts

connectors_app = typer.Typer(
    help="Carrier connections: add, set, list, state.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.add_typer(connectors_app, name="connectors")


ROLES = ("all", "transmit", "receive")


def worker(
    worker_id: str = typer.Option(
        None, "--id", help="Name in connector leases [default: SMSCAST_WORKER_ID or host:pid]"
    ),
    role: str = typer.Option(
        None,
        "--role",
        help="all: send and receive; transmit: send only; receive: only delivery reports "
        "and inbound texts of SMPP connectors, in a process of their own "
        "[default: SMSCAST_WORKER_ROLE or all]",
    ),
    metrics_port: int = typer.Option(
        None,
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve Prometheus metrics at http://HOST:PORT/metrics "
        "[default: SMSCAST_METRICS_PORT, 0: none]",
    ),
    metrics_host: str = typer.Option(
        None,
        "--metrics-host",
        help="Address the metrics listen on [default: SMSCAST_METRICS_HOST or 127.0.0.1]",
    ),
) -> None:
    """Send queued messages and record delivery reports until stopped (Ctrl-C, SIGTERM)."""
    from smscast.engine.collector import tune_for_service
    from smscast.engine.runtime import Runtime

    if role is not None and role not in ROLES:
        fail(f"--role {role!r}: choose one of {', '.join(ROLES)}")
    with command_context() as ctx:
        configure_logging(ctx.settings.log_level, ctx.settings.log_format)
        chosen = role or ctx.settings.worker_role
        runtime = Runtime(ctx.engine, ctx.settings, worker=worker_id, role=chosen)
        port = ctx.settings.metrics_port if metrics_port is None else metrics_port
        host = metrics_host or ctx.settings.metrics_host
        listener = _serve_metrics(ctx.engine, host, port) if port else None
        tune_for_service()
        try:
            asyncio.run(_run_until_signalled(runtime))
        finally:
            if listener is not None:
                listener.shutdown()
                listener.server_close()
            _forget_this_process()


def _serve_metrics(engine: Any, host: str, port: int) -> Any:
    """Starts the worker's /metrics listener (a thread of prometheus-client's own) and
    times the worker's statements for it; fails the command if the port is taken."""
    from prometheus_client import start_http_server

    from smscast.engine.metrics.registry import metrics_registry, time_statements

    try:
        registry = metrics_registry(engine)
        started: Any = start_http_server(port, addr=host, registry=registry)
    except (OSError, ValueError) as error:
        fail(f"--metrics-port {port} on {host}: cannot serve metrics: {error}")
    time_statements(engine)
    shown = f"[{host}]" if ":" in host else host
    print(f"Metrics: http://{shown}:{port}/metrics", flush=True)
    # (server, thread) since prometheus-client 0.20; its thread is a daemon either way
    return started[0] if isinstance(started, tuple) else None


def _forget_this_process() -> None:
    """With PROMETHEUS_MULTIPROC_DIR, this process's live gauges leave the sum."""
    from smscast.engine.metrics.registry import forget_process

    forget_process()


async def _run_until_signalled(runtime: Any) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runtime.stop)
    await runtime.run()


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values that read as JSON numbers or booleans become those."""
    import json

    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(f"--setting {pair!r}: write it as key=value")
        try:
            parsed = json.loads(value)
            settings[key.strip()] = parsed if isinstance(parsed, int | float | bool) else value
        except ValueError:
            settings[key.strip()] = value
    return settings


@connectors_app.command("add")
def add(
    name: str = typer.Argument(..., help="Name of the connector (unique in the workspace)"),
    kind: str = typer.Option("smpp", help=f"One of: {', '.join(KINDS)}"),
    host: str = typer.Option(None, help="SMPP: the SMSC's address"),
    port: int = typer.Option(None, help="SMPP: the SMSC's port"),
    system_id: str = typer.Option(None, help="SMPP: system_id to bind with"),
    password: str = typer.Option(None, help="SMPP: password to bind with"),
    rate: float = typer.Option(100.0, help="Parts per second at most (0: no limit)"),
    window: int = typer.Option(10, help="Submits awaiting an answer at once (HTTP: requests)"),
    setting: list[str] = typer.Option(
        [], "--setting", help="Any other setting of this kind, as key=value (repeatable)"
    ),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Add a carrier connection; a worker picks it up within a second."""
    if kind not in KINDS:
        fail(f"--kind {kind!r}: choose one of {', '.join(KINDS)}")
    settings = _parse_settings(setting)
    named = {"host": host, "port": port, "system_id": system_id, "password": password}
    if kind != "smpp" and any(v is not None for v in named.values()):
        fail(f"--host/--port/--system-id/--password are SMPP options; for {kind} use --setting")
    settings.update({k: v for k, v in named.items() if v is not None})
    with command_context() as ctx:
        row = add_connector(
            ctx.engine,
            ctx.workspace(workspace),
            name=name,
            kind=kind,
            settings=settings,
            rate_per_s=rate,
            window=window,
            actor=actor(),
            now=now(),
        )
    if as_json:
        print_json({"id": row.id, "name": row.name, "kind": row.kind})
    else:
        console.print(f"Added connector [bold]{row.name}[/] (#{row.id}, {row.kind})")


@connectors_app.command("set")
def set_(
    connector: str = typer.Argument(..., help="The connector's name or id"),
    setting: list[str] = typer.Option(
        [], "--setting", help="A setting to change, as key=value (repeatable)"
    ),
    unset: list[str] = typer.Option([], "--unset", help="A setting to remove (repeatable)"),
    rate: float = typer.Option(None, help="Parts per second at most (0: no limit)"),
    window: int = typer.Option(None, help="Submits awaiting an answer at once (HTTP: requests)"),
    enabled: bool = typer.Option(None, "--enable/--disable", help="Send through it or stop"),
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Change a connector's settings or limits, checked as when it was added."""
    changes: dict[str, Any] = {**_parse_settings(setting), **{key: None for key in unset}}
    with command_context() as ctx:
        ref = ctx.workspace(workspace)
        with ctx.engine.connect() as conn:
            found = [
                c for c in list_connectors(conn, ref.id) if connector in (c["name"], str(c["id"]))
            ]
        if not found:
            fail(f"no connector {connector!r}")
        row = update_connector(
            ctx.engine,
            ref,
            found[0]["id"],
            settings=changes,
            rate_per_s=rate,
            window=window,
            enabled=enabled,
            actor=actor(),
            now=now(),
        )
    if as_json:
        print_json({"id": row.id, "name": row.name, "settings": redacted_settings(row.settings)})
    else:
        console.print(f"Changed connector [bold]{row.name}[/] (#{row.id})")


@connectors_app.command("list")
def list_(
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """List connectors with their limits and who holds them."""
    items, _ = _read(workspace)
    if as_json:
        print_json([_public(item) for item in items])
        return
    if not items:
        console.print("No connectors yet: add one with `smscast connectors add NAME ...`")
    for item in items:
        console.print(
            f"#{item['id']}  {item['name']}  {item['kind']}  rate {item['rate_per_s']:g}/s  "
            f"window {item['window']}  {'enabled' if item['enabled'] else 'disabled'}  "
            f"held by {item['held_by'] or '-'}{_receiving(item, now())}"
        )


@connectors_app.command("state")
def state(
    workspace: str | None = WORKSPACE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
) -> None:
    """Show whether each connector is sending, why not, and what waits in the outbox."""
    items, counts = _read(workspace)
    for item in items:
        waiting = counts.get(item["id"], {})
        item["queued"] = waiting.get("queued", 0)
        item["sending"] = waiting.get("sending", 0)
        item["unknown"] = waiting.get("unknown", 0)
        item["state"] = _word(item, now())
        item["receiving"] = _receive_word(item, now())
    if as_json:
        print_json([_public(item) for item in items])
        return
    for item in items:
        detail = f" ({item['detail']})" if item["detail"] else ""
        console.print(
            f"#{item['id']}  {item['name']}  [bold]{item['state']}[/]{detail}  "
            f"queued {item['queued']}  in flight {item['in_flight']}  "
            f"{item['sent_per_s']:.0f} parts/s  unknown {item['unknown']}",
            highlight=False,
        )
        if item["receiving"] is not None:
            why = f" ({item['receive_detail']})" if item["receive_detail"] else ""
            console.print(
                f"    receiving: [bold]{item['receiving']}[/]{why}{_receiving(item, now())}",
                highlight=False,
            )
        for error in item["last_errors"]:
            console.print(f"    last error: {error}", highlight=False)
    unrouted = counts.get(None, {}).get("queued", 0)
    if unrouted:
        console.print(
            f"{counted(unrouted, 'queued message')} "
            f"{'has' if unrouted == 1 else 'have'} no connector yet"
        )


def _read(workspace: str | None) -> tuple[list[dict[str, Any]], dict[int | None, dict[str, int]]]:
    """The workspace's connectors and the outbox counts per connector."""
    with command_context() as ctx:
        ref = ctx.workspace(workspace)
        with ctx.engine.connect() as conn:
            return list_connectors(conn, ref.id), outbox_counts(conn)


def _word(item: dict[str, Any], at: datetime) -> str:
    """sending, paused (down: nothing is lost, it waits), disabled, or not running."""
    if not item["enabled"]:
        return "disabled"
    held = item["held_by"] and item["lease_until"] and item["lease_until"] > at
    if item["connected"] is None or not held:
        return "no worker"
    return "sending" if item["connected"] else "paused"


def _split(item: dict[str, Any], at: datetime) -> bool:
    """Whether another worker than the sending one holds the receiving side."""
    live = item["received_by"] and item["receive_until"] and item["receive_until"] > at
    return bool(live) and item["received_by"] != item["held_by"]


def _receive_word(item: dict[str, Any], at: datetime) -> str | None:
    """The receiving side's state when a worker of its own holds it: receiving, or paused
    (down: the SMSC keeps the reports meanwhile); None when the sending worker has it."""
    if not _split(item, at):
        return None
    return "receiving" if item["receive_connected"] else "paused"


def _receiving(item: dict[str, Any], at: datetime) -> str:
    return f"  received by {item['received_by']}" if _split(item, at) else ""


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()}
