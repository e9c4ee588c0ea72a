"""Callbacks for voice connectors (see channels/voice/): call statuses and digits pressed.

The voice connectors hand these URLs to the provider with each call (from the
connector's `callback_base_url`); they take no API key: Twilio's signature or the
shared secret Infobip presents proves who sent them, and a forged callback gets 403
and a line in the connector log.
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
from smscast.engine.delivery.voice_callbacks import VoiceCallbackResult, receive_voice_callback

router = APIRouter(prefix="/hooks", tags=["carrier callbacks"], responses=COMMON_RESPONSES)
ConnectorId = Path(
    ge=1, le=2**31 - 1, description="The voice connector the callback is for", examples=[7]
)
TWILIO_CALL_STATUS = {
    "CallSid": "CA5f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+48500100200",
    "To": "+48601234567",
    "CallStatus": "no-answer",
    "CallDuration": "0",
    "Direction": "outbound-api",
    "ApiVersion": "2010-04-01",
}
TWILIO_GATHER = {
    "CallSid": "CA5f0e8ae6ade43cb3c0ce4525424e404f",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+48500100200",
    "To": "+48601234567",
    "CallStatus": "in-progress",
    "Digits": "9",
    "Direction": "outbound-api",
}
TWIML_CONFIRMED = (
    '<Response><Say language="pl-PL" voice="Polly.Ewa">Nie będziesz już otrzymywać od nas '
    "połączeń. Do widzenia.</Say><Hangup /></Response>"
)
INFOBIP_VOICE_REPORTS = {
    "results": [
        {
            "bulkId": "c1f5b2a0-8f3e-4c55-a2a1-0b7c5d9e1f20",
            "messageId": "40f1b3a6-2a57-4d0c-9a51-8e2f6f3b7c11",
            "to": "48601234567",
            "sentAt": "2026-11-25T10:00:01.000+0000",
            "doneAt": "2026-11-25T10:00:31.000+0000",
            "duration": 21,
            "callbackData": "918",
            "dtmfCodes": "9",
            "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5,
                       "name": "DELIVERED_TO_HANDSET"},
            "error": {"groupId": 0, "groupName": "OK", "id": 10000, "name": "NORMAL_HANGUP"},
        }
    ]
}  # fmt: skip


class VoiceAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reports": 1, "opt_outs": 1, "problems": []}]}
    )

    reports: int
    opt_outs: int
    problems: list[str]


def _form(example: dict[str, str]) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    return {"application/x-www-form-urlencoded": {"schema": schema, "example": example}}


async def _receive(
    request: Request, connector_id: int, kind: str, purpose: str
) -> VoiceCallbackResult:
    callback = Callback(
        url=str(request.url),
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=await request.body(),
        client=request.client.host if request.client else "unknown",
    )
    engine, settings = app_engine(request), app_settings(request)
    try:
        return await to_thread.run_sync(
            lambda: receive_voice_callback(
                engine, settings, connector_id, kind, purpose, callback, datetime.now(UTC)
            )
        )
    except WebhookRejected as rejected:
        raise ApiProblem(403, "forged_callback", str(rejected)) from None


def _accepted(result: VoiceCallbackResult) -> dict[str, Any]:
    return {"reports": result.reports, "opt_outs": result.opt_outs,
            "problems": list(result.problems)}  # fmt: skip


@router.post(
    "/twilio_voice/{connector_id}/status",
    summary="Twilio call status callback (X-Twilio-Signature)",
    response_model=VoiceAccepted,
    openapi_extra={"requestBody": {"content": _form(TWILIO_CALL_STATUS)}},
)
async def twilio_voice_status(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "twilio_voice", "status"))


@router.post(
    "/twilio_voice/{connector_id}/gather",
    summary="Twilio digit pressed in a call (Gather action, X-Twilio-Signature)",
    response_class=Response,
    openapi_extra={"requestBody": {"content": _form(TWILIO_GATHER)}},
    responses={
        200: {"content": {"text/xml": {"schema": {"type": "string"}, "example": TWIML_CONFIRMED}}}
    },
)
async def twilio_voice_gather(request: Request, connector_id: int = ConnectorId) -> Response:
    result = await _receive(request, connector_id, "twilio_voice", "gather")
    return Response(result.twiml, media_type="text/xml")


@router.post(
    "/infobip_voice/{connector_id}/reports",
    summary="Infobip voice delivery report push (with the digits pressed)",
    response_model=VoiceAccepted,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "object"},
                    "example": INFOBIP_VOICE_REPORTS,
                }
            }
        }
    },
)
async def infobip_voice_reports(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip_voice", "reports"))
