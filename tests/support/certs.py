"""Test certificates made with the ``openssl`` command-line tool.

``make_pki(directory)`` writes a small PKI and returns a ``Pki`` of paths:

* ``ca.crt``/``ca.key``: the test CA (RSA 2048, SHA-256);
* ``server``, ``client``: RSA 2048 leaf certificates signed by the CA
  (``.crt``, ``.key`` unencrypted PEM; ``.der``/``.key.der`` DER copies);
* ``short``: a leaf with a 1024-bit RSA key (DCMTK's key-length rules);
* ``expired``: a leaf whose validity ended in the past;
* ``revoked``: a leaf revoked by ``ca.crl`` (``openssl ca -gencrl``);
* ``encrypted.key``: the client key encrypted with ``PASSWORD``;
* ``other_ca.crt``: an unrelated CA (the "wrong CA" case);
* ``dh1024.pem``: 1024-bit DH parameters (+dp).

Nothing is mocked: the files are what a hospital's PKI would hand out.
Generation takes a few seconds; tests share one PKI per session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
PASSWORD = "s3cret"


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=120)


@dataclass
class Leaf:
    crt: Path
    key: Path
    der: Path
    key_der: Path


@dataclass
class Pki:
    directory: Path
    ca: Path
    ca_key: Path
    other_ca: Path
    crl: Path
    server: Leaf
    client: Leaf
    short: Leaf
    expired: Leaf
    revoked: Leaf
    encrypted_key: Path
    dh1024: Path


_CA_CONFIG = """
[ ca ]
default_ca = testca
[ testca ]
dir = .
database = index.txt
new_certs_dir = .
certificate = ca.crt
private_key = ca.key
serial = serial
crlnumber = crlnumber
default_md = sha256
default_crl_days = 30
policy = anything
[ anything ]
commonName = supplied
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""


def _leaf(directory: Path, name: str, bits: int = 2048, days: str = "365", past: bool = False) -> Leaf:
    _run("genrsa", "-out", f"{name}.key", str(bits), cwd=directory)
    _run("req", "-new", "-key", f"{name}.key", "-subj", f"/CN={name}", "-out", f"{name}.csr", cwd=directory)
    if past:  # valid from 2000 to 2001 (openssl ca -startdate/-enddate)
        _run("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr", "-out", f"{name}.crt", "-notext",
             "-startdate", "20000101000000Z", "-enddate", "20010101000000Z", cwd=directory)
    else:
        _run("ca", "-batch", "-config", "ca.cnf", "-in", f"{name}.csr", "-out", f"{name}.crt", "-notext",
             "-days", days, cwd=directory)
    _run("x509", "-in", f"{name}.crt", "-outform", "DER", "-out", f"{name}.der", cwd=directory)
    _run("pkey", "-in", f"{name}.key", "-outform", "DER", "-out", f"{name}.key.der", cwd=directory)
    return Leaf(directory / f"{name}.crt", directory / f"{name}.key", directory / f"{name}.der",
                directory / f"{name}.key.der")


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.cnf").write_text(_CA_CONFIG)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    (directory / "crlnumber").write_text("1000\n")
    for ca in ("ca", "other_ca"):
        _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
             "-days", "3650", "-subj", f"/CN=dcmretrieve test {ca}", "-config", "ca.cnf",
             "-extensions", "v3_ca", cwd=directory)
    server = _leaf(directory, "server")
    client = _leaf(directory, "client")
    short = _leaf(directory, "short", bits=1024)
    expired = _leaf(directory, "expired", past=True)
    revoked = _leaf(directory, "revoked")
    _run("ca", "-batch", "-config", "ca.cnf", "-revoke", "revoked.crt", cwd=directory)
    _run("ca", "-batch", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl", cwd=directory)
    _run("pkey", "-in", "client.key", "-aes256", "-passout", f"pass:{PASSWORD}", "-out", "encrypted.key",
         cwd=directory)
    _run("dhparam", "-out", "dh1024.pem", "1024", cwd=directory)
    for path in directory.iterdir():
        if path.suffix in (".key",) or path.name.endswith(".key.der"):
            os.chmod(path, 0o600)
    return Pki(directory, directory / "ca.crt", directory / "ca.key", directory / "other_ca.crt",
               directory / "ca.crl", server, client, short, expired, revoked, directory / "encrypted.key",
               directory / "dh1024.pem")


def odd_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key): a self-signed EC P-256 certificate whose name
    makes X509_NAME_oneline work -- UTF-8, a '/', a two-attribute RDN -- and
    whose 72-bit serial does not fit ASN1_INTEGER_get (DCMTK prints -1)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "odd.cnf").write_text("[req]\ndistinguished_name = dn\n[dn]\n")
    _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "odd.key", cwd=directory)
    _run("req", "-new", "-x509", "-config", "odd.cnf", "-key", "odd.key", "-utf8", "-multivalue-rdn",
         "-subj", "/C=DE/O=Acme\\/Sub, Inc./CN=M\u00fcller+UID=u1", "-set_serial", "0x0123456789ABCDEF01",
         "-days", "30", "-out", "odd.crt", cwd=directory)
    os.chmod(directory / "odd.key", 0o600)
    return directory / "odd.crt", directory / "odd.key"


def hashed_directory(directory: Path, *certificates: Path) -> Path:
    """An OpenSSL hashed certificate directory as ``openssl rehash`` /
    ``c_rehash`` make it: ``<subject hash>.<n>`` symbolic links to the
    certificates (what ``+cd`` and X509_LOOKUP_hash_dir look up)."""
    directory.mkdir(parents=True, exist_ok=True)
    for certificate in certificates:
        done = subprocess.run([OPENSSL, "x509", "-in", str(certificate), "-noout", "-subject_hash"],
                              check=True, capture_output=True, text=True, timeout=60)
        digest = done.stdout.strip()
        index = 0
        while (directory / f"{digest}.{index}").exists():
            index += 1
        (directory / f"{digest}.{index}").symlink_to(certificate.resolve())
    return directory
