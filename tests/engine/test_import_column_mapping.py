"""An import whose columns a person mapped: the importer takes their choice instead of
guessing from the header, and a mapping that cannot work is refused naming the column."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.column_mapping import guess_targets, mapped_columns, preview_header
from smscast.engine.contacts.edits import list_contacts
from smscast.engine.contacts.importing import ImportRequest, import_contacts

HEADER = ["Nr kom.", "Kto", "Telefon stacjonarny", "Uwagi", ""]


def test_guesses_follow_the_header_names() -> None:
    assert guess_targets(["Telefon", "Imię", "tel", "Miasto", ""]) == [
        "phone", "first_name", "attribute", "attribute", "skip",
    ]  # fmt: skip


def test_a_mapping_renames_skips_and_keeps_the_files_names_for_errors() -> None:
    columns = mapped_columns(HEADER, ["phone", "first_name", "skip", "attribute", "skip"])

    assert columns.known["phone"] == 0
    assert columns.attributes == (("first_name", 1), ("uwagi", 3))
    assert columns.header == tuple(HEADER)


@pytest.mark.parametrize(
    ("targets", "code", "named"),
    [
        (["first_name", "skip", "skip", "skip", "skip"], "no_phone_column", "phone"),
        (["phone", "phone", "skip", "skip", "skip"], "target_twice", "Kto"),
        (["phone", "skip", "skip", "skip", "attribute"], "nameless_attribute", '""'),
        (["phone", "skip", "skip", "nickname", "skip"], "unknown_target", "Uwagi"),
        (["phone", "skip"], "mapping_mismatch", "5"),
    ],
)
def test_a_mapping_that_cannot_work_is_refused_naming_the_column(
    targets: list[str], code: str, named: str
) -> None:
    with pytest.raises(UserError) as refused:
        mapped_columns(HEADER, targets)

    assert refused.value.problem.code == code
    assert named in refused.value.problem.message


def test_a_known_columns_name_cannot_be_kept_as_an_attribute() -> None:
    with pytest.raises(UserError) as refused:
        mapped_columns(["Mobile", "Phone"], ["phone", "attribute"])

    assert refused.value.problem.code == "attribute_is_known_column"


def test_the_importer_takes_the_mapping(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("Nr kom.;Kto;Telefon stacjonarny;Uwagi;\n601000001;Ala;221234567;VIP;x\n")
    assert preview_header(path).header == HEADER
    targets = ("phone", "first_name", "skip", "attribute", "skip")

    summary = import_contacts(
        engine, settings, ImportRequest(path, workspace, None, "test", now, targets)
    )

    assert (summary.created, summary.rejected) == (1, 0)
    [contact] = list_contacts(engine, workspace, after=0, limit=5)
    assert contact["phone"] == "+48601000001"
    assert contact["attributes"] == {"first_name": "Ala", "uwagi": "VIP"}
