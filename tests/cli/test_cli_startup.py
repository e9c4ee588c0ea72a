"""`smscast <command>` loads only that command: every command still answers and
`smscast --help` still lists them all."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from smscast.cli.app import COMMANDS, app

runner = CliRunner()

EVERY_COMMAND = ["serve", "bootstrap", "worker", "db", "workspace", "contacts", "consent",
                 "text", "simulator", "numbers", "keywords", "tickets", "messages", "segments",
                 "campaigns", "coupons", "users", "connectors"]  # fmt: skip


def test_help_lists_every_command_in_order() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    listed = [line.split()[1] for line in result.output.splitlines()
              if line.startswith("│ ") and len(line.split()) > 1
              and line.split()[1] in EVERY_COMMAND]  # fmt: skip
    assert listed == EVERY_COMMAND
    assert list(COMMANDS) == EVERY_COMMAND


def test_every_command_answers_its_help() -> None:
    for name in EVERY_COMMAND:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_a_mistyped_command_is_refused_with_a_suggestion() -> None:
    result = runner.invoke(app, ["campaignz"])
    assert result.exit_code == 2
    assert "No such command 'campaignz'" in result.output
    assert "campaigns" in result.output


def test_a_command_imports_only_what_it_needs() -> None:
    """The launch's first text waits for the command's imports: the web app, the other
    commands, the channels' clients and Alembic are not among them."""
    script = (
        "import sys\n"
        "from smscast.cli import main\n"
        "sys.argv = ['smscast', 'campaigns', 'launch', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('smscast.', 'alembic', 'httpx'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    loaded = done.stdout.strip().splitlines()[-1]
    assert "'smscast.cli.campaigns'" in loaded
    unwanted = ("smscast.cli.serve", "smscast.cli.contacts", "smscast.web", "alembic'",
                "smscast.channels.smpp", "httpx'", "smscast.engine.sending.connectors")  # fmt: skip
    for unwanted_module in unwanted:
        assert f"'{unwanted_module}" not in loaded, unwanted_module
