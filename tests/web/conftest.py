"""The browser-test harness: one real `smscast serve` per session, driven by Chromium.

The portal is tested the way a user meets it: the venv's `smscast` binary migrates a
fresh SQLite database, bootstraps the first workspace, and serves the API, the portal,
the dispatcher and the SMSC simulator on free loopback ports; Debian's Chromium (driven
by Playwright) signs in through `/login` as a person would. One server for the whole
session keeps all browser tests within a few minutes.

The server and every CLI command run on a passed clock, not the machine's: under
`faketime`, shifted by one offset for the whole session so that the wall clock reads
SERVER_HOUR_UTC (noon in Warsaw, outside quiet hours) when the session starts and runs
on from there. One offset, not one start moment: every process — the server and each
CLI command started later — then reads the same time. A browser test that launches a
campaign would otherwise pass by day and wait for the morning by night.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Route

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
SMSCAST = Path(sys.executable).with_name("smscast")
ADMIN_EMAIL = "admin@portal.test"
ADMIN_PASSWORD = "browser harness passphrase"
START_TIMEOUT_S = 60.0
SERVER_HOUR_UTC = 11  # 12:00 in Warsaw in winter, 13:00 in summer
RUN_AT_SITE = REPO / "tests" / "run_at_site"  # mends time.sleep under faketime (see there)


@functools.cache
def server_clock_offset() -> str:
    """faketime's shift, fixed at the session's start: today at SERVER_HOUR_UTC."""
    now = datetime.now(UTC)
    moment = now.replace(hour=SERVER_HOUR_UTC, minute=0, second=0, microsecond=0)
    return f"{round((moment - now).total_seconds()):+d}s"


def server_clock_env() -> dict[str, str]:
    """The environment that puts a process on the session's shifted clock: libfaketime
    preloaded into the process itself. (Not the `faketime` command: it runs its command
    as a child, so stopping it left `smscast serve` running after the tests.)"""
    found = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not found:
        pytest.fail("libfaketime is not installed: ./dev test installs it (Debian: faketime)")
    return {
        "LD_PRELOAD": str(found[0]),
        "FAKETIME": server_clock_offset(),
        # Real monotonic time, shifted wall time (tests/run_at.sh says why).
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": os.pathsep.join(
            [str(RUN_AT_SITE), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@dataclass(frozen=True)
class PortalServer:
    """A running `smscast serve`: where it answers, its environment and its log."""

    url: str
    env: dict[str, str]
    workdir: Path
    log: Path

    def smscast(self, *args: str, stdin: str | None = None) -> str:
        """Runs `smscast ARGS` against this server's database; fails the test, naming
        the command and its output, when it exits non-zero."""
        return run_smscast(self.env, self.workdir, *args, stdin=stdin)

    def wait_until_bound(self, timeout_s: float = 30.0) -> None:
        """Returns once the simulator's connector is bound: a text `send-mo` injects
        before that is held by the simulator, and the command could not say how it was
        routed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = json.loads(self.smscast("connectors", "state", "--json"))
            if any(state["state"] == "sending" for state in states):
                return
            time.sleep(0.3)
        pytest.fail(f"the simulator's connector is not bound after {timeout_s:.0f} s")


def run_smscast(env: dict[str, str], workdir: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(SMSCAST), *args],
        env=env,
        cwd=workdir,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        pytest.fail(
            f"`smscast {' '.join(args)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def free_port() -> int:
    """A loopback port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Returns once `/healthz` answers 200; fails with the server's log if it exits first
    or does not answer within START_TIMEOUT_S."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"smscast serve exited {process.returncode} at start:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"smscast serve did not answer {url}/healthz in {START_TIMEOUT_S:.0f} s:\n"
                f"{log.read_text()}")  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (serve stops its dispatcher cleanly), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def portal_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PortalServer]:
    """`smscast serve` on a new SQLite database and data dir, on free loopback ports for
    HTTP and the simulator's SMPP and HTTP, with a known admin password."""
    if not SMSCAST.exists():
        pytest.fail(f"{SMSCAST} is missing: install smscast into the venv (./dev test)")
    workdir = tmp_path_factory.mktemp("portal")
    port = free_port()
    env = {
        **os.environ,
        "SMSCAST_CONFIG": str(workdir / "smscast.toml"),  # none: only these settings count
        "SMSCAST_DATABASE_URL": f"sqlite:///{workdir / 'smscast.db'}",
        "SMSCAST_DATA_DIR": str(workdir / "data"),
        "SMSCAST_HOST": "127.0.0.1",
        "SMSCAST_PORT": str(port),
        "SMSCAST_SIMULATOR_PORT": str(free_port()),
        "SMSCAST_SIMULATOR_HTTP_PORT": str(free_port()),
        "SMSCAST_ADMIN_EMAIL": ADMIN_EMAIL,
        # The webhook tests' receiver listens on loopback, which webhooks may not reach
        # by default (tests/web/test_portal_webhooks.py checks that refusal).
        "SMSCAST_WEBHOOK_ALLOW_PRIVATE": "1",
        # The CLI's workspace when a test has made more than the first one.
        "SMSCAST_WORKSPACE": "1",
        "SMSCAST_LOG_LEVEL": "info",
        **server_clock_env(),
    }
    run_smscast(env, workdir, "db", "upgrade")
    run_smscast(env, workdir, "bootstrap")
    run_smscast(env, workdir, "users", "set-password", ADMIN_EMAIL, "--password-stdin",
                stdin=ADMIN_PASSWORD + "\n")  # fmt: skip
    log = workdir / "serve.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(SMSCAST), "serve"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, url, log)
        # Every text delivered: the simulator otherwise fails a few at random, as carriers
        # do, and a test waiting for "delivered" would then fail one run in ten.
        outcomes = {"delivered": 1.0, "undeliverable": 0.0, "expired": 0.0, "rejected": 0.0}
        faults = f"http://127.0.0.1:{env['SMSCAST_SIMULATOR_HTTP_PORT']}/faults"
        httpx.post(faults, json=outcomes, timeout=10).raise_for_status()
        yield PortalServer(url=url, env=env, workdir=workdir, log=log)
    finally:
        stop(process)
        if request.session.testsfailed:
            show_log(request.config, log)


def show_log(config: pytest.Config, log: Path) -> None:
    """Prints the server's log past pytest's output capture, so a failed browser test
    comes with what the server said."""
    capture = config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n----- smscast serve log ({log}) -----\n{log.read_text()}-----", flush=True)


@pytest.fixture(scope="session")
def portal_url(portal_server: PortalServer) -> str:
    """`http://127.0.0.1:PORT`, without a trailing slash."""
    return portal_server.url


@pytest.fixture(scope="session")
def base_url(portal_url: str) -> str:
    """Playwright's pages resolve relative addresses (`page.goto("/login")`) against the
    portal."""
    return portal_url


@pytest.fixture(scope="session")
def admin_credentials(portal_server: PortalServer) -> Credentials:
    """The first workspace's admin (an instance administrator too)."""
    return Credentials(ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, headless: `playwright install` cannot download browsers here."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `./dev test` installs Debian's chromium")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True}


