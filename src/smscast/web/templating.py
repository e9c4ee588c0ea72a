"""The Jinja2 environments (one per language) and `render`, which every page answers with.

Autoescaping is on for every template: a contact named `<script>…` shows as text.
Each language has its own environment with its catalogue installed (new-style
gettext: `{{ _("Hello %(name)s", name=n) }}` escapes `n`), so concurrent requests
in different languages never share a translation. `render` fills in what every
page's layout needs: the viewer, `can()`, the CSRF token, the navigation, the
language menu and the formatting filters for the request's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context

from smscast.core.roles import Permission
from smscast.web import i18n
from smscast.web.auth import Viewer, viewer_of
from smscast.web.csrf import CSRF_COOKIE, CSRF_FIELD, binding_of, new_nonce, token_for
from smscast.web.nav import NavItem
from smscast.web.text_meter import measure_text

TEMPLATE_DIR = Path(__file__).parent / "templates"
# How a role is named on a page (msgids; `_(role_name(role))` in a template).
ROLE_NAMES: Mapping[str, str] = {
    "owner": i18n.N_("owner"),
    "admin": i18n.N_("administrator"),
    "marketer": i18n.N_("marketer"),
    "agent": i18n.N_("agent"),
    "viewer": i18n.N_("viewer"),
}
YEAR_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Templating:
    """The environments by language and the site's navigation, built once at start."""

    environments: Mapping[str, Environment]
    translations: Mapping[str, i18n.Catalogue]
    nav: tuple[NavItem, ...]


class SharedBytecode(BytecodeCache):
    """Templates compiled once per process and shared by every environment: one per
    language, (in tests) one per site. A template's source checksum is in its bucket, so
    an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = SharedBytecode()


def build_templating(nav: tuple[NavItem, ...], template_dir: Path = TEMPLATE_DIR) -> Templating:
    """Loads every language's catalogue now, so a missing one stops the start."""
    translations = {language: i18n.load_translations(language) for language in i18n.LANGUAGES}
    environments = {
        language: _environment(language, catalogue, template_dir)
        for language, catalogue in translations.items()
    }
    return Templating(environments, translations, tuple(sorted(nav)))


def _environment(language: str, catalogue: i18n.Catalogue, template_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(template_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=_BYTECODE,
    )
    env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=lambda value: i18n.format_number(value, language),
        percent=lambda ratio, digits=1: i18n.format_percent(ratio, language, digits),
        money=_money_filter(language),
        datetime=_moment_filter(i18n.format_datetime, language, "medium"),
        date=_moment_filter(i18n.format_date, language, "medium"),
        time=_moment_filter(i18n.format_time, language, "short"),
    )
    env.globals["language"] = language
    env.globals["measure_text"] = measure_text  # macros/text_meter.html
    return env


def _money_filter(language: str) -> Any:
    @pass_context
    def money(context: Context, amount: float | Decimal, currency: str | None = None) -> str:
        """Money in `currency`, else the workspace's currency."""
        return i18n.format_money(amount, currency or context["currency"], language)

    return money


def _moment_filter(format_: Any, language: str, default_width: str) -> Any:
    @pass_context
    def moment(context: Context, value: datetime | None, width: str = default_width) -> str:
        """A moment in the workspace's time zone (UTC when signed out); None as a dash."""
        if value is None:
            return "–"
        return str(format_(value, language, context["timezone"], width))

    return moment


def request_language(request: Request) -> str:
    """The language of this request (see `i18n.choose_language`), worked out once."""
    cached = getattr(request.state, "portal_language", None)
    if isinstance(cached, str):
        return cached
    viewer = viewer_of(request)
    language = i18n.choose_language(
        chosen=viewer.profile.locale if viewer else None,
        cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
        accept_language=request.headers.get("accept-language", ""),
        workspace_default=(
            viewer.caller.workspace.settings.get(i18n.WORKSPACE_LANGUAGE_SETTING)
            if viewer
            else None
        ),
    )
    request.state.portal_language = language
    return language


def gettext_for(request: Request) -> Callable[..., str]:
    """`gettext` in the request's language, for words a route builds (form errors):
    `_("Try again in %(seconds)s seconds.", seconds=30)`."""
    templating: Templating = request.app.state.templating
    catalogue = templating.translations[request_language(request)]

    def gettext(message: str, **params: Any) -> str:
        text = catalogue.gettext(message)
        return text % params if params else text

    return gettext


def csrf_token(request: Request) -> str:
    """The token for this page's forms; a browser without a cookie to bind it to gets
    a fresh `smscast_csrf` cookie with the response (see `render`)."""
    binding = binding_of(request.cookies) or getattr(request.state, "csrf_nonce", None)
    if binding is None:
        binding = request.state.csrf_nonce = new_nonce()
    key: bytes = request.app.state.portal_key
    return token_for(key, binding)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page `template` rendered for this request's viewer and language.

    Blocking (it may read the viewer from the database): call it from a plain `def`
    route, which FastAPI runs in a thread.
    """
    templating: Templating = request.app.state.templating
    language = request_language(request)
    viewer = viewer_of(request)
    page = templating.environments[language].get_template(template)
    html = page.render(
        {**_layout_context(request, templating, language, viewer), **(context or {})}
    )
    response = HTMLResponse(
        html,
        status_code=status_code,
        # Pages are personal and in the reader's language: no shared or back-button copies.
        headers={"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language", **(headers or {})},
    )
    nonce = getattr(request.state, "csrf_nonce", None)
    if nonce is not None:
        set_portal_cookie(request, response, CSRF_COOKIE, nonce, max_age=YEAR_SECONDS)
    return response


def _layout_context(
    request: Request, templating: Templating, language: str, viewer: Viewer | None
) -> dict[str, Any]:
    workspace = viewer.caller.workspace if viewer else None
    settings = workspace.settings if workspace else {}

    def can(permission: str | Permission) -> bool:
        return viewer is not None and viewer.can(permission)

    return {
        "role_name": lambda role: ROLE_NAMES.get(role, role),
        "request": request,
        "viewer": viewer,
        "workspace": workspace,
        "can": can,
        "csrf_field": CSRF_FIELD,
        "csrf_token": csrf_token(request),
        "nav": [item for item in templating.nav if can(item.permission)] if viewer else [],
        "current_path": request.url.path,
        "here": _here(request),
        "languages": [(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
        "timezone": workspace.timezone if workspace else "UTC",
        "currency": str(
            settings.get("currency")
            or i18n.currency_of_country(workspace.country if workspace else "")
        ),
    }


def _here(request: Request) -> str:
    """This page's path and query: where the language menu brings the reader back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def set_portal_cookie(
    request: Request, response: Any, name: str, value: str, *, max_age: int
) -> None:
    """A cookie as every portal cookie is set: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
