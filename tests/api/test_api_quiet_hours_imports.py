"""Over the API: quiet hours turned off or refused when empty, and why an import failed."""

from __future__ import annotations

from datetime import datetime

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.models import ImportJob, table_of


def test_quiet_hours_off_is_kept_and_null_is_refused_naming_the_setting(
    client: TestClient,
) -> None:
    off = client.patch("/api/v1/workspace", json={"settings": {"quiet_hours": "off"}})
    assert off.status_code == 200, off.text
    assert off.json()["settings"]["quiet_hours"] == "off"
    refused = problem_of(
        client.patch("/api/v1/workspace", json={"settings": {"quiet_hours": None}}), 422
    )
    assert refused["field"] == "quiet_hours"
    assert "quiet_hours cannot be empty" in refused["detail"]
    bad = problem_of(
        client.patch("/api/v1/workspace", json={"settings": {"quiet_hours": "21:00-09:00"}}), 422
    )
    assert bad["field"] == "quiet_hours"
    assert client.get("/api/v1/workspace").json()["settings"]["quiet_hours"] == "off"


def test_a_failed_import_shows_failed_with_its_reason(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    with engine.begin() as conn:  # as contacts_import records an import that gave up
        job_id = conn.execute(
            insert(table_of(ImportJob)).values(
                workspace_id=workspace.id, filename="/nowhere/1a2b-customers.csv",
                status="failed", actor="cli:ala", started_at=now, finished_at=now,
                rows_read=5000, created=5000, failure="OperationalError: database is locked",
            ).returning(table_of(ImportJob).c.id)
        ).scalar_one()  # fmt: skip
    job = client.get(f"/api/v1/contacts/imports/{job_id}").json()
    assert (job["status"], job["created"], job["failure"]) == (
        "failed", 5000, "OperationalError: database is locked"
    )  # fmt: skip
