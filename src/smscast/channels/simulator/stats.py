"""The simulator's counters, apart from its state so that sessions can count without
knowing the simulator that holds them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Stats:
    """Counters of what the simulator did, for tests, benchmarks and `GET /stats`."""

    connections: int = 0
    binds: int = 0
    bind_failures: int = 0
    submits: int = 0  # accepted submit_sm, data_sm and submit_multi
    throttled: int = 0
    reports_sent: int = 0
    mo_parts_sent: int = 0
    deliver_acked: int = 0
    deliver_refused: int = 0
    bad_pdus: int = 0
    generic_nacks_sent: int = 0
    drops: int = 0
    garbage_sent: int = 0
    held: int = 0  # reports and MO parts waiting for a receiver to bind
    held_dropped: int = 0
