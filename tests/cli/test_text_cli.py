"""`smscast text info` as a person or a script uses it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from smscast.cli.app import app

runner = CliRunner()


def test_info_json_for_a_ucs2_text() -> None:
    result = runner.invoke(app, ["text", "info", "--json", "Zażółć " + "x" * 70])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == {
        "encoding": "UCS-2",
        "parts": 2,
        "units": 77,
        "per_part": 67,
        "remaining": 57,
        "non_gsm": ["ż", "ó", "ł", "ć"],
        "national": None,
    }


def test_info_reads_stdin_without_the_trailing_newline() -> None:
    result = runner.invoke(app, ["text", "info", "--json"], input="a" * 160 + "\n")
    data = json.loads(result.output)
    assert (data["encoding"], data["parts"], data["units"], data["remaining"]) == (
        "GSM-7",
        1,
        160,
        0,
    )


def test_smart_reports_the_converted_text_and_replacements() -> None:
    text = "Cześć Ania! „Wyprzedaż” trwa — " + "x" * 60
    result = runner.invoke(app, ["text", "info", "--json", "--smart", text])
    data = json.loads(result.output)
    assert data["encoding"] == "GSM-7"
    assert data["parts"] == 1
    assert data["text"] == 'Czesc Ania! "Wyprzedaz" trwa - ' + "x" * 60
    assert ["ś", "s"] in data["replaced"]
    assert ["—", "-"] in data["replaced"]
    assert data["non_gsm"] == []


def test_human_output_names_encoding_parts_and_culprits() -> None:
    result = runner.invoke(app, ["text", "info", "Cena: 5 zł"])
    assert result.exit_code == 0
    assert "UCS-2" in result.output
    assert "'ł'" in result.output
    assert "Remaining  60" in result.output


def test_smart_human_output_shows_the_saving() -> None:
    result = runner.invoke(app, ["text", "info", "--smart", "ą" * 100])
    assert "UCS-2, 2 parts → GSM-7, 1 part" in result.output


def test_control_character_is_a_clear_error() -> None:
    result = runner.invoke(app, ["text", "info"], input="ab\x00c")
    assert result.exit_code == 1
    assert "character 3" in result.output
    assert "NUL" in result.output


def test_national_tables_on_request() -> None:
    result = runner.invoke(app, ["text", "info", "--json", "--single", "tr", "Şeker"])
    assert json.loads(result.output)["encoding"] == "GSM-7"


def test_national_tables_as_a_connector_allows_them() -> None:
    text = "Merhaba Şule, siparişiniz bugün kargoya verildi; teşekkürler! " * 2
    plain = json.loads(runner.invoke(app, ["text", "info", "--json", text]).output)
    assert (plain["encoding"], plain["parts"], plain["national"]) == ("UCS-2", 2, None)
    result = runner.invoke(app, ["text", "info", "--json", "--national", "tr,es", text])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["encoding"], data["parts"], data["national"]) == ("GSM-7", 1, "/tr")
    human = runner.invoke(app, ["text", "info", "--national", "tr", text]).output
    assert "National   locking default, single tr" in human


def test_an_unknown_national_table_is_a_clear_error() -> None:
    result = runner.invoke(app, ["text", "info", "--national", "tr,xx", "Şeker"])
    assert result.exit_code == 1
    assert "--national" in result.output and "'xx'" in result.output


def test_an_empty_text_has_no_part_and_cannot_be_sent() -> None:
    result = runner.invoke(app, ["text", "info", "--json", ""])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["parts"] == 0
    assert "empty" in result.output
    human = runner.invoke(app, ["text", "info", ""])
    assert "Parts      0" in human.output and human.exit_code == 1
