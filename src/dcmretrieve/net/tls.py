"""TLS for both tools, set up as DCMTK 3.7.0's dcmtls sets up OpenSSL.

DCMTK builds one ``DcmTLSTransportLayer`` from the TLS options
(``tlsopt.cc`` ``createTransportLayer``); this module builds the Python
equivalent, ``TLSLayer``: an ``ssl.SSLContext`` for outgoing associations
(both tools) and one for incoming ones (movescu's ``+P``), configured the
way ``tlslayer.cc``/``tlsciphr.cc`` configure OpenSSL:

* security profiles (+pg default, +pm, +py, +px, +pz, +pa, +pn) with
  DCMTK's TLS 1.2 suites (IANA names mapped to OpenSSL names by DCMTK's own
  table), protocol versions, and ``@SECLEVEL=0`` (DCMTK runs OpenSSL at
  security level 0);
* ``+cs`` with DCMTK's table and rules (unknown names, NULL and SHA-1
  suites, the RFC 9325 warnings, +pz/+pm refusing additions);
* no host-name check and no system CA store: only ``+cf``/``+cd``;
  ``+crl`` (turns leaf CRL checking on), ``+crv``/``+cra``;
* key passwords (+ps: OpenSSL's own prompt, +pw, -pw), PEM and DER files
  (DER is converted to PEM in memory or in private temporary files);
* DCMTK's own-certificate checks (RSA/ECDSA key length, DSA, weak hashes)
  and, after the handshake, the peer-certificate checks of its verify
  callback (``_check_peer``), read with a small DER parser
  (``certificate_facts``);
* ALPN "dicom", SNI (--request-sni, --expect-sni), the built-in ffdhe2048
  group or ``+dp``, seed files (``+rs``/``+ws``/``+wf``).

Errors are DCMTK's conditions of module ``000b`` (``TLSError.condition``):
``create_layer`` raises them where ``createTransportLayer`` returns them;
``client_handshake``/``server_handshake`` where the handshake fails
(``2048 + OpenSSL reason`` = ``TLS error: <reason text>``).

``--list-ciphers``/``--list-profiles``: ``ciphers_text``/``profiles_text``.
What Python cannot reproduce exactly is listed in docs/deviations.md.

Importing this module imports ``ssl``; ``AVAILABLE`` is False without it
(the TLS option group is then absent, as in a DCMTK build without OpenSSL).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from dataclasses import dataclass, field

from .conditions import Condition

try:
    import ssl
except ImportError:  # pragma: no cover - Python built without OpenSSL
    ssl = None  # type: ignore[assignment]

AVAILABLE = ssl is not None

#: DCMTK's dcmtls logger (W:/E:/F: lines of the TLS layer)
LOGGER = "dcmtk.dcmtls"

MODULE = 0x000B  # OFM_dcmtls


def tls_condition(code: int, text: str) -> Condition:
    return Condition(MODULE, code, text)


COND_CREATE = tls_condition(0x0001, "Unable to create TLS transport layer")
COND_NOT_ALLOWED = tls_condition(0x000A, "Ciphersuite not allowed in current DICOM security profile")
COND_IO_ERROR = tls_condition(0x0017, "OpenSSL I/O error (SSL_ERROR_SYSCALL)")
COND_CLOSED = tls_condition(0x000E, "TLS connection closed by peer (SSL_ERROR_ZERO_RETURN)")
COND_PROFILE = tls_condition(0x0018, "DICOM TLS Secure Transport Connection Profile not supported")
#: DCMTLS_EC_SSL_Offset: OpenSSL SSL-library reasons become 2048 + reason
SSL_OFFSET = 2048
_ERR_LIB_SSL = 20


def unknown_ciphersuite(name: str) -> Condition:
    return tls_condition(0x0003, f"Unknown or invalid ciphersuite: {name}")


def key_failed(name: str) -> Condition:
    return tls_condition(0x0004, f"Unable to load private TLS key from '{name}'")


def certificate_failed(name: str) -> Condition:
    return tls_condition(0x0005, f"Unable to load certificate from '{name}'")


def mismatch(key: str, cert: str) -> Condition:
    return tls_condition(0x0006, f"Private key '{key}' and certificate '{cert}' do not match")


def seed_failed(name: str) -> Condition:
    return tls_condition(0x0007, f"Cannot write random seed '{name}'")


class TLSError(Exception):
    """A DCMTK dcmtls condition (``condition.dump()`` is what DCMTK prints)."""

    def __init__(self, condition: Condition) -> None:
        super().__init__(condition.dump())
        self.condition = condition


# ---------------------------------------------------------------------------
# DCMTK's tables (tlsciphr.cc, 3.7.0)

#: globalCipherSuiteList, weakest first: (IANA name, OpenSSL name, key
#: exchange, MAC, mode, key bits, effective key bits).  The four Camellia-GCM
#: entries are compiled in only when OpenSSL defines their names, which no
#: OpenSSL up to 3.3 does; they are left out here as in such a build.
_CIPHERSUITES = (
    ('TLS_RSA_WITH_NULL_SHA', 'NULL-SHA', 'RSA', 'SHA1', 'NA', 0, 0),
    ('TLS_RSA_WITH_3DES_EDE_CBC_SHA', 'DES-CBC3-SHA', 'RSA', 'SHA1', 'CBC', 168, 112),
    ('TLS_RSA_WITH_AES_128_CBC_SHA', 'AES128-SHA', 'RSA', 'SHA1', 'CBC', 128, 128),
    ('TLS_RSA_WITH_CAMELLIA_128_CBC_SHA', 'CAMELLIA128-SHA', 'RSA', 'SHA1', 'CBC', 128, 128),
    ('TLS_RSA_WITH_AES_128_CBC_SHA256', 'AES128-SHA256', 'RSA', 'SHA256', 'CBC', 128, 128),
    ('TLS_RSA_WITH_AES_128_GCM_SHA256', 'AES128-GCM-SHA256', 'RSA', 'AEAD', 'GCM', 128, 128),
    ('TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA', 'ECDH-ECDSA-AES128-SHA', 'ECDH_ECDSA', 'SHA1', 'CBC', 128, 128),
    ('TLS_ECDH_RSA_WITH_AES_128_CBC_SHA', 'ECDH-RSA-AES128-SHA', 'ECDH_RSA', 'SHA1', 'CBC', 128, 128),
    ('TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDH-ECDSA-AES128-SHA256', 'ECDH_ECDSA', 'SHA256', 'CBC', 128, 128),
    ('TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256', 'ECDH-RSA-AES128-SHA256', 'ECDH_RSA', 'SHA256', 'CBC', 128, 128),
    ('TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDH-ECDSA-AES128-GCM-SHA256', 'ECDH_ECDSA', 'AEAD', 'GCM', 128, 128),
    ('TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256', 'ECDH-RSA-AES128-GCM-SHA256', 'ECDH_RSA', 'AEAD', 'GCM', 128, 128),
    ('TLS_RSA_WITH_CAMELLIA_256_CBC_SHA', 'CAMELLIA256-SHA', 'RSA', 'SHA1', 'CBC', 256, 256),
    ('TLS_RSA_WITH_AES_256_CBC_SHA', 'AES256-SHA', 'RSA', 'SHA1', 'CBC', 256, 256),
    ('TLS_RSA_WITH_AES_256_CBC_SHA256', 'AES256-SHA256', 'RSA', 'SHA256', 'CBC', 256, 256),
    ('TLS_RSA_WITH_AES_256_GCM_SHA384', 'AES256-GCM-SHA384', 'RSA', 'AEAD', 'GCM', 256, 256),
    ('TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA', 'ECDH-ECDSA-AES256-SHA', 'ECDH_ECDSA', 'SHA1', 'CBC', 256, 256),
    ('TLS_ECDH_RSA_WITH_AES_256_CBC_SHA', 'ECDH-RSA-AES256-SHA', 'ECDH_RSA', 'SHA1', 'CBC', 256, 256),
    ('TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384', 'ECDH-ECDSA-AES256-SHA384', 'ECDH_ECDSA', 'SHA384', 'CBC', 256, 256),
    ('TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384', 'ECDH-RSA-AES256-SHA384', 'ECDH_RSA', 'SHA384', 'CBC', 256, 256),
    ('TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDH-ECDSA-AES256-GCM-SHA384', 'ECDH_ECDSA', 'AEAD', 'GCM', 256, 256),
    ('TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384', 'ECDH-RSA-AES256-GCM-SHA384', 'ECDH_RSA', 'AEAD', 'GCM', 256, 256),
    ('TLS_DHE_DSS_WITH_AES_128_CBC_SHA', 'DHE-DSS-AES128-SHA', 'DH', 'SHA1', 'CBC', 128, 128),
    ('TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA', 'DHE-DSS-CAMELLIA128-SHA', 'DH', 'SHA1', 'CBC', 128, 128),
    ('TLS_DHE_RSA_WITH_AES_128_CBC_SHA', 'DHE-RSA-AES128-SHA', 'DH', 'SHA1', 'CBC', 128, 128),
    ('TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA', 'DHE-RSA-CAMELLIA128-SHA', 'DH', 'SHA1', 'CBC', 128, 128),
    ('TLS_DHE_DSS_WITH_AES_128_CBC_SHA256', 'DHE-DSS-AES128-SHA256', 'DH', 'SHA256', 'CBC', 128, 128),
    ('TLS_DHE_RSA_WITH_AES_128_CBC_SHA256', 'DHE-RSA-AES128-SHA256', 'DH', 'SHA256', 'CBC', 128, 128),
    ('TLS_DHE_DSS_WITH_AES_128_GCM_SHA256', 'DHE-DSS-AES128-GCM-SHA256', 'DH', 'AEAD', 'GCM', 128, 128),
    ('TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'DHE-RSA-AES128-GCM-SHA256', 'DH', 'AEAD', 'GCM', 128, 128),
    ('TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'ECDHE-ECDSA-AES128-SHA', 'ECDH', 'SHA1', 'CBC', 128, 128),
    ('TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'ECDHE-RSA-AES128-SHA', 'ECDH', 'SHA1', 'CBC', 128, 128),
    ('TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'ECDHE-ECDSA-AES128-SHA256', 'ECDH', 'SHA256', 'CBC', 128, 128),
    ('TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'ECDHE-RSA-AES128-SHA256', 'ECDH', 'SHA256', 'CBC', 128, 128),
    ('TLS_ECDHE_ECDSA_WITH_AES_128_CCM', 'ECDHE-ECDSA-AES128-CCM', 'ECDH', 'CBC_MAC', 'CCM', 128, 128),
    ('TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8', 'ECDHE-ECDSA-AES128-CCM8', 'ECDH', 'CBC_MAC', 'CCM', 128, 128),
    ('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDH', 'AEAD', 'GCM', 128, 128),
    ('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDH', 'AEAD', 'GCM', 128, 128),
    ('TLS_DHE_DSS_WITH_AES_256_CBC_SHA', 'DHE-DSS-AES256-SHA', 'DH', 'SHA1', 'CBC', 256, 256),
    ('TLS_DHE_RSA_WITH_AES_256_CBC_SHA', 'DHE-RSA-AES256-SHA', 'DH', 'SHA1', 'CBC', 256, 256),
    ('TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA', 'DHE-DSS-CAMELLIA256-SHA', 'DH', 'SHA1', 'CBC', 256, 256),
    ('TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA', 'DHE-RSA-CAMELLIA256-SHA', 'DH', 'SHA1', 'CBC', 256, 256),
    ('TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'DHE-RSA-CHACHA20-POLY1305', 'DH', 'AEAD', 'NA', 256, 256),
    ('TLS_DHE_DSS_WITH_AES_256_CBC_SHA256', 'DHE-DSS-AES256-SHA256', 'DH', 'SHA256', 'CBC', 256, 256),
    ('TLS_DHE_RSA_WITH_AES_256_CBC_SHA256', 'DHE-RSA-AES256-SHA256', 'DH', 'SHA256', 'CBC', 256, 256),
    ('TLS_DHE_DSS_WITH_AES_256_GCM_SHA384', 'DHE-DSS-AES256-GCM-SHA384', 'DH', 'AEAD', 'GCM', 256, 256),
    ('TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 'DHE-RSA-AES256-GCM-SHA384', 'DH', 'AEAD', 'GCM', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDH', 'SHA1', 'CBC', 256, 256),
    ('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'ECDHE-RSA-AES256-SHA', 'ECDH', 'SHA1', 'CBC', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384', 'ECDHE-ECDSA-AES256-SHA384', 'ECDH', 'SHA384', 'CBC', 256, 256),
    ('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'ECDHE-RSA-AES256-SHA384', 'ECDH', 'SHA384', 'CBC', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDH', 'AEAD', 'NA', 256, 256),
    ('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDH', 'AEAD', 'NA', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_AES_256_CCM', 'ECDHE-ECDSA-AES256-CCM', 'ECDH', 'CBC_MAC', 'CCM', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8', 'ECDHE-ECDSA-AES256-CCM8', 'ECDH', 'CBC_MAC', 'CCM', 256, 256),
    ('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDH', 'AEAD', 'GCM', 256, 256),
    ('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDH', 'AEAD', 'GCM', 256, 256),
)

_INDEX = {entry[0]: i for i, entry in enumerate(_CIPHERSUITES)}
_BY_OPENSSL = {entry[1]: i for i, entry in enumerate(_CIPHERSUITES)}

# profile keys (the long option without "--")
PG, PM, PY, PX, PZ, PB, PA, PN = (
    "profile-8996", "profile-8996-mod", "profile-bcp195-nd", "profile-bcp195",
    "profile-bcp195-ex", "profile-basic", "profile-aes", "profile-null",
)

#: lookupProfileName
PROFILE_NAMES = {
    PG: "BCP 195 RFC 8996 TLS Profile",
    PM: "Modified BCP 195 RFC 8996 TLS Profile",
    PY: "Non-downgrading BCP 195 TLS Profile",
    PX: "BCP 195 TLS Profile",
    PZ: "Extended BCP 195 TLS Profile",
    PB: "Basic TLS Secure Transport Connection Profile",
    PA: "AES TLS Secure Transport Connection Profile",
    PN: "Authenticated unencrypted communication",
}

_ND = ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
       "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384")
_3DES = "TLS_RSA_WITH_3DES_EDE_CBC_SHA"

#: setTLSProfile: (required suites, optional 3DES, TLS 1.3 enabled)
_PROFILE_SUITES = {
    PG: (("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
          "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), False, True),
    PM: (("TLS_ECDHE_ECDSA_WITH_AES_128_CCM", "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
          "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
          "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
          "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
          "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"), False, True),
    PY: (_ND, False, True),
    PX: (_ND + ("TLS_RSA_WITH_AES_128_CBC_SHA",), True, True),
    PZ: (_ND + ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), False, False),
    PB: ((_3DES,), False, False),
    PA: (("TLS_RSA_WITH_AES_128_CBC_SHA",), True, False),
    PN: (("TLS_RSA_WITH_NULL_SHA",), False, False),
}


def _supported() -> list[bool]:
    """determineSupportedCiphers: which table entries OpenSSL offers
    (``ALL:eNULL``, SSLv2/3 off)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:eNULL")
    offered = {c["name"] for c in ctx.get_ciphers()}
    return [entry[1] in offered for entry in _CIPHERSUITES]


