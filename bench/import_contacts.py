"""Contact import speed: N synthetic contacts into a fresh SQLite database.

Numbers are mostly Polish, with German, British, US and French ones mixed in, and
0.1% of rows invalid. The last line is
`RESULT import_rows_per_s=<n> peak_rss_mb=<n>`; peak RSS counts this process and
its largest parsing worker.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from smscast.config import Settings
from smscast.engine.accounts.workspaces import create_workspace
from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.store.db import create_db_engine
from smscast.store.migrate import upgrade_database

FIRST_NAMES = ["Anna", "Piotr", "Zofia", "Łukasz", "Małgorzata", "Jan", "Ewa", "Tomasz"]
PLANS = ["gold", "silver", "bronze"]


def phone(rng: random.Random, n: int) -> str:
    """A unique valid number for each n: Polish mostly, some German, British, US, French."""
    kind = rng.random()
    if kind < 0.80:
        return f"+48 {500 + n // 1_000_000 % 300} {n // 1000 % 1000:03d} {n % 1000:03d}"
    if kind < 0.88:
        return f"+49 151 {n:08d}"
    if kind < 0.94:
        return f"+44 7{400_000_000 + n:09d}"
    if kind < 0.97:
        return f"+1 {201 + n // 10_000_000 % 700} {200 + n // 10000 % 700} {n % 10000:04d}"
    return f"+33 6 {n:08d}"


def generate(path: Path, n: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,first_name,last_name,language,plan,tags,consent\n")
        for i in range(n):
            number = "+48 12" if rng.random() < 0.001 else phone(rng, i)
            name = FIRST_NAMES[i % len(FIRST_NAMES)]
            out.write(f"{number},{name},Nowak{i % 97},pl,{PLANS[i % 3]},vip;news,yes\n")


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


def _cpu() -> float:
    """CPU seconds used by finished child processes (the parsing workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="contacts to import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        csv_path = work / "contacts.csv"
        generate(csv_path, args.n)
        url = f"sqlite:///{work / 'bench.db'}"
        upgrade_database(url)
        engine = create_db_engine(url)
        now = datetime.now(UTC)
        workspace = create_workspace(engine, "Bench", "PL", "Europe/Warsaw", actor="bench", now=now)
        settings = Settings(database_url=url, data_dir=work, secret_key="bench")
        request = ImportRequest(csv_path, workspace, "bench consent", "bench", now)
        started, cpu_started, workers_started = time.perf_counter(), time.process_time(), _cpu()
        summary = import_contacts(engine, settings, request)
        elapsed = time.perf_counter() - started
        main_cpu, workers_cpu = time.process_time() - cpu_started, _cpu() - workers_started
        engine.dispose()
    print(
        f"rows {summary.rows_read} created {summary.created} updated {summary.updated} "
        f"rejected {summary.rejected} in {elapsed:.1f}s"
    )
    # CPU per row tells more than the rate on a shared machine, where others' load
    # takes cores away from this run.
    per_row = 1e6 / max(1, summary.rows_read)
    print(f"cpu per row: main {main_cpu * per_row:.1f} us, parsing workers "
          f"{workers_cpu * per_row:.1f} us; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    rate = summary.rows_read / elapsed
    print(f"RESULT import_rows_per_s={rate:.0f} peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
