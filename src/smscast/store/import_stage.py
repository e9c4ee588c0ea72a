"""Staged import rows and the set-based merge of one batch of them into contacts and consent.

Parsing workers write the rows of each block of a CSV file to a small SQLite
file of their own (`write_stage`). The writer copies one batch at a time into the
TEMP table `import_stage` and merges it with a few INSERT … SELECT / UPDATE
statements, so per-row work runs inside the database, not in Python. The SQL is
the same on SQLite and PostgreSQL; only how a batch is loaded (ATTACH on SQLite,
an executemany on PostgreSQL) and the JSON cast differ.

Consent is staged per channel an import can speak for (SMS, email, WhatsApp): the
columns `consent`, `wanted`, `status`, `warn` are SMS's, and the same names with a
`_email` / `_whatsapp` suffix the other channels'. Each channel's consent is merged
by the same statements, run once per channel whose column the file has. The stage
files carry the WhatsApp and per-channel consent columns only for a file that has
one of them (`stage_columns`): binding five more values per row cost a file without
them a fifth of its parsing time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

_BASE_COLUMNS = (
    "row_no", "phone", "country", "attributes", "language", "timezone", "tz_given", "email",
    "tags", "consent", "wanted",
)  # fmt: skip
#: Staged only when the file has a WhatsApp or per-channel consent column.
CHANNEL_COLUMNS = (
    "whatsapp", "consent_email", "wanted_email", "consent_whatsapp", "wanted_whatsapp",
)  # fmt: skip
_TAIL_COLUMNS = ("hash", "dup_of")
STAGE_COLUMNS = (*_BASE_COLUMNS, *CHANNEL_COLUMNS, *_TAIL_COLUMNS)
StageRow = tuple[Any, ...]  # values in the order of the import's `stage_columns`
_INTEGER_COLUMNS = frozenset({"row_no", "tz_given", "dup_of"})


def stage_columns(channels: bool) -> tuple[str, ...]:
    """The columns a stage file has: with the channel columns when `channels`."""
    return STAGE_COLUMNS if channels else (*_BASE_COLUMNS, *_TAIL_COLUMNS)


def _stage_file_ddl(columns: Sequence[str]) -> str:
    typed = ", ".join(f"{c} {'INTEGER' if c in _INTEGER_COLUMNS else 'TEXT'}" for c in columns)
    return f"CREATE TABLE rows (seq INTEGER PRIMARY KEY, {typed})"


_BATCH_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS import_stage (seq INTEGER PRIMARY KEY, row_no BIGINT, "
    "phone TEXT, country TEXT, attributes TEXT, language TEXT, timezone TEXT, tz_given INTEGER, "
    "email TEXT, tags TEXT, consent TEXT, wanted TEXT, whatsapp TEXT, consent_email TEXT, "
    "wanted_email TEXT, consent_whatsapp TEXT, wanted_whatsapp TEXT, hash TEXT, "
    "contact_id BIGINT, existed INTEGER NOT NULL DEFAULT 0, skip INTEGER NOT NULL DEFAULT 0, "
    "status TEXT, warn INTEGER NOT NULL DEFAULT 0, status_email TEXT, "
    "warn_email INTEGER NOT NULL DEFAULT 0, status_whatsapp TEXT, "
    "warn_whatsapp INTEGER NOT NULL DEFAULT 0)"
)
PURPOSE = "promotional"
#: The suffix of each channel's consent columns in the stage (see the module docstring).
CONSENT_SUFFIX = {"sms": "", "email": "_email", "whatsapp": "_whatsapp"}


def write_stage(path: str, rows: list[StageRow], columns: Sequence[str] = STAGE_COLUMNS) -> None:
    """Writes a block's rows (seq 1, 2, …) to a new stage file; durability is not needed."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        db.execute(_stage_file_ddl(columns))
        marks = ", ".join("?" * len(columns))
        db.executemany(f"INSERT INTO rows ({', '.join(columns)}) VALUES ({marks})", rows)
        db.execute("COMMIT")


