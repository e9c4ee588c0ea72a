"""A secret sent to or received from a carrier never shows in the connector log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
from hypothesis import assume, given
from hypothesis import strategies as st

from smscast.channels.http_log import (
    REDACTED,
    log_exchange,
    log_webhook,
    redact_url,
)

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET = "s3cr3t-Pa55/word+x"


def entry(request: httpx.Request, response: httpx.Response | None = None, **kw: object):
    return log_exchange("c1", "submit", request, response, duration_ms=1.5, at=AT, **kw)


def test_basic_auth_header_is_redacted_but_its_scheme_kept() -> None:
    request = httpx.Request(
        "POST",
        "https://api.example.com/x",
        headers={"Authorization": httpx.BasicAuth("AC1", SECRET)._auth_header},
    )
    logged = entry(request)
    assert "authorization: Basic [redacted]" in logged.request
    basic = request.headers["Authorization"].split(" ")[1]
    assert basic not in logged.request


def test_app_key_header_is_redacted() -> None:
    request = httpx.Request(
        "POST", "https://x.api.infobip.com/sms", headers={"Authorization": f"App {SECRET}"}
    )
    assert "authorization: App [redacted]" in entry(request).request
    assert SECRET not in entry(request).request


def test_password_in_query_string_and_dlr_token_inside_dlr_url_are_redacted() -> None:
    dlr = "https://us.example/dlr?ref=7&token=abcdef0123456789&type=%d"
    request = httpx.Request(
        "GET",
        "http://127.0.0.1:13013/cgi-bin/sendsms",
        params={"username": "tester", "password": SECRET, "to": "+4812", "dlr-url": dlr},
    )
    logged = entry(request).request
    assert SECRET not in logged and quote(SECRET, safe="") not in logged
    assert "abcdef0123456789" not in logged
    assert "username=tester" in logged and "to=%2B4812" in logged
    assert "ref%3D7" in logged  # the rest of the dlr-url stays readable


def test_form_body_secrets_are_redacted() -> None:
    request = httpx.Request(
        "POST", "https://api.example.com/x", data={"Body": "hello", "AuthToken": SECRET}
    )
    logged = entry(request).request
    assert SECRET not in logged and quote(SECRET, safe="") not in logged
    assert "Body=hello" in logged


def test_json_body_secrets_are_redacted_at_any_depth() -> None:
    request = httpx.Request(
        "POST",
        "https://api.example.com/x",
        json={"messages": [{"text": "hi", "auth": {"api_key": SECRET, "Password": SECRET}}]},
    )
    logged = entry(request).request
    assert SECRET not in logged
    body = json.loads(logged.split("\n\n", 1)[1])
    assert body["messages"][0]["text"] == "hi"
    assert body["messages"][0]["auth"] == {"api_key": REDACTED, "Password": REDACTED}


def test_userinfo_in_url_is_redacted() -> None:
    assert redact_url(f"https://user:{quote(SECRET, safe='')}@host.example/p?a=1") == (
        "https://[redacted]@host.example/p?a=1"
    )


def test_a_named_secret_echoed_by_the_carrier_is_scrubbed_from_the_response() -> None:
    request = httpx.Request("GET", "https://api.example.com/x")
    response = httpx.Response(
        400,
        text=f"bad credentials {SECRET} for you",
        request=request,
        headers={"Content-Type": "text/plain"},
    )
    logged = entry(request, response, secrets=(SECRET,), error=f"refused {SECRET}")
    assert SECRET not in logged.response and SECRET not in (logged.error or "")
    assert "HTTP 400 Bad Request" in logged.response
    assert logged.duration_ms == 1.5 and logged.at == AT and logged.connector == "c1"


def test_a_forged_webhook_is_logged_with_its_reason_and_without_its_credentials() -> None:
    logged = log_webhook(
        "tw",
        "status-callback",
        method="POST",
        url="https://us.example/twilio/status",
        headers={"X-Twilio-Signature": "forged==", "Authorization": f"Basic {SECRET}"},
        body="MessageSid=SM1&MessageStatus=delivered",
        at=AT,
        error="X-Twilio-Signature does not match",
    )
    assert SECRET not in logged.request and "forged==" not in logged.request
    assert "MessageSid=SM1" in logged.request
    assert logged.response == "HTTP 403 Forbidden"
    assert logged.error == "X-Twilio-Signature does not match"


secret_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126),
    min_size=8,
    max_size=40,
)


@given(secret=secret_text)
def test_no_secret_survives_in_any_place_a_carrier_request_can_carry_it(secret: str) -> None:
    assume(not set(secret) & set("[]") and secret not in REDACTED)
    request = httpx.Request(
        "POST",
        "https://api.example.com/send",
        params={"password": secret, "apikey": secret},
        headers={"Authorization": f"Bearer {secret}"},
        data={"token": secret, "text": "hello"},
    )
    logged = entry(request, secrets=(secret,))
    assert secret not in logged.request
    assert quote(secret, safe="") not in logged.request
