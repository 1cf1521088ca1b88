"""Differential tests of the logging layer against DCMTK 3.6.7 itself.

For every ``-lc`` file in ``data/logcfg`` the real ``/usr/bin/movescu`` is run
against a port where nothing listens; it logs ``--arguments``, ``Requesting
Association`` (INFO) and the two ``Association Request Failed`` FATAL
messages.  The same records are then emitted through ``dcmretrieve.oflog`` in a
fresh interpreter (so start-up, variables and exit-time behaviour such as the
daily-rolling rename are real) and stdout, stderr and every file written are
compared byte for byte after masking process ids and thread ids.

The second part runs our own ``movescu`` console script the same way, once it
is able to reach the network phase.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import harness
from support.ports import free_port

DCMTK_MOVESCU = harness.dcmtk_path("movescu")
CFG_DIR = Path(__file__).parents[1] / "data" / "logcfg"
CONFIGS = sorted(p.name for p in CFG_DIR.glob("*.cfg"))

pytestmark = pytest.mark.dcmtk("movescu")

#: Emits exactly what DCMTK's movescu logs for a refused connection.
EMULATE = r"""
import sys
from dcmretrieve import oflog
from dcmretrieve.settings import Settings
cfg, argv0, args = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.argv[0] = argv0  # what syslog(3) takes as the default ident
oflog.setup("movescu", Settings(tool="movescu", argv0=argv0, log_config=cfg))
oflog.log_arguments(argv0, args)
lg = oflog.app_logger("movescu")
lg.info("Requesting Association")
lg.critical("Association Request Failed:")
lg.critical("0006:031c TCP Initialization Error: Connection refused")
"""


def _env() -> dict[str, str]:
    """The environment passed on, plus the variable the configurations use,
    a UTF-8 locale and UTC (time stamps in file names and layouts)."""
    return harness.environment(setenv={"LOGTEST_ENV": "from-env", "LANG": "C.UTF-8", "TZ": "UTC"})


def _normalise(text: str, pid: int) -> str:
    # TTCC layout: relative milliseconds and the thread id differ per run.
    # The thread id first: it is a long number that may contain the PID's
    # digits, which the PID substitution below would otherwise break up.
    text = re.sub(r" \[\d{5,}\] ", " [<TID>] ", text)
    text = re.sub(r"(?m)(^%?)\d+ \[<TID>\] ", r"\1<REL> [<TID>] ", text)
    text = re.sub(rf"(?<!\d){pid}(?!\d)", "<PID>", text)
    return text


def _snapshot(workdir: Path, proc: harness.Result, pid: int) -> dict[str, str]:
    files = {}
    for path in sorted(workdir.rglob("*")):
        if path.is_file() and path.name != "t.cfg":
            name = _normalise(str(path.relative_to(workdir)), pid)
            files[name] = _normalise(path.read_text(errors="replace"), pid)
    return {
        "stdout": _normalise(proc.stdout, pid),
        "stderr": _normalise(proc.stderr, pid),
        "files": files,  # type: ignore[dict-item]
    }


def _run_all(jobs: list[tuple[list[str], Path]]) -> list[tuple[harness.Result, int]]:
    """Run the programs concurrently (halves the suite's wall time); every
    process is waited for, killed after 20 s."""
    return [(result, result.pid) for result in harness.run_concurrently(jobs, env=_env(), timeout=20)]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_log_config_matches_dcmtk(cfg: str, tmp_path: Path) -> None:
    port = str(free_port())
    dcmtk_dir = tmp_path / "dcmtk"
    ours_dir = tmp_path / "ours"
    for d in (dcmtk_dir, ours_dir):
        d.mkdir()
        shutil.copyfile(CFG_DIR / cfg, d / "t.cfg")
    tail = [port, "-k", "QueryRetrieveLevel=PATIENT"]
    expanded = ["--log-config", "t.cfg", "--arguments", "127.0.0.1", port, "--key", "QueryRetrieveLevel=PATIENT"]
    (dcmtk, dpid), (ours, opid) = _run_all(
        [
            ([DCMTK_MOVESCU, "-lc", "t.cfg", "--arguments", "127.0.0.1", *tail], dcmtk_dir),
            ([sys.executable, "-c", EMULATE, "t.cfg", DCMTK_MOVESCU, *expanded], ours_dir),
        ]
    )
    assert dcmtk.rc == 61, dcmtk.stderr
    assert ours.rc == 0, ours.stderr
    assert _snapshot(ours_dir, ours, opid) == _snapshot(dcmtk_dir, dcmtk, dpid)


LEVEL_CASES = [
    ("movescu", ["-v", "--arguments"]),
    ("movescu", ["-q", "--arguments"]),
    ("movescu", ["-lc", "file-appname.cfg", "--arguments"]),
    ("getscu", ["-lc", "log-names.cfg", "--arguments"]),
]


@pytest.mark.network
@pytest.mark.parametrize(("tool", "opts"), LEVEL_CASES, ids=lambda o: " ".join(o) if isinstance(o, list) else o)
def test_cli_logging_matches_dcmtk(tool: str, opts: list[str], tmp_path: Path) -> None:
    """End to end through our console scripts, refused connection (movescu
    exits 61, getscu 1): stdout, stderr, exit status and files written."""
    harness.require(tool)
    dcmtk_exe = harness.dcmtk_path(tool)
    ours_exe = harness.our_script(tool)
    port = str(free_port())
    args = [*opts, "127.0.0.1", port, "-k", "QueryRetrieveLevel=PATIENT"]
    runs = {}
    jobs = []
    for name, exe in (("dcmtk", dcmtk_exe), ("ours", ours_exe)):
        d = tmp_path / name
        d.mkdir()
        for cfg in CFG_DIR.glob("*.cfg"):
            shutil.copyfile(cfg, d / cfg.name)
        jobs.append(([exe, *args], d))
    for (name, _), (proc, pid), (_, d) in zip((("dcmtk", 0), ("ours", 0)), _run_all(jobs), jobs):
        snap = _snapshot(d, proc, pid)
        snap["files"] = {k: v for k, v in snap["files"].items() if not k.endswith(".cfg")}  # type: ignore[union-attr]
        snap["rc"] = proc.rc  # type: ignore[assignment]
        runs[name] = snap
    for snap in runs.values():
        # the program name printed by --arguments differs by construction
        def unify(text: str) -> str:
            return harness.normalise(text, replace={dcmtk_exe: "<ARGV0>", ours_exe: "<ARGV0>"})

        for key in ("stdout", "stderr"):
            snap[key] = unify(snap[key])
        snap["files"] = {k: unify(v) for k, v in snap["files"].items()}  # type: ignore[union-attr]
    assert runs["ours"] == runs["dcmtk"]


SYSLOG_CFGS = {
    # two local appenders: openlog() is process-wide, so x's empty ident wins
    "local": ["log4cplus.appender.s.layout = log4cplus::PatternLayout",
              "log4cplus.appender.s.layout.ConversionPattern = %p:%m%n",
              "log4cplus.appender.s.ident = a b", "log4cplus.appender.s.facility = local3",
              "log4cplus.appender.x = log4cplus::SysLogAppender",
              "log4cplus.appender.x.facility = bogus"],
}  # fmt: skip

LISTENER = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(15)
with open(sys.argv[1], "wb") as out:
    while True:
        data = s.recv(65536)
        if data == b"STOP":
            break
        out.write(data + b"\0")
"""

SEND = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect("/dev/log")
s.send(sys.argv[1].encode())
"""


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
@pytest.mark.parametrize("case", sorted(SYSLOG_CFGS))
def test_syslog_appender_matches_dcmtk(case: str, tmp_path: Path) -> None:
    """Local syslog: both programs log into a private ``/dev/log`` (a tmpfs
    over /dev in a private mount namespace) and the datagrams are compared."""
    lines = ["log4cplus.rootLogger = INFO, s, x", "log4cplus.appender.s = log4cplus::SysLogAppender"]
    (tmp_path / "t.cfg").write_text("\n".join(lines + SYSLOG_CFGS[case]) + "\n")
    (tmp_path / "listener.py").write_text(LISTENER)
    (tmp_path / "send.py").write_text(SEND)
    (tmp_path / "emulate.py").write_text(EMULATE)
    port = str(free_port())
    py = sys.executable
    expanded = ["--log-config", "t.cfg", "--arguments", "127.0.0.1", port, "--key", "QueryRetrieveLevel=PATIENT"]
    script = " && ".join(
        [
            "mount -t tmpfs tmpfs /dev",
            "touch /dev/null",
            f"({py} listener.py got.bin & echo $! > listener.pid)",
            "for i in $(seq 50); do [ -S /dev/log ] && break; sleep 0.05; done",
            f"({DCMTK_MOVESCU} -lc t.cfg --arguments 127.0.0.1 {port} -k QueryRetrieveLevel=PATIENT"
            " 2>dcmtk.err; echo $$ > /dev/null; true)",
            f"{py} send.py MARK",
            f"({py} emulate.py t.cfg {DCMTK_MOVESCU} {' '.join(expanded)} 2>ours.err; true)",
            f"{py} send.py STOP",
            "for i in $(seq 100); do kill -0 $(cat listener.pid) 2>/dev/null || break; sleep 0.05; done",
        ]
    )
    proc = subprocess.run(
        ["unshare", "-m", "bash", "-c", script], cwd=tmp_path, env=_env(), capture_output=True, timeout=30
    )
    if proc.returncode != 0 or not (tmp_path / "got.bin").exists():
        pytest.skip("private mount namespace not available: " + proc.stderr.decode(errors="replace")[-200:])
    datagrams = (tmp_path / "got.bin").read_bytes().decode().split("\0")[:-1]
    mark = datagrams.index("MARK")
    norm = [re.sub(r"^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d ", r"\1<TIME> ", d) for d in datagrams]
    assert len(norm[:mark]) == 8  # (--arguments + 3 messages) x 2 appenders
    assert norm[mark + 1 :] == norm[:mark]
    assert (tmp_path / "ours.err").read_text() == (tmp_path / "dcmtk.err").read_text()


CRASH_CFGS = {
    "root-without-level": (
        ["log4cplus.rootLogger = INFO2, c", "log4cplus.appender.c = log4cplus::ConsoleAppender"],
        "log4cplus:ERROR You have tried to set NOT_SET_LOG_LEVEL to root.\n",
        "INFO - calling '/usr/bin/movescu' with 6 arguments: '--log-config' 't.cfg' '127.0.0.1' '<PORT>' "
        "'--key' 'QueryRetrieveLevel=PATIENT' \n\nINFO - Requesting Association\n"
        "FATAL - Association Request Failed:\nFATAL - 0006:031c TCP Initialization Error: Connection refused\n",
    ),
    "async-without-appender": (
        ["log4cplus.rootLogger = INFO, a", "log4cplus.appender.a = log4cplus::AsyncAppender"],
        "log4cplus:ERROR Unspecified appender for AsyncAppender.\n",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(CRASH_CFGS))
def test_configurations_that_crash_dcmtk_do_not_crash_us(case: str, tmp_path: Path) -> None:
    """DCMTK 3.6.7 aborts (SIGABRT, shell status 134) on these files.  A crash
    is never a feature (project deviations policy, docs/logging.md): we print
    log4cplus' diagnostic and carry on -- the root keeps its start-up level
    INFO, an AsyncAppender without target drops its events."""
    lines, our_err, our_out = CRASH_CFGS[case]
    (tmp_path / "t.cfg").write_text("\n".join(lines) + "\n")
    port = str(free_port())
    expanded = ["--log-config", "t.cfg", "127.0.0.1", port, "--key", "QueryRetrieveLevel=PATIENT"]
    (dcmtk, _), (ours, _) = _run_all(
        [
            ([DCMTK_MOVESCU, "-lc", "t.cfg", "127.0.0.1", port, "-k", "QueryRetrieveLevel=PATIENT"], tmp_path),
            ([sys.executable, "-c", EMULATE, "t.cfg", DCMTK_MOVESCU, *expanded], tmp_path),
        ]
    )
    assert dcmtk.rc == -6  # the oracle really crashes
    assert ours.rc == 0
    assert ours.stderr == our_err
    assert ours.stdout == our_out.replace("<PORT>", port)


CAPTURE = r"""
# Collects what arrives on UDP 5000 and TCP 9998 until 4 datagrams and 4
# SocketAppender frames are in (then closes, which also lets DCMTK exit: its
# SocketAppender may otherwise wait for the server at exit), at most 15 s.
import select, socket, sys, time
prefix = sys.argv[1]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 5000))
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.1", 9998))
tcp.listen(5)
open(prefix + ".ready", "w").close()
datagrams, stream, conns = [], b"", []
def frames(data):
    n, pos = 0, 0
    while pos + 4 <= len(data):
        pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
        n += pos <= len(data)
    return n
