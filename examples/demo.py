"""Demo: retrieve DICOM objects with our getscu (C-GET) and movescu (C-MOVE).

From the repository root, on a fresh machine with nothing but Python 3.10+:

    python3 examples/demo.py [--workdir DIR] [--dcmtk] [--dcmtk-tools]

1. Creates ``.venv`` with the project if there is none (``pip install -e .``)
   and runs itself again inside it.
2. Starts ``examples/qrscp.py``, a small pynetdicom Q/R SCP (AE ``COMMON``),
   on 127.0.0.1 and a free port, serving pydicom's sample files CT_small,
   MR_small and rtplan; its C-MOVE destination table maps ``MOVESCU`` to a
   second free port.
3. C-GET with ``getscu`` and the command file ``examples/getscu-patient.args``
   (patient 1CT1) into ``received/get``.
4. C-MOVE to itself with ``movescu --port …``: settings from the config
   file ``examples/dcmretrieve.ini`` (shown first with ``--show-config``, with
   the source of each value), the batch of two study query files from the
   command file ``examples/movescu-batch.args``, into ``received/move``.
5. Lists the files that arrived (and a few attributes of each, read with
   pydicom), then stops the server by its PID (also on errors or Ctrl-C).

No DCMTK program is used (tests/examples/test_demo.py checks it).  The
query files are built from ``examples/queries/*.dump`` with pydicom.
``--dcmtk``: the archive is DCMTK's ``dcmqrscp`` instead (needs DCMTK; the
test suite's server code starts it); ``--dcmtk-tools``: retrieve with DCMTK's
``/usr/bin/getscu`` and ``movescu`` instead of ours, to compare.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = ROOT / ".venv"
HOST = "127.0.0.1"
STEP_TIMEOUT = 120.0
READY_TIMEOUT = 60.0
CALLED_AE = "COMMON"  # the AE title examples/getscu-patient.args and dcmretrieve.ini call
MOVE_AE = "MOVESCU"  # movescu's AE title (dcmretrieve.ini), the C-MOVE destination

#: Extra arguments per retrieval for the JSON summary; "{summary}" becomes a
#: file in the work directory, which is shown after the step when it exists.
#: (the --summary-json extension; empty for the DCMTK variant)
SUMMARY_ARGS: tuple[str, ...] = ("--summary-json", "{summary}")


# ---------------------------------------------------------------------------
# 1. the environment


def _usable() -> bool:
    """This interpreter has the project and its console scripts."""
    import importlib.util

    scripts = Path(sys.executable).parent
    return (importlib.util.find_spec("dcmretrieve") is not None
            and importlib.util.find_spec("pynetdicom") is not None
            and (scripts / "getscu").exists() and (scripts / "movescu").exists())


def ensure_venv(argv: list[str]) -> None:
    """Re-run inside ``.venv`` (created and filled if missing) unless this
    interpreter can already run the demo."""
    if _usable():
        return
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "getscu").exists():
        print(f"demo: creating {VENV.name} and installing dcmretrieve (once) ...", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", str(ROOT)], check=True)
    if Path(sys.executable).resolve() == python.resolve() and Path(sys.prefix).resolve() == VENV.resolve():
        raise SystemExit("demo: .venv exists but lacks dcmretrieve; run: .venv/bin/pip install -e .")
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


# ---------------------------------------------------------------------------
# helpers


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def tool(name: str, dcmtk: bool = False) -> str:
    """Our console script next to this interpreter (never what PATH finds),
    or with ``dcmtk`` DCMTK's own binary."""
    path = Path("/usr/bin" if dcmtk else Path(sys.executable).parent) / name
    if not path.exists():
        raise SystemExit(f"demo: {path} not found")
    return str(path)


def show_run(argv: list[str], cwd: Path, summary: Path | None = None) -> int:
    extra = [arg.replace("{summary}", str(summary)) for arg in SUMMARY_ARGS] if summary else []
    argv = [argv[0], *extra, *argv[1:]]
    print(f"\n$ {' '.join(shlex.quote(a) for a in argv)}", flush=True)
    try:
        result = subprocess.run(argv, cwd=cwd, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"demo: timed out after {STEP_TIMEOUT:.0f} s", flush=True)
        return 124
    print(f"[exit {result.returncode}]", flush=True)
    if summary is not None and summary.exists():
        print(f"JSON summary ({summary.name}):")
        print(summary.read_text(encoding="utf-8").rstrip())
    return result.returncode


def show_settings(argv: list[str], cwd: Path) -> None:
    """``--show-config``, without the lines that are DCMTK's defaults."""
    print(f"\n$ {' '.join(shlex.quote(a) for a in argv)} | grep -v '(default)'", flush=True)
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    print("".join(line + "\n" for line in result.stdout.splitlines() if not line.endswith("(default)")),
          end="")
    if result.returncode:
        print(result.stderr, end="")
        raise RuntimeError(f"--show-config ended with {result.returncode}")


def list_files(path: Path) -> list[Path]:
    from pydicom import dcmread

    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else []
    print(f"files in {path}:")
    for f in files:
        ds = dcmread(f, stop_before_pixels=True, force=True)
        print(f"  {f.name}  ({f.stat().st_size} bytes; PatientID {ds.get('PatientID', '?')}, "
              f"Modality {ds.get('Modality', '?')}, transfer syntax "
              f"{getattr(getattr(ds, 'file_meta', None), 'TransferSyntaxUID', '?')})")
    if not files:
        print("  (none)")
    return files


