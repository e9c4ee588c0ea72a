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
from pydantic import BaseModel

from smscast.api.deps import app_engine, app_settings
from smscast.api.problems import COMMON_RESPONSES, ApiProblem
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.engine.provider_callbacks import Callback, receive_callback

router = APIRouter(prefix="/hooks", tags=["carrier callbacks"], responses=COMMON_RESPONSES)
ConnectorId = Path(ge=1, le=2**31 - 1, description="The connector the callback is for")
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "additionalProperties": {"type": "string"}}
    }
}
JSON_BODY = {"application/json": {"schema": {"type": "object"}}}


class Accepted(BaseModel):
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
    openapi_extra={"requestBody": {"content": FORM}},
)
async def twilio_status(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "twilio", "report"))


@router.post(
    "/twilio/{connector_id}/inbound",
    summary="Twilio inbound message webhook",
    response_class=Response,
    openapi_extra={"requestBody": {"content": FORM}},
    responses={200: {"content": {"text/xml": {"schema": {"type": "string"}}}}},
)
async def twilio_inbound(request: Request, connector_id: int = ConnectorId) -> Response:
    await _receive(request, connector_id, "twilio", "inbound")
    return Response(TWIML_EMPTY, media_type="text/xml")


@router.post(
    "/infobip/{connector_id}/reports",
    summary="Infobip delivery report push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": JSON_BODY}},
)
async def infobip_reports(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip", "report"))


@router.post(
    "/infobip/{connector_id}/inbound",
    summary="Infobip inbound message push",
    response_model=Accepted,
    openapi_extra={"requestBody": {"content": JSON_BODY}},
)
async def infobip_inbound(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "infobip", "inbound"))


@router.get(
    "/kannel/{connector_id}/dlr",
    summary="Kannel dlr-url callback (per-message token)",
    response_model=Accepted,
)
async def kannel_dlr(request: Request, connector_id: int = ConnectorId) -> Any:
    return _accepted(await _receive(request, connector_id, "kannel", "report"))
