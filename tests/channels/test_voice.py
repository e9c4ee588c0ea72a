"""Voice calls end to end: the dispatcher calls through the Twilio or Infobip connector, the
provider's fake checks each request's shape and rings, and its signed callbacks come back
through `voice_callbacks` into reports and a voice opt-out, all over loopback sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from loopback_http import LoopbackHttp, Received, Reply
from sqlalchemy import Engine, select

from smscast.channels.base import OutgoingMessage
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.channels.simulator.voice import VoiceFake, VoiceFakeConfig, start_voice_fake
from smscast.channels.voice import KINDS
from smscast.channels.voice.speech import speech_for
from smscast.channels.voice.twilio_voice import TwilioVoiceSettings, call_twiml
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.contacts.edits import ContactFields, create_contact
from smscast.engine.db_thread import DbThread
from smscast.engine.delivery.callback_checks import Callback
from smscast.engine.delivery.voice_callbacks import receive_voice_callback
from smscast.engine.sending.connectors import ConnectorRow, add_connector
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, retry_policy
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.sending.outgoing import OutgoingExtras
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentState, table_of

WORKER = "voice-test"
SENDER = "+48500100200"
ANSWERS_PL, PRESSES_9, NO_ANSWER, BUSY = (
    "+48601000001",
    "+48601000002",
    "+48601000003",
    "+48601000004",
)
LANGUAGE = {ANSWERS_PL: "pl", PRESSES_9: "en", NO_ANSWER: "pl-PL", BUSY: "en-US"}
messages = table_of(Message)
consent_states = table_of(ConsentState)


def test_polish_and_english_voices_are_chosen_from_the_contact_language() -> None:
    picks = {code: speech_for(code) for code in ("pl", "PL", "pl_PL", "en", "en-us", "de", "")}
    assert {code: (s.tag, s.voice) for code, s in picks.items()} == {
        "pl": ("pl-PL", "Ewa"), "PL": ("pl-PL", "Ewa"), "pl_PL": ("pl-PL", "Ewa"),
        "en": ("en-GB", "Amy"), "en-us": ("en-US", "Joanna"),
        "de": ("en-GB", "Amy"), "": ("en-GB", "Amy"),
    }  # fmt: skip
    assert speech_for("pl", gender="male").twilio_voice == "Polly.Jacek"
    assert speech_for("en", english="en-US").infobip_language == "en"
    assert speech_for("en").infobip_language == "en-gb"
    assert speech_for("pl").opt_out_prompt("9") == (
        "Naciśnij 9, aby nie otrzymywać więcej połączeń."
    )
    assert speech_for("en").opt_out_prompt("5") == "Press 5 to stop these calls."


def test_settings_read_a_digit_typed_as_a_number_and_refuse_what_no_call_can_use() -> None:
    base = {"name": "calls", "account_sid": "AC1", "auth_token": "t"}
    assert TwilioVoiceSettings(**base, opt_out_digit=7).opt_out_digit == "7"  # type: ignore[arg-type]
    for bad, why in [
        ({"opt_out_digit": "#"}, "opt_out_digit"),
        ({"voice_gender": "robot"}, "voice_gender"),
        ({"english": "en-AU"}, "english"),
        ({"callback_base_url": "smscast.example"}, "callback_base_url"),
        ({"ring_timeout_s": 0}, "ring_timeout_s"),
    ]:
        with pytest.raises(ValueError, match=why):
            TwilioVoiceSettings(**base, **bad)


def test_a_call_without_callbacks_promises_no_opt_out_it_could_not_record() -> None:
    settings = TwilioVoiceSettings(name="calls", account_sid="AC1", auth_token="t")
    message = OutgoingMessage(1, SENDER, ANSWERS_PL, "Promocja -20%", channel="voice",
                              extras={"language": "pl"})  # fmt: skip
    twiml = call_twiml(settings, message)
    assert "Gather" not in twiml and "Naciśnij" not in twiml
    assert '<Say language="pl-PL" voice="Polly.Ewa">Promocja -20%</Say>' in twiml


# -- end to end --------------------------------------------------------------------------


class RunningClock:
    """Our frozen moment, moving on with the monotonic clock (never the wall clock)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.began = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


@dataclass
class Line:
    """A workspace with four opted-in people and a voice connector pointed at the fake."""

    engine: Engine
    settings: Settings
    workspace: WorkspaceRef
    row: ConnectorRow
    contacts: dict[str, int]


