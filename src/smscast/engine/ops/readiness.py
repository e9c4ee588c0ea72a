"""Is this process ready for traffic? The database, its schema, and the connectors.

A load balancer or an orchestrator asks every few seconds, so the check is a few small
queries: one round trip to prove the database answers, Alembic's read of
`alembic_version`, and one read of the connectors with their last reported state.

Only the first two decide readiness. A connector that no worker holds, or whose carrier
is down, does not make a web process unfit to serve the API and the portal (texts wait
in the outbox): it is reported so that an operator sees it, not failed on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from smscast.core.connector_state import sending_state
from smscast.store.dispatch_models import ConnectorStateRow
from smscast.store.messaging_models import Connector
from smscast.store.migrate import MIGRATIONS
from smscast.store.models import table_of

connectors = table_of(Connector)
connector_states = table_of(ConnectorStateRow)

UPGRADE_HINT = "run `smscast db upgrade`"


@dataclass(frozen=True, slots=True)
class SchemaState:
    """The database's Alembic revision(s) against the newest this code knows."""

    current: tuple[str, ...]  # empty: no schema at all
    expected: tuple[str, ...]

    @property
    def is_current(self) -> bool:
        return set(self.current) == set(self.expected)

    def problem(self) -> str | None:
        """What is wrong with the schema, in words that say how to fix it; None if nothing."""
        need = ", ".join(self.expected)
        if not self.current:
            return f"the database has no schema yet (this version needs revision {need}): " + (
                UPGRADE_HINT
            )
        if self.is_current:
            return None
        have = ", ".join(self.current)
        unknown = [revision for revision in self.current if not is_known_revision(revision)]
        if unknown:
            return (
                f"the database schema is at revision {have}, which this version of smscast "
                f"does not know (it needs {need}): a newer smscast migrated it; run that version"
            )
        return f"the database schema is at revision {have}, this version needs {need}: " + (
            UPGRADE_HINT
        )


@dataclass(frozen=True, slots=True)
class ConnectorBrief:
    """A connector named in the summary: which one, and in which workspace."""

    id: int
    workspace_id: int
    name: str


@dataclass(frozen=True, slots=True)
class ConnectorSummary:
    """How the connectors stand, across all workspaces.

    `held`: a live worker lease holds the sending side. Of those, `sending` are
    connected, `connecting` have no state from their holder yet, and `down` are held but
    not connected (their holder's last word was a failure). `waiting` are enabled but no
    live worker holds them: nothing sends through them until a worker starts. `paused`
    are switched off by a person.
    """

    total: int = 0
    enabled: int = 0
    paused: int = 0
    held: int = 0
    sending: int = 0
    connecting: int = 0
    down: list[ConnectorBrief] = field(default_factory=list)
    waiting: list[ConnectorBrief] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Readiness:
    """The answer to "may a load balancer send this process traffic?" and why not."""

    ready: bool
    problems: list[str]
    database: str  # the dialect: sqlite, postgresql
    database_ok: bool
    schema: SchemaState | None  # None: the database could not be read
    connectors: ConnectorSummary | None  # None: not read (database or schema not ready)


@functools.cache
def newest_revisions() -> tuple[str, ...]:
    """The head revision(s) of the migrations shipped with this code (read once)."""
    return tuple(sorted(ScriptDirectory(str(MIGRATIONS)).get_heads()))


def is_known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


def current_revisions(conn: Connection) -> tuple[str, ...]:
    """The revision(s) in the database's `alembic_version` (empty: no schema).

    Read directly rather than through Alembic's MigrationContext, which logs two lines
    at INFO each time it is set up: once every few seconds per probe is noise.
    """
    if not inspect(conn).has_table("alembic_version"):
        return ()
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(str(revision) for revision in found))


def check_readiness(engine: Engine, now: datetime) -> Readiness:
    """Reads the database's state; never raises for a database that is down or behind."""
    dialect = engine.dialect.name
    expected = newest_revisions()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
            schema = SchemaState(current_revisions(conn), expected)
            summary = summarise_connectors(conn, now) if schema.is_current else None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return Readiness(
            False, [f"the database does not answer: {reason}"], dialect, False, None, None
        )
    problem = schema.problem()
    return Readiness(problem is None, [problem] if problem else [], dialect, True, schema, summary)


def summarise_connectors(conn: Connection, now: datetime) -> ConnectorSummary:
    """One read of every connector and its holder's last reported state."""
    rows = conn.execute(
        select(
            connectors.c.id,
            connectors.c.workspace_id,
            connectors.c.name,
            connectors.c.enabled,
            connectors.c.lease_owner,
            connectors.c.lease_until,
            connector_states.c.worker,
            connector_states.c.connected,
        )
        .join(
            connector_states,
            connector_states.c.connector_id == connectors.c.id,
            isouter=True,
        )
        .order_by(connectors.c.id)
    ).all()
    total = enabled = paused = held = sending = connecting = 0
    down: list[ConnectorBrief] = []
    waiting: list[ConnectorBrief] = []
    for row in rows:
        total += 1
        brief = ConnectorBrief(row.id, row.workspace_id, row.name)
        # A state reported by an earlier holder says nothing of the current one's.
        reported = row.connected if row.worker == row.lease_owner else None
        state = sending_state(row.enabled, row.lease_owner, row.lease_until, reported, now)
        enabled += state != "paused"
        held += state in ("sending", "connecting", "down")
        if state == "paused":
            paused += 1
        elif state == "waiting":
            waiting.append(brief)
        elif state == "connecting":
            connecting += 1
        elif state == "sending":
            sending += 1
        else:
            down.append(brief)
    return ConnectorSummary(total, enabled, paused, held, sending, connecting, down, waiting)
