"""Every setting of the built-in SMSC simulator, in one dataclass.

The defaults make a well-behaved SMSC on a laptop: binds with system_id
`smscast` and any password are accepted, every submit_sm is answered at once
and a delivery report follows a second later, nine in ten of them DELIVRD.

The fault settings (throttling, slow responses, dropped connections, garbage)
are read live from the running simulator's `config`, so a test can turn a fault
on in the middle of a session.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Literal

IdFormat = Literal["hex", "dec"]
GarbageKind = Literal["unknown_command", "bad_length", "random"]


@dataclass(slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 2775  # 0: any free port (see RunningSimulator.port)
    http_port: int | None = 2776  # MO injection and stats; None: no HTTP endpoint
    # Binds: an empty system_id or password accepts any.
    system_id: str = "smscast"
    password: str = ""
    smsc_system_id: str = "SMSCAST-SIM"  # what the bind responses call us
    # Message ids: the form of submit_sm_resp ids, and of the ids in delivery
    # reports ("same", or another form, as carriers that mix them do).
    message_ids: IdFormat = "hex"
    dlr_ids: IdFormat | Literal["same"] = "same"
    # Delivery reports: after `dlr_delay` seconds, an outcome drawn with these weights.
    dlr_delay: float = 1.0
    delivered: float = 0.9
    undeliverable: float = 0.05
    expired: float = 0.03
    rejected: float = 0.02
    seed: int | None = None  # fixes the outcome draws (and fault fractions) for tests
    # Inbound (MO): how long messages are split.
    mo_concat: Literal["udh", "sar"] = "udh"
    mo_reference_bits: int = 8
    # Faults
    refuse_binds: bool = False  # answer every bind with ESME_RBINDFAIL
    throttle_fraction: float = 0.0  # this share of submits gets ESME_RTHROTTLED
    throttle_every: int = 0  # with throttle_burst: of every N submits ...
    throttle_burst: int = 0  # ... the last M get ESME_RTHROTTLED
    max_submit_per_s: float = 0.0  # per session; above it ESME_RTHROTTLED (0: no limit)
    response_delay: float = 0.0  # seconds before every response (a slow SMSC)
    drop_after: int = 0  # close the connection on the Nth PDU after the bind, unanswered
    garbage_after: int = 0  # write a garbage PDU after every N PDUs received
    garbage_kind: GarbageKind = "unknown_command"
    # Limits
    max_pdu_length: int = 64 * 1024
    keep_messages: int = 100_000  # submitted messages remembered for query_sm/cancel_sm
    keep_pending: int = 100_000  # reports/MOs held while no receiver is bound

    def outcome_weights(self) -> tuple[float, float, float, float]:
        """DELIVRD, UNDELIV, EXPIRED, REJECTD weights; refuses a set that sums to nothing."""
        weights = (self.delivered, self.undeliverable, self.expired, self.rejected)
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                "simulator outcome rates (--delivered, --undeliverable, --expired, "
                f"--rejected) must be non-negative and not all zero, got {weights}"
            )
        return weights

    def update(self, values: dict[str, Any]) -> None:
        """Changes settings by name (the HTTP /faults endpoint); refuses unknown names
        and values of the wrong type, naming them, before changing anything."""
        known = {f.name: f for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"unknown simulator setting {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool) != isinstance(value, bool) or (
                current is not None
                and not isinstance(value, type(current))
                and not (isinstance(current, float) and isinstance(value, int))
            ):
                raise ValueError(f"setting {name!r} wants a {type(current).__name__}")
        coerced: dict[str, Any] = {
            name: float(value) if isinstance(getattr(self, name), float) else value
            for name, value in values.items()
        }
        replace(self, **coerced).outcome_weights()  # check the whole before changing any
        for name, value in coerced.items():
            setattr(self, name, value)
