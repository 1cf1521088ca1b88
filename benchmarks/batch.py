"""Batch benchmark: --parallel 1/2/4/8 against DCMTK 3.6.7's sequential run.

Run from the repository root (by hand; it is not part of the test suite):

    .venv/bin/python benchmarks/batch.py                 # 8 studies x 50 tiny objects, 3 runs
    .venv/bin/python benchmarks/batch.py --quick         # 8 x 10, 1 run
    .venv/bin/python benchmarks/batch.py --update-doc docs/performance.md
    .venv/bin/python benchmarks/batch.py --profile 4    # CPU per object, cProfile of ours

Two archives hold the same 8 studies (one patient each, 50 tiny objects per
study); the batch is 8 query files, one per patient (PATIENT level):

* ``latency``: tests/support/fakeqr.py with ``--store-delay 0.02``, a PACS
  that takes 20 ms before each C-STORE sub-operation (fetching the object
  from its archive), and ``--nodelay`` (else Nagle's algorithm on its
  sockets adds about 30 ms of latency of its own per object), and ``--fork``:
  each association is served by a child process of its own, as dcmqrscp's
  fork mode and a real PACS serve associations concurrently (``--no-fork``:
  one Python process, threads under one interpreter lock, which made the SCP
  itself the bottleneck of the parallel runs), and ``--pre-encode``: each
  object is kept in Explicit and Implicit VR Little Endian.  Per object the
  SCP waits 20 ms, then streams the data set in the accepted transfer syntax
  (Implicit VR for getscu's contexts) from its file as it is, and waits for
  the C-STORE response; without ``--pre-encode`` it would parse and
  re-encode every data set.  The time goes into waiting, so associations in
  parallel overlap the waits.
* ``dcmqrscp``: DCMTK's dcmqrscp (fork mode, ``TCP_NODELAY=1``), CPU-bound on this machine:
  client and server share the same cores, so parallel associations can
  only win what the cores leave idle.

Clients: DCMTK's movescu with the 8 query files (one association, one
C-MOVE after the other; C-MOVE to its own ``--port``); DCMTK's getscu once
per query file, one after the other (3.6.7's getscu crashes on a second
query file, deviation #1), and ours with ``--parallel 1, 2, 4, 8``.
DCMTK runs with ``TCP_NODELAY=1`` (as in benchmarks/retrieve.py).  Each run
starts with an empty output directory and its file count is checked;
medians of the wall times, ratio = DCMTK's time / ours (higher is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pydicom import Dataset  # noqa: E402

from support import sampledata  # noqa: E402
from support.servers import HOST, DcmQRSCP, FakeQR, free_port  # noqa: E402

from retrieve import machine, revision, update_section  # noqa: E402  (benchmarks/retrieve.py)

STUDIES = 8
PARALLEL = (1, 2, 4, 8)
RUN_TIMEOUT = 600.0


def make_data(root: Path, per_study: int) -> tuple[list[Path], list[Path], list[str]]:
    """(study directories, all object files, query files), one patient per study."""
    dirs, files, queries = [], [], []
    for i in range(1, STUDIES + 1):
        pid = f"BENCHBATCH{i}"
        directory = root / "data" / pid
        _uid, paths = sampledata.make_tiny_objects(directory, per_study, patient_id=pid, seed="batch-bench")
        dirs.append(directory)
        files += paths
        ds = Dataset()
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientID = pid
        queries.append(str(sampledata.write_query_file(ds, root / "q" / f"{pid}.dcm")))
    return dirs, files, queries


def environment(dcmtk: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TCP_NODELAY", None)
    if dcmtk:
        env["TCP_NODELAY"] = "1"
    return env


def commands(client: str, tool: str, port: int, move_port: int, aec: str, out: Path,
             queries: list[str]) -> list[list[str]]:
    """The command lines one timed run executes one after the other."""
    venv_bin = Path(sys.executable).parent
    listen = ["-aet", "MOVESCU", "--port", str(move_port)] if tool == "movescu" else []
    if client == "dcmtk":
        exe = f"/usr/bin/{tool}"
        if tool == "getscu":
            return [[exe, "-aec", aec, "-od", str(out), HOST, str(port), q] for q in queries]
        return [[exe, "-aec", aec, *listen, "-od", str(out), HOST, str(port), *queries]]
    count = int(client.split("-")[1])
    return [[str(venv_bin / tool), "--parallel", str(count), "-aec", aec, *listen, "-od", str(out), HOST,
             str(port), *queries]]


def run_once(client: str, tool: str, port: int, move_port: int, aec: str, work: Path, queries: list[str],
             expected: int) -> float:
    out = work / f"out-{tool}-{client}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = environment(client == "dcmtk")
    start = time.perf_counter()
    for argv in commands(client, tool, port, move_port, aec, out, queries):
        proc = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True, errors="replace",
                              timeout=RUN_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"{client} {tool}: exit {proc.returncode}: {proc.stderr[-500:]}")
    wall = time.perf_counter() - start
    got = sum(1 for p in out.iterdir() if p.is_file())
    shutil.rmtree(out, ignore_errors=True)
    if got != expected:
        raise RuntimeError(f"{client} {tool}: {got}/{expected} files")
    return wall


def measure(archive: str, port: int, move_port: int, aec: str, work: Path, queries: list[str], expected: int,
            runs: int) -> dict[tuple[str, str], list[float]]:
    clients = ["dcmtk", *(f"ours-{n}" for n in PARALLEL)]
    results: dict[tuple[str, str], list[float]] = {}
    for tool in ("getscu", "movescu"):
        for client in clients:  # one untimed warm-up each (byte-code cache, archive's page cache)
            run_once(client, tool, port, move_port, aec, work, queries, expected)
        for i in range(runs):
            for client in clients:  # interleaved: load changes hit every client alike
                wall = run_once(client, tool, port, move_port, aec, work, queries, expected)
                results.setdefault((tool, client), []).append(wall)
                print(f"  {archive:<9} {tool:<8} {client:<8} run {i + 1}: {wall:6.2f} s", flush=True)
    return results


PROFILE_RUNNER = """
import cProfile, pstats, sys, threading
profiles = []
run = threading.Thread.run
def profiled_run(self):
    prof = cProfile.Profile()
    profiles.append(prof)
    prof.runcall(run, self)
