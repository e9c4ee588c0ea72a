"""Every channel as a new user meets it: `smscast serve` with its built-in fakes.

A WhatsApp campaign falls back to SMS for the people who are not on WhatsApp (the fake
says so of numbers ending in 9), and everyone is reached exactly once; an email
campaign goes to the SMTP sink, a person's emailed reply becomes a ticket on email, and
the agent's answer leaves by email. All through the commands a user types, against the
server's real sockets: the fakes post signed webhooks back to it, the sink mails its
replies to the server's mail listener.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from test_serve import free_port, smscast, wait_until

from smscast.store.db import create_db_engine

PEOPLE = [  # phone, email, first name; the odd half ends in 9: not on WhatsApp
    (f"+4860010030{i}", f"person{i}@example.com", f"Name{i}") for i in range(8)
] + [(f"+4860010031{i}", f"other{i}@example.com", f"Other{i}") for i in (9,)]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, Engine]]:
    url = f"sqlite:///{tmp_path / 'smscast.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    port, simulator_http = free_port(), free_port()
    env.update(
        SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(tmp_path / "var"), SMSCAST_PORT=str(port),
        SMSCAST_SIMULATOR_PORT=str(free_port()), SMSCAST_SIMULATOR_HTTP_PORT=str(simulator_http),
        SMSCAST_CONFIG=str(tmp_path / "none.toml"), SMSCAST_WORKSPACE="1",
    )  # fmt: skip
    assert smscast(env, tmp_path, "db", "upgrade").returncode == 0
    assert smscast(env, tmp_path, "bootstrap").returncode == 0
    rows = ["phone,email,first_name,consent,consent_whatsapp,consent_email"]
    rows += [f"{phone},{email},{name},yes,yes,yes" for phone, email, name in PEOPLE]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n")
    imported = smscast(env, tmp_path, "contacts", "import", "people.csv",
                       "--consent-source", "shop sign-up form, 2026")  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    # Promotions wait for morning otherwise: the test must not depend on the hour.
    assert (
        smscast(env, tmp_path, "workspace", "settings", "--set", "quiet_hours=off").returncode == 0
    )
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - the server writes to it
    server = subprocess.Popen(
        [sys.executable, "-m", "smscast", "serve"], env=env, cwd=tmp_path, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    engine = create_db_engine(url)
    try:

        def ready() -> bool:
            """the server and every channel's connector"""
            httpx.get(f"http://127.0.0.1:{port}/healthz").raise_for_status()
            state = smscast(env, tmp_path, "connectors", "state", "--json")
            names = {row["name"]: row["state"] for row in json.loads(state.stdout or "[]")}
            wanted = ("simulator", "simulator-email", "simulator-whatsapp")
            return all(names.get(name) == "sending" for name in wanted)

        wait_until(ready, 90)
        # Every SMS delivered: the simulator otherwise fails a few at random, as carriers do.
        outcomes = {"delivered": 1.0, "undeliverable": 0.0, "expired": 0.0, "rejected": 0.0}
        httpx.post(f"http://127.0.0.1:{simulator_http}/faults", json=outcomes).raise_for_status()
        yield env, tmp_path, engine
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        engine.dispose()
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()


