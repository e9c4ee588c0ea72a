"""Reading a CSV file in blocks gives the same records as reading it line by line."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.engine.contacts.csv_reader import RawRecord, raw_records, record_blocks

CELLS = st.sampled_from(
    ["anna", "", '5" screen', '"Anna\nMaria"', '"a,b"', '"never closed', '"x""y"', "Łódź", " "]
)
LINES = st.lists(st.lists(CELLS, min_size=1, max_size=3).map(",".join), max_size=40)


def records_of(blocks: list) -> list[RawRecord]:  # type: ignore[type-arg]
    out: list[RawRecord] = []
    for block in blocks:
        if block.records:
            out.extend(block.records)
        else:
            lines = block.data.split(b"\n")
            if lines[-1] == b"":
                lines.pop()
            rows = range(block.first_row, block.first_row + len(lines))
            out.extend(RawRecord(row, line + b"\n") for row, line in zip(rows, lines, strict=True))
    return out


def strip_ends(records: list[RawRecord]) -> list[tuple[int, bytes, str | None]]:
    return [
        (r.row, r.data.rstrip(b"\n"), r.problem.message if r.problem else None) for r in records
    ]


@settings(max_examples=400, deadline=None)
@given(lines=LINES, block_bytes=st.integers(1, 64), final_newline=st.booleans())
def test_blocks_hold_the_same_records_as_line_by_line_reading(
    lines: list[str], block_bytes: int, final_newline: bool
) -> None:
    data = ("\n".join(["phone,name,note", *lines]) + ("\n" if final_newline else "")).encode()
    whole = list(raw_records(io.BytesIO(data), ","))
    handle = io.BytesIO(data)
    header = next(raw_records(handle, ","))
    blocks = list(record_blocks(handle, ",", header.row, block_bytes=block_bytes))
    assert strip_ends([header, *records_of(blocks)]) == strip_ends(whole)


def test_a_quoted_cell_across_a_block_boundary_stays_one_record() -> None:
    data = b'phone,note\n+48600100200,"first line\nsecond line\nthird"\n+48600100201,x\n'
    handle = io.BytesIO(data)
    header = next(raw_records(handle, ","))
    records = records_of(list(record_blocks(handle, ",", header.row, block_bytes=20)))
    assert [(r.row, r.data) for r in records] == [
        (2, b'+48600100200,"first line\nsecond line\nthird"\n'),
        (3, b"+48600100201,x\n"),
    ]
