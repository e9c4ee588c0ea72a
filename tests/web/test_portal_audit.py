"""The audit log page through the real site on a real database: newest first in the
workspace's time zone, actions in words, filters by who, what and days, pages, and who
may read it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.audit import list_audit_events, record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace

OWNER = "olga@shop.test"
MARKETER = "marta@shop.test"


@pytest.fixture
def owner(settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    site = TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


def record(engine: Engine, workspace: WorkspaceRef, actor: str, action: str, subject: str,
           at: datetime, **details: object) -> None:  # fmt: skip
    with engine.begin() as conn:
        record_audit(conn, workspace.id, actor, action, subject, dict(details), at)


def text_of(fragment: str) -> str:
    """The words as read: inline marks (span, code) join their neighbours, other tags part."""
    inline = re.sub(r"</?(span|code)\b[^>]*>", "", fragment)
    return " ".join(re.sub(r"<[^>]+>", " ", inline).split())


def audit_rows(html: str) -> list[str]:
    return [text_of(r) for r in re.findall(r'<tr data-testid="audit-row">.*?</tr>', html, re.S)]


@pytest.fixture
def history(engine: Engine, workspace: WorkspaceRef) -> None:
    """Three days of changes (23:30 UTC on the 20th is already the 21st in Warsaw)."""
    record(
        engine,
        workspace,
        "user:ola@shop.test",
        "segment.saved",
        "segment VIP",
        datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        expression='tags contains "vip"',
    )
    record(
        engine,
        workspace,
        "key:shop backend",
        "api_key.revoked",
        "api key 3f9a",
        datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
    )
    record(engine, workspace, "cli:root", "frobnicator.tuned", "thing #4",
           datetime(2026, 11, 22, 12, 0, tzinfo=UTC), level=3)  # fmt: skip


def test_the_log_reads_newest_first_in_words_and_the_workspaces_time(
    owner: TestClient, history: None
) -> None:
    page = owner.get("/settings/audit").text
    rows = audit_rows(page)
    unknown, revoked, saved, created = rows  # newest recorded first
    assert "created the workspace" in created
    assert "command line (root)" in unknown and "frobnicator.tuned" in unknown  # as it is
    assert "level: 3" in unknown and "thing #4" in unknown
    assert "API key “shop backend”" in revoked and "revoked an API key" in revoked
    assert "Nov 21, 2026, 12:30:00" in revoked  # Warsaw time
    assert "ola@shop.test" in saved and "saved a segment" in saved
    assert 'expression: tags contains "vip"' in saved.replace("&#34;", '"')


def test_filters_by_who_what_and_days(owner: TestClient, history: None) -> None:
    by_actor = audit_rows(owner.get("/settings/audit", params={"actor": "key:shop backend"}).text)
    assert len(by_actor) == 1 and "revoked an API key" in by_actor[0]

    by_action = audit_rows(owner.get("/settings/audit", params={"action": "segment.saved"}).text)
    assert len(by_action) == 1 and "saved a segment" in by_action[0]

    form = owner.get("/settings/audit").text
    assert '<option value="frobnicator.tuned"' in form  # a code found in the log is offered
    assert '<option value="key:shop backend">API key “shop backend”</option>' in form

    one_day = owner.get("/settings/audit", params={"since": "2026-11-21", "until": "2026-11-21"})
    [row] = audit_rows(one_day.text)
    assert "revoked an API key" in row  # the 21st in Warsaw, though the 20th in UTC
    assert audit_rows(owner.get("/settings/audit", params={"until": "2026-11-20"}).text)[0] \
        .count("saved a segment") == 1  # fmt: skip
    none = owner.get("/settings/audit", params={"since": "2026-12-01"}).text
    assert "No entries match these filters." in none


def test_a_bad_day_is_named_beside_its_field(owner: TestClient, history: None) -> None:
    bad = owner.get("/settings/audit", params={"since": "yesterday"})
    assert bad.status_code == 422
    assert 'id="since-error"' in bad.text and "Enter a date" in bad.text
    assert 'value="yesterday"' in bad.text
    backwards = owner.get("/settings/audit", params={"since": "2026-11-22", "until": "2026-11-20"})
    assert 'id="until-error"' in backwards.text
    assert "The last day comes before the first day." in backwards.text


def test_the_log_is_paged_keeping_its_filters(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    for n in range(60):
        record(engine, workspace, "user:ola@shop.test", "segment.saved", f"segment S{n}",
               now - timedelta(minutes=60 - n))  # fmt: skip
    first = owner.get("/settings/audit", params={"action": "segment."}).text
    rows = audit_rows(first)
    assert len(rows) == 50 and "segment S59" in rows[0]
    older = re.search(r'<a href="([^"]+)" data-testid="older">', first)
    assert older and "action=segment." in older.group(1)
    second = audit_rows(owner.get(older.group(1).replace("&amp;", "&")).text)
    assert len(second) == 10 and "segment S9" in second[0] and "segment S0" in second[-1]


def test_other_workspaces_entries_are_not_shown(
    owner: TestClient, engine: Engine, now: datetime
) -> None:
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="test", now=now)
    record(engine, other, "user:x@other.test", "segment.saved", "segment Secret", now)
    page = owner.get("/settings/audit").text
    assert "Secret" not in page and "x@other.test" not in page


def test_a_marketer_may_not_read_the_log(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, history: None
) -> None:
    site = TestClient(build_site(settings, engine, Clock(now)))
    make_user(engine, [workspace], MARKETER, role="marketer", now=now)
    sign_in(site, MARKETER)
    refused = site.get("/settings/audit")
    assert refused.status_code == 403 and "shop backend" not in refused.text


def test_the_engine_filters_by_moment_and_keeps_the_apis_paging(
    engine: Engine, workspace: WorkspaceRef, history: None
) -> None:
    every = list_audit_events(engine, workspace.id, before=0, limit=10)
    assert [e["action"] for e in every] == [
        "frobnicator.tuned", "api_key.revoked", "segment.saved", "workspace.created"
    ]  # fmt: skip
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    until = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    between = list_audit_events(engine, workspace.id, before=0, limit=10, since=since, until=until)
    assert [e["action"] for e in between] == ["api_key.revoked"]  # until is exclusive
    page = list_audit_events(engine, workspace.id, before=every[0]["id"], limit=1)
    assert [e["action"] for e in page] == ["api_key.revoked"]
