"""The registry a /metrics scrape reads: the database's figures and the processes' own.

Without `PROMETHEUS_MULTIPROC_DIR` a scrape shows this process's instruments. With it
(a folder, empty when the processes start, that every smscast process of the machine
is started with), prometheus-client keeps each process's values in files there and a
scrape of any of them sums every process's (`MultiProcessCollector`): one `smscast
serve` behind several server processes, or workers beside the server, scraped once.
A process that ends is marked dead (`forget_process`), so its live gauges (window in
use) leave the sum.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine

from smscast.engine.metrics.collector import DatabaseCollector, utc_now
from smscast.engine.metrics.instruments import INSTRUMENTS, observe_query
from smscast.store.db import time_queries

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> str | None:
    """The shared folder of multiprocess mode, or None in single-process mode."""
    return os.environ.get(MULTIPROC_ENV) or None


def metrics_registry(
    engine: Engine | None, clock: Callable[[], datetime] = utc_now
) -> CollectorRegistry:
    """A registry with the database's figures (read from `engine` at each scrape; none
    without an engine) and the instruments: this process's, or in multiprocess mode
    every process's that shares the folder."""
    registry = CollectorRegistry(auto_describe=False)
    if (folder := multiprocess_dir()) is not None:
        from prometheus_client import multiprocess

        if not os.path.isdir(folder):
            raise ValueError(f"{MULTIPROC_ENV}={folder!r}: no such folder")
        multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        for instrument in INSTRUMENTS:
            registry.register(instrument)
    if engine is not None:
        registry.register(DatabaseCollector(engine, clock))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format of everything `registry` collects now."""
    return generate_latest(registry)


def time_statements(engine: Engine) -> None:
    """Counts every statement `engine` runs in smscast_db_query_seconds."""
    time_queries(engine, observe_query)


def forget_process(pid: int | None = None) -> None:
    """In multiprocess mode, drops an ended process's live gauges from the sum."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(  # type: ignore[no-untyped-call]
            pid if pid is not None else os.getpid()
        )
