"""End-to-end demo: retrieve from a real DCMTK archive with our getscu and movescu.

Run from the repository root after installing (see README.md):

    .venv/bin/python examples/demo.py [--workdir DIR] [--dcmtk]

What it does, all on 127.0.0.1 with free ports:

1. builds the query files in ``examples/queries/*.dump`` with DCMTK's dump2dcm;
2. starts DCMTK's ``dcmqrscp`` (AE ``COMMON``) with its own configuration and
   storage area, and loads pydicom's sample files CT_small, MR_small, rtplan
   with ``storescu``;
3. C-GET with our ``getscu`` and the command file ``examples/getscu-patient.args``
   (patient 1CT1), then with the query file ``pat_all.dcm`` (everything), and
   shows the files that arrived plus the start of a ``dcmdump`` of one;
4. C-MOVE to itself with our ``movescu --port …``; the batch of two
   study-level query files comes from the command file
   ``examples/movescu-batch.args`` (command files expand in place, so a file
   list must follow the peer and port);
5. stops the archive by its PID (also on errors or Ctrl-C).

Why it reuses ``tests/support/servers.py``: the same, tested code starts and stops
the archive for the test suite; the demo must not drift from it.  The files
stay in the work directory for inspection.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import sampledata  # noqa: E402
from support.servers import HOST, DcmQRSCP, ServerError, free_port  # noqa: E402

DUMP2DCM = "/usr/bin/dump2dcm"
DCMDUMP = "/usr/bin/dcmdump"
STEP_TIMEOUT = 120.0


def tool(name: str, dcmtk: bool = False) -> str:
    """Our console script next to this interpreter (never DCMTK's on PATH),
    or with ``dcmtk`` DCMTK's own binary, to compare the two."""
    path = Path("/usr/bin" if dcmtk else Path(sys.executable).parent) / name
    if not path.exists():
        raise SystemExit(f"demo: {path} not found - install the project first (README.md)")
    return str(path)


def show_run(argv: list[str], cwd: Path) -> int:
    print(f"\n$ {' '.join(shlex.quote(a) for a in argv)}", flush=True)
    try:
        result = subprocess.run(argv, cwd=cwd, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"demo: timed out after {STEP_TIMEOUT:.0f} s", flush=True)
        return 124
    print(f"[exit {result.returncode}]", flush=True)
    return result.returncode


def list_dir(path: Path) -> list[Path]:
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    print(f"files in {path}:")
    for f in files:
        print(f"  {f.name}  ({f.stat().st_size} bytes)")
    if not files:
        print("  (none)")
    return files


def build_queries(workdir: Path) -> None:
    out = workdir / "queries"
    out.mkdir(parents=True, exist_ok=True)
    for dump in sorted((HERE / "queries").glob("*.dump")):
        target = out / f"{dump.stem}.dcm"
        if Path(DUMP2DCM).exists():
            subprocess.run([DUMP2DCM, str(dump), str(target)], check=True, timeout=30)
        else:  # same result, built with pydicom
            sampledata.write_query_file(sampledata.parse_dump(dump.read_text()), target)
    print(f"query files: {', '.join(sorted(p.name for p in out.iterdir()))}")


def run_demo(workdir: Path, dcmtk: bool = False) -> int:
    getscu, movescu = tool("getscu", dcmtk), tool("movescu", dcmtk)
    build_queries(workdir)
    for sub in ("get", "get-all", "move"):
        (workdir / "received" / sub).mkdir(parents=True, exist_ok=True)
    move_port = free_port()
    archive = DcmQRSCP(workdir / "archive", host_table={"MOVESCU": move_port})
    failures = 0
    try:
        archive.start()
        archive.load(sampledata.sample_paths())
        print(f"dcmqrscp (PID {archive.pid}) listening on {HOST}:{archive.port} as "
              f"{archive.aetitle}; its HostTable maps MOVESCU to {HOST}:{move_port}")
        print("archive holds: " + ", ".join(f"{s.name} (PatientID {s.patient_id})"
                                            for s in sampledata.SAMPLES))

        print("\n== 1. C-GET of patient 1CT1 with a command file")
        failures += show_run([getscu, "-v", f"@{HERE / 'getscu-patient.args'}",
                              HOST, str(archive.port)], workdir) != 0
        got = list_dir(workdir / "received" / "get")
        if got and Path(DCMDUMP).exists():
            print(f"\n$ dcmdump {got[0].name} | head -n 25")
            dump = subprocess.run([DCMDUMP, str(got[0])], capture_output=True, text=True,
                                  timeout=30)
            print("\n".join(dump.stdout.splitlines()[:25]))

        print("\n== 2. C-GET of everything with a query file")
        failures += show_run([getscu, "-aec", "COMMON", "-od", "received/get-all",
                              HOST, str(archive.port), "queries/pat_all.dcm"], workdir) != 0
        failures += len(list_dir(workdir / "received" / "get-all")) != len(sampledata.SAMPLES)

        print("\n== 3. C-MOVE to ourselves: a batch of two study query files (command file)")
        failures += show_run([movescu, "-v", "-S", "-aet", "MOVESCU", "-aec", "COMMON",
                              "--port", str(move_port), "-od", "received/move",
                              HOST, str(archive.port), f"@{HERE / 'movescu-batch.args'}"],
                             workdir) != 0
        failures += len(list_dir(workdir / "received" / "move")) != 2
    except ServerError as exc:
        print(f"demo: archive failed: {exc}", file=sys.stderr)
        return 2
    finally:
        archive.stop()
        print(f"\ndcmqrscp stopped; everything is in {workdir}")
    print("demo: OK" if not failures else f"demo: {failures} step(s) failed")
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to put files (default: a new temp dir)")
    parser.add_argument("--dcmtk", action="store_true",
                        help="run the same steps with DCMTK's /usr/bin/getscu and movescu")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dcmretrieve-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return run_demo(workdir.resolve(), args.dcmtk)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
