"""Callbacks for voice connectors (see channels/voice/)."""

from __future__ import annotations

from fastapi import APIRouter

from smscast.api.problems import COMMON_RESPONSES

router = APIRouter(prefix="/hooks", tags=["carrier callbacks"], responses=COMMON_RESPONSES)