deadline = time.time() + 15
while time.time() < deadline and not (len(datagrams) >= 4 and frames(stream) >= 4):
    ready, _, _ = select.select([udp, tcp, *conns], [], [], 0.05)
    for sock in ready:
        if sock is udp:
            datagrams.append(udp.recv(65536))
        elif sock is tcp:
            conns.append(tcp.accept()[0])
        else:
            data = sock.recv(65536)
            if data:
                stream += data
            else:
                conns.remove(sock)
for c in conns:
    c.close()
open(prefix + ".udp", "wb").write(b"".join(d + b"\0" for d in datagrams))
open(prefix + ".tcp", "wb").write(stream)
"""


def _parse_socket_stream(data: bytes) -> list[list[object]]:
    """log4cplus SocketAppender frames -> field lists (varying fields masked)."""
    records: list[list[object]] = []
    pos = 0

    def u32() -> int:
        nonlocal pos
        value = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        return value

    def string() -> str:
        nonlocal pos
        n = u32()
        text = data[pos : pos + n].decode()
        pos += n
        return text

    while pos < len(data):
        end = u32() + pos
        version, char_size = data[pos], data[pos + 1]
        pos += 2
        server, logger, level, ndc, message, thread = string(), string(), u32(), string(), string(), string()
        secs, usec, file, line, func = u32(), u32(), string(), u32(), string()
        assert pos == end
        assert thread.isdigit() and secs > 1_600_000_000 and usec < 1_000_000
        has_location = line != 0xFFFFFFFF
        records.append([version, char_size, server, logger, level, ndc, message, has_location, bool(file), bool(func)])
    return records


def _normalise_log4j(datagram: str) -> str:
    datagram = re.sub(r'timestamp="\d{13}" thread="\d+"', 'timestamp="<T>" thread="<TID>"', datagram)
    return re.sub(r'file="[^"]+" method="[^"]+" line="\d+"', 'file="<F>" method="<M>" line="<L>"', datagram)


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs root and unshare")
def test_network_appenders_match_dcmtk(tmp_path: Path) -> None:
    """Log4jUdpAppender and SocketAppender, captured in a private network
    namespace (so the default ports 5000/9998 cannot collide with anything)."""
    cfg = "\n".join(
        [
            "log4cplus.rootLogger = INFO, u, t",
            "log4cplus.appender.u = log4cplus::Log4jUdpAppender",
            "log4cplus.appender.u.host = 127.0.0.1",
            "log4cplus.appender.u.layout = log4cplus::PatternLayout",
            "log4cplus.appender.u.layout.ConversionPattern = <%p> '%m' & \"%c\"%n",
            "log4cplus.appender.t = log4cplus::SocketAppender",
            "log4cplus.appender.t.host = 127.0.0.1",
            "log4cplus.appender.t.ServerName = srv",
        ]
    )
    (tmp_path / "t.cfg").write_text(cfg + "\n")
    (tmp_path / "capture.py").write_text(CAPTURE)
    (tmp_path / "emulate.py").write_text(EMULATE)
    py = sys.executable
    port = "4444"  # nothing listens there inside the namespace
    expanded = ["--log-config", "t.cfg", "--arguments", "127.0.0.1", port, "--key", "QueryRetrieveLevel=PATIENT"]
    steps = ["ip link set lo up"]
    for name, cmd in (
        ("dcmtk", f"{DCMTK_MOVESCU} -lc t.cfg --arguments 127.0.0.1 {port} -k QueryRetrieveLevel=PATIENT"),
        ("ours", f"{py} emulate.py t.cfg {DCMTK_MOVESCU} {' '.join(expanded)}"),
    ):
        steps += [
            f"{py} capture.py {name} & CAPTURE=$!",
            f"for i in $(seq 100); do [ -e {name}.ready ] && break; sleep 0.05; done",
            f"timeout 20 {cmd} >{name}.out 2>{name}.err || true",
            "wait $CAPTURE",
        ]
    proc = subprocess.run(
        ["unshare", "-n", "bash", "-c", "set -e\n" + "\n".join(steps)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        timeout=60,
    )
    if proc.returncode != 0 or not (tmp_path / "ours.tcp").exists():
        pytest.skip("private network namespace not available: " + proc.stderr.decode(errors="replace")[-200:])
    results = {}
    for name in ("dcmtk", "ours"):
        datagrams = (tmp_path / f"{name}.udp").read_text().split("\0")[:-1]
        results[name] = {
            "udp": [_normalise_log4j(d) for d in datagrams],
            "tcp": _parse_socket_stream((tmp_path / f"{name}.tcp").read_bytes()),
            "stderr": (tmp_path / f"{name}.err").read_text(),
        }
    assert len(results["dcmtk"]["udp"]) == 4 and len(results["dcmtk"]["tcp"]) == 4
    assert results["ours"] == results["dcmtk"]


TRANSFER_CASES = [
    ("getscu", "log-names.cfg"),  # which logger says what (dcmtk.dcmnet vs dcmtk.apps.getscu)
    ("movescu", "log-appinfo.cfg"),  # RECV: progress enabled by inheritance, stdout interleaving
]


@pytest.mark.network
@pytest.mark.parametrize(("tool", "cfg"), TRANSFER_CASES)
def test_logger_names_in_a_real_retrieve(tool: str, cfg: str, qrscp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Three objects retrieved from dcmqrscp with a ``-lc`` file that prints
    logger names and levels: both programs must log the same messages through
    the same loggers, in the same order, on the same streams."""
    harness.require(tool)
    ours_exe = harness.our_script(tool)
    extra = ["--port", str(qrscp.host_table["MOVESCU"])] if tool == "movescu" else []
    results = []
    for name, exe in (("dcmtk", harness.dcmtk_path(tool)), ("ours", ours_exe)):
        d = tmp_path / name
        d.mkdir()
        shutil.copyfile(CFG_DIR / cfg, d / cfg)
        cmd = [exe, "-lc", cfg, "-aec", qrscp.aetitle, *extra, "-od", ".",
               qrscp.host, str(qrscp.port), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=*"]  # fmt: skip
        (proc, _), = _run_all([(cmd, d)])
        results.append((proc.rc, proc.stdout, proc.stderr, sorted(p.name for p in d.iterdir())))
    assert results[0][0] == 0
    assert results[0][1].count("\n") >= 10  # both configs log to stdout
    assert results[1] == results[0]
