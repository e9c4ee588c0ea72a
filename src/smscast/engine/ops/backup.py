"""Backups of the whole database, taken and restored while it is in use.

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies the database
in one step inside one read transaction, so the copy is the database as of one moment
even while `smscast serve` and `smscast worker` write (in WAL mode a reader does not
hold writers up). The copy is written beside the target and renamed over it once it is
whole and checked, and it is left in rollback-journal mode: one self-contained file.
A restore goes through the same API into the live file, never a file copy over an open
WAL database (whose -wal and -shm files would no longer match it).

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists`, given the
database URL's connection parameters as a libpq URI and the password in `PGPASSWORD`
(never on a command line, where `ps` shows it). A URL whose `options` set a
`search_path` puts smscast in that schema: only that schema is dumped.

A restore replaces every row under the feet of running workers, so it is refused while
a worker holds a live connector lease (the server holds them too when it sends),
unless forced.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from smscast.core.errors import UserError
from smscast.engine.ops.readiness import SchemaState, current_revisions, newest_revisions
from smscast.store.db import BUSY_TIMEOUT_S, create_db_engine
from smscast.store.messaging_models import Connector
from smscast.store.models import table_of

connectors = table_of(Connector)

#: Tables whose row counts a backup's summary shows: what a person recognises.
COUNTED_TABLES = ("contacts", "campaigns", "messages")
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
PG_CLIENT_PACKAGE = "postgresql-client"
QUOTE = '"'


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup or a restore wrote, for the operator to check at a glance."""

    path: Path
    size: int  # bytes of the backup file
    database: str  # sqlite, postgresql
    schema: SchemaState  # the revision the backup holds, against this code's newest
    tables: int
    rows: dict[str, int] = field(default_factory=dict)  # COUNTED_TABLES (SQLite only)


@dataclass(frozen=True, slots=True)
class LiveLease:
    """A connector side a worker holds now."""

    worker: str
    connector: str
    side: str  # sending, receiving
    until: datetime


# -- both databases --------------------------------------------------------------------


def backup_database(url: str, target: Path, *, force: bool = False) -> BackupSummary:
    """Writes a consistent backup of the database at `url` to `target`.

    Refuses an existing `target` unless `force`; never leaves a half-written one.
    """
    target = Path(target)
    if target.is_dir():
        raise UserError.of("backup_is_folder", f"{target} is a folder: name a file to write")
    if target.exists() and not force:
        raise UserError.of(
            "backup_exists", f"{target} exists: pass --force to overwrite it, or name another file"
        )
    if not target.parent.is_dir():
        raise UserError.of("backup_folder_missing", f"no folder {target.parent} to write into")
    if make_url(url).get_backend_name() == "sqlite":
        return _backup_sqlite(_sqlite_path(url), target)
    return _backup_postgres(url, target)


def restore_database(
    url: str, source: Path, *, now: datetime, force: bool = False
) -> BackupSummary:
    """Replaces the database at `url` with the backup in `source`.

    Refuses while a worker holds a live connector lease (see `live_leases`) unless
    `force`. The summary's schema says whether `smscast db upgrade` is needed after.
    """
    source = Path(source)
    if not source.is_file():
        raise UserError.of("backup_missing", f"no backup file at {source}")
    sqlite = make_url(url).get_backend_name() == "sqlite"
    _check_format(source, sqlite)
    if not force:
        _refuse_live_leases(url, now)
    if sqlite:
        return _restore_sqlite(source, _sqlite_path(url, must_exist=False))
    return _restore_postgres(url, source)


def live_leases(conn: Connection, now: datetime) -> list[LiveLease]:
    """Connector sides a worker holds at `now` (the server holds them when it sends).

    Reads a database at any revision: one without connectors has no leases, and one from
    before receiving leases (revision 0020) has only the sending ones.
    """
    schema = inspect(conn)
    if not schema.has_table("connectors"):
        return []
    sides = [("sending", connectors.c.lease_owner, connectors.c.lease_until)]
    if "receive_owner" in {column["name"] for column in schema.get_columns("connectors")}:
        sides.append(("receiving", connectors.c.receive_owner, connectors.c.receive_until))
    found = []
    for side, owner, until in sides:
        rows = conn.execute(
            select(connectors.c.name, owner, until)
            .where(owner.is_not(None), until > now)
            .order_by(connectors.c.id)
        ).all()
        found += [LiveLease(worker, name, side, held_until) for name, worker, held_until in rows]
    return found


