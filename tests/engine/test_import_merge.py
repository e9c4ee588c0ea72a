"""The set-based import merge: blocks parsed apart, merged batch by batch, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.engine.contacts.records import count_contacts, show_contact
from smscast.engine.contacts.row_parsing import PARALLEL_MIN_BYTES

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_quoted_cells_and_repeats_across_blocks_in_a_parallel_import(
    engine, settings, workspace, tmp_path
):
    pad = "x" * 60
    rows = [f"+4860{n:07d},n{n},{pad}" for n in range(60_000)]
    rows[30_000] = '+48600030000,"two\nlines",quoted'  # lands in the middle of the file
    rows.append("+48600000007,again,plain")  # repeats row 9, several blocks earlier
    rows.append("+48600059999,again,plain")  # repeats the row just before, same block
    path = tmp_path / "big.csv"
    path.write_text("phone,name,note\n" + "\n".join(rows) + "\n", "utf-8")
    assert path.stat().st_size > PARALLEL_MIN_BYTES
    parallel = settings.model_copy(update={"import_workers": 2})
    request = ImportRequest(path, workspace, "form", "test", NOW)
    summary = import_contacts(engine, parallel, request)
    assert (summary.rows_read, summary.created, summary.rejected) == (60_002, 60_000, 2)
    assert show_contact(engine, workspace, "+48600030000")["attributes"]["name"] == "two\nlines"
    with (tmp_path / "big.errors.csv").open(encoding="utf-8") as handle:
        reasons = [row["reason"] for row in csv.DictReader(handle)]
    assert reasons == [
        "row 60002: +48600000007 appears earlier in this file; row skipped",
        "row 60003: +48600059999 is the same number as row 60001; row skipped",
    ]
    assert count_contacts(engine, workspace)["opted_in"] == 0  # no consent column


def test_import_leaves_foreign_key_checks_on(engine, settings, workspace, tmp_path: Path):
    path = tmp_path / "a.csv"
    path.write_text("phone,consent\n+48600100200,yes\n", "utf-8")
    import_contacts(engine, settings, ImportRequest(path, workspace, "form", "test", NOW))
    assert count_contacts(engine, workspace)["opted_in"] == 1
    if engine.dialect.name == "sqlite":
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
