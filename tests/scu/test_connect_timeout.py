"""``-to``: a TCP connect that does not complete in time (issue 8, item 4).

DCMTK 3.6.7 connects non-blocking and polls for ``-to`` seconds; when the
time runs out it reports the errno of its non-blocking connect plus
``(Timeout)``.  A listening socket whose accept queue is full drops the SYNs
of further connects, which provokes exactly that on loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import harness

pytestmark = [pytest.mark.network, pytest.mark.dcmtk("getscu", "movescu")]


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port that listens (backlog 0) but whose accept queue is full."""
    server = socket.socket()
    fillers: list[socket.socket] = []
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@pytest.mark.parametrize("tool, expected", [
    ("getscu", "F: Could not negotiate association: TCP Initialization Error: "
               "Operation now in progress (Timeout)\n"),
    ("movescu", "F: Association Request Failed:\n"
                "F: 0006:031c TCP Initialization Error: Operation now in progress (Timeout)\n"),
])
def test_connect_timeout_text(full_backlog: int, tmp_path: Path, tool: str, expected: str) -> None:
    args = ["-to", "1", "127.0.0.1", str(full_backlog), "-k", "PatientID=1"]
    pair = harness.Harness(tool, timeout=30).run_both(args, tmp_path)
    harness.assert_same(pair.dcmtk, pair.ours)
    assert pair.ours.stderr == expected
    assert pair.ours.rc == (61 if tool == "movescu" else 1)
