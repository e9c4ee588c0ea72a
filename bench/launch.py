"""Campaign launch speed: a segment of N contacts launched into the outbox on SQLite.

Contacts (mostly Polish, all opted in, plan gold/silver/bronze) are written straight
into a fresh database; the campaign's segment selects all of them
(`country = "PL" or plan in ("gold", "silver", "bronze")`), its template uses a
first name, a coupon from a pool of N codes and a tracked link. The workspace has
the connector and sender number `smscast bootstrap` gives it. Only the launch is
timed. The last line is `RESULT launch_recipients_per_s=<n> peak_rss_mb=<n>`.
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

from sqlalchemy import func, select

from smscast.config import Settings
from smscast.engine.accounts.workspaces import create_workspace
from smscast.engine.campaigns.coupons import pool_id
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.sending.connectors import ensure_simulator_connector
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.campaign_models import Coupon
from smscast.store.db import create_db_engine
from smscast.store.messaging_models import Message
from smscast.store.migrate import upgrade_database
from smscast.store.models import ConsentState, Contact, table_of

NAMES = ["Anna", "Piotr", "Zofia", "Łukasz", "Małgorzata", "Jan", "Ewa", "Tomasz"]
PLANS = ["gold", "silver", "bronze"]
BODY = ("Cześć {{ first_name }}! -20% na wszystko z kodem {{ coupon }}: "
        "{{ link('https://shop.example/sale') }}")  # fmt: skip


def fill(engine, workspace_id: int, n: int, now: datetime) -> None:
    contacts, states = table_of(Contact), table_of(ConsentState)
    with engine.begin() as conn:
        values = DriverValues(conn)
        moment = values.moment(now)
        for start in range(0, n, 50_000):
            rows = [
                (i + 1, workspace_id, f"+48{500_000_000 + i}", "PL",
                 values.json({"first_name": NAMES[i % 8], "plan": PLANS[i % 3]}), "pl",
                 "Europe/Warsaw", "[]", moment, moment)
                for i in range(start, min(n, start + 50_000))
            ]  # fmt: skip
            insert_rows(conn, contacts, ("id", "workspace_id", "phone", "country", "attributes",
                                         "language", "timezone", "tags", "created_at",
                                         "updated_at"), rows)  # fmt: skip
            insert_rows(
                conn,
                states,
                ("contact_id", "channel", "purpose", "status", "event_id", "changed_at"),
                [(row[0], "sms", "promotional", "opted_in", 0, moment) for row in rows],
            )


def add_pool(engine, workspace, n: int, now: datetime) -> None:
    with engine.begin() as conn:
        pool = pool_id(conn, workspace, "bench", create=True, now=now)
        for start in range(0, n, 50_000):
            insert_rows(
                conn,
                table_of(Coupon),
                ("pool_id", "code"),
                [(pool, f"BF{i:08d}") for i in range(start, min(n, start + 50_000))],
            )


def _cpu_seconds() -> float:
    """CPU of this process (every thread) and its children: the machine is shared."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="contacts in the segment")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the launch")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        engine = create_db_engine(url)
        now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # 11:00 in Warsaw: no quiet hours
        workspace = create_workspace(engine, "Bench", "PL", "Europe/Warsaw", actor="b", now=now)
        ensure_simulator_connector(engine, 2775, now)  # as `smscast bootstrap` gives it
        fill(engine, workspace.id, args.n, now)
        add_pool(engine, workspace, args.n, now)
        settings = Settings(database_url=url, data_dir=Path(folder), secret_key="bench")
        draft = CampaignDraft(
            name="Bench",
            body=BODY,
            coupon_pool="bench",
            segment='country = "PL" or plan in ("gold", "silver", "bronze")',
        )
        campaign_id = create_campaign(engine, workspace, draft, actor="b", now=now)
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        result = launch_campaign(engine, settings, workspace, campaign_id, actor="b", now=now,
                                 rng=random.Random(7))  # fmt: skip
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_started
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
        with engine.connect() as conn:
            written = conn.execute(select(func.count()).select_from(table_of(Message))).scalar()
        engine.dispose()
    assert written == result["queued"] == args.n, (written, result)
    print(f"launched {written} recipients in {elapsed:.1f}s (excluded {result['excluded']})")
    print(f"cpu {cpu:.1f}s ({args.n / cpu:.0f} recipients per CPU-second, all threads), "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"RESULT launch_recipients_per_s={args.n / elapsed:.0f} peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
