"""Analytics: a campaign's counters hour by hour."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, reader
from smscast.api.problems import COMMON_RESPONSES
from smscast.engine.stats import campaign_report

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], responses=COMMON_RESPONSES)


class Hour(BaseModel):
    model_config = ConfigDict(extra="allow")

    hour: str = Field(examples=["2026-11-25T10:00:00+00:00"])


class Series(BaseModel):
    campaign_id: int
    hours: list[Hour] = Field(description="Per UTC hour: targeted, sent, delivered, clicks, …")


@router.get(
    "/campaigns/{campaign_id}/timeseries",
    summary="A campaign's hourly counters",
    response_model=Series,
)
def timeseries(campaign_id: int = Path(ge=1, le=2**31 - 1), api: Api = Depends(reader)) -> Any:
    report = campaign_report(api.engine, api.workspace.id, campaign_id)
    return {"campaign_id": campaign_id, "hours": report.get("hours", [])}