@dataclass(slots=True)
class StageReader:
    """Loads batches of one stage file into `import_stage` on the writer's connection.

    `columns`: the file's (`stage_columns`); the others stay NULL in `import_stage`.
    """

    conn: Connection
    path: str
    columns: Sequence[str] = STAGE_COLUMNS
    _source: sqlite3.Connection | None = None

    def __enter__(self) -> StageReader:
        if self.conn.dialect.name == "sqlite":
            self.conn.exec_driver_sql("ATTACH DATABASE ? AS stage", (self.path,))
        else:
            self._source = sqlite3.connect(self.path)
        self.conn.commit()
        return self

    def __exit__(self, *_: object) -> None:
        if self._source is not None:
            self._source.close()
        else:
            self.conn.rollback()
            self.conn.exec_driver_sql("DETACH DATABASE stage")
            self.conn.commit()

    def duplicates(self, start: int, end: int) -> list[tuple[int, str, int]]:
        """(row, phone, first row) of rows repeating a phone seen earlier in the block."""
        sql = "SELECT row_no, phone, dup_of FROM {} WHERE seq > ? AND seq <= ? AND dup_of >= 0"
        return self._read(sql, (start, end))

    def load(self, start: int, end: int) -> None:
        """Replaces the content of `import_stage` by the batch's rows that are not repeats."""
        self.conn.exec_driver_sql("DELETE FROM import_stage")
        where = "WHERE seq > ? AND seq <= ? AND dup_of < 0"
        loaded = ", ".join(("seq", *(c for c in self.columns if c != "dup_of")))
        if self._source is None:
            self.conn.exec_driver_sql(
                f"INSERT INTO import_stage ({loaded}) SELECT {loaded} FROM stage.rows {where}",
                (start, end),
            )
            return
        rows = self._read(f"SELECT {loaded} FROM {{}} {where}", (start, end))
        if rows:
            marks = ", ".join(["%s"] * len(rows[0]))
            self.conn.exec_driver_sql(f"INSERT INTO import_stage ({loaded}) VALUES ({marks})", rows)

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._source is None:
            marked = sql.format("stage.rows")
            return [tuple(row) for row in self.conn.exec_driver_sql(marked, tuple(params))]
        return self._source.execute(sql.format("rows"), params).fetchall()


def prepare_batches(conn: Connection) -> None:
    """Creates this connection's `import_stage` table (TEMP: private to the connection).

    On SQLite, also turns this connection's foreign-key checks off until
    `drop_batches`: they cost a sixth of the merge, and every reference a batch
    writes comes, within the same write transaction, from a row it joins (the
    contact) or that `workspace_exists` has just found (the workspace).
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.exec_driver_sql(_BATCH_DDL)
    conn.commit()


def drop_batches(conn: Connection) -> None:
    conn.rollback()
    conn.exec_driver_sql("DROP TABLE IF EXISTS import_stage")
    conn.commit()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def workspace_exists(conn: Connection, workspace_id: int) -> bool:
    found = conn.execute(text("SELECT 1 FROM workspaces WHERE id = :ws"), {"ws": workspace_id})
    return found.first() is not None


def skip_erased(conn: Connection, workspace_id: int) -> list[tuple[int, str]]:
    """Marks rows whose phone hash is an erased person's; returns their (row, phone)."""
    conn.execute(
        text(
            "UPDATE import_stage SET skip = 1 WHERE hash IN "
            "(SELECT phone_hash FROM erased_phones WHERE workspace_id = :ws)"
        ),
        {"ws": workspace_id},
    )
    return _pairs(conn, "SELECT row_no, phone FROM import_stage WHERE skip = 1 ORDER BY seq")


def last_id(conn: Connection, table: str) -> int:
    """The largest id in `table`: rows added after this point have larger ones."""
    return int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one())


def unmerged_count(conn: Connection) -> int:
    return int(
        conn.exec_driver_sql("SELECT count(*) FROM import_stage WHERE skip = 0").scalar_one()
    )


def stored_matches(
    conn: Connection, workspace_id: int, job_id: int, before: int
) -> list[tuple[Any, ...]]:
    """Rows whose phone was a contact before this batch: the row's values, then the
    stored ones. The batch's own new contacts (ids after `before`, marked with this
    import) are left out; one another writer added meanwhile is not."""
    return [
        tuple(row)
        for row in conn.execute(
            text(
                "SELECT s.seq, s.row_no, s.phone, s.country, s.attributes, s.language, "
                "s.timezone, s.tz_given, s.email, s.tags, s.whatsapp, c.id, c.attributes, "
                "c.language, c.timezone, c.email, c.tags, c.whatsapp, c.last_import_id "
                "FROM import_stage s "
                "JOIN contacts c ON c.workspace_id = :ws AND c.phone = s.phone "
                "WHERE s.skip = 0 AND NOT (c.id > :before AND c.last_import_id = :job) "
                "ORDER BY s.seq"
            ),
            {"ws": workspace_id, "before": before, "job": job_id},
        )
    ]