def run(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = smscast(env, cwd, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_whatsapp_with_sms_fallback_reaches_everyone_once(served) -> None:  # type: ignore[no-untyped-def]
    env, cwd, engine = served
    campaign = run(env, cwd, "campaigns", "create", "--name", "Spring", "--segment", "",
                   "--body", "Hi {{ first_name }}, spring sale today", "--channels",
                   "whatsapp,sms", "--fallback-after", "10m", "--template", "spring_sale",
                   "--template-param", "{{ first_name }}").strip()  # fmt: skip
    run(env, cwd, "campaigns", "launch", campaign)

    def reached() -> bool:
        """a delivered message for everyone"""
        with engine.connect() as conn:
            people = conn.execute(text(
                "SELECT COUNT(DISTINCT contact_id) FROM messages "
                "WHERE campaign_id = :c AND status = 'delivered'"), {"c": int(campaign)}
            ).scalar_one()  # fmt: skip
        return bool(people == len(PEOPLE))

    wait_until(reached, 90)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.phone, m.channel, m.status FROM messages m JOIN contacts c "
            "ON c.id = m.contact_id WHERE m.campaign_id = :c ORDER BY c.phone, m.chain_step"
        ), {"c": int(campaign)}).all()  # fmt: skip
    delivered = [(phone, channel) for phone, channel, status in rows if status == "delivered"]
    assert len(delivered) == len(PEOPLE)  # exactly once each
    for phone, channel in delivered:
        assert channel == ("sms" if phone.endswith("9") else "whatsapp"), (phone, channel)
    refused = {phone for phone, channel, status in rows if channel == "whatsapp"
               and status != "delivered"}  # fmt: skip
    assert refused == {phone for phone, _, _ in PEOPLE if phone.endswith("9")}

    report = json.loads(run(env, cwd, "campaigns", "report", campaign, "--json"))
    figures = {row["channel"]: row for row in report["channels"]}
    not_on_whatsapp = sum(phone.endswith("9") for phone, _, _ in PEOPLE)
    assert figures["whatsapp"]["delivered"] == len(PEOPLE) - not_on_whatsapp
    assert figures["whatsapp"]["fell_back"] == not_on_whatsapp
    assert figures["sms"]["delivered"] == not_on_whatsapp
    assert "fell back" in run(env, cwd, "campaigns", "report", campaign)


def test_an_email_campaign_and_an_answer_to_a_reply_from_the_inbox(served) -> None:  # type: ignore[no-untyped-def]
    env, cwd, engine = served
    campaign = run(env, cwd, "campaigns", "create", "--name", "Letter", "--segment", "",
                   "--channel", "email", "--subject", "News for {{ first_name }}",
                   "--body", "Dear {{ first_name }}, our spring news.").strip()  # fmt: skip
    run(env, cwd, "campaigns", "launch", campaign)

    def mailed() -> bool:
        """every email accepted by the SMTP sink"""
        with engine.connect() as conn:
            statuses = conn.execute(text(
                "SELECT status FROM messages WHERE campaign_id = :c"), {"c": int(campaign)}
            ).scalars().all()  # fmt: skip
        return len(statuses) == len(PEOPLE) and set(statuses) == {"sent"}

    wait_until(mailed, 60)
    report = json.loads(run(env, cwd, "campaigns", "report", campaign, "--json"))
    assert [(row["channel"], row["sent"]) for row in report["channels"]] == [("email", len(PEOPLE))]
    answer = run(env, cwd, "simulator", "send-mo", "--channel", "email", "--from",
                 "person1@example.com", "Can I still get the discount?")  # fmt: skip
    assert "ticket" in answer, answer
    tickets = json.loads(run(env, cwd, "tickets", "list", "--json"))
    [ticket] = [t for t in tickets if t["channel"] == "email"]
    run(env, cwd, "tickets", "reply", str(ticket["id"]), "Yes, until Sunday.")

    def answered() -> bool:
        """the agent's answer left by email"""
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT channel, address, status, payload FROM messages "
                "WHERE kind = 'agent_reply' ORDER BY id DESC LIMIT 1")).first()  # fmt: skip
        return row is not None and row.status == "sent"

    wait_until(answered, 60)
    with engine.connect() as conn:
        reply = conn.execute(
            text("SELECT channel, address, payload FROM messages WHERE kind = 'agent_reply'")
        ).one()
    assert (reply.channel, reply.address) == ("email", "person1@example.com")
    payload = json.loads(reply.payload) if isinstance(reply.payload, str) else reply.payload
    assert payload["subject"].startswith("Re: News for Name1")
