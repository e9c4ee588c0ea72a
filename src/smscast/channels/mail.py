"""Mail to people (not to contacts): one message through the instance's SMTP relay.

The portal mails an invitation's link with it. The relay is one URL
(`SMSCAST_SMTP_URL`):

- `smtp://user:password@host:587`: plain SMTP, upgraded with STARTTLS whenever the
  server offers it (and refused when a password would otherwise cross the network in
  the clear to a host other than this machine);
- `smtps://user:password@host:465`: TLS from the first byte;
- without `user:password@`, no sign-in (a relay on the local network or this machine).

Percent-escapes in the user and password are decoded (`%40` for an `@`). Blocking, with
a timeout: call it from a thread. A failure is a `MailError` whose text says what went
wrong without the password.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class MailError(Exception):
    """The relay could not be used or refused the message; the text is for people."""


@dataclass(frozen=True, slots=True)
class MailRelay:
    host: str
    port: int
    tls: bool  # TLS from the first byte (smtps)
    username: str
    password: str
    sender: str

    def __repr__(self) -> str:  # never the password, not even in a traceback
        scheme = "smtps" if self.tls else "smtp"
        who = f"{self.username}@" if self.username else ""
        return f"MailRelay({scheme}://{who}{self.host}:{self.port}, from {self.sender})"


def relay_from_url(url: str, sender: str) -> MailRelay | None:
    """The relay `url` names (None: no relay configured); `sender` is the From address,
    by default `smscast@<host of the relay>`."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise MailError(f"the mail relay must be smtp://host:port or smtps://host:port, not "
                        f"{parts.scheme or 'no scheme'}://…")  # fmt: skip
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise MailError("the mail relay's port is not a number") from None
    return MailRelay(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "smtps",
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        sender=sender.strip() or f"smscast@{parts.hostname}",
    )


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text message (UTF-8, so Polish letters arrive as they were written)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


def send_mail(relay: MailRelay, to: str, subject: str, body: str, *, timeout: float) -> None:
    """Hands one message to the relay; `MailError` says why it was not accepted."""
    message = compose(relay.sender, to, subject, body)
    where = f"the mail relay {relay.host}:{relay.port}"
    try:
        _deliver(relay, message, timeout)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise MailError(f"{where} refused the user name or password ({error.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused:
        raise MailError(f"{where} refused the address {to}") from None
    except smtplib.SMTPResponseException as error:
        reason = error.smtp_error
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise MailError(f"{where} answered {error.smtp_code}: {text}") from None
    except (smtplib.SMTPException, ssl.SSLError) as error:
        raise MailError(f"{where} failed: {error}") from None
    except TimeoutError:
        raise MailError(f"{where} did not answer in {timeout:g} s") from None
    except OSError as error:
        raise MailError(f"cannot reach {where}: {error.strerror or error}") from None


def _deliver(relay: MailRelay, message: EmailMessage, timeout: float) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if relay.tls:
        client = smtplib.SMTP_SSL(relay.host, relay.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(relay.host, relay.port, timeout=timeout)
    with client:
        client.ehlo()
        if not relay.tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        elif relay.username and not relay.tls and relay.host not in LOOPBACK:
            raise MailError(
                f"{relay.host} offers no STARTTLS: the password would cross the network in "
                "the clear; use smtps:// or a relay that offers STARTTLS"
            )
        if relay.username:
            client.login(relay.username, relay.password)
        client.send_message(message)
