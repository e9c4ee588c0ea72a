"""Creating and migrating the schema with Alembic, from code (no alembic.ini needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from smscast.store.db import create_db_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_engine(engine: Engine) -> str:
    """Migrates the database behind `engine` to the newest revision; returns it."""
    return _migrate(engine, lambda config: command.upgrade(config, "heads"))


def downgrade_engine(engine: Engine, revision: str) -> str:
    """Takes the schema back to `revision` (an operator's way back from a release)."""
    return _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> str:
    """Runs `step` in one transaction; on SQLite with foreign keys off while it runs.

    SQLite changes a constraint by copying the table and dropping the old one, and a
    DROP TABLE with foreign keys on first deletes every row: the children's ON DELETE
    CASCADE would empty delivery reports, carrier ids and clicks. The pragma is a no-op
    inside a transaction, so it is set before; the keys are checked before commit.
    """
    connection = engine.connect()
    sqlite = connection.dialect.name == "sqlite"
    try:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            config = alembic_config(str(engine.url))
            config.attributes["connection"] = connection
            step(config)
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            heads = MigrationContext.configure(connection).get_current_heads()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    except BaseException:
        if sqlite:
            connection.invalidate()  # never pooled with the keys off
        raise
    finally:
        connection.close()
    return ", ".join(sorted(heads)) or "base"


def upgrade_database(url: str) -> str:
    engine = create_db_engine(url)
    try:
        return upgrade_engine(engine)
    finally:
        engine.dispose()


def schema_behind(engine: Engine) -> str | None:
    """Why the database's schema is not the one this code needs, or None when it is.

    Lets an error message suggest `smscast db upgrade` only when that would help:
    no schema at all, or an older (or unknown) revision than the code's newest.
    """
    heads = set(ScriptDirectory.from_config(alembic_config(str(engine.url))).get_heads())
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError:
        return None  # the database cannot be read at all: that error says more
    if not current:
        return "the database has no schema yet"
    if current != heads:
        have, need = ", ".join(sorted(current)), ", ".join(sorted(heads))
        return f"the database schema is at revision {have}, this version needs {need}"
    return None
