"""TLS benchmark: our getscu's C-GET of one CT study over TLS vs plain TCP.

Run from the repository root (by hand; it is not part of the test suite):

    .venv/bin/python benchmarks/tls.py            # 100 x 0.5 MB CT, 5 runs each
    .venv/bin/python benchmarks/tls.py --quick    # 20 CT, 3 runs each
    .venv/bin/python benchmarks/tls.py --tiny     # 1000 tiny objects instead (per-object cost)

Two Orthanc instances (tests/support/servers.py) hold the same study: one
with DICOM TLS (``DicomTlsEnabled``, certificates from tests/support/certs.py)
and one plain.  The same getscu command line runs against both, the TLS one
with ``+tls client.key client.crt +cf ca.crt`` (default profile +pg, so
TLS 1.3 with OpenSSL's default suite).  Reported: medians of wall and CPU
time (``os.wait4`` of the tool's process) and their differences per object,
which is what TLS costs on top of plain TCP: the handshake once, then the
cipher on every byte.  Orthanc's own TLS work is not in the CPU figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieve import Sample, timed  # noqa: E402
from support import certs, sampledata  # noqa: E402
from support.servers import HOST, OrthancServer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--count", type=int)
    parser.add_argument("--runs", type=int)
    parser.add_argument("--tiny", action="store_true", help="tiny objects: the per-object cost")
    args = parser.parse_args(argv)
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
        results: dict[str, list[Sample]] = {}
        for name, server, extra in (("plain", plain, []), ("tls", secure, tls_args)):
            samples = []
            for i in range(runs + 1):  # the first run only warms up (byte code, Orthanc's cache)
                out = work / f"out-{name}-{i}"
                out.mkdir()
                sample, proc = timed([getscu, *extra, *keys, "-od", str(out), HOST, str(server.port)], env, work)
                got = len(list(out.iterdir()))
                if proc.returncode != 0 or got != count:
                    raise SystemExit(f"{name}: exit {proc.returncode}, {got}/{count} files\n{proc.stderr}")
                if i:
                    samples.append(sample)
                shutil.rmtree(out)
            results[name] = samples
        report = {"objects": count, "object_bytes": files[0].stat().st_size, "runs": runs}
        for name, samples in results.items():
            report[name] = {"wall_s": statistics.median(s.wall for s in samples),
                            "cpu_s": statistics.median(s.cpu for s in samples)}
        for key in ("wall_s", "cpu_s"):
            delta = report["tls"][key] - report["plain"][key]  # type: ignore[index]
            report[f"tls_extra_{key[:-2]}_ms_per_object"] = round(1000 * delta / count, 3)
        print(json.dumps(report, indent=2))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
