"""The public sign-up form end to end: the form queues the confirmation in the real
outbox, the person's YES arrives over real SMPP through the ordinary inbound path, and
the consent ledger keeps the form's text, time, address and browser as evidence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from mo_harness import LONG, SHORT, Mo, mo_pipe, outbox, setup_numbers
from sqlalchemy import Engine

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspace_settings import update_workspace
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace, resolve_workspace
from smscast.engine.contacts.consent import consent_history
from smscast.engine.contacts.records import count_contacts
from smscast.engine.inbound.receive import InboundResult, handle_inbound
from smscast.engine.inbound.web_sign_up import (
    SignUpLimits,
    SignUpOutcome,
    SignUpStatus,
    sign_up_form,
    start_web_sign_up,
)

PHONE = "+48600100200"
TEXT = "I agree to receive promotional texts from Shop, up to 4 a month.\nReply STOP to opt out."
ADDRESS = "203.0.113.7"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


@pytest.fixture
def numbers(engine: Engine, workspace: WorkspaceRef, now: datetime) -> tuple[int, Any, Any]:
    return setup_numbers(engine, workspace, now)


@pytest.fixture
async def mo(engine: Engine, settings: Settings, numbers: tuple[int, Any, Any]) -> Any:
    async with mo_pipe(engine, settings, numbers[0]) as pipe:
        yield pipe


def configure(engine: Engine, workspace: WorkspaceRef, now: datetime, **form: Any) -> WorkspaceRef:
    """Changes the workspace's sign-up settings as its owner would (API, CLI, portal)."""
    current = resolve_workspace_of(engine, workspace)
    caller = Caller("user", 1, current, "owner", "owner@example.com")
    update_workspace(engine, current, {"settings": form}, caller=caller, now=now)
    return resolve_workspace_of(engine, workspace)


def resolve_workspace_of(engine: Engine, workspace: WorkspaceRef) -> WorkspaceRef:
    with engine.connect() as conn:
        return resolve_workspace(conn, str(workspace.id))