def _refuse_live_leases(url: str, now: datetime) -> None:
    if (
        make_url(url).get_backend_name() == "sqlite"
        and not _sqlite_path(url, must_exist=False).exists()
    ):
        return  # restoring onto a new machine: nothing runs on a database not there yet
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            leases = live_leases(conn, now)
    except SQLAlchemyError as error:
        raise UserError.of(
            "database_unreadable",
            "cannot read the database to check that no worker runs on it: "
            f"{getattr(error, 'orig', None) or error} (pass --force to restore anyway)",
        ) from error
    finally:
        engine.dispose()
    if not leases:
        return
    by_worker: dict[str, list[str]] = {}
    for lease in leases:
        by_worker.setdefault(lease.worker, []).append(f"{lease.connector} ({lease.side})")
    held = "; ".join(f"{worker} holds {', '.join(sides)}" for worker, sides in by_worker.items())
    last = max(lease.until for lease in leases)
    raise UserError.of(
        "workers_running",
        f"workers are running on this database: {held}. Stop `smscast serve` and every "
        f"`smscast worker` first (their leases end by {last.isoformat(timespec='seconds')} "
        "once they stop renewing them), or pass --force to restore under them",
    )


def _check_format(source: Path, sqlite: bool) -> None:
    with source.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    if sqlite and head.startswith(PG_CUSTOM_MAGIC):
        raise UserError.of(
            "backup_wrong_database",
            f"{source} is a PostgreSQL backup (pg_dump's custom format); this database is "
            "SQLite: restore it with SMSCAST_DATABASE_URL set to a PostgreSQL database",
        )
    if not sqlite and head == SQLITE_MAGIC:
        raise UserError.of(
            "backup_wrong_database",
            f"{source} is a SQLite backup; this database is PostgreSQL: restore it with "
            "SMSCAST_DATABASE_URL set to a sqlite:/// path",
        )
    if sqlite and head != SQLITE_MAGIC:
        raise UserError.of(
            "backup_not_sqlite", f"{source} is not a SQLite database (nor a smscast backup)"
        )
    if not sqlite and not head.startswith(PG_CUSTOM_MAGIC):
        raise UserError.of(
            "backup_not_custom_format",
            f"{source} is not a pg_dump custom-format archive (`smscast db backup` writes "
            "those; a plain SQL dump is restored with psql)",
        )


@contextmanager
def _partial_file(target: Path) -> Iterator[Path]:
    """A file beside `target` to write into; renamed over `target` only when all went well."""
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        yield partial
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


# -- SQLite ----------------------------------------------------------------------------


def _sqlite_path(url: str, *, must_exist: bool = True) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise UserError.of(
            "backup_unsupported_url",
            f"cannot back up or restore {url}: give SMSCAST_DATABASE_URL as sqlite:///path",
        )
    path = Path(database)
    if must_exist and not path.is_file():
        raise UserError.of(
            "database_missing",
            f"no database at {path.resolve()}: check SMSCAST_DATABASE_URL "
            "(`smscast db upgrade` creates one)",
        )
    return path


def _connect_sqlite(path: Path, mode: str) -> sqlite3.Connection:
    """`mode` ro or rw: neither creates a missing file, as a plain connect would."""
    return sqlite3.connect(
        f"{path.resolve().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_S
    )


def _backup_sqlite(database: Path, target: Path) -> BackupSummary:
    if target.exists() and target.resolve() == database.resolve():
        raise UserError.of("backup_is_database", f"{target} is the database itself")
    with _partial_file(target) as partial:
        try:
            with (
                closing(_connect_sqlite(database, "rw")) as live,
                closing(sqlite3.connect(partial)) as copy,
            ):
                live.backup(copy)  # all pages in one step: one read transaction, one moment
                copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
                _check_sqlite(copy, target)
                summary = _summarise_sqlite(copy)
        except sqlite3.Error as error:
            raise UserError.of("backup_failed", f"backing up {database} failed: {error}") from error
    return BackupSummary(target, target.stat().st_size, "sqlite", *summary)


def _restore_sqlite(source: Path, database: Path) -> BackupSummary:
    if database.exists() and source.resolve() == database.resolve():
        raise UserError.of("backup_is_database", f"{source} is the database itself")
    try:
        with closing(_connect_sqlite(source, "ro")) as backup:
            _check_sqlite(backup, source)
            if not inspect_sqlite_tables(backup) & {"alembic_version"}:
                raise UserError.of(
                    "backup_not_smscast",
                    f"{source} is a SQLite database but not smscast's (no alembic_version)",
                )
            database.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(database, timeout=BUSY_TIMEOUT_S)) as live:
                backup.backup(live)  # takes the live file's write lock for the one step
                live.execute("PRAGMA journal_mode=WAL")  # a new file: as the server sets it
                summary = _summarise_sqlite(live)
    except sqlite3.Error as error:
        raise UserError.of(
            "restore_failed", f"restoring {source} into {database} failed: {error}"
        ) from error
    return BackupSummary(source, source.stat().st_size, "sqlite", *summary)


