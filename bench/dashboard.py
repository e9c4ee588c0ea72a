"""Dashboard and report reads over a workspace with N messages across 20 campaigns, on SQLite.

The workspace gets two connectors and four numbers through the real use cases, and 20
campaigns created by `create_campaign` (five per number), run one after another over
the last 30 days. Their N messages (delivered, undelivered, refused, expired, a few
still awaiting a report) and the hourly counters that sending them, and the clicks,
replies, opt-outs and redemptions of the next two days, would have left in
`campaign_stats` (per campaign) and `traffic_stats` (per route, what the dashboard reads)
are then written in bulk from the same generated outcomes, so
the counters and the outbox agree. The real launch and dispatch path would take
minutes of CPU for a million texts (see launch and outbound_e2e) and what it writes
is already measured there; this script measures what a page view reads.

Timed, each over repeated calls (the workspace stays as it is between calls), through
the real site (`web.site.create_site`, API and portal on one app) in-process, over
HTTPX's ASGI test client, signed in through the `/login` form as a marketer:

- `dashboard`: GET /dashboard?range=30d — the user's dashboard (created on the first
  view) with every figure of its default layout (all KPIs, the traffic chart by day,
  the funnel, per connector and per number), the filter bar's lists, rendered in
  English: what a browser waits for;
- `report`: GET /campaigns/{id} of each campaign in turn (the campaign report page;
  if the tree has no such page, `campaign_report` itself, and the script says so);
- `sse`: `live_snapshot`, the query the dashboard's event stream polls every 1.5 s.

Last line: `RESULT dashboard_p95_ms=<x> report_p95_ms=<y> sse_p95_ms=<z>
dashboard_median_ms=… report_median_ms=… sse_median_ms=…`. Target p95 < 100 ms.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import os
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, update

from smscast.config import Settings
from smscast.engine.accounts.auth import memberships
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.dashboards.metrics import live_snapshot
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import add_connector
from smscast.engine.stats import FIELDS, campaign_report
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.campaign_models import CampaignStats
from smscast.store.db import create_db_engine
from smscast.store.messaging_models import Campaign, Message
from smscast.store.migrate import upgrade_database
from smscast.store.models import User, table_of
from smscast.store.traffic_models import TRAFFIC_COUNTERS, TrafficStats
from smscast.web.site import create_site

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CAMPAIGNS = 20
EMAIL, PASSWORD = "marketer@example.com", "bench passphrase"
PRICE = 0.04
# (status, share): what became of the texts; the rest of each campaign is delivered.
OUTCOMES = (("undelivered", 0.03), ("failed", 0.02), ("expired", 0.01), ("sent", 0.005))
REACTIONS = (("unique_clicks", 0.05), ("replies", 0.02), ("opt_outs", 0.004),
             ("redemptions", 0.01))  # fmt: skip
"""(counter, share of delivered texts): what recipients do after a text arrives."""
HOUR = timedelta(hours=1)
TRAFFIC_KEY = ("workspace_id", "hour", "connector_id", "number_id", "purpose", "campaign_id")
MESSAGE_COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "phone", "number_id", "campaign_id", "run",
    "body", "encoding", "parts", "parts_done", "cost", "status", "send_after", "attempts",
    "connector_id", "created_at", "sent_at", "done_at",
)  # fmt: skip


@dataclass(frozen=True)
class Shop:
    workspace: WorkspaceRef
    user_id: int
    campaign_ids: list[int]


def build_routes(engine: Engine, workspace: WorkspaceRef) -> list[tuple[str, str]]:
    """Two connectors with two numbers each, as an operator sets them up."""
    routes = []
    for c, name in enumerate(("carrier-a", "carrier-b")):
        add_connector(engine, workspace, name=name, kind="smpp",
                      settings={"host": "127.0.0.1", "port": 2775 + c, "system_id": "bench"},
                      rate_per_s=500.0, window=100, actor="bench", now=NOW)  # fmt: skip
        for k in range(2):
            number = f"+4850010{c}{k}00"
            add_number(engine, workspace, number, connector=name, actor="bench", now=NOW)
            routes.append((number, name))
    return routes


def status_of(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in OUTCOMES:
        if roll < share:
            return status
        roll -= share
    return "delivered"


def fill(engine: Engine, workspace: WorkspaceRef, n: int, rng: random.Random) -> list[int]:
    """20 campaigns over the last 30 days, N messages and their hourly counters."""
    routes = build_routes(engine, workspace)
    campaign_ids = []
    for c in range(CAMPAIGNS):
        number, _ = routes[c % len(routes)]
        draft = CampaignDraft(name=f"Campaign {c + 1}", body="Hi, -20% today", from_number=number,
                              purpose="informational" if c % 5 == 4 else "promotional")  # fmt: skip
        campaign_ids.append(create_campaign(engine, workspace, draft, actor="bench", now=NOW))
    campaigns = table_of(Campaign)
    with engine.connect() as conn:
        route = {row.id: (row.number_id, row.purpose) for row in conn.execute(
            select(campaigns.c.id, campaigns.c.number_id, campaigns.c.purpose))}  # fmt: skip
        connector_of: dict[int, int | None] = {
            row[0]: row[1] for row in conn.exec_driver_sql("SELECT id, connector_id FROM numbers")
        }
    with engine.begin() as conn:
        values = DriverValues(conn)
        for c, campaign_id in enumerate(campaign_ids):
            start = NOW - timedelta(days=30) + timedelta(days=c * 1.45, hours=8)
            size = n // CAMPAIGNS + (1 if c < n % CAMPAIGNS else 0)
            number_id, purpose = route[campaign_id]
            counters: defaultdict[datetime, defaultdict[str, float]] = defaultdict(
                lambda: defaultdict(float)
            )
            rows = []
            for i in range(size):
                at = start + timedelta(seconds=i * 6 * 3600 / size)  # sent over six hours
                status = status_of(rng)
                hour = counters[at.replace(minute=0, second=0, microsecond=0)]
                hour["targeted"] += 1
                if status == "failed":
                    hour["failed"] += 1
                else:
                    hour["sent"] += 1
                    hour["parts"] += 1
                    hour["cost"] += PRICE
                    hour[status] += 1 if status != "sent" else 0
                if status == "delivered":  # people answer over the next two days
                    for counter, share in REACTIONS:
                        if rng.random() < share:
                            later = min(at + timedelta(hours=rng.randrange(48)), NOW - HOUR)
                            bucket = counters[later.replace(minute=0, second=0, microsecond=0)]
                            bucket[counter] += 1
                            bucket["clicks"] += 1 if counter == "unique_clicks" else 0
                moment = values.moment(at)
                rows.append((
                    workspace.id, "out", "campaign", purpose, f"+48{600_000_000 + i}", number_id,
                    campaign_id, 0, "Hi, -20% today", "GSM-7", 1, 1 if status != "failed" else 0,
                    PRICE if status != "failed" else 0, status, moment, 1,
                    connector_of[number_id], moment, moment if status != "failed" else None,
                    moment if status not in ("sent",) else None,
                ))  # fmt: skip
                if len(rows) == 50_000:
                    insert_rows(conn, table_of(Message), MESSAGE_COLUMNS, rows)
                    rows = []
            insert_rows(conn, table_of(Message), MESSAGE_COLUMNS, rows)
            insert_rows(conn, table_of(TrafficStats), (*TRAFFIC_KEY, *TRAFFIC_COUNTERS, "cost"), [
                (workspace.id, values.moment(hour), connector_of[number_id] or 0, number_id or 0,
                 purpose, campaign_id,
                 *(int(deltas.get(name, 0)) for name in TRAFFIC_COUNTERS), deltas.get("cost", 0))
                for hour, deltas in counters.items()
            ])  # fmt: skip
            insert_rows(conn, table_of(CampaignStats), ("campaign_id", "hour", *FIELDS), [
                (campaign_id, values.moment(hour),
                 *(deltas.get(name, 0) if name == "cost" else int(deltas.get(name, 0))
                   for name in FIELDS))
                for hour, deltas in counters.items()
            ])  # fmt: skip
        conn.execute(
            update(campaigns).values(
                status="completed", launched_at=NOW, finished_at=NOW, sending_finished_at=NOW
            )
        )
    return campaign_ids


def build(engine: Engine, n: int) -> Shop:
    workspace = create_workspace(engine, "Bench", "PL", "Europe/Warsaw", actor="bench", now=NOW)
    with engine.begin() as conn:
        user_id = conn.execute(insert(table_of(User)).values(
            email=EMAIL, name="", password_hash=PasswordHasher().hash(PASSWORD), is_active=True,
            created_at=NOW).returning(table_of(User).c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(memberships).values(user_id=user_id, workspace_id=workspace.id,
                                                role="marketer"))  # fmt: skip
    campaign_ids = fill(engine, workspace, n, random.Random(7))
    return Shop(workspace, int(user_id), campaign_ids)


def signed_in(settings: Settings, engine: Engine) -> TestClient:
    """A browser on the real site, signed in through the form (its clock fixed at NOW)."""
    client = TestClient(create_site(settings, engine, clock=lambda: NOW))
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get("/login").text)
    assert token, "the sign-in page carries no CSRF token"
    answer = client.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text  # fmt: skip
    return client


def pages(engine: Engine, client: TestClient, shop: Shop) -> dict[str, Callable[[], Any]]:
    """What a browser asks for per view (and the stream's poll)."""
    since, until = NOW - timedelta(days=30), NOW
    turn = iter(range(10**9))

    def dashboard() -> Any:
        answer = client.get("/dashboard?range=30d")
        assert answer.status_code == 200, answer.status_code
        return answer

    def report_page() -> Any:
        campaign_id = shop.campaign_ids[next(turn) % len(shop.campaign_ids)]
        answer = client.get(f"/campaigns/{campaign_id}")
        assert answer.status_code == 200, answer.status_code
        return answer

    def report_use_case() -> Any:
        campaign_id = shop.campaign_ids[next(turn) % len(shop.campaign_ids)]
        return campaign_report(engine, shop.workspace.id, campaign_id, now=NOW)

    def sse() -> Any:
        return live_snapshot(engine, shop.workspace.id, since, until)

    has_page = client.get(f"/campaigns/{shop.campaign_ids[0]}").status_code == 200
    if not has_page:
        print("report: no /campaigns/{id} page in this tree; timing campaign_report instead")
    return {"dashboard": dashboard, "report": report_page if has_page else report_use_case,
            "sse": sse}  # fmt: skip


def timings(call: Callable[[], Any], repeat: int) -> list[float]:
    call()  # the first view warms SQLite's page cache, as a running server's would be
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="messages in the workspace")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        engine = create_db_engine(url)
        started = time.perf_counter()
        shop = build(engine, args.n)
        with engine.connect() as conn:
            written = conn.execute(select(func.count()).select_from(table_of(Message))).scalar()
            buckets = conn.execute(
                select(func.count()).select_from(table_of(CampaignStats))).scalar()  # fmt: skip
        print(f"built {written} messages, {buckets} hourly counter rows in "
              f"{time.perf_counter() - started:.1f}s")  # fmt: skip
        assert written == args.n, written
        settings = Settings.model_validate({
            "database_url": url, "data_dir": Path(folder) / "var",
            "secret_key": "bench-secret", "webhook_worker": False,
        })  # fmt: skip
        with signed_in(settings, engine) as client:
            views = pages(engine, client, shop)
            sample = views["dashboard"]().text
            sent = re.search(r'data-testid="kpi-sent".*?data-kpi-value>([^<]*)<', sample, re.S)
            delivered = re.search(r'data-testid="kpi-delivered".*?data-kpi-value>([^<]*)<',
                                  sample, re.S)  # fmt: skip
            assert sent and delivered, "the dashboard shows no sent or delivered tile"
            print(f"dashboard page: {len(sample)} bytes, sent {sent.group(1)}, "
                  f"delivered {delivered.group(1)}")  # fmt: skip
            results = {name: timings(call, args.repeat) for name, call in views.items()}
        engine.dispose()
    for name, spent in results.items():
        print(f"{name}: median {statistics.median(spent):.2f} ms, p95 {p95(spent):.2f} ms, "
              f"max {max(spent):.2f} ms over {len(spent)} calls")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f}")
    print("RESULT " + " ".join(
        [f"{name}_p95_ms={p95(results[name]):.1f}" for name in ("dashboard", "report", "sse")]
        + [f"{name}_median_ms={statistics.median(results[name]):.1f}"
           for name in ("dashboard", "report", "sse")]
    ))  # fmt: skip


if __name__ == "__main__":
    main()
