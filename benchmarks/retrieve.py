"""Retrieval benchmark: our getscu/movescu against DCMTK 3.6.7's, same archive.

Run from the repository root (by hand; it is not part of the test suite):

    .venv/bin/python benchmarks/retrieve.py            # full: 200 x 0.5 MB CT, 2000 tiny, 5 runs
    .venv/bin/python benchmarks/retrieve.py --quick    # 20 CT, 200 tiny, 3 runs
    .venv/bin/python benchmarks/retrieve.py --update-doc docs/performance.md

Why this shape: the two costs that matter for a retrieve SCU are bulk
throughput (one study of big images) and per-object overhead (many tiny
objects: DIMSE round trips, file creation).  Both are measured for C-GET and
for C-MOVE to self, against one DCMTK ``dcmqrscp`` archive (fork mode) on
127.0.0.1, so the server side is identical for every client.  DCMTK runs with
``TCP_NODELAY=1`` in its environment: without it its incoming sockets stall on
Nagle's algorithm, and comparing against that would flatter us (our tools set
TCP_NODELAY by default, docs deviation 6).  pynetdicom's own example apps
are measured too, for reference, with ``--pynetdicom``.

Each run starts with an empty output directory.  Wall time and CPU time (user
+ system) of the tool's process come from ``os.wait4``, its peak RSS from
``/usr/bin/time``.  Why CPU
time too: on a shared machine wall time mostly measures the other
processes; CPU time is what the tool itself spent (it still grows a little
under load: caches, frequency).  Reported: medians per tool and the ratios
ours/DCMTK.  Every run's received file count is checked.

Our tools run without ``PYTHONDONTWRITEBYTECODE`` (removed from their
environment, as on a normal installation) after one untimed warm-up run
per scenario, so the byte-code cache is written once and used by every timed
run -- otherwise each run would compile the whole package again.

The ``floor`` row of the get scenarios (tool ``floor``, on by default,
``benchmarks/floor.py``) is what this machine does with nothing but sockets
and files: the same objects' bytes (the archive's files of the study) sent
over loopback TCP, received and written to one file each.  The ``protocol``
row (``benchmarks/protocol_floor.py``, on by default) is the least a Python
C-GET SCU can do against the same archive: the DIMSE round trip per object
kept, everything else (element walk, checks, logging, options) left out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import sampledata  # noqa: E402
from support.servers import HOST, DcmQRSCP, free_port  # noqa: E402

import floor  # noqa: E402  (benchmarks/floor.py, next to this file)

TIME = "/usr/bin/time"
RUN_TIMEOUT = 900.0


@dataclass
class Sample:
    wall: float
    cpu: float  # user + system seconds of the tool's process
    rss_kb: int


@dataclass
class Result:
    scenario: str
    tool: str
    samples: list[Sample] = field(default_factory=list)
    error: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples) if self.samples else float("nan")

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples) if self.samples else float("nan")

    @property
    def rss_mb(self) -> float:
        if not self.samples:
            return float("nan")
        return statistics.median(s.rss_kb for s in self.samples) / 1024.0


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[Sample, subprocess.CompletedProcess[str]]:
    """Run argv once: wall time, CPU time and peak RSS of the child.

    Wall and CPU time come from ``os.wait4`` (microseconds).  The peak RSS
    comes from ``/usr/bin/time -f %M`` wrapped around the tool when it
    exists: wait4's ru_maxrss of a child forked from this (big) Python
    process counts the parent's memory it had before exec.  The wrapper's
    own CPU time (about a millisecond) is included in the CPU figure."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        wrapper = [TIME, "-o", tf.name, "-f", "%M"] if Path(TIME).exists() else []
        start = time.perf_counter()
        child = subprocess.Popen([*wrapper, *argv], env=env, cwd=cwd, stdout=out, stderr=err, text=True,
                                 start_new_session=True)
        # on timeout the whole session goes (the wrapper and the tool under it)
        timer = threading.Timer(RUN_TIMEOUT, os.killpg, (child.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if wall >= RUN_TIMEOUT:
            raise subprocess.TimeoutExpired(argv, RUN_TIMEOUT)
        fields = tf.read().split()
        rss = int(fields[-1]) if fields and fields[-1].isdigit() else usage.ru_maxrss
        out.seek(0)
        err.seek(0)
        proc = subprocess.CompletedProcess(argv, child.returncode, out.read(), err.read())
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss), proc


def tool_commands(tool: str, kind: str, port: int, move_port: int, out: Path,
                  study_uid: str) -> tuple[list[str], dict[str, str]]:
    """The command line of one tool for one retrieval, and its environment."""
    env = dict(os.environ)
    env.pop("TCP_NODELAY", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a normal installation writes its byte code once
    env.pop("PYTHONUNBUFFERED", None)  # and buffers its standard streams
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study_uid}"]
    venv_bin = Path(sys.executable).parent
    if tool == "pynetdicom":
        py = [sys.executable, "-m", "pynetdicom"]
        if kind == "get":
            return [*py, "getscu", "-q", "-S", "-aec", "COMMON", "-od", str(out), HOST, str(port),
                    *keys], env
        return [*py, "movescu", "-q", "-S", "-aet", "MOVESCU", "-aec", "COMMON", "-aem", "MOVESCU",
                "--store", "--store-port", str(move_port), "--store-aet", "MOVESCU",
                "-od", str(out), HOST, str(port), *keys], env
    if tool == "floor":
        return [sys.executable, str(Path(floor.__file__)), "receive", HOST, str(port), str(out)], env
    if tool == "protocol":
        return [sys.executable, str(Path(floor.__file__).with_name("protocol_floor.py")), HOST, str(port),
                "COMMON", str(out), study_uid], env
    if tool == "dcmtk":
        exe_dir = Path("/usr/bin")
        env["TCP_NODELAY"] = "1"
    else:
        exe_dir = venv_bin
    if kind == "get":
        return [str(exe_dir / "getscu"), "-S", "-aec", "COMMON", "-od", str(out), HOST, str(port),
                *keys], env
    return [str(exe_dir / "movescu"), "-S", "-aet", "MOVESCU", "-aec", "COMMON",
            "--port", str(move_port), "-od", str(out), HOST, str(port), *keys], env


def count_files(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


def run_once(result: Result, i: int, kind: str, archive: DcmQRSCP, move_port: int,
             study_uid: str, expected: int, work: Path, sender: "floor.Sender | None" = None,
             warm_up: bool = False) -> None:
    """One timed run of one tool; records a sample or the error (``warm_up``:
    run, check, record nothing)."""
    scenario, tool = result.scenario, result.tool
    out = work / f"{scenario}-{tool}-{i}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    port = archive.port
    if tool == "floor":
        assert sender is not None
        sender.serve_once()
        port = sender.port
    argv, env = tool_commands(tool, kind, port, move_port, out, study_uid)
    try:
        sample, proc = timed(argv, env, work)
    except subprocess.TimeoutExpired:
        result.error = f"timed out after {RUN_TIMEOUT:.0f} s"
        return
    finally:
        if sender is not None:
            sender.wait()
    got = count_files(out)
    shutil.rmtree(out, ignore_errors=True)
    if got != expected:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        result.error = f"run {i}: exit {proc.returncode}, {got}/{expected} files: {' | '.join(tail)}"
        print(f"  {scenario:<12} {tool:<10} FAILED: {result.error}", flush=True)
        return
    if warm_up:
        return
    result.samples.append(sample)
    print(f"  {scenario:<12} {tool:<10} run {i + 1}: {sample.wall:7.2f} s wall  {sample.cpu:7.2f} s CPU  "
          f"{sample.rss_kb / 1024:7.1f} MB", flush=True)


def measure(scenario: str, kind: str, tools: list[str], archive: DcmQRSCP, move_port: int,
            study_uid: str, expected: int, runs: int, work: Path,
            files: list[Path] | None = None) -> dict[str, Result]:
    """All tools on one scenario, runs interleaved (tool A, B, A, B, …),
    after one untimed warm-up run per tool.

    Why interleaved: on a shared machine the load drifts; alternating keeps
    the tools' medians comparable.  ``floor`` runs on get scenarios only
    (fed with ``files``).
    """
    tools = [t for t in tools if (t != "floor" or (kind == "get" and files)) and (t != "protocol" or kind == "get")]
    sender = floor.Sender(files) if "floor" in tools and files else None
    results = {tool: Result(scenario, tool) for tool in tools}
    try:
        for tool in tools:
            run_once(results[tool], -1, kind, archive, move_port, study_uid, expected, work,
                     sender if tool == "floor" else None, warm_up=True)
        for i in range(runs):
            for tool in tools:
                if not results[tool].error:
                    run_once(results[tool], i, kind, archive, move_port, study_uid, expected, work,
                             sender if tool == "floor" else None)
    finally:
        if sender is not None:
            sender.close()
    return results


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores{mem}{', ' + cpu if cpu else ''}; Python {platform.python_version()}"


def revision() -> str:
    """The measured code: commit of the checkout (and whether it had local edits)."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown revision"
    if not rev:
        return "unknown revision"
    return f"commit {rev}" + (" with local changes in src/" if dirty else "")


def fmt(x: float, unit: str = "") -> str:
    return "n/a" if x != x else f"{x:.2f}{unit}"  # NaN check


def table(results: dict[tuple[str, str], Result], scenarios: list[str], tools: list[str]) -> str:
    rows = ["| scenario | tool | median wall (s) | wall ratio vs DCMTK | median CPU (s) | CPU ratio vs DCMTK "
            "| median peak RSS (MB) | RSS ratio vs DCMTK |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for sc in scenarios:
        base = results.get((sc, "dcmtk"))
        for tool in tools:
            r = results.get((sc, tool))
            if r is None:
                continue
            if r.error:
                rows.append(f"| {sc} | {tool} | failed: {r.error[:80]} | | | | | |")
                continue
            wr = r.wall / base.wall if base and base.samples else float("nan")
            cr = r.cpu / base.cpu if base and base.samples and base.cpu else float("nan")
            mr = r.rss_mb / base.rss_mb if base and base.samples and base.rss_mb else float("nan")
            rows.append(f"| {sc} | {tool} | {fmt(r.wall)} | {fmt(wr, '×')} | {fmt(r.cpu)} | {fmt(cr, '×')} | "
                        f"{r.rss_mb:.1f} | {fmt(mr, '×')} |")
    return "\n".join(rows)


def update_section(doc: Path, heading: str, body: str, stop: str = r"^## ") -> None:
    """Replace (or append) the ``## heading`` section of ``doc`` with ``body``,
    up to the next line matching ``stop`` (default: the next ``## `` section);
    leave the rest alone.  The one section writer of the benchmarks."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    section = f"## {heading}\n\n{body.rstrip()}\n"
    match = re.search(rf"^## {re.escape(heading)}\s*$.*?(?={stop}|\Z)", text, flags=re.M | re.S)
    if match:
        text = text[: match.start()] + section + ("\n" if text[match.end():] else "") + text[match.end():]
    else:
        text = text.rstrip() + "\n\n" + section
    doc.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="C-GET / C-MOVE retrieval benchmark vs DCMTK")
    p.add_argument("--quick", action="store_true", help="20 CT, 200 tiny, 3 runs")
    p.add_argument("--ct", type=int, help="number of CT images (default 200)")
    p.add_argument("--ct-bytes", type=int, default=512 * 1024, help="pixel bytes per CT image")
    p.add_argument("--tiny", type=int, help="number of tiny objects (default 2000)")
    p.add_argument("--runs", type=int, help="runs per tool and scenario (default 5)")
    p.add_argument("--tools", default="dcmtk,ours,floor,protocol",
                   help="comma list of dcmtk,ours,floor,protocol,pynetdicom (floor: benchmarks/floor.py, "
                   "protocol: benchmarks/protocol_floor.py; get scenarios only)")
    p.add_argument("--pynetdicom", action="store_true", help="also measure pynetdicom's apps")
    p.add_argument("--workdir", type=Path, help="keep data here (default: temp dir, removed)")
    p.add_argument("--update-doc", type=Path, help="write the table into this file's "
                   "'## Retrieval' section")
    args = p.parse_args(argv)
    n_ct = args.ct or (20 if args.quick else 200)
    n_tiny = args.tiny or (200 if args.quick else 2000)
    runs = args.runs or (3 if args.quick else 5)
    tools = [t for t in args.tools.split(",") if t]
    if args.pynetdicom and "pynetdicom" not in tools:
        tools.append("pynetdicom")
    if "ours" in tools:
        for name in ("getscu", "movescu"):
            exe = Path(sys.executable).parent / name
            version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                                     timeout=30).stdout if exe.exists() else ""
            if "dcmretrieve" not in version:  # e.g. pynetdicom's app of the same name
                print(f"benchmark: {exe} is not dcmretrieve's {name}", file=sys.stderr)
                return 2

    load_start = os.getloadavg()[0]
    work = args.workdir or Path(tempfile.mkdtemp(prefix="dcmretrieve-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        ct_uid, ct_files = sampledata.make_ct_study(work / "data" / "ct", n_ct, args.ct_bytes)
        tiny_uid, tiny_files = sampledata.make_tiny_objects(work / "data" / "tiny", n_tiny)
        ct_mb = sum(f.stat().st_size for f in ct_files) / 1e6
        print(f"data: {n_ct} CT ({ct_mb:.0f} MB), {n_tiny} tiny objects "
              f"({time.perf_counter() - t0:.1f} s)", flush=True)
        move_port = free_port()
        # The archive is DCMTK too: without TCP_NODELAY its sending side stalls
        # ~40 ms per object on Nagle + delayed ACK, whoever the client is.
        archive = DcmQRSCP(work / "archive", host_table={"MOVESCU": move_port},
                           max_studies=10, max_study_mb=max(1024, int(ct_mb * 2)),
                           env={**os.environ, "TCP_NODELAY": "1"})
        try:
            archive.start()
            t0 = time.perf_counter()
            archive.load(scan_dir=work / "data", timeout=1800)
            print(f"loaded into dcmqrscp on port {archive.port} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
            scenarios = [("get-ct", "get", ct_uid, n_ct, ct_files),
                         ("get-tiny", "get", tiny_uid, n_tiny, tiny_files),
                         ("move-ct", "move", ct_uid, n_ct, ct_files),
                         ("move-tiny", "move", tiny_uid, n_tiny, tiny_files)]
            results: dict[tuple[str, str], Result] = {}
            for name, kind, uid, expected, files in scenarios:
                for tool, res in measure(name, kind, tools, archive, move_port, uid, expected,
                                         runs, work, files).items():
                    results[(name, tool)] = res
        finally:
            archive.stop()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    names = [s[0] for s in scenarios]
    load = f"1-min load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    body = (
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with "
        f"`benchmarks/retrieve.py{' --quick' if args.quick else ''}` ({revision()}) on {machine()} "
        f"({load}).\n"
        f"Archive: DCMTK dcmqrscp 3.6.7 (fork mode, max PDU 16384, `TCP_NODELAY=1`) on 127.0.0.1; "
        f"get-ct/move-ct: one study of {n_ct} CT images ({ct_mb / max(n_ct, 1):.2f} MB each), "
        f"get-tiny/move-tiny: one study of {n_tiny} tiny objects; Study Root, STUDY level; "
        f"move = C-MOVE to the tool's own `--port`. DCMTK 3.6.7 tools run with "
        f"`TCP_NODELAY=1`. Median of {runs} runs (tools interleaved, after one warm-up run each); "
        f"ratio = tool / DCMTK (lower is better); wall time and CPU time (user + system) "
        f"of the tool's process from `os.wait4`, peak RSS from `/usr/bin/time`; `floor` = `benchmarks/floor.py` (the same files' bytes "
        f"over loopback TCP into one file each, no DICOM); `protocol` = `benchmarks/protocol_floor.py` (a minimal "
        f"Python C-GET SCU: the per-object DIMSE round trip and one file write, nothing else).\n\n"
        + table(results, names, tools) + "\n"
    )
    print("\n" + body)
    if args.update_doc:
        update_section(args.update_doc, "Retrieval", body)
        print(f"updated {args.update_doc}")
    failed = any(r.error for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
