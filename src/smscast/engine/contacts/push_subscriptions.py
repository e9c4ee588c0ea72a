"""A contact's web push subscriptions: made on the public sign-up page, ended there or by
the push service (see `engine.delivery.address_gone`).

A browser that allows notifications hands the page an endpoint and two keys; the page
posts them here with the phone the person typed and the workspace's consent text, which
they ticked. Contacts are keyed by phone, so the phone finds the contact (or makes one),
and the subscription becomes its address on the `push` channel (by id: a message's
`address`). The consent ledger gets a `push` opt-in with source `push_subscribe`, for
purpose **promotional**: the text the person ticked is the workspace's sign-up text,
which is about offers (a `all` opt-in would claim more than it says), and an informational
message needs no opt-in, only the absence of an opt-out. The evidence is what only the
request knows: the text ticked, the page, the browser and the client's address.

Unlike the SMS form there is no confirmation step: the browser's own permission prompt
is the person's act, in the browser the messages go to. The phone is not proven, so a
stranger may tie their browser to someone's contact; push messages should not carry what
only that person may read (see docs/channels/push.md).

Unsubscribing (the page's button, by endpoint: only the browser holding it knows it)
removes the subscription; when it was the contact's last, the ledger gets a `push`
opt-out for every purpose, since the person then said no to push altogether.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from smscast.channels.push.vapid import VapidError, b64url_decode, load_public_key
from smscast.channels.push.webpush import DEFAULT_ENDPOINT_HOSTS, KIND, endpoint_refusal
from smscast.core.consent import Action, Purpose, Source
from smscast.core.errors import Problem
from smscast.core.phones import PhoneError, parse_phone
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.records import contact_for_phone, create_contact_for_phone
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.engine.inbound.web_sign_up import SignUpForm, sign_up_form
from smscast.store.channel_models import PushSubscription
from smscast.store.db import begin_write
from smscast.store.messaging_models import Connector
from smscast.store.models import ConsentEvent, Workspace, table_of

subscriptions = table_of(PushSubscription)
connectors = table_of(Connector)
workspaces = table_of(Workspace)
consent_events = table_of(ConsentEvent)

MAX_ENDPOINT = 2000  # push services' endpoints are a few hundred characters
MAX_PER_CONTACT = 10  # browsers per person; past it the least recently made goes
PER_CONTACT_PER_HOUR = 5  # subscribe attempts per contact an hour (the page is public)


@dataclass(frozen=True, slots=True)
class PushKey:
    """What a page needs to subscribe a browser: the workspace's VAPID public key."""

    workspace_id: int
    connector_id: int
    vapid_public: str
    endpoint_hosts: str


@dataclass(frozen=True, slots=True)
class PushSubscriptionInput:
    """A browser's `PushSubscription.toJSON()`, flattened."""

    endpoint: str
    p256dh: str
    auth: str
    user_agent: str = ""


class PushStatus(enum.StrEnum):
    SUBSCRIBED = "subscribed"  # new, or a known endpoint with fresh keys
    CLOSED = "closed"  # no sign-up form here, or no webpush connector behind it
    THROTTLED = "throttled"
    INVALID = "invalid"  # `errors` names each field


@dataclass(frozen=True, slots=True)
class PushOutcome:
    status: PushStatus
    errors: tuple[Problem, ...] = ()
    subscription_id: int | None = None
    contact_id: int | None = None
    phone: str | None = None


