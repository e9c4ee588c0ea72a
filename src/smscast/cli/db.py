"""`smscast db`: the database schema."""

from __future__ import annotations

import typer

from smscast.cli.output import console
from smscast.config import load_settings
from smscast.store.migrate import upgrade_database

app = typer.Typer(help="Create or migrate the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create the database or migrate it to the newest schema (safe to run twice)."""
    settings = load_settings()
    revision = upgrade_database(settings.database_url)
    console.print(f"Database at revision [bold]{revision}[/]")
