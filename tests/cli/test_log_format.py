"""The log an operator reads or ships: text lines by default, JSON lines on request."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from smscast.cli.log_format import configure_logging
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_carries_the_ids_as_fields_of_their_own(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    logging.getLogger("smscast.runtime").info(
        "worker %s: took connector %s", "w1", "sim", extra={"worker": "w1", "connector_id": 7}
    )
    logging.getLogger("smscast.runtime").debug("not at info")
    [line] = _lines(out)
    assert line["msg"] == "worker w1: took connector sim"
    assert (line["level"], line["logger"]) == ("info", "smscast.runtime")
    assert (line["worker"], line["connector_id"]) == ("w1", 7)
    assert str(line["ts"]).endswith("+00:00")


def test_an_exception_stays_inside_its_one_json_line(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("warning", "json", out)
    try:
        raise RuntimeError("bind refused")
    except RuntimeError:
        logging.getLogger("smscast.runner").exception("connector %s: down", "sim")
    [line] = _lines(out)
    assert line["msg"] == "connector sim: down"
    assert "RuntimeError: bind refused" in str(line["exc"])


def test_text_is_the_default_line_for_people(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "text", out)
    configure_logging("info", "text", out)  # twice: still one line a record
    logging.getLogger("smscast.runtime").info("worker w1: stopped")
    [line] = out.getvalue().splitlines()
    assert line.endswith(" INFO smscast.runtime: worker w1: stopped")


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="log format 'xml': choose one of text, json"):
        configure_logging("info", "xml")


def test_uvicorn_access_lines_come_out_as_json_too(restored_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", out)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET",
                                             "/healthz", "1.1", 200)  # fmt: skip
    [line] = _lines(out)
    assert line["logger"] == "uvicorn.access" and "/healthz" in str(line["msg"])


def test_a_launch_is_one_event_with_its_campaign_and_no_text_body(
    restored_logging: None, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    out = io.StringIO()
    configure_logging("info", "json", out)
    with engine.begin() as conn:
        conn.execute(insert(contacts).values(
            workspace_id=workspace.id, phone="+48600100200", country="PL", attributes={},
            language="pl", timezone="Europe/Warsaw", tags=[], created_at=now, updated_at=now,
        ))  # fmt: skip
    draft = CampaignDraft(name="Sale", body="Secret sale code 4411", purpose="informational")
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    launched = [line for line in _lines(out) if line.get("campaign_id") == campaign_id]
    assert [line["msg"] for line in launched] == [
        f"campaign {campaign_id} launched (stage all): 1 queued"
    ]
    assert launched[0]["workspace_id"] == workspace.id
    assert "4411" not in out.getvalue()


def test_smscast_worker_logs_json_lines_when_asked(
    engine: Engine, db_url: str, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(SMSCAST_DATABASE_URL=db_url, SMSCAST_DATA_DIR=str(tmp_path / "var"),
               SMSCAST_SECRET_KEY="test", SMSCAST_CONFIG=str(tmp_path / "none.toml"),
               SMSCAST_LOG_FORMAT="json", SMSCAST_LOG_LEVEL="info")  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "smscast", "worker", "--id", "w9"],
                              env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert worker.stderr is not None
    try:
        first = json.loads(worker.stderr.readline())
        assert (first["msg"], first["worker"]) == ("worker w9: running (role all)", "w9")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, rest = worker.communicate(timeout=60)
    lines = [json.loads(line) for line in rest.splitlines()]  # every line JSON, none torn
    assert lines[-1]["msg"] == "worker w9: stopped" and worker.returncode == 0
