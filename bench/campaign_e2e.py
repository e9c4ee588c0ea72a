"""A campaign as a user runs it, end to end: the benchmark issue 21 is judged by.

Everything goes through the `smscast` command in processes of its own, as a user types
it: a fresh database (`db upgrade`, `workspace create`, quiet hours and caps off so the
hour of the run changes nothing), `smscast simulator --dlr-delay 1` (an SMSC in another
process that answers every submit and reports each text delivered a second later, as
carriers do), an SMPP connector to it with window 1000 and no rate limit, N contacts
imported from a CSV with `contacts import`, `smscast worker` running, then
`campaigns create` and `campaigns launch`. Measured:

- `first_submit_s`: from the start of `campaigns launch` to the first submit the
  simulator counts (its HTTP `/stats`, polled every 10 ms);
- `launch_s`: how long `campaigns launch` ran;
- `e2e_msgs_per_s`: N over the time from the start of the launch to the last delivery
  report recorded in the database;
- `peak_rss_mb`: the launch process's peak resident memory (`wait4`).

    python bench/campaign_e2e.py [--n N] [--database-url URL] [--binds B] [--roles split]

`--binds B` gives the connector B sessions to the simulator (its `binds` setting; the
window of 1000 is split among them).

With `--database-url postgresql+psycopg://…/DB` a database of its own is created on that
server and dropped afterwards. Last line:
`RESULT first_submit_s=… launch_s=… e2e_msgs_per_s=… peak_rss_mb=…`.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
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


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([*SMSCAST, *args], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"smscast {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def write_contacts(path: Path, n: int) -> None:
    with path.open("w") as out:
        out.write("phone,first_name,consent\n")
        for i in range(n):
            out.write(f"+4860{i:07d},Name{i % 997},yes\n")


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


def wait_for(check, what: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--roles", choices=("all", "split"), default="all",
                        help="split: `smscast worker --role transmit` and `--role receive` "
                        "as two processes, instead of one `smscast worker`")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        with fresh_database(args.database_url, folder) as url:
            measure(args.n, url, folder, args.binds, args.roles)


def measure(n: int, url: str, folder: Path, binds: int, roles: str) -> None:
    from _proc import cpu_seconds  # loaded by _path (bench/ is off the path)

    smpp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(folder / "var"),
               SMSCAST_CONFIG=str(folder / "none.toml"), SMSCAST_WORKSPACE="Bench",
               SMSCAST_LOG_LEVEL="warning")  # fmt: skip
    run(env, "db", "upgrade")
    run(env, "workspace", "create", "Bench", "--country", "PL", "--timezone", "Europe/Warsaw")
    run(env, "workspace", "settings", "--set", "quiet_hours=off", "--set",
        "frequency_cap_limit=0")  # fmt: skip
    run(env, "connectors", "add", "sim", "--kind", "smpp", "--host", "127.0.0.1", "--port",
        str(smpp_port), "--system-id", "smscast", "--password", "", "--rate", "0",
        "--window", "1000", "--setting", f"binds={binds}")  # fmt: skip
    write_contacts(folder / "contacts.csv", n)
    started = time.perf_counter()
    run(env, "contacts", "import", str(folder / "contacts.csv"), "--consent-source", "bench")
    imported_s = time.perf_counter() - started
    simulator = subprocess.Popen(
        [*SMSCAST, "simulator", "--port", str(smpp_port), "--http-port", str(http_port),
         "--dlr-delay", "1", "--delivered", "1", "--undeliverable", "0", "--expired", "0",
         "--rejected", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    workers = [
        subprocess.Popen([*SMSCAST, "worker", "--role", role], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for role in (("transmit", "receive") if roles == "split" else ("all",))
    ]  # fmt: skip
    engine = create_engine(url)
    try:

        def bound() -> bool:
            state = json.loads(run(env, "connectors", "state", "--json"))
            receiving = roles != "split" or state[0].get("receiving") == "receiving"
            return bool(state and state[0]["state"] == "sending" and receiving)

        wait_for(bound, "the worker to bind to the simulator", 60)
        campaign = run(env, "campaigns", "create", "--name", "E2E", "--segment", "",
                       "--body", "Hi {{ first_name }}, spring sale today").strip()  # fmt: skip
        first: list[float] = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch_first_submit, args=(http_port, first, stop))
        watcher.start()
        launch_started = time.perf_counter()
        launch = subprocess.Popen([*SMSCAST, "campaigns", "launch", campaign], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        _, status, usage = os.wait4(launch.pid, 0)
        launch.returncode = os.waitstatus_to_exitcode(status)
        launch_s = time.perf_counter() - launch_started
        if launch.returncode != 0:
            assert launch.stderr is not None
            raise SystemExit(f"campaigns launch failed: {launch.stderr.read().decode()}")
        peak_rss_mb = usage.ru_maxrss / 1024

        def reported() -> bool:
            with engine.connect() as conn:
                done = conn.execute(text(
                    "SELECT COUNT(*) FROM messages WHERE campaign_id = :c AND status IN "
                    f"({', '.join(repr(s) for s in FINAL)})"), {"c": int(campaign)},
                ).scalar_one()  # fmt: skip
            return bool(done >= n)

        wait_for(reported, "every delivery report to be recorded", 3600)
        took = time.perf_counter() - launch_started
        stop.set()
        watcher.join()
        first_submit_s = first[0] - launch_started if first else float("nan")
    finally:
        cpu = {"worker": sum(cpu_seconds(w.pid) for w in workers),
               "simulator": cpu_seconds(simulator.pid)}  # fmt: skip
        for process in (*workers, simulator):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # said, not raised: it would hide the error above
                print(f"{process.args!r} did not stop within 30 s of SIGTERM; "
                      "killed", file=sys.stderr)  # fmt: skip
                process.kill()
                process.wait()
        engine.dispose()
    print(f"{n} messages on {make_url(url).get_backend_name()}: import {imported_s:.1f} s, "
          f"launch {launch_s:.2f} s (first submit {first_submit_s:.2f} s after it started, "
          f"{first_submit_s - launch_s:+.2f} s after it returned), last report recorded "
          f"{took:.1f} s after the launch started")  # fmt: skip
    print(f"CPU: worker {cpu['worker']:.1f} s ({cpu['worker'] / n * 1e6:.0f} µs a message), "
          f"simulator {cpu['simulator']:.1f} s; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(
        f"RESULT first_submit_s={first_submit_s:.2f} launch_s={launch_s:.2f} "
        f"e2e_msgs_per_s={n / took:.0f} peak_rss_mb={peak_rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
