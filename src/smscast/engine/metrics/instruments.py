"""What a process counts as it works: submits, windows, delivery-report latency,
reports, routing decisions, transactions and statements.

These are the process's own counters, updated by the code that does the work, once per
batch where the work comes in batches: the dispatcher counts a slice's submit answers
in one pass, the event pump a batch of reports, so the per-message cost is a dict
update, not a metric call (a Histogram.observe costs ~2 µs; at 10,000 messages a
second that would be 2% of a core for one histogram).

They are module-level objects, like every Prometheus client's: a counter is the
process's, and with `PROMETHEUS_MULTIPROC_DIR` set prometheus-client keeps their
values in files of that folder (chosen when this module is imported), which is how
one scrape sums several processes. They are registered in no registry here;
`registry.metrics_registry` builds the one a scrape reads.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.registry import Collector

from smscast.channels.base import SubmitResult

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0)
"""Delivery reports come in a second on a good route, in minutes when a handset is off."""
QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
TRANSACTION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

SUBMITS = Counter(
    "smscast_submits",
    "Messages submitted to a carrier, by connector and the carrier's answer "
    "(accepted, temporary, permanent, unknown)",
    ["connector_id", "connector", "outcome"],
    registry=None,
)
WINDOW_IN_USE = Gauge(
    "smscast_window_in_use",
    "Messages handed to the connector and not yet answered (its window in use)",
    ["connector_id", "connector"],
    registry=None,
    multiprocess_mode="livesum",
)
WINDOW_SIZE = Gauge(
    "smscast_window_size",
    "Most messages the dispatcher keeps unanswered on the connector at once",
    ["connector_id", "connector"],
    registry=None,
    multiprocess_mode="livemax",
)
DLR_LATENCY = Histogram(
    "smscast_delivery_report_latency_seconds",
    "From a message's submit answer to its first final delivery report, as seen by the "
    "worker that submitted it",
    ["connector_id", "connector"],
    buckets=LATENCY_BUCKETS,
    registry=None,
)
REPORTS = Counter(
    "smscast_delivery_reports_received",
    "Delivery reports written, by connector and state (delivered, undelivered, expired …)",
    ["connector_id", "connector", "state"],
    registry=None,
)
ROUTER_DECISIONS = Counter(
    "smscast_router_decisions",
    "Inbound texts routed, by the router's decision (keyword, number, campaign reply, "
    "ticket, opt-out …)",
    ["route"],
    registry=None,
)
TRANSACTIONS = Histogram(
    "smscast_db_transaction_seconds",
    "Time of one batch's transaction, by the work it does (dispatch: record answers and "
    "claim; reports; inbound): the hot paths pass their rows to the driver directly, "
    "past smscast_db_query_seconds",
    ["work"],
    buckets=TRANSACTION_BUCKETS,
    registry=None,
)
QUERIES = Histogram(
    "smscast_db_query_seconds",
    "Time of one SQL statement run through SQLAlchemy, by its kind "
    "(SELECT, INSERT, UPDATE, DELETE, OTHER)",
    ["kind"],
    buckets=QUERY_BUCKETS,
    registry=None,
)

INSTRUMENTS: tuple[Collector, ...] = (
    SUBMITS,
    WINDOW_IN_USE,
    WINDOW_SIZE,
    DLR_LATENCY,
    REPORTS,
    ROUTER_DECISIONS,
    TRANSACTIONS,
    QUERIES,
)
"""Every instrument, for the registry of a process that serves its own."""

_QUERY_KINDS = {kind: QUERIES.labels(kind) for kind in ("SELECT", "INSERT", "UPDATE", "DELETE",
                                                         "OTHER")}  # fmt: skip


def observe_query(kind: str, seconds: float) -> None:
    """`store.db.time_queries`' callback: one statement's time by its kind."""
    child = _QUERY_KINDS.get(kind) or QUERIES.labels(kind)
    child.observe(seconds)


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """Observes every value of `values` on `histogram` (a labelled child), each bucket
    and the sum moved once for the lot instead of twice per value."""
    if not values:
        return
    bounds: Sequence[float] | None = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None:  # another prometheus-client
        for value in values:
            histogram.observe(value)
        return
    counts = Tally(bisect.bisect_left(bounds, value) for value in values)
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(sum(values))


class Connector:
    """One connector's instruments, labelled once (a `labels` call costs a dict lookup
    under a lock: done here, not per batch)."""

    def __init__(self, connector_id: int, name: str) -> None:
        labels = (str(connector_id), name)
        self.window_in_use = WINDOW_IN_USE.labels(*labels)
        self.window_size = WINDOW_SIZE.labels(*labels)
        self.dlr_latency = DLR_LATENCY.labels(*labels)
        self._labels = labels
        self._submits = {outcome: SUBMITS.labels(*labels, outcome) for outcome in
                         ("accepted", "temporary", "permanent", "unknown")}  # fmt: skip
        self._reports: dict[str, Counter] = {}

    def count_submits(self, results: Iterable[SubmitResult]) -> None:
        """One slice's submit answers: one counter move per outcome."""
        for outcome, count in Tally(result.outcome.value for result in results).items():
            child = self._submits.get(outcome) or SUBMITS.labels(*self._labels, outcome)
            child.inc(count)

    def count_reports(self, states: Iterable[str]) -> None:
        """One batch of delivery reports: one counter move per state."""
        for state, count in Tally(states).items():
            child = self._reports.get(state)
            if child is None:
                child = self._reports[state] = REPORTS.labels(*self._labels, state)
            child.inc(count)


def count_decisions(routes: Iterable[str]) -> None:
    """One batch of inbound texts: one counter move per routing decision."""
    for route, count in Tally(routes).items():
        ROUTER_DECISIONS.labels(route).inc(count)


class SubmitTimes:
    """When each message of one connector got its submit answer, until its report.

    Shared by the connector's dispatcher (which notes a slice's answers at one moment)
    and its event pump (which takes the moments back as final reports come), so the
    delivery-report latency costs a dict entry per message, and no query. Bounded:
    past `limit` entries the oldest are forgotten (their reports may never come).
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self._at: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._at)

    def note(self, refs: Iterable[int], at: float) -> None:
        """`refs` were accepted at `at` (seconds since the epoch)."""
        self._at.update(dict.fromkeys(refs, at))
        over = len(self._at) - self.limit
        if over > 0:
            for ref in list(itertools.islice(self._at, over + self.limit // 10)):
                del self._at[ref]

    def take(self, refs: Iterable[int | None], at: float) -> list[float]:
        """The seconds from each ref's submit answer to `at`; refs never noted (another
        worker's, or forgotten) are skipped, and each ref answers once."""
        pop = self._at.pop
        latencies = []
        for ref in refs:
            if ref is not None:
                began = pop(ref, None)
                if began is not None:
                    latencies.append(max(0.0, at - began))
        return latencies


DISPATCH_TRANSACTION = TRANSACTIONS.labels("dispatch")
REPORTS_TRANSACTION = TRANSACTIONS.labels("reports")
INBOUND_TRANSACTION = TRANSACTIONS.labels("inbound")
