"""``--progress``: a live progress display on standard error (docs/progress.md).

Imported only when ``--progress`` is given (``common.progress_display``),
and shown only when standard error is a terminal: otherwise ``create``
returns None and the run is byte for byte the run without the option.

What a person sees, one line at the bottom of the terminal, redrawn in
place (``\\r``) by tqdm::

    request 1/2: 3/5 objects, 1.25 MiB, 410.00 KiB/s |██████    | [00:03<00:02]

* ``request i/n``: the current C-GET/C-MOVE request (query files x -r);
* ``objects done/expected``: expected from the responses' sub-operation
  counters (remaining + completed + failed + warning of the last
  response), done from the C-STOREs finished here (stored or not) or the counters
  (completed + failed + warning), whichever is higher (a C-MOVE to another
  AE receives nothing here); summed over the requests so far;
* the bytes received in C-STORE data sets and their rate; the ETA (tqdm's,
  from the object rate).

WHY log lines stay whole: while the display is on, ``oflog``'s console
writes go through ``guard`` (``oflog.set_console_guard``), which clears the
display's line, lets the log text out and redraws the display below it;
movescu's ``RECV: ...`` dots (stdout) are gathered and written the same way
as one line.  ``close`` leaves the final state on screen, on its own line.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable

from .. import oflog

#: at most this often the display is redrawn for byte counts (tqdm decides for objects)
REDRAW_EVERY = 0.2
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} objects{postfix} |{bar}| [{elapsed}<{remaining}]"


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def create(requests: int, stream: Any = None) -> "Progress | None":
    """The display for a run of ``requests`` requests, or None when
    standard error is not a terminal (then nothing changes)."""
    stream = sys.stderr if stream is None else stream
    if not _is_terminal(stream):
        return None
    return Progress(requests, stream)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TiB"  # pragma: no cover


class Progress:
    """The live display (see module docstring)."""

    def __init__(self, requests: int, stream: Any) -> None:
        from tqdm import tqdm

        self.stream = stream
        self.requests = max(1, requests)
        self.request = 0
        self.done_before = 0  # objects of the finished requests
        self.received = 0  # objects received in the current request
        self.reported = 0  # completed + failed + warning of its last response
        self.expected: int | None = None  # of the current request
        self.bytes = 0
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.closed = False
        self.bar = tqdm(total=None, file=stream, unit="obj", bar_format=BAR_FORMAT, dynamic_ncols=True,
                        leave=True, mininterval=REDRAW_EVERY, desc=self._desc(), postfix=self._postfix())
        oflog.set_console_guard(self.guard)

    # ---- what the tools report ----------------------------------------------------
    def begin_request(self) -> None:
        """A new request starts (the previous one's objects count as done)."""
        if self.request:
            self.done_before += max(self.received, self.reported)
        self.request += 1
        self.received = self.reported = 0
        self.expected = None
        self._update(force=True)

    def response(self, rsp: Any) -> None:
        """A C-GET/C-MOVE response (Pending or final) with its counters."""
        counts = [rsp.counter(name) for name in ("remaining", "completed", "failed", "warning")]
        if all(c is None for c in counts):
            return
        remaining, completed, failed, warning = (c or 0 for c in counts)
        self.reported = completed + failed + warning
        self.expected = self.reported + remaining
        self._update(force=True)

    def object_done(self) -> None:
        """One C-STORE data set received (stored or not)."""
        self.received += 1
        self._update(force=True)

    def bytes_in(self, n: int) -> None:
        """``n`` more bytes of a C-STORE data set (per PDV)."""
        self.bytes += n
        self._update()

    # ---- drawing ------------------------------------------------------------------
    def _desc(self) -> str:
        return f"request {max(1, self.request)}/{self.requests}"

    def _postfix(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-6)
        return f"{_size(self.bytes)}, {_size(self.bytes / elapsed)}/s"

    def _update(self, force: bool = False) -> None:
        if self.closed:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < REDRAW_EVERY:
            return
        self.last_draw = now
        bar = self.bar
        current = max(self.received, self.reported)
        bar.n = self.done_before + current
        if self.expected is not None:
            bar.total = self.done_before + max(self.expected, current)
        bar.set_description_str(self._desc(), refresh=False)
        bar.set_postfix_str(self._postfix(), refresh=False)
        bar.refresh()

    def guard(self, stream: Any, write: Callable[[], None]) -> None:
        """Write a log line (or movescu's RECV line) above the display."""
        if self.closed or not (stream is self.stream or _is_terminal(stream)):
            write()
            return
        self.bar.clear()
        write()
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
        self.bar.refresh()

    def close(self) -> None:
        """Draw the final state and leave it on its own line."""
        if self.closed:
            return
        self._update(force=True)
        self.closed = True
        oflog.set_console_guard(None)
        self.bar.close()
