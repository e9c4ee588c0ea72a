"""The database-derived metrics, read at scrape time (`figures.read_figures`).

The same figures come from every process that serves /metrics (they are the
database's, not the process's): a dashboard takes `max` over the instances. When the
database cannot be read, the scrape still answers, with `smscast_database_up 0`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from smscast.engine.metrics.figures import OUTCOMES, Figures, read_figures

log = logging.getLogger("smscast.metrics")
CONNECTOR = ["connector_id", "connector"]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DatabaseCollector(Collector):
    """Yields the database-derived metrics of one engine at each scrape."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # nothing read at registration: the database is read at scrape time

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "smscast_database_up", "1 when the database answered this scrape's queries"
        )
        try:
            figures = read_figures(self.engine, self.clock())
        except Exception:  # the database away: say so, and keep the process's own metrics
            log.exception("metrics: reading the database failed")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from outbox_metrics(figures)
        yield from connector_metrics(figures)
        yield from traffic_metrics(figures)
        yield from webhook_metrics(figures)
        yield from progress_metrics(figures)


def outbox_metrics(figures: Figures) -> Iterator[Metric]:
    depth = GaugeMetricFamily(
        "smscast_outbox_depth", "Messages queued for the connector (due or not)", labels=CONNECTOR
    )
    oldest = GaugeMetricFamily(
        "smscast_outbox_oldest_due_age_seconds",
        "How long the connector's oldest due queued message has been due (0: none due)",
        labels=CONNECTOR,
    )
    open_ = GaugeMetricFamily(
        "smscast_messages_open",
        "Outgoing messages in the outbox, by channel (of their connector; none: not yet "
        "routed) and status (queued, sending, unknown)",
        labels=["channel", "status"],
    )
    by_channel: dict[tuple[str, str], int] = {}
    for connector in figures.connectors:
        labels = [str(connector.id), connector.name]
        depth.add_metric(labels, connector.open["queued"])
        oldest.add_metric(labels, connector.oldest_due_s)
        for status, count in connector.open.items():
            key = (connector.channel, status)
            by_channel[key] = by_channel.get(key, 0) + count
    by_channel[("none", "queued")] = figures.unrouted
    for (channel, status), count in sorted(by_channel.items()):
        open_.add_metric([channel, status], count)
    awaiting = GaugeMetricFamily(
        "smscast_messages_awaiting_report", "Messages sent whose final delivery report is due"
    )
    awaiting.add_metric([], figures.awaiting_reports)
    unrouted = GaugeMetricFamily(
        "smscast_outbox_unrouted", "Messages queued that have no connector yet"
    )
    unrouted.add_metric([], figures.unrouted)
    return iter((depth, oldest, open_, awaiting, unrouted))


def connector_metrics(figures: Figures) -> Iterator[Metric]:
    labels = [*CONNECTOR, "kind"]
    families = {
        "up": GaugeMetricFamily(
            "smscast_connector_up",
            "1 when a worker holds the connector and its connection is up",
            labels=labels,
        ),
        "enabled": GaugeMetricFamily(
            "smscast_connector_enabled", "1 when the connector may send", labels=labels
        ),
        "held": GaugeMetricFamily(
            "smscast_connector_held", "1 when a worker's lease on the connector runs", labels=labels
        ),
        "in_flight": GaugeMetricFamily(
            "smscast_connector_in_flight",
            "Submits awaiting an answer, as the connector's worker last reported",
            labels=labels,
        ),
        "sent_per_s": GaugeMetricFamily(
            "smscast_connector_sent_parts_per_second",
            "Parts a second sent through the connector, as its worker last reported",
            labels=labels,
        ),
        "window": GaugeMetricFamily(
            "smscast_connector_window", "The connector's configured window", labels=labels
        ),
        "rate": GaugeMetricFamily(
            "smscast_connector_rate_limit",
            "The connector's configured parts a second at most (0: no limit)",
            labels=labels,
        ),
    }
    for c in figures.connectors:
        values = [str(c.id), c.name, c.kind]
        families["up"].add_metric(values, int(c.connected))
        families["enabled"].add_metric(values, int(c.enabled))
        families["held"].add_metric(values, int(c.held))
        families["in_flight"].add_metric(values, c.in_flight if c.held else 0)
        families["sent_per_s"].add_metric(values, c.sent_per_s if c.held else 0.0)
        families["window"].add_metric(values, c.window)
        families["rate"].add_metric(values, c.rate_per_s)
    return iter(families.values())


