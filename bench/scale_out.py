"""Scale-out on PostgreSQL: messages/s with 1, 2, 4 … workers, each with a carrier of its own.

For each worker count W, as a team that outgrew one process runs it: a fresh database
on the PostgreSQL server, W SMPP connectors (window 1000, no rate limit), each with a
number and an `smscast simulator` process of its own (every submit answered, each text
reported delivered a second later), N contacts imported with a `shard` column 0 … W-1,
W `smscast worker` processes (each takes one connector: leases spread them), then one
campaign per connector (`--from` its number, `--segment 'shard = "k"'`), all launched at
once. Measured from the launches' start to the last delivery report recorded; the line
for each W gives the CPU the workers, the simulators and the PostgreSQL server used, so
the README can say where the time went.

    python bench/scale_out.py [--workers 1,2,4] [--n N] [--database-url URL]

Last line: `RESULT w1=… w2=… w4=…` (messages/s end to end for each worker count).
"""

from __future__ import annotations

if __name__ == "__main__":  # first: keeps bench/email.py from standing in for `email`
    import _path  # noqa: F401

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

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
    write_contacts,
)
from _proc import cpu_seconds

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_cpu() -> float:
    """CPU-seconds of every PostgreSQL server process now running (/proc; as root)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("postgres"):
                seconds = cpu_seconds(int(entry.name))
                total += 0.0 if seconds != seconds else seconds  # gone meanwhile: NaN
    return total


def measure(workers: int, n: int, url: str, folder: Path) -> float:
    env = smscast_env(url, folder)
    bench_workspace(env)
    simulators: list[subprocess.Popen[bytes]] = []
    processes: list[subprocess.Popen[bytes]] = []
    engine = create_engine(url)
    try:
        for k in range(workers):
            smpp_port, http_port = free_port(), free_port()
            run(env, "connectors", "add", f"sim{k}", "--kind", "smpp", "--host", "127.0.0.1",
                "--port", str(smpp_port), "--system-id", "smscast", "--password", "",
                "--rate", "0", "--window", "1000")  # fmt: skip
            run(env, "numbers", "add", f"+4850010{k:04d}", "--connector", f"sim{k}")
            simulators.append(start_simulator(env, smpp_port, http_port))
        write_contacts(folder / "contacts.csv", n, shards=workers)
        run(env, "contacts", "import", str(folder / "contacts.csv"), "--consent-source", "bench")
        processes = [
            subprocess.Popen([*SMSCAST, "worker", "--id", f"w{k}"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for k in range(workers)
        ]  # fmt: skip

        def spread() -> bool:  # every connector sending, each held by another worker
            state = json.loads(run(env, "connectors", "state", "--json"))
            holders = {item["held_by"] for item in state if item["state"] == "sending"}
            return len(holders) == workers

        wait_for(spread, f"{workers} workers to take a connector each", 120)
        campaigns = [
            run(env, "campaigns", "create", "--name", f"Scale {k}", "--segment", f'shard = "{k}"',
                "--from", f"+4850010{k:04d}", "--body", "Hi {{ first_name }}, spring sale today",
                ).strip()
            for k in range(workers)
        ]  # fmt: skip
        cpu_before = _cpu(processes, simulators)
        started = time.perf_counter()
        launches = [subprocess.Popen([*SMSCAST, "campaigns", "launch", campaign], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    for campaign in campaigns]  # fmt: skip
        for launch in launches:
            _, errors = launch.communicate()
            if launch.returncode != 0:
                raise SystemExit(f"campaigns launch failed: {errors.decode()}")

        def reported() -> bool:
            with engine.connect() as conn:
                done = conn.execute(text(
                    "SELECT COUNT(*) FROM messages WHERE campaign_id IS NOT NULL AND status IN "
                    f"({', '.join(repr(s) for s in FINAL)})"),
                ).scalar_one()  # fmt: skip
            return bool(done >= n)

        wait_for(reported, "every delivery report to be recorded", 3600)
        took = time.perf_counter() - started
        cpu = {name: after - cpu_before[name]
               for name, after in _cpu(processes, simulators).items()}  # fmt: skip
    finally:
        stop_all([*processes, *simulators])
        engine.dispose()
    rate = n / took
    per_message = sum(cpu.values()) / n * 1e6
    print(f"{workers} worker(s): {n} messages in {took:.1f} s = {rate:.0f}/s; CPU-s: workers "
          f"{cpu['workers']:.1f}, simulators {cpu['simulators']:.1f}, PostgreSQL "
          f"{cpu['postgres']:.1f} ({per_message:.0f} µs a message in all); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)  # fmt: skip
    return rate


def _cpu(workers: list[subprocess.Popen[bytes]],
         simulators: list[subprocess.Popen[bytes]]) -> dict[str, float]:  # fmt: skip
    return {
        "workers": sum(cpu_seconds(p.pid) for p in workers),
        "simulators": sum(cpu_seconds(p.pid) for p in simulators),
        "postgres": postgres_cpu(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure: 1,2,4")
    parser.add_argument("--n", type=int, default=100_000, help="messages in each measurement")
    parser.add_argument("--database-url", default=LOCAL_POSTGRES,
                        help="a PostgreSQL server (a database of its own is made for each "
                        f"count and dropped after); default {LOCAL_POSTGRES}")  # fmt: skip
    args = parser.parse_args()
    try:
        counts = [int(part) for part in args.workers.split(",")]
    except ValueError:
        parser.error(f"--workers {args.workers!r}: whole numbers separated by commas, e.g. 1,2,4")
    if not counts or min(counts) < 1:
        parser.error("--workers: each count at least 1")
    rates = {}
    for workers in counts:
        with tempfile.TemporaryDirectory() as folder_name:
            folder = Path(folder_name)
            with fresh_database(args.database_url, folder) as url:
                rates[workers] = measure(workers, args.n, url, folder)
    print("RESULT " + " ".join(f"w{w}={rate:.0f}" for w, rate in rates.items()))


if __name__ == "__main__":
    main()
