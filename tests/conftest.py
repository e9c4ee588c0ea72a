"""Real databases for the tests: a fresh SQLite file per test, and PostgreSQL.

PostgreSQL tests run in a schema of their own, migrated once per session and
emptied after each test. Without a server they are skipped with the reason;
with CI=true a missing server fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from smscast.config import Settings
from smscast.engine.accounts import users as users_module
from smscast.engine.accounts.auth import memberships, users
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.store.db import create_db_engine
from smscast.store.migrate import upgrade_database
from smscast.store.schema import metadata

POSTGRES_URL = os.environ.get(
    "SMSCAST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashing() -> Iterator[None]:
    """Argon2 at the product's cost takes 0.2 s a hash (and as long to check) on these
    machines, and the tests sign people in some thousands of times: in this process the
    engine hashes with the lightest Argon2 instead. Still Argon2, still checked; the
    browser tests' `smscast serve` keeps the real cost."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users_module, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                             parallelism=1))  # fmt: skip
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `sqlite_only` keep only their SQLite case (deselected, not skipped);
    browser tests run last, whatever the order the files were given in: the session's
    Playwright browser keeps an event loop running in this thread, and an asyncio test
    after it could not start its own. With pytest-xdist (`./dev test` runs a worker per
    core) the browser tests stay together on one worker (`--dist loadgroup`), against
    one `smscast serve`."""
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_url") == "postgres"
        (dropped if on_postgres and item.get_closest_marker("sqlite_only") else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    for item in keep:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.xdist_group("browser"))
    items[:] = sorted(keep, key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    schema = f"smscast_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        admin.dispose()
        message = f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} unreachable: {error}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    upgrade_database(url_text)
    yield url_text
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "smscast.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_schema_url")
    yield url
    engine = create_engine(url)
    tables = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "var", secret_key="test-secret")


@pytest.fixture
def workspace(engine: Engine) -> WorkspaceRef:
    return create_workspace(engine, "Shop", "PL", "Europe/Warsaw", actor="test", now=NOW)


@pytest.fixture
def now() -> datetime:
    """The frozen moment the tests act at."""
    return NOW


AddMember = Callable[[Engine, WorkspaceRef, str, str, datetime], None]


def _add_member(engine: Engine, workspace: WorkspaceRef, email: str, role: str,
                now: datetime) -> None:  # fmt: skip
    """A user with a role in `workspace` (no password needed: nobody signs in here)."""
    with engine.begin() as conn:
        user_id = conn.execute(insert(users).values(
            email=email, name="", password_hash="-", is_active=True, created_at=now,
        ).returning(users.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(memberships).values(
            user_id=user_id, workspace_id=workspace.id, role=role))  # fmt: skip


@pytest.fixture
def add_member() -> AddMember:
    """Adds a member to a workspace: `add_member(engine, workspace, email, role, now)`."""
    return _add_member
