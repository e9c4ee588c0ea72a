"""Notifications in the browser from the public sign-up page (`/join/<slug>`).

    GET  /join/<slug>/sw.js              the service worker: shows a push message as a
                                         notification, opens its link on a click
    GET  /join/<slug>/push-key           {"key": <VAPID public key>}; 404 without a
                                         webpush connector (the page then offers no push)
    POST /join/<slug>/push               {"subscription": PushSubscription.toJSON(),
                                          "phone", "agreed", "consent_text"}
    POST /join/<slug>/push/unsubscribe   {"endpoint"}

The page's script (`static/push.js`) calls these with the page's CSRF token in the
`X-CSRF-Token` header, as every portal write carries one: the join page sets the
pre-session cookie it is bound to, so no exemption is needed. Answers are JSON with the
person's errors in the page's language, each on the field it concerns. The work is the
engine's (`engine.contacts.push_subscriptions`); this module adds what only a request
knows: the client's address, the browser, the language.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from smscast.api.routes.auth import client_address
from smscast.core.errors import Problem
from smscast.engine.contacts.push_subscriptions import (
    PushStatus,
    PushSubscriptionInput,
    push_key_for_page,
    subscribe_on_sign_up_page,
    unsubscribe_on_sign_up_page,
)
from smscast.engine.inbound.web_sign_up import sign_up_form
from smscast.web.auth import site_engine, site_now
from smscast.web.templating import gettext_for

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
MAX_PHONE = 64
MAX_TEXT = 4000

#: The service worker. Its scope is `/join/<slug>/` (the script's folder): it has no
#: fetch handler and controls no page, it only wakes for pushes, so no wider scope (and
#: no Service-Worker-Allowed header) is needed. Only http(s) links are opened.
SERVICE_WORKER = """\
// The service worker of a smscast sign-up page: shows the workspace's push messages.
"use strict";
var FALLBACK_TITLE = %(brand)s;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try { data = event.data.json(); } catch (error) { data = { body: event.data.text() }; }
  }
  var options = { body: String(data.body || ""), data: { url: String(data.url || "") } };
  if (data.ref) { options.tag = "smscast-" + data.ref; }
  event.waitUntil(self.registration.showNotification(String(data.title || FALLBACK_TITLE),
                                                     options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = event.notification.data && event.notification.data.url;
  if (url && /^https?:\\/\\//i.test(url)) {
    event.waitUntil(self.clients.openWindow(url));
  }
});
"""


class SubscriptionKeys(BaseModel):
    model_config = ConfigDict(extra="ignore")
    p256dh: Annotated[str, Field(max_length=200)] = ""
    auth: Annotated[str, Field(max_length=100)] = ""


class SubscriptionJson(BaseModel):
    """A browser's `PushSubscription.toJSON()` (its expirationTime is not kept)."""

    model_config = ConfigDict(extra="ignore")
    endpoint: Annotated[str, Field(max_length=2000)] = ""
    keys: SubscriptionKeys = SubscriptionKeys()


class PushSubscribeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    subscription: SubscriptionJson
    phone: Annotated[str, Field(max_length=MAX_PHONE)] = ""
    agreed: bool = False
    consent_text: Annotated[str, Field(max_length=MAX_TEXT)] = ""


class PushUnsubscribeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    endpoint: Annotated[str, Field(max_length=2000)] = ""


@router.get("/join/{slug}/sw.js")
def service_worker(request: Request, slug: str) -> Response:
    form = sign_up_form(site_engine(request), slug)
    if form is None:
        return Response("// no sign-up page here\n", status_code=404,
                        media_type="text/javascript")  # fmt: skip
    script = SERVICE_WORKER % {"brand": json.dumps(form.brand)}
    return Response(script, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/join/{slug}/push-key")
def push_key(request: Request, slug: str) -> Response:
    key = push_key_for_page(site_engine(request), slug)
    if key is None:
        return JSONResponse({"status": "closed"}, status_code=404, headers=NO_STORE)
    return JSONResponse({"key": key.vapid_public}, headers=NO_STORE)


@router.post("/join/{slug}/push")
def subscribe(request: Request, slug: str, body: PushSubscribeBody) -> Response:
    """Takes this browser's subscription with the phone and the box of the form above."""
    subscription = PushSubscriptionInput(
        body.subscription.endpoint,
        body.subscription.keys.p256dh,
        body.subscription.keys.auth,
        request.headers.get("user-agent", ""),
    )
    outcome = subscribe_on_sign_up_page(
        site_engine(request),
        slug,
        subscription,
        phone=body.phone,
        agreed=body.agreed,
        consent_text_shown=body.consent_text,
        client_address=client_address(request),
        now=site_now(request),
    )
    if outcome.status == PushStatus.SUBSCRIBED:
        return JSONResponse({"status": "subscribed"}, headers=NO_STORE)
    if outcome.status == PushStatus.CLOSED:
        return JSONResponse({"status": "closed"}, status_code=404, headers=NO_STORE)
    errors: list[dict[str, str]] = []
    for problem in outcome.errors:
        error = _error(request, problem)
        if error not in errors:  # the endpoint and both keys say the same to the person
            errors.append(error)
    status_code = 429 if outcome.status == PushStatus.THROTTLED else 422
    return JSONResponse({"status": outcome.status.value, "errors": errors},
                        status_code=status_code, headers=NO_STORE)  # fmt: skip


@router.post("/join/{slug}/push/unsubscribe")
def unsubscribe(request: Request, slug: str, body: PushUnsubscribeBody) -> Response:
    """Forgets this browser's subscription (the browser has already dropped it)."""
    removed = unsubscribe_on_sign_up_page(
        site_engine(request),
        slug,
        body.endpoint,
        user_agent=request.headers.get("user-agent", ""),
        client_address=client_address(request),
        now=site_now(request),
    )
    return JSONResponse({"status": "unsubscribed" if removed else "unknown"}, headers=NO_STORE)


def _error(request: Request, problem: Problem) -> dict[str, str]:
    """The engine's refusal in the reader's words, on the page's field it concerns (the
    subscription's own fields are the browser's doing, not the person's)."""
    _ = gettext_for(request)
    field = problem.field or "phone"
    if problem.code == "phone_missing":
        message = _("Enter your mobile phone number.")
    elif problem.code == "invalid_phone" or (field == "phone" and problem.code != "push_throttled"):
        message = _(
            "This is not a mobile phone number we can text. Check it, and start with the "
            "country code (like +44) if it is from abroad."
        )
    elif problem.code == "consent_text_changed":
        field = "agreed"
        message = _(
            "The text to agree to has changed since you opened this page. Read it again "
            "and tick the box if you agree."
        )
    elif problem.code == "consent_not_given":
        message = _("Tick the box to agree to the text.")
    elif problem.code == "push_throttled":
        message = _("Too many tries for this phone number in the last hour. Try again later.")
    else:  # the endpoint or the keys: something in this browser, not in the form
        field = "push"
        message = _(
            "This browser cannot get notifications from us. Try another browser, or sign up "
            "for texts above."
        )
    return {"field": field, "message": message}
