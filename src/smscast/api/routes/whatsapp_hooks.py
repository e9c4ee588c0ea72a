"""Callbacks for WhatsApp connectors: statuses and inbound messages, verified before use.

The Cloud API URL goes into the Meta app's WhatsApp webhook settings (with the
connector's verify token); Infobip's into the WhatsApp sender's delivery report, seen
report and inbound settings. They take no API key: Meta's X-Hub-Signature-256 or
Infobip's shared secret proves who sent them, and a forged callback gets 403 and a
line in the connector log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Path, Query, Request, Response

from smscast.api.deps import app_engine, app_settings
from smscast.api.problems import COMMON_RESPONSES, ApiProblem
from smscast.api.routes.provider_hooks import Accepted
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.engine.delivery.callback_checks import Callback
from smscast.engine.delivery.whatsapp_callbacks import (
    receive_whatsapp_callback,
    verify_cloud_subscription,
)

router = APIRouter(prefix="/hooks", tags=["carrier callbacks"], responses=COMMON_RESPONSES)
ConnectorId = Path(
    ge=1, le=2**31 - 1, description="The connector the callback is for", examples=[4]
)
CLOUD_STATUS = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "48500100200",
                            "phone_number_id": "106540352242922",
                        },
                        "statuses": [
                            {
                                "id": "wamid.HBgLNDg2MDEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA",
                                "status": "delivered",
                                "timestamp": "1795600804",
                                "recipient_id": "48601234567",
                                "biz_opaque_callback_data": "918",
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
INFOBIP_REPORTS = {
    "results": [
        {
            "messageId": "ib-wa-4175214633230339136",
            "to": "48601234567",
            "sentAt": "2026-11-25T10:00:01.000+0000",
            "doneAt": "2026-11-25T10:00:04.000+0000",
            "status": {"groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
            "error": {"groupName": "OK", "id": 0, "name": "NO_ERROR"},
            "channel": "WHATSAPP",
            "callbackData": "918",
        }
    ]
}
INFOBIP_INBOUND = {
    "results": [
        {
            "from": "48601234567",
            "to": "48500100200",
            "integrationType": "WHATSAPP",
            "receivedAt": "2026-11-25T10:02:11.000+0000",
            "messageId": "ABEGOFl3VCQoAhAqnlmSd2FKPOaraEaS0rPQ",
            "message": {"type": "TEXT", "text": "STOP"},
        }
    ],
    "messageCount": 1,
    "pendingMessageCount": 0,
}


def _json(example: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": {"type": "object"}, "example": example}}


def _accepted(result: Any) -> dict[str, Any]:
    return {"reports": result.reports, "inbound": result.inbound, "problems": list(result.problems)}


def _callback(request: Request, body: bytes) -> Callback:
    return Callback(
        url=str(request.url),
        headers=dict(request.headers),
        query=dict(request.query_params),
        body=body,
        client=request.client.host if request.client else "unknown",
    )


async def _receive(request: Request, connector_id: int, provider: str, purpose: str) -> Any:
    callback = _callback(request, await request.body())
    engine, settings = app_engine(request), app_settings(request)
    try:
        return await to_thread.run_sync(
            lambda: receive_whatsapp_callback(
                engine, settings, connector_id, provider, purpose, callback, datetime.now(UTC)
            )
        )
    except WebhookRejected as rejected:
        raise ApiProblem(403, "forged_callback", str(rejected)) from None


@router.get(
    "/whatsapp_cloud/{connector_id}",
    summary="WhatsApp Cloud API webhook verification (hub.challenge)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def whatsapp_cloud_verify(
    request: Request,
    connector_id: int = ConnectorId,
    mode: str = Query("", alias="hub.mode", description="Always 'subscribe'"),
    verify_token: str = Query("", alias="hub.verify_token", description="The connector's"),
    challenge: str = Query("", alias="hub.challenge", description="Echoed back when valid"),
) -> Response:
    # The three are read from the query by the engine (they are named here for the docs).
    callback = _callback(request, b"")
    engine = app_engine(request)
    try:
        answer = await to_thread.run_sync(
            lambda: verify_cloud_subscription(engine, connector_id, callback, datetime.now(UTC))
        )
    except WebhookRejected as rejected:
        raise ApiProblem(403, "forged_callback", str(rejected)) from None
    return Response(answer, media_type="text/plain")


@router.post(
    "/whatsapp_cloud/{connector_id}",
    summary="WhatsApp Cloud API webhook (X-Hub-Signature-256): statuses and messages",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _json(CLOUD_STATUS)}},
)
async def whatsapp_cloud_events(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "whatsapp_cloud", "events"))


@router.post(
    "/infobip_whatsapp/{connector_id}/reports",
    summary="Infobip WhatsApp delivery and seen report push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _json(INFOBIP_REPORTS)}},
)
async def infobip_whatsapp_reports(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip_whatsapp", "report"))


@router.post(
    "/infobip_whatsapp/{connector_id}/inbound",
    summary="Infobip WhatsApp inbound message push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": _json(INFOBIP_INBOUND)}},
)
async def infobip_whatsapp_inbound(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip_whatsapp", "inbound"))