def _check_sqlite(db: sqlite3.Connection, path: Path) -> None:
    problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise UserError.of("backup_damaged", f"{path} is damaged: {'; '.join(problems[:5])}")


def inspect_sqlite_tables(db: sqlite3.Connection) -> set[str]:
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(name) for (name,) in rows}


def _summarise_sqlite(db: sqlite3.Connection) -> tuple[SchemaState, int, dict[str, int]]:
    tables = inspect_sqlite_tables(db)
    current: tuple[str, ...] = ()
    if "alembic_version" in tables:
        found = db.execute("SELECT version_num FROM alembic_version").fetchall()
        current = tuple(sorted(str(revision) for (revision,) in found))
    rows = {
        name: int(db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        for name in COUNTED_TABLES
        if name in tables
    }
    return SchemaState(current, newest_revisions()), len(tables), rows


# -- PostgreSQL ------------------------------------------------------------------------


def _libpq(url: str) -> tuple[str, dict[str, str], list[str]]:
    """The URL as a libpq URI without its password, the environment carrying the password,
    and `--schema` when the URL's `options` set a search_path."""
    parsed = make_url(url)
    uri = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    ).render_as_string(hide_password=False)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    options = parsed.query.get("options", "")
    found = re.search(r"-c\s*search_path\s*=\s*([^\s,]+)", " ".join(
        [options] if isinstance(options, str) else list(options)
    ))  # fmt: skip
    schema = [f"--schema={found.group(1).strip(QUOTE)}"] if found else []
    return uri, env, schema


def _by_hand(url: str, args: list[str]) -> str:
    """The command an operator can run, the password left for them to give."""
    password = "PGPASSWORD=<the database password> " if make_url(url).password else ""
    return password + shlex.join(args)


def _client(program: str, url: str, args: list[str]) -> str:
    found = shutil.which(program)
    if found is None:
        raise UserError.of(
            "pg_client_missing",
            f"{program} is not installed: install Debian's {PG_CLIENT_PACKAGE} package "
            f"(`sudo apt-get install {PG_CLIENT_PACKAGE}`, the same major version as the "
            f"server) and run this again, or run by hand: {_by_hand(url, args)}",
        )
    return found


def _run(program: str, url: str, args: list[str], env: dict[str, str]) -> None:
    path = _client(program, url, args)
    done = subprocess.run([path, *args[1:]], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip() or "no message"
        raise UserError.of(
            f"{program}_failed",
            f"{program} failed (exit {done.returncode}): {said}",
        )


def _backup_postgres(url: str, target: Path) -> BackupSummary:
    uri, env, schema = _libpq(url)
    shown = ["pg_dump", "--format=custom", f"--file={target}", *schema, f"--dbname={uri}"]
    _client("pg_dump", url, shown)  # before writing anything
    with _partial_file(target) as partial:
        _run("pg_dump", url, [*shown[:2], f"--file={partial}", *shown[3:]], env)
        tables = _archive_tables(partial, url, env)
    return BackupSummary(target, target.stat().st_size, "postgresql", _postgres_schema(url), tables)


def _restore_postgres(url: str, source: Path) -> BackupSummary:
    uri, env, _ = _libpq(url)
    args = [
        "pg_restore", "--clean", "--if-exists", "--single-transaction",
        f"--dbname={uri}", str(source),
    ]  # fmt: skip
    _run("pg_restore", url, args, env)
    return BackupSummary(
        source,
        source.stat().st_size,
        "postgresql",
        _postgres_schema(url),
        _archive_tables(source, url, env),
    )


def _archive_tables(archive: Path, url: str, env: dict[str, str]) -> int:
    """How many tables' data the archive holds, from its own table of contents."""
    args = ["pg_restore", "--list", str(archive)]
    path = _client("pg_restore", url, args)
    done = subprocess.run([path, *args[1:]], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0:
        raise UserError.of(
            "backup_unreadable", f"pg_restore cannot read {archive}: {done.stderr.strip()}"
        )
    return sum(1 for line in done.stdout.splitlines() if " TABLE DATA " in line)


def _postgres_schema(url: str) -> SchemaState:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return SchemaState(current_revisions(conn), newest_revisions())
    finally:
        engine.dispose()
