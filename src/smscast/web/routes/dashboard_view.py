"""What the dashboard's tiles say, in the reader's language, for the page and the stream.

The page and its live stream show the same KPI text: both come from `kpi_texts`, so a
number updated live reads exactly as it would after a reload (same separators, same
currency, "3 of 4" under a rate). Tile labels are the catalogue's English words, marked
here for the translation catalogue (`core` knows nothing of the portal's languages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smscast.core.dashboard_tiles import CATALOGUE, KINDS, KPI_KINDS, Layout, Tile
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.web import i18n
from smscast.web.i18n import N_

LABELS: Mapping[str, str] = {
    "kpi-sent": N_("Sent"),
    "kpi-delivered": N_("Delivered"),
    "kpi-delivery-rate": N_("Delivery rate"),
    "kpi-failed": N_("Failed"),
    "kpi-clicks": N_("Clicks"),
    "kpi-click-rate": N_("Click-through rate"),
    "kpi-replies": N_("Replies"),
    "kpi-reply-rate": N_("Reply rate"),
    "kpi-opt-outs": N_("Opt-outs"),
    "kpi-coupons-redeemed": N_("Coupons redeemed"),
    "kpi-cost": N_("Cost"),
    "chart-traffic": N_("Sends, deliveries and failures"),
    "chart-funnel": N_("Campaign funnel"),
    "table-connectors": N_("By connector"),
    "table-numbers": N_("By number"),
}
"""Every kind of the catalogue, by name (a test checks none is missing)."""

SIZE_NAMES: Mapping[str, str] = {"s": N_("Small"), "m": N_("Medium"), "l": N_("Large")}
FUNNEL_STAGES: Mapping[str, str] = {
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "clicked": N_("Clicked"),
    "replied": N_("Replied"),
    "redeemed": N_("Redeemed"),
}


@dataclass(frozen=True, slots=True)
class KpiText:
    """A KPI as shown: the figure, and for a rate what it is made of ("3 of 4")."""

    value: str
    detail: str = ""


def workspace_currency(workspace: WorkspaceRef) -> str:
    """The currency money is shown in, as every portal page decides it."""
    return str(workspace.settings.get("currency") or i18n.currency_of_country(workspace.country))


def kpi_texts(metrics: Mapping[str, Any], language: str, currency: str,
              gettext: Callable[..., str]) -> dict[str, KpiText]:  # fmt: skip
    """Every KPI tile's text, by tile kind, from `dashboard_metrics` or `live_snapshot`."""
    found: dict[str, KpiText] = {}
    for kind in KPI_KINDS:
        figure = metrics[kind.metric]
        if isinstance(figure, Mapping):  # a rate: value with numerator and denominator
            detail = gettext(
                "%(numerator)s of %(denominator)s",
                numerator=i18n.format_number(figure["numerator"], language),
                denominator=i18n.format_number(figure["denominator"], language),
            )
            found[kind.name] = KpiText(i18n.format_percent(figure["value"], language), detail)
        elif kind.metric == "cost":
            found[kind.name] = KpiText(i18n.format_money(figure, currency, language))
        else:
            found[kind.name] = KpiText(i18n.format_number(figure, language))
    return found


def kpi_payload(texts: Mapping[str, KpiText]) -> dict[str, dict[str, str]]:
    """What one live event carries: each KPI's text, keyed by its tile's test id."""
    return {name: {"value": text.value, "detail": text.detail} for name, text in texts.items()}


def missing_kinds(layout: Layout) -> list[str]:
    """Catalogue kinds not on the dashboard, in catalogue order: what "Add a tile" offers."""
    present = {tile.kind for tile in layout}
    return [kind.name for kind in CATALOGUE if kind.name not in present]


def moved(layout: Layout, kind: str, step: int) -> list[dict[str, str]]:
    """The layout with `kind` one place earlier (-1) or later (+1); at an end, unchanged."""
    tiles = list(layout)
    index = next((i for i, tile in enumerate(tiles) if tile.kind == kind), None)
    if index is not None and 0 <= index + step < len(tiles):
        tiles[index], tiles[index + step] = tiles[index + step], tiles[index]
    return [tile.to_json() for tile in tiles]


def resized(layout: Layout, kind: str, size: str) -> list[dict[str, str]]:
    """The layout with `kind` at `size` (the engine refuses a size the kind lacks)."""
    return [
        Tile(tile.kind, size).to_json() if tile.kind == kind else tile.to_json() for tile in layout
    ]


def without(layout: Layout, kind: str) -> list[dict[str, str]]:
    return [tile.to_json() for tile in layout if tile.kind != kind]


def with_added(layout: Layout, kind: str) -> list[dict[str, Any]]:
    """The layout with `kind` at the end, in its default size (an unknown kind is left
    for the engine to refuse, naming it)."""
    return [*(tile.to_json() for tile in layout), {"kind": kind}]


def family_of(kind: str) -> str:
    return KINDS[kind].family
