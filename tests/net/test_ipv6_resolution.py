"""transport: the presentation address split and the name resolution of
DCMTK 3.7.0's -i4/-i6/-i0 (``protocol_family``) next to DCMTK 3.6.7's."""

from __future__ import annotations

import socket

import pytest

from dcmretrieve.net import transport


@pytest.mark.parametrize("address,scan_367,split_370", [
    (b"host:104", (b"host", 104), (b"host", 104)),
    (b"::1:104", None, (b"::1", 104)),
    (b"fe80::1%lo:11112", None, (b"fe80::1%lo", 11112)),
    (b"a:b:5", None, (b"a:b", 5)),
    (b"host:70000", (b"host", 70000 & 0xFFFF), (b"host", 70000 & 0xFFFF)),
    (b":104", None, (b"", 104)),
    (b"host:x", None, (b"host", 0)),  # atoi
    (b"nocolon", None, None),
])
def test_address_split(address, scan_367, split_370):
    assert transport.parse_presentation_address(address) == scan_367
    assert transport.parse_presentation_address(address, last_colon=True) == split_370


def test_presentation_address_of_an_ipv6_peer():
    """``%s:%d`` into the 64-byte field, as both releases build it."""
    assert transport.presentation_address("::1", 11112) == b"::1:11112"
    assert len(transport.presentation_address("f" * 80, 11112)) == 63


@pytest.mark.parametrize("family", [None, "inet", "inet6", "unspec"])
def test_ipv4_numbers_come_first_in_every_family(family):
    assert transport._resolve(b"127.1", family) == (socket.AF_INET, ("127.0.0.1", 0))
    # inet_addr's INADDR_NONE: left to getaddrinfo, restricted to the family
    broadcast = transport._resolve(b"255.255.255.255", family)
    if family == "inet6":
        assert broadcast is None
    else:
        assert broadcast == (socket.AF_INET, ("255.255.255.255", 0))


def test_families_restrict_resolution():
    assert transport._resolve(b"::1", None) is None
    assert transport._resolve(b"::1", "inet") is None
    af, sockaddr = transport._resolve(b"::1", "inet6")
    assert (af, sockaddr[0]) == (socket.AF_INET6, "::1")
    af, sockaddr = transport._resolve(b"::1", "unspec")
    assert (af, sockaddr[0]) == (socket.AF_INET6, "::1")
    assert transport._resolve(b"no-such-host.invalid", "unspec") is None


def test_unspec_takes_the_resolvers_first_answer():
    first = socket.getaddrinfo("localhost", None, socket.AF_UNSPEC)[0]
    assert transport._resolve(b"localhost", "unspec") == (first[0], first[4])
