"""The dashboard's tile catalogue and the rules a saved layout must follow.

A layout is what the portal posts when a user adds, removes, reorders or resizes
tiles: a JSON list of `{"kind": ..., "size": ...}` objects, in display order. It is
user input, so it is checked here, strictly, before it is stored: an unknown kind
or size, a duplicate tile or a stray key is refused with an error that names the
tile's position and field (`layout[3].size`), never silently dropped.

Labels are English message ids; the portal translates them through its catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from smscast.core.errors import UserError

Family = Literal["kpi", "chart", "table"]
SIZES = ("s", "m", "l")
"""Small, medium, large: how much of the grid's width a tile takes."""

MAX_TILES = 40
"""More tiles than the catalogue holds could only be duplicates or a runaway script."""


@dataclass(frozen=True, slots=True)
class TileKind:
    """One kind of tile: what it shows (`metric`, a key of the dashboard metrics) and
    which sizes suit it (a chart squeezed to a KPI's width cannot be read)."""

    name: str
    family: Family
    label: str
    metric: str
    sizes: tuple[str, ...]
    default_size: str


def _kpi(name: str, label: str, metric: str) -> TileKind:
    return TileKind(name, "kpi", label, metric, ("s", "m"), "s")


CATALOGUE: tuple[TileKind, ...] = (
    _kpi("kpi-sent", "Sent", "sent"),
    _kpi("kpi-delivered", "Delivered", "delivered"),
    _kpi("kpi-delivery-rate", "Delivery rate", "delivery_rate"),
    _kpi("kpi-failed", "Failed", "failed"),
    _kpi("kpi-clicks", "Clicks", "clicks"),
    _kpi("kpi-click-rate", "Click-through rate", "click_rate"),
    _kpi("kpi-replies", "Replies", "replies"),
    _kpi("kpi-reply-rate", "Reply rate", "reply_rate"),
    _kpi("kpi-opt-outs", "Opt-outs", "opt_outs"),
    _kpi("kpi-coupons-redeemed", "Coupons redeemed", "redemptions"),
    _kpi("kpi-cost", "Cost", "cost"),
    TileKind(
        "chart-traffic", "chart", "Sends, deliveries and failures", "traffic", ("m", "l"), "l"
    ),
    TileKind("chart-funnel", "chart", "Campaign funnel", "funnel", ("m", "l"), "m"),
    TileKind("table-connectors", "table", "By connector", "connectors", ("m", "l"), "m"),
    TileKind("table-numbers", "table", "By number", "numbers", ("m", "l"), "m"),
)
KINDS: Mapping[str, TileKind] = {kind.name: kind for kind in CATALOGUE}
KPI_KINDS: tuple[TileKind, ...] = tuple(kind for kind in CATALOGUE if kind.family == "kpi")


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile of a layout."""

    kind: str
    size: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "size": self.size}


Layout = tuple[Tile, ...]


def layout_to_json(layout: Layout) -> list[dict[str, str]]:
    """The layout as stored in `dashboards.layout` and posted by the page."""
    return [tile.to_json() for tile in layout]


def default_layout() -> Layout:
    """What a user sees on a first visit: every number, then the charts and tables, so
    nothing the portal can show is hidden from someone who has not customised yet."""
    return tuple(Tile(kind.name, kind.default_size) for kind in CATALOGUE)


def _refuse(index: int, key: str, message: str) -> UserError:
    return UserError.of(
        "invalid_layout", f"tile {index + 1}: {message}", field=f"layout[{index}].{key}"
    )


def _tile(index: int, raw: object, seen: set[str]) -> Tile:
    if not isinstance(raw, Mapping):
        raise UserError.of(
            "invalid_layout",
            f"tile {index + 1}: expected an object with kind and size, got {type(raw).__name__}",
            field=f"layout[{index}]",
        )
    for key in raw:
        if key not in ("kind", "size"):
            raise _refuse(index, str(key), f"unknown field {key!r} (a tile has kind and size)")
    kind_name = raw.get("kind")
    if not isinstance(kind_name, str):
        raise _refuse(index, "kind", "kind is missing or not text")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise _refuse(
            index, "kind", f"{kind_name!r} is not a tile kind (one of {', '.join(KINDS)})"
        )
    if kind_name in seen:
        raise _refuse(index, "kind", f"{kind_name!r} is already on this dashboard")
    size = raw.get("size", kind.default_size)
    if not isinstance(size, str) or size not in kind.sizes:
        raise _refuse(
            index, "size", f"{size!r} is not a size of {kind_name} (one of {', '.join(kind.sizes)})"
        )
    seen.add(kind_name)
    return Tile(kind_name, size)


def validate_layout(raw: object) -> Layout:
    """The layout `raw` describes, or a UserError naming the first tile and field at fault.

    A missing size takes the kind's default (a page adding a tile need not know it); an
    empty layout is allowed: a user may clear a dashboard and add tiles back one by one.
    """
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise UserError.of("invalid_layout", "a layout is a list of tiles", field="layout")
    if len(raw) > MAX_TILES:
        raise UserError.of(
            "invalid_layout",
            f"a dashboard holds at most {MAX_TILES} tiles, got {len(raw)}",
            field="layout",
        )
    seen: set[str] = set()
    return tuple(_tile(index, item, seen) for index, item in enumerate(raw))


def stored_layout(raw: object) -> Layout:
    """A layout read back from the database, keeping every tile that is still valid.

    Stored layouts were checked on the way in; one written before a tile kind was
    retired or a size withdrawn must still open (without that tile), not lock its owner
    out of the dashboard, so here nothing is refused.
    """
    try:
        return validate_layout(raw)
    except UserError:
        pass
    kept: list[Tile] = []
    seen: set[str] = set()
    for item in raw if isinstance(raw, list) else []:
        try:
            kept.append(_tile(len(kept), item, seen))
        except UserError:
            continue
    return tuple(kept[:MAX_TILES])
