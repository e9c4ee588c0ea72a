"""Creating and migrating the schema with Alembic, from code (no alembic.ini needed)."""

from __future__ import annotations

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
    with engine.begin() as connection:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
        heads = MigrationContext.configure(connection).get_current_heads()
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
