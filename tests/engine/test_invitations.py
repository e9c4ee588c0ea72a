"""Invitations on a real database: a one-time link kept only as its hash, one waiting
link per address, the role within what the inviter may grant, joining as a new or an
existing user, and links that are used, revoked or expired; mail through a real SMTP
server on loopback."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink
from sqlalchemy import Engine, insert, select

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import list_audit_events
from smscast.engine.accounts.auth import Caller, memberships, token_hash, users
from smscast.engine.accounts.invitations import (
    InvitationState,
    accept_invitation,
    find_invitation,
    invitations,
    invite_member,
    list_invitations,
    mail_invitation,
    revoke_invitation,
)
from smscast.engine.accounts.sign_in_throttle import AccountLocked, SignInLimits
from smscast.engine.accounts.users import hash_password, list_members, sign_in
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace

PASSWORD = "a long enough password"
LIMITS = SignInLimits()


def caller(workspace: WorkspaceRef, role: str = "owner") -> Caller:
    return Caller("user", 1, workspace, role, "olga@shop.test")


def accept(engine: Engine, token: str, now: datetime, **given: Any) -> Any:
    values = {"name": "Nina", "password": PASSWORD, **given}
    return accept_invitation(engine, token, address="127.0.0.1", limits=LIMITS, now=now, **values)


def roles(engine: Engine, workspace: WorkspaceRef) -> dict[str, str]:
    return {m["email"]: m["role"] for m in list_members(engine, workspace, after=0, limit=50)}


def test_a_new_person_joins_through_the_link_once(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    created = invite_member(engine, workspace, " Nina@Shop.test", "marketer",
                            caller=caller(workspace), now=now)  # fmt: skip
    assert created.invitation["email"] == "nina@shop.test"
    assert created.invitation["expires_at"] == now + timedelta(days=7)
    with engine.connect() as conn:
        stored = conn.execute(select(invitations.c.token_hash)).scalar_one()
    assert stored == token_hash(created.token) and created.token not in stored
    view = find_invitation(engine, created.token, now=now)
    assert view is not None and view.state is InvitationState.PENDING and not view.has_account
    with pytest.raises(UserError, match="needs at least 10 characters"):
        accept(engine, created.token, now, password="short")
    with pytest.raises(UserError, match="give your name"):
        accept(engine, created.token, now, name=" ")
    joined = accept(engine, created.token, now, name=" Nina New ")
    assert roles(engine, workspace)["nina@shop.test"] == "marketer"
    session = sign_in(engine, "nina@shop.test", PASSWORD, workspace_id=workspace.id,
                      lifetime=timedelta(hours=1), now=now)  # fmt: skip
    assert session.user_id == joined.user_id and session.role == "marketer"
    with pytest.raises(UserError, match="is accepted"):
        accept(engine, created.token, now)
    actions = [e["action"] for e in list_audit_events(engine, workspace.id, before=0, limit=10)]
    assert "member.invited" in actions and "member.joined" in actions
    assert list_invitations(engine, workspace, now=now) == []


def test_an_existing_user_joins_with_their_own_password_counted_as_a_sign_in(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(users)
            .values(
                email="nina@shop.test",
                name="Nina",
                is_active=True,
                created_at=now,
                password_hash=hash_password(PASSWORD),
            )
            .returning(users.c.id)
        ).scalar_one()
        conn.execute(insert(memberships).values(user_id=user_id, workspace_id=elsewhere.id,
                                                role="owner"))  # fmt: skip
    created = invite_member(engine, workspace, "nina@shop.test", "agent",
                            caller=caller(workspace), now=now)  # fmt: skip
    view = find_invitation(engine, created.token, now=now)
    assert view is not None and view.has_account
    strict = SignInLimits(lock_after=2)
    for _ in range(2):
        with pytest.raises(UserError):
            accept_invitation(engine, created.token, name="", password="not it at all",
                              address="10.0.0.1", limits=strict, now=now)  # fmt: skip
    with pytest.raises(AccountLocked):  # locked like a sign-in: even the right one waits
        accept_invitation(engine, created.token, name="", password=PASSWORD,
                          address="10.0.0.2", limits=strict, now=now)  # fmt: skip
    later = now + timedelta(hours=1)
    accept(engine, created.token, later, name="")
    assert roles(engine, workspace)["nina@shop.test"] == "agent"
    with pytest.raises(UserError, match="already a member"):
        invite_member(engine, workspace, "nina@shop.test", "agent", caller=caller(workspace),
                      now=later)  # fmt: skip


def test_a_new_invitation_replaces_the_waiting_one_and_revoking_ends_it(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    first = invite_member(engine, workspace, "nina@shop.test", "agent", caller=caller(workspace),
                          now=now)  # fmt: skip
    second = invite_member(engine, workspace, "nina@shop.test", "viewer",
                           caller=caller(workspace), now=now)  # fmt: skip
    assert [i["role"] for i in list_invitations(engine, workspace, now=now)] == ["viewer"]
    with pytest.raises(UserError, match="is revoked"):
        accept(engine, first.token, now)
    revoke_invitation(engine, workspace, second.invitation["id"], caller=caller(workspace),
                      now=now)  # fmt: skip
    with pytest.raises(UserError, match="nothing to revoke"):
        revoke_invitation(engine, workspace, second.invitation["id"], caller=caller(workspace),
                          now=now)  # fmt: skip
    with pytest.raises(UserError, match="is revoked"):
        accept(engine, second.token, now)
    everything = list_invitations(engine, workspace, now=now, pending_only=False)
    assert [i["state"] for i in everything] == ["revoked", "revoked"]
    assert "nina@shop.test" not in roles(engine, workspace)


def test_a_link_expires_and_nobody_invites_above_their_role(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    created = invite_member(engine, workspace, "nina@shop.test", "admin",
                            caller=caller(workspace, "admin"), now=now)  # fmt: skip
    late = now + timedelta(days=7, seconds=1)
    view = find_invitation(engine, created.token, now=late)
    assert view is not None and view.state is InvitationState.EXPIRED
    with pytest.raises(UserError, match="is expired"):
        accept(engine, created.token, late)
    with pytest.raises(UserError, match="cannot grant the owner role"):
        invite_member(engine, workspace, "x@shop.test", "owner", caller=caller(workspace, "admin"),
                      now=now)  # fmt: skip
    with pytest.raises(UserError, match="is not an email address"):
        invite_member(engine, workspace, "nobody", "agent", caller=caller(workspace), now=now)
    with pytest.raises(UserError, match="is not a role"):
        invite_member(engine, workspace, "x@shop.test", "boss", caller=caller(workspace), now=now)
    assert find_invitation(engine, "no-such-token", now=now) is None


def test_the_invitation_is_mailed_when_a_relay_is_set(settings: Settings) -> None:
    assert mail_invitation(settings, "nina@shop.test", "Join", "Open the link") is False
    received: list[Any] = []

    class Keep(Sink):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        relayed = settings.model_copy(
            update={"smtp_url": f"smtp://127.0.0.1:{port}", "mail_from": "portal@shop.test"}
        )
        assert mail_invitation(relayed, "nina@shop.test", "Join", "Open the link") is True
    finally:
        controller.stop()
    [envelope] = received
    assert (envelope.mail_from, envelope.rcpt_tos) == ("portal@shop.test", ["nina@shop.test"])
    assert b"Open the link" in envelope.content
