"""What every command needs: the settings, the database, the workspace, and the clock."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from smscast.cli.output import fail
from smscast.config import Settings, load_settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.store.db import create_db_engine, is_busy


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    engine: Engine

    def workspace(self, name: str | None) -> WorkspaceRef:
        with self.engine.connect() as conn:
            return resolve_workspace(conn, name)


def now() -> datetime:
    return datetime.now(UTC)


def actor() -> str:
    """Who is acting, for the audit log and the consent ledger: the OS user, via the CLI."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _database_failure(engine: Engine, error: OperationalError | ProgrammingError) -> str:
    """The database's own words; the upgrade hint only when the schema is missing or old
    (a locked or unreachable database is not cured by `smscast db upgrade`)."""
    where = f"database {engine.url.render_as_string(hide_password=True)}: {error.orig}"
    if is_busy(error):
        return f"{where} (another process held it past the busy timeout; try again)"
    from smscast.store.migrate import schema_behind  # Alembic: ~0.1 s, only on failure

    behind = schema_behind(engine)
    return f"{where}; {behind}: run `smscast db upgrade`" if behind else where


def missing_database(settings: Settings) -> str | None:
    """Why there is no database to open: a SQLite file that does not exist (None otherwise).

    SQLite would create an empty file on connect, so a command run from another folder
    (the default URL is relative: ./var/smscast.db) used to leave a new empty database
    there and answer as if there were no data. Only `smscast db upgrade` creates one.
    """
    url = make_url(settings.database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:") or Path(database).exists():
        return None
    return (
        f"no database at {Path(database).resolve()} (SMSCAST_DATABASE_URL is "
        f"{settings.database_url}, read in {Path.cwd()}): create it with `smscast db upgrade` "
        "(then `smscast bootstrap`), or run smscast from the folder that holds it, or set "
        "SMSCAST_DATABASE_URL to its path"
    )


@contextmanager
def command_context() -> Iterator[Context]:
    """Opens the database for one command and turns user errors into a clean exit."""
    try:
        settings = load_settings()
    except ValueError as error:
        fail(f"configuration: {error}")
    if (missing := missing_database(settings)) is not None:
        fail(missing)
    engine = create_db_engine(settings.database_url)
    try:
        yield Context(settings, engine)
    except UserError as error:
        fail(error.problem)
    except (OperationalError, ProgrammingError) as error:
        fail(_database_failure(engine, error))
    finally:
        engine.dispose()
