"""Prometheus metrics: the database's figures as they are in the database, the worker's
own counters as it sends through the simulator, and several processes summed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

from outbound_helpers import RunningClock, add_sim_connector, count_by_status, queue_texts, wait_for
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, insert, select, text, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.metrics.collector import DatabaseCollector
from smscast.engine.metrics.instruments import SubmitTimes, observe_many
from smscast.engine.metrics.registry import metrics_registry, render
from smscast.engine.runtime import Runtime
from smscast.store.api_models import WebhookDelivery, WebhookEndpoint
from smscast.store.campaign_models import CampaignLaunch
from smscast.store.db import time_queries
from smscast.store.dispatch_models import ConnectorStateRow
from smscast.store.messaging_models import Campaign, Connector, Message, Number
from smscast.store.models import ImportJob, table_of
from smscast.store.traffic_models import TrafficStats

ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(exposition: bytes) -> Samples:
    """Every sample of a scrape, by name and labels, read with prometheus-client's parser."""
    found: Samples = {}
    for family in text_string_to_metric_families(exposition.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def scrape_database(engine: Engine, at: datetime) -> Samples:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(engine, lambda: at))
    return samples_of(render(registry))


def test_the_database_figures_are_what_the_database_holds(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = add_sim_connector(engine, workspace, 2775, now, name="sim", window=7, rate=50)
    idle = add_sim_connector(engine, workspace, 2776, now, name="idle")
    queue_texts(
        engine,
        workspace,
        ["+48600100200", "+48600100201", "+48600100202"],
        now,
        connector_id=sim.id,
    )
    later = queue_texts(
        engine, workspace, ["+48600100203", "+48600100204"], now, connector_id=sim.id
    )
    messages, connectors = table_of(Message), table_of(Connector)
    at = now + timedelta(seconds=90)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id.in_(later)).values(status="sent"))
        conn.execute(
            update(connectors)
            .where(connectors.c.id == sim.id)
            .values(lease_owner="w1", lease_until=at + timedelta(seconds=10))
        )
        conn.execute(
            insert(table_of(ConnectorStateRow)).values(
                connector_id=sim.id,
                worker="w1",
                connected=True,
                detail="",
                in_flight=4,
                sent_per_s=12.5,
                last_errors=[],
                updated_at=at,
            )
        )
        number_id = conn.execute(
            select(table_of(Number).c.id).where(table_of(Number).c.connector_id == sim.id)
        ).scalar_one()
        conn.execute(
            insert(table_of(TrafficStats)),
            [
                {
                    "workspace_id": workspace.id,
                    "hour": now.replace(minute=0),
                    "connector_id": sim.id,
                    "number_id": number_id,
                    "purpose": "informational",
                    "campaign_id": 0,
                    "sent": 10,
                    "delivered": 8,
                    "inbound": 4,
                },
                {
                    "workspace_id": workspace.id,
                    "hour": now.replace(minute=0) - timedelta(hours=1),
                    "connector_id": sim.id,
                    "number_id": number_id,
                    "purpose": "informational",
                    "campaign_id": 0,
                    "sent": 5,
                    "delivered": 5,
                    "inbound": 1,
                },
            ],
        )
        endpoint_id = conn.execute(
            insert(table_of(WebhookEndpoint))
            .values(
                workspace_id=workspace.id,
                url="https://example.com/hook",
                events=["message.status"],
                secret="s",
                created_at=now,
            )
            .returning(table_of(WebhookEndpoint).c.id)
        ).scalar_one()
        conn.execute(
            insert(table_of(WebhookDelivery)),
            [
                {
                    "workspace_id": workspace.id,
                    "endpoint_id": endpoint_id,
                    "event": "message.status",
                    "payload": {},
                    "status": status,
                    "next_attempt_at": due,
                    "created_at": now,
                }
                for status, due in (
                    ("pending", now - timedelta(seconds=30)),
                    ("pending", now + timedelta(hours=1)),
                    ("failed", None),
                    ("delivered", None),
                )
            ],
        )
        conn.execute(
            insert(table_of(ImportJob)),
            [
                {
                    "workspace_id": workspace.id,
                    "filename": "a.csv",
                    "status": "running",
                    "started_at": now,
                    "rows_read": 500,
                    "created": 480,
                    "rejected": 20,
                },
                {
                    "workspace_id": workspace.id,
                    "filename": "b.csv",
                    "status": "finished",
                    "started_at": now,
                    "rows_read": 9,
                    "created": 9,
                    "rejected": 0,
                },
            ],
        )
        campaign_id = conn.execute(
            insert(table_of(Campaign))
            .values(
                workspace_id=workspace.id,
                name="Sale",
                status="running",
                created_at=now,
            )
            .returning(table_of(Campaign).c.id)
        ).scalar_one()
        conn.execute(
            insert(table_of(CampaignLaunch)),
            [
                {
                    "campaign_id": campaign_id,
                    "run": 0,
                    "stage": "all",
                    "last_contact_id": 1234,
                    "done": False,
                    "started_at": now,
                    "updated_at": now + timedelta(seconds=60),
                },
                {
                    "campaign_id": campaign_id,
                    "run": 1,
                    "stage": "all",
                    "last_contact_id": 99,
                    "done": True,
                    "started_at": now,
                    "updated_at": now,
                },
            ],
        )

    got = scrape_database(engine, at)

    assert value(got, "smscast_database_up") == 1
    ids = {"sim": str(sim.id), "idle": str(idle.id)}
    assert value(got, "smscast_outbox_depth", connector_id=ids["sim"], connector="sim") == 3
    assert value(got, "smscast_outbox_depth", connector_id=ids["idle"], connector="idle") == 0
    oldest = "smscast_outbox_oldest_due_age_seconds"
    assert value(got, oldest, connector_id=ids["sim"], connector="sim") == 90
    assert value(got, oldest, connector_id=ids["idle"], connector="idle") == 0
    assert value(got, "smscast_messages_open", channel="sms", status="queued") == 3
    assert value(got, "smscast_messages_awaiting_report") == 2
    assert value(got, "smscast_messages_total", channel="sms", status="sent") == 15
    assert value(got, "smscast_messages_total", channel="sms", status="delivered") == 13
    number = f"40{sim.id:02d}"
    assert (
        value(got, "smscast_inbound_messages_total", number_id=str(number_id), number=number) == 5
    )
    sim_kind = {"connector_id": ids["sim"], "connector": "sim", "kind": "smpp"}
    idle_kind = {"connector_id": ids["idle"], "connector": "idle", "kind": "smpp"}
    assert value(got, "smscast_connector_up", **sim_kind) == 1
    assert value(got, "smscast_connector_held", **sim_kind) == 1
    assert value(got, "smscast_connector_in_flight", **sim_kind) == 4
    assert value(got, "smscast_connector_window", **sim_kind) == 7
    assert value(got, "smscast_connector_up", **idle_kind) == 0
    assert value(got, "smscast_connector_held", **idle_kind) == 0
    assert value(got, "smscast_webhook_deliveries", status="pending") == 2
    assert value(got, "smscast_webhook_deliveries", status="failed") == 1
    assert value(got, "smscast_webhook_backlog_oldest_age_seconds") == 120
    assert value(got, "smscast_imports_running") == 1
    job = [labels for name, labels in got if name == "smscast_import_rows"]
    assert {
        dict(labels)["outcome"]: value(got, "smscast_import_rows", **dict(labels)) for labels in job
    } == {"read": 500, "created": 480, "updated": 0, "unchanged": 0, "rejected": 20}
    launch = {"campaign_id": str(campaign_id), "run": "0", "stage": "all"}
    assert value(got, "smscast_launches_running") == 1
    assert value(got, "smscast_launch_last_contact_id", **launch) == 1234
    assert value(got, "smscast_launch_idle_seconds", **launch) == 30