def sign_in(page: Page, credentials: Credentials) -> None:
    """Signs in through the `/login` form by its labels, as a person would, and waits to
    have left the sign-in page."""
    page.goto("/login")
    page.get_by_label("Email").fill(credentials.email)
    page.get_by_label("Password").fill(credentials.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login", timeout=10_000)


@pytest.fixture
def signed_in_page(page: Page, admin_credentials: Credentials) -> Page:
    """A fresh browser page signed in as the admin through the `/login` form."""
    sign_in(page, admin_credentials)
    return page


@dataclass
class Requests:
    """Every address the browser asked for, and those that would have left the machine
    (which were refused instead of sent)."""

    seen: list[str] = field(default_factory=list)
    off_machine: list[str] = field(default_factory=list)


@pytest.fixture
def unplugged(context: BrowserContext, portal_url: str) -> Iterator[Requests]:
    """The browser context as if the network cable were pulled: requests to the portal's
    own origin go through, any other is recorded and aborted. A test asserts
    `unplugged.off_machine == []` after the page has loaded."""
    origin = urlsplit(portal_url).netloc
    requests = Requests()

    def route(route: Route) -> None:
        url = route.request.url
        requests.seen.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.netloc == origin:
            route.continue_()
        else:
            requests.off_machine.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", route)
    yield requests
    context.unroute("**/*")


SignIn = Callable[[Page, Credentials], None]


@pytest.fixture(scope="session")
def sign_in_as() -> SignIn:
    """`sign_in_as(page, credentials)`: signs a page in through the `/login` form (for a
    member other than the admin; `signed_in_page` is the admin's)."""
    return sign_in


AddMember = Callable[[str, str], Credentials]


@pytest.fixture(scope="session")
def add_member(portal_server: PortalServer, admin_credentials: Credentials) -> AddMember:
    """`add_member(email, role)`: another member of the first workspace (viewer, agent,
    marketer, admin) with a password, for role tests; returns their credentials.

    There is no `smscast users add` command, so the admin adds them through the
    server's own API (POST /api/v1/users, the same engine use case the portal uses).
    """

    def add(email: str, role: str) -> Credentials:
        credentials = Credentials(email, f"{role} member passphrase")
        with httpx.Client(base_url=portal_server.url, timeout=30.0) as client:
            login = client.post(
                "/api/v1/auth/login",
                json={"email": admin_credentials.email, "password": admin_credentials.password},
            )
            if login.status_code != 200:
                pytest.fail(f"the admin cannot sign in to the API: {login.text}")
            added = client.post(
                "/api/v1/users",
                json={"email": email, "role": role, "password": credentials.password},
                headers={"Authorization": f"Bearer {login.json()['token']}"},
            )
            if added.status_code != 201:
                pytest.fail(f"cannot add {email} as {role}: {added.status_code} {added.text}")
        return credentials

    return add


Screenshot = Callable[..., Path]


def screenshot_taker(folder: Path) -> Screenshot:
    def take_screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
        """Saves what the page shows as `<folder>/<name>.png`."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take_screenshot


@pytest.fixture(scope="session")
def save_screenshot(tmp_path_factory: pytest.TempPathFactory) -> Screenshot:
    """`save_screenshot(page, name, full_page=False)`: the pictures README shows, taken by
    the browser tests so they always match the portal. They replace
    `docs/screenshots/<name>.png` when SMSCAST_UPDATE_SCREENSHOTS=1
    (`SMSCAST_UPDATE_SCREENSHOTS=1 ./dev test -m browser`); otherwise they go to a
    temporary folder, so a test run leaves the checkout as it was."""
    if os.environ.get("SMSCAST_UPDATE_SCREENSHOTS") == "1":
        return screenshot_taker(SCREENSHOTS)
    return screenshot_taker(tmp_path_factory.mktemp("screenshots"))
