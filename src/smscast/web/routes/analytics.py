"""Response analysis per number, keyword and campaign."""

from __future__ import annotations

from fastapi import APIRouter

from smscast.core.roles import Permission
from smscast.web.i18n import N_
from smscast.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV = [NavItem(60, N_("Analytics"), "/analytics/responses", Permission.READ)]
