"""log4cplus appenders as Python handlers: the ``Appender`` base (threshold,
filter chain, layout, lock file) and the local ones: console, null, file,
size-rolled and time-rolled file.  The network appenders are in
``netappenders``; building appenders from a ``-lc`` file in ``factory``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Callable

from .filters import ACCEPT, DENY, FILTERS, Filter
from .layouts import Layout, SimpleLayout, make_layout
from .levels import NOT_SET, parse_level
from .properties import Properties, atoi
from .state import loglog


class Appender(logging.Handler):
    """log4cplus Appender: threshold, filter chain, layout, then ``append``."""

    def __init__(self, layout: Layout | None = None) -> None:
        super().__init__()
        self.layout: Layout = layout or SimpleLayout()
        self.threshold = NOT_SET
        self.filters: list[Filter] = []

    def configure_base(self, props: Properties) -> None:
        """The properties every appender understands (layout, Threshold,
        filters.N), with log4cplus' diagnostics for bad entries."""
        if props.exists("layout"):
            self.layout = make_layout(props.get("layout"), props.subset("layout.")) or self.layout
        if props.exists("Threshold"):
            self.threshold = parse_level(props.get("Threshold"))
        filters = props.subset("filters.")
        i = 1
        while filters.exists(str(i)):
            factory = filters.get(str(i))
            maker = FILTERS.get(factory)
            if maker is None:
                loglog("ERROR", "Appender::ctor()- Cannot find FilterFactory: " + factory)
            else:
                self.filters.append(maker(filters.subset(f"{i}.")))
            i += 1
        if props.get_bool("UseLockFile", False):
            name = props.get("LockFile") or self.default_lock_name()
            if name:
                self.open_lock(name)

    # -- inter-process lock (UseLockFile): fcntl lock on a separate file ----
    lock_fd: int | None = None

    def default_lock_name(self) -> str:
        return ""

    def open_lock(self, name: str) -> None:
        try:
            self.lock_fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            loglog("ERROR", "Unable to open lock file: " + name)

    def close(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None
        super().close()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        if record.levelno < self.threshold:
            return False
        for f in self.filters:
            decision = f.decide(record)
            if decision == DENY:
                return False
            if decision == ACCEPT:
                break
        with self.lock:  # type: ignore[union-attr]
            try:
                if self.lock_fd is None:
                    self.append(record)
                else:
                    import fcntl

                    fcntl.lockf(self.lock_fd, fcntl.LOCK_EX)
                    try:
                        self.append(record)
                    finally:
                        fcntl.lockf(self.lock_fd, fcntl.LOCK_UN)
            except Exception:  # a logger must never take the program down
                pass
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def append(self, record: logging.LogRecord) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class ConsoleAppender(Appender):
    """Writes to the *current* ``sys.stderr``/``sys.stdout`` (looked up at
    emit time, so redirection and test capture work); by default flushes
    after every message, which keeps the program-order interleaving with
    movescu's ``RECV:`` output on stdout."""

    def __init__(self, to_stderr: bool = False, immediate_flush: bool = False, layout: Layout | None = None) -> None:
        super().__init__(layout)
        self.to_stderr = to_stderr
        self.immediate_flush = immediate_flush

    def append(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if self.to_stderr else sys.stdout
        if stream is None:
            return
        text = self.layout.format(record)

        def write() -> None:
            _write_text(stream, text)
            if self.immediate_flush:
                stream.flush()

        guard = _console_guard
        if guard is None:
            write()
        else:  # a live display owns the terminal: it clears its line around the write
            guard(stream, write)


#: ``guard(stream, write)`` while a live display (``--progress``) is on the
#: terminal: it calls ``write()`` with its line cleared and redraws after,
#: so log lines appear whole above it
_console_guard: Callable[[Any, Callable[[], None]], None] | None = None


def set_console_guard(guard: Callable[[Any, Callable[[], None]], None] | None) -> None:
    """Route console writes through ``guard`` (None: write directly again)."""
    global _console_guard
    _console_guard = guard


def console_guard() -> Callable[[Any, Callable[[], None]], None] | None:
    """The current guard (movescu's ``RECV:`` progress on stdout uses it too)."""
    return _console_guard


def _write_text(stream: Any, text: str) -> None:
    """Write like DCMTK writes bytes: names that came from the file system
    or the network as undecodable bytes (surrogate escapes) go out as those
    very bytes, not as an encoding error or a ``\\udcxx`` escape."""
    if text.isascii():
        stream.write(text)
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        raw = getattr(stream, "buffer", None)
        if raw is not None:
            stream.flush()
            raw.write(text.encode(encoding, "surrogateescape"))
            raw.flush()
            return
        text = text.encode(encoding, "surrogateescape").decode(encoding, "replace")
    except LookupError:
        pass
    stream.write(text)


class NullAppender(Appender):
    """Discards everything (but counts as an appender for log4cplus)."""

    def append(self, record: logging.LogRecord) -> None:
        return None


class FileAppender(Appender):
    """log4cplus FileAppender: ``File``, ``Append`` (default false, i.e.
    truncate), ``ImmediateFlush`` (default true), ``BufferSize``.  The file is
    opened at configuration time, like log4cplus does; an unopenable file is
    reported once (``Unable to open file: <name>``) and then ignored."""

    default_append = False

    def __init__(self, props: Properties) -> None:
        super().__init__()
        self.filename = props.get("File")
        self.immediate_flush = props.get_bool("ImmediateFlush", True)
        self.append_mode = props.get_bool("Append", self.default_append)
        self.buffer_size = props.get_int("BufferSize", 0)
        self.stream: Any = None
        self.error_reported = False

    def open_file(self, append: bool) -> None:
        if not self.filename:
            self.report("Invalid filename")
            return
        try:
            buffering = self.buffer_size if self.buffer_size > 0 else -1
            # binary: exact bytes and a cheap tell() for the rolling appender
            self.stream = open(self.filename, "ab" if append else "wb", buffering=buffering)
        except OSError:
            self.stream = None
            self.report("Unable to open file: " + self.filename)

    def default_lock_name(self) -> str:
        return self.filename + ".lock" if self.filename else ""

    def report(self, msg: str) -> None:
        """log4cplus' OnlyOnceErrorHandler."""
        if not self.error_reported:
            self.error_reported = True
            loglog("ERROR", msg)

    def init(self) -> None:
        self.open_file(self.append_mode)

    def append(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            return
        self.stream.write(self.layout.format(record).encode("utf-8", "surrogateescape"))
        if self.immediate_flush:
            self.stream.flush()

    def tell(self) -> int:
        return self.stream.tell() if self.stream is not None else 0

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self.close_stream()
        super().close()

    def close_stream(self) -> None:
        if self.stream is not None:
            try:
                self.stream.close()
            except OSError:
                pass
            self.stream = None


def _roll_files(base: str, max_index: int) -> None:
    """log4cplus rolloverFiles: drop ``base.N``, shift ``i`` to ``i+1``."""
    try:
        os.remove(f"{base}.{max_index}")
    except OSError:
        pass
    for i in range(max_index - 1, 0, -1):
        _rename(f"{base}.{i}", f"{base}.{i + 1}")


def _rename(src: str, dst: str) -> None:
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass
    except OSError as exc:
        loglog("ERROR", f"Failed to rename file from {src} to {dst}; error {exc.errno}")


_MIN_ROLLING_SIZE = 200 * 1024


class RollingFileAppender(FileAppender):
    """Size-rotated file: ``MaxFileSize`` (``5MB``/``100KB``/bytes, at least
    200 KB), ``MaxBackupIndex`` (default 1); rotation renames ``file`` to
    ``file.1`` after the write that crossed the limit."""

    default_append = True

    def __init__(self, props: Properties) -> None:
        super().__init__(props)
        size = 10 * 1024 * 1024
        text = props.get("MaxFileSize").upper()
        if text:
            size = atoi(text)
            if size != 0:
                if len(text) > 2 and text.endswith("MB"):
                    size *= 1024 * 1024
                elif len(text) > 2 and text.endswith("KB"):
                    size *= 1024
        # log4cplus silently raises sizes below its 200 KB minimum
        size = max(size, _MIN_ROLLING_SIZE)
        self.max_size = size
        self.max_backup = max(props.get_int("MaxBackupIndex", 1), 1)

    def append(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            return
        if self.tell() > self.max_size:
            self.rollover()
        super().append(record)
        if self.tell() > self.max_size:
            self.rollover()

    def rollover(self) -> None:
        if self.stream is not None:
            self.stream.flush()
        self.close_stream()
        _roll_files(self.filename, self.max_backup)
        _rename(self.filename, self.filename + ".1")
        self.open_file(append=False)


_SCHEDULES = ("MONTHLY", "WEEKLY", "DAILY", "TWICE_DAILY", "HOURLY", "MINUTELY")
_SCHEDULE_SUFFIX = {
    "MONTHLY": "%Y-%m",
    "WEEKLY": "%Y-%W",
    "DAILY": "%Y-%m-%d",
    "TWICE_DAILY": "%Y-%m-%d-%p",
    "HOURLY": "%Y-%m-%d-%H",
    "MINUTELY": "%Y-%m-%d-%H-%M",
}


class DailyRollingFileAppender(FileAppender):
    """Time-rotated file (``Schedule``, ``MaxBackupIndex`` default 10).  As in
    DCMTK 3.6.7 (whose log4cplus has no ``RollOnClose`` switch), the file is
    also rolled when the program ends: after a run ``<File>`` is empty and the messages are in
    ``<File>.<period>`` (an existing one is shifted to ``.1``, ``.2``…)."""

    default_append = True

    def __init__(self, props: Properties) -> None:
        super().__init__(props)
        sched = props.get("Schedule").upper()
        if sched not in _SCHEDULES:
            loglog("WARN", 'DailyRollingFileAppender::ctor()- "Schedule" not valid: ' + props.get("Schedule"))
            sched = "DAILY"
        self.schedule = sched
        self.max_backup = props.get_int("MaxBackupIndex", 10)
        now = time.time()
        self.period_start = self._period_start(now)
        self.scheduled = self._scheduled_name(self.period_start)
        self.next_rollover = self._next_period(self.period_start)

    def _period_start(self, stamp: float) -> float:
        tm = time.localtime(stamp)
        y, mo, d, h, mi = tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min
        s = self.schedule
        if s == "MONTHLY":
            d, h, mi = 1, 0, 0
        elif s == "WEEKLY":
            d, h, mi = d - (tm.tm_wday + 1) % 7, 0, 0  # weeks start on Sunday
        elif s == "DAILY":
            h, mi = 0, 0
        elif s == "TWICE_DAILY":
            h, mi = (0 if h < 12 else 12), 0
        elif s == "HOURLY":
            mi = 0
        return time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))

    def _next_period(self, start: float) -> float:
        tm = time.localtime(start)
        y, mo, d, h, mi = tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min
        s = self.schedule
        if s == "MONTHLY":
            mo += 1
        elif s == "WEEKLY":
            d += 7
        elif s == "DAILY":
            d += 1
        elif s == "TWICE_DAILY":
            h += 12
        elif s == "HOURLY":
            h += 1
        else:
            mi += 1
        return time.mktime((y, mo, d, h, mi, 0, 0, 0, -1))

    def _scheduled_name(self, stamp: float) -> str:
        return self.filename + "." + time.strftime(_SCHEDULE_SUFFIX[self.schedule], time.localtime(stamp))

    def append(self, record: logging.LogRecord) -> None:
        if record.created >= self.next_rollover:
            self.rollover()
        super().append(record)

    def rollover(self) -> None:
        if self.stream is not None:
            self.stream.flush()
        self.close_stream()
        _roll_files(self.scheduled, self.max_backup)
        _rename(self.scheduled, self.scheduled + ".1")
        _rename(self.filename, self.scheduled)
        self.open_file(append=False)
        now = time.time()
        if now >= self.next_rollover:
            self.period_start = self._period_start(now)
            self.scheduled = self._scheduled_name(self.period_start)
            self.next_rollover = self._next_period(self.period_start)

    def close(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self.filename and not self.closed_once:
                self.closed_once = True
                self.rollover()
        super().close()

    closed_once = False
