"""``+ac``: TCP-wrapper (libwrap, hosts_access(5)) checks for incoming connections.

DCMTK's movescu calls libwrap's ``hosts_ctl("movescu", name, addr, ...)`` for
every incoming sub-association when ``+ac`` is given.  We evaluate the same
rule files ourselves (no libwrap binding in Python):

* ``hosts.allow`` is read first, then ``hosts.deny``; the first rule whose
  daemon list and client list both match decides (allow file: grant, deny
  file: deny); no match anywhere grants access.  In ``hosts.allow`` an
  ``: allow`` / ``: deny`` option field (hosts_options(5)) is honoured.
* daemon lists: ``ALL``, names (comma and/or space separated), ``EXCEPT``.
* client patterns: ``ALL``, ``LOCAL`` (name without a dot), ``KNOWN``,
  ``UNKNOWN``, ``PARANOID`` (never matches here: we do no double lookup),
  ``.domain`` suffixes, ``127.`` address prefixes, ``net/mask`` (dotted or
  CIDR), IPv6 ``[addr]`` and ``[net]/prefixlen`` (a peer of movescu's
  DCMTK 3.7.0 -i6/-i0 listener), exact names/addresses (case-insensitive), ``*``/``?`` wildcards,
  ``EXCEPT``; ``#`` comments and backslash-newline continuations.

File locations are injectable for tests and unusual installs: the
environment variables ``DCMRETRIEVE_HOSTS_ALLOW`` and
``DCMRETRIEVE_HOSTS_DENY`` (defaults ``/etc/hosts.allow`` / ``/etc/hosts.deny``).
A missing or unreadable file counts as empty, as with libwrap.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
from dataclasses import dataclass

ALLOW_ENV = "DCMRETRIEVE_HOSTS_ALLOW"
DENY_ENV = "DCMRETRIEVE_HOSTS_DENY"
DEFAULT_ALLOW = "/etc/hosts.allow"
DEFAULT_DENY = "/etc/hosts.deny"


@dataclass(frozen=True)
class Client:
    """The connecting host: reverse-DNS name (``unknown`` if none/-dhl) and address."""

    name: str
    addr: str

    @property
    def name_known(self) -> bool:
        return bool(self.name) and self.name.lower() != "unknown"


@dataclass(frozen=True)
class Rule:
    daemons: list[str]
    clients: list[str]
    options: str


def read_rules(path: str) -> list[Rule]:
    """Parse one hosts_access file (missing/unreadable → no rules)."""
    try:
        with open(path, encoding="latin-1") as fh:
            text = fh.read()
    except OSError:
        return []
    rules: list[Rule] = []
    logical = ""
    for raw in text.splitlines():
        if raw.endswith("\\"):
            logical += raw[:-1] + " "
            continue
        line = (logical + raw).strip()
        logical = ""
        if not line or line.startswith("#"):
            continue
        parts = _split_fields(line)
        if len(parts) < 2:
            continue  # libwrap warns "missing ':' separator" and ignores the line
        options = parts[2].strip() if len(parts) > 2 else ""
        rules.append(Rule(_words(parts[0]), _words(parts[1]), options))
    return rules


def _split_fields(line: str) -> list[str]:
    """libwrap's split_at(':') (IPv6 build): at most 3 fields, a colon
    inside ``[...]`` (an IPv6 address pattern) does not split."""
    parts: list[str] = []
    start = depth = 0
    for i, char in enumerate(line):
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
        elif char == ":" and not depth and len(parts) < 2:
            parts.append(line[start:i])
            start = i + 1
    return parts + [line[start:]]


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _list_match(words: list[str], match_one) -> bool:
    """libwrap's list_match: ``a b EXCEPT c d`` (EXCEPT binds right-to-left)."""
    for i, word in enumerate(words):
        if word.upper() == "EXCEPT":
            return False  # reached EXCEPT without a match on its left
        if match_one(word):
            rest = words[i + 1 :]
            for j, w in enumerate(rest):
                if w.upper() == "EXCEPT":
                    return not _list_match(rest[j + 1 :], match_one)
            return True
    return False


def _daemon_match(pattern: str, daemon: str) -> bool:
    if "@" in pattern:
        pattern = pattern.split("@", 1)[0]
    if pattern.upper() == "ALL":
        return True
    return _string_match(pattern, daemon)


def _string_match(pattern: str, value: str) -> bool:
    if pattern.startswith(".") and "*" not in pattern and "?" not in pattern:
        return value.lower().endswith(pattern.lower())
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(value.lower(), pattern.lower())
    return pattern.lower() == value.lower()


def _client_match(pattern: str, client: Client) -> bool:
    if "@" in pattern:
        return False  # user@host and @netgroup patterns: not supported (no identd / NIS)
    up = pattern.upper()
    if up == "ALL":
        return True
    if up == "LOCAL":
        return client.name_known and "." not in client.name
    if up == "KNOWN":
        return client.name_known and bool(client.addr)
    if up == "UNKNOWN":
        return not client.name_known or not client.addr
    if up == "PARANOID":
        return False
    # address patterns
    if pattern.startswith("["):
        return _ipv6_match(pattern, client.addr)
    if pattern.endswith("."):
        return client.addr.startswith(pattern)
    if "/" in pattern:
        net, _, mask = pattern.partition("/")
        try:
            network = ipaddress.ip_network(f"{net}/{mask}", strict=False)
            return ipaddress.ip_address(client.addr) in network
        except ValueError:
            return False
    if client.addr and _string_match(pattern, client.addr):
        return True
    if client.name_known and _string_match(pattern, client.name):
        return True
    return False


def _ipv6_match(pattern: str, addr: str) -> bool:
    """libwrap's IPv6 patterns: ``[addr]`` or ``[net]/prefixlen``."""
    net, bracket, mask = pattern[1:].partition("]")
    if not bracket or (mask and not mask.startswith("/")):
        return False
    try:
        client = ipaddress.ip_address(addr.partition("%")[0])
        if not mask:
            return client == ipaddress.IPv6Address(net)
        return client in ipaddress.IPv6Network(f"{net}{mask}", strict=False)
    except ValueError:
        return False


def _rule_matches(rule: Rule, daemon: str, client: Client) -> bool:
    return _list_match(rule.daemons, lambda p: _daemon_match(p, daemon)) and _list_match(
        rule.clients, lambda p: _client_match(p, client)
    )


def _verdict(options: str) -> bool | None:
    """hosts_options(5): an ``allow``/``deny`` keyword in the option field."""
    for opt in options.split(":"):
        word = opt.strip().lower()
        if word == "allow":
            return True
        if word == "deny":
            return False
    return None


def allowed(daemon: str, name: str, addr: str, allow_file: str | None = None, deny_file: str | None = None) -> bool:
    """hosts_ctl(): may ``name``/``addr`` connect to ``daemon``?"""
    client = Client(name or "unknown", addr)
    allow_path = allow_file or os.environ.get(ALLOW_ENV) or DEFAULT_ALLOW
    deny_path = deny_file or os.environ.get(DENY_ENV) or DEFAULT_DENY
    for rule in read_rules(allow_path):
        if _rule_matches(rule, daemon, client):
            verdict = _verdict(rule.options)
            return True if verdict is None else verdict
    for rule in read_rules(deny_path):
        if _rule_matches(rule, daemon, client):
            verdict = _verdict(rule.options)
            return False if verdict is None else verdict
    return True
