"""The public sign-up page `/join/<slug>`: a phone, the workspace's consent text as the
checkbox's label, one button; no sign-in.

The page is thin over `engine.inbound.web_sign_up`: the engine checks the phone, the
box, that the text ticked is still the workspace's, throttles, and queues the "reply
YES" text. What the page adds is the person's side: the words in their language,
every wrong field at its field with what they typed kept, and the evidence only a
request has — the client's address (the proxy's unless uvicorn is started to trust
its forwarded headers, exactly as sign-in counts it), the browser and the language.
The form carries a CSRF token bound to a pre-session cookie, as /login does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from smscast.api.routes.auth import client_address
from smscast.core.errors import Problem
from smscast.engine.inbound.web_sign_up import (
    SignUpForm,
    SignUpLimits,
    SignUpOutcome,
    SignUpStatus,
    sign_up_form,
    start_web_sign_up,
)
from smscast.web import i18n
from smscast.web.auth import site_engine, site_now, site_settings
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.templating import Templating, gettext_for, render, request_language

router = APIRouter(include_in_schema=False)

MAX_PHONE = 64  # anything longer is not a phone number; the engine is not asked
MAX_TEXT = 4000  # twice the longest consent text a workspace may set


@router.get("/join/{slug}")
def join_page(request: Request, slug: str) -> Response:
    form = sign_up_form(site_engine(request), slug)
    if form is None:
        return _unknown(request)
    if not form.is_open:
        return _closed(request, form)
    return _form_page(request, form, "", False, [])


@router.post("/join/{slug}")
def join(
    request: Request,
    slug: str,
    phone: str = Form(""),
    agreed: str = Form(""),
    consent_text: str = Form(""),
) -> Response:
    """Takes one sign-up; answers with what became of it, in the page's language."""
    phone, consent_text = phone[:MAX_PHONE], consent_text[:MAX_TEXT]
    now = site_now(request)
    outcome = start_web_sign_up(
        site_engine(request),
        slug,
        phone=phone,
        agreed=bool(agreed),
        consent_text_shown=consent_text,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent", ""),
        now=now,
        limits=SignUpLimits.from_settings(site_settings(request)),
        language=request_language(request),
    )
    form = outcome.form
    if form is None:
        return _unknown(request)
    if outcome.status == SignUpStatus.CLOSED:
        return _closed(request, form)
    if outcome.status == SignUpStatus.SENT:
        left = (outcome.confirm_by - now) if outcome.confirm_by else timedelta(0)
        hours = max(1, math.ceil(left.total_seconds() / 3600))
        context = {"form": form, "phone": outcome.phone, "hours": hours}
        return render(request, "join/sent.html", context)
    if outcome.status == SignUpStatus.ALREADY_SUBSCRIBED:
        return render(request, "join/subscribed.html", {"form": form, "phone": outcome.phone})
    errors = [_field_error(request, problem, outcome) for problem in outcome.errors]
    if outcome.status == SignUpStatus.THROTTLED:
        retry = {"Retry-After": str(outcome.retry_after_s or 3600)}
        return _form_page(request, form, phone, bool(agreed), errors, 429, retry)
    # INVALID. A text that changed since the page was loaded is shown anew, unticked.
    stale = any(problem.field == "consent_text" for problem in outcome.errors)
    return _form_page(request, form, phone, bool(agreed) and not stale, errors, 422)


def _form_page(
    request: Request,
    form: SignUpForm,
    phone: str,
    agreed: bool,
    errors: list[FieldError],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"form": form, "phone": phone, "agreed": agreed, "errors": errors}
    return render(request, "join/form.html", context, status_code=status_code, headers=headers)


def _field_error(request: Request, problem: Problem, outcome: SignUpOutcome) -> FieldError:
    """The engine's refusal in the reader's words, on the field it names (the box's
    problems on the box: that is where the text to agree to is)."""
    _ = gettext_for(request)
    if problem.code == "phone_missing":
        return FieldError("phone", _("Enter your mobile phone number."))
    if problem.code == "invalid_phone":
        return FieldError("phone", _(
            "This is not a mobile phone number we can text. Check it, and start with the "
            "country code (like +44) if it is from abroad."
        ))  # fmt: skip
    if problem.code == "consent_text_changed":
        return FieldError("agreed", _(
            "The text to agree to has changed since you opened this page. Read it again "
            "and tick the box if you agree."
        ))  # fmt: skip
    if problem.code == "consent_not_given":
        return FieldError("agreed", _("Tick the box to agree to the text."))
    if problem.code == "sign_up_throttled":
        return FieldError("phone", _throttled(request, problem, outcome.retry_after_s or 3600))
    return FieldError(problem.field or "phone", problem.message)  # a refusal not known here


def _throttled(request: Request, problem: Problem, retry_after_s: int) -> str:
    ngettext = ngettext_for(request)
    minutes = math.ceil(retry_after_s / 60)
    if problem.field == "phone":
        text = ngettext(
            "Too many sign-ups for this phone number in the last hour. Try again in "
            "%(num)s minute.",
            "Too many sign-ups for this phone number in the last hour. Try again in "
            "%(num)s minutes.",
            minutes,
        )
    else:
        text = ngettext(
            "Too many sign-ups from your connection in the last hour. Try again in %(num)s minute.",
            "Too many sign-ups from your connection in the last hour. Try again in "
            "%(num)s minutes.",
            minutes,
        )
    return text % {"num": minutes}


def ngettext_for(request: Request) -> Callable[[str, str, int], str]:
    """`ngettext` in the request's language (the plural form for the number; the caller
    fills in its placeholders)."""
    templating: Templating = request.app.state.templating
    catalogue = templating.translations[request_language(request)]
    return catalogue.ngettext


def _closed(request: Request, form: SignUpForm) -> Response:
    """The form's address, with no sign-ups taken: 404, saying so under the brand."""
    return render(request, "join/closed.html", {"form": form}, status_code=404)


def _unknown(request: Request) -> Response:
    """No form at this address. Answered here, not by raising 404: the portal sends a
    signed-out visitor of an unknown page to sign in, and this page is for the public."""
    return error_page(request, 404, i18n.N_("There is no sign-up form at this address."))
