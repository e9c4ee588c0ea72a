"""Tracked links point where `smscast serve` listens unless the workspace sets `short_domain`."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update
from typer.testing import CliRunner

from smscast.cli import app
from smscast.cli.serve import served_settings
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentState, Contact, Workspace, table_of

BODY = "Sale {{ link('https://shop.example/sale') }}"


def add_opted_in(engine: Engine, workspace: WorkspaceRef, phone: str, now) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        contact_id = conn.execute(insert(table_of(Contact)).values(
            workspace_id=workspace.id, phone=phone, country="PL", attributes={}, language="pl",
            timezone="Europe/Warsaw", email=None, tags=[], created_at=now, updated_at=now,
        ).returning(table_of(Contact).c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(table_of(ConsentState)).values(
            contact_id=contact_id, channel="sms", purpose="promotional", status="opted_in",
            event_id=0, changed_at=now,
        ))  # fmt: skip


def launched_body(engine: Engine, settings: Settings, workspace: WorkspaceRef, now) -> str:  # type: ignore[no-untyped-def]
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="Sale", body=BODY),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                    rng=random.Random(1))  # fmt: skip
    with engine.connect() as conn:
        return str(conn.execute(
            select(table_of(Message).c.body).where(table_of(Message).c.campaign_id == campaign_id)
        ).scalar_one())  # fmt: skip


def test_links_point_at_the_port_serve_listens_on(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now  # type: ignore[no-untyped-def]
) -> None:
    add_opted_in(engine, workspace, "+48600100200", now)
    served = served_settings(settings, "0.0.0.0", 9123)
    assert served.served_url() == "http://127.0.0.1:9123"
    assert launched_body(engine, served, workspace, now).startswith("Sale http://127.0.0.1:9123/l/")


def test_a_workspace_short_domain_wins_over_the_served_address(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now  # type: ignore[no-untyped-def]
) -> None:
    add_opted_in(engine, workspace, "+48600100200", now)
    values = {"short_domain": "https://go.shop.example"}
    with engine.begin() as conn:
        conn.execute(update(table_of(Workspace)).where(table_of(Workspace).c.id == workspace.id)
                     .values(settings=values))  # fmt: skip
    workspace = dataclasses.replace(workspace, settings=values)
    served = served_settings(settings, "127.0.0.1", 9123)
    assert launched_body(engine, served, workspace, now).startswith("Sale https://go.shop.example/l/")


def test_workspace_settings_show_the_link_base_of_the_configured_port(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SMSCAST_HOST", "192.168.1.20")
    monkeypatch.setenv("SMSCAST_PORT", "8080")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    created = runner.invoke(app, ["workspace", "create", "Shop", "--country", "PL",
                                  "--timezone", "Europe/Warsaw"])  # fmt: skip
    assert created.exit_code == 0, created.output
    shown = runner.invoke(app, ["workspace", "settings", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["short_domain"] == "http://192.168.1.20:8080"
