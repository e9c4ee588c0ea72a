"""`GET /l/{token}`: the short link in a campaign text, answered with a redirect.

It needs no login (the person tapping it has none); an unknown token answers 404
and records nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlalchemy import Engine

from smscast.api.deps import app_engine
from smscast.engine.campaigns.links import follow_link

router = APIRouter(tags=["links"])


@router.get(
    "/l/{token}",
    summary="Follow a tracked link",
    response_class=RedirectResponse,
    status_code=302,
    responses={
        302: {
            "description": "Redirect to the target, e.g. `Location: https://shop.example/bf`",
            "headers": {
                "Location": {"schema": {"type": "string"}, "example": "https://shop.example/bf"}
            },
        },
        404: {"description": "No link"},
    },
)
def follow(
    request: Request,
    token: str = Path(
        description="The link's token, as printed in the text",
        openapi_examples={"link": {"summary": "A short link token", "value": "Xk3p9Q"}},
    ),
    engine: Engine = Depends(app_engine),
) -> Response:
    """Records a click for the recipient (preview bots apart) and redirects to the target."""
    user_agent = request.headers.get("user-agent", "")
    followed = follow_link(engine, token, user_agent, datetime.now(UTC))
    if followed is None:
        return PlainTextResponse("This link does not exist.", status_code=404)
    return RedirectResponse(followed.url, status_code=302)