def openssl_version_name() -> str:
    """DcmTLSTransportLayer::getOpenSSLVersionName (Python's runtime
    ``OPENSSL_VERSION``; DCMTK prints the compile-time text)."""
    return ssl.OPENSSL_VERSION


def triple_des_supported() -> bool:
    return _supported()[_INDEX[_3DES]]


def null_supported() -> bool:
    return _supported()[_INDEX["TLS_RSA_WITH_NULL_SHA"]]


def ciphers_text() -> str:
    """``--list-ciphers`` after the header: DCMTK's table order (weakest first)."""
    flags = _supported()
    lines = ["", "Supported TLS ciphersuites are:"]
    lines += ["  " + entry[0] for entry, ok in zip(_CIPHERSUITES, flags) if ok]
    return "\n".join(lines) + "\n"


def profiles_text() -> str:
    """``--list-profiles`` after the header (printSupportedTLSProfiles)."""
    lines = [f"Cryptographic algorithms implemented by: {openssl_version_name()}", "",
             "Supported TLS Secure Transport Connection Profiles are:",
             f"- {PROFILE_NAMES[PG]} (default)", f"- {PROFILE_NAMES[PM]}"]
    lines += [f"- {PROFILE_NAMES[p]} (retired)" for p in (PY, PX, PZ)]
    if triple_des_supported():
        lines.append(f"- {PROFILE_NAMES[PB]} (retired)")
    lines.append(f"- {PROFILE_NAMES[PA]} (retired)")
    if null_supported():
        lines.append(f"- {PROFILE_NAMES[PN]} (retired)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# certificates: the few facts DCMTK's checks look at (a minimal DER reader)

_OID_RSA = "1.2.840.113549.1.1.1"
_OID_DSA = "1.2.840.10040.4.1"
_OID_EC = "1.2.840.10045.2.1"
#: named curves -> bits (EVP_PKEY_bits of an EC key)
_CURVE_BITS = {
    "1.2.840.10045.3.1.1": 192, "1.3.132.0.33": 224, "1.2.840.10045.3.1.7": 256,
    "1.3.132.0.34": 384, "1.3.132.0.35": 521, "1.3.132.0.10": 256,
    "1.3.36.3.3.2.8.1.1.7": 256, "1.3.36.3.3.2.8.1.1.11": 384, "1.3.36.3.3.2.8.1.1.13": 512,
}
#: signature algorithms -> DCMTK's hash names (checkHashKeyIsTooInSecure / IsSecure)
_WEAK_HASHES = {"1.2.840.113549.1.1.4": "md5", "1.2.840.113549.1.1.2": "md2",
                "1.2.840.113549.1.1.3": "md4"}
_SHA1_HASHES = {"1.2.840.113549.1.1.5": "sha1", "1.2.840.10040.4.3": "sha1",
                "1.2.840.10045.4.1": "sha1", "1.3.14.3.2.29": "sha1"}


def _der_items(data: bytes, pos: int = 0, end: int | None = None):  # -> Iterator[(tag, start, stop)]
    end = len(data) if end is None else end
    while pos < end:
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        yield tag, pos, pos + length
        pos += length


def _oid(raw: bytes) -> str:
    first = raw[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


@dataclass
class CertificateFacts:
    """Key type (``"RSA"``/``"DSA"``/``"EC"``/``""``), key bits, signature OID."""

    key_type: str
    bits: int
    signature: str

    @property
    def weak_hash(self) -> str | None:
        return _WEAK_HASHES.get(self.signature)

    @property
    def sha1_hash(self) -> str | None:
        return _SHA1_HASHES.get(self.signature)


def certificate_facts(der: bytes) -> CertificateFacts:
    """Parse an X.509 certificate (DER) far enough for DCMTK's checks;
    raises ValueError when it is no certificate."""
    try:
        (_, c0, c1), = list(_der_items(der))[:1]
        cert = list(_der_items(der, c0, c1))
        tbs_tag, t0, t1 = cert[0]
        sig_alg = list(_der_items(der, cert[1][1], cert[1][2]))
        signature = _oid(der[sig_alg[0][1]:sig_alg[0][2]])
        fields = list(_der_items(der, t0, t1))
        if fields[0][0] == 0xA0:  # [0] version
            fields = fields[1:]
        spki = fields[5]
        alg, key = list(_der_items(der, spki[1], spki[2]))[:2]
        alg_items = list(_der_items(der, alg[1], alg[2]))
        key_oid = _oid(der[alg_items[0][1]:alg_items[0][2]])
        bitstring = der[key[1] + 1:key[2]]  # skip the unused-bits byte
        if key_oid == _OID_RSA:
            (_, m0, m1), = list(_der_items(bitstring))[:1]
            _, n0, n1 = next(_der_items(bitstring, m0, m1))
            return CertificateFacts("RSA", int.from_bytes(bitstring[n0:n1], "big").bit_length(), signature)
        if key_oid == _OID_EC:
            curve = _oid(der[alg_items[1][1]:alg_items[1][2]]) if len(alg_items) > 1 else ""
            return CertificateFacts("EC", _CURVE_BITS.get(curve, 0), signature)
        if key_oid == _OID_DSA:
            bits = 0
            if len(alg_items) > 1:
                _, p0, p1 = next(_der_items(der, alg_items[1][1], alg_items[1][2]))
                _, q0, q1 = next(_der_items(der, p0, p1))
                bits = int.from_bytes(der[q0:q1], "big").bit_length()
            return CertificateFacts("DSA", bits, signature)
        return CertificateFacts("", 0, signature)
    except (ValueError, IndexError, StopIteration, TypeError) as exc:
        raise ValueError("not an X.509 certificate") from exc


#: OBJ_nid2sn of the attribute types in certificate names (others: the dotted OID)
_NAME_SHORT = {
    "2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
    "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title",
    "2.5.4.13": "description", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
    "2.5.4.41": "name", "2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
    "2.5.4.45": "x500UniqueIdentifier", "2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym",
    "2.5.4.72": "role", "2.5.4.97": "organizationIdentifier", "1.2.840.113549.1.9.1": "emailAddress",
    "0.9.2342.19200300.100.1.1": "UID", "0.9.2342.19200300.100.1.25": "DC",
    "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
    "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC", "2.5.4.16": "postalAddress", "2.5.4.18": "postOfficeBox",
    "2.5.4.20": "telephoneNumber", "2.5.4.51": "houseIdentifier", "2.5.4.54": "dmdName",
    "1.2.840.113549.1.9.2": "unstructuredName", "1.2.840.113549.1.9.8": "unstructuredAddress",
    "0.9.2342.19200300.100.1.3": "mail",
}
#: EVP_PKEY_base_id names dumpX509Certificate knows (others: "unknown")
_KEY_TYPE_NAMES = {_OID_RSA: "RSA", _OID_DSA: "DSA", "1.2.840.113549.1.3.1": "DH"}
#: EVP_PKEY_bits of the curve-less key types
_FIXED_KEY_BITS = {"1.3.101.110": 253, "1.3.101.111": 448, "1.3.101.112": 253, "1.3.101.113": 456}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_V_ASN1_GENERALSTRING = 0x1B


def _name_oneline(der: bytes, start: int, stop: int) -> str:
    r"""X509_NAME_oneline into DCMTK's 1024-byte buffer: ``/CN=x/O=y``, a
    ``+`` between the attributes of one RDN, bytes outside ' '..'~' as
    ``\xHH``, '/' and '+' escaped; an entry that does not fit is left out
    with all that follow."""
    out = ""
    for _set_tag, r0, r1 in _der_items(der, start, stop):
        first = True
        for _seq, a0, a1 in _der_items(der, r0, r1):
            (_t, o0, o1), (vtag, v0, v1) = list(_der_items(der, a0, a1))[:2]
            oid = _oid(der[o0:o1])
            value = der[v0:v1]
            keep = [True] * 4
            if vtag == _V_ASN1_GENERALSTRING and len(value) % 4 == 0:
                seen = [any(value[j] for j in range(k, len(value), 4)) for k in range(4)]
                keep = [True] * 4 if seen[0] or seen[1] or seen[2] else [False, False, False, True]
            text = []
            for j, byte in enumerate(value):
                if not keep[j & 3]:
                    continue
                if byte < 0x20 or byte > 0x7E:
                    text.append(f"\\x{byte:02X}")
                elif byte in (0x2F, 0x2B):
                    text.append("\\" + chr(byte))
                else:
                    text.append(chr(byte))
            entry = ("/" if first else "+") + _NAME_SHORT.get(oid, oid) + "=" + "".join(text)
            if len(out) + len(entry) > 1023:
                return out
            out += entry
            first = False
    return out


def _utctime_print(der: bytes, tag: int, start: int, stop: int) -> str:
    """ASN1_UTCTIME_print: ``Dec  6 15:51:13 2026 GMT``; nothing for a
    GeneralizedTime (OpenSSL 3 prints only UTCTime there)."""
    if tag != 0x17:
        return ""
    text = der[start:stop].decode("ascii", "replace")
    try:
        year, month, day, hour, minute = (int(text[i:i + 2]) for i in range(0, 10, 2))
        second = int(text[10:12]) if text[10:12].isdigit() else 0
    except ValueError:
        return "Bad time value"
    if not 1 <= month <= 12:
        return "Bad time value"
    year += 1900 if year >= 50 else 2000
    return f"{_MONTHS[month - 1]} {day:2d} {hour:02d}:{minute:02d}:{second:02d} {year}" + (
        " GMT" if text.endswith("Z") else "")


def certificate_dump(der: bytes | None) -> str:
    """DcmTLSTransportLayer::dumpX509Certificate of a peer certificate (DER),
    or its text for none."""
    if not der:
        return "Peer did not provide a certificate or certificate verification is disabled."
    (_, c0, c1), = list(_der_items(der))[:1]
    _tbs, t0, t1 = next(_der_items(der, c0, c1))
    fields = list(_der_items(der, t0, t1))
    version = 1
    if fields[0][0] == 0xA0:  # [0] EXPLICIT version
        _v, v0, v1 = next(_der_items(der, fields[0][1], fields[0][2]))
        version = int.from_bytes(der[v0:v1], "big", signed=True) + 1
        fields = fields[1:]
    serial = int.from_bytes(der[fields[0][1]:fields[0][2]], "big", signed=True)
    if not -(1 << 63) <= serial < (1 << 63):  # ASN1_INTEGER_get: -1 when it does not fit
        serial = -1
    (b_tag, b0, b1), (a_tag, a0, a1) = list(_der_items(der, fields[3][1], fields[3][2]))[:2]
    key_type, bits = "unknown", 0
    alg, key = list(_der_items(der, fields[5][1], fields[5][2]))[:2]
    alg_items = list(_der_items(der, alg[1], alg[2]))
    key_oid = _oid(der[alg_items[0][1]:alg_items[0][2]])
    key_type = _KEY_TYPE_NAMES.get(key_oid, "unknown")
    if key_oid in (_OID_RSA, _OID_DSA, _OID_EC):
        bits = certificate_facts(der).bits
    elif key_oid == "1.2.840.113549.1.1.10":  # RSA-PSS: the modulus
        bitstring = der[key[1] + 1:key[2]]
        (_, m0, m1), = list(_der_items(bitstring))[:1]
        _, n0, n1 = next(_der_items(bitstring, m0, m1))
        bits = int.from_bytes(bitstring[n0:n1], "big").bit_length()
    elif key_oid == "1.2.840.113549.1.3.1" and len(alg_items) > 1:  # DH: the prime
        _, p0, p1 = next(_der_items(der, alg_items[1][1], alg_items[1][2]))
        bits = int.from_bytes(der[p0:p1], "big").bit_length()
    else:
        bits = _FIXED_KEY_BITS.get(key_oid, 0)
    return (f"Peer X.509v{version} Certificate\n"
            f"  Subject     : {_name_oneline(der, fields[4][1], fields[4][2])}\n"
            f"  Issued by   : {_name_oneline(der, fields[2][1], fields[2][2])}\n"
            f"  Serial no.  : {serial}\n"
            f"  Validity    : not before {_utctime_print(der, b_tag, b0, b1)}, "
            f"not after {_utctime_print(der, a_tag, a0, a1)}\n"
            f"  Public key  : {key_type}, {bits} bits")


def connection_details(tls: "ssl.SSLSocket") -> str:
    """DcmTLSConnection::dumpConnectionParameters."""
    name, _protocol, bits = tls.cipher() or ("", "", 0)
    try:
        peer = certificate_dump(tls.getpeercert(binary_form=True))
    except (ValueError, IndexError, StopIteration, TypeError):
        peer = "Peer X.509v? Certificate (unreadable)"
    return ("Transport connection: TLS over TCP/IP\n"
            f"  Protocol    : {tls.version()}\n"
            f"  Ciphersuite : {name}, encryption: {bits} bits\n" + peer)


def log_connection(tls: "ssl.SSLSocket") -> None:
    """DcmTLSConnection::logTLSConnection: DEBUG after a successful handshake."""
    log = _log()
    if log.isEnabledFor(logging.DEBUG):
        log.debug("================== BEGIN TLS CONNECTION DETAILS =================\n%s\n"
                  "=================== END TLS CONNECTION DETAILS ==================", connection_details(tls))


def _pem_blocks(text: bytes, label: str) -> list[bytes]:
    import base64

    begin, end = f"-----BEGIN {label}-----".encode(), f"-----END {label}-----".encode()
    blocks, pos = [], 0
    while True:
        start = text.find(begin, pos)
        if start < 0:
            return blocks
        stop = text.find(end, start)
        if stop < 0:
            return blocks
        blocks.append(base64.b64decode(b"".join(text[start + len(begin):stop].split())))
        pos = stop + len(end)


def _first_certificate(name: str, der: bool) -> bytes | None:
    """loadCertificateFile: the first certificate of a PEM or DER file (None if none)."""
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if der:
        return data
    blocks = _pem_blocks(data, "CERTIFICATE") or _pem_blocks(data, "TRUSTED CERTIFICATE")
    return blocks[0] if blocks else None


# ---------------------------------------------------------------------------
# the configuration (from Settings) and the layer


@dataclass
class TLSConfig:
    """What DcmTLSOptions collected from the command line."""

    role: str  # "requestor" (getscu) or "acceptor-requestor" (movescu)
    authenticate: bool = False  # +tls (False: +tla)
    private_key: str | None = None
    certificate: str | None = None
    password: str | None = None  # None: +ps (OpenSSL's prompt)
    der: bool = False  # -der
    cert_files: list[str] = field(default_factory=list)
    cert_dirs: list[str] = field(default_factory=list)
    crl_files: list[str] = field(default_factory=list)
    crl_mode: str | None = None  # None, "leaf" (+crv), "all" (+cra)
    profile: str = PG
    ciphers: list[str] = field(default_factory=list)  # +cs, command-line order
    dhparam: str | None = None
    request_sni: str | None = None
    expect_sni: str | None = None
    seed: str | None = None
    write_seed: str | None = None  # +ws (the +rs file) or +wf f
    verification: str = "require"  # "require" (-rc), "verify" (-vc), "ignore" (-ic)


class TLSLayer:
    """The contexts of one run: ``client`` (outgoing association) and, for
    movescu, ``server`` (the +P sub-associations)."""

    def __init__(self, config: TLSConfig, client: "ssl.SSLContext", server: "ssl.SSLContext | None") -> None:
        self.config = config
        self.client = client
        self.server = server

    def wrap_client(self, sock: socket.socket) -> "ssl.SSLSocket":
        """The outgoing association's handshake (``AssociationParams.tls``);
        a failure is an AssociationError of kind TLS with DCMTK's condition."""
        from .conditions import AssociationError, AssociationFailure

        try:
            return client_handshake(sock, self)
        except TLSError as exc:
            raise AssociationError(AssociationFailure.TLS, exc.condition) from None

    def wrap_server(self, sock: socket.socket) -> "ssl.SSLSocket":
        """An incoming sub-association's handshake; raises TLSError."""
        return server_handshake(sock, self)

    def write_seed(self) -> None:
        """writeRandomSeed (movescu, after the network is dropped): 1024
        random bytes, mode 0600, as RAND_write_file writes them."""
        name = self.config.write_seed
        if not name:
            return
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(ssl.RAND_bytes(1024))
        except OSError:
            raise TLSError(seed_failed(name)) from None


def _log() -> logging.Logger:
    return logging.getLogger(LOGGER)


_FFDHE2048 = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""


class _TempFiles:
    """Private (0600) temporary files for DER material converted to PEM."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def write(self, data: bytes) -> str:
        fd, name = tempfile.mkstemp(prefix="dcmretrieve-tls-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        self.names.append(name)
        return name

    def remove(self) -> None:
        for name in self.names:
            try:
                os.unlink(name)
            except OSError:
                pass


def _pem(der: bytes, label: str) -> bytes:
    import base64

    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return b"-----BEGIN " + label.encode() + b"-----\n" + b"\n".join(lines) + b"\n-----END " + label.encode() + b"-----\n"


def _der_key_label(der: bytes) -> str:
    """PKCS#8 (``PRIVATE KEY``), encrypted PKCS#8, or a traditional RSA/EC key."""
    try:
        (_, s0, s1), = list(_der_items(der))[:1]
        items = list(_der_items(der, s0, s1))
    except (ValueError, IndexError):
        return "PRIVATE KEY"
    if items and items[0][0] == 0x30:
        return "ENCRYPTED PRIVATE KEY"
    if len(items) > 1 and items[1][0] == 0x30:
        return "PRIVATE KEY"
    if len(items) > 1 and items[1][0] == 0x04:
        return "EC PRIVATE KEY"
    return "RSA PRIVATE KEY"


def _read(name: str) -> bytes | None:
    try:
        with open(name, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _new_context(server: bool, config: TLSConfig) -> "ssl.SSLContext":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # DCMTK never checks the peer's host name
    # security level 0 from the start (SSL_CTX_set_security_level(ctx, 0)):
    # Python's default level 2 would refuse a 1024-bit own key when loaded
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if config.verification == "ignore":
        ctx.verify_mode = ssl.CERT_NONE
    elif config.verification == "verify" and server:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    else:
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def create_layer(config: TLSConfig) -> TLSLayer:
    """createTransportLayer: the contexts, or TLSError with DCMTK's condition
    (logged W:/E:/F: lines of dcmtls on the ``dcmtk.dcmtls`` logger)."""
    log = _log()
    if config.seed:
        data = _read(config.seed)
        if data:
            ssl.RAND_add(data, len(data))
        if not ssl.RAND_status():  # pragma: no cover - OpenSSL >= 1.1.1 seeds itself
            log.warning("PRNG for TLS not seeded with sufficient random data.")
    acceptor = config.role != "requestor"
    contexts = [_new_context(False, config)] + ([_new_context(True, config)] if acceptor else [])
    temps = _TempFiles()
    try:
        _trust(config, contexts, temps, log)
        facts = None
        if config.authenticate:
            facts = _own_certificate(config, contexts, temps, log, acceptor)
        suites = _profile_suites(config, log)
        _activate(config, contexts, suites, acceptor, facts, log)
        if acceptor:
            _server_extras(config, contexts[1], temps, log)
    finally:
        temps.remove()
    for ctx in contexts:
        ctx.set_alpn_protocols(["dicom"])
    return TLSLayer(config, contexts[0], contexts[1] if acceptor else None)


def _trust(config: TLSConfig, contexts: list, temps: _TempFiles, log: logging.Logger) -> None:
    """+cf, +cd, +crl (warnings only), then the CRL mode."""
    for name in config.cert_files:
        try:
            for ctx in contexts:
                if config.der:
                    data = _read(name)
                    if data is None:
                        raise OSError(name)
                    ctx.load_verify_locations(cadata=data)
                else:
                    ctx.load_verify_locations(cafile=name)
        except (OSError, ValueError, ssl.SSLError):
            log.warning(f"unable to load certificate file '{name}', ignoring")
    for name in config.cert_dirs:
        if not os.path.isdir(name):
            log.warning(f"unable to load certificates from directory '{name}', ignoring")
            continue
        for ctx in contexts:
            ctx.load_verify_locations(capath=name)
    crl_mode = config.crl_mode
    for name in config.crl_files:
        try:
            data = _read(name)
            if data is None:
                raise OSError(name)
            if config.der:
                name = temps.write(_pem(data, "X509 CRL"))
            elif b"-----BEGIN X509 CRL-----" not in data:
                raise ValueError(name)
            for ctx in contexts:
                ctx.load_verify_locations(cafile=name)
            if crl_mode is None:
                crl_mode = "leaf"
        except (OSError, ValueError, ssl.SSLError):
            log.warning(f"unable to load CRL file '{name}', ignoring")
    if crl_mode is not None:
        flag = ssl.VERIFY_CRL_CHECK_LEAF if crl_mode == "leaf" else ssl.VERIFY_CRL_CHECK_CHAIN
        for ctx in contexts:
            ctx.verify_flags |= flag


def _own_certificate(config: TLSConfig, contexts: list, temps: _TempFiles, log: logging.Logger,
                     acceptor: bool) -> CertificateFacts:
    """setPrivateKeyFile, setCertificateFile (DCMTK's checks), key match."""
    key_name, cert_name = config.private_key or "", config.certificate or ""
    key_data = _read(key_name)
    if key_data is None or (not config.der and b"PRIVATE KEY-----" not in key_data):
        _log_key_error(key_name, key_data, config.der, log)
        raise TLSError(key_failed(key_name))
    der_cert = _first_certificate(cert_name, config.der)
    try:
        if der_cert is None:
            raise ValueError(cert_name)
        facts = certificate_facts(der_cert)
    except ValueError:
        raise TLSError(certificate_failed(cert_name)) from None
    _check_own_certificate(config, facts, cert_name, acceptor, log)
    key_file, cert_file = key_name, cert_name
    if config.der:
        key_file = temps.write(_pem(key_data, _der_key_label(key_data)))
        cert_file = temps.write(_pem(der_cert, "CERTIFICATE"))
    for ctx in contexts:
        try:
            ctx.load_cert_chain(cert_file, key_file, password=config.password)
        except ssl.SSLError as exc:
            if "KEY_VALUES_MISMATCH" in str(exc):
                raise TLSError(mismatch(key_name, cert_name)) from None
            _log_key_error(key_name, key_data, config.der, log)
            raise TLSError(key_failed(key_name)) from None  # wrong password, unreadable key
        except OSError:  # +ps: OpenSSL's prompt read a wrong password, or could not read one
            if config.password is None and not _terminal_usable():
                log.error("OpenSSL error 1400006b: processing error")  # UI_process: no terminal
            else:
                _log_key_error(key_name, key_data, config.der, log)
            raise TLSError(key_failed(key_name)) from None
    return facts


def _terminal_usable() -> bool:
    """OpenSSL's password prompt can use the controlling terminal."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
        return True
    except OSError:
        return False


def _log_key_error(name: str, data: bytes | None, der: bool, log: logging.Logger) -> None:
    """The ``E: OpenSSL error <code>: <reason>`` line convertOpenSSLError
    logs for the first error of OpenSSL's queue when setPrivateKeyFile
    fails.  Python's ``ssl`` clears that queue and reports only its last
    error (``PEM lib``), so the first one is inferred for the cases whose
    code DCMTK 3.6.7's storescu shows on OpenSSL 3.0 (docs/deviations.md):
    a file that cannot be opened (ERR_LIB_SYS with errno), a PEM file
    without a private key (DECODER ``unsupported``), an encrypted PEM key
    with a wrong or empty password (PROV ``bad decrypt``); and, for +ps
    without a terminal, UI ``processing error`` (see the caller)."""
    if data is None:
        try:
            os.close(os.open(name, os.O_RDONLY))
            return
        except OSError as exc:
            if exc.errno:
                log.error(f"OpenSSL error {0x80000000 | exc.errno:08x}: OpenSSL error")
            return
    if der:
        return
    if b"PRIVATE KEY-----" not in data:
        log.error("OpenSSL error 1e08010c: unsupported")
    elif b"ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        log.error("OpenSSL error 1c800064: bad decrypt")


def _check_own_certificate(config: TLSConfig, facts: CertificateFacts, name: str, acceptor: bool,
                           log: logging.Logger) -> None:
    profile = config.profile
    strict = profile == PM
    rfc8996 = profile in (PG, PM)
    if facts.key_type == "RSA" and 0 < facts.bits < 2048:
        if rfc8996 and acceptor:
            log.critical("Key length of RSA public key too short: RFC 9325 requires at least 2048 bits for "
                         f"server RSA keys, but the key in certificate file '{name}' is only {facts.bits} bits.")
            raise TLSError(certificate_failed(name))
        if strict:
            log.critical("Key length of RSA public key too short: TLS profile requires at least 2048 bits for "
                         f"RSA keys, but the key in certificate file '{name}' is only {facts.bits} bits.")
            raise TLSError(certificate_failed(name))
        log.warning("Key length of RSA public key too short: RFC 9325 recommends at least 2048 bits for "
                    f"RSA keys, but the key in certificate file '{name}' is only {facts.bits} bits.")
    if facts.key_type == "EC" and 0 < facts.bits < 256:
        if strict:
            log.critical("Key length of ECDSA public key too short: TLS profile requires at least 256 bits for "
                         f"ECDSA keys, but the key in certificate file '{name}' is only {facts.bits} bits.")
            raise TLSError(certificate_failed(name))
        if facts.bits < 224:
            log.warning("Key length of ECDSA public key too short: RFC 9325 recommends at least 224 bits for "
                        f"ECDSA keys, but the key in certificate file '{name}' is only {facts.bits} bits.")
    if facts.key_type == "DSA":
        if rfc8996:
            log.critical(f"DSA certificate '{name}' not permitted in the selected TLS profile because it "
                         "prevents the use of TLS 1.3.")
            raise TLSError(certificate_failed(name))
        log.warning("Use of DSA certificate not recommended because it prevents the use of TLS 1.3, "
                    "which does not support this certificate type.")
    if facts.weak_hash:
        log.error(f"Weak certificate hash key: certificate file '{name}' uses '{facts.weak_hash}'.")
        raise TLSError(certificate_failed(name))
    if facts.sha1_hash:
        if strict:
            log.critical("Weak certificate hash key: TLS profile requires SHA-256 (or better) for certificates, "
                         f"but certificate file '{name}' uses '{facts.sha1_hash}'.")
            raise TLSError(certificate_failed(name))
        log.warning("Possibly weak certificate hash key: RFC 9325 recommends the use of SHA-256 (or better) "
                    f"for certificates, but certificate file '{name}' uses '{facts.sha1_hash}'.")


def _profile_suites(config: TLSConfig, log: logging.Logger) -> list[int]:
    """setTLSProfile + addCipherSuite for every +cs: table indexes, in order."""
    flags = _supported()
    required, optional_3des, _tls13 = _PROFILE_SUITES[config.profile]
    suites: list[int] = []
    for name in required:
        index = _INDEX[name]
        if not flags[index]:
            log.critical(f"Ciphersuite '{name}' not supported by the OpenSSL library used to compile "
                         "this application.")
            raise TLSError(unknown_ciphersuite(name))
        suites.append(index)
    if optional_3des:
        if flags[_INDEX[_3DES]]:
            suites.append(_INDEX[_3DES])
        else:
            log.warning(f"Ciphersuite '{_3DES}' not supported by the OpenSSL library used to compile this "
                        "application, no backward compatibility with DICOM Basic TLS profile.")
    profile_name = PROFILE_NAMES[config.profile]
    for name in config.ciphers:
        index = _INDEX.get(name)
        if index is None:
            raise TLSError(unknown_ciphersuite(name))
        if not flags[index]:
            log.critical(f"Ciphersuite '{name}' not supported by the OpenSSL library used to compile "
                         "this application.")
            raise TLSError(unknown_ciphersuite(name))
        _iana, _openssl, kx, mac, mode, bits, effective = _CIPHERSUITES[index]
        if config.profile in (PB, PA, PX, PY):
            if bits == 0:
                log.critical(f"Unencrypted ciphersuite '{name}' not permitted with security profile '{profile_name}'")
                raise TLSError(COND_NOT_ALLOWED)
            if kx == "RSA":
                log.warning(f"Ciphersuite '{name}' uses RSA key transport. RFC 7525 recommends that such "
                            "cipher suites should not be used.")
        elif config.profile == PG:
            if bits == 0:
                log.critical(f"Unencrypted ciphersuite '{name}' not permitted with security profile '{profile_name}'")
                raise TLSError(COND_NOT_ALLOWED)
            if mac == "SHA1":
                log.critical(f"Ciphersuite '{name}' using SHA-1 MAC not permitted with security profile "
                             f"'{profile_name}'")
                raise TLSError(COND_NOT_ALLOWED)
            if name == "TLS_RSA_WITH_AES_128_CBC_SHA":  # pragma: no cover - refused as SHA-1 above
                log.warning("RFC 9325 recommends that ciphersuite 'TLS_RSA_WITH_AES_128_CBC_SHA' should not be used.")
            else:
                if kx == "RSA":
                    log.warning(f"Ciphersuite '{name}' uses RSA key transport. RFC 9325 recommends that such "
                                "cipher suites should not be used.")
                if kx == "DH":
                    log.warning(f"Ciphersuite '{name}' uses ephemeral finite-field Diffie-Hellman key agreement. "
                                "RFC 9325 recommends that such cipher suites should not be used.")
            if mode == "CBC":
                log.warning(f"Ciphersuite '{name}' uses CBC mode of operation. RFC 9325 recommends that such "
                            "cipher suites should not be used, unless both sides support the encrypt_then_mac "
                            "extension (we do).")
        elif config.profile in (PZ, PM):
            log.critical(f"Additional ciphersuites not permitted with security profile '{profile_name}'")
            raise TLSError(COND_NOT_ALLOWED)
        suites.append(index)
    return suites


def _activate(config: TLSConfig, contexts: list, suites: list[int], acceptor: bool,
              facts: CertificateFacts | None, log: logging.Logger) -> None:
    """activateCipherSuites: the cipher list (strongest first when DCMTK's
    role includes the acceptor: one context serves both directions there),
    security level 0, the protocol versions of the profile."""
    order = sorted(suites, reverse=True) if acceptor and len(suites) > 1 else suites
    cipher_string = ":".join(_CIPHERSUITES[i][1] for i in order) + ":@SECLEVEL=0"
    tls13 = _PROFILE_SUITES[config.profile][2]
    import warnings

    for ctx in contexts:
        try:
            ctx.set_ciphers(cipher_string)
        except ssl.SSLError:
            raise TLSError(tls_condition(SSL_OFFSET + 185, "TLS error: no cipher match")) from None
        with warnings.catch_warnings():  # TLS 1.0/1.1 of the retired profiles
            warnings.simplefilter("ignore", DeprecationWarning)
            if config.profile in (PX, PB, PA, PN):
                ctx.minimum_version = ssl.TLSVersion.TLSv1
            else:
                ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if not tls13 or (facts is not None and facts.key_type == "DSA"):
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2


def _server_extras(config: TLSConfig, server: "ssl.SSLContext", temps: _TempFiles, log: logging.Logger) -> None:
    """The built-in ffdhe2048 group or +dp; --expect-sni."""
    server.load_dh_params(temps.write(_FFDHE2048))
    if config.dhparam:
        try:
            server.load_dh_params(config.dhparam)
        except (OSError, ssl.SSLError):
            log.warning(f"unable to load temporary DH parameter file '{config.dhparam}', ignoring")
    expected = config.expect_sni
    if expected is not None:
        def check_name(sock, name, ctx):  # type: ignore[no-untyped-def]
            if name is not None and name != expected:
                log.error(f"SNI failure: client requested server '{name}', my name is '{expected}'.")
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            return None

        server.sni_callback = check_name


# ---------------------------------------------------------------------------
# handshakes

#: DCMTK's socket timeouts (dcmSocketSend/ReceiveTimeout) also bound the handshake
HANDSHAKE_TIMEOUT = 60.0


def handshake_condition(exc: BaseException) -> Condition:
    """convertSSLError: an SSL-library reason becomes ``2048 + reason`` with
    ``TLS error: <reason text>``; a system-call failure without one is
    ``OpenSSL I/O error``; a clean close ``TLS connection closed by peer``."""
    if ssl is not None and isinstance(exc, ssl.SSLZeroReturnError):
        return COND_CLOSED
    if ssl is not None and isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError):
        reason = getattr(exc, "reason", None)
        if reason:
            import _ssl

            code = _ssl.err_names_to_codes.get(reason)
            number = code[1] if code and code[0] == _ERR_LIB_SSL else 0
            text = _reason_text(exc, reason)
            if number:
                return tls_condition(SSL_OFFSET + number, f"TLS error: {text}")
    return COND_IO_ERROR


def _reason_text(exc: BaseException, reason: str) -> str:
    """OpenSSL's reason string: Python's message without its verify detail
    and source location."""
    message = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else ""
    if "] " in message:
        message = message.split("] ", 1)[1]
        message = message.split(" (_ssl.c", 1)[0].split(":", 1)[0].strip()
        if message:
            return message
    return reason.lower().replace("_", " ")


def client_handshake(sock: socket.socket, layer: TLSLayer) -> "ssl.SSLSocket":
    """clientSideHandshake on a connected socket; raises TLSError."""
    tls = layer.client.wrap_socket(sock, server_side=False, do_handshake_on_connect=False,
                                   server_hostname=layer.config.request_sni)
    return _handshake(tls, layer, server=False)


def server_handshake(sock: socket.socket, layer: TLSLayer) -> "ssl.SSLSocket":
    """serverSideHandshake on an accepted socket (movescu +P); raises TLSError."""
    assert layer.server is not None
    tls = layer.server.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
    return _handshake(tls, layer, server=True)


def _handshake(tls: "ssl.SSLSocket", layer: TLSLayer, server: bool) -> "ssl.SSLSocket":
    previous = tls.gettimeout()
    tls.settimeout(HANDSHAKE_TIMEOUT)
    try:
        tls.do_handshake()
    except (OSError, ValueError) as exc:
        tls.close()
        raise TLSError(handshake_condition(exc)) from None
    tls.settimeout(previous)
    if not server and layer.config.verification != "ignore":
        _check_peer(tls, layer)
    log_connection(tls)  # after the checks DCMTK's verify callback makes during the handshake
    return tls


def _check_peer(tls: "ssl.SSLSocket", layer: TLSLayer) -> None:
    """The checks of DCMTK's verify callback on the server's certificate
    (run by DCMTK during the handshake, here right after it)."""
    der = tls.getpeercert(binary_form=True)
    if not der:
        return
    try:
        facts = certificate_facts(der)
    except ValueError:
        return
    log = _log()
    refuse = None
    if facts.weak_hash:
        refuse = f"Weak certificate hash key: peer provided certificate with '{facts.weak_hash}'. Refusing TLS connection."
    elif layer.config.profile == PM:
        if facts.key_type == "RSA" and 0 < facts.bits < 2048:
            refuse = ("RSA key length too short: the DICOM TLS profile requires at least 2048 bits, but peer "
                      f"provided RSA certificate with {facts.bits} bits. Refusing TLS connection.")
        elif facts.key_type == "EC" and 0 < facts.bits < 256:
            refuse = ("ECDSA key length too short: the DICOM TLS profile requires at least 256 bits, but peer "
                      f"provided ECDSA certificate with {facts.bits} bits. Refusing TLS connection.")
        elif facts.sha1_hash:
            refuse = ("Weak certificate hash key: the DICOM TLS profile requires SHA-256 (or better) for "
                      f"certificates, but peer provided certificate with '{facts.sha1_hash}'. Refusing TLS connection.")
    elif layer.config.profile == PG and facts.key_type == "RSA" and 0 < facts.bits < 2048:
        refuse = ("Server RSA key length too short: RFC 9325 requires at least 2048 bits, but server provided "
                  f"RSA certificate with {facts.bits} bits. Refusing TLS connection.")
    else:
        if facts.key_type == "RSA" and 0 < facts.bits < 2048:
            log.warning("RSA key length too short: RFC 9325 recommends at least 2048 bits, but peer provided "
                        f"RSA certificate with {facts.bits} bits.")
        if facts.key_type == "EC" and 0 < facts.bits < 224:
            log.warning("ECDSA key length too short: RFC 9325 recommends at least 224 bits, but peer provided "
                        f"ECDSA certificate with {facts.bits} bits.")
        if facts.sha1_hash:
            log.warning("Weak certificate hash key: RFC 9325 recommends SHA-256 (or better, but peer provided "
                        f"certificate with '{facts.sha1_hash}'.")
    if refuse is not None:
        log.error(refuse)
        try:
            tls.close()
        finally:
            raise TLSError(tls_condition(SSL_OFFSET + 134, "TLS error: certificate verify failed"))
