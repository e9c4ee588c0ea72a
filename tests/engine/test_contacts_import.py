"""Importing contacts from CSV, against SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.importing import ImportRequest, ImportSummary, import_contacts
from smscast.engine.contacts.records import (
    count_contacts,
    erase_contact,
    export_contacts,
    show_contact,
)
from smscast.store.messaging_models import Message
from smscast.store.models import ImportJob, table_of

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def run_import(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, path: Path,
    consent_source: str | None = None,
) -> ImportSummary:  # fmt: skip
    request = ImportRequest(path, workspace, consent_source, "test", NOW)
    return import_contacts(engine, settings, request)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_import_creates_merges_and_reports(engine, settings, workspace, tmp_path):
    first = write(
        tmp_path / "a.csv",
        "phone,first_name,plan,tags\n"
        "+48 600 100 200,Anna,gold,vip\n"
        "600100201,Jan,silver,\n"
        "+48 12,Bad,,\n"
        "600100201,Again,,\n",
    )
    summary = run_import(engine, settings, workspace, first)
    assert (summary.rows_read, summary.created, summary.rejected) == (4, 2, 2)
    errors = report_rows(tmp_path / "a.errors.csv")
    assert [(e["row"], e["column"]) for e in errors] == [("4", "phone"), ("5", "phone")]
    assert errors[0]["reason"] == 'row 4: "+48 12" is not a valid phone number for PL'
    assert "same number as row 3" in errors[1]["reason"]

    second = write(
        tmp_path / "b.csv", "phone;plan;tags\n+48600100200;platinum;news\n+48600100201;silver;\n"
    )
    summary = run_import(engine, settings, workspace, second)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    anna = show_contact(engine, workspace, "600 100 200")
    assert anna["attributes"] == {"first_name": "Anna", "plan": "platinum"}
    assert anna["tags"] == ["vip", "news"]
    assert anna["timezone"] == "Europe/Warsaw"
    assert count_contacts(engine, workspace)["contacts"] == 2
    assert not (tmp_path / "b.errors.csv").exists()


def test_cp1250_and_bom_files_read_polish_names(engine, settings, workspace, tmp_path):
    text = "phone;Imię;city\n+48600100200;Łucja;Łódź\n"
    run_import(engine, settings, workspace, write(tmp_path / "excel.csv", text, "cp1250"))
    assert show_contact(engine, workspace, "+48600100200")["attributes"]["city"] == "Łódź"
    run_import(engine, settings, workspace, write(tmp_path / "bom.csv",
               "\ufeffphone,city\n+48600100201,Gdańsk\n", "utf-8"))  # fmt: skip
    assert show_contact(engine, workspace, "+48600100201")["attributes"] == {"city": "Gdańsk"}


def test_broken_quoting_and_bad_bytes_lose_only_their_rows(engine, settings, workspace, tmp_path):
    data = (
        b"phone,name,note\n"
        b'+48600100200,"Anna\nMaria",multi-line name\n'
        b'+48600100201,"never closed,x\n'
        b'+48600100202,Jan,5" screen\n'
        b"+48600100203,\xff\xfe broken utf-8 \xc4\x85,x\n"
        b"+48600100204,\xc5\x81ucja,ok\n"
    )
    summary = run_import(engine, settings, workspace, write_bytes(tmp_path / "q.csv", data))
    assert summary.created == 3
    assert summary.rejected == 2
    reasons = {e["row"]: e["reason"] for e in report_rows(tmp_path / "q.errors.csv")}
    assert "never closes" in reasons["3"]
    assert "not valid UTF-8" in reasons["5"]
    assert show_contact(engine, workspace, "+48600100200")["attributes"]["name"] == "Anna\nMaria"
    assert show_contact(engine, workspace, "+48600100204")["attributes"]["name"] == "Łucja"


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_empty_file_and_missing_phone_column_are_clear_errors(
    engine, settings, workspace, tmp_path
):
    with pytest.raises(UserError, match="is empty"):
        run_import(engine, settings, workspace, write(tmp_path / "e.csv", ""))
    with pytest.raises(UserError, match="no phone column"):
        run_import(engine, settings, workspace, write(tmp_path / "n.csv", "name,email\nA,a@b.c\n"))


def test_consent_needs_a_source_and_never_undoes_an_opt_out(engine, settings, workspace, tmp_path):
    path = write(tmp_path / "c.csv", "phone,consent\n+48600100200,yes\n+48600100201,yes\n")
    summary = run_import(engine, settings, workspace, path)
    assert summary.warnings == 2
    assert count_contacts(engine, workspace)["opted_in"] == 0

    run_import(engine, settings, workspace, path, consent_source="web form 2026-10")
    assert count_contacts(engine, workspace)["opted_in"] == 2
    history = consent_history(engine, workspace, "+48600100200")["events"]
    assert [(e["action"], e["source"], e["evidence"]) for e in history] == [
        ("opt_in", "import", "web form 2026-10")
    ]

    record_consent(engine, settings, workspace, "+48600100200", ConsentChange(
        "sms", "all", Action.OPT_OUT, Source.KEYWORD, "STOP", "inbound", NOW))  # fmt: skip
    summary = run_import(engine, settings, workspace, path, consent_source="old list")
    assert summary.warnings == 1
    errors = report_rows(tmp_path / "c.errors.csv")
    assert errors[0]["row"] == "2" and "cannot opt them back in" in errors[0]["reason"]
    state = show_contact(engine, workspace, "+48600100200")["consent"]
    assert {s["purpose"]: s["status"] for s in state} == {
        "promotional": "opted_out", "informational": "opted_out"}  # fmt: skip


def test_erased_phone_is_refused_until_new_consent(engine, settings, workspace, tmp_path):
    path = write(tmp_path / "e.csv", "phone,first_name,consent\n+48600100200,Anna,yes\n")
    run_import(engine, settings, workspace, path, consent_source="form")
    contact_id = show_contact(engine, workspace, "+48600100200")["id"]
    with engine.begin() as conn:
        conn.execute(insert(table_of(Message)).values(
            workspace_id=workspace.id, direction="out", kind="campaign", purpose="informational",
            contact_id=contact_id, phone="+48600100200", body="Your order shipped",
            status="queued", created_at=NOW,
        ))  # fmt: skip
    erase_contact(engine, settings, workspace, "+48600100200", actor="test", now=NOW)
    with pytest.raises(UserError, match="no contact"):
        show_contact(engine, workspace, "+48600100200")
    with engine.connect() as conn:
        left = conn.execute(select(table_of(Message).c.id)).all()
    assert left == [], "an erased person's queued texts are gone, so nothing more is sent"
    summary = run_import(engine, settings, workspace, path, consent_source="form")
    assert (summary.created, summary.rejected) == (0, 1)
    assert "erased" in report_rows(tmp_path / "e.errors.csv")[0]["reason"]

    record_consent(engine, settings, workspace, "+48600100200", ConsentChange(
        "sms", "promotional", Action.OPT_IN, Source.KEYWORD, "START", "inbound", NOW))  # fmt: skip
    summary = run_import(engine, settings, workspace, path, consent_source="form")
    assert summary.rejected == 0
    assert show_contact(engine, workspace, "+48600100200")["attributes"] == {"first_name": "Anna"}


def test_export_escapes_formulas_and_imports_back_unchanged(engine, settings, workspace, tmp_path):
    path = write(tmp_path / "f.csv", "phone,first_name,note\n+48600100200,=HYPERLINK(1),@x\n")
    run_import(engine, settings, workspace, path)
    out = tmp_path / "out.csv"
    assert export_contacts(engine, workspace, out) == 1
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"
    assert rows[0]["note"] == "'@x"
    assert rows[0]["phone"] == "+48600100200"  # a validated number is never a formula
    summary = run_import(engine, settings, workspace, out)
    assert (summary.unchanged, summary.rejected) == (1, 0)


def test_rerun_after_partial_import_completes_without_duplicates(engine, settings, workspace,
                                                                 tmp_path):  # fmt: skip
    lines = [f"+486001{n:05d},name{n}" for n in range(300)]
    partial = write(tmp_path / "part.csv", "phone,name\n" + "\n".join(lines[:120]) + "\n")
    run_import(engine, settings, workspace, partial)
    full = write(tmp_path / "full.csv", "phone,name\n" + "\n".join(lines) + "\n")
    small_batches = settings.model_copy(update={"import_batch_size": 50})
    summary = run_import(engine, small_batches, workspace, full)
    assert (summary.created, summary.unchanged, summary.rejected) == (180, 120, 0)
    assert count_contacts(engine, workspace)["contacts"] == 300
    with engine.connect() as conn:
        job = conn.execute(
            select(table_of(ImportJob)).order_by(table_of(ImportJob).c.id.desc())
        ).first()
    assert job is not None and job.status == "finished" and job.created == 180


def test_large_file_parsed_in_parallel_gives_the_same_result(engine, settings, workspace, tmp_path):
    rows = [f"+4860{n:07d},n{n}," + ("x" * 60) for n in range(70_000)]
    rows[500] = "+48 12,bad,"
    path = write(tmp_path / "big.csv", "phone,name,note\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 4 * 1024 * 1024
    summary = run_import(engine, settings.model_copy(update={"import_workers": 2}), workspace, path)
    assert (summary.rows_read, summary.created, summary.rejected) == (70_000, 69_999, 1)
    assert report_rows(tmp_path / "big.errors.csv")[0]["row"] == "502"