def credentials(kind: str, fake: VoiceFake, hooks_url: str) -> dict[str, Any]:
    config = fake.config
    common = {"base_url": fake.url, "sender": SENDER, "callback_base_url": hooks_url}
    if kind == "twilio_voice":
        return {**common, "account_sid": config.twilio_account_sid,
                "auth_token": config.twilio_auth_token}  # fmt: skip
    return {**common, "api_key": config.infobip_api_key,
            "webhook_secret": config.infobip_webhook_secret}  # fmt: skip


def make_line(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    kind: str,
    connector: dict[str, Any],
    now: datetime,
) -> Line:
    contacts = {}
    for phone, language in LANGUAGE.items():
        made = create_contact(engine, settings, workspace, ContactFields(phone=phone,
                              language=language), actor="test", now=now)  # fmt: skip
        contacts[phone] = int(made["id"])
        for channel in ("sms", "voice"):
            change = ConsentChange(channel, "all", Action.OPT_IN, Source.API, "test", "test", now)
            record_consent(engine, settings, workspace, phone, change)
    row = add_connector(engine, workspace, name="calls", kind=kind, settings=connector,
                        rate_per_s=0, window=10, actor="test", now=now)  # fmt: skip
    return Line(engine, settings, workspace, row, contacts)


def voice_connector(row: ConnectorRow) -> Any:
    """The connector as the engine builds it from its row, with the row's id filled in."""
    settings_class, connector_class = KINDS[row.kind]
    return connector_class(settings_class(**row.settings, name=row.name, rate=row.rate_per_s,
                                          concurrency=row.window, connector_id=row.id))  # fmt: skip


def hooks(line: Line, clock: Callable[[], datetime], base_url: str) -> Callable[[Received], Reply]:
    """Our side of the callbacks: each goes to `voice_callbacks` at the test's clock."""

    def handle(request: Received) -> Reply:
        _, kind, connector_id, purpose = request.path.strip("/").split("/")
        callback = Callback(f"{base_url}{request.target}", request.headers, request.query,
                            request.body, "127.0.0.1")  # fmt: skip
        try:
            result = receive_voice_callback(line.engine, line.settings, int(connector_id), kind,
                                            purpose, callback, clock())  # fmt: skip
        except WebhookRejected as rejected:
            return 403, {"Content-Type": "text/plain"}, str(rejected).encode()
        return 200, {"Content-Type": "text/xml"}, (result.twiml or "ok").encode()

    return handle


async def call_everyone(line: Line, fake: VoiceFake, clock: RunningClock) -> None:
    """Queues one promotional call per person and lets the dispatcher place them."""
    with line.engine.begin() as conn:
        enqueue_messages(conn, [
            {"workspace_id": line.workspace.id, "phone": phone, "contact_id": contact_id,
             "body": f"Sale for {phone[-1]}", "kind": "api", "purpose": "promotional",
             "channel": "voice", "connector_id": line.row.id, "created_at": clock.start}
            for phone, contact_id in line.contacts.items()
        ])  # fmt: skip
        assert take_lease(conn, line.row.id, WORKER, clock.start, seconds=3600)
    connector = voice_connector(line.row)
    await connector.start()
    db = DbThread(line.engine, name="voice-test")
    dispatcher = Dispatcher(db, connector, line.row.id, WORKER, DispatchLimits(10, 1, 0.02),
                            retry_policy(5.0, 60.0, 48.0), clock, OutgoingExtras(b"k"))  # fmt: skip
    running = asyncio.create_task(dispatcher.run())
    try:
        for _ in range(500):
            if len(fake.calls) == len(line.contacts) and status_of(line) == {"sent"}:
                break
            await asyncio.sleep(0.02)
    finally:
        dispatcher.stop()
        await running
        await connector.stop()
        db.close()
    assert status_of(line) == {"sent"}, fake.refused


def status_of(line: Line) -> set[str]:
    with line.engine.connect() as conn:
        return set(conn.execute(select(messages.c.status)).scalars())


def outcomes(line: Line) -> dict[str, tuple[str, str | None]]:
    with line.engine.connect() as conn:
        rows = conn.execute(select(messages.c.phone, messages.c.status, messages.c.error_code))
        return {r.phone: (r.status, r.error_code) for r in rows}


def consent_of(line: Line, phone: str) -> dict[str, str]:
    with line.engine.connect() as conn:
        rows = conn.execute(
            select(consent_states.c.channel, consent_states.c.status).where(
                consent_states.c.contact_id == line.contacts[phone]
            )
        )
        return {r.channel: r.status for r in rows}


