"""hostsaccess.py: hosts_access(5) evaluation for movescu +ac (rule files per test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmretrieve.net import hostsaccess


@pytest.fixture
def files(tmp_path: Path):
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("")
    deny.write_text("")

    def check(allow_text: str, deny_text: str, name: str = "localhost", addr: str = "127.0.0.1",
              daemon: str = "movescu") -> bool:
        allow.write_text(allow_text)
        deny.write_text(deny_text)
        return hostsaccess.allowed(daemon, name, addr, str(allow), str(deny))

    return check


def test_no_rules_or_missing_files_allow(tmp_path):
    assert hostsaccess.allowed("movescu", "localhost", "127.0.0.1", str(tmp_path / "a"), str(tmp_path / "d"))


def test_deny_all_and_allow_wins_first(files):
    assert not files("", "movescu: ALL\n")
    assert files("movescu: 127.0.0.1\n", "ALL: ALL\n")
    assert not files("storescp: ALL\n", "ALL: ALL\n")


@pytest.mark.parametrize("pattern,expected", [
    ("ALL", True), ("127.", True), ("10.", False), ("127.0.0.0/255.0.0.0", True), ("127.0.0.0/8", True),
    ("10.0.0.0/255.0.0.0", False), ("localhost", True), ("LOCALHOST", True), ("otherhost", False),
    ("LOCAL", True), ("KNOWN", True), ("UNKNOWN", False), (".example.org", False), ("local*", True),
    ("ALL EXCEPT 127.0.0.1", False), ("ALL EXCEPT 10.", True), ("10., 127.", True), ("PARANOID", False),
])
def test_client_patterns(files, pattern, expected):
    assert files("", f"movescu: {pattern}\n") is (not expected)


def test_unknown_name_with_dhl(files):
    assert not files("", "movescu: UNKNOWN\n", name="unknown")
    assert files("", "movescu: LOCAL\n", name="unknown")
    assert not files("", "movescu: .example.org\n", name="pc.example.org")


def test_daemon_lists_except_comments_and_continuations(files):
    assert not files("", "# comment line\nstorescp, movescu \\\n  : ALL\n")
    assert files("", "ALL EXCEPT movescu: ALL\n")
    assert not files("", "storescp movescu: ALL\n")
    assert files("", "movescu@otherhost: 10.\n")


def test_option_field_allow_deny(files):
    assert not files("movescu: ALL: deny\n", "")
    assert files("", "movescu: ALL: allow\n")


def test_environment_variables(tmp_path, monkeypatch):
    deny = tmp_path / "deny"
    deny.write_text("movescu: ALL\n")
    monkeypatch.setenv(hostsaccess.DENY_ENV, str(deny))
    monkeypatch.setenv(hostsaccess.ALLOW_ENV, str(tmp_path / "none"))
    assert not hostsaccess.allowed("movescu", "localhost", "127.0.0.1")


@pytest.mark.parametrize("rule,addr,expected", [
    ("movescu: [::1]\n", "::1", False),
    ("movescu: [::1]\n", "127.0.0.1", True),
    ("movescu: [::1]/128\n", "::1", False),
    ("movescu: [::ffff:0:0]/96\n", "::ffff:127.0.0.1", False),
    ("movescu: [::ffff:0:0]/96\n", "::1", True),
    ("movescu: [fe80::]/10 : deny\n", "fe80::1%lo", False),
    ("movescu: [::1] EXCEPT [::2]\n", "::1", False),
    ("movescu: 127.\n", "::ffff:127.0.0.1", True),  # libwrap's prefix is a string match
    ("movescu: [zz::1]\n", "::1", True),
])
def test_ipv6_patterns(files, rule, addr, expected):
    """libwrap's IPv6 patterns: ``[addr]`` and ``[net]/prefixlen``; the
    colons inside the brackets do not split the rule's fields."""
    assert files("", rule, name="unknown", addr=addr) is expected