def test_a_database_that_cannot_be_read_is_reported_not_raised(
    tmp_path: Path, now: datetime
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'no such folder' / 'smscast.db'}")
    got = scrape_database(engine, now)
    assert value(got, "smscast_database_up") == 0
    assert not [name for name, _ in got if name.startswith("smscast_outbox")]


async def test_the_worker_counts_submits_reports_and_routing_as_it_sends(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    config = SimulatorConfig(
        port=0,
        http_port=None,
        dlr_delay=0.3,
        delivered=1.0,
        undeliverable=0.0,
        expired=0.0,
        rejected=0.0,
        seed=7,
    )
    sim = await start_simulator(config)
    row = add_sim_connector(engine, workspace, sim.port, now, window=20)
    labels = {"connector_id": str(row.id), "connector": row.name}
    registry = metrics_registry(None)  # the process's own instruments only

    def read(name: str, **more: str) -> float:
        return samples_of(render(registry)).get((name, frozenset({**labels, **more}.items())), 0)

    def decisions() -> float:
        return sum(
            v
            for (name, _), v in samples_of(render(registry)).items()
            if name == "smscast_router_decisions_total"
        )

    submits = read("smscast_submits_total", outcome="accepted")
    latencies = read("smscast_delivery_report_latency_seconds_count")
    delivered = read("smscast_delivery_reports_received_total", state="delivered")
    routed = decisions()
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(30)], now)
    runtime = Runtime(engine, settings, worker="w1", clock=RunningClock(now))
    running = asyncio.create_task(runtime.run())
    try:
        await wait_for(lambda: count_by_status(engine) == {"delivered": 30})

        def all_timed() -> bool:
            """each delivery report's latency observed"""
            return read("smscast_delivery_report_latency_seconds_count") - latencies == 30

        await wait_for(all_timed)
        await sim.send_mo("+48600100200", f"40{row.id:02d}", "Is the shop open on Sunday?")

        def routed_once() -> bool:
            """the inbound text's routing decision counted"""
            return decisions() - routed == 1

        await wait_for(routed_once)
        in_use = read("smscast_window_in_use")
        window = read("smscast_window_size")
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert read("smscast_submits_total", outcome="accepted") - submits == 30
    assert read("smscast_delivery_reports_received_total", state="delivered") - delivered == 30
    # Every latency is at most the whole run's; the sum counts real seconds, so no more.
    assert read("smscast_delivery_report_latency_seconds_bucket", le="+Inf") >= 30
    assert (in_use, window) == (0, 20)


