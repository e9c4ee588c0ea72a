"""Checks the API tests share."""

from __future__ import annotations

from typing import Any

import httpx


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of a refusal, after checking its status and shape."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    assert body["code"]
    return body
