"""Memory benchmark: peak RSS while receiving one big object, every storage mode.

Run from the repository root (by hand; it is not part of the test suite):

    .venv/bin/python benchmarks/memory.py                       # 1.5 GiB, ours and DCMTK
    .venv/bin/python benchmarks/memory.py --size 200000000 --no-dcmtk
    .venv/bin/python benchmarks/memory.py --update-doc docs/performance.md

The object comes from our fault-injecting Q/R SCP (``tests/support/fakeqr.py``,
PatientID ``BIG``): a Multi-frame Grayscale Word SC whose pixel data is a
hole in a sparse file, streamed PDU by PDU with back-pressure, so the sender
never holds it.  getscu retrieves it by C-GET, movescu by C-MOVE to its own
``--port``.  Each run starts with an empty output directory, which is
deleted after the run (nothing of the object's size is kept); the sparse
source file lives in a temporary directory removed at the end.  Peak RSS is
the tool's maximum resident set size from ``/usr/bin/time -f %M``, wall
time from the monotonic clock (including ``time``'s own start).  DCMTK's tools keep the whole data set in memory in normal
mode, so their normal-mode rows show the object's size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.servers import FakeQR, free_port  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from retrieve import machine, revision, update_section  # noqa: E402  (one description of the machine and code measured)

GIB = 1 << 30
RUN_TIMEOUT = 1800.0
TIME = "/usr/bin/time"
PAT = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=BIG"]


@dataclass
class Scenario:
    name: str  # e.g. "getscu normal"
    tool: str  # getscu | movescu
    options: list[str]


SCENARIOS = [
    Scenario("getscu normal", "getscu", []),
    Scenario("getscu +B", "getscu", ["+B"]),
    Scenario("movescu normal", "movescu", []),
    Scenario("movescu +B", "movescu", ["+B"]),
    Scenario("movescu --ignore", "movescu", ["--ignore"]),
    Scenario("movescu normal +tb", "movescu", ["+tb"]),
    Scenario("movescu normal +td", "movescu", ["+td"]),
]


@dataclass
class Row:
    scenario: str
    side: str
    rc: int
    wall: float
    rss_kib: int
    written: int


def ours(tool: str) -> list[str]:
    script = ROOT / ".venv" / "bin" / tool
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", f"dcmretrieve.{tool}"]


def run_measured(argv: list[str], cwd: Path) -> tuple[int, float, int]:
    """(exit status, wall seconds, peak RSS KiB) of one run of ``argv``.

    Peak RSS by ``/usr/bin/time``, which forks the tool from its own small
    process: ``wait4`` on a child of this (bigger) Python process would
    report at least this process's peak, which Linux carries over through
    fork and exec into the child's ``ru_maxrss``."""
    rss_file = cwd.parent / "rss.txt"
    start = time.monotonic()
    # its own session: on a timeout the tool goes too, not only time
    proc = subprocess.Popen([TIME, "-f", "%M", "-o", str(rss_file), *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    wall = time.monotonic() - start
    rss = int(rss_file.read_text().split()[-1])
    rss_file.unlink()
    return proc.returncode, wall, rss


def run_one(scenario: Scenario, side: str, server: FakeQR, move_port: int, work: Path) -> Row:
    cwd = work / "run"
    od = cwd / "od"
    od.mkdir(parents=True)
    try:
        argv = ours(scenario.tool) if side == "ours" else [f"/usr/bin/{scenario.tool}"]
        argv = [*argv, *scenario.options, "-od", "od"]
        if scenario.tool == "movescu":
            argv += ["--port", str(move_port)]
        argv += [server.host, str(server.port), *PAT]
        rc, wall, rss = run_measured(argv, cwd)
        # everything the run left (DCMTK's movescu +B writes into the current directory)
        written = sum(p.stat().st_size for p in cwd.rglob("*") if p.is_file())
        return Row(scenario.name, side, rc, wall, rss, written)
    finally:
        shutil.rmtree(cwd, ignore_errors=True)


def table(rows: list[Row], size: int) -> str:
    lines = ["| scenario | tool | peak RSS (MB) | wall (s) | written (MB) | exit |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.scenario} | {r.side} | {r.rss_kib / 1024:.1f} | {r.wall:.1f} | "
                     f"{r.written / 1e6:.2f} | {r.rc} |")
    return "\n".join(lines)


def header(size: int, started: dt.datetime, load: tuple[float, float]) -> str:
    return (f"Measured {started:%Y-%m-%d %H:%M} UTC with `benchmarks/memory.py` ({revision()}) on "
            f"{machine()} (1-min load average "
            f"{load[0]:.1f} at start, {load[1]:.1f} at end).  One object of {size / GIB:.2f} GiB "
            f"({size} bytes of pixel data) streamed by `tests/support/fakeqr.py`; getscu by C-GET, "
            f"movescu by C-MOVE to its own `--port`; one run each; peak RSS of the tool from `/usr/bin/time`.")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=int(1.5 * GIB), help="pixel data bytes (default 1.5 GiB)")
    ap.add_argument("--no-dcmtk", action="store_true", help="measure only our tools")
    ap.add_argument("--only", action="append", default=[], help="scenario names to run (repeatable)")
    ap.add_argument("--update-doc", type=Path, help="write the table into this file's '## Memory' section")
    ap.add_argument("--notes", type=Path, help="text appended below the table (with --update-doc)")
    args = ap.parse_args()

    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg()[0]
    scenarios = [s for s in SCENARIOS if not args.only or s.name in args.only]
    sides = ["ours"] if args.no_dcmtk else ["ours", "dcmtk"]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="dcmretrieve-memory-") as tmp:
        work = Path(tmp)
        move_port = free_port()
        with FakeQR(work / "fakeqr", destinations={"MOVESCU": move_port}, big_size=args.size) as server:
            for scenario in scenarios:
                for side in sides:
                    row = run_one(scenario, side, server, move_port, work)
                    rows.append(row)
                    print(f"{row.scenario:22} {row.side:6} rc={row.rc} peak RSS {row.rss_kib / 1024:8.1f} MB "
                          f"wall {row.wall:6.1f} s written {row.written / 1e6:8.1f} MB", flush=True)
    text = header(args.size, started, (load_start, os.getloadavg()[0])) + "\n\n" + table(rows, args.size)
    print()
    print(text)
    if args.update_doc:
        notes = args.notes.read_text().strip() if args.notes else ""
        update_section(args.update_doc, "Memory", text + ("\n\n" + notes if notes else ""))
    return 0 if all(r.rc == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
