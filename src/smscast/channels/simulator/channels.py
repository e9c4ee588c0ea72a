"""The fakes of the channels beside SMS, run together inside `smscast serve`.

With them a new installation sends and receives on every channel offline: email goes to
an SMTP sink (which bounces `bounce…@` addresses back to our mail listener), WhatsApp
to a fake of the Cloud API (numbers ending in 9 are "not on WhatsApp", so a fallback
to SMS can be seen at once), calls to a fake of Twilio's voice API, web push to a fake
push service. `inject` is what `smscast simulator send-mo --channel …` reaches through
the simulator's HTTP endpoint: a person's email reply or WhatsApp message.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import aiosmtplib

from smscast.channels.simulator.push import PushFake, start_push_fake
from smscast.channels.simulator.smtp_sink import SmtpSink, start_smtp_sink
from smscast.channels.simulator.voice import VoiceFake, start_voice_fake
from smscast.channels.simulator.whatsapp import (
    WhatsAppFake,
    WhatsAppFakeConfig,
    start_whatsapp_fake,
)

#: WhatsApp numbers the fake says are not on WhatsApp: those ending in 9.
NOT_ON_WHATSAPP_SUFFIXES = ("9",)


class InjectError(ValueError):
    """What was asked cannot be injected (no such earlier email, no listener)."""


@dataclass(slots=True)
class ChannelFakes:
    sink: SmtpSink
    whatsapp: WhatsAppFake
    voice: VoiceFake
    push: PushFake
    mail_port: int | None  # our mail listener, where replies and bounces are mailed

    async def close(self) -> None:
        for fake in (self.sink, self.whatsapp, self.voice, self.push):
            with contextlib.suppress(Exception):
                await fake.close()

    async def inject(self, channel: str, sender: str, text: str) -> dict[str, Any]:
        """A person writes to us on `channel`: an email reply to the last email the sink
        got for `sender`, or a WhatsApp message from `sender` to the fake's number."""
        if channel == "whatsapp":
            await self.whatsapp.send_inbound(sender, text)
            return {"channel": channel, "delivered": True, "parts": 1}
        if channel == "email":
            await self._reply_by_email(sender, text)
            return {"channel": channel, "delivered": True, "parts": 1}
        raise InjectError(f"the simulator injects sms, email and whatsapp, not {channel!r}")

    async def _reply_by_email(self, sender: str, text: str) -> None:
        if not self.mail_port:
            raise InjectError("no mail listener: start smscast serve with --smtp-port")
        wanted = sender.strip().lower()
        earlier = [
            mail for mail in self.sink.received
            if wanted in (address.lower() for address in mail.rcpt_tos)
        ]  # fmt: skip
        if not earlier:
            raise InjectError(f"no email was sent to {sender} yet: there is nothing to reply to")
        original = earlier[-1].message
        ours = parseaddr(str(original["From"] or ""))[1]
        reply = EmailMessage()
        reply["From"] = sender
        reply["To"] = ours
        subject = str(original["Subject"] or "")
        reply["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        reply["Date"] = formatdate(localtime=False)
        reply["Message-ID"] = make_msgid(domain=wanted.rpartition("@")[2] or "localhost")
        if original["Message-ID"]:
            reply["In-Reply-To"] = str(original["Message-ID"])
            reply["References"] = str(original["Message-ID"])
        quoted = "\n".join(f"> {line}" for line in _plain(original).splitlines())
        reply.set_content(f"{text}\n\nOn {original['Date']}, {ours} wrote:\n{quoted}\n")
        await aiosmtplib.send(reply, hostname="127.0.0.1", port=self.mail_port, timeout=10)


def _plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""


async def start_channel_fakes(mail_port: int | None, host: str = "127.0.0.1") -> ChannelFakes:
    """Starts every fake on a free port of `host`; bounces go to `mail_port`."""
    sink = await start_smtp_sink(host, 0, dsn_host=host if mail_port else None,
                                 dsn_port=mail_port)  # fmt: skip
    whatsapp = await start_whatsapp_fake(
        WhatsAppFakeConfig(host=host, not_on_whatsapp_suffixes=NOT_ON_WHATSAPP_SUFFIXES)
    )
    voice, push = await asyncio.gather(start_voice_fake(host=host), start_push_fake(host))
    return ChannelFakes(sink, whatsapp, voice, push, mail_port)
