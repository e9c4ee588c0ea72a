"""HTTP connector throughput: N messages through the Kannel and Infobip connectors.

Each connector sends to a minimal HTTP responder on 127.0.0.1 that answers every
request the way the carrier accepts it, so the figure is our own cost per message
(building the request, pacing, the connector log with redaction, reading the
answer) plus loopback HTTP, with no rate limit. The last line is
`RESULT kannel_msgs_per_s=<n> infobip_msgs_per_s=<n>`.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import json
import time

from smscast.channels.base import OutgoingMessage, SubmitOutcome
from smscast.channels.providers.http_base import HttpConnector
from smscast.channels.providers.infobip import InfobipConnector, InfobipSettings
from smscast.channels.providers.kannel import KannelConnector, KannelSettings


async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers each request on the connection like Kannel or Infobip accepting it."""
    try:
        while True:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            length = 0
            for line in head.split("\r\n"):
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length)
            if head.startswith("GET"):
                content, kind = b"0: Accepted for delivery", "text/plain"
            else:
                count = len(json.loads(body)["messages"])
                answer = {"to": "1", "messageId": "m", "status": {"groupName": "PENDING"}}
                content = json.dumps({"messages": [answer] * count}).encode()
                kind = "application/json"
            writer.write(
                f"HTTP/1.1 202 Accepted\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def measure(
    connector: HttpConnector[KannelSettings] | HttpConnector[InfobipSettings], n: int
) -> float:
    """Messages per second for `n` messages sent in batches of 100."""
    batch = [
        OutgoingMessage(ref=i, sender="ACME", recipient=f"+48500{i:06d}", text=f"Offer {i}: -20%")
        for i in range(n)
    ]
    await connector.start()
    drain = asyncio.create_task(_drain(connector))
    started = time.perf_counter()
    accepted = 0
    for start in range(0, n, 100):
        results = await connector.send(batch[start : start + 100])
        accepted += sum(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    elapsed = time.perf_counter() - started
    await connector.stop()
    await drain
    assert accepted == n, f"only {accepted} of {n} accepted"
    return n / elapsed


async def _drain(connector: HttpConnector[KannelSettings] | HttpConnector[InfobipSettings]) -> None:
    async for _ in connector.events():
        pass


async def run(n: int) -> tuple[float, float]:
    server = await asyncio.start_server(respond, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    kannel = KannelConnector(
        KannelSettings(
            base_url=url,
            username="u",
            password="p4ssword",
            dlr_url="https://x.example/dlr",
            dlr_secret="s3cret-dlr",
            rate=0,
            concurrency=8,
        )
    )
    infobip = InfobipConnector(
        InfobipSettings(
            base_url=url, api_key="k3y-abcdef", notify_url="https://x.example/r", rate=0
        )
    )
    try:
        return await measure(kannel, n), await measure(infobip, n)
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="messages per connector")
    args = parser.parse_args()
    kannel, infobip = asyncio.run(run(args.n))
    print(f"RESULT kannel_msgs_per_s={kannel:.0f} infobip_msgs_per_s={infobip:.0f}")


if __name__ == "__main__":
    main()