def traffic_metrics(figures: Figures) -> Iterator[Metric]:
    names = {c.id: c for c in figures.connectors}
    outcomes = CounterMetricFamily(
        "smscast_messages",
        "Outgoing messages by channel and what became of them (sent, delivered, "
        "undelivered, failed, expired), from the hourly traffic counters",
        labels=["channel", "status"],
    )
    inbound = CounterMetricFamily(
        "smscast_inbound_messages",
        "Inbound texts by the number they arrived on, from the hourly traffic counters",
        labels=["number_id", "number"],
    )
    by_channel: dict[tuple[str, str], int] = {}
    by_number: dict[int, int] = {}
    for row in figures.traffic:
        connector = names.get(row.connector_id)
        channel = connector.channel if connector is not None else "unknown"
        for status in OUTCOMES:
            key = (channel, status)
            by_channel[key] = by_channel.get(key, 0) + row.outcomes[status]
        if row.inbound:
            by_number[row.number_id] = by_number.get(row.number_id, 0) + row.inbound
    for (channel, status), count in sorted(by_channel.items()):
        outcomes.add_metric([channel, status], count)
    for number_id, count in sorted(by_number.items()):
        number = figures.numbers.get(number_id, "none" if not number_id else f"#{number_id}")
        inbound.add_metric([str(number_id), number], count)
    return iter((outcomes, inbound))


def webhook_metrics(figures: Figures) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily(
        "smscast_webhook_deliveries",
        "Outgoing webhook deliveries waiting (pending: the backlog) or given up on (failed)",
        labels=["status"],
    )
    for status, count in sorted(figures.webhooks.items()):
        deliveries.add_metric([status], count)
    oldest = GaugeMetricFamily(
        "smscast_webhook_backlog_oldest_age_seconds",
        "How long the oldest pending webhook delivery has been due (0: none due)",
    )
    oldest.add_metric([], figures.oldest_webhook_s)
    return iter((deliveries, oldest))


def progress_metrics(figures: Figures) -> Iterator[Metric]:
    imports = GaugeMetricFamily(
        "smscast_import_rows",
        "Rows of each running contact import, by what became of them (read, created, "
        "updated, unchanged, rejected)",
        labels=["import_id", "workspace_id", "outcome"],
    )
    for job in figures.imports:
        ids = [str(job.id), str(job.workspace_id)]
        for outcome, value in (("read", job.rows_read), ("created", job.created),
                               ("updated", job.updated), ("unchanged", job.unchanged),
                               ("rejected", job.rejected)):  # fmt: skip
            imports.add_metric([*ids, outcome], value)
    running = GaugeMetricFamily("smscast_imports_running", "Contact imports running")
    running.add_metric([], len(figures.imports))
    launch_labels = ["campaign_id", "run", "stage"]
    last_contact = GaugeMetricFamily(
        "smscast_launch_last_contact_id",
        "The last contact id a running launch has written messages for (it goes by id)",
        labels=launch_labels,
    )
    idle = GaugeMetricFamily(
        "smscast_launch_idle_seconds",
        "Since a running launch last moved on (a launch left alone for long was interrupted "
        "and waits to be resumed)",
        labels=launch_labels,
    )
    for launch in figures.launches:
        values = [str(launch.campaign_id), str(launch.run), launch.stage]
        last_contact.add_metric(values, launch.last_contact_id)
        idle.add_metric(values, launch.idle_s)
    launches = GaugeMetricFamily("smscast_launches_running", "Campaign launches not yet done")
    launches.add_metric([], len(figures.launches))
    return iter((imports, running, last_contact, idle, launches))
