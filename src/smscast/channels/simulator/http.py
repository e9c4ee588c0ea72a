"""The simulator's small HTTP endpoint: inject MOs, read counters, switch faults.

    POST /mo       {"from": "+48600111222", "to": "4000", "text": "STOP"}
                   -> 202 {"parts": 1, "delivered": true}  (false: held until an ESME binds)
                   {"channel": "email", "from": "ann@example.com", "text": "Yes please"}
                   a reply to the last email sent to that address; "whatsapp": a WhatsApp
                   message to the fake's business number (only inside `smscast serve`)
    GET  /stats    the counters
    POST /faults   {"throttle_fraction": 0.5, "response_delay": 0.2, ...} -> the settings
    POST /drop     cuts every SMPP connection

A few lines of asyncio rather than a web framework: it serves one client (the
CLI or a test) on loopback, and keeps the simulator free of server dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any, Protocol

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.mo import MoError, MoSent

log = logging.getLogger("smscast.simulator")
MAX_BODY = 64 * 1024
_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
}


class Controlled(Protocol):
    """What the endpoint drives (`server.RunningSimulator`): counters, faults, MOs."""

    @property
    def config(self) -> SimulatorConfig: ...

    def snapshot(self) -> dict[str, Any]: ...

    def drop_connections(self) -> int: ...

    @property
    def channel_mo(self) -> Callable[[str, str, str], Awaitable[dict[str, Any]]] | None: ...

    async def send_mo(self, sender: str, recipient: str, text: str) -> MoSent: ...


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def start_http(sim: Controlled, host: str, port: int) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await _answer(sim, reader)
        except HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, host, port)


async def _answer(sim: Controlled, reader: asyncio.StreamReader) -> tuple[int, Any]:
    request_line = (await reader.readline()).decode("latin-1").split()
    if len(request_line) != 3:
        raise HttpError(400, "malformed HTTP request line")
    method, path = request_line[0], request_line[1].split("?", 1)[0]
    length = 0
    while True:
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            if not value.strip().isdigit():
                raise HttpError(400, f"Content-Length {value.strip()!r} is not a number")
            length = int(value)
    if length > MAX_BODY:
        raise HttpError(413, f"body of {length} bytes is over the {MAX_BODY}-byte limit")
    body = await reader.readexactly(length) if length else b""
    return await _route(sim, method, path, body)


async def _route(sim: Controlled, method: str, path: str, body: bytes) -> tuple[int, Any]:
    routes = {"/mo": "POST", "/stats": "GET", "/faults": "POST", "/drop": "POST"}
    if path not in routes:
        raise HttpError(404, f"no such endpoint {path}; try POST /mo or GET /stats")
    if method != routes[path]:
        raise HttpError(405, f"{path} takes {routes[path]}, not {method}")
    if path == "/stats":
        return 200, sim.snapshot()
    if path == "/drop":
        return 200, {"dropped": sim.drop_connections()}
    data = _json_object(body)
    if path == "/faults":
        try:
            sim.config.update(data)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        return 200, asdict(sim.config)
    channel = data.get("channel", "sms")
    if channel != "sms":
        return await _channel_mo(sim, channel, data)
    values = []
    for key in ("from", "to", "text"):
        value = data.get(key)
        if not isinstance(value, str):
            raise HttpError(400, f'"{key}" must be a string, got {json.dumps(value)}')
        values.append(value)
    try:
        sent = await sim.send_mo(*values)
    except MoError as exc:
        raise HttpError(400, str(exc)) from exc
    log.info("simulator: MO from %s to %s in %d part(s)", values[0], values[1], sent.parts)
    # "delivered": a bound ESME has it now; false: no ESME is bound, and the simulator
    # holds it for the next bind. What the ESME then does with it is not the SMSC's to know.
    return 202, {"parts": sent.parts, "delivered": not sent.queued}


async def _channel_mo(sim: Controlled, channel: Any, data: dict[str, Any]) -> tuple[int, Any]:
    inject = sim.channel_mo
    if inject is None:
        raise HttpError(400, "this simulator injects SMS only: channels run inside smscast serve")
    sender, text = data.get("from"), data.get("text")
    if not isinstance(channel, str) or not isinstance(sender, str) or not isinstance(text, str):
        raise HttpError(400, '"channel", "from" and "text" must be strings')
    try:
        return 202, await inject(channel, sender, text)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HttpError(400, "body must be a JSON object")
    return data