@pytest.mark.parametrize("kind", ["twilio_voice", "infobip_voice"])
async def test_calls_speak_each_person_s_language_report_answers_and_digit_9_stops_voice_only(
    kind: str, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    clock = RunningClock(now)
    config = VoiceFakeConfig(auto_ring=False, not_answering={NO_ANSWER}, busy={BUSY},
                             presses={PRESSES_9: "9", ANSWERS_PL: "4"})  # fmt: skip
    fake = await start_voice_fake(config)
    ours: list[Callable[[Received], Reply]] = []
    try:
        async with LoopbackHttp(lambda request: ours[0](request)) as receiver:
            line = make_line(engine, settings, workspace, kind,
                             credentials(kind, fake, receiver.url), now)  # fmt: skip
            ours.append(hooks(line, clock, receiver.url))
            await call_everyone(line, fake, clock)
            fake.ring_all()  # the calls ring once their carrier ids are recorded
            await fake.idle()
    finally:
        await fake.close()

    assert fake.refused == []
    assert [(c.kind, c.status) for c in fake.callbacks if c.status != 200] == []
    spoken = {call.to: call.says for call in fake.calls}
    if kind == "twilio_voice":
        assert spoken[ANSWERS_PL] == [
            ("pl-PL", "Polly.Ewa", "Sale for 1"),
            ("pl-PL", "Polly.Ewa", "Naciśnij 9, aby nie otrzymywać więcej połączeń."),
        ]
        assert spoken[PRESSES_9][1] == ("en-GB", "Polly.Amy", "Press 9 to stop these calls.")
        assert spoken[BUSY][0] == ("en-US", "Polly.Joanna", "Sale for 4")
        gathers = {c.call_id: c.answer for c in fake.callbacks if c.kind == "gather"}
        by_phone = {call.to: gathers.get(call.id, "") for call in fake.calls}
        assert "You will not get these calls from us any more" in by_phone[PRESSES_9]
        assert "Polly.Amy" in by_phone[PRESSES_9]
        assert by_phone[ANSWERS_PL] == "<Response><Hangup /></Response>"  # 4 is no opt-out
        reasons = ("no-answer", "busy")
    else:
        assert spoken[ANSWERS_PL] == [
            ("pl", "Ewa", "Sale for 1 Naciśnij 9, aby nie otrzymywać więcej połączeń.")
        ]
        assert spoken[PRESSES_9] == [("en-gb", "Amy", "Sale for 2 Press 9 to stop these calls.")]
        assert spoken[BUSY][0][:2] == ("en", "Joanna")
        assert all(call.request["maxDtmf"] == 1 for call in fake.calls)
        reasons = ("NO_ANSWER", "USER_BUSY")
    assert outcomes(line) == {
        ANSWERS_PL: ("delivered", None),
        PRESSES_9: ("delivered", None),
        NO_ANSWER: ("undelivered", reasons[0]),
        BUSY: ("undelivered", reasons[1]),
    }
    assert consent_of(line, PRESSES_9) == {"sms": "opted_in", "voice": "opted_out"}
    assert consent_of(line, ANSWERS_PL) == {"sms": "opted_in", "voice": "opted_in"}


async def test_the_fake_refuses_a_request_not_in_the_documented_shape() -> None:
    fake = await start_voice_fake()
    config = fake.config
    try:
        import httpx

        async with httpx.AsyncClient(base_url=fake.url) as client:
            path = f"/2010-04-01/Accounts/{config.twilio_account_sid}/Calls.json"
            auth = (config.twilio_account_sid, config.twilio_auth_token)
            no_plus = await client.post(
                path,
                auth=auth,
                data={
                    "To": "48601000001",
                    "From": SENDER,
                    "Twiml": "<Response><Say>Hi</Say></Response>",
                },
            )
            bad_twiml = await client.post(
                path,
                auth=auth,
                data={"To": ANSWERS_PL, "From": SENDER, "Twiml": "<Response><Say>Hi</Response>"},
            )
            wrong_key = await client.post(
                path, auth=(config.twilio_account_sid, "nope"), data={"To": ANSWERS_PL}
            )
            infobip = await client.post("/tts/3/advanced", json={"messages": [{
                "destinations": [{"to": "+48601000001"}], "text": "Hi"}]},
                headers={"Authorization": f"App {config.infobip_api_key}"})  # fmt: skip
    finally:
        await fake.close()
    assert no_plus.status_code == 400 and no_plus.json()["code"] == 21211
    assert bad_twiml.status_code == 400 and bad_twiml.json()["code"] == 12100
    assert wrong_key.status_code == 401
    assert infobip.status_code == 400
    assert "international format" in infobip.json()["requestError"]["serviceException"]["text"]
    assert fake.calls == [] and len(fake.refused) == 4
