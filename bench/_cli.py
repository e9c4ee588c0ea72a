"""Running `smscast` as a user runs it, for the end-to-end benchmarks.

Each step is a `smscast` command in a process of its own, against a database made for
the run (an SQLite file, or a database of its own on a PostgreSQL server, dropped
afterwards); the built-in simulator is watched through its HTTP `/stats`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SMSCAST = [sys.executable, "-m", "smscast"]
FINAL = ("delivered", "undelivered", "expired", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def fresh_database(url: str | None, folder: Path) -> Iterator[str]:
    """An empty database: an SQLite file, or a new database on the PostgreSQL server."""
    if url is None:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    server = make_url(url)
    name = f"smscast_e2e_{os.getpid()}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def smscast_env(url: str, folder: Path) -> dict[str, str]:
    """The environment of every command of a run: its database and folders, no settings
    of the shell's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(folder / "var"),
               SMSCAST_CONFIG=str(folder / "none.toml"), SMSCAST_WORKSPACE="Bench",
               SMSCAST_LOG_LEVEL="warning")  # fmt: skip
    return env


def bench_workspace(env: dict[str, str]) -> None:
    """A fresh schema and workspace with quiet hours and caps off, so the hour of the run
    changes nothing."""
    run(env, "db", "upgrade")
    run(env, "workspace", "create", "Bench", "--country", "PL", "--timezone", "Europe/Warsaw")
    run(env, "workspace", "settings", "--set", "quiet_hours=off", "--set",
        "frequency_cap_limit=0")  # fmt: skip


def start_simulator(env: dict[str, str], smpp_port: int, http_port: int) -> subprocess.Popen[bytes]:
    """`smscast simulator`: answers every submit and reports each text delivered a second
    later, as carriers do."""
    return subprocess.Popen(
        [*SMSCAST, "simulator", "--port", str(smpp_port), "--http-port", str(http_port),
         "--dlr-delay", "1", "--delivered", "1", "--undeliverable", "0", "--expired", "0",
         "--rejected", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each; one that has not stopped 30 s later is named and killed (said, not
    raised: an exception here would hide the one that ended the run)."""
    for process in processes:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            print(f"{process.args!r} did not stop within 30 s of SIGTERM; killed",
                  file=sys.stderr)  # fmt: skip
            process.kill()
            process.wait()


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*SMSCAST, *args], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"smscast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def write_contacts(path: Path, n: int, shards: int = 0) -> None:
    """N opted-in contacts; with `shards`, a `shard` column 0 … shards-1 (round robin)."""
    with path.open("w") as out:
        out.write("phone,first_name,consent" + (",shard\n" if shards else "\n"))
        for i in range(n):
            shard = f",{i % shards}" if shards else ""
            out.write(f"+4860{i:07d},Name{i % 997},yes{shard}\n")


def submits(http_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/stats", timeout=5) as answer:
        return int(json.loads(answer.read())["submits"])


def watch_first_submit(http_port: int, found: list[float], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            if submits(http_port) > 0:
                found.append(time.perf_counter())
                return
        except OSError:
            pass
        time.sleep(0.01)


def wait_for(check: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.05)
