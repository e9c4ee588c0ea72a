"""What every command needs: the settings, the database, the workspace, and the clock."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from smscast.cli.output import fail
from smscast.config import Settings, load_settings
from smscast.core.errors import UserError
from smscast.engine.workspaces import WorkspaceRef, resolve_workspace
from smscast.store.db import create_db_engine, is_busy
from smscast.store.migrate import schema_behind


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
    behind = schema_behind(engine)
    return f"{where}; {behind}: run `smscast db upgrade`" if behind else where


@contextmanager
def command_context() -> Iterator[Context]:
    """Opens the database for one command and turns user errors into a clean exit."""
    try:
        settings = load_settings()
    except ValueError as error:
        fail(f"configuration: {error}")
    engine = create_db_engine(settings.database_url)
    try:
        yield Context(settings, engine)
    except UserError as error:
        fail(error.problem)
    except (OperationalError, ProgrammingError) as error:
        fail(_database_failure(engine, error))
    finally:
        engine.dispose()