threading.Thread.run = profiled_run
from dcmretrieve.getscu import main
prof = cProfile.Profile()
profiles.append(prof)
try:
    code = prof.runcall(main, sys.argv[2:])
except SystemExit as exc:
    code = exc.code
stats = pstats.Stats(profiles[0])
for other in profiles[1:]:
    stats.add(other)
stats.dump_stats(sys.argv[1])
sys.exit(code)
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process and its reaped children (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks  # utime stime cutime cstime


def profile(server: FakeQR, work: Path, queries: list[str], expected: int, parallel: int, top: int) -> str:
    """Our getscu --parallel n against the latency SCP: CPU per object (unprofiled
    runs: ours and DCMTK's, the SCP's), then a cProfile of every thread."""
    out = work / "out-profile"
    lines = []
    scp_pid = int(server.ready_file.read_text())
    for client in ("dcmtk", f"ours-{parallel}"):
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        before = os.times()
        scp_before = cpu_seconds(scp_pid)
        start = time.perf_counter()
        for argv in commands(client, "getscu", server.port, 0, "ANY-SCP", out, queries):
            subprocess.run(argv, env=environment(client == "dcmtk"), cwd=work, check=True,
                           capture_output=True, timeout=RUN_TIMEOUT)
        wall = time.perf_counter() - start
        after = os.times()
        time.sleep(2.5)  # fakeqr --fork reaps its ended children once a second (their CPU counts then)
        scp = cpu_seconds(scp_pid) - scp_before
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
        got = sum(1 for p in out.iterdir() if p.is_file())
        if got != expected:
            raise RuntimeError(f"profile {client}: {got}/{expected} files")
        name = "DCMTK getscu (sequential)" if client == "dcmtk" else f"ours --parallel {parallel}"
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {cpu / expected * 1000:.2f} | "
                     f"{scp:.2f} | {scp / expected * 1000:.2f} |")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    prof_path = work / "getscu.prof"
    subprocess.run([sys.executable, "-c", PROFILE_RUNNER, str(prof_path), "--parallel", str(parallel),
                    "-aec", "ANY-SCP", "-od", str(out), HOST, str(server.port), *queries],
                   env=environment(False), cwd=work, check=True, capture_output=True, timeout=RUN_TIMEOUT)
    text = io.StringIO()
    stats = pstats.Stats(str(prof_path), stream=text)
    stats.sort_stats("tottime").print_stats(top)
    header = ["| client | wall (s) | client CPU (s) | client CPU per object (ms) | SCP CPU (s) | "
              "SCP CPU per object (ms) |", "|---|---:|---:|---:|---:|---:|"]
    return "\n".join(header + lines) + "\n\ncProfile of every thread of ours (tottime, all threads summed):\n\n" + \
        text.getvalue()


