"""What both WhatsApp connectors share: what a message says on WhatsApp, and sending it.

A WhatsApp message is either an approved template with its parameters (the only kind
a business may start a conversation with) or free text (only inside the 24-hour
customer-service window, which `engine.sending.dispatch_checks` enforces before a
message gets here). The engine puts the template's name, language and parameters in
`OutgoingMessage.extras`; without a template the message's text is sent as it is.

Sending differs from SMS in one way that matters to the shared HTTP body: a WhatsApp
message is one unit for the rate limit whatever its length, not so many SMS parts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from smscast.channels.base import OutgoingMessage, SubmitOutcome, SubmitResult
from smscast.channels.providers.http_base import Failure, HttpConnector, HttpSettings, Unsendable

#: WhatsApp refuses longer text bodies (Cloud API: 4,096 characters).
MAX_TEXT = 4096
#: A template parameter may not be empty nor hold a newline, a tab or more than four
#: spaces in a row (the Cloud API answers 132018 otherwise); checked before sending.
_BAD_PARAM = re.compile(r"[\n\t]| {5,}")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True, slots=True)
class Content:
    """One WhatsApp message's content: a template with parameters, or free text."""

    to: str  # the recipient's number as WhatsApp APIs take it: digits, no "+"
    template: str | None = None
    language: str = "en"
    params: tuple[str, ...] = ()
    text: str = ""


def content_of(message: OutgoingMessage) -> Content:
    """What `message` says on WhatsApp; Unsendable names what is missing or wrong."""
    recipient = message.recipient.strip()
    if not _E164.match(recipient):
        raise Unsendable(f"{message.recipient!r} is not a WhatsApp number in E.164 (+48…)")
    to = recipient.removeprefix("+")
    extras = message.extras or {}
    template = extras.get("template")
    if template:
        params = extras.get("params") or []
        if not isinstance(params, list | tuple):
            raise Unsendable("template params must be a list of texts")
        texts = tuple("" if p is None else str(p) for p in params)
        for index, text in enumerate(texts, start=1):
            if not text.strip() or _BAD_PARAM.search(text):
                raise Unsendable(
                    f"template parameter {{{{{index}}}}} is empty or holds a newline, a tab "
                    "or more than four spaces in a row, which WhatsApp refuses"
                )
        language = str(extras.get("language") or "en")
        return Content(to=to, template=str(template), language=language, params=texts)
    if not message.text.strip():
        raise Unsendable("no template and no text: there is nothing to send")
    if len(message.text) > MAX_TEXT:
        raise Unsendable(f"text of {len(message.text)} characters is over WhatsApp's {MAX_TEXT}")
    return Content(to=to, text=message.text)


S = TypeVar("S", bound=HttpSettings)


def as_text_fields(settings: Any, names: Sequence[str]) -> None:
    """Turns settings given as numbers (`--setting phone_number_id=1065…` reads as one)
    back into the text the provider's API takes; called from `__post_init__`."""
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            object.__setattr__(settings, name, str(value))


class WhatsAppHttpConnector(HttpConnector[S]):
    """The shared HTTP connector, counting one unit per message instead of SMS parts."""

    def check_sendable(self, message: OutgoingMessage) -> None:
        """Refuses, before any request, a message WhatsApp could only reject."""
        content_of(message)
        if message.valid_until is not None and message.valid_until <= datetime.now(UTC):
            raise Unsendable(f"validity ended at {message.valid_until.isoformat()} before sending")

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Submits `batch`, answering for every message in the order given."""
        if self._client is None or self._stopping:
            failure = Failure(SubmitOutcome.TEMPORARY, f"connector {self.name} is not running")
            return failure.results(batch)
        client = self._client
        outcomes: dict[int, SubmitResult] = {}
        sendable: list[OutgoingMessage] = []
        for message in batch:
            try:
                self.check_sendable(message)
            except Unsendable as exc:
                failure = Failure(SubmitOutcome.PERMANENT, str(exc), error_code="unsendable")
                outcomes[message.ref] = failure.results([message])[0]
                continue
            sendable.append(message)
        self._active += 1
        self._idle.clear()
        try:
            answers = await asyncio.gather(
                *(self._submit(client, group, len(group)) for group in self.group(sendable))
            )
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()
        for results in answers:
            outcomes.update((result.ref, result) for result in results)
        return [outcomes[message.ref] for message in batch]
