"""DCMTK 3.7.0's TLS options without a network: the command-line checks
(tlsopt.cc ``parseArguments``), the TLS layer (``createTransportLayer``:
conditions 000b:xxxx, exit 70 for movescu and 1 for getscu), the
``--list-ciphers``/``--list-profiles`` output and the certificate reader.
Expected texts are DCMTK 3.7.0's (its sources; docs/tls.md)."""

from __future__ import annotations

import io
import logging
import os
import ssl
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from dcmretrieve.cli import app
from dcmretrieve.net import tls
from support import certs
from support.logcapture import Collect

OPENSSL = certs.OPENSSL


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> certs.Pki:
    return certs.make_pki(tmp_path_factory.mktemp("pki"))


def run(tool: str, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = app.run(tool, argv)
    return code, out.getvalue(), err.getvalue()


def error_of(tool: str, argv: list[str]) -> str:
    code, _out, err = run(tool, argv)
    assert code == 1
    return err.splitlines()[-1]


# ------------------------------------------------------------ command line --


@pytest.mark.parametrize("tool, argv, message", [
    ("getscu", ["+cf", "x"], "--add-cert-file only allowed with --enable-tls or --anonymous-tls"),
    ("movescu", ["+cf", "x"], "--add-cert-file only allowed with --enable-tls"),
    ("getscu", ["+tla", "+pw", "x"], "--use-passwd only allowed with --enable-tls"),
    ("getscu", ["+tla", "-pw"], "--null-passwd only allowed with --enable-tls"),
    ("getscu", ["+ps"], "--std-passwd only allowed with --enable-tls"),
    ("movescu", ["-der"], "--der-keys only allowed with --enable-tls"),
    ("movescu", ["+pa"], "--profile-basic only allowed with --enable-tls"),  # DCMTK's slip
    ("movescu", ["+pg"], "--profile-8996 only allowed with --enable-tls"),
    ("getscu", ["+tla", "+pz", "+cs", "TLS_RSA_WITH_AES_128_CBC_SHA"], "--cipher not allowed with --profile-bcp195-ex"),
    ("getscu", ["+tla", "+ws"], "--write-seed only allowed with --seed"),
    ("movescu", ["+tls", "k", "c", "+wf", "f"], "--write-seed-file only allowed with --seed"),
    ("movescu", ["+rs", "f"], "--seed only allowed with --enable-tls"),
    ("movescu", ["-vc"], "--verify-peer-cert only allowed with --enable-tls"),
    ("movescu", ["--request-sni", "a", "--no-sni"], "--no-sni not allowed with --request-sni"),
    ("movescu", ["--expect-sni", "a", "--no-sni"], "--no-sni not allowed with --expect-sni"),
    ("getscu", ["+tla", "+dp", "f"], "Unknown option +dp"),
    ("getscu", ["-vc"], "Unknown option -vc"),
    ("getscu", ["--expect-sni", "x"], "Unknown option --expect-sni"),
    ("movescu", ["+tla"], "Unknown option +tla"),
])
def test_dependencies_and_conflicts(tool: str, argv: list[str], message: str) -> None:
    assert error_of(tool, [*argv, "-k", "PatientID=x", "localhost", "104"]) == f"error: {message}"


def test_profile_basic_exists_only_with_3des() -> None:
    if tls.triple_des_supported():  # pragma: no cover - not on OpenSSL 3.0 as packaged
        pytest.skip("this OpenSSL offers 3DES")
    assert error_of("getscu", ["+tla", "+pb", "localhost", "104"]) == "error: Unknown option +pb"


def test_request_sni_needs_no_tls_and_rightmost_options_win(tmp_path: Path) -> None:
    """--request-sni has no TLS dependency; in a block the rightmost wins
    (+tls ... -tls is plain TCP, so -der before it is refused)."""
    code, _out, err = run("getscu", ["--request-sni", "x", "-od", str(tmp_path), "-k", "PatientID=x",
                                     "127.0.0.1", "1"])
    assert "error:" not in err
    assert error_of("getscu", ["+tls", "k", "c", "-tls", "-der", "localhost", "104"]) == \
        "error: --der-keys only allowed with --enable-tls or --anonymous-tls"


@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_list_profiles_and_ciphers_need_no_peer(tool: str) -> None:
    code, out, err = run(tool, ["+ph"])
    assert (code, err) == (0, "")
    head, body = out.split("Cryptographic algorithms implemented by: ")
    assert head.endswith("Build options: " + head.split("Build options: ")[1])
    assert body == ssl.OPENSSL_VERSION + """

Supported TLS Secure Transport Connection Profiles are:
- BCP 195 RFC 8996 TLS Profile (default)
- Modified BCP 195 RFC 8996 TLS Profile
- Non-downgrading BCP 195 TLS Profile (retired)
- BCP 195 TLS Profile (retired)
- Extended BCP 195 TLS Profile (retired)
- AES TLS Secure Transport Connection Profile (retired)
- Authenticated unencrypted communication (retired)
"""
    code, out, err = run(tool, ["--list-ciphers", "peer", "104"])
    assert (code, err) == (0, "")
    listed = out.split("\n\nSupported TLS ciphersuites are:\n")[1].splitlines()
    assert listed == [f"  {name}" for name in _openssl_cli_intersection()]


def _openssl_cli_intersection() -> list[str]:
    """DCMTK's method, independently: the table entries (in table order)
    that ``openssl ciphers -stdname ALL:eNULL`` names."""
    text = subprocess.run([OPENSSL, "ciphers", "-stdname", "ALL:eNULL"], capture_output=True, text=True,
                          check=True).stdout
    offered = {line.split()[0] for line in text.splitlines() if line.strip()}
    return [entry[0] for entry in tls._CIPHERSUITES if entry[0] in offered]


def test_cipher_list_has_dcmtk_3_7_0_count_on_openssl_3_0() -> None:
    if not ssl.OPENSSL_VERSION.startswith("OpenSSL 3.0"):  # pragma: no cover
        pytest.skip("counted on OpenSSL 3.0")
    assert len(_openssl_cli_intersection()) == 44


# ------------------------------------------------------------- the layer --


def config(pki: certs.Pki, **changes) -> tls.TLSConfig:  # type: ignore[no-untyped-def]
    values = dict(role="acceptor-requestor", authenticate=True, private_key=str(pki.client.key),
                  certificate=str(pki.client.crt), cert_files=[str(pki.ca)])
    values.update(changes)
    return tls.TLSConfig(**values)  # type: ignore[arg-type]


def condition_of(cfg: tls.TLSConfig, lines: list[str] | None = None) -> str:
    handler = Collect(lines if lines is not None else [])
    logger = logging.getLogger(tls.LOGGER)
    logger.addHandler(handler)
    try:
        with pytest.raises(tls.TLSError) as info:
            tls.create_layer(cfg)
    finally:
        logger.removeHandler(handler)
    return info.value.condition.dump()


def test_layer_errors(pki: certs.Pki, tmp_path: Path) -> None:
    assert condition_of(config(pki, private_key=str(pki.server.key))) == \
        f"000b:0006 Private key '{pki.server.key}' and certificate '{pki.client.crt}' do not match"
    assert condition_of(config(pki, private_key=str(tmp_path / "none"))) == \
        f"000b:0004 Unable to load private TLS key from '{tmp_path / 'none'}'"
    assert condition_of(config(pki, certificate=str(pki.client.key))) == \
        f"000b:0005 Unable to load certificate from '{pki.client.key}'"
    assert condition_of(config(pki, ciphers=["TLS_NO_SUCH_SUITE"])) == \
        "000b:0003 Unknown or invalid ciphersuite: TLS_NO_SUCH_SUITE"
    assert condition_of(config(pki, ciphers=["TLS_AES_128_GCM_SHA256"])) == \
        "000b:0003 Unknown or invalid ciphersuite: TLS_AES_128_GCM_SHA256"
    lines: list[str] = []
    assert condition_of(config(pki, ciphers=["TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"]), lines) == \
        "000b:0003 Unknown or invalid ciphersuite: TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"
    assert lines == ["C: Ciphersuite 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA' not supported by the OpenSSL library "
                     "used to compile this application."]
    lines = []
    assert condition_of(config(pki, ciphers=["TLS_RSA_WITH_AES_128_CBC_SHA"]), lines) == \
        "000b:000a Ciphersuite not allowed in current DICOM security profile"
    assert lines == ["C: Ciphersuite 'TLS_RSA_WITH_AES_128_CBC_SHA' using SHA-1 MAC not permitted with "
                     "security profile 'BCP 195 RFC 8996 TLS Profile'"]
    lines = []
    assert condition_of(config(pki, profile=tls.PM, ciphers=["TLS_RSA_WITH_AES_128_GCM_SHA256"]), lines) == \
        "000b:000a Ciphersuite not allowed in current DICOM security profile"
    assert lines == ["C: Additional ciphersuites not permitted with security profile "
                     "'Modified BCP 195 RFC 8996 TLS Profile'"]
    assert condition_of(config(pki, profile=tls.PY, ciphers=["TLS_RSA_WITH_NULL_SHA"])) == \
        "000b:000a Ciphersuite not allowed in current DICOM security profile"


def test_wrong_password_and_encrypted_keys(pki: certs.Pki) -> None:
    assert condition_of(config(pki, private_key=str(pki.encrypted_key), password="wrong")) == \
        f"000b:0004 Unable to load private TLS key from '{pki.encrypted_key}'"
    assert condition_of(config(pki, private_key=str(pki.encrypted_key), password="")) == \
        f"000b:0004 Unable to load private TLS key from '{pki.encrypted_key}'"
    tls.create_layer(config(pki, private_key=str(pki.encrypted_key), password=certs.PASSWORD))


def test_short_rsa_key_fatal_for_movescu_warning_for_getscu(pki: certs.Pki) -> None:
    lines: list[str] = []
    assert condition_of(config(pki, private_key=str(pki.short.key), certificate=str(pki.short.crt)), lines) == \
        f"000b:0005 Unable to load certificate from '{pki.short.crt}'"
    assert lines == [f"C: Key length of RSA public key too short: RFC 9325 requires at least 2048 bits for server "
                     f"RSA keys, but the key in certificate file '{pki.short.crt}' is only 1024 bits."]
    handler = Collect()
    logging.getLogger(tls.LOGGER).addHandler(handler)
    try:
        tls.create_layer(config(pki, role="requestor", private_key=str(pki.short.key),
                                certificate=str(pki.short.crt)))
    finally:
        logging.getLogger(tls.LOGGER).removeHandler(handler)
    assert handler.lines == [f"W: Key length of RSA public key too short: RFC 9325 recommends at least 2048 bits "
                             f"for RSA keys, but the key in certificate file '{pki.short.crt}' is only 1024 bits."]


def test_der_files_and_warnings_for_unloadable_trust(pki: certs.Pki, tmp_path: Path) -> None:
    layer = tls.create_layer(config(pki, der=True, private_key=str(pki.client.key_der),
                                    certificate=str(pki.client.der), cert_files=[]))
    assert layer.client.cert_store_stats()["x509"] == 0
    handler = Collect()
    logging.getLogger(tls.LOGGER).addHandler(handler)
    try:
        tls.create_layer(config(pki, cert_files=[str(tmp_path / "nope.crt")], cert_dirs=[str(tmp_path / "nodir")],
                                crl_files=[str(tmp_path / "nope.crl")]))
    finally:
        logging.getLogger(tls.LOGGER).removeHandler(handler)
    assert handler.lines == [
        f"W: unable to load certificate file '{tmp_path / 'nope.crt'}', ignoring",
        f"W: unable to load certificates from directory '{tmp_path / 'nodir'}', ignoring",
        f"W: unable to load CRL file '{tmp_path / 'nope.crl'}', ignoring",
    ]


def test_crl_turns_on_leaf_checking_and_profiles_set_versions(pki: certs.Pki) -> None:
    layer = tls.create_layer(config(pki, crl_files=[str(pki.crl)]))
    assert layer.client.verify_flags & ssl.VERIFY_CRL_CHECK_LEAF
    layer = tls.create_layer(config(pki, crl_mode="all"))
    assert layer.client.verify_flags & ssl.VERIFY_CRL_CHECK_CHAIN == ssl.VERIFY_CRL_CHECK_CHAIN
    layer = tls.create_layer(config(pki, profile=tls.PZ))
    assert (layer.client.minimum_version, layer.client.maximum_version) == (
        ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    # movescu: one cipher order for both directions, strongest first (server preference)
    names = [c["name"] for c in layer.server.get_ciphers() if c["protocol"] != "TLSv1.3"]
    assert names == ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", "DHE-RSA-AES256-GCM-SHA384",
                     "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256"]
    client = tls.create_layer(config(pki, role="requestor"))
    assert [c["name"] for c in client.client.get_ciphers() if c["protocol"] != "TLSv1.3"] == [
        "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"]
    assert client.client.security_level == 0
    assert client.client.check_hostname is False
    assert client.server is None


def test_movescu_writes_the_seed_back(pki: certs.Pki, tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.write_bytes(os.urandom(64))
    layer = tls.create_layer(config(pki, seed=str(seed), write_seed=str(tmp_path / "out.seed")))
    layer.write_seed()
    assert (tmp_path / "out.seed").stat().st_size == 1024
    assert (tmp_path / "out.seed").stat().st_mode & 0o777 == 0o600
    layer = tls.create_layer(config(pki, seed=str(seed), write_seed=str(tmp_path / "no" / "dir")))
    with pytest.raises(tls.TLSError) as info:
        layer.write_seed()
    assert info.value.condition.dump() == f"000b:0007 Cannot write random seed '{tmp_path / 'no' / 'dir'}'"


@pytest.mark.parametrize("tool, code", [("movescu", 70), ("getscu", 1)])
def test_layer_failure_exit_codes(pki: certs.Pki, tmp_path: Path, tool: str, code: int) -> None:
    od = ["-od", str(tmp_path)] if tool == "getscu" else []
    rc, _out, err = run(tool, ["+tls", str(pki.client.key), str(pki.server.crt), *od,
                               "-k", "PatientID=x", "127.0.0.1", "1"])
    assert rc == code
    assert err == (f"F: 000b:0006 Private key '{pki.client.key}' and certificate '{pki.server.crt}' "
                   "do not match\n")


# ------------------------------------------------------- certificate facts --


def test_certificate_facts(pki: certs.Pki) -> None:
    facts = tls.certificate_facts(pki.short.der.read_bytes())
    assert (facts.key_type, facts.bits, facts.weak_hash, facts.sha1_hash) == ("RSA", 1024, None, None)
    assert tls.certificate_facts(pki.client.der.read_bytes()).bits == 2048
    with pytest.raises(ValueError):
        tls.certificate_facts(b"\x30\x03\x02\x01\x00")


def test_handshake_conditions_use_openssl_reason_codes() -> None:
    import _ssl

    exc = ssl.SSLError(1, "[SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE] peer did not return a certificate (_ssl.c:1000)")
    exc.reason = "PEER_DID_NOT_RETURN_A_CERTIFICATE"  # type: ignore[attr-defined]
    exc.library = "SSL"  # type: ignore[attr-defined]
    assert _ssl.err_names_to_codes["PEER_DID_NOT_RETURN_A_CERTIFICATE"] == (20, 199)
    assert tls.handshake_condition(exc).dump() == "000b:08c7 TLS error: peer did not return a certificate"
    assert tls.handshake_condition(ConnectionResetError()).dump() == "000b:0017 OpenSSL I/O error (SSL_ERROR_SYSCALL)"


# ------------------------------------------------ handshakes, in process --


def _handshake_pair(client_layer: tls.TLSLayer, server_layer: tls.TLSLayer) -> tuple[object, object]:
    """Both handshakes over a socket pair (the server side in a thread)."""
    import socket
    import threading

    a, b = socket.socketpair()
    result: dict[str, object] = {}

    def serve() -> None:
        try:
            result["server"] = server_layer.wrap_server(b)
        except tls.TLSError as exc:
            result["server"] = exc
            b.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        client: object = tls.client_handshake(a, client_layer)
    except tls.TLSError as exc:
        client = exc
    thread.join(30)
    return client, result.get("server")


def test_sni_requested_and_expected(pki: certs.Pki) -> None:
    server = tls.create_layer(config(pki, private_key=str(pki.server.key), certificate=str(pki.server.crt),
                                     expect_sni="archive", verification="ignore"))
    good = tls.create_layer(config(pki, role="requestor", request_sni="archive"))
    client, accepted = _handshake_pair(good, server)
    assert not isinstance(client, tls.TLSError) and not isinstance(accepted, tls.TLSError)
    assert accepted.selected_alpn_protocol() == "dicom"  # type: ignore[attr-defined]
    bad = tls.create_layer(config(pki, role="requestor", request_sni="other"))
    handler = Collect()
    logging.getLogger(tls.LOGGER).addHandler(handler)
    try:
        client, accepted = _handshake_pair(bad, server)
    finally:
        logging.getLogger(tls.LOGGER).removeHandler(handler)
    assert isinstance(accepted, tls.TLSError) and isinstance(client, tls.TLSError)
    assert handler.lines == ["E: SNI failure: client requested server 'other', my name is 'archive'."]
    assert client.condition.dump() == "000b:0c58 TLS error: tlsv1 unrecognized name"


def test_dh_parameters_for_dhe_suites(pki: certs.Pki, tmp_path: Path) -> None:
    """+py offers DHE: the server side has DCMTK's built-in ffdhe2048 group,
    or +dp's parameters; an unreadable +dp file is a warning."""
    server = tls.create_layer(config(pki, private_key=str(pki.server.key), certificate=str(pki.server.crt),
                                     profile=tls.PY, dhparam=str(pki.dh1024), verification="ignore"))
    client_ctx = tls.create_layer(config(pki, role="requestor", profile=tls.PY))
    client_ctx.client.set_ciphers("DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0")
    client_ctx.client.maximum_version = ssl.TLSVersion.TLSv1_2
    client, accepted = _handshake_pair(client_ctx, server)
    assert not isinstance(client, tls.TLSError), client
    assert client.cipher()[0] == "DHE-RSA-AES128-GCM-SHA256"  # type: ignore[attr-defined]
    handler = Collect()
    logging.getLogger(tls.LOGGER).addHandler(handler)
    try:
        tls.create_layer(config(pki, dhparam=str(tmp_path / "none.pem")))
    finally:
        logging.getLogger(tls.LOGGER).removeHandler(handler)
    assert handler.lines == [f"W: unable to load temporary DH parameter file '{tmp_path / 'none.pem'}', ignoring"]


def test_tls_options_from_the_environment_and_show_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Config layers set TLS options like any other (+cf takes a list); a
    +cf on the command line replaces the configured list (the command line
    beats config layers, docs/config.md)."""
    monkeypatch.setenv("DCMRETRIEVE_ENABLE_TLS", "k c")
    monkeypatch.setenv("DCMRETRIEVE_ADD_CERT_FILE", "[a, b]")
    code, out, _err = run("movescu", ["--show-config", "+cf", "z"])
    assert code == 0
    lines = {line.split(" = ")[0].strip(): line.split(" = ")[1] for line in out.splitlines()[1:]}
    assert lines["tls"] == '["k", "c"]  (env DCMRETRIEVE_ENABLE_TLS)'
    assert lines["tls_cert_files"] == '["z"]  (command line)'
    code, out, _err = run("movescu", ["--show-config"])
    assert '["a", "b"]  (env DCMRETRIEVE_ADD_CERT_FILE)' in out


# ----------------------------------------------- the TLS PDU read path --


def test_tls_pdu_reads_any_record_split(pki: certs.Pki) -> None:
    """``Association._read_pdu`` over TLS (``_read_pdu_tls``): PDUs split
    anywhere across records (inside the 6-byte header too), several PDUs in
    one record, a PDU bigger than one allocation piece; every PDU comes back
    whole as a read-only view that stays valid after later reads; poll(0)
    with nothing there is a timeout, the peer's close is a close."""
    import struct
    import threading

    from dcmretrieve.net import transport

    server = tls.create_layer(config(pki, private_key=str(pki.server.key), certificate=str(pki.server.crt),
                                     verification="ignore"))
    client_layer = tls.create_layer(config(pki, role="requestor"))
    client, accepted = _handshake_pair(client_layer, server)
    assert not isinstance(client, tls.TLSError), client

    def pdu(kind: int, body: bytes) -> bytes:
        return struct.pack(">BBI", kind, 0, len(body)) + body

    small = pdu(4, b"\x01" * 10)
    big = pdu(4, os.urandom(transport._TLS_PIECE * 2 + 12345))
    middle = pdu(5, b"\x00" * 4)
    go_on = threading.Event()

    def send() -> None:
        for part in (small[:3], small[3:], middle + small):  # split header; two PDUs in one record
            accepted.sendall(part)  # type: ignore[attr-defined]
        for start in range(0, len(big), 70000):
            accepted.sendall(big[start:start + 70000])  # type: ignore[attr-defined]
        for number in range(100):  # 1.6 MB in 16 KiB PDUs: arenas used up, replaced, reused
            accepted.sendall(pdu(4, bytes([number]) * 16384))  # type: ignore[attr-defined]
        go_on.wait(30)
        accepted.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=send)
    thread.start()
    assoc = transport.Association(client, "A", "B", 16384, None, None)  # type: ignore[arg-type]
    try:
        got = [assoc._read_pdu(30.0) for _ in range(2)]
        assert assoc.has_buffered_data()  # the third PDU came in the second's record
        got += [assoc._read_pdu(30.0) for _ in range(2)]
        assert [(kind, bytes(body)) for kind, body in got[:3]] == [
            (4, small[6:]), (5, middle[6:]), (4, small[6:])]
        assert got[3][0] == 4 and bytes(got[3][1]) == big[6:]
        assert all(body.readonly for _kind, body in got)
        kept, arenas = {}, set()
        for number in range(100):
            kind, body = assoc._read_pdu(30.0)
            arenas.add(id(assoc._tls_buf))
            assert bytes(body) == bytes([number]) * 16384
            if number < 30 and number % 10 == 0:
                kept[number] = body  # held views: their arena must not be reused
        assert all(bytes(body) == bytes([number]) * 16384 for number, body in kept.items())
        # 1.6 MB went through 256 KiB arenas: the ones without a held view were reused
        assert 3 <= len(arenas) <= 5, len(arenas)
        with pytest.raises(transport._Timeout):
            assoc._read_pdu(0)
        go_on.set()
        with pytest.raises(transport._Closed):
            assoc._read_pdu(30.0)
        assert bytes(got[0][1]) == small[6:]  # earlier views are untouched
    finally:
        go_on.set()
        thread.join(30)
        client.close()  # type: ignore[attr-defined]


# ------------------------------------------------ Python without ssl --


def _without_ssl(tool: str, argv: list[str]) -> subprocess.CompletedProcess:
    """The tool in a fresh interpreter in which ``import ssl`` fails (a
    ``None`` in ``sys.modules`` before the entry point), as on a Python
    built without OpenSSL."""
    import sys

    code = ("import sys; sys.modules['ssl'] = None\n"
            f"from dcmretrieve.{tool} import main\n"
            f"sys.argv = [{tool!r}, *{argv!r}]\n"
            "sys.exit(main())\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_without_ssl_the_tls_group_is_absent_as_in_dcmtk_without_openssl(tool: str) -> None:
    """No ``ssl``: --help is DCMTK 3.6.7's (whose getscu/movescu have no TLS
    group) plus only what any command line shows (3.7.0's IP protocol
    sub-group, the long-only extensions), without the TLS group; every TLS
    option is an unknown option, as in a DCMTK built without OpenSSL;
    --version names no OpenSSL; nothing imported ``ssl``."""
    from dcmretrieve import __version__
    from support import harness

    ours = _without_ssl(tool, ["--help"])
    assert (ours.returncode, ours.stderr) == (0, "")
    assert harness.split_help_tls(ours.stdout)[1] == ""
    assert harness.HELP_TLS_TITLE not in ours.stdout and "--enable-tls" not in ours.stdout
    ours_banner = f"$dcmretrieve: {tool} v{__version__} (DCMTK 3.6.7 2022-04-22) $"
    dcmtk_banner = f"$dcmtk: {tool} v3.6.7 2022-04-22 $"
    help_367 = (Path(__file__).parent.parent / "data" / "help" / f"{tool}-help.txt").read_text()
    assert harness.strip_help_extensions(ours.stdout).replace(ours_banner, dcmtk_banner) == help_367
    # with ssl the same help has the group: the only difference
    code, with_ssl, _err = run(tool, ["--help"])
    assert code == 0 and harness.split_help_tls(with_ssl)[0] == ours.stdout
    for option in (["+tls", "k", "c"], ["+cc"], ["+ph"], ["-tls"], ["--anonymous-tls"], ["+cf", "ca.crt"]):
        ours = _without_ssl(tool, [*option, "-k", "0010,0020=1", "localhost", "104"])
        assert ours.returncode == 1, option
        assert ours.stderr.replace(ours_banner, dcmtk_banner) == (
            f"{dcmtk_banner}\n\n{tool}: DICOM retrieve ({'C-GET' if tool == 'getscu' else 'C-MOVE'}) SCU\n"
            f"error: Unknown option {option[0]}\n"), option
    ours = _without_ssl(tool, ["--version"])
    assert ours.returncode == 0 and "OpenSSL" not in ours.stdout
    assert "- configargparse, Version" in ours.stdout.splitlines()[-1]


@pytest.mark.dcmtk("getscu")
@pytest.mark.dcmtk("movescu")
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_without_ssl_a_tls_option_fails_as_dcmtk_367_fails(tool: str) -> None:
    """The oracle for the unknown option: DCMTK 3.6.7's binary (no TLS)."""
    from dcmretrieve import __version__
    from support import harness

    for option in (["+tls", "k", "c"], ["+cc"]):
        argv = [*option, "-k", "0010,0020=1", "localhost", "104"]
        ours = _without_ssl(tool, argv)
        dcmtk = subprocess.run([harness.dcmtk_path(tool), *argv], capture_output=True, text=True, timeout=60)
        banner = (f"$dcmretrieve: {tool} v{__version__} (DCMTK 3.6.7 2022-04-22) $", f"$dcmtk: {tool} v3.6.7 2022-04-22 $")
        assert (ours.returncode, ours.stdout, ours.stderr.replace(*banner)) == (
            dcmtk.returncode, dcmtk.stdout, dcmtk.stderr)


def test_certificate_dump_reads_what_openssl_prints(pki: certs.Pki) -> None:
    """dumpX509Certificate's fields against the openssl command line's view
    of the same certificates (its -dates use ASN1_TIME_print too); a serial
    over 64 bits is ASN1_INTEGER_get's -1; no certificate: DCMTK's text."""
    for leaf, version in ((pki.server.crt, 1), (pki.ca, 3)):
        shown = subprocess.run([OPENSSL, "x509", "-in", str(leaf), "-noout", "-serial", "-dates"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
        fields = dict(line.split("=", 1) for line in shown)
        serial = int(fields["serial"], 16)
        der = ssl.PEM_cert_to_DER_cert(leaf.read_text())
        name = "/CN=server" if leaf == pki.server.crt else "/CN=dcmretrieve test ca"
        assert tls.certificate_dump(der).splitlines() == [
            f"Peer X.509v{version} Certificate",
            f"  Subject     : {name}",
            "  Issued by   : /CN=dcmretrieve test ca",
            f"  Serial no.  : {serial if serial < 1 << 63 else -1}",
            f"  Validity    : not before {fields['notBefore']}, not after {fields['notAfter']}",
            "  Public key  : RSA, 2048 bits"]
    assert tls.certificate_dump(None) == \
        "Peer did not provide a certificate or certificate verification is disabled."
