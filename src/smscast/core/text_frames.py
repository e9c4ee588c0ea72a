"""Texts of a launch made once per distinct set of personal values, with holes.

Most recipients of a campaign share everything in their text but their coupon
code and link token: a thousand Annas get the same words. For a template in the
plain subset (see `plain_templates`) those two values are copied into the output
verbatim, so the text can be rendered once with marks where they go, split at the
marks, and filled in per recipient by joining strings: an eighth of the cost of
rendering. The frame is kept only when filling it in gives exactly what rendering
gives (checked against a real render when it is made), so a template or a value
that behaves otherwise simply renders every time. When most texts differ anyway
(a template using each contact's own name and number), the frames stop being made.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import NamedTuple

from smscast.core.encoding import Encoding, joined_encoding, single_unit_encoding

COUPON_MARK = "\ue000coupon\ue001"
TOKEN_MARK = "\ue000token\ue001"
"""Private-use characters: no template or value has a reason to hold them."""

Render = Callable[[str | None, str | None], str]
"""Renders the text for a coupon code and link token (None where the recipient has none)."""


class Frame(NamedTuple):
    format: str
    """The text as a format string with {c} and {t} holes."""
    units: Encoding | None
    """`single_unit_encoding` of the text around the holes."""
    coupon: bool
    token: bool
    """Whether the text has a coupon hole, a token hole."""

    def units_with(self, coupon: str | None, token: str | None) -> Encoding | None:
        """`single_unit_encoding` of the text filled in with these."""
        holes = ((coupon or "") if self.coupon else "") + ((token or "") if self.token else "")
        return joined_encoding(self.units, single_unit_encoding(holes))


class TextFrames:
    """The frames of one launch, keyed by what else the text depends on."""

    def __init__(self, *, limit: int = 20_000, trial: int = 2_000) -> None:
        self.limit = limit
        self.trial = trial
        self.enabled = True
        self.lookups = 0
        self.made = 0
        self._frames: dict[Hashable, Frame | None] = {}
        """Key -> the frame (None: render each time)."""

    def text(self, key: Hashable, coupon: str | None, token: str | None, render: Render) -> str:
        """The text for this coupon and token; `key` must name everything else it depends on."""
        return self.text_and_units(key, coupon, token, render)[0]

    def text_and_units(self, key: Hashable, coupon: str | None, token: str | None,
                       render: Render) -> tuple[str, Encoding | None]:  # fmt: skip
        """`text`, with its `single_unit_encoding` where it came from a frame (else None)."""
        if not self.enabled:
            return render(coupon, token), None
        self.lookups += 1
        try:
            frame = self._frames[key]
        except KeyError:
            text, frame = self._make(coupon, token, render)
            if len(self._frames) < self.limit:
                self._frames[key] = frame
            self.made += 1
            if self.lookups >= self.trial and self.made * 2 > self.lookups:
                self.enabled = False  # mostly distinct texts: frames only cost time
                self._frames.clear()
            return text, None
        if frame is None:  # filling it in would not give what rendering gives
            return render(coupon, token), None
        return frame.format.format(c=coupon, t=token), frame.units_with(coupon, token)

    def clear(self) -> None:
        """Forgets every frame, e.g. when link positions they used were given up."""
        self._frames.clear()

    def _make(self, coupon: str | None, token: str | None,
              render: Render) -> tuple[str, Frame | None]:  # fmt: skip
        text = render(coupon, token)
        marked = render(COUPON_MARK if coupon is not None else None,
                        TOKEN_MARK if token is not None else None)  # fmt: skip
        frame = _format_string(marked)
        if frame.format(c=coupon, t=token) != text:
            return text, None
        around = marked.replace(COUPON_MARK, "").replace(TOKEN_MARK, "")
        units = single_unit_encoding(around)
        return text, Frame(frame, units, COUPON_MARK in marked, TOKEN_MARK in marked)


def _format_string(marked: str) -> str:
    """The marked text as a `str.format` string: braces doubled, marks turned into holes."""
    escaped = marked.replace("{", "{{").replace("}", "}}")
    return escaped.replace(COUPON_MARK, "{c}").replace(TOKEN_MARK, "{t}")
