"""One module per subject; `site.create_site` includes them in this order.

A page module has a `router` and may have `NAV` (its entries in the header's menu).
Adding pages is adding a module and one line here.
"""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter

from smscast.web.nav import NavItem
from smscast.web.routes import (
    analytics,
    api_keys,
    audit,
    auth,
    campaign_builder,
    campaigns,
    connectors,
    contact_import,
    contacts,
    dashboard,
    inbox,
    invite,
    join,
    keywords,
    members,
    numbers,
    profile,
    push_subscribe,
    segments,
    settings,
    text_meter,
    ticket,
    unsubscribe,
    webhooks,
)

PAGES: list[ModuleType] = [
    auth,
    campaign_builder,  # before the campaigns pages: /campaigns/new is not a campaign id
    dashboard,
    campaigns,
    contact_import,
    contacts,
    segments,
    join,
    push_subscribe,
    unsubscribe,
    text_meter,
    inbox,
    ticket,
    numbers,
    keywords,
    analytics,
    connectors,
    settings,
    members,
    api_keys,
    webhooks,
    audit,
    profile,
    invite,
]

ROUTERS: list[APIRouter] = [page.router for page in PAGES]
NAV: tuple[NavItem, ...] = tuple(item for page in PAGES for item in getattr(page, "NAV", ()))
