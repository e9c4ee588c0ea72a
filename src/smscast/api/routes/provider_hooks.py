"""Callbacks from carriers: delivery reports and inbound texts, verified before use.

These URLs go into the carrier's console (or, for Kannel, into each message's
dlr-url); they take no API key: the carrier's signature or shared secret proves
who sent them, and a forged callback gets 403 and a line in the connector log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict

from smscast.api.deps import app_engine, app_settings
from smscast.api.problems import COMMON_RESPONSES, ApiProblem
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.engine.delivery.callback_checks import Callback
from smscast.engine.delivery.provider_callbacks import receive_callback

router = APIRouter(prefix="/hooks", tags=["carrier callbacks"], responses=COMMON_RESPONSES)
ConnectorId = Path(
    ge=1, le=2**31 - 1, description="The connector the callback is for", examples=[4]
)
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
TWILIO_STATUS = {
    "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+48500100200",
    "To": "+48601234567",
    "MessageStatus": "delivered",
    "ErrorCode": "",
}
TWILIO_INBOUND = {
    "MessageSid": "SM8dbbb1c5a4a54e8c9f1b2d5e6a7c8d9e",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+48601234567",
    "To": "+48500100200",
    "Body": "STOP",
    "NumMedia": "0",
}
INFOBIP_REPORTS = {
    "results": [
        {
            "messageId": "4175214633230339136",
            "to": "48601234567",
            "sentAt": "2026-11-25T10:00:01.000+0000",
            "doneAt": "2026-11-25T10:00:04.000+0000",
            "status": {"groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
            "error": {"groupName": "OK", "name": "NO_ERROR"},
        }
    ]
}
INFOBIP_INBOUND = {
    "results": [
        {
            "messageId": "817790313235066447",
            "from": "48601234567",
            "to": "48500100200",
            "text": "PROMO",
            "receivedAt": "2026-11-25T10:02:11.000+0000",
        }
    ]
}


def _form(example: dict[str, str]) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    return {"application/x-www-form-urlencoded": {"schema": schema, "example": example}}


def _json(example: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object"}, "example": example}}


def _kannel_parameters() -> list[dict[str, Any]]:
    """What Kannel fills into the dlr-url each message carried (see channels.providers.kannel)."""
    filled = {
        "ref": ("Our message ref", "918"),
        "token": ("The per-message token only we can make", "k3Jq9w2ZpA"),
        "type": ("Kannel's report type: 1 delivered, 2 failed, 8 accepted by the SMSC", "1"),
        "reply": ("The SMSC's reply text", "id:0A1B2C3D sub:001 dlvrd:001 stat:DELIVRD err:000"),
        "smsc": ("The SMSC's name in Kannel", "smsc1"),
        "foreign": ("The SMSC's message id", "0A1B2C3D"),
        "to": ("The recipient", "+48601234567"),
        "at": ("When Kannel got the report (unix seconds)", "1795600804"),
    }
    return [
        {"name": name, "in": "query", "required": False, "description": text,
         "schema": {"type": "string"}, "example": example}
        for name, (text, example) in filled.items()
    ]  # fmt: skip


class Accepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reports": 1, "inbound": 0, "problems": []}]}
    )

    reports: int
    inbound: int
    problems: list[str]


async def _receive(request: Request, connector_id: int, provider: str, purpose: str) -> Any:
    body = await request.body()
    callback = Callback(
        url=str(request.url),
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=body,
        client=request.client.host if request.client else "unknown",
    )
    engine, settings = app_engine(request), app_settings(request)
    try:
        return await to_thread.run_sync(
            lambda: receive_callback(
                engine, settings, connector_id, provider, purpose, callback, datetime.now(UTC)
            )
        )
    except WebhookRejected as rejected:
        raise ApiProblem(403, "forged_callback", str(rejected)) from None


def _accepted(result: Any) -> dict[str, Any]:
    return {"reports": result.reports, "inbound": result.inbound, "problems": list(result.problems)}


@router.post(
    "/twilio/{connector_id}/status",
    summary="Twilio status callback (X-Twilio-Signature)",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _form(TWILIO_STATUS)}},
)
async def twilio_status(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "twilio", "report"))


@router.post(
    "/twilio/{connector_id}/inbound",
    summary="Twilio inbound message webhook",
    response_class=Response,
    openapi_extra={"requestBody": {"content": _form(TWILIO_INBOUND)}},
    responses={
        200: {"content": {"text/xml": {"schema": {"type": "string"}, "example": TWIML_EMPTY}}}
    },
)
async def twilio_inbound(request: Request, connector_id: int = ConnectorId) -> Response:
    await _receive(request, connector_id, "twilio", "inbound")
    return Response(TWIML_EMPTY, media_type="text/xml")


@router.post(
    "/infobip/{connector_id}/reports",
    summary="Infobip delivery report push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _json(INFOBIP_REPORTS)}},
)
async def infobip_reports(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip", "report"))


@router.post(
    "/infobip/{connector_id}/inbound",
    summary="Infobip inbound message push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _json(INFOBIP_INBOUND)}},
)
async def infobip_inbound(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip", "inbound"))


@router.get(
    "/kannel/{connector_id}/dlr",
    summary="Kannel dlr-url callback (per-message token)",
    response_model=Accepted,
    openapi_extra={"parameters": _kannel_parameters()},
)
async def kannel_dlr(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "kannel", "report"))
