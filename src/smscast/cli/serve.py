"""`smscast serve`: the web server, the dispatcher and (by default) the SMSC simulator;
with `--smtp-port`, an SMTP listener for email replies, bounces and complaints.

One process and one event loop run all three, so a new user's first campaign is
sent and delivered with nothing else running: the simulator answers on
127.0.0.1:2775, a connector named "simulator" and a sender number are created for
the first workspace, and the runtime sends what is queued through it. Beside it run
fakes of the other channels (an SMTP sink, WhatsApp's Cloud API, Twilio's voice API, a
push service) with a connector each, and a mail listener on a free loopback port for
the simulated replies and bounces (`channels.simulator.channels`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import webbrowser
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from smscast.cli.context import missing_database
from smscast.cli.log_format import configure_logging
from smscast.cli.output import fail
from smscast.config import Settings, load_settings

if TYPE_CHECKING:
    from smscast.channels.simulator.channels import ChannelFakes


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option(None, help="Address to listen on [default: 127.0.0.1]"),
        port: int = typer.Option(None, help="Port to listen on [default: 8000]"),
        simulator: bool = typer.Option(
            None,
            "--simulator/--no-simulator",
            help="Run the built-in SMSC simulator [default: SMSCAST_SIMULATOR, on]",
        ),
        open_portal: bool = typer.Option(
            False,
            "--open",
            help="Open the portal in the desktop's browser once it answers (./dev start does)",
        ),
        smtp_port: int = typer.Option(
            None,
            "--smtp-port",
            min=0,
            max=65535,
            help="Listen for email replies, bounces and complaints by SMTP on this port "
            "(on --host) [default: SMSCAST_SMTP_PORT, 0: off]",
        ),
    ) -> None:
        """Serve the API and the dashboard, send queued messages, run the simulator."""
        try:
            settings = load_settings()
        except ValueError as error:
            fail(f"configuration: {error}")
        if (missing := missing_database(settings)) is not None:
            fail(missing)
        settings = served_settings(settings, host, port)
        if simulator is not None:
            settings = settings.model_copy(update={"simulator": simulator})
        if smtp_port is not None:
            settings = settings.model_copy(update={"smtp_port": smtp_port})
        configure_logging(settings.log_level, settings.log_format)
        # aiosmtpd logs every SMTP command at info: the simulated mailboxes would drown
        # the server's own log.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        try:
            asyncio.run(_serve(settings, settings.host, settings.port, open_portal))
        except OSError as error:
            fail(f"cannot start: {error}")


def served_settings(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The settings with the address serve really listens on (`--host`, `--port` win), so
    that what this process launches links to it (`Settings.served_url`), not port 8000."""
    return settings.model_copy(
        update={"host": host or settings.host, "port": port or settings.port}
    )


async def _serve(settings: Settings, host: str, port: int, open_portal: bool = False) -> None:
    import uvicorn

    from smscast.channels.simulator import SimulatorConfig, start_simulator
    from smscast.channels.simulator.channels import start_channel_fakes
    from smscast.engine.collector import tune_for_service
    from smscast.engine.inbound.mail_receiver import start_mail_receiver
    from smscast.engine.metrics.registry import forget_process, time_statements
    from smscast.engine.runtime import Runtime
    from smscast.store.db import create_db_engine
    from smscast.web.site import create_site

    engine = create_db_engine(settings.database_url)
    simulator = None
    background: list[asyncio.Task[None]] = []
    if settings.simulator:
        simulator = await start_simulator(
            SimulatorConfig(
                port=settings.simulator_port, http_port=settings.simulator_http_port or None
            )
        )
        background.append(asyncio.create_task(_connect_simulator(engine, simulator.port)))
    mail = None
    if settings.smtp_port:
        mail = await start_mail_receiver(engine, settings, host=host, port=settings.smtp_port)
        print(f"Mail listener: smtp://{host}:{mail.port}", flush=True)
    elif simulator is not None:  # the simulated mailboxes reply and bounce to a listener
        mail = await start_mail_receiver(engine, settings, host="127.0.0.1", port=0)
    fakes = None
    if simulator is not None:
        fakes = await start_channel_fakes(mail.port if mail is not None else None)
        simulator.channel_mo = fakes.inject
        served = served_settings(settings, host, port).served_url()
        background.append(asyncio.create_task(_connect_channel_fakes(engine, fakes, served)))
    runtime = Runtime(engine, settings)
    site = create_site(settings)
    time_statements(engine)  # the runtime's and the site's: smscast_db_query_seconds
    time_statements(site.state.engine)
    config = uvicorn.Config(
        site, host=host, port=port, log_level=settings.log_level,
        timeout_graceful_shutdown=5,  # a backstop: live streams end when `stopping` is set
        log_config=None,  # its loggers write through ours (`configure_logging`), one format
    )  # fmt: skip
    portal = f"{served_settings(settings, host, port).served_url()}/"
    print(f"Portal: {portal}", flush=True)
    server = _make_server(config, on_exit=site.state.stopping.set)
    if open_portal:
        background.append(asyncio.create_task(_open_when_started(server, portal)))
    tune_for_service()
    running = asyncio.create_task(runtime.run(), name="runtime")
    try:
        await server.serve()
    finally:
        for task in background:
            task.cancel()
        runtime.stop()
        await running
        if simulator is not None:
            await simulator.close()
        if fakes is not None:
            await fakes.close()
        if mail is not None:
            await mail.close()
        forget_process()  # with PROMETHEUS_MULTIPROC_DIR: its live gauges leave the sum
        engine.dispose()


async def _open_when_started(server: Any, portal: str) -> None:
    """Opens the portal in the desktop's browser once the server answers. Only where
    there is a desktop: without one, Python's webbrowser would start a text browser
    (lynx, w3m) in the very terminal that shows the server's log."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return
    while not server.started:
        await asyncio.sleep(0.1)
    await asyncio.to_thread(webbrowser.open, portal)


async def _connect_simulator(engine: Any, port: int) -> None:
    """Gives the first workspace its simulator connector; waits for one to be created
    (`smscast bootstrap`, the API) when the database has none yet."""
    from smscast.engine.sending.connectors import ensure_simulator_connector

    while (
        await asyncio.to_thread(ensure_simulator_connector, engine, port, datetime.now(UTC)) is None
    ):
        await asyncio.sleep(2.0)


async def _connect_channel_fakes(engine: Any, fakes: ChannelFakes, served_url: str) -> None:
    """Gives the first workspace its connectors to the channel fakes (once it exists),
    and tells the fakes where to call back: the WhatsApp webhook names the connector."""
    from smscast.engine.sending.simulated_channels import FakeAddresses, ensure_channel_simulators

    where = FakeAddresses(
        fakes.sink.port, fakes.whatsapp.url, fakes.voice.url, "127.0.0.1", served_url
    )
    while (made := await asyncio.to_thread(
        ensure_channel_simulators, engine, where, datetime.now(UTC)
    )) is None:  # fmt: skip
        await asyncio.sleep(2.0)
    fakes.whatsapp.config.cloud_callback_url = f"{served_url}/hooks/whatsapp_cloud/{made.whatsapp}"
    fakes.push.vapid_public = made.vapid_public


def _make_server(config: Any, on_exit: Callable[[], None]) -> Any:
    """uvicorn's server, with signal handling that stops only the server loop: the caller
    then stops the dispatcher cleanly instead of the signal being raised again.
    `on_exit` tells the portal's live streams to end."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            on_exit()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.handle_exit, signum, None)
            try:
                yield
            finally:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)

    return Server(config)