def table(all_results: dict[str, dict[tuple[str, str], list[float]]]) -> str:
    lines = ["| archive | tool | client | median wall (s) | speed-up vs DCMTK |", "|---|---|---|---:|---:|"]
    for archive, results in all_results.items():
        for tool in ("getscu", "movescu"):
            base = statistics.median(results[(tool, "dcmtk")])
            for client in ["dcmtk", *(f"ours-{n}" for n in PARALLEL)]:
                median = statistics.median(results[(tool, client)])
                name = "DCMTK 3.6.7 (sequential)" if client == "dcmtk" else f"ours --parallel {client[5:]}"
                lines.append(f"| {archive} | {tool} | {name} | {median:.2f} | {base / median:.2f}× |")
    return "\n".join(lines)


def load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="batch retrieval benchmark: --parallel vs DCMTK's sequential run")
    p.add_argument("--quick", action="store_true", help="8 x 10 objects, 1 run")
    p.add_argument("--per-study", type=int, default=None, help="objects per study (default 50)")
    p.add_argument("--runs", type=int, default=None, help="timed runs per client (default 3)")
    p.add_argument("--delay", type=float, default=0.02, help="fakeqr's wait before each C-STORE (s)")
    p.add_argument("--no-fork", dest="fork", action="store_false",
                   help="latency: fakeqr as before (one process, threads; re-encodes per C-STORE) instead of "
                        "--fork --pre-encode")
    p.add_argument("--archives", default="latency,dcmqrscp", help="comma-separated: latency, dcmqrscp")
    p.add_argument("--profile", type=int, default=None, metavar="N",
                   help="instead of the benchmark: CPU per object of DCMTK's getscu and ours with --parallel N "
                        "against the latency SCP, and a cProfile of ours (all threads)")
    p.add_argument("--update-doc", type=Path, default=None, help="write the section into this markdown file")
    args = p.parse_args(argv)
    if args.profile and args.archives.split(",")[0] != "latency":
        p.error("--profile runs against the latency archive (first in --archives)")
    per_study = args.per_study or (10 if args.quick else 50)
    runs = args.runs or (1 if args.quick else 3)
    expected = STUDIES * per_study
    started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_start = load()
    all_results: dict[str, dict[tuple[str, str], list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="dcmretrieve-batch-bench-") as tmp:
        work = Path(tmp)
        dirs, files, queries = make_data(work, per_study)
        move_port = free_port()
        for archive in args.archives.split(","):
            if archive == "latency":
                extra: list[str] = []
                for directory in dirs:
                    extra += ["--data-dir", str(directory)]
                server = FakeQR(work / "fakeqr", destinations={"MOVESCU": move_port},
                                extra_args=[*extra, "--store-delay", str(args.delay), "--nodelay",
                                            *(["--fork", "--pre-encode"] if args.fork else [])])
                server.start(timeout=60)
                try:
                    if args.profile:
                        print(profile(server, work, queries, expected, args.profile, 25))
                        return 0
                    all_results[archive] = measure(archive, server.port, move_port, "ANY-SCP", work, queries,
                                                   expected, runs)
                finally:
                    server.stop()
            elif archive == "dcmqrscp":
                # TCP_NODELAY=1 as in benchmarks/retrieve.py: without it dcmqrscp's
                # sending side stalls on Nagle's algorithm (latency, not CPU)
                qr = DcmQRSCP(work / "qrscp", host_table={"MOVESCU": move_port},
                              env={**os.environ, "TCP_NODELAY": "1"})
                qr.start()
                try:
                    qr.load(files)
                    all_results[archive] = measure(archive, qr.port, move_port, "COMMON", work, queries,
                                                   expected, runs)
                finally:
                    qr.stop()
            else:
                p.error(f"unknown archive {archive}")
    body = (
        f"Measured {started} with `benchmarks/batch.py` ({revision()}) on {machine()} (1-min load average "
        f"{load_start} at start, "
        f"{load()} at end).\n"
        f"Batch: {STUDIES} query files (PATIENT level), one study of {per_study} tiny objects each "
        f"({expected} objects). `latency`: tests/support/fakeqr.py waiting {args.delay * 1000:.0f} ms before "
        f"each C-STORE sub-operation (`--nodelay`{', `--fork --pre-encode`' if args.fork else ''}); `dcmqrscp`: DCMTK's dcmqrscp (fork mode, `TCP_NODELAY=1`) "
        f"on the same machine. "
        f"DCMTK: movescu with the {STUDIES} files on one association, getscu once per file one after the "
        f"other; ours: `--parallel n`. movescu moves to its own `--port`. Median of {runs} run(s) after one "
        f"warm-up each, clients interleaved; speed-up = DCMTK's wall time / the client's (higher is better).\n\n"
        + table(all_results) + "\n"
    )
    print()
    print(body)
    if args.update_doc:
        # up to the first ### sub-heading, which holds the hand-written reading
        update_section(args.update_doc, "Batch retrieval", body, stop=r"^##+ ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