def push_connector_key(conn: Connection, workspace_id: int) -> PushKey | None:
    """The key browsers must subscribe with: that of the connector push messages leave by
    (the workspace's `default_connector_push`, else its first enabled webpush connector,
    as `engine.sending.routing` chooses), so a subscription always fits its sender."""
    rows = conn.execute(
        select(connectors.c.id, connectors.c.settings)
        .where(connectors.c.workspace_id == workspace_id, connectors.c.kind == KIND,
               connectors.c.enabled.is_(True))
        .order_by(connectors.c.id)
    ).all()  # fmt: skip
    if not rows:
        return None
    settings = conn.execute(
        select(workspaces.c.settings).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    wanted = (settings or {}).get("default_connector_push")
    row = next((r for r in rows if r.id == wanted), rows[0])
    values = dict(row.settings or {})
    public = str(values.get("vapid_public") or "")
    if not public:
        return None
    hosts = str(values.get("endpoint_hosts") or "") or DEFAULT_ENDPOINT_HOSTS
    return PushKey(workspace_id, row.id, public, hosts)


def push_key_for_page(engine: Engine, slug: str) -> PushKey | None:
    """The key for the sign-up page at `/join/<slug>`; None when the page takes no
    sign-ups or the workspace has no webpush connector."""
    form = sign_up_form(engine, slug)
    if form is None or not form.is_open:
        return None
    with engine.connect() as conn:
        return push_connector_key(conn, form.workspace_id)


def check_subscription(
    subscription: PushSubscriptionInput, hosts: str
) -> tuple[list[Problem], PushSubscriptionInput]:
    """The subscription as stored (keys re-encoded as base64url), or what is wrong with it."""
    errors: list[Problem] = []
    endpoint = subscription.endpoint.strip()
    if not endpoint or len(endpoint) > MAX_ENDPOINT:
        errors.append(Problem("bad_endpoint", "the subscription has no endpoint",
                              field="endpoint"))  # fmt: skip
    else:
        refusal = endpoint_refusal(endpoint, hosts)
        if refusal:
            errors.append(Problem("bad_endpoint", refusal, field="endpoint"))
    try:
        load_public_key(subscription.p256dh, field="p256dh")
    except VapidError as exc:
        errors.append(Problem("bad_key", str(exc), field="p256dh"))
    try:
        auth_ok = len(b64url_decode(subscription.auth)) == 16
    except VapidError:
        auth_ok = False
    if not auth_ok:
        errors.append(Problem("bad_key", "auth must be a 16-byte secret (base64url)", field="auth"))
    cleaned = PushSubscriptionInput(
        endpoint, subscription.p256dh.strip().rstrip("="), subscription.auth.strip().rstrip("="),
        _clean(subscription.user_agent, 500),
    )  # fmt: skip
    return errors, cleaned


def subscribe_on_sign_up_page(
    engine: Engine,
    slug: str,
    subscription: PushSubscriptionInput,
    *,
    phone: str,
    agreed: bool,
    consent_text_shown: str,
    client_address: str,
    now: datetime,
) -> PushOutcome:
    """Takes a browser's subscription from the public page: every wrong field at once,
    then the contact found or made by phone, the subscription stored (a known endpoint
    gets its new keys), and the push opt-in with the page's evidence."""
    form = sign_up_form(engine, slug)
    if form is None or not form.is_open:
        return PushOutcome(PushStatus.CLOSED)
    with engine.begin() as conn:
        begin_write(conn)
        key = push_connector_key(conn, form.workspace_id)
        if key is None:
            return PushOutcome(PushStatus.CLOSED)
        workspace = _workspace(conn, form.workspace_id)
        errors, e164 = _check_form(workspace, form, phone, agreed, consent_text_shown)
        problems, cleaned = check_subscription(subscription, key.endpoint_hosts)
        errors += problems
        if errors:
            return PushOutcome(PushStatus.INVALID, tuple(errors), phone=e164)
        assert e164 is not None
        contact = contact_for_phone(conn, workspace, e164, must_exist=False)
        if contact is None:
            contact = create_contact_for_phone(conn, workspace, e164, now)
        elif _recent_subscribes(conn, contact.id, now) >= PER_CONTACT_PER_HOUR:
            problem = Problem("push_throttled", "too many subscriptions for this phone number "
                              "in the last hour: try again later", field="phone")  # fmt: skip
            return PushOutcome(PushStatus.THROTTLED, (problem,), phone=e164)
        evidence = (
            f"notifications in this browser on /join/{form.slug}, agreed to: "
            f"{form.consent_text}\nbrowser: {cleaned.user_agent}\n"
            f"address: {_clean(client_address, 64) or 'unknown'}"
        )
        subscription_id = store_subscription(
            conn, workspace.id, contact.id, cleaned, evidence, f"push:{e164}", now
        )
    return PushOutcome(PushStatus.SUBSCRIBED, subscription_id=subscription_id,
                       contact_id=contact.id, phone=e164)  # fmt: skip


def store_subscription(
    conn: Connection, workspace_id: int, contact_id: int, subscription: PushSubscriptionInput,
    evidence: str, actor: str, now: datetime,
) -> int:  # fmt: skip
    """Inserts the subscription or refreshes it (same endpoint: new keys, maybe another
    contact), keeps at most MAX_PER_CONTACT, and records the push opt-in; returns its id.
    For any caller that knows the contact (the page above, an operator's import)."""
    found = conn.execute(
        select(subscriptions.c.id).where(
            subscriptions.c.workspace_id == workspace_id,
            subscriptions.c.endpoint == subscription.endpoint,
        )
    ).scalar()
    values = {"contact_id": contact_id, "p256dh": subscription.p256dh,
              "auth": subscription.auth, "user_agent": subscription.user_agent}  # fmt: skip
    if found is not None:
        conn.execute(update(subscriptions).where(subscriptions.c.id == found).values(**values))
        subscription_id = int(found)
    else:
        subscription_id = conn.execute(
            insert(subscriptions)
            .values(workspace_id=workspace_id, endpoint=subscription.endpoint, created_at=now,
                    last_sent_at=None, **values)
            .returning(subscriptions.c.id)
        ).scalar_one()  # fmt: skip
    kept = (
        select(subscriptions.c.id)
        .where(subscriptions.c.contact_id == contact_id)
        .order_by(subscriptions.c.created_at.desc(), subscriptions.c.id.desc())
        .limit(MAX_PER_CONTACT)
    )
    conn.execute(
        delete(subscriptions).where(
            subscriptions.c.contact_id == contact_id,
            subscriptions.c.id.not_in(select(kept.subquery().c.id)),
        )
    )
    record_text_consent(
        conn, workspace_id, contact_id, Action.OPT_IN, Purpose.PROMOTIONAL.value,
        Source.PUSH_SUBSCRIBE, evidence, actor, now, channel="push",
    )  # fmt: skip
    return int(subscription_id)


def unsubscribe_on_sign_up_page(
    engine: Engine, slug: str, endpoint: str, *, user_agent: str, client_address: str,
    now: datetime,
) -> bool:  # fmt: skip
    """Removes the browser's subscription; False when this page's workspace has none with
    that endpoint (already gone: nothing to do). The last one gone is a push opt-out."""
    form = sign_up_form(engine, slug)
    if form is None:
        return False
    evidence = (
        f"notifications turned off on /join/{form.slug}\nbrowser: {_clean(user_agent, 500)}\n"
        f"address: {_clean(client_address, 64) or 'unknown'}"
    )
    with engine.begin() as conn:
        begin_write(conn)
        return remove_subscription(conn, form.workspace_id, endpoint.strip(), evidence, now)


def remove_subscription(
    conn: Connection, workspace_id: int, endpoint: str, evidence: str, now: datetime
) -> bool:
    row = conn.execute(
        select(subscriptions.c.id, subscriptions.c.contact_id).where(
            subscriptions.c.workspace_id == workspace_id, subscriptions.c.endpoint == endpoint
        )
    ).first()
    if row is None:
        return False
    conn.execute(delete(subscriptions).where(subscriptions.c.id == row.id))
    left = conn.execute(
        select(func.count()).where(subscriptions.c.contact_id == row.contact_id)
    ).scalar_one()
    if left == 0:
        record_text_consent(
            conn, workspace_id, row.contact_id, Action.OPT_OUT, Purpose.ALL.value,
            Source.PUSH_SUBSCRIBE, evidence, f"push:{row.id}", now, channel="push",
        )  # fmt: skip
    return True


def list_push_subscriptions(conn: Connection, workspace_id: int, contact_id: int) -> list[
    dict[str, Any]
]:  # fmt: skip
    """A contact's browsers, newest first: the push service (not the endpoint, which is
    the browser's to keep), the browser, when subscribed and last sent to."""
    rows = conn.execute(
        select(subscriptions)
        .where(subscriptions.c.workspace_id == workspace_id,
               subscriptions.c.contact_id == contact_id)
        .order_by(subscriptions.c.created_at.desc(), subscriptions.c.id.desc())
    )  # fmt: skip
    return [
        {
            "id": row.id,
            "service": urlsplit(row.endpoint).hostname or "",
            "user_agent": row.user_agent,
            "created_at": row.created_at,
            "last_sent_at": row.last_sent_at,
        }
        for row in rows
    ]


def _workspace(conn: Connection, workspace_id: int) -> WorkspaceRef:
    row = conn.execute(select(workspaces).where(workspaces.c.id == workspace_id)).one()
    return WorkspaceRef(row.id, row.name, row.country, row.timezone, dict(row.settings or {}))


def _check_form(
    workspace: WorkspaceRef, form: SignUpForm, phone: str, agreed: bool, shown: str
) -> tuple[list[Problem], str | None]:
    """The page's own fields, checked as the SMS form checks them."""
    errors: list[Problem] = []
    e164 = None
    if not phone.strip():
        errors.append(Problem("phone_missing", "enter your mobile phone number", field="phone"))
    else:
        try:
            e164 = parse_phone(phone, workspace.country).e164
        except PhoneError as error:
            errors.append(Problem(error.problem.code, error.problem.message, field="phone"))
    text = shown.replace("\r\n", "\n").replace("\r", "\n").strip()
    if text != form.consent_text:
        errors.append(Problem(
            "consent_text_changed", "the text to agree to has changed since this page was "
            "opened: read it again and tick the box if you agree", field="consent_text",
        ))  # fmt: skip
    if not agreed:
        errors.append(Problem("consent_not_given", "tick the box to agree to the text above",
                              field="agreed"))  # fmt: skip
    return errors, e164


def _recent_subscribes(conn: Connection, contact_id: int, now: datetime) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                consent_events.c.contact_id == contact_id,
                consent_events.c.channel == "push",
                consent_events.c.source == Source.PUSH_SUBSCRIBE.value,
                consent_events.c.action == Action.OPT_IN.value,
                consent_events.c.occurred_at > now - timedelta(hours=1),
            )
        ).scalar_one()
    )


def _clean(value: str, length: int) -> str:
    """No NUL, no lone surrogate, at most `length` characters (what every database takes)."""
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return value.strip()[:length]
