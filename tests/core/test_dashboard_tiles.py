"""Dashboard layouts as the portal posts them: what is kept, and what is refused where."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.dashboard_tiles import (
    CATALOGUE,
    KINDS,
    MAX_TILES,
    Tile,
    default_layout,
    layout_to_json,
    stored_layout,
    validate_layout,
)
from smscast.core.errors import UserError


def refusal(raw: object) -> tuple[str | None, str]:
    with pytest.raises(UserError) as caught:
        validate_layout(raw)
    assert caught.value.problem.code == "invalid_layout"
    return caught.value.problem.field, caught.value.problem.message


def test_the_default_layout_shows_every_tile_the_issue_names_and_is_itself_valid() -> None:
    layout = default_layout()
    kinds = [tile.kind for tile in layout]
    for kpi in ("kpi-sent", "kpi-delivered", "kpi-delivery-rate", "kpi-clicks", "kpi-replies",
                "kpi-opt-outs", "kpi-failed", "kpi-click-rate", "kpi-reply-rate",
                "kpi-coupons-redeemed", "kpi-cost"):  # fmt: skip
        assert kpi in kinds
    assert {"chart-traffic", "chart-funnel", "table-connectors", "table-numbers"} <= set(kinds)
    assert validate_layout(layout_to_json(layout)) == layout


def test_a_tile_without_a_size_takes_its_kind_default() -> None:
    assert validate_layout([{"kind": "chart-traffic"}]) == (Tile("chart-traffic", "l"),)


def test_an_empty_dashboard_is_allowed() -> None:
    assert validate_layout([]) == ()


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ([{"kind": "kpi-sent"}, {"kind": "kpi-bogus"}], "layout[1].kind", "'kpi-bogus' is not"),
        ([{"kind": "kpi-sent", "size": "xl"}], "layout[0].size", "'xl' is not a size"),
        ([{"kind": "kpi-sent", "size": "l"}], "layout[0].size", "of kpi-sent (one of s, m)"),
        ([{"kind": "chart-funnel", "size": "s"}], "layout[0].size", "chart-funnel"),
        ([{"kind": "kpi-sent"}, {"kind": "kpi-sent"}], "layout[1].kind", "already on"),
        ([{"kind": "kpi-sent", "colour": "red"}], "layout[0].colour", "unknown field 'colour'"),
        ([{"size": "s"}], "layout[0].kind", "kind is missing"),
        ([{"kind": 7}], "layout[0].kind", "not text"),
        (["kpi-sent"], "layout[0]", "expected an object"),
        ({"kind": "kpi-sent"}, "layout", "a list of tiles"),
        ("kpi-sent", "layout", "a list of tiles"),
        ([{"kind": "kpi-sent"}] * (MAX_TILES + 1), "layout", f"at most {MAX_TILES}"),
    ],
)
def test_a_bad_layout_is_refused_naming_the_tile_and_field(
    raw: object, field: str, words: str
) -> None:
    got_field, message = refusal(raw)
    assert got_field == field
    assert words in message


def test_the_message_counts_tiles_from_one_as_people_do() -> None:
    _, message = refusal([{"kind": "kpi-sent"}, {"kind": "nope"}])
    assert message.startswith("tile 2: ")


@st.composite
def layouts(draw: st.DrawFn) -> list[dict[str, str]]:
    chosen = draw(st.permutations(CATALOGUE).map(list))
    count = draw(st.integers(0, len(chosen)))
    return [{"kind": kind.name, "size": draw(st.sampled_from(kind.sizes))}
            for kind in chosen[:count]]  # fmt: skip


@settings(deadline=None)  # the first example pays for imports
@given(layouts())
def test_valid_layouts_round_trip(raw: list[dict[str, str]]) -> None:
    layout = validate_layout(raw)
    assert layout_to_json(layout) == raw
    assert validate_layout(layout_to_json(layout)) == layout


@settings(deadline=None)
@given(layouts().filter(bool), st.data())
def test_any_broken_tile_is_named_by_its_position(raw: list[dict[str, str]],
                                                  data: st.DataObject) -> None:  # fmt: skip
    index = data.draw(st.integers(0, len(raw) - 1))
    field = data.draw(st.sampled_from(["kind", "size"]))
    value = data.draw(st.text(max_size=12).filter(
        lambda v: v not in KINDS and v not in ("s", "m", "l")))  # fmt: skip
    broken = [dict(tile) for tile in raw]
    broken[index][field] = value
    got_field, message = refusal(broken)
    assert got_field == f"layout[{index}].{field}"
    assert message.startswith(f"tile {index + 1}: ")


def test_a_stored_layout_with_a_retired_tile_still_opens_without_it() -> None:
    stored = [
        {"kind": "kpi-sent", "size": "s"},
        {"kind": "kpi-retired", "size": "s"},
        {"kind": "chart-funnel", "size": "xl"},
        {"kind": "kpi-cost", "size": "m"},
    ]
    assert stored_layout(stored) == (Tile("kpi-sent", "s"), Tile("kpi-cost", "m"))
    assert stored_layout("not a layout") == ()
    assert stored_layout(layout_to_json(default_layout())) == default_layout()
