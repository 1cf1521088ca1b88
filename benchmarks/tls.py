"""TLS benchmark: our getscu's C-GET of one CT study over TLS vs plain TCP.

Run from the repository root (by hand; it is not part of the test suite):

    .venv/bin/python benchmarks/tls.py            # 100 x 0.5 MB CT, 5 runs each
    .venv/bin/python benchmarks/tls.py --quick    # 20 CT, 3 runs each
    .venv/bin/python benchmarks/tls.py --tiny     # 1000 tiny objects instead (per-object cost)
    .venv/bin/python benchmarks/tls.py --transport  # the receive path alone, against a floor

Two Orthanc instances (tests/support/servers.py) hold the same study: one
with DICOM TLS (``DicomTlsEnabled``, certificates from tests/support/certs.py)
and one plain.  The same getscu command line runs against both, the TLS one
with ``+tls client.key client.crt +cf ca.crt`` (default profile +pg, so
TLS 1.3 with OpenSSL's default suite).  Reported: medians of wall and CPU
time (``os.wait4`` of the tool's process; plain and TLS runs interleaved so
that slow drifts of the machine's load cancel out) and their differences
per object (also the median of the per-round differences), which is what
TLS costs on top of plain TCP: the handshake once, then the cipher on every
byte.  Orthanc's own TLS work is not in the CPU figure.  ``SRC=<dir>`` runs
another source tree's tools (``PYTHONPATH``), e.g. an older commit's
``src``, for before/after figures.

``--transport`` measures the receive path alone, without Orthanc, pydicom
or files: a sender process writes 100 objects of 0.53 MB as P-DATA PDUs of
16 KiB the way a DCMTK peer does (one write for the PDU and PDV headers, one
for the data: two TLS records per PDU), over TLS 1.3 and over plain TCP, and
this process receives them (CPU time of this process only, the sender is
another one).  Receivers, each run interleaved with the others:

* ``floor``: a bare ``SSLSocket.recv_into()`` loop into one reused buffer --
  what Python's ``ssl`` costs for these bytes and records, nothing else;
* ``assoc``: ``net.transport.Association._read_pdu``, the tools' real
  receive path (with ``SRC=<dir>`` another source tree's, e.g. an older
  commit's, for before/after figures);
* ``plain``: the bare loop over plain TCP (the cipher-free baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieve import Sample, timed  # noqa: E402
from support import certs, sampledata  # noqa: E402
from support.servers import HOST, OrthancServer  # noqa: E402


#: --transport: the objects and PDUs sent
OBJECTS, OBJECT_BYTES, PDU_BYTES = 100, 530792, 16384


def _sender(port: int, tls: bool) -> None:
    """--transport's peer (its own process): P-DATA PDUs as DCMTK writes them."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    data = os.urandom(PDU_BYTES)
    for _ in range(OBJECTS):
        left = OBJECT_BYTES
        while left > 0:
            size = min(left, PDU_BYTES - 12)
            sock.sendall(struct.pack(">BBIIBB", 4, 0, size + 6, size + 2, 1, 0 if left > size else 2))
            sock.sendall(data[:size])
            left -= size
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    raw.shutdown(socket.SHUT_WR)  # then wait for the receiver to close: no reset, no lost bytes
    while raw.recv(65536):
        pass
    raw.close()
    sock.close()


