"""A campaign's report as rows for a spreadsheet: one figure a row, named as the API names it.

The rows are made from `stats.campaign_report`'s answer, so a CSV download, the report
page and `GET /api/v1/campaigns/{id}` can never disagree. Rates carry their numerator
and denominator in their own columns, as everywhere else, so a reader can check them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smscast.store.campaign_models import COUNTERS, EXCLUSION_REASONS

FIGURE_COLUMNS = ("figure", "value", "numerator", "denominator")
COUNTED = tuple(
    name for name in COUNTERS if not name.startswith("excluded_") and name != "smart_changed"
)
"""The counters written as plain figures (exclusions and smart encoding have their rows)."""


def report_figures(report: dict[str, Any]) -> Iterator[tuple[str, Any, Any, Any]]:
    """(figure, value, numerator, denominator) for every figure of `report`: the campaign,
    each counter and the cost, each rate, each exclusion reason, smart encoding and the
    texts quiet hours hold. Numerator and denominator are empty for a plain figure; a
    rate with nothing below it yet has an empty value."""
    for key in ("id", "name", "status", "purpose", "sending_finished_at", "reports_awaited"):
        yield key, _cell(report.get(key)), "", ""
    for name in COUNTED:
        yield name, report[name], "", ""
    yield "cost", report["cost"], "", ""
    for name, rate in report["rates"].items():
        yield f"{name}_rate", _cell(rate["value"]), rate["numerator"], rate["denominator"]
    for reason in EXCLUSION_REASONS:
        yield f"excluded_{reason}", report["excluded"].get(reason, 0), "", ""
    yield "excluded_total", report["excluded_total"], "", ""
    smart = report["smart_encoding"]
    yield "smart_encoding_changed", smart["changed"], "", ""
    for character, replacement in sorted(smart["characters"].items()):
        yield f"smart_encoding_replaced {character}", replacement, "", ""
    waiting = report["waiting_for_quiet_hours"]
    yield "waiting_for_quiet_hours", waiting["count"], "", ""
    yield "waiting_for_quiet_hours_until", _cell(waiting["until"]), "", ""


def _cell(value: Any) -> Any:
    return "" if value is None else value
