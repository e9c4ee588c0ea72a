"""Roles and what each may do: one table a reader can check at a glance.

Owners run the workspace (and may hand out ownership); admins run everything
else including people and keys; marketers run contacts and campaigns; agents
answer the inbox; viewers only look.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MARKETER = "marketer"
    AGENT = "agent"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"  # every GET in the workspace
    WORKSPACE_MANAGE = "workspace.manage"
    OWNERSHIP = "ownership"  # grant or take away the owner role
    USERS_MANAGE = "users.manage"
    KEYS_MANAGE = "keys.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"
    AUDIT_READ = "audit.read"
    CONTACTS_WRITE = "contacts.write"
    CONTACTS_ERASE = "contacts.erase"
    CONSENT_WRITE = "consent.write"
    CAMPAIGNS_WRITE = "campaigns.write"
    MESSAGES_SEND = "messages.send"
    TICKETS_WRITE = "tickets.write"
    NUMBERS_WRITE = "numbers.write"
    CONNECTORS_WRITE = "connectors.write"
    COUPONS_REDEEM = "coupons.redeem"


_MARKETER = frozenset(
    {
        Permission.READ,
        Permission.CONTACTS_WRITE,
        Permission.CONSENT_WRITE,
        Permission.CAMPAIGNS_WRITE,
        Permission.MESSAGES_SEND,
        Permission.COUPONS_REDEEM,
    }
)
_AGENT = frozenset(
    {
        Permission.READ,
        Permission.CONSENT_WRITE,
        Permission.MESSAGES_SEND,
        Permission.TICKETS_WRITE,
        Permission.COUPONS_REDEEM,
    }
)
_ADMIN = frozenset(Permission) - {Permission.OWNERSHIP}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission),
    Role.ADMIN: _ADMIN,
    Role.MARKETER: _MARKETER,
    Role.AGENT: _AGENT,
    Role.VIEWER: frozenset({Permission.READ}),
}


def allows(role: str, permission: Permission) -> bool:
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def may_grant(granter: str, role: str) -> bool:
    """Nobody hands out more than they hold: only owners make owners."""
    if role == Role.OWNER:
        return allows(granter, Permission.OWNERSHIP)
    return allows(granter, Permission.USERS_MANAGE)
