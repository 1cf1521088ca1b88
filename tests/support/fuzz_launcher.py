"""Fork server of the differential fuzzer (see tests/support/difffuzz.py).

One single-threaded process per fuzzer worker.  It reads one JSON request
per line on standard input and answers one JSON line on standard output:

    {"argv": [...], "cwd": DIR, "env": {...}, "stdout": FILE, "stderr": FILE,
     "timeout": SECONDS, "netns": BOOL, "inproc": TOOL or null}
    -> {"rc": STATUS, "timeout": BOOL, "netns": BOOL}

For every request it forks; the child optionally enters a fresh network
namespace (``unshare(CLONE_NEWNET)``, loopback brought up: 127.0.0.1 and
::1 exist, nothing listens, no other address is reachable), changes to
``cwd``, puts ``stdout``/``stderr`` on the two files and /dev/null on
standard input, then

* ``inproc`` null: ``execve(argv[0], argv, env)`` (DCMTK, or our console
  script: the faithful way, a fresh interpreter);
* ``inproc`` a tool name: runs our console-script entry point in the forked
  child (``dcmretrieve.<tool>.main``), whose parent has pre-imported the
  heavy modules.  Ten times faster, for the large hand-run counts; the
  ``exec`` mode remains the reference.

A child still running after ``timeout`` seconds is killed with its process
group and reported as a time-out.  Nothing here is threaded, so fork is safe.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _enter_fresh_netns() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))
    return True


def netns_available() -> bool:
    """True if this process may create network namespaces (root, no seccomp
    refusal): tried in a throw-away child."""
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if _enter_fresh_netns() else 1)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _child(request: dict) -> None:
    """Runs in the forked child; never returns."""
    try:
        os.setpgid(0, 0)
        if request.get("netns") and not _enter_fresh_netns():
            os._exit(125)
        os.chdir(request["cwd"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in (null, out, err):
            os.close(fd)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        argv = [os.fsencode(a) for a in request["argv"]]
        env = {os.fsencode(k): os.fsencode(v) for k, v in request["env"].items()}
        tool = request.get("inproc")
        if not tool:
            os.execve(argv[0], argv, env)
        _run_inproc(tool, request["argv"], request["env"])
    except BaseException:  # noqa: BLE001 - a child must never return into the loop
        try:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(126)


def _run_inproc(tool: str, argv: list[str], env: dict[str, str]) -> None:
    """The console script's ``sys.exit(main())`` in this (forked) process,
    with fresh standard streams like a new interpreter would have."""
    import io

    os.environ.clear()
    os.environ.update(env)
    sys.argv = list(argv)
    sys.stdin = None  # type: ignore[assignment]
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", errors="strict")
    sys.stderr = io.TextIOWrapper(
        open(2, "wb", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    module = __import__(f"dcmretrieve.{tool}", fromlist=["main"])
    status = 1
    try:
        status = module.main()
    except SystemExit as exc:  # pragma: no cover - main returns
        status = exc.code if isinstance(exc.code, int) else 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(int(status) & 0xFF)


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    deadline = time.monotonic() + timeout
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status = os.waitpid(pid, 0)
                return -999, True
            ready, _, _ = select.select([pidfd], [], [], remaining)
            if ready:
                _, status = os.waitpid(pid, 0)
                # the tool's process group may have left children behind
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                return os.waitstatus_to_exitcode(status), False
    finally:
        os.close(pidfd)


def _preimport() -> None:
    """What the in-process mode's children would otherwise import each time."""
    import dcmretrieve.cli.app  # noqa: F401
    import dcmretrieve.getscu  # noqa: F401
    import dcmretrieve.movescu  # noqa: F401

    for name in ("scu.get", "scu.move", "oflog", "dicom.keys", "dicom.dicts", "dicom.query"):
        try:
            __import__(f"dcmretrieve.{name}")
        except ImportError:
            pass


def main() -> int:
    if "--preimport" in sys.argv[1:]:
        _preimport()
    print(json.dumps({"ready": True, "netns": netns_available()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        rc, timed_out = _wait(pid, float(request.get("timeout", 30)))
        print(json.dumps({"rc": rc, "timeout": timed_out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
