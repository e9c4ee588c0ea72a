"""What the live parts counter shows for a text: `core.encoding`'s own count.

Used by the `/text-meter` endpoint (as it is typed) and by templates (`measure_text`,
for the first render), so a box never counts differently from the sending path.
"""

from __future__ import annotations

from typing import Any

from smscast.core.encoding import analyse
from smscast.core.errors import UserError


def measure_text(text: str) -> dict[str, Any]:
    """Encoding, parts and room left for `text`, or that it cannot be sent as it is."""
    try:
        info = analyse(text)
    except UserError:  # a control character, or longer than 255 parts
        return {"encoding": "", "parts": 0, "remaining": 0, "units": 0, "refused": True}
    return {"encoding": str(info.encoding), "parts": info.parts, "remaining": info.remaining,
            "units": info.units, "refused": False}  # fmt: skip
