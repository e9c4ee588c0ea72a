"""`smscast db`: the database schema, backups and restores."""

from __future__ import annotations

from pathlib import Path

import typer

from smscast.cli.context import now
from smscast.cli.output import console, counted, fail
from smscast.config import load_settings
from smscast.core.errors import UserError
from smscast.engine.ops.backup import BackupSummary, backup_database, restore_database
from smscast.store.migrate import upgrade_database

app = typer.Typer(help="Create, migrate, back up or restore the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create the database or migrate it to the newest schema (safe to run twice)."""
    settings = load_settings()
    revision = upgrade_database(settings.database_url)
    console.print(f"Database at revision [bold]{revision}[/]")


@app.command("backup")
def backup(
    file: Path = typer.Argument(..., help="The backup file to write", dir_okay=False),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists"),
) -> None:
    """Write a consistent backup of the database to FILE, safe while the server and
    workers run (SQLite's online backup API; pg_dump's custom format on PostgreSQL)."""
    url = _database_url()
    try:
        summary = backup_database(url, file, force=force)
    except UserError as error:
        fail(error.problem)
    console.print(f"Backed up the {summary.database} database to {_described(summary)}",
                  highlight=False, soft_wrap=True)  # fmt: skip


@app.command("restore")
def restore(
    file: Path = typer.Argument(..., help="A backup `smscast db backup` wrote", dir_okay=False),
    force: bool = typer.Option(
        False, "--force", help="Restore even while workers hold connector leases"
    ),
) -> None:
    """Replace the database with the backup in FILE (stop the server and workers first)."""
    url = _database_url()
    try:
        summary = restore_database(url, file, now=now(), force=force)
    except UserError as error:
        fail(error.problem)
    console.print(f"Restored the {summary.database} database from {_described(summary)}",
                  highlight=False, soft_wrap=True)  # fmt: skip
    problem = summary.schema.problem()
    if problem is not None:
        console.print(problem, highlight=False, soft_wrap=True)


def _database_url() -> str:
    try:
        return load_settings().database_url
    except ValueError as error:
        fail(f"configuration: {error}")


def _described(summary: BackupSummary) -> str:
    """`backup.db (1.2 MB): schema revision 0020, 45 tables; 3 contacts, 1 campaign, …`"""
    revision = ", ".join(summary.schema.current) or "none (no schema)"
    rows = ", ".join(
        counted(count, name.removesuffix("s"), grouped=True) for name, count in summary.rows.items()
    )
    return (
        f"{summary.path} ({_size(summary.size)}): schema revision {revision}, "
        f"{counted(summary.tables, 'table')}{f'; {rows}' if rows else ''}"
    )


def _size(size: int) -> str:
    """`512 bytes`, `48.0 kB`, `1.2 MB`."""
    if size < 1024:
        return f"{size} bytes"
    amount = size / 1024
    for unit in ("kB", "MB"):
        if amount < 1024:
            return f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"
