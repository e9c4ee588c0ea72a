"""A tiny HTTP/1.1 server on 127.0.0.1 standing in for a carrier's API in tests.

It records every request exactly as it arrived on the socket and answers with
whatever the test's handler says, including the two answers a real carrier gives
on a bad day: none at all (`HANG`) and a dropped connection (`DROP`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

HANG = "hang"  # read the request, never answer
DROP = "drop"  # read the request, close the connection without answering


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def form(self) -> dict[str, str]:
        text = self.body.decode()
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}


Reply = tuple[int, dict[str, str], bytes] | str
Handler = Callable[[Received], Reply]


@dataclass
class LoopbackHttp:
    handler: Handler
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aenter__(self) -> LoopbackHttp:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    @property
    def connections(self) -> int:
        """How many TCP connections clients have opened so far."""
        return len(self._writers)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Received(method, target, headers, body)
                self.received.append(request)
                reply = self.handler(request)
                if reply == HANG:
                    await self._closing.wait()
                    return
                if reply == DROP:
                    return
                assert not isinstance(reply, str)
                status, reply_headers, content = reply
                out = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
                out += [f"{k}: {v}" for k, v in reply_headers.items()]
                out.append(f"Content-Length: {len(content)}")
                writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + content)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def json_reply(status: int, body: str, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, body.encode()


def text_reply(status: int, body: str) -> Reply:
    return status, {"Content-Type": "text/html"}, body.encode()


def refused_url() -> str:
    """A loopback URL where nothing listens, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
