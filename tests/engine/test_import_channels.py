"""Importing a contact's addresses and consent per channel (email, WhatsApp beside SMS),
against SQLite and PostgreSQL: bad cells refused by column with the rest imported, an
import never undoing an opt-out on any channel (one from everything included), and the
export carrying every channel back."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.core.contact_rows import unescape_cell
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import (
    ConsentChange,
    consent_history,
    rebuild_consent_state,
    record_consent,
)
from smscast.engine.contacts.edits import ContactFields, update_contact
from smscast.engine.contacts.importing import ImportRequest, ImportSummary, import_contacts
from smscast.engine.contacts.records import export_contacts, show_contact

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HEADER = "phone,email,consent,whatsapp,consent_email,consent_whatsapp\n"


def run_import(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, path: Path,
    consent_source: str | None = "shop checkout, form v3", now: datetime = NOW,
) -> ImportSummary:  # fmt: skip
    return import_contacts(engine, settings, ImportRequest(path, workspace, consent_source,
                                                           "test", now))  # fmt: skip


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def report_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def states(engine: Engine, workspace: WorkspaceRef, phone: str) -> dict[str, str]:
    """Promotional consent per channel."""
    shown = show_contact(engine, workspace, phone)
    return {s["channel"]: s["status"] for s in shown["consent"] if s["purpose"] == "promotional"}


def test_addresses_and_consent_per_channel_are_imported(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    source = write(tmp_path / "people.csv", HEADER
                   + "+48600100200,Ala@Example.COM,yes,601 234 567,yes,no\n"
                   + "+48600100201,,no,,,yes\n")  # fmt: skip

    summary = run_import(engine, settings, workspace, source)

    assert (summary.created, summary.rejected, summary.warnings) == (2, 0, 0)
    ala = show_contact(engine, workspace, "+48600100200")
    # The domain is lower-cased, the local part kept; the WhatsApp number read as the phone is.
    assert (ala["email"], ala["whatsapp"]) == ("Ala@example.com", "+48601234567")
    assert states(engine, workspace, "+48600100200") == {
        "sms": "opted_in", "email": "opted_in", "whatsapp": "opted_out",
    }  # fmt: skip
    assert states(engine, workspace, "+48600100201") == {"sms": "opted_out",
                                                         "whatsapp": "opted_in"}  # fmt: skip
    events = consent_history(engine, workspace, "+48600100200")["events"]
    assert {(e["channel"], e["action"], e["source"], e["evidence"]) for e in events} == {
        ("sms", "opt_in", "import", "shop checkout, form v3"),
        ("email", "opt_in", "import", "shop checkout, form v3"),
        ("whatsapp", "opt_out", "import", "shop checkout, form v3"),
    }


def test_a_bad_cell_is_refused_naming_its_column_and_the_rest_imported(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    source = write(tmp_path / "bad.csv", HEADER
                   + "+48600100200,not-an-address,yes,,,\n"
                   + "+48600100201,,,+48 12,,\n"
                   + "+48600100202,,,,maybe,\n"
                   + "+48600100203,,,,,perhaps\n"
                   + "+48600100204,ok@example.com,yes,+48601234567,yes,yes\n")  # fmt: skip

    summary = run_import(engine, settings, workspace, source)

    assert (summary.rows_read, summary.created, summary.rejected) == (5, 1, 4)
    refused = report_rows(tmp_path / "bad.errors.csv")
    assert [(r["row"], r["column"], unescape_cell(r["value"])) for r in refused] == [
        ("2", "email", "not-an-address"), ("3", "whatsapp", "+48 12"),
        ("4", "consent_email", "maybe"), ("5", "consent_whatsapp", "perhaps"),
    ]  # fmt: skip
    assert all(r["reason"].startswith(f"row {r['row']}: ") for r in refused)
    assert states(engine, workspace, "+48600100204") == {
        "sms": "opted_in", "email": "opted_in", "whatsapp": "opted_in",
    }  # fmt: skip


def test_an_import_never_undoes_an_opt_out_on_any_channel(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    run_import(engine, settings, workspace, write(tmp_path / "first.csv",
               HEADER + "+48600100200,a@example.com,yes,,yes,yes\n"
               + "+48600100201,b@example.com,yes,,yes,yes\n"))  # fmt: skip
    later = NOW + timedelta(minutes=5)
    # Ala unsubscribed from email only; Bartek opted out of everything.
    record_consent(engine, settings, workspace, "+48600100200", ConsentChange(
        "email", "all", Action.OPT_OUT, Source.UNSUBSCRIBE, "one-click", "email", later,
    ))  # fmt: skip
    record_consent(engine, settings, workspace, "+48600100201", ConsentChange(
        "all", "all", Action.OPT_OUT, Source.CLI, "asked on the phone", "cli", later,
    ))  # fmt: skip
    assert states(engine, workspace, "+48600100201") == {
        channel: "opted_out" for channel in ("sms", "email", "whatsapp", "push", "voice")
    }

    summary = run_import(engine, settings, workspace, write(tmp_path / "again.csv",
                         HEADER + "+48600100200,,yes,,yes,yes\n"
                         + "+48600100201,,yes,,yes,yes\n"),
                         now=later + timedelta(minutes=5))  # fmt: skip

    assert states(engine, workspace, "+48600100200") == {
        "sms": "opted_in", "email": "opted_out", "whatsapp": "opted_in",
    }  # fmt: skip
    assert states(engine, workspace, "+48600100201") == {
        channel: "opted_out" for channel in ("sms", "email", "whatsapp", "push", "voice")
    }
    warned = report_rows(tmp_path / "again.errors.csv")
    assert sorted((w["row"], w["column"]) for w in warned) == [
        ("2", "consent_email"), ("3", "consent"), ("3", "consent_email"),
        ("3", "consent_whatsapp"),
    ]  # fmt: skip
    assert "opted out of email" in warned[0]["reason"]
    assert summary.warnings == 4 and summary.rejected == 0


def test_without_a_consent_source_no_opt_in_is_recorded_on_any_channel(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    source = write(tmp_path / "nosource.csv", HEADER + "+48600100200,,,,yes,no\n")

    summary = run_import(engine, settings, workspace, source, consent_source=None)

    assert summary.warnings == 1
    [warning] = report_rows(tmp_path / "nosource.errors.csv")
    assert warning["column"] == "consent_email" and "no consent source" in warning["reason"]
    # The opt-out needs no source: it is recorded.
    assert states(engine, workspace, "+48600100200") == {"whatsapp": "opted_out"}


def test_a_re_import_adds_a_whatsapp_number_and_an_empty_cell_keeps_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    run_import(engine, settings, workspace,
               write(tmp_path / "a.csv", "phone,whatsapp\n+48600100200,\n"))  # fmt: skip
    assert show_contact(engine, workspace, "+48600100200")["whatsapp"] is None

    second = write(tmp_path / "b.csv", "phone,whatsapp\n+48600100200,+44 7400 123456\n")
    added = run_import(engine, settings, workspace, second)
    third = write(tmp_path / "c.csv", "phone,whatsapp,email\n+48600100200,,x@y.pl\n")
    kept = run_import(engine, settings, workspace, third)

    assert (added.updated, kept.updated) == (1, 1)
    shown = show_contact(engine, workspace, "+48600100200")
    assert (shown["whatsapp"], shown["email"]) == ("+447400123456", "x@y.pl")


def test_export_carries_every_channel_and_imports_back(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    run_import(engine, settings, workspace, write(tmp_path / "a.csv",
               HEADER + "+48600100200,a@example.com,yes,+48601234567,no,yes\n"))  # fmt: skip
    exported = tmp_path / "out.csv"

    export_contacts(engine, workspace, exported)

    [row] = report_rows(exported)
    assert {k: row[k] for k in ("email", "consent", "whatsapp", "consent_email",
                                "consent_whatsapp")} == {
        "email": "a@example.com", "consent": "yes", "whatsapp": "+48601234567",
        "consent_email": "no", "consent_whatsapp": "yes",
    }  # fmt: skip
    again = run_import(engine, settings, workspace, exported, now=NOW + timedelta(hours=1))
    assert (again.unchanged, again.rejected, again.warnings) == (1, 0, 0)


def test_edits_normalise_addresses_and_name_the_bad_field(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    run_import(engine, settings, workspace, write(tmp_path / "a.csv", "phone\n+48600100200\n"))
    contact_id = show_contact(engine, workspace, "+48600100200")["id"]

    changed = update_contact(engine, workspace, contact_id,
                             ContactFields(email="Ola@Shop.TEST", whatsapp="601 234 567"),
                             now=NOW)  # fmt: skip
    assert (changed["email"], changed["whatsapp"]) == ("Ola@shop.test", "+48601234567")

    with pytest.raises(UserError) as refused:
        update_contact(engine, workspace, contact_id, ContactFields(whatsapp="+48 12"), now=NOW)
    assert (refused.value.problem.code, refused.value.problem.field) == (
        "invalid_whatsapp", "whatsapp",
    )  # fmt: skip
    cleared = update_contact(engine, workspace, contact_id, ContactFields(whatsapp=""), now=NOW)
    assert cleared["whatsapp"] is None


def test_an_opt_in_names_one_channel(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    change: dict[str, Any] = {"purpose": "promotional", "source": Source.CLI,
                              "evidence": "said yes", "actor": "cli", "now": NOW}  # fmt: skip

    with pytest.raises(UserError) as refused:
        record_consent(engine, settings, workspace, "+48600100200",
                       ConsentChange(channel="all", action=Action.OPT_IN, **change))  # fmt: skip
    assert refused.value.problem.code == "opt_in_needs_channel"
    with pytest.raises(UserError) as unknown:
        record_consent(engine, settings, workspace, "+48600100200",
                       ConsentChange(channel="fax", action=Action.OPT_IN, **change))  # fmt: skip
    assert unknown.value.problem.field == "channel"


def test_rebuilding_the_state_from_the_ledger_keeps_the_opt_out_from_everything(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    run_import(engine, settings, workspace,
               write(tmp_path / "a.csv", HEADER + "+48600100200,,yes,,yes,yes\n"))  # fmt: skip
    later = NOW + timedelta(minutes=1)
    record_consent(engine, settings, workspace, "+48600100200", ConsentChange(
        "all", "all", Action.OPT_OUT, Source.CLI, "stop everything", "cli", later,
    ))  # fmt: skip
    record_consent(engine, settings, workspace, "+48600100200", ConsentChange(
        "whatsapp", "promotional", Action.OPT_IN, Source.CLI, "wrote YES on WhatsApp", "cli",
        later + timedelta(minutes=1),
    ))  # fmt: skip
    before = show_contact(engine, workspace, "+48600100200")["consent"]

    assert rebuild_consent_state(engine, workspace) == 1

    assert show_contact(engine, workspace, "+48600100200")["consent"] == before
    assert states(engine, workspace, "+48600100200") == {
        **dict.fromkeys(("sms", "email", "push", "voice"), "opted_out"), "whatsapp": "opted_in",
    }  # fmt: skip


def test_a_large_file_with_channel_columns_parsed_in_parallel(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    rows = [f"+4860{n:07d},p{n}@example.com,yes,+4850{n:07d},yes,no," + "x" * 40
            for n in range(60_000)]  # fmt: skip
    rows[700] = "+48600000700,bad,yes,,,,"
    path = write(tmp_path / "big.csv", HEADER.rstrip("\n") + ",note\n" + "\n".join(rows) + "\n")
    assert path.stat().st_size > 4 * 1024 * 1024

    summary = run_import(engine, settings.model_copy(update={"import_workers": 2}), workspace,
                         path)  # fmt: skip

    assert (summary.rows_read, summary.created, summary.rejected) == (60_000, 59_999, 1)
    assert report_rows(tmp_path / "big.errors.csv")[0]["column"] == "email"
    last = show_contact(engine, workspace, "+48600059999")
    assert (last["email"], last["whatsapp"]) == ("p59999@example.com", "+48500059999")
    assert states(engine, workspace, "+48600059999") == {
        "sms": "opted_in", "email": "opted_in", "whatsapp": "opted_out",
    }  # fmt: skip
