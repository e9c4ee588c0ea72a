"""The contacts, consent and workspace commands, as a user types them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


def test_workspace_import_show_count_export_erase(cli_env: Path) -> None:
    assert (
        run("workspace", "create", "Shop", "--country", "PL", "--timezone", "Europe/Warsaw")[0] == 0
    )
    source = cli_env / "list.csv"
    source.write_text("phone;first_name;consent\n600100200;Anna;tak\n+48 12;Bad;\n", "utf-8")
    code, out = run("contacts", "import", str(source), "--consent-source", "form", "--json")
    assert code == 0, out
    assert json.loads(out)["created"] == 1 and json.loads(out)["rejected"] == 1
    assert (cli_env / "list.errors.csv").read_text("utf-8").startswith("row,column,value,reason")

    code, out = run("contacts", "show", "+48600100200", "--json")
    assert json.loads(out)["attributes"] == {"first_name": "Anna"}
    code, out = run("contacts", "count", "--json")
    assert json.loads(out) == {"contacts": 1, "opted_in": 1, "opted_out": 0}

    assert run("consent", "opt-out", "600100200", "--channel", "sms")[0] == 0
    code, out = run("consent", "history", "600100200", "--json")
    assert [e["action"] for e in json.loads(out)["events"]] == ["opt_in", "opt_out"]

    assert run("contacts", "export", str(cli_env / "out.csv"))[0] == 0
    assert "+48600100200" in (cli_env / "out.csv").read_text("utf-8")
    assert run("contacts", "erase", "600100200", "--yes")[0] == 0
    code, out = run("contacts", "show", "600100200")
    assert code == 1 and "no contact has the phone +48600100200" in out


def test_wrong_arguments_exit_non_zero_naming_the_problem(cli_env: Path) -> None:
    code, out = run("workspace", "create", "X", "--country", "XX", "--timezone", "Europe/Warsaw")
    assert code == 1 and '"XX" is not a country code' in out
    code, out = run("contacts", "count")
    assert code == 1 and "no workspace yet" in out
    run("workspace", "create", "Shop", "--country", "PL", "--timezone", "Europe/Warsaw")
    code, out = run("contacts", "import", str(cli_env / "missing.csv"))
    assert code == 1 and "does not exist" in out
    code, out = run("consent", "opt-out", "+48 12", "--channel", "sms")
    assert code == 1 and '"+48 12" is not a valid phone number for PL' in out
    code, _ = run("consent", "opt-out", "600100200", "--channel", "pigeon")
    assert code == 2


def test_every_command_has_help(cli_env: Path) -> None:
    for command in (["contacts", "import"], ["consent", "history"], ["workspace", "create"],
                    ["db", "upgrade"], ["serve"]):  # fmt: skip
        code, out = run(*command, "--help")
        assert code == 0 and "Usage" in out


def test_export_leaves_phones_plain_and_escapes_formulas_that_import_back(cli_env: Path) -> None:
    for name in ("Shop", "Copy"):
        run("workspace", "create", name, "--country", "PL", "--timezone", "Europe/Warsaw")
    source = cli_env / "list.csv"
    source.write_text("phone,first_name,last_name,city\n600100200,=1+1,-Kowalska,@home\n", "utf-8")
    assert run("contacts", "import", str(source), "-w", "Shop")[0] == 0

    out = cli_env / "out.csv"
    assert run("contacts", "export", str(out), "-w", "Shop")[0] == 0
    header, row = out.read_text("utf-8").splitlines()
    assert header.split(",")[:3] == ["phone", "first_name", "last_name"]
    cells = row.split(",")
    assert cells[:3] == ["+48600100200", "'=1+1", "'-Kowalska"]
    assert cells[-1] == "'@home"

    code, output = run("contacts", "import", str(out), "-w", "Copy", "--json")
    assert code == 0 and json.loads(output)["created"] == 1, output
    code, output = run("contacts", "show", "+48600100200", "-w", "Copy", "--json")
    copied = json.loads(output)
    assert copied["phone"] == "+48600100200"
    assert copied["attributes"] == {"first_name": "=1+1", "last_name": "-Kowalska", "city": "@home"}


def test_erase_asks_first_and_a_script_must_say_yes(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("workspace", "create", "Shop", "--country", "PL", "--timezone", "Europe/Warsaw")
    source = cli_env / "list.csv"
    source.write_text("phone,first_name\n600100200,Anna\n", "utf-8")
    assert run("contacts", "import", str(source))[0] == 0

    code, out = run("contacts", "erase", "600100200")
    assert code == 1 and "--yes" in out and "600100200" in out
    assert run("contacts", "show", "600100200")[0] == 0

    monkeypatch.setattr("smscast.cli.contacts._interactive", lambda: True)
    code, out = run("contacts", "erase", "600100200", input="n\n")
    assert code == 1 and "Erase 600100200" in out and "nothing erased" in out
    assert run("contacts", "show", "600100200")[0] == 0

    code, out = run("contacts", "erase", "600100200", input="y\n")
    assert code == 0 and "erased +48600100200" in out
    assert run("contacts", "show", "600100200")[0] == 1
