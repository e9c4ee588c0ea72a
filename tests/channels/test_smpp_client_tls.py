"""SMPP over TLS: the connector verifies the SMSC's certificate against the configured CA.

A TLS-terminating proxy on loopback (as carriers put in front of their SMSC)
forwards to our simulator; its certificate is made for this test with the
openssl command.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from smscast.channels.base import OutgoingMessage, SubmitOutcome
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import start_simulator
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import SmppSettings


def make_certificate(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def tls_smsc(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    cert, key = make_certificate(tmp_path)
    simulator = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        inner_reader, inner_writer = await asyncio.open_connection("127.0.0.1", simulator.port)
        await asyncio.gather(pipe(reader, inner_writer), pipe(inner_reader, writer))

    proxy = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    yield int(proxy.sockets[0].getsockname()[1]), cert
    proxy.close()
    await simulator.close()


async def test_sends_over_tls_with_the_configured_ca(tls_smsc: tuple[int, Path]) -> None:
    port, cert = tls_smsc
    client = SmppClient(SmppSettings(port=port, tls=True, tls_ca_file=str(cert)))
    await client.start()
    try:
        [result] = await client.send([OutgoingMessage(1, "Shop", "+48600100200", "Over TLS")])
    finally:
        await client.stop()
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_an_untrusted_certificate_is_refused(tls_smsc: tuple[int, Path]) -> None:
    port, _ = tls_smsc
    client = SmppClient(SmppSettings(port=port, tls=True))
    with pytest.raises(ConnectionError, match="certificate verify failed"):
        await client.start()
