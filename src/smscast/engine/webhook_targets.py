"""Where outgoing webhooks may go: checks against server-side request forgery.

A webhook URL is typed in by a user of the API, and we make the request from
inside the network, so a URL naming a loopback, link-local, private or otherwise
internal address could reach services nobody meant to expose. Every address the
host name resolves to is checked, when the subscription is made and again
before each delivery (DNS may change). A setting lets a laptop or a closed
network allow private addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from smscast.core.errors import UserError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal(address: IpAddress) -> bool:
    """True for addresses a public webhook must not reach."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_internal(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _refuse(message: str) -> UserError:
    return UserError.of("unsafe_url", message, field="url")


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Raises UserError (field `url`) unless `url` is an http(s) URL to a public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(f'"{url}" is not an http:// or https:// URL with a host')
    if parts.username or parts.password:
        raise _refuse("a webhook URL may not carry credentials; the signature authenticates us")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(f'"{url}" has an invalid port') from None
    if allow_private:
        return
    for address in resolve(parts.hostname, port):
        if is_internal(address):
            raise _refuse(
                f"{parts.hostname} resolves to {address}, an internal address; webhooks go to "
                "public addresses only (SMSCAST_WEBHOOK_ALLOW_PRIVATE allows others)"
            )


def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise _refuse(f"{host} does not resolve: {error}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
