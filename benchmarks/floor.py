"""The floor of a retrieval on this machine: the same bytes over loopback
TCP into files of the same sizes, with nothing but socket and file calls.

    .venv/bin/python benchmarks/floor.py receive HOST PORT OUTDIR   # the measured side
    .venv/bin/python benchmarks/floor.py send DIR [DIR ...]          # self-test: one run, timed

Why: a retrieve SCU cannot be faster than receiving the objects' bytes and
writing each to its own file.  The receiver here connects (as getscu does),
reads length-prefixed objects with ``recv_into`` into one reusable buffer
and writes each object to a new file as it arrives (``open``, ``write``
from the buffer, ``close``): no DICOM parsing, no DIMSE messages and no
per-object round trip (a C-GET answers every C-STORE before the next one
comes; this floor does not wait).  It imports only the standard library, so
its time is the Python interpreter's start-up (about 15 ms) plus the
system calls.  ``benchmarks/retrieve.py`` runs it as the tool ``floor`` on
the get scenarios, fed with the archive's files of the study, and reports its
wall and CPU time beside DCMTK's and ours.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Sequence

_LENGTH = struct.Struct(">I")
_BUFFER = 1 << 18


def receive(host: str, port: int, out_dir: str) -> int:
    """Connect, then write every length-prefixed object to ``out_dir/<n>``
    until the sender closes; returns the number of objects."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(_BUFFER)
    view = memoryview(buf)
    start = end = 0
    count = 0
    fd = -1
    left = 0  # bytes of the current object still to write
    while True:
        if start == end:
            start = end = 0
        got = sock.recv_into(view[end:])
        if not got:
            break
        end += got
        while start < end:
            if fd < 0:
                if end - start < 4:
                    if start:  # keep the partial length at the front
                        buf[:end - start] = bytes(view[start:end])
                        start, end = 0, end - start
                    break
                (left,) = _LENGTH.unpack_from(buf, start)
                start += 4
                fd = os.open(os.path.join(out_dir, str(count)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
                count += 1
            take = min(left, end - start)
            written = 0
            while written < take:
                written += os.write(fd, view[start + written:start + take])
            start += take
            left -= take
            if not left:
                os.close(fd)
                fd = -1
    sock.close()
    return count


class Sender:
    """Serves the given files' bytes, length-prefixed, to one connection."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.payload = b"".join(_LENGTH.pack(len(data)) + data for data in (f.read_bytes() for f in files))
        self.count = len(files)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread: threading.Thread | None = None

    def serve_once(self) -> None:
        """Accept one receiver in a thread and send everything to it."""
        def run() -> None:
            conn, _ = self.listener.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.sendall(self.payload)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait(self, timeout: float = 60.0) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def close(self) -> None:
        self.listener.close()


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "receive":
        receive(argv[1], int(argv[2]), argv[3])
        return 0
    if len(argv) >= 2 and argv[0] == "send":
        import subprocess
        import tempfile
        import time

        files = sorted(p for d in argv[1:] for p in Path(d).rglob("*") if p.is_file())
        sender = Sender(files)
        with tempfile.TemporaryDirectory() as out:
            sender.serve_once()
            begin = time.perf_counter()
            child = subprocess.Popen([sys.executable, __file__, "receive", "127.0.0.1", str(sender.port), out])
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - begin
            child.returncode = os.waitstatus_to_exitcode(status)
            sender.wait()
            got = len(os.listdir(out))
        sender.close()
        print(f"{got}/{len(files)} objects, {len(sender.payload) / 1e6:.1f} MB: wall {wall:.3f} s, "
              f"CPU {usage.ru_utime + usage.ru_stime:.3f} s (user {usage.ru_utime:.3f}, sys {usage.ru_stime:.3f})")
        return 0 if got == len(files) and child.returncode == 0 else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
