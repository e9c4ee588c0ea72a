"""The address policy of outgoing requests, as a pure function over every range and
over the IPv6 forms that carry an internal IPv4 address (no network is touched)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.addresses import (
    AddressPolicy,
    IpAddress,
    check_addresses,
    is_internal,
    parse_target,
)
from smscast.core.errors import UserError

INTERNAL_V4 = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "192.0.0.0/24",
    "198.18.0.0/15",
]


def _v4(network: str) -> st.SearchStrategy[ipaddress.IPv4Address]:
    net = ipaddress.ip_network(network)
    first, last = int(net.network_address), int(net.broadcast_address)
    return st.integers(first, last).map(ipaddress.IPv4Address)


internal_v4 = st.one_of(*(_v4(n) for n in INTERNAL_V4))


def mapped(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0xFFFF << 32) | int(v4))


def compatible(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(v4))


def six_to_four(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address((0x2002 << 112) | (int(v4) << 80) | 1)


def nat64(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4))


def nat64_local(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | int(v4))


def teredo(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """Teredo: server in bits 32-63, the client's address inverted in the last 32 bits."""
    server = int(ipaddress.IPv4Address("192.0.2.1"))
    prefix = int(ipaddress.IPv6Address("2001::"))
    return ipaddress.IPv6Address(prefix | (server << 64) | (int(v4) ^ 0xFFFFFFFF))


FORMS = [mapped, compatible, six_to_four, nat64, nat64_local, teredo]


@given(internal_v4)
def test_every_internal_ipv4_range_is_internal(address: ipaddress.IPv4Address) -> None:
    assert is_internal(address)
    assert AddressPolicy().refusal(address) is not None


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.__name__)
@given(address=internal_v4)
def test_internal_ipv4_inside_every_ipv6_form_is_internal(form, address) -> None:  # type: ignore[no-untyped-def]
    assert is_internal(form(address)), form(address)


@pytest.mark.parametrize(
    "text",
    [
        "169.254.169.254",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "0.0.0.0",
        "::",
        "::1",
        "100.64.0.1",
        "224.0.0.1",
        "ff02::1",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "255.255.255.255",
        "2001:db8::1",
    ],
)
def test_metadata_unspecified_multicast_and_reserved_are_internal(text: str) -> None:
    assert is_internal(ipaddress.ip_address(text))


@pytest.mark.parametrize(
    "text", ["93.184.216.34", "2606:4700::6810:85e5", "::ffff:8.8.8.8", "2002:808:808::1",
             "64:ff9b::808:808"],
)  # fmt: skip
def test_public_addresses_and_their_ipv6_forms_are_allowed(text: str) -> None:
    assert not is_internal(ipaddress.ip_address(text))
    assert AddressPolicy().refusal(ipaddress.ip_address(text)) is None


def test_metadata_is_refused_even_where_private_addresses_are_allowed() -> None:
    open_policy = AddressPolicy.of_setting(True)
    assert open_policy.refusal(ipaddress.ip_address("10.0.0.5")) is None
    for text in ("169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254"):
        assert "metadata" in (open_policy.refusal(ipaddress.ip_address(text)) or "")


def test_a_loopback_only_policy_allows_loopback_and_nothing_else_internal() -> None:
    loopback = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    assert loopback.refusal(ipaddress.ip_address("127.0.0.1")) is None
    for text in ("10.0.0.5", "192.168.1.1", "::1", "169.254.169.254"):
        assert loopback.refusal(ipaddress.ip_address(text)) is not None


def test_one_internal_address_among_public_ones_refuses_the_name() -> None:
    target = parse_target("https://hooks.example.test/x")
    answer: list[IpAddress] = [ipaddress.ip_address("93.184.216.34"),
                               ipaddress.ip_address("10.0.0.5")]  # fmt: skip
    with pytest.raises(UserError) as caught:
        check_addresses(target, answer, AddressPolicy(), field="actions[0].url")
    assert caught.value.problem.code == "unsafe_url"
    assert caught.value.problem.field == "actions[0].url"
    assert "10.0.0.5" in caught.value.problem.message
    assert check_addresses(target, answer[:1], AddressPolicy()) == answer[0]