def _receive_once(receiver: str, pki: "certs.Pki") -> float:
    """One --transport run; returns the CPU seconds of receiving."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    tls = receiver != "plain"
    sender = subprocess.Popen([sys.executable, __file__, "--sender", str(listener.getsockname()[1]),
                               "1" if tls else "0"])
    sock, _ = listener.accept()
    listener.close()
    if tls:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pki.server.crt), str(pki.server.key))
        sock = context.wrap_socket(sock, server_side=True)
    total = 0
    start = time.process_time()
    if receiver == "assoc":
        from dcmretrieve.net import transport

        assoc = transport.Association(sock, "A", "B", PDU_BYTES, None, None)
        try:
            while True:
                _type, body = assoc._read_pdu(60.0, kernel=True)
                total += len(body)
        except transport._Closed:
            pass
    else:
        view = memoryview(bytearray(1 << 18))
        while True:
            count = sock.recv_into(view)
            if not count:
                break
            total += count
    cpu = time.process_time() - start
    sock.close()
    sender.wait(60)
    pdus = -(-OBJECT_BYTES // (PDU_BYTES - 12))  # per object
    headers = 6 if receiver == "assoc" else 12  # PDU bodies / every byte sent
    if total != OBJECTS * (OBJECT_BYTES + headers * pdus):
        raise SystemExit(f"{receiver}: received {total} bytes")
    return cpu


def transport_benchmark(runs: int) -> dict:
    sys.path.insert(0, os.environ.get("SRC") or str(ROOT / "src"))
    work = Path(tempfile.mkdtemp(prefix="dcmretrieve-tls-bench-"))
    try:
        pki = certs.make_pki(work / "pki")
        cpu: dict[str, list[float]] = {"plain": [], "floor": [], "assoc": []}
        for name in cpu:
            _receive_once(name, pki)  # warm-up
        for _ in range(runs):
            for name in cpu:
                cpu[name].append(_receive_once(name, pki))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report: dict = {"objects": OBJECTS, "object_bytes": OBJECT_BYTES, "runs": runs, "src": sys.path[0]}
    for name, values in cpu.items():
        report[f"{name}_cpu_ms"] = round(1000 * statistics.median(values), 1)
    for name in ("floor", "assoc"):
        report[f"{name}_tls_extra_ms_per_object"] = round(
            1000 * (statistics.median(cpu[name]) - statistics.median(cpu["plain"])) / OBJECTS, 3)
    return report


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--sender"]:
        _sender(int(argv[1]), argv[2] == "1")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", action="store_true",
                        help="the receive path alone (DCMTK's record pattern) against bare ssl")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--tiny", action="store_true", help="tiny objects: the per-object cost")
    args = parser.parse_args(argv)
    if args.transport:
        print(json.dumps(transport_benchmark(args.runs or (3 if args.quick else 9)), indent=2))
        return 0
    count = args.count or ((200 if args.quick else 1000) if args.tiny else (20 if args.quick else 100))
    runs = args.runs or (3 if args.quick else 5)
    work = Path(tempfile.mkdtemp(prefix="dcmretrieve-tls-bench-"))
    servers: list[OrthancServer] = []
    try:
        pki = certs.make_pki(work / "pki")
        make = sampledata.make_tiny_objects if args.tiny else sampledata.make_ct_study
        study_uid, files = make(work / "study", count)
        plain = OrthancServer(work / "plain", aetitle="ORTHANC")
        secure = OrthancServer(work / "tls", aetitle="ORTHANC",
                               extra_config=OrthancServer.tls_config(pki.server.crt, pki.server.key, pki.ca))
        for server in (plain, secure):
            servers.append(server)
            server.start()
            server.upload(files, timeout=120)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        getscu = str(Path(sys.executable).parent / "getscu")
        keys = ["-S", "-aec", "ORTHANC", "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
        tls_args = ["+tls", str(pki.client.key), str(pki.client.crt), "+cf", str(pki.ca)]
        if os.environ.get("SRC"):  # another source tree's tools (before/after figures)
            env["PYTHONPATH"] = os.environ["SRC"]
        results: dict[str, list[Sample]] = {"plain": [], "tls": []}
        cases = {"plain": (plain, []), "tls": (secure, tls_args)}
        for i in range(runs + 1):  # the first round only warms up (byte code, Orthanc's cache)
            # interleaved (plain, tls, tls, plain, ...): slow drifts of the machine's load cancel out
            for name in (("plain", "tls") if i % 2 else ("tls", "plain")):
                server, extra = cases[name]
                out = work / f"out-{name}-{i}"
                out.mkdir()
                sample, proc = timed([getscu, *extra, *keys, "-od", str(out), HOST, str(server.port)], env, work)
                got = len(list(out.iterdir()))
                if proc.returncode != 0 or got != count:
                    raise SystemExit(f"{name}: exit {proc.returncode}, {got}/{count} files\n{proc.stderr}")
                if i:
                    results[name].append(sample)
                shutil.rmtree(out)
        report = {"objects": count, "object_bytes": files[0].stat().st_size, "runs": runs,
                  "src": os.environ.get("SRC") or str(ROOT / "src")}
        for name, samples in results.items():
            report[name] = {"wall_s": statistics.median(s.wall for s in samples),
                            "cpu_s": statistics.median(s.cpu for s in samples)}
        for key in ("wall_s", "cpu_s"):
            delta = report["tls"][key] - report["plain"][key]  # type: ignore[index]
            report[f"tls_extra_{key[:-2]}_ms_per_object"] = round(1000 * delta / count, 3)
        paired = [t.cpu - p.cpu for p, t in zip(results["plain"], results["tls"])]
        report["tls_extra_cpu_ms_per_object_paired_median"] = round(1000 * statistics.median(paired) / count, 3)
        print(json.dumps(report, indent=2))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
