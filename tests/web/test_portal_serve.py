"""`smscast serve` serves the portal: it says where, and the first admin's printed
password signs in there (what a new user does after `./dev start`)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from portal_site import csrf_of


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "smscast", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_serve_prints_the_portal_address_where_the_first_admin_signs_in_and_stops_cleanly(
    tmp_path: Path,
) -> None:
    """...and a dashboard left open does not hold a stop: its live stream ends as soon
    as serve is asked to stop, not at uvicorn's shutdown timeout with a traceback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=f"sqlite:///{tmp_path / 'smscast.db'}",
        SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_PORT=str(port),
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
        SMSCAST_WEBHOOK_WORKER="false",
        COLUMNS="200",
    )
    run(env, tmp_path, "db", "upgrade")
    printed = run(env, tmp_path, "bootstrap")
    email = re.search(r"login:\s+(\S+)", printed)
    password = re.search(r"password:\s+(\S+)", printed)
    assert email and password, printed
    output = tmp_path / "serve.out"
    with output.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "smscast", "serve", "--no-simulator"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        address = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while f"Portal: {address}" not in output.read_text():
            assert server.poll() is None, f"serve stopped: {output.read_text()}"
            assert time.monotonic() < deadline, f"no portal address printed: {output.read_text()}"
            time.sleep(0.1)
        with httpx.Client(base_url=address) as browser:
            while True:
                try:
                    login = browser.get("/", follow_redirects=True)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the portal never answered"
                    time.sleep(0.1)
            assert str(login.url) == f"{address}login?next=/dashboard"
            assert ">Sign in</button>" in login.text
            signed_in = browser.post(
                "/login",
                data={
                    "email": email.group(1),
                    "password": password.group(1),
                    "next": "/dashboard",
                    "csrf_token": csrf_of(login.text),
                },
            )
            assert signed_in.status_code == 303
            assert signed_in.headers["location"] == "/dashboard"
            with browser.stream("GET", "/dashboard/stream", timeout=30) as stream:
                lines = stream.iter_lines()
                while not next(lines).startswith("event: kpis"):
                    pass  # the stream is open and has sent its first numbers
                server.send_signal(signal.SIGTERM)
                assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    said = output.read_text()
    assert "timeout graceful shutdown exceeded" not in said
    assert "Traceback" not in said


def test_serve_open_shows_the_portal_in_the_desktops_browser(tmp_path: Path) -> None:
    """`./dev start` runs `smscast serve --open`: once the server answers, the desktop's
    browser ($BROWSER here, a recorder) is sent to the portal's address."""
    port = free_port()
    opened = tmp_path / "opened.txt"
    recorder = tmp_path / "browser.py"
    recorder.write_text(f"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=f"sqlite:///{tmp_path / 'smscast.db'}",
        SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_PORT=str(port),
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
        SMSCAST_WEBHOOK_WORKER="false",
        DISPLAY=":0",
        BROWSER=f"{sys.executable} {recorder} %s",
    )
    run(env, tmp_path, "db", "upgrade")
    server = subprocess.Popen(
        [sys.executable, "-m", "smscast", "serve", "--no-simulator", "--open"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not opened.exists() or not opened.read_text():
            assert server.poll() is None, "serve stopped"
            assert time.monotonic() < deadline, "the browser was never opened"
            time.sleep(0.1)
        assert opened.read_text() == f"http://127.0.0.1:{port}/"
        assert httpx.get(opened.read_text() + "healthz").status_code == 200  # it answered
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
