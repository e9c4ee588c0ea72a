"""Who is looking at a page, and whether their role lets them.

The portal signs in with the API's own session cookie and resolves it with the
engine's `resolve_session`; permissions come from the one table in `core.roles`,
exactly as the API's `require` reads it. A page names its one permission with
`page_for(...)`; signed out, the visitor is sent to /login and brought back; a role
without the permission gets the 403 page. Templates ask `can("campaigns.write")`
to hide a button the role would be refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from smscast.api.deps import SESSION_COOKIE
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.core.roles import Permission, allows
from smscast.engine.accounts.auth import Caller, resolve_session
from smscast.engine.accounts.portal_preferences import (
    Profile,
    WorkspaceChoice,
    portal_profile,
    workspace_choices,
)
from smscast.engine.accounts.workspaces import WorkspaceRef


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in user of a page: their session's caller, profile and workspaces."""

    caller: Caller
    profile: Profile
    workspaces: list[WorkspaceChoice]

    def can(self, permission: str | Permission) -> bool:
        """Whether the role allows `permission`; an unknown name is a bug, raised loudly."""
        try:
            wanted = Permission(permission)
        except ValueError:
            known = ", ".join(p.value for p in Permission)
            raise ValueError(f"can({permission!r}): no such permission (known: {known})") from None
        return allows(self.caller.role, wanted, instance_admin=self.profile.instance_admin)


@dataclass(frozen=True, slots=True)
class Page:
    """What a page's route works with: like the API's `Api`, plus the request to render."""

    request: Request
    engine: Engine
    settings: Settings
    viewer: Viewer
    now: datetime

    @property
    def caller(self) -> Caller:
        return self.viewer.caller

    @property
    def workspace(self) -> WorkspaceRef:
        return self.viewer.caller.workspace


class SignInRequired(Exception):
    """Raised for a signed-out visitor; answered with a redirect to /login?next=…"""


class PasswordChangeRequired(Exception):
    """Raised while the viewer still has a one-time password: answered with a redirect to
    /profile, where they choose their own (the only page open to them until then)."""


class PageRefused(Exception):
    """Raised when the viewer's role lacks the page's permission; answered with 403."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(permission.value)
        self.permission = permission


def site_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def site_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def site_now(request: Request) -> datetime:
    """The moment of the request, from the site's clock (tests pass a fixed one)."""
    clock: Callable[[], datetime] = request.app.state.portal_clock
    return clock()


_UNRESOLVED = object()


def viewer_of(request: Request) -> Viewer | None:
    """The signed-in user, or None; resolved once per request (blocking: database)."""
    cached: Any = getattr(request.state, "portal_viewer", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached if isinstance(cached, Viewer) else None
    viewer = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        engine = site_engine(request)
        try:
            caller = resolve_session(engine, token, site_now(request))
        except UserError:  # AuthError, or a workspace that no longer exists: signed out
            caller = None
        if caller is not None:
            viewer = Viewer(
                caller, portal_profile(engine, caller), workspace_choices(engine, caller)
            )
    request.state.portal_viewer = viewer
    return viewer


def page_for(permission: Permission) -> Callable[[Request], Page]:
    """A dependency giving the route its `Page` once the viewer's role allows `permission`.

    A plain (sync) function on purpose: FastAPI runs it in a thread, so its database
    reads do not block the event loop.
    """

    def dependency(request: Request) -> Page:
        viewer = viewer_of(request)
        if viewer is None:
            raise SignInRequired()
        if viewer.profile.must_change_password and not request.url.path.startswith("/profile"):
            raise PasswordChangeRequired()
        if not viewer.can(permission):
            raise PageRefused(permission)
        return Page(
            request, site_engine(request), site_settings(request), viewer, site_now(request)
        )

    return dependency


reader_page = page_for(Permission.READ)
