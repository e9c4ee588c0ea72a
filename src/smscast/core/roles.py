"""Roles and what each may do: THE permission table, one a reader can check at a glance.

Owners run the workspace (and may hand out ownership); admins run everything
else including people and keys; marketers run contacts and campaigns; agents
answer the inbox and may record an opt-out a person asks them for, never an
opt-in (an opt-in needs the person's own evidence); viewers only look.

Every API route declares exactly one `Permission` (`api.deps.require`), and a test
walks every route as every role against `PERMISSIONS`: this module is the only place
where who-may-do-what is decided. Creating a workspace is not a workspace role's
business at all: it belongs to instance administrators (`users.instance_admin`).
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
    CONSENT_OPT_IN = "consent.opt_in"
    CONSENT_OPT_OUT = "consent.opt_out"
    CAMPAIGNS_WRITE = "campaigns.write"
    MESSAGES_SEND = "messages.send"
    TICKETS_WRITE = "tickets.write"
    NUMBERS_WRITE = "numbers.write"
    CONNECTORS_WRITE = "connectors.write"
    COUPONS_REDEEM = "coupons.redeem"
    WORKSPACES_CREATE = "workspaces.create"  # instance administrators only, whatever their role


# What each action covers, in the words of README's permission table.
ACTIONS: dict[Permission, str] = {
    Permission.READ: "see contacts, campaigns, messages, tickets, numbers, reports: "
    "every GET not named below",
    Permission.WORKSPACE_MANAGE: "change the workspace's name, country, time zone and settings",
    Permission.OWNERSHIP: "make someone an owner or take the owner role away",
    Permission.USERS_MANAGE: "add members, change their roles (up to admin), remove them",
    Permission.KEYS_MANAGE: "create, list and revoke API keys",
    Permission.WEBHOOKS_MANAGE: "webhook subscriptions, their deliveries and the callback secret",
    Permission.AUDIT_READ: "read the audit log",
    Permission.CONTACTS_WRITE: "create, change and import contacts",
    Permission.CONTACTS_ERASE: "erase a contact and their personal data",
    Permission.CONSENT_OPT_IN: "record an opt-in, with its evidence",
    Permission.CONSENT_OPT_OUT: "record an opt-out",
    Permission.CAMPAIGNS_WRITE: "templates, segments and campaigns: create, launch, pause, cancel",
    Permission.MESSAGES_SEND: "send a single message",
    Permission.TICKETS_WRITE: "answer, annotate, assign, solve and reopen tickets",
    Permission.NUMBERS_WRITE: "numbers, keyword rules and automatic replies",
    Permission.CONNECTORS_WRITE: "carrier connectors and their secrets",
    Permission.COUPONS_REDEEM: "redeem a coupon code",
    Permission.WORKSPACES_CREATE: "create a new workspace (instance administrators only)",
}

# Held by no workspace role: granted by `users.instance_admin` alone.
INSTANCE_PERMISSIONS = frozenset({Permission.WORKSPACES_CREATE})


_MARKETER = frozenset(
    {
        Permission.READ,
        Permission.CONTACTS_WRITE,
        Permission.CONSENT_OPT_IN,
        Permission.CONSENT_OPT_OUT,
        Permission.CAMPAIGNS_WRITE,
        Permission.MESSAGES_SEND,
        Permission.COUPONS_REDEEM,
    }
)
_AGENT = frozenset(
    {
        Permission.READ,
        Permission.CONSENT_OPT_OUT,
        Permission.MESSAGES_SEND,
        Permission.TICKETS_WRITE,
        Permission.COUPONS_REDEEM,
    }
)
_OWNER = frozenset(Permission) - INSTANCE_PERMISSIONS
_ADMIN = _OWNER - {Permission.OWNERSHIP}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _OWNER,
    Role.ADMIN: _ADMIN,
    Role.MARKETER: _MARKETER,
    Role.AGENT: _AGENT,
    Role.VIEWER: frozenset({Permission.READ}),
}


def allows(role: str, permission: Permission, *, instance_admin: bool = False) -> bool:
    """Whether `role` may do `permission`; instance permissions go by `instance_admin` alone."""
    if permission in INSTANCE_PERMISSIONS:
        return instance_admin
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def may_grant(granter: str, role: str) -> bool:
    """Nobody hands out more than they hold: only owners make owners."""
    if role == Role.OWNER:
        return allows(granter, Permission.OWNERSHIP)
    return allows(granter, Permission.USERS_MANAGE)