def build_queries(workdir: Path) -> None:
    """``examples/queries/*.dump`` -> ``queries/*.dcm`` with pydicom."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support import sampledata

    out = workdir / "queries"
    out.mkdir(parents=True, exist_ok=True)
    for dump in sorted((HERE / "queries").glob("*.dump")):
        sampledata.write_query_file(sampledata.parse_dump(dump.read_text()), out / f"{dump.stem}.dcm")
    print(f"query files: {', '.join(sorted(p.name for p in out.iterdir()))}")


# ---------------------------------------------------------------------------
# 2. the archive


class QRSCP:
    """examples/qrscp.py as a child process, stopped by its PID."""

    def __init__(self, workdir: Path, move_port: int) -> None:
        self.port = free_port()
        self.aetitle = CALLED_AE
        self.ready = workdir / "qrscp.pid"
        self.log = workdir / "qrscp.log"
        self.argv = [sys.executable, str(HERE / "qrscp.py"), "--port", str(self.port),
                     "--aetitle", self.aetitle, "--dest", f"{MOVE_AE}={HOST}:{move_port}",
                     "--ready-file", str(self.ready)]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self.ready.unlink(missing_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"qrscp did not start; its log:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


class DCMTKArchive:
    """DCMTK's dcmqrscp loaded with the samples (the test suite's code)."""

    def __init__(self, workdir: Path, move_port: int) -> None:
        sys.path.insert(0, str(ROOT / "tests"))
        from support.servers import DcmQRSCP

        self.server = DcmQRSCP(workdir / "archive", host_table={MOVE_AE: move_port})

    def start(self) -> None:
        from support import sampledata

        self.server.start()
        self.server.load(sampledata.sample_paths())

    def stop(self) -> None:
        self.server.stop()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pid(self) -> int:
        return self.server.pid

    @property
    def aetitle(self) -> str:
        return self.server.aetitle


# ---------------------------------------------------------------------------
# the demo


def run_demo(workdir: Path, dcmtk_archive: bool = False, dcmtk_tools: bool = False) -> int:
    getscu, movescu = tool("getscu", dcmtk_tools), tool("movescu", dcmtk_tools)
    build_queries(workdir)
    for sub in ("get", "move"):
        (workdir / "received" / sub).mkdir(parents=True, exist_ok=True)
    move_port = free_port()
    archive = DCMTKArchive(workdir, move_port) if dcmtk_archive else QRSCP(workdir, move_port)
    failures = 0
    try:
        archive.start()
        kind = "dcmqrscp" if dcmtk_archive else "examples/qrscp.py"
        print(f"{kind} (PID {archive.pid}) listening on {HOST}:{archive.port} as {archive.aetitle}; "
              f"C-MOVE destination {MOVE_AE} = {HOST}:{move_port}")

        print("\n== 1. C-GET of patient 1CT1, options from a command file")
        print(f"   ({HERE.name}/getscu-patient.args: "
              f"{' '.join((HERE / 'getscu-patient.args').read_text().split())})")
        failures += show_run([getscu, "-v", f"@{HERE / 'getscu-patient.args'}", HOST, str(archive.port)],
                             workdir, None if dcmtk_tools else workdir / "get-summary.json") != 0
        failures += len(list_files(workdir / "received" / "get")) != 1

        print("\n== 2. C-MOVE to ourselves: settings from a config file, a batch of two "
              "study query files from a command file")
        config = HERE / "dcmretrieve.ini"
        move_argv = [movescu, "-v", "-S", "--port", str(move_port), HOST, str(archive.port),
                     f"@{HERE / 'movescu-batch.args'}"]
        if dcmtk_tools:  # DCMTK has no config files: the same settings as options
            move_argv[1:1] = ["-aet", MOVE_AE, "-aec", CALLED_AE, "-od", "received/move"]
        else:
            move_argv[1:1] = ["--config", str(config)]
            show_settings([*move_argv[:-1], "--show-config"], workdir)
        failures += show_run(move_argv, workdir, None if dcmtk_tools else workdir / "move-summary.json") != 0
        failures += len(list_files(workdir / "received" / "move")) != 2
    except RuntimeError as exc:
        print(f"demo: archive failed: {exc}", file=sys.stderr)
        return 2
    finally:
        archive.stop()
        print(f"\narchive stopped; everything is in {workdir}")
    print("demo: OK" if not failures else f"demo: {failures} step(s) failed")
    return 0 if not failures else 1


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="where to put files (default: a new temp dir)")
    parser.add_argument("--dcmtk", action="store_true",
                        help="use DCMTK's dcmqrscp as the archive instead of examples/qrscp.py")
    parser.add_argument("--dcmtk-tools", action="store_true",
                        help="retrieve with DCMTK's /usr/bin/getscu and movescu instead of ours")
    args = parser.parse_args(args_list)
    ensure_venv(args_list)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dcmretrieve-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return run_demo(workdir.resolve(), args.dcmtk, args.dcmtk_tools)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
