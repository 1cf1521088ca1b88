"""Real DICOM servers for the network tests, each on 127.0.0.1 and a free port.

Why this module exists: the clones must behave like DCMTK against real peers,
so the tests talk to DCMTK's own ``dcmqrscp``/``storescp``, to Orthanc and to
our fault-injecting ``tests/support/fakeqr.py`` instead of mocks.  Several engineers
(and CI) run test suites at the same time on one machine, hence:

* every server listens on an ephemeral port found by :func:`free_port`
  (``support.ports``);
* every server runs in its own process group (``start_new_session``) and is
  stopped by *its* PID/process group only (``dcmqrscp`` forks one child per
  association, so killing just the parent would leak children);
* every wait (start-up, loading data, shutdown) is bounded in time and raises
  :class:`ServerError` with the tail of the server log when exceeded;
* an ``atexit`` hook stops whatever is still running if a test run dies
  before the fixture teardown.

DCMTK binaries are always called by absolute path: our own console scripts
(``getscu``/``movescu`` in the venv) shadow the DCMTK names on ``PATH``.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

# free_port is looked up here at call time (tests monkeypatch servers.free_port)
from .ports import HOST, free_port

DCMQRSCP = "/usr/bin/dcmqrscp"
STORESCP = "/usr/bin/storescp"
STORESCU = "/usr/bin/storescu"
ECHOSCU = "/usr/bin/echoscu"
ORTHANC = "/usr/sbin/Orthanc"

#: AE titles of the spec rig's dcmqrscp HostTable (movescu.md, "rig").
DEFAULT_HOST_AES: tuple[str, ...] = ("MOVESCU", "OTHERAE", "STORESCP", "NOLISTEN", "GETSCU")

_RUNNING: set[ManagedProcess] = set()


class ServerError(RuntimeError):
    """A test server failed to start, load data or stop in time."""


def port_is_open(port: int, host: str = HOST, timeout: float = 0.2) -> bool:
    """Return True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def listening_inodes(port: int) -> set[str]:
    """Socket inodes of TCP listeners on ``port`` (any address), from /proc/net."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def owns_listen_port(pid: int, port: int) -> bool:
    """True if process ``pid`` itself holds a listening socket on ``port``.

    Why not just connect: another test run may have grabbed the port (the
    connect would then succeed against *its* server), and a bare connect
    leaves a failed association in DCMTK servers' logs.
    """
    inodes = listening_inodes(port)
    if not inodes:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        links = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent(parent: int) -> None:
    """In the child before exec: get SIGTERM when the test process dies.

    Why: a test run killed with SIGKILL (a tool call's timeout, Ctrl-C twice)
    runs neither fixture teardown nor ``atexit``; without this its servers,
    being in their own sessions, would keep running.  Linux only
    (``PR_SET_PDEATHSIG``); elsewhere teardown/atexit remain the only guard.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class ManagedProcess:
    """One server process in its own process group, with a log file.

    Why a process group: ``dcmqrscp`` (fork mode) and Orthanc's helpers must
    all go away at teardown, and we may only end processes we started.  The
    group id equals the PID of the process we spawned, so ``killpg`` never
    reaches anything else.
    """

    def __init__(self, argv: Sequence[str], log_path: Path, cwd: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("process not started")
        return self.proc.pid

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        parent = os.getpid()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.cwd, env=self.env, start_new_session=True,
            preexec_fn=lambda: _die_with_parent(parent),
        )
        _RUNNING.add(self)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_until(self, ready: Any, what: str, timeout: float) -> None:
        """Poll ``ready()`` until true; fail fast if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(f"{what}: process exited with {self.proc.returncode if self.proc else '?'}"
                                  f"\n{_tail(self.log_path)}")
            if ready():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{what}: not ready after {timeout} s\n{_tail(self.log_path)}")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it lingers."""
        proc = self.proc
        if proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        # Children of a forking server may outlive the parent for a moment.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._log is not None:
            self._log.close()
            self._log = None
        _RUNNING.discard(self)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@atexit.register
def _stop_all() -> None:
    for proc in list(_RUNNING):
        proc.stop(timeout=2.0)


def run_bounded(argv: Sequence[str], timeout: float, what: str,
                env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a client tool to completion within ``timeout`` s or raise ServerError."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{what}: timed out after {timeout} s: {' '.join(argv)}") from exc
    if result.returncode != 0:
        raise ServerError(f"{what}: exit {result.returncode}: {' '.join(argv)}\n"
                          f"{result.stdout}{result.stderr}")
    return result


def launch(make: Callable[[], ManagedProcess], ready: Callable[[ManagedProcess], bool], what: str,
           timeout: float, repick: Callable[[], None] | None, attempts: int = 3) -> ManagedProcess:
    """Start a server and wait until it is ready; retry on a lost port race.

    Why: a port from :func:`free_port` can be taken by another test run
    before our server binds it.  The server then exits at once (or its
    readiness probe hits the other process), so after the probe succeeds we
    check that *our* process is still alive; if not, and the port was ours to
    choose (``repick``), pick a new one and try again.
    """
    err: ServerError | None = None
    for attempt in range(attempts):
        proc = make()
        proc.start()
        try:
            proc.wait_until(lambda: ready(proc), what, timeout)
            time.sleep(0.05)
            if proc.alive():
                return proc
            err = ServerError(f"{what}: exited right after start\n{_tail(proc.log_path)}")
        except ServerError as exc:
            err = exc
        proc.stop()
        if repick is None or attempt == attempts - 1:
            break
        repick()
    assert err is not None
    raise err


def storescu(port: int, files: Iterable[Path | str], aec: str, aet: str = "STORESCU",
             timeout: float = 60.0, scan_dir: Path | None = None) -> None:
    """Send files (or a whole directory with ``+sd +r``) with DCMTK's storescu.

    ``storescu`` proposes one context per SOP class/transfer syntax it finds in
    the files, so mixed data sets load in one association.
    """
    argv = [STORESCU, "-aet", aet, "-aec", aec]
    if scan_dir is not None:
        argv += ["+sd", "+r", HOST, str(port), str(scan_dir)]
    else:
        paths = [str(p) for p in files]
        if not paths:
            return
        argv += [HOST, str(port), *paths]
    run_bounded(argv, timeout, "storescu")


class DcmQRSCP:
    """DCMTK ``dcmqrscp`` (fork mode) with its own config and storage area.

    Attributes a test needs: ``host``, ``port``, ``aetitle`` (``COMMON``),
    ``storage_dir`` (the AE's database directory), ``host_table`` (AE title ->
    port that dcmqrscp uses for C-MOVE destinations), ``loaded`` (paths sent
    with :meth:`load`), ``log_path``.

    Why fork mode: ``dcmqrscp -s`` of Debian's 3.6.7 build segfaults after the
    first C-MOVE (spec README).  ``env`` replaces the server's environment
    (benchmarks pass ``TCP_NODELAY=1`` so the archive's own Nagle stalls do
    not dominate the clients' timings).  Every AE title of :data:`DEFAULT_HOST_AES`
    that the caller does not map gets a fresh free port where nobody listens,
    so moves to e.g. ``NOLISTEN`` fail the way the rig's do.
    """

    def __init__(self, workdir: Path, host_table: Mapping[str, int] | None = None,
                 aetitle: str = "COMMON", port: int | None = None, max_pdu: int = 16384,
                 max_studies: int = 200, max_study_mb: int = 1024,
                 extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> None:
        self.host = HOST
        self.aetitle = aetitle
        self.env = dict(env) if env is not None else None
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._own_port = port is None
        self.port = port if port is not None else free_port()
        table = {ae: free_port() for ae in DEFAULT_HOST_AES}
        table.update(host_table or {})
        self.host_table: dict[str, int] = table
        self.storage_dir = self.workdir / "db" / aetitle
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "dcmqrscp.cfg"
        self.log_path = self.workdir / "dcmqrscp.log"
        self.max_pdu = max_pdu
        self.max_studies = max_studies
        self.max_study_mb = max_study_mb
        self.extra_args = list(extra_args)
        self.loaded: list[Path] = []
        self._proc: ManagedProcess | None = None

    def config_text(self) -> str:
        """The dcmqrscp.cfg text (layout of the spec rig's fixtures/dcmqrscp.cfg)."""
        hosts = "\n".join(
            f"h{i}_{ae.lower()} = ({ae}, {HOST}, {port})"
            for i, (ae, port) in enumerate(sorted(self.host_table.items()))
        )
        return (
            f"NetworkTCPPort  = {self.port}\n"
            f"MaxPDUSize      = {self.max_pdu}\n"
            "MaxAssociations = 16\n\n"
            f"HostTable BEGIN\n{hosts}\nHostTable END\n\n"
            "VendorTable BEGIN\nVendorTable END\n\n"
            "AETable BEGIN\n"
            f"{self.aetitle}  {self.storage_dir}  RW ({self.max_studies}, {self.max_study_mb}mb) ANY\n"
            "AETable END\n"
        )

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerError("dcmqrscp not started")
        return self._proc.pid

    def start(self, timeout: float = 10.0) -> DcmQRSCP:
        def make() -> ManagedProcess:
            self.config_path.write_text(self.config_text())
            return ManagedProcess(
                [DCMQRSCP, "-v", "-c", str(self.config_path), "--fork", *self.extra_args],
                self.log_path, cwd=self.workdir, env=self.env)

        self._proc = launch(make, lambda p: owns_listen_port(p.pid, self.port), "dcmqrscp start",
                            timeout,
                            self._repick if self._own_port else None)
        return self

    def _repick(self) -> None:
        self.port = free_port()

    def load(self, files: Iterable[Path | str] = (), scan_dir: Path | None = None,
             timeout: float = 120.0) -> None:
        """Store files into the archive with ``/usr/bin/storescu``."""
        paths = [Path(f) for f in files]
        storescu(self.port, paths, aec=self.aetitle, timeout=timeout, scan_dir=scan_dir)
        self.loaded.extend(paths)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()

    def log_text(self) -> str:
        return self._proc.log_text() if self._proc else ""

    def __enter__(self) -> DcmQRSCP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StoreSCP:
    """DCMTK ``storescp -aet STORESCP <port> -od <dir>``: a third-party C-MOVE
    destination whose received files tests can inspect in ``output_dir``."""

    def __init__(self, workdir: Path, aetitle: str = "STORESCP", port: int | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.host = HOST
        self.aetitle = aetitle
        self._own_port = port is None
        self.port = port if port is not None else free_port()
        self.workdir = Path(workdir)
        self.output_dir = self.workdir / "received"
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "storescp.log"
        self.extra_args = list(extra_args)
        self._proc: ManagedProcess | None = None

    def start(self, timeout: float = 10.0) -> StoreSCP:
        def make() -> ManagedProcess:
            return ManagedProcess(
                [STORESCP, "-v", "-aet", self.aetitle, "-od", str(self.output_dir),
                 *self.extra_args, str(self.port)],
                self.log_path, cwd=self.workdir)

        self._proc = launch(make, lambda p: owns_listen_port(p.pid, self.port),
                            "storescp start", timeout,
                            self._repick if self._own_port else None)
        return self

    def _repick(self) -> None:
        self.port = free_port()

    def received(self) -> list[Path]:
        return sorted(p for p in self.output_dir.iterdir() if p.is_file())

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()

    def log_text(self) -> str:
        return self._proc.log_text() if self._proc else ""

    def __enter__(self) -> StoreSCP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OrthancServer:
    """Orthanc run by hand (``Orthanc config.json``), never the system service.

    Its own storage/index directories under ``workdir``, DICOM and HTTP ports
    free, HTTP bound to 127.0.0.1 only (``RemoteAccessAllowed`` false) so data
    can be uploaded over REST.  ``modalities`` maps a symbolic name to
    ``[AET, host, port]`` (Orthanc's ``DicomModalities``) — C-MOVE destinations
    must be listed there.  C-GET/C-MOVE/C-FIND are allowed from any AE
    (``DicomAlwaysAllow*``) so tests need not register getscu's AE title.
    Debian 12 ships Orthanc 1.10.1 (C-GET SCP since 1.7.0).
    """

    def __init__(self, workdir: Path, aetitle: str = "ORTHANC",
                 modalities: Mapping[str, Sequence[Any]] | None = None,
                 dicom_port: int | None = None, http_port: int | None = None,
                 extra_config: Mapping[str, Any] | None = None) -> None:
        self.host = HOST
        self.aetitle = aetitle
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._own_port = dicom_port is None and http_port is None
        self.port = dicom_port if dicom_port is not None else free_port()
        self.http_port = http_port if http_port is not None else free_port()
        self.storage_dir = self.workdir / "storage"
        self.config_path = self.workdir / "orthanc.json"
        self.log_path = self.workdir / "orthanc.log"
        # [AET, host, port] or Orthanc's object form ({"AET": ..., "UseDicomTls": true})
        self.modalities = {k: dict(v) if isinstance(v, Mapping) else list(v)
                           for k, v in (modalities or {}).items()}
        self.extra_config = dict(extra_config or {})
        self._proc: ManagedProcess | None = None

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "Name": "dcmretrieve-test",
            "StorageDirectory": str(self.storage_dir),
            "IndexDirectory": str(self.storage_dir),
            "Plugins": [],
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomServerEnabled": True,
            "DicomAet": self.aetitle,
            "DicomPort": self.port,
            "DicomCheckCalledAet": False,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": self.modalities,
            "DicomScuTimeout": 10,
            "DicomScpTimeout": 30,
            "SaveJobs": False,
            "ConcurrentJobs": 2,
            "LuaScripts": [],
        }
        cfg.update(self.extra_config)
        return cfg

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @staticmethod
    def tls_config(certificate: Path, private_key: Path, trusted: Path,
                   remote_certificate_required: bool = True) -> dict[str, Any]:
        """``extra_config`` for DICOM TLS (Orthanc >= 1.9.0, tls.md §4.2): the
        DICOM port then speaks TLS only; the same certificate serves Orthanc's
        SCU connections to modalities with ``"UseDicomTls": true``."""
        return {
            "DicomTlsEnabled": True,
            "DicomTlsCertificate": str(certificate),
            "DicomTlsPrivateKey": str(private_key),
            "DicomTlsTrustedCertificates": str(trusted),
            "DicomTlsRemoteCertificateRequired": remote_certificate_required,
        }

    def _http_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/system", timeout=0.5) as rsp:
                return bool(rsp.status == 200) and port_is_open(self.port)
        except OSError:
            return False

    def start(self, timeout: float = 30.0) -> OrthancServer:
        def make() -> ManagedProcess:
            self.config_path.write_text(json.dumps(self.config(), indent=2))
            return ManagedProcess([ORTHANC, str(self.config_path)], self.log_path,
                                  cwd=self.workdir)

        self._proc = launch(make, lambda p: self._http_ready() and owns_listen_port(p.pid, self.port),
                            "Orthanc start", timeout,
                            self._repick if self._own_port else None)
        return self

    def _repick(self) -> None:
        self.port, self.http_port = free_port(), free_port()

    def upload(self, files: Iterable[Path | str], timeout: float = 30.0) -> list[dict[str, Any]]:
        """POST files to ``/instances`` (Orthanc's REST upload)."""
        answers = []
        for path in files:
            req = urllib.request.Request(self.url + "/instances", data=Path(path).read_bytes(),
                                         method="POST",
                                         headers={"Content-Type": "application/dicom"})
            with urllib.request.urlopen(req, timeout=timeout) as rsp:
                answers.append(json.loads(rsp.read()))
        return answers

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as rsp:
            return json.loads(rsp.read())

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop(timeout=10.0)

    def log_text(self) -> str:
        return self._proc.log_text() if self._proc else ""

    def __enter__(self) -> OrthancServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


FAKEQR_SCRIPT = Path(__file__).with_name("fakeqr.py")


class FakeQR:
    """Our pynetdicom Q/R SCP (``tests/support/fakeqr.py``) in a subprocess.

    ``mode``: ``qr`` (default), ``nofind`` (despite the name: only the FIND
    models are supported, so retrieve requests find no adequate context),
    ``stalltcp`` (accepts TCP, never answers), ``storeonly`` (Storage SCP
    only).  ``destinations`` maps AE title -> port for C-MOVE sub-associations,
    opened to ``dest_hosts`` in turn (default 127.0.0.1); ``host``: the
    listen address (``"::1"`` for the IPv6 tests).
    Faults are chosen per request by PatientID (see fakeqr's docstring).
    """

    def __init__(self, workdir: Path, mode: str = "qr", aetitle: str = "ANY-SCP",
                 destinations: Mapping[str, int] | None = None, port: int | None = None,
                 delay: float = 5.0, big_size: int | None = None,
                 extra_args: Sequence[str] = (), host: str = HOST,
                 dest_hosts: Sequence[str] = ()) -> None:
        self.host = host
        self.dest_hosts = list(dest_hosts)
        self.aetitle = aetitle
        self.mode = mode
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._own_port = port is None
        self.port = port if port is not None else free_port()
        self.destinations = dict(destinations or {})
        self.delay = delay
        self.big_size = big_size
        self.store_dir = self.workdir / "stored"
        self.log_path = self.workdir / "fakeqr.log"
        self.ready_file = self.workdir / "fakeqr.ready"
        self.extra_args = list(extra_args)
        self._proc: ManagedProcess | None = None

    def argv(self) -> list[str]:
        argv = [sys.executable, str(FAKEQR_SCRIPT), "--port", str(self.port),
                "--aet", self.aetitle, "--mode", self.mode, "--workdir", str(self.workdir),
                "--delay", str(self.delay), "--store-dir", str(self.store_dir),
                "--ready-file", str(self.ready_file)]
        for ae, port in self.destinations.items():
            argv += ["--dest", f"{ae}={port}"]
        for dest_host in self.dest_hosts:
            argv += ["--dest-host", dest_host]
        if self.host != HOST:
            argv += ["--host", self.host]
        if self.big_size is not None:
            argv += ["--big-size", str(self.big_size)]
        return argv + self.extra_args

    def start(self, timeout: float = 20.0) -> FakeQR:
        def make() -> ManagedProcess:
            self.ready_file.unlink(missing_ok=True)
            return ManagedProcess(self.argv(), self.log_path, cwd=self.workdir)

        # fakeqr writes the ready file once *it* has bound the port.
        self._proc = launch(make, lambda p: self.ready_file.exists()
                            and owns_listen_port(p.pid, self.port),
                            "fakeqr start", timeout, self._repick if self._own_port else None)
        return self

    def _repick(self) -> None:
        self.port = free_port()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.stop()

    def log_text(self) -> str:
        return self._proc.log_text() if self._proc else ""

    def __enter__(self) -> FakeQR:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

