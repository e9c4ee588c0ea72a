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
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from _cli import (  # bench/ is on the path, at its end (_path)
    FINAL,
    SMSCAST,
    bench_workspace,
    free_port,
    fresh_database,
    run,
    smscast_env,
    start_simulator,
    stop_all,
    wait_for,
    watch_first_submit,
    write_contacts,
)
from _proc import cpu_seconds


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
    smpp_port, http_port = free_port(), free_port()
    env = smscast_env(url, folder)
    bench_workspace(env)
    run(env, "connectors", "add", "sim", "--kind", "smpp", "--host", "127.0.0.1", "--port",
        str(smpp_port), "--system-id", "smscast", "--password", "", "--rate", "0",
        "--window", "1000", "--setting", f"binds={binds}")  # fmt: skip
    write_contacts(folder / "contacts.csv", n)
    started = time.perf_counter()
    run(env, "contacts", "import", str(folder / "contacts.csv"), "--consent-source", "bench")
    imported_s = time.perf_counter() - started
    simulator = start_simulator(env, smpp_port, http_port)
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
        stop_all([*workers, simulator])
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
