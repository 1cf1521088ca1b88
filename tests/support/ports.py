"""The one way the tests pick TCP ports on 127.0.0.1.

``free_port()`` lets the kernel choose (bind to port 0), so concurrent test
runs do not collide the way fixed ports would.  There is a small window before
the caller binds it; ephemeral ports are handed out round-robin, which makes an
immediate reuse by someone else unlikely (servers.py also checks that *its*
process holds the port and retries otherwise); and a port is never handed
out twice in one test process.

``free_port(below_ephemeral=True)`` picks a free port *below* the ephemeral
range instead, for a peer port where nothing must listen: a connect to a closed
port inside the ephemeral range can pick that very port as its source port and
connect to itself (TCP simultaneous open), which turns "connection refused"
into a protocol error now and then; and ports handed out by bind(0) are never
below the range, so other suites cannot take these either.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"


def ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (32768 if unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


#: every port handed out in this process: never twice (a test that picks a
#: listening port and then starts a server picking its own could otherwise
#: be given the same number twice by the kernel's round robin)
_GIVEN: set[int] = set()


def free_port(*, below_ephemeral: bool = False) -> int:
    """A TCP port on 127.0.0.1 that is free right now; from the kernel (bind
    to 0), one not handed out before in this process (see the module
    docstring)."""
    low = ephemeral_low()
    rnd = random.Random()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, rnd.randrange(max(1024, low - 12000), low) if below_ephemeral else 0))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        if below_ephemeral:  # where nothing listens: the same port again is harmless
            return port
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port
    raise RuntimeError("no free port" + (" below the ephemeral range" if below_ephemeral else ""))
