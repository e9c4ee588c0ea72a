"""Which addresses an outgoing request made on a user's behalf may reach.

A webhook URL (a subscription, a message's `callback_url`, a keyword rule's webhook
action) is typed in by a user, and we make the request from inside the network: a URL
naming a loopback, private, link-local or cloud-metadata address would let any
workspace member reach services nobody meant to expose (server-side request forgery).

The policy is a pure function of the addresses a host name resolved to, so that it
can be tested over every range without a network. Addresses that carry an IPv4
address inside an IPv6 one (IPv4-mapped, 6to4, NAT64) are judged by the IPv4 address
they lead to, because that is where the packets end up; Teredo and the local-use
NAT64 prefix are refused whole (their far end cannot be read reliably).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from smscast.core.errors import UserError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Instance-metadata services of cloud providers: they hand out credentials, so they are
#: refused even where private addresses are allowed (SMSCAST_WEBHOOK_ALLOW_PRIVATE).
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_TEREDO = ipaddress.ip_network("2001::/32")
#: IPv4 special-purpose blocks refused whole, whatever this Python's `is_global` says of
#: their exceptions: "this network", carrier-grade NAT, IETF protocol assignments,
#: benchmarking.
_SPECIAL_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in ("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15")
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (IPv4-mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal(address: IpAddress) -> bool:
    """True for every address a request on a user's behalf must not reach by default:
    loopback, private, link-local, carrier-grade NAT, "this network", multicast, reserved,
    unspecified, cloud metadata, anything not globally routable, and the IPv6 forms
    that lead to one of those."""
    if address in METADATA:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address in _TEREDO or address in _NAT64_LOCAL:
            return True
        inner = embedded_ipv4(address)
        if inner is not None:
            return is_internal(inner)
    else:
        if any(address in network for network in _SPECIAL_V4):
            return True
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Where outgoing requests may go: public addresses, plus the internal networks in
    `allowed` (a closed network's hooks, a test's loopback listener). Cloud metadata
    addresses are refused whatever `allowed` says."""

    allowed: tuple[IpNetwork, ...] = ()

    @classmethod
    def of_setting(cls, allow_private: bool) -> AddressPolicy:
        """The policy of `SMSCAST_WEBHOOK_ALLOW_PRIVATE`: every address but metadata."""
        if not allow_private:
            return cls()
        return cls((ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")))

    def refusal(self, address: IpAddress) -> str | None:
        """Why `address` may not be reached, or None when it may."""
        if address in METADATA or (
            isinstance(address, ipaddress.IPv6Address)
            and (inner := embedded_ipv4(address)) is not None
            and inner in METADATA
        ):
            return f"{address} is a cloud metadata address"
        if not is_internal(address):
            return None
        if any(address.version == net.version and address in net for net in self.allowed):
            return None
        return (
            f"{address} is an internal address; webhooks go to public addresses only "
            "(SMSCAST_WEBHOOK_ALLOW_PRIVATE allows others)"
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart: what is resolved and what the request names."""

    url: str
    scheme: str
    host: str
    port: int


def _refuse(message: str, field: str) -> UserError:
    return UserError.of("unsafe_url", message, field=field)


def parse_target(url: str, *, field: str = "url") -> Target:
    """Checks the form of a webhook URL (http(s), a host, no credentials, a valid port)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(f'"{url}" is not an http:// or https:// URL with a host', field)
    if parts.username or parts.password:
        raise _refuse(
            "a webhook URL may not carry credentials; the signature authenticates us", field
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(f'"{url}" has an invalid port', field) from None
    return Target(url, parts.scheme, parts.hostname, port)


def literal_address(host: str) -> IpAddress | None:
    """The address a URL names directly (`127.0.0.1`, `[::1]`), None for a host name."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_addresses(
    target: Target, addresses: Sequence[IpAddress], policy: AddressPolicy, *, field: str = "url"
) -> IpAddress:
    """The address to connect to, once every address the host resolved to passed the
    policy; raises UserError (`unsafe_url`) if none was found or any is refused (a
    name with one internal address among public ones could be answered either way)."""
    if not addresses:
        raise _refuse(f"{target.host} does not resolve to any address", field)
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            raise _refuse(f"{target.host} resolves to {reason}", field)
    return addresses[0]
