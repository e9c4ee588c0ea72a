"""Everything one SMPP connector needs to know about its carrier, in one dataclass.

Defaults work against the built-in simulator on a laptop; a real carrier
usually needs host, port, system_id, password and perhaps system_type, the
address TON/NPI and the message id format of its delivery reports.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smscast.core.errors import UserError
from smscast.core.national import parse_national_tables

#: Carriers grant a handful of sessions per account; more is a typo, not a plan.
MAX_BINDS = 16


class BindMode(enum.StrEnum):
    TRANSMITTER = "transmitter"  # send only
    RECEIVER = "receiver"  # delivery reports and inbound messages only
    TRANSCEIVER = "transceiver"  # both on one connection


class IdFormat(enum.StrEnum):
    """How a carrier writes its message ids, so ours match its delivery reports.

    Carriers are known to answer submit_sm with a hex id and then report on it
    in decimal (or with leading zeros, or in other case); both sides are turned
    into one canonical form before they are compared.
    """

    TEXT = "text"  # an opaque string: compared without case and leading zeros
    HEX = "hex"  # a hexadecimal number
    DEC = "dec"  # a decimal number


@dataclass(frozen=True, slots=True)
class SmppSettings:
    """One SMPP 3.4 carrier connection (an ESME bound to one SMSC)."""

    name: str = "smpp"
    host: str = "127.0.0.1"
    port: int = 2775
    system_id: str = "smscast"
    password: str = ""
    system_type: str = ""
    bind_mode: BindMode = BindMode.TRANSCEIVER
    address_range: str = ""
    bind_ton: int = 0
    bind_npi: int = 0
    # Sending
    window: int = 10  # submit_sm awaiting their response at once
    rate: float = 0.0  # parts per second; 0 means as fast as the window allows
    # Sessions (binds) to the SMSC at once; window and rate are the account's, shared by
    # them all (see `binds.BindGroup`).
    binds: int = 1
    service_type: str = ""
    source_ton: int | None = None  # None: chosen from the sender (alphanumeric, +E.164, short)
    source_npi: int | None = None
    dest_ton: int = 1
    dest_npi: int = 1
    data_coding: int = 0  # 0 SMSC default (GSM-7), 3 Latin-1, 8 UCS-2
    concat: str = "udh"  # "udh" (esm_class 0x40) or "sar" (sar_* TLVs)
    reference_bits: int = 8  # concatenation reference: 8 or 16 bits
    national_locking: str | None = None  # GSM national language tables (e.g. "tr", "pt")
    national_single: str | None = None
    # Languages whose shift tables the carrier passes on ("tr,es"): a text the default
    # alphabet cannot carry goes as GSM-7 with the tables needing the fewest parts.
    national_tables: tuple[str, ...] = ()
    registered_delivery: int = 1  # 1: ask for a final delivery report
    validity_s: int | None = None  # relative validity when a message has no deadline
    # Delivery reports
    submit_id_format: IdFormat = IdFormat.TEXT  # ids in submit_sm_resp
    report_id_format: IdFormat = IdFormat.TEXT  # ids in deliver_sm reports
    report_hold_s: float = 60.0  # how long a report that beat its submit_sm_resp is held
    report_match_s: float = 3600.0  # how long carrier ids are remembered for matching
    # Inbound
    mo_part_timeout_s: float = 300.0  # parts of a long inbound message wait this long
    # Session
    enquire_link_s: float = 30.0
    response_timeout_s: float = 10.0
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    throttle_pause_s: float = 1.0  # pause after ESME_RTHROTTLED / ESME_RMSGQFUL
    throttle_retries: int = 5  # retries of a pushed-back part before it is TEMPORARY
    tls: bool = False
    tls_ca_file: str | None = None

    def __post_init__(self) -> None:
        _check(1 <= self.port <= 65535, "port", self.port, "a TCP port (1-65535)")
        _check(1 <= self.window <= 65535, "window", self.window, "between 1 and 65535")
        _check(self.rate >= 0, "rate", self.rate, "0 (no limit) or more parts per second")
        whole = type(self.binds) is int
        binds_ok = whole and 1 <= self.binds <= MAX_BINDS
        _check(binds_ok, "binds", self.binds, f"a whole number from 1 to {MAX_BINDS}")
        # Each bind holds a share of the window: a bind with no room could never send.
        _check(
            self.binds <= self.window,
            "binds",
            self.binds,
            f"at most the window ({self.window}): each bind needs room for one submit",
        )
        _check(self.data_coding in (0, 3, 8), "data_coding", self.data_coding, "0, 3 or 8")
        _check(self.concat in ("udh", "sar"), "concat", self.concat, '"udh" or "sar"')
        _check(self.reference_bits in (8, 16), "reference_bits", self.reference_bits, "8 or 16")
        _check(len(self.system_id) <= 15, "system_id", self.system_id, "at most 15 characters")
        _check(len(self.password) <= 8, "password", "***", "at most 8 characters")
        _check(len(self.system_type) <= 12, "system_type", self.system_type, "12 characters max")
        for name in ("enquire_link_s", "response_timeout_s", "reconnect_min_s"):
            _check(getattr(self, name) > 0, name, getattr(self, name), "more than 0 seconds")
        _check(
            self.reconnect_max_s >= self.reconnect_min_s,
            "reconnect_max_s",
            self.reconnect_max_s,
            "at least reconnect_min_s",
        )

    @property
    def can_send(self) -> bool:
        return self.bind_mode is not BindMode.RECEIVER

    def describe(self) -> str:
        """The connection for logs: everything but the password."""
        tls = " tls" if self.tls else ""
        return (
            f"{self.bind_mode} {self.system_id}@{self.host}:{self.port}{tls}"
            f" system_type={self.system_type!r} address_range={self.address_range!r}"
        )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SmppSettings:
        """Builds settings from a connector's stored configuration, naming unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"smpp settings: unknown key(s) {', '.join(unknown)}")
        fixed = dict(values)
        if "national_tables" in fixed:
            try:
                fixed["national_tables"] = parse_national_tables(fixed["national_tables"])
            except UserError as error:
                raise ValueError(f"smpp settings: {error}") from None
        if "bind_mode" in fixed:
            fixed["bind_mode"] = _enum(BindMode, "bind_mode", fixed["bind_mode"])
        for key in ("submit_id_format", "report_id_format"):
            if key in fixed:
                fixed[key] = _enum(IdFormat, key, fixed[key])
        return cls(**fixed)


def _enum(kind: type[enum.StrEnum], key: str, value: object) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise ValueError(f"smpp settings: {key} is {value!r}, expected one of {choices}") from None


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ValueError(f"smpp settings: {key} is {value!r}, expected {expected}")