def mark_stored(conn: Connection, rows: list[tuple[int, int, int]]) -> None:
    """(contact id, skip 0/1, seq): rows that matched a stored contact."""
    if rows:
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"UPDATE import_stage SET existed = 1, contact_id = {marker}, skip = {marker} "
            f"WHERE seq = {marker}",
            rows,
        )


def insert_new_contacts(conn: Connection, workspace_id: int, job_id: int, moment: Any) -> int:
    """Inserts a contact for every row whose phone has none; returns how many were created."""
    attributes, tags = _json(conn, "attributes"), _json(conn, "tags")
    created = conn.execute(
        text(
            "INSERT INTO contacts (workspace_id, phone, country, attributes, language, "
            "timezone, email, whatsapp, tags, created_at, updated_at, last_import_id) "
            f"SELECT :ws, phone, country, {attributes}, language, timezone, email, whatsapp, "
            f"{tags}, :now, :now, :job FROM import_stage WHERE skip = 0 ORDER BY seq "
            "ON CONFLICT (workspace_id, phone) DO NOTHING"
        ),
        {"ws": workspace_id, "now": moment, "job": job_id},
    ).rowcount
    return int(created)


def refused_opt_ins(
    conn: Connection, with_source: bool, channel: str = "sms"
) -> list[tuple[int, str]]:
    """Marks opt-ins on `channel` the import may not record; returns their (row, phone).

    Without a consent source no opt-in may be recorded; with one, an opt-out
    still stands (an opt-out "from everything" included: its state is each channel's).
    A row already matching the stored status changes nothing.
    """
    x = CONSENT_SUFFIX[channel]
    conn.execute(
        text(
            f"UPDATE import_stage SET status{x} = (SELECT st.status FROM consent_states st "
            f"WHERE st.contact_id = import_stage.contact_id AND st.channel = '{channel}' "
            f"AND st.purpose = '{PURPOSE}') WHERE existed = 1 AND skip = 0 "
            f"AND consent{x} IS NOT NULL"
        )
    )
    refused = (
        f"status{x} = 'opted_out'"
        if with_source
        else f"(status{x} IS NULL OR status{x} <> wanted{x})"
    )
    conn.exec_driver_sql(
        f"UPDATE import_stage SET warn{x} = 1 WHERE skip = 0 AND consent{x} = 'opt_in' "
        f"AND {refused}"
    )
    return _pairs(conn, f"SELECT row_no, phone FROM import_stage WHERE warn{x} = 1 ORDER BY seq")


def record_consent_changes(
    conn: Connection, workspace_id: int, evidence: str, actor: str, moment: Any,
    channel: str = "sms",
) -> None:  # fmt: skip
    """Appends a ledger event and sets the state for every row whose consent on `channel`
    changes."""
    x = CONSENT_SUFFIX[channel]
    before = last_id(conn, "consent_events")
    params = {"ws": workspace_id, "evidence": evidence, "actor": actor, "now": moment}
    conn.execute(
        text(
            "INSERT INTO consent_events (workspace_id, contact_id, channel, purpose, action, "
            f"source, evidence, actor, occurred_at) SELECT :ws, c.id, '{channel}', '{PURPOSE}', "
            f"s.consent{x}, 'import', :evidence, :actor, :now FROM import_stage s "
            "JOIN contacts c ON c.workspace_id = :ws AND c.phone = s.phone "
            f"WHERE s.skip = 0 AND s.warn{x} = 0 AND s.consent{x} IS NOT NULL "
            f"AND (s.status{x} IS NULL OR s.status{x} <> s.wanted{x}) ORDER BY s.seq"
        ),
        params,
    )
    conn.execute(
        text(
            "INSERT INTO consent_states (contact_id, channel, purpose, status, event_id, "
            "changed_at) SELECT contact_id, channel, purpose, CASE action WHEN 'opt_in' THEN "
            "'opted_in' ELSE 'opted_out' END, id, occurred_at FROM consent_events "
            "WHERE id > :before AND workspace_id = :ws AND source = 'import' "
            "AND evidence = :evidence AND actor = :actor AND occurred_at = :now "
            "ON CONFLICT (contact_id, channel, purpose) DO UPDATE SET "
            "status = excluded.status, event_id = excluded.event_id, "
            "changed_at = excluded.changed_at"
        ),
        {**params, "before": before},
    )


def _json(conn: Connection, column: str) -> str:
    return column if conn.dialect.name == "sqlite" else f"CAST({column} AS JSONB)"


def _pairs(conn: Connection, sql: str) -> list[tuple[int, str]]:
    return [(int(row), str(phone)) for row, phone in conn.exec_driver_sql(sql)]
