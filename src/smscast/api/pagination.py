"""Cursor pagination: `?limit=&cursor=`, answered with `items` and `next_cursor`.

A cursor is the opaque form of the last id seen, so pages stay stable while rows
are added, and a client never computes offsets.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

from smscast.api.problems import ApiProblem

T = TypeVar("T")
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the next page; null on the last page",
        examples=["aWQ6NDI"],
    )


@dataclass(frozen=True, slots=True)
class PageParams:
    after: int
    limit: int


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "id" or not number.isdigit() or len(number) > 18:
        raise ApiProblem(422, "bad_cursor", "cursor is not one this API gave out", field="cursor")
    return int(number)


def page_params(
    cursor: str | None = Query(None, description="From `next_cursor` of the previous page"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description="Items per page"),
) -> PageParams:
    return PageParams(decode_cursor(cursor) if cursor else 0, limit)


def page_of(items: Sequence[dict[str, Any]], params: PageParams) -> dict[str, Any]:
    """The page body; a full page gets a cursor past its last item."""
    last = items[-1]["id"] if items and len(items) >= params.limit else None
    return {"items": list(items), "next_cursor": encode_cursor(last) if last else None}


def page_by_position(items: Sequence[dict[str, Any]], params: PageParams) -> dict[str, Any]:
    """A page of a short list whose rows have no id (coupon pools by name).

    The cursor holds the position instead; a row added mid-walk can shift the rest
    by one, which is acceptable for lists of a few dozen rows.
    """
    rest = items[params.after : params.after + params.limit]
    end = params.after + len(rest)
    return {"items": list(rest), "next_cursor": encode_cursor(end) if end < len(items) else None}