def test_statements_are_timed_by_their_first_word(engine: Engine) -> None:
    seen: list[str] = []
    time_queries(engine, lambda kind, seconds: seen.append(kind) if seconds >= 0 else None)
    with engine.begin() as conn:
        conn.execute(text("  SELECT 1"))
        conn.execute(text("CREATE TEMPORARY TABLE scratch (n INTEGER)"))
        conn.execute(text("INSERT INTO scratch VALUES (1), (2)"))
        conn.execute(text("\nupdate scratch SET n = 3"))
        conn.execute(text("DELETE FROM scratch"))
    assert [kind for kind in seen if kind != "OTHER"] == ["SELECT", "INSERT", "UPDATE", "DELETE"]
    assert "OTHER" in seen  # the CREATE


def test_observing_a_batch_at_once_counts_what_observing_each_does() -> None:
    values = [0.0, 0.05, 0.1, 0.25, 0.3, 2.0, 2.5, 7.0, 400.0, 10_000.0, 1.0, 1.0]
    registry = CollectorRegistry()
    one = Histogram("one_by_one", "h", buckets=(0.1, 0.25, 1.0, 2.5, 60.0), registry=registry)
    batch = Histogram("batch", "h", buckets=(0.1, 0.25, 1.0, 2.5, 60.0), registry=registry)
    for v in values:
        one.observe(v)
    observe_many(batch, values)
    got = samples_of(render(registry))
    for (name, labels), v in got.items():
        if name.startswith("one_by_one") and not name.endswith("_created"):
            assert got[(name.replace("one_by_one", "batch"), labels)] == v, name


def test_submit_times_answer_once_and_forget_the_oldest_past_their_limit() -> None:
    times = SubmitTimes(limit=10)
    times.note(range(1, 13), 100.0)
    assert len(times) <= 10
    assert times.take([1, 2], 105.0) == []  # the oldest were forgotten
    assert times.take([12, 12, None, 99], 104.0) == [4.0]
    times.note([50], 200.0)
    assert times.take([50], 199.0) == [0.0]  # a report a clock put earlier is no latency


def test_several_processes_are_summed_with_a_multiprocess_directory(tmp_path: Path) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    count = textwrap.dedent("""
        import sys
        from smscast.engine.metrics import instruments, registry
        instruments.SUBMITS.labels("1", "sim", "accepted").inc(5)
        instruments.WINDOW_IN_USE.labels("1", "sim").set(3)
        if sys.argv[1] == "ended":
            registry.forget_process()
    """)
    for state in ("ended", "running"):
        subprocess.run([sys.executable, "-c", count, state], env=env, check=True, timeout=60)
    show = textwrap.dedent("""
        import sys
        from smscast.engine.metrics.registry import metrics_registry, render
        sys.stdout.write(render(metrics_registry(None)).decode())
    """)
    shown = subprocess.run(
        [sys.executable, "-c", show], env=env, check=True, timeout=60, capture_output=True
    )
    got = samples_of(shown.stdout)
    sim = {"connector_id": "1", "connector": "sim"}
    assert value(got, "smscast_submits_total", outcome="accepted", **sim) == 10
    # The window in use is the live processes' sum: the one marked ended left it.
    assert value(got, "smscast_window_in_use", **sim) == 3


def test_the_grafana_dashboard_is_valid_json_over_metrics_that_exist(engine: Engine) -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "smscast.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for expr in exprs for name in re.findall(r"\bsmscast_[a-z_]+", expr)}
    exposed = set()
    for family in text_string_to_metric_families(render(metrics_registry(engine)).decode()):
        exposed |= {family.name + end for end in ("", "_total", "_bucket", "_count", "_sum")}
    assert named and named <= exposed, sorted(named - exposed)
    titles = " ".join(panel["title"] for panel in dashboard["panels"]).lower()
    for subject in ("throughput", "outbox depth", "latency", "inbound", "webhooks", "database"):
        assert subject in titles
