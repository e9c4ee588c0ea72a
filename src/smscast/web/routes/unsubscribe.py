"""Public pages of the unsubscribe flow: `/u/<message id>/<token>`, no sign-in.

Two ways in, one outcome (`engine.contacts.unsubscribe`):

- a mail provider's own "unsubscribe" button POSTs `List-Unsubscribe=One-Click` to the
  URL of the email's `List-Unsubscribe` header (RFC 8058). It gets 200 and no page, and
  carries no CSRF token: it is the provider's server, not a browser with our cookie. The
  link's token is what proves the request speaks for the mailbox.
- the link in the email's footer opens a page with one button. Opening it changes
  nothing: mail scanners and previews fetch every link of a message, and a GET that
  unsubscribed would unsubscribe everyone whose mail is scanned. The button POSTs the
  form, which unsubscribes and says so.

A link that is not ours (a wrong token, no such email) gets a 404 page. These pages set
the portal's security headers themselves, so they keep them when the path is left out
of the portal's CSRF guard for the one-click POST.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from smscast.engine.contacts.unsubscribe import (
    UnsubscribeHow,
    UnsubscribeLink,
    unsubscribe_from_email,
    unsubscribe_link,
)
from smscast.web.auth import site_engine, site_now
from smscast.web.guard import SECURITY_HEADERS
from smscast.web.templating import render

router = APIRouter(include_in_schema=False)

ONE_CLICK = "One-Click"  # RFC 8058: the body is List-Unsubscribe=One-Click
PAGE_HEADERS = {
    **{name.decode(): value.decode() for name, value in SECURITY_HEADERS},
    "X-Robots-Tag": "noindex",
}


@router.get("/u/{message_id}/{token}")
def unsubscribe_page(request: Request, message_id: str, token: str) -> Response:
    """The page with the one button; shows the outcome at once if already unsubscribed."""
    link = _link(request, message_id, token)
    if link is None:
        return _unknown(request)
    if link.unsubscribed:
        return _page(request, "unsubscribe/done.html", link)
    return _page(request, "unsubscribe/confirm.html", link, action=request.url.path)


@router.post("/u/{message_id}/{token}")
def unsubscribe(
    request: Request,
    message_id: str,
    token: str,
    one_click: str = Form("", alias="List-Unsubscribe"),
) -> Response:
    """Unsubscribes: silently for a provider's one-click POST, with a page for the button."""
    how = UnsubscribeHow.ONE_CLICK if one_click == ONE_CLICK else UnsubscribeHow.PAGE
    outcome = None
    if message_id.isdigit() and len(message_id) < 19:
        outcome = unsubscribe_from_email(
            site_engine(request), request.app.state.portal_key, int(message_id), token,
            how=how, user_agent=request.headers.get("user-agent", ""), now=site_now(request),
        )  # fmt: skip
    if how == UnsubscribeHow.ONE_CLICK:
        return Response(status_code=200 if outcome is not None else 404, headers=PAGE_HEADERS)
    if outcome is None:
        return _unknown(request)
    return _page(request, "unsubscribe/done.html", outcome.link)


def _link(request: Request, message_id: str, token: str) -> UnsubscribeLink | None:
    if not message_id.isdigit() or len(message_id) >= 19:  # no such message id: not ours
        return None
    key: bytes = request.app.state.portal_key
    return unsubscribe_link(site_engine(request), key, int(message_id), token)


def _page(request: Request, template: str, link: UnsubscribeLink, **context: str) -> Response:
    values = {"link": link, "brand": link.brand, **context}
    return render(request, template, values, headers=PAGE_HEADERS)


def _unknown(request: Request) -> Response:
    return render(request, "unsubscribe/unknown.html", {"brand": ""}, status_code=404,
                  headers=PAGE_HEADERS)  # fmt: skip
