"""One router per subject; `app.create_app` includes them in this order."""

from __future__ import annotations

from fastapi import APIRouter

from smscast.api.routes import (
    analytics,
    api_keys,
    audit,
    auth,
    campaigns,
    connectors,
    consent,
    contacts,
    imports,
    messages,
    metrics,
    provider_hooks,
    routing,
    templates,
    tickets,
    users,
    voice_hooks,
    webhooks,
    whatsapp_hooks,
    workspaces,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    workspaces.router,
    users.router,
    api_keys.router,
    imports.router,  # before contacts: /contacts/imports is not /contacts/{contact_id}
    contacts.router,
    consent.router,
    templates.router,
    webhooks.router,
    messages.router,
    campaigns.router,
    routing.router,
    tickets.router,
    connectors.router,
    analytics.router,
    audit.router,
    provider_hooks.router,
    whatsapp_hooks.router,
    voice_hooks.router,
    metrics.router,
]
