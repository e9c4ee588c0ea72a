"""`smscast keywords link`, `numbers set-reply`, `tickets assign` and `tickets reopen` as
an operator types them, with a second workspace beside ours to make sure its campaign and
its people stay out of reach."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from smscast.channels.base import InboundMessage
from smscast.cli import app
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import show_ticket
from smscast.store.messaging_models import Campaign, Connector, Message
from smscast.store.models import table_of

runner = CliRunner()
NUMBER = "+48500100200"
PHONE = "+48600100200"
messages = table_of(Message)


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--workspace", "Shop"])
    return result.exit_code, result.output


@pytest.fixture
def cli_env(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine,
    workspace: WorkspaceRef, now: datetime,
) -> int:  # fmt: skip
    """Our workspace "Shop" with a connector and NUMBER; returns the connector id."""
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    connectors = table_of(Connector)
    with engine.begin() as conn:
        connector_id = int(conn.execute(insert(connectors).values(
            workspace_id=workspace.id, name="sim", kind="smpp", settings={}, rate_per_s=100.0,
            window=10, enabled=True, created_at=now,
        ).returning(connectors.c.id)).scalar_one())  # fmt: skip
    code, out = run("numbers", "add", NUMBER, "--connector", "sim", "--brand", "Shop")
    assert code == 0, out
    return connector_id


def _campaign(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    campaigns = table_of(Campaign)
    with engine.begin() as conn:
        return int(conn.execute(insert(campaigns).values(
            workspace_id=workspace.id, name="pizza week", status="draft", purpose="promotional",
            segment_expression="", number_id=None, schedule={}, options={}, excluded={},
            created_by="t", created_at=now,
        ).returning(campaigns.c.id)).scalar_one())  # fmt: skip


def _answers(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(messages.c.body).where(messages.c.direction == "out").order_by(messages.c.id)
        ).scalars())  # fmt: skip


def test_keywords_link_only_to_our_own_campaigns(
    cli_env: int, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    ours = _campaign(engine, workspace, now)
    theirs = _campaign(engine, create_workspace(engine, "Other", "PL", "Europe/Warsaw",
                                                actor="t", now=now), now)  # fmt: skip
    code, out = run("keywords", "add", "PIZZA", "--number", NUMBER, "--reply", "Yum",
                    "--campaign", str(theirs))  # fmt: skip
    assert code == 1 and f"no campaign #{theirs} in this workspace" in out
    assert json.loads(run("keywords", "list", "--json")[1]) == []

    code, out = run("keywords", "add", "PIZZA", "--number", NUMBER, "--reply", "Yum",
                    "--campaign", str(ours), "--json")  # fmt: skip
    assert code == 0, out
    rule = json.loads(out)
    assert rule["campaign_id"] == ours
    code, out = run("keywords", "link", str(rule["id"]), str(theirs))
    assert code == 1 and f"no campaign #{theirs} in this workspace" in out
    code, out = run("keywords", "link", str(rule["id"]), "-")
    assert code == 0 and f"Rule #{rule['id']} is linked to no campaign" in out
    assert json.loads(run("keywords", "list", "--json")[1])[0]["campaign_id"] is None
    code, out = run("keywords", "link", str(rule["id"]), str(ours))
    assert code == 0 and f"now answers campaign #{ours}" in out
    assert json.loads(run("keywords", "list", "--json")[1])[0]["campaign_id"] == ours
    code, out = run("keywords", "link", "999", str(ours))
    assert code == 1 and "no keyword rule #999" in out


def test_numbers_set_reply_answers_texts_matching_no_keyword_until_off(
    cli_env: int, engine: Engine, settings: Settings, now: datetime
) -> None:
    code, out = run("numbers", "set-reply", NUMBER, "Hi {{ nickname }}")
    assert code == 1 and "unknown variable 'nickname'" in out
    code, out = run("numbers", "set-reply", NUMBER)
    assert code == 1 and "give either a TEMPLATE or --off" in out
    code, out = run("numbers", "set-reply", NUMBER, "Thanks! {{ sender }} answers soon.")
    assert code == 0, out
    handle_inbound(engine, settings, cli_env, InboundMessage(PHONE, NUMBER, "Open today?", now))
    assert _answers(engine) == ["Thanks! Shop answers soon."]

    code, out = run("numbers", "set-reply", NUMBER, "--off")
    assert code == 0 and "no longer answers" in out
    later = now + timedelta(minutes=1)
    handle_inbound(engine, settings, cli_env, InboundMessage(PHONE, NUMBER, "Hello?", later))
    assert _answers(engine) == ["Thanks! Shop answers soon."]
    code, out = run("numbers", "report", NUMBER, "--json")
    report = json.loads(out)
    # The first text was answered by the default rule; the second went to the inbox.
    assert (report["inbound"], report["responses"], report["tickets_opened"]) == (2, 2, 1)
    assert report["by_route"] == {"default": 1, "ticket": 1}


def test_tickets_assign_to_members_who_answer_and_reopen(
    cli_env: int, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    add_member: Callable[..., None],
) -> None:
    result = handle_inbound(engine, settings, cli_env,
                            InboundMessage(PHONE, NUMBER, "Where is my order?", now))  # fmt: skip
    ticket = str(result.ticket_id)
    add_member(engine, workspace, "ola@shop.pl", "agent", now)
    add_member(engine, workspace, "vic@shop.pl", "viewer", now)
    code, out = run("tickets", "assign", ticket, "ola")
    assert code == 1 and '"ola" is not a member of this workspace' in out
    code, out = run("tickets", "assign", ticket, "vic@shop.pl")
    assert code == 1 and "vic@shop.pl is a viewer, who may not answer tickets" in out
    code, out = run("tickets", "assign", ticket, "Ola@Shop.pl")
    assert code == 0, out
    assert show_ticket(engine, workspace, int(ticket))["assignee"] == "ola@shop.pl"

    code, out = run("tickets", "reopen", ticket)
    assert code == 1 and f"ticket #{ticket} is open, not solved" in out
    assert run("tickets", "solve", ticket)[0] == 0
    code, out = run("tickets", "reopen", ticket)
    assert code == 0 and f"Ticket #{ticket} is open again" in out
    shown = show_ticket(engine, workspace, int(ticket))
    assert shown["state"] == "open"
    [note] = [i for i in shown["thread"] if i["type"] == "note"]
    assert note["body"] == f"Reopened by {note['author']}"



def test_an_automatic_answer_may_greet_by_first_name_before_any_contact_has_one(
    cli_env: int,
) -> None:
    code, out = run("numbers", "set-reply", NUMBER,
                    'Hi {{ first_name | default("there") }}, we answer soon')  # fmt: skip
    assert code == 0, out
