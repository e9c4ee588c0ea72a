"""Where outgoing requests may go, and the one way they are made.

Every request smscast makes on a user's behalf (subscriptions, message callbacks,
keyword-rule webhook actions) goes through `post_pinned`: the host name is resolved
once, every address it resolved to is checked against the address policy
(`core.addresses`), and the connection goes to the checked address: the URL's host
is replaced by that address while the `Host` header and the TLS server name (SNI and
certificate check) stay the name. A second DNS answer can therefore never move the
connection elsewhere (DNS rebinding). Redirects are never followed: a 3xx is a failed
attempt like any other non-2xx answer.

URLs are also checked when they are written (subscription, rule, send API) so that a
mistake is an error for its author, with the field named.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence

import httpx

from smscast.config import Settings
from smscast.core.addresses import (
    AddressPolicy,
    IpAddress,
    Target,
    check_addresses,
    literal_address,
    parse_target,
)
from smscast.core.errors import UserError

#: host, port → the addresses the name resolves to (tests pass their own).
Resolver = Callable[[str, int], Sequence[IpAddress]]


def resolve(host: str, port: int) -> list[IpAddress]:
    """The system resolver's answer for `host`; raises UserError when there is none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UserError.of("unsafe_url", f"{host} does not resolve: {error}", field="url") from None
    found = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))


def address_policy(settings: Settings) -> AddressPolicy:
    return AddressPolicy.of_setting(settings.webhook_allow_private)


def checked_address(
    url: str, policy: AddressPolicy, resolver: Resolver = resolve, *, field: str = "url"
) -> tuple[Target, IpAddress]:
    """Resolves the URL's host once and checks every address; the one to connect to."""
    target = parse_target(url, field=field)
    literal = literal_address(target.host)
    if literal is not None:
        addresses: Sequence[IpAddress] = [literal]
    else:
        try:
            addresses = resolver(target.host, target.port)
        except UserError as error:
            raise UserError.of(error.problem.code, error.problem.message, field=field) from None
    return target, check_addresses(target, addresses, policy, field=field)


def check_webhook_url(
    url: str,
    *,
    allow_private: bool = False,
    policy: AddressPolicy | None = None,
    resolver: Resolver = resolve,
    field: str = "url",
) -> None:
    """Raises UserError (`unsafe_url`, naming `field`) unless `url` may be posted to."""
    chosen = policy if policy is not None else AddressPolicy.of_setting(allow_private)
    checked_address(url, chosen, resolver, field=field)


def post_pinned(
    client: httpx.Client,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    policy: AddressPolicy,
    resolver: Resolver = resolve,
) -> httpx.Response:
    """POSTs to `url` at the address checked a moment ago, never following a redirect.

    Raises UserError when the address is refused, httpx.HTTPError when the exchange fails.
    """
    _, address = checked_address(url, policy, resolver)
    # Built for the URL as given, so the Host header is what the name would get; then
    # only the connection's address changes, and TLS keeps checking the (IDNA) name.
    request = client.build_request("POST", url, content=content, headers=headers)
    name = request.url.raw_host.decode("ascii")
    request.url = request.url.copy_with(host=str(address))
    request.extensions = {**request.extensions, "sni_hostname": name}
    return client.send(request, follow_redirects=False)
