"""The workspace's settings."""

from __future__ import annotations

from fastapi import APIRouter

from smscast.core.roles import Permission
from smscast.web.i18n import N_
from smscast.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV = [NavItem(80, N_("Settings"), "/settings", Permission.WORKSPACE_MANAGE)]