def open_form(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    configure(engine, workspace, now, sign_up_text=TEXT, sign_up_open=True,
              sign_up_slug="shop", sign_up_number=SHORT)  # fmt: skip


def submit(
    engine: Engine, now: datetime, *, phone: str = "600 100 200", agreed: bool = True,
    shown: str = TEXT, address: str = ADDRESS, slug: str = "shop",
) -> SignUpOutcome:  # fmt: skip
    return start_web_sign_up(
        engine, slug, phone=phone, agreed=agreed, consent_text_shown=shown,
        client_address=address, user_agent=BROWSER, now=now, language="en",
    )  # fmt: skip


async def reply(mo: Mo, settings: Settings, text: str, at: datetime) -> InboundResult:
    """The person's answer to the form's number, arriving at `at` (not the wall clock)."""
    received = await mo.receive(PHONE, SHORT, text)
    message = InboundMessage(received.sender, received.recipient, received.text, at)
    result = handle_inbound(mo.engine, settings, mo.connector_id, message)
    mo.acknowledge()
    return result


async def test_form_then_yes_opts_in_with_the_form_as_evidence(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    numbers: tuple[int, Any, Any],
) -> None:  # fmt: skip
    open_form(engine, workspace, now)
    form = sign_up_form(engine, "Shop")
    assert form is not None and form.is_open and form.consent_text == TEXT
    # A browser sends the text's line breaks as CRLF: still the same text.
    outcome = submit(engine, now, shown=TEXT.replace("\n", "\r\n"))
    assert (outcome.status, outcome.phone) == (SignUpStatus.SENT, PHONE)
    assert outcome.confirm_by == now + timedelta(hours=24)
    [prompt] = outbox(engine)
    assert (prompt.phone, prompt.kind, prompt.purpose, prompt.status) == (
        PHONE, "confirm", "informational", "queued",
    )  # fmt: skip
    assert prompt.number_id == numbers[2].id and "reply YES" in prompt.body
    assert prompt.body.startswith("Shop:")
    assert consent_history(engine, workspace, PHONE)["events"] == []  # nothing until YES

    confirmed = await reply(mo, settings, "Yes", now + timedelta(minutes=3))
    assert confirmed.route == "confirm_opt_in"
    [event] = consent_history(engine, workspace, PHONE)["events"]
    assert (event["action"], event["purpose"], event["source"]) == (
        "opt_in", "promotional", "web_form",
    )  # fmt: skip
    evidence = event["evidence"]
    for part in (f'"{TEXT}"', "/join/shop", "2026-11-25 10:00:00Z", ADDRESS, BROWSER,
                 prompt.body, '"Yes"', "2026-11-25 10:03:00Z"):  # fmt: skip
        assert part in evidence, part
    state = {s["purpose"]: s["status"] for s in consent_history(engine, workspace, PHONE)["state"]}
    assert state["promotional"] == "opted_in"
    # Signed up already: a friendly answer, and no second text.
    again = submit(engine, now + timedelta(minutes=10))
    assert again.status == SignUpStatus.ALREADY_SUBSCRIBED
    assert len(outbox(engine, kind="confirm")) == 2  # the prompt and the thank-you for YES


async def test_without_a_yes_in_time_there_is_no_consent(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    open_form(engine, workspace, now)
    assert submit(engine, now).status == SignUpStatus.SENT
    other = await reply(mo, settings, "what is this?", now + timedelta(minutes=1))
    assert other.route == "ticket"
    late = await reply(mo, settings, "YES", now + timedelta(hours=25))
    assert late.route != "confirm_opt_in"
    assert consent_history(engine, workspace, PHONE)["events"] == []


async def test_an_opted_out_phone_may_sign_up_again(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    open_form(engine, workspace, now)
    await reply(mo, settings, "STOP", now - timedelta(days=3))
    outcome = submit(engine, now)
    assert outcome.status == SignUpStatus.SENT
    assert (await reply(mo, settings, "tak", now + timedelta(minutes=1))).route == "confirm_opt_in"
    events = consent_history(engine, workspace, PHONE)["events"]
    assert [(e["action"], e["source"]) for e in events] == [
        ("opt_out", "keyword"), ("opt_in", "web_form"),
    ]  # fmt: skip


async def test_a_stop_after_the_form_is_not_undone_by_a_later_yes(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    open_form(engine, workspace, now)
    submit(engine, now)
    await reply(mo, settings, "STOP", now + timedelta(minutes=1))
    await reply(mo, settings, "YES", now + timedelta(minutes=2))
    actions = [e["action"] for e in consent_history(engine, workspace, PHONE)["events"]]
    assert actions == ["opt_out"]


def test_each_wrong_field_is_named_and_nothing_is_sent(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    open_form(engine, workspace, now)
    outcome = submit(engine, now, phone="12", agreed=False, shown="An older text")
    assert outcome.status == SignUpStatus.INVALID
    assert [(p.field, p.code) for p in outcome.errors] == [
        ("phone", "invalid_phone"), ("consent_text", "consent_text_changed"),
        ("agreed", "consent_not_given"),
    ]  # fmt: skip
    assert '"12" is not a valid phone number for PL' in outcome.errors[0].message
    missing = submit(engine, now, phone="  ")
    assert [(p.field, p.code) for p in missing.errors] == [("phone", "phone_missing")]
    assert outbox(engine) == []
    assert count_contacts(engine, workspace)["contacts"] == 0


def test_a_form_loaded_before_the_text_changed_is_refused(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    open_form(engine, workspace, now)
    shown = sign_up_form(engine, "shop")
    assert shown is not None
    new_text = TEXT.replace("up to 4 a month", "up to 8 a month")
    configure(engine, workspace, now, sign_up_text=new_text)
    stale = submit(engine, now, shown=shown.consent_text)
    assert stale.status == SignUpStatus.INVALID
    assert [p.field for p in stale.errors] == ["consent_text"]
    assert stale.form is not None and stale.form.consent_text == new_text
    assert outbox(engine) == []
    assert submit(engine, now, shown=new_text).status == SignUpStatus.SENT


def test_one_phone_or_one_address_cannot_send_more_than_a_few_texts_an_hour(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    open_form(engine, workspace, now)
    sent = [submit(engine, now + timedelta(minutes=i), address=f"198.51.100.{i}") for i in range(3)]
    assert {o.status for o in sent} == {SignUpStatus.SENT}
    fourth = submit(engine, now + timedelta(minutes=10), address="198.51.100.9")
    assert fourth.status == SignUpStatus.THROTTLED
    [problem] = fourth.errors
    assert problem.field == "phone" and "this phone number" in problem.message
    assert fourth.retry_after_s == 50 * 60  # the first of the three is an hour old then
    assert len(outbox(engine, phone=PHONE)) == 3
    # An hour after the first, the phone may try again.
    assert submit(engine, now + timedelta(minutes=60, seconds=1),
                  address="198.51.100.9").status == SignUpStatus.SENT  # fmt: skip

    phones = [f"+4860020030{i}" for i in range(7)]
    outcomes = [submit(engine, now, phone=p, address="192.0.2.1") for p in phones]
    assert [o.status for o in outcomes] == [SignUpStatus.SENT] * 5 + [SignUpStatus.THROTTLED] * 2
    assert outcomes[-1].errors[0].field is None and "connection" in outcomes[-1].errors[0].message
    assert not outbox(engine, phone=phones[5]) and not outbox(engine, phone=phones[6])


def test_limits_are_the_callers_to_choose(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    open_form(engine, workspace, now)
    strict = SignUpLimits(per_phone=1, confirm_within=timedelta(hours=2))
    first = start_web_sign_up(engine, "shop", phone=PHONE, agreed=True, consent_text_shown=TEXT,
                              client_address=ADDRESS, user_agent="", now=now,
                              limits=strict)  # fmt: skip
    assert first.confirm_by == now + timedelta(hours=2)
    second = start_web_sign_up(engine, "shop", phone=PHONE, agreed=True, consent_text_shown=TEXT,
                               client_address="192.0.2.9", user_agent="", now=now,
                               limits=strict)  # fmt: skip
    assert second.status == SignUpStatus.THROTTLED


def test_sign_up_is_closed_until_the_text_is_set_and_it_is_opened(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    assert sign_up_form(engine, "shop") is None
    assert submit(engine, now).status == SignUpStatus.CLOSED
    with pytest.raises(UserError) as refused:
        configure(engine, workspace, now, sign_up_open=True)
    assert refused.value.problem.field == "sign_up_text"
    configure(engine, workspace, now, sign_up_text=TEXT, sign_up_slug="shop")
    form = sign_up_form(engine, "shop")
    assert form is not None and not form.is_open
    assert submit(engine, now).status == SignUpStatus.CLOSED
    configure(engine, workspace, now, sign_up_open=True)
    assert submit(engine, now).status == SignUpStatus.SENT
    configure(engine, workspace, now, sign_up_open=False)
    assert submit(engine, now + timedelta(minutes=1), phone="+48600100300").status == (
        SignUpStatus.CLOSED
    )
    assert len(outbox(engine)) == 1


def test_the_address_is_unique_and_follows_the_name_when_not_chosen(
    engine: Engine, workspace: WorkspaceRef, numbers: Any, now: datetime
) -> None:
    configure(engine, workspace, now, sign_up_text=TEXT, sign_up_open=True)
    assert resolve_workspace_of(engine, workspace).settings["sign_up_slug"] == "shop"
    other = create_workspace(engine, "Shop DE", "DE", "Europe/Berlin", actor="t", now=now)
    with pytest.raises(UserError) as taken:
        configure(engine, other, now, sign_up_slug="Shop")
    assert taken.value.problem.field == "sign_up_slug" and "/join/shop" in str(taken.value)
    with pytest.raises(UserError) as malformed:
        configure(engine, other, now, sign_up_slug="shop de!")
    assert malformed.value.problem.field == "sign_up_slug"
    with pytest.raises(UserError) as no_number:
        configure(engine, other, now, sign_up_text=TEXT, sign_up_open=True)
    assert no_number.value.problem.field == "sign_up_number"
    with pytest.raises(UserError) as foreign:
        configure(engine, other, now, sign_up_number=LONG)
    assert foreign.value.problem.field == "sign_up_number"
