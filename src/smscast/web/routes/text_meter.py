"""The live parts counter under every text box that becomes an SMS (keyword replies,
agents' replies, automatic replies): encoding and parts as the text is typed.

The campaign builder has its own richer check (personalised per recipient); these
boxes count the text as typed (`web.text_meter`, i.e. `core.encoding`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from smscast.web.auth import Page, reader_page
from smscast.web.templating import render
from smscast.web.text_meter import measure_text

router = APIRouter(include_in_schema=False)


@router.post("/text-meter")
async def text_meter(
    request: Request, field: str = "body", page: Page = Depends(reader_page)
) -> Response:
    """The meter's contents for the form field named `field` (htmx, as it is typed)."""
    form = await request.form()
    return render(page.request, "macros/_text_meter.html",
                  {"measured": measure_text(str(form.get(field, "")))})  # fmt: skip
