"""DCMTK's logging (oflog = log4cplus 1.2) rebuilt on Python's ``logging``.

DCMTK writes every diagnostic through log4cplus loggers named ``dcmtk.*``,
and scripts parse that output, so it is reproduced exactly: level letters
(``%P``), one prefix per line of a multi-line message, WARN by default,
``-q/-v/-d/-ll``, ``-lc`` property files (appenders, layouts, filters,
variables, even log4cplus' own ``log4cplus:ERROR`` diagnostics), quiet mode,
``--arguments`` and movescu's progress switch.  DCMTK 3.6.7 is the oracle for
every detail below; where it differs from log4cplus' documentation (e.g. the
property is ``logToStdErr``, not ``logToStderr``) the binary wins.

Design: the Python logger ``dcmtk`` stands in for log4cplus' root logger.  It
never propagates, so nothing reaches Python's root handlers or
``logging.lastResort``.  A ``-lc`` file's root logger is merged into
``dcmtk`` (``_apply_properties``); since no other logger sits between the
two for the names DCMTK uses, this reproduces the log4cplus hierarchy
exactly (levels, appenders, additivity).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Iterable

from .errors import CommandLineError

# ---------------------------------------------------------------------------
# levels and logger names (the contract other modules code against)

TRACE = 5
DEBUG = logging.DEBUG
INFO = logging.INFO
WARN = logging.WARNING
ERROR = logging.ERROR
FATAL = logging.CRITICAL
#: log4cplus' OFF_LOG_LEVEL: above every level a message can have.
OFF = logging.CRITICAL + 10
#: log4cplus' NOT_SET_LOG_LEVEL (inherit from the parent).
NOT_SET = logging.NOTSET

logging.addLevelName(TRACE, "TRACE")

NET = "dcmtk.dcmnet"
DATA = "dcmtk.dcmdata"
PROGRESS = "dcmtk.apps.movescu.progress"
#: Python logger standing in for log4cplus' root logger.
ROOT = "dcmtk"

#: ``%p`` texts: log4cplus' names, not Python's WARNING/CRITICAL.
_LEVEL_NAMES: dict[int, str] = {
    TRACE: "TRACE",
    DEBUG: "DEBUG",
    INFO: "INFO",
    WARN: "WARN",
    ERROR: "ERROR",
    FATAL: "FATAL",
    OFF: "OFF",
}
#: ``%P`` letters.
_LEVEL_LETTERS: dict[int, str] = {k: v[0] for k, v in _LEVEL_NAMES.items()}

#: log4cplus' LogLevelManager::fromString (after upper-casing).
_LEVEL_BY_NAME: dict[str, int] = {
    "OFF": OFF,
    "FATAL": FATAL,
    "ERROR": ERROR,
    "WARN": WARN,
    "INFO": INFO,
    "DEBUG": DEBUG,
    "TRACE": TRACE,
    "ALL": TRACE,
}


def level_name(levelno: int) -> str:
    """log4cplus' name of a level (``%p``)."""
    name = _LEVEL_NAMES.get(levelno)
    if name is not None:
        return name
    return "UNKNOWN"  # never happens with the levels the tools use


def level_letter(levelno: int) -> str:
    """DCMTK's one-letter level (``%P``)."""
    return _LEVEL_LETTERS.get(levelno) or level_name(levelno)[:1]


def parse_level(text: str) -> int:
    """log4cplus' ``fromString``: case-insensitive; ``NOT_SET`` if unknown."""
    return _LEVEL_BY_NAME.get(text.upper(), NOT_SET)


def app_logger(tool: str) -> logging.Logger:
    """The application logger ``dcmtk.apps.<tool>``."""
    return logging.getLogger("dcmtk.apps." + tool)


def _process_start_time() -> float:
    """When this process started (log4cplus' time base for ``%r`` and
    TTCCLayout is its start-up, i.e. program start); from /proc on Linux,
    else the import time of this module."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22: starttime, in clock ticks since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        now = time.time()
        return now - age if 0 <= age < 3600 else now
    except (OSError, ValueError, IndexError, AttributeError):
        return time.time()


#: Time base of ``%r`` and TTCCLayout (log4cplus: library start-up).
_START_TIME = _process_start_time()

# ---------------------------------------------------------------------------
# module state


class _State:
    """What the last ``setup`` configured; read by the query functions."""

    def __init__(self) -> None:
        self.root_level: int = WARN
        self.root_handlers: list[logging.Handler] = []
        self.configured: list[str] = []  # Python loggers we changed
        self.all_handlers: list[logging.Handler] = []
        self.loglog_quiet: bool = False
        self.no_appender_warned: bool = False
        self.chain_cache: dict[str, bool] = {}


_state = _State()


def _loglog(kind: str, msg: str) -> None:
    """log4cplus' LogLog: internal diagnostics as ``log4cplus:ERROR <msg>``
    on stderr, silenced in quiet mode (DCMTK couples it to ``-q``)."""
    if _state.loglog_quiet:
        return
    stream = sys.stderr
    if stream is None:
        return
    stream.write(f"log4cplus:{kind} {msg}\n")
    stream.flush()


def _silence_foreign() -> None:
    """pynetdicom and pydicom log through their own loggers.  DCMTK never
    prints such messages and evaluating them costs time on the hot path, so
    they are switched off completely and never reach Python's root."""
    for name in ("pynetdicom", "pydicom"):
        lg = logging.getLogger(name)
        lg.setLevel(logging.CRITICAL + 1)
        lg.propagate = False


# ---------------------------------------------------------------------------
# layouts


def _record_message(record: logging.LogRecord) -> str:
    msg = record.msg
    if record.args or not isinstance(msg, str):
        return record.getMessage()
    return msg


class Layout:
    """log4cplus Layout: turns a record into the exact text an appender writes."""

    def format(self, record: logging.LogRecord) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class SimpleLayout(Layout):
    """``LEVEL - message``; multi-line messages are *not* split (oracle)."""

    def format(self, record: logging.LogRecord) -> str:
        return level_name(record.levelno) + " - " + _record_message(record) + "\n"


class TTCCLayout(Layout):
    """``<ms since start | DateFormat> [<thread>] LEVEL logger <NDC> - message``."""

    def __init__(self, date_format: str = "", use_gmtime: bool = False) -> None:
        self.date_format = date_format
        self.use_gmtime = use_gmtime

    def format(self, record: logging.LogRecord) -> str:
        if self.date_format:
            stamp = format_time(self.date_format, record.created, self.use_gmtime)
        else:
            stamp = str(int((record.created - _START_TIME) * 1000))
        return (
            f"{stamp} [{record.thread}] {level_name(record.levelno)} "
            f"{record.name} <> - {_record_message(record)}\n"
        )


def format_time(fmt: str, stamp: float, use_gmtime: bool) -> str:
    """log4cplus ``Time::getFormattedTime``: ``%q`` (milliseconds, 3 digits),
    ``%Q`` (``mmm.uuu``) and ``%s`` (epoch seconds) are expanded first, the
    rest goes to strftime (``%%`` survives the first pass as ``%%``)."""
    if not fmt:
        return ""
    secs = int(stamp)
    usec = int(round((stamp - secs) * 1_000_000))
    if usec >= 1_000_000:
        secs += 1
        usec -= 1_000_000
    out: list[str] = []
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c == "%" and i + 1 < n:
            d = fmt[i + 1]
            if d == "q":
                out.append(f"{usec // 1000:03d}")
            elif d == "Q":
                out.append(f"{usec // 1000:03d}.{usec % 1000:03d}")
            elif d == "s":
                out.append(str(secs))
            else:
                out.append("%" + d)
            i += 2
            continue
        if c == "%":  # trailing lone '%': log4cplus drops it
            i += 1
            continue
        out.append(c)
        i += 1
    tm = time.gmtime(secs) if use_gmtime else time.localtime(secs)
    try:
        return time.strftime("".join(out), tm)
    except ValueError:  # pragma: no cover - invalid directive on odd libcs
        return "".join(out)


_HOSTNAMES: dict[bool, str] = {}


def hostname(fqdn: bool = False) -> str:
    """log4cplus ``getHostname``: gethostname(), or its canonical name."""
    cached = _HOSTNAMES.get(fqdn)
    if cached is not None:
        return cached
    import socket

    name = socket.gethostname()
    if fqdn:
        try:
            name = socket.gethostbyname_ex(name)[0]
        except OSError:
            pass
    _HOSTNAMES[fqdn] = name
    return name


# a converter turns (record, line) into text
_Conv = Callable[[logging.LogRecord, str], str]


def _conv_literal(text: str) -> _Conv:
    return lambda record, line: text


def _conv_logger(precision: int) -> _Conv:
    if precision <= 0:
        return lambda record, line: record.name

    def conv(record: logging.LogRecord, line: str) -> str:
        # transcription of log4cplus' rfind loop (npos arithmetic included)
        name = record.name
        end = len(name) - 1
        for _ in range(precision):
            pos = end - 1
            end = name.rfind(".") if pos < 0 else name.rfind(".", 0, pos + 1)
            if end < 0:
                return name
        return name[end + 1 :]

    return conv


def _conv_date(fmt: str, use_gmtime: bool) -> _Conv:
    return lambda record, line: format_time(fmt, record.created, use_gmtime)


def _location(record: logging.LogRecord) -> str:
    return f"{record.pathname}:{record.lineno}" if record.pathname else ":"


_SIMPLE_CONVERTERS: dict[str, _Conv] = {
    "m": lambda record, line: line,
    "n": lambda record, line: "\n",
    "p": lambda record, line: level_name(record.levelno),
    "P": lambda record, line: level_letter(record.levelno),
    "b": lambda record, line: os.path.basename(record.pathname or ""),
    "F": lambda record, line: record.pathname or "",
    "L": lambda record, line: str(record.lineno) if record.lineno > 0 else "",
    "l": _location,
    "M": lambda record, line: record.funcName or "",
    "i": lambda record, line: str(os.getpid()),
    "t": lambda record, line: str(record.thread),
    "T": lambda record, line: str(threading.get_native_id()),
    "r": lambda record, line: str(int((record.created - _START_TIME) * 1000)),
    "h": lambda record, line: hostname(False),
    "H": lambda record, line: hostname(True),
}


class PatternLayout(Layout):
    """log4cplus' PatternLayout incl. DCMTK's ``%P`` and ``FormatEachLine``
    (default on: every line of a message is formatted with the full pattern,
    so an empty line becomes ``I: `` under ``%P: %m%n``).

    The parser is a transcription of log4cplus' state machine, including its
    quirks: a trailing ``%`` is a literal, ``%8.5c`` truncates from the left
    and then does not pad, unknown conversion characters stay literal after a
    ``log4cplus:ERROR Unexpected char`` diagnostic.
    """

    def __init__(self, pattern: str, format_each_line: bool = True) -> None:
        self.pattern = pattern
        self.format_each_line = format_each_line
        self.converters = self._parse(pattern)

    # -- parsing ---------------------------------------------------------
    def _parse(self, pattern: str) -> list[_Conv]:
        convs: list[_Conv] = []
        literal = ""
        state = "literal"
        pos = 0
        n = len(pattern)
        min_len = -1
        max_len = 0x7FFFFFFF
        left = False

        def extract_option() -> str:
            nonlocal pos
            if pos < n and pattern[pos] == "{":
                end = pattern.find("}", pos)
                if end >= 0:
                    opt = pattern[pos + 1 : end]
                    pos = end + 1
                    return opt
                _loglog(
                    "ERROR",
                    "No matching '}' found in conversion pattern string " f'"{pattern}"',
                )
                pos = n
            return ""

        def finalize(c: str) -> None:
            nonlocal literal, state, min_len, max_len, left
            conv: _Conv | None
            if c == "c":
                opt = extract_option()
                conv = _conv_logger(_atoi(opt))
            elif c in "dD":
                opt = extract_option() or "%Y-%m-%d %H:%M:%S"
                conv = _conv_date(opt, c == "d")
            elif c == "x":
                conv = _conv_literal("")  # NDC: DCMTK never pushes one (no {option})
            elif c == "X":
                extract_option()  # MDC key: DCMTK never sets an MDC
                conv = _conv_literal("")
            else:
                conv = _SIMPLE_CONVERTERS.get(c)
                if conv is None:
                    _loglog("ERROR", f"Unexpected char [{c}] at position {pos} in conversion pattern.")
                    conv = _conv_literal(literal)
            convs.append(_formatted(conv, min_len, max_len, left))
            literal = ""
            state = "literal"
            min_len, max_len, left = -1, 0x7FFFFFFF, False

        while pos < n:
            c = pattern[pos]
            pos += 1
            if state == "literal":
                if pos == n:
                    literal += c
                    continue
                if c == "%":
                    if pattern[pos] == "%":
                        literal += c
                        pos += 1
                    else:
                        if literal:
                            convs.append(_conv_literal(literal))
                        literal = "%"
                        state = "converter"
                        min_len, max_len, left = -1, 0x7FFFFFFF, False
                else:
                    literal += c
            elif state == "converter":
                literal += c
                if c == "-":
                    left = True
                elif c == ".":
                    state = "dot"
                elif c.isdigit() and c.isascii():
                    min_len = int(c)
                    state = "min"
                else:
                    finalize(c)
            elif state == "min":
                literal += c
                if c.isdigit() and c.isascii():
                    min_len = min_len * 10 + int(c)
                elif c == ".":
                    state = "dot"
                else:
                    finalize(c)
            elif state == "dot":
                literal += c
                if c.isdigit() and c.isascii():
                    max_len = int(c)
                    state = "max"
                else:
                    _loglog(
                        "ERROR",
                        f"Error occurred in position {pos}.\n"
                        f' Was expecting digit, instead got char "{c}".',
                    )
                    state = "literal"
            else:  # max
                literal += c
                if c.isdigit() and c.isascii():
                    max_len = max_len * 10 + int(c)
                else:
                    finalize(c)
        if literal:
            convs.append(_conv_literal(literal))
        return convs

    # -- formatting --------------------------------------------------------
    def format(self, record: logging.LogRecord) -> str:
        msg = _record_message(record)
        convs = self.converters
        if self.format_each_line and "\n" in msg:
            return "".join("".join(c(record, line) for c in convs) for line in msg.split("\n"))
        return "".join(c(record, msg) for c in convs)


def _formatted(conv: _Conv, min_len: int, max_len: int, left: bool) -> _Conv:
    """Apply log4cplus' FormattingInfo: truncate from the left to ``max_len``,
    else pad to ``min_len`` (never both)."""
    if min_len < 0 and max_len == 0x7FFFFFFF:
        return conv

    def fmt(record: logging.LogRecord, line: str) -> str:
        s = conv(record, line)
        if len(s) > max_len:
            return s[len(s) - max_len :]
        if len(s) < min_len:
            pad = " " * (min_len - len(s))
            return s + pad if left else pad + s
        return s

    return fmt


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


class DefaultLayout(Layout):
    """The default set-up's ``%P: %m%n`` (FormatEachLine), hand-inlined
    because it runs for every INFO line of a verbose transfer."""

    def format(self, record: logging.LogRecord) -> str:
        msg = _record_message(record)
        prefix = (_LEVEL_LETTERS.get(record.levelno) or level_letter(record.levelno)) + ": "
        if "\n" not in msg:
            return prefix + msg + "\n"
        return prefix + ("\n" + prefix).join(msg.split("\n")) + "\n"


# ---------------------------------------------------------------------------
# filters (log4cplus::spi)

DENY, NEUTRAL, ACCEPT = -1, 0, 1


class Filter:
    """log4cplus filter: ``decide`` returns DENY, NEUTRAL or ACCEPT."""

    def decide(self, record: logging.LogRecord) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class DenyAllFilter(Filter):
    def decide(self, record: logging.LogRecord) -> int:
        return DENY


class LogLevelMatchFilter(Filter):
    def __init__(self, props: "Properties") -> None:
        self.accept = props.get_bool("AcceptOnMatch", False)
        self.level = parse_level(props.get("LogLevelToMatch"))

    def decide(self, record: logging.LogRecord) -> int:
        if self.level == NOT_SET or record.levelno != self.level:
            return NEUTRAL
        return ACCEPT if self.accept else DENY


class LogLevelRangeFilter(Filter):
    def __init__(self, props: "Properties") -> None:
        self.accept = props.get_bool("AcceptOnMatch", False)
        self.min = parse_level(props.get("LogLevelMin"))
        self.max = parse_level(props.get("LogLevelMax"))

    def decide(self, record: logging.LogRecord) -> int:
        if self.min != NOT_SET and record.levelno < self.min:
            return DENY
        if self.max != NOT_SET and record.levelno > self.max:
            return DENY
        return ACCEPT if self.accept else NEUTRAL


class StringMatchFilter(Filter):
    def __init__(self, props: "Properties") -> None:
        self.accept = props.get_bool("AcceptOnMatch", False)
        self.text = props.get("StringToMatch")

    def decide(self, record: logging.LogRecord) -> int:
        msg = _record_message(record)
        if not msg or not self.text or self.text not in msg:
            return NEUTRAL
        return ACCEPT if self.accept else DENY


_FILTERS: dict[str, Callable[["Properties"], Filter]] = {
    "log4cplus::spi::DenyAllFilter": lambda props: DenyAllFilter(),
    "log4cplus::spi::LogLevelMatchFilter": LogLevelMatchFilter,
    "log4cplus::spi::LogLevelRangeFilter": LogLevelRangeFilter,
    "log4cplus::spi::StringMatchFilter": StringMatchFilter,
}

# ---------------------------------------------------------------------------
# appenders (Python handlers)


class Appender(logging.Handler):
    """log4cplus Appender: threshold, filter chain, layout, then ``append``."""

    def __init__(self, layout: Layout | None = None) -> None:
        super().__init__()
        self.layout: Layout = layout or SimpleLayout()
        self.threshold = NOT_SET
        self.filters: list[Filter] = []

    def configure_base(self, props: "Properties") -> None:
        """The properties every appender understands (layout, Threshold,
        filters.N), with log4cplus' diagnostics for bad entries."""
        if props.exists("layout"):
            self.layout = _make_layout(props.get("layout"), props.subset("layout.")) or self.layout
        if props.exists("Threshold"):
            self.threshold = parse_level(props.get("Threshold"))
        filters = props.subset("filters.")
        i = 1
        while filters.exists(str(i)):
            factory = filters.get(str(i))
            maker = _FILTERS.get(factory)
            if maker is None:
                _loglog("ERROR", "Appender::ctor()- Cannot find FilterFactory: " + factory)
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
            _loglog("ERROR", "Unable to open lock file: " + name)

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
        _write_text(stream, self.layout.format(record))
        if self.immediate_flush:
            stream.flush()


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

    def __init__(self, props: "Properties") -> None:
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
            _loglog("ERROR", msg)

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
        _loglog("ERROR", f"Failed to rename file from {src} to {dst}; error {exc.errno}")


_MIN_ROLLING_SIZE = 200 * 1024


class RollingFileAppender(FileAppender):
    """Size-rotated file: ``MaxFileSize`` (``5MB``/``100KB``/bytes, at least
    200 KB), ``MaxBackupIndex`` (default 1); rotation renames ``file`` to
    ``file.1`` after the write that crossed the limit."""

    default_append = True

    def __init__(self, props: "Properties") -> None:
        super().__init__(props)
        size = 10 * 1024 * 1024
        text = props.get("MaxFileSize").upper()
        if text:
            size = _atoi(text)
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

    def __init__(self, props: "Properties") -> None:
        super().__init__(props)
        sched = props.get("Schedule").upper()
        if sched not in _SCHEDULES:
            _loglog("WARN", 'DailyRollingFileAppender::ctor()- "Schedule" not valid: ' + props.get("Schedule"))
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


_SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip


class SysLogAppender(Appender):
    """log4cplus SysLogAppender (``ident``, ``facility``, ``host``, ``port``).

    Local (no ``host``): what syslog(3) sends to ``/dev/log`` --
    ``<PRI>Mmm dd hh:mm:ss <ident>: <layout text>`` with the program name as
    the default ident; without a syslog socket the message is dropped
    silently, like syslog(3) does.  Remote (``host`` set): log4cplus' RFC 5424
    datagram ``<PRI>1 <UTC time>Z <host> <ident> <pid> <logger> - <text>``
    over UDP (``port`` default 514).  Both formats were captured from DCMTK.
    """

    SOCKET_PATH = "/dev/log"

    def __init__(self, props: "Properties") -> None:
        super().__init__()
        self.ident = props.get("ident")
        facility = props.get("facility")
        self.facility = 1  # LOG_USER
        if facility:
            code = _SYSLOG_FACILITIES.get(facility.lower())
            if code is None:
                _loglog("ERROR", "Unknown syslog facility: " + facility)
            else:
                self.facility = code
        self.host = props.get("host")
        self.port = props.get_int("port", 514)
        self.sock: Any = None
        if not self.host and self.ident:
            # openlog() is process-wide and openlog(NULL) keeps the tag:
            # the last non-empty ident applies to every local appender
            SysLogAppender.openlog_ident = self.ident

    openlog_ident = ""

    @staticmethod
    def severity(levelno: int) -> int:
        if levelno < INFO:
            return 7  # LOG_DEBUG
        if levelno < WARN:
            return 6  # LOG_INFO
        if levelno < ERROR:
            return 4  # LOG_WARNING
        if levelno < FATAL:
            return 3  # LOG_ERR
        if levelno == FATAL:
            return 2  # LOG_CRIT
        return 1  # LOG_ALERT

    def datagram(self, record: logging.LogRecord) -> bytes:
        pri = self.facility * 8 + self.severity(record.levelno)
        text = self.layout.format(record)
        if self.host:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            ms = int(record.msecs)
            line = f"<{pri}>1 {stamp}.{ms:03d}Z {hostname(False)} {self.ident} {os.getpid()} {record.name} - {text}"
        else:
            ident = SysLogAppender.openlog_ident or os.path.basename(sys.argv[0] or "") or "python"
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(record.created))
            line = f"<{pri}>{stamp} {ident}: {text}"
        return line.encode("utf-8", "surrogateescape")

    def append(self, record: logging.LogRecord) -> None:
        import socket

        data = self.datagram(record)
        try:
            if self.host:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.sock.sendto(data, (self.host, self.port))
            else:
                if self.sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    try:
                        sock.connect(self.SOCKET_PATH)
                    except OSError:
                        sock.close()
                        raise
                    self.sock = sock
                self.sock.send(data)
        except OSError:
            pass  # no syslog daemon: syslog(3) drops the message too

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if not self.host:
            SysLogAppender.openlog_ident = ""  # closelog() forgets the tag
        super().close()


class AsyncAppender(Appender):
    """log4cplus AsyncAppender: hands events to the appender described by
    ``Appender`` / ``Appender.*``.  Its own layout, Threshold and filters are
    ignored (as in DCMTK); the hand-over is synchronous, which gives the same
    output in the same order without a background thread.  Without an
    ``Appender`` DCMTK reports the error and later dies on an assertion; we
    report the same error and drop the events (a crash is never a feature)."""

    def __init__(self, props: "Properties") -> None:
        super().__init__()
        self.inner: Appender | None = None
        name = props.get("Appender")
        if not name:
            _loglog("ERROR", "Unspecified appender for AsyncAppender.")
        elif name not in _APPENDER_TYPES:
            _loglog("ERROR", "AsyncAppender::AsyncAppender() - Cannot find AppenderFactory: " + name)
        else:
            self.inner = _make_appender(name, props.subset("Appender."))

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        if self.inner is not None:
            return self.inner.handle(record)
        return False

    def append(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() delegates
        return None

    def flush(self) -> None:
        if self.inner is not None:
            self.inner.flush()

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()
        super().close()


_APPENDER_TYPES = (
    "log4cplus::ConsoleAppender",
    "log4cplus::NullAppender",
    "log4cplus::FileAppender",
    "log4cplus::RollingFileAppender",
    "log4cplus::DailyRollingFileAppender",
    "log4cplus::SysLogAppender",
    "log4cplus::AsyncAppender",
    "log4cplus::Log4jUdpAppender",
    "log4cplus::SocketAppender",
)

#: log4cplus' numeric levels (SocketAppender's wire format).
_LOG4CPLUS_LEVEL_NUMBERS = {TRACE: 0, DEBUG: 10000, INFO: 20000, WARN: 30000, ERROR: 40000, FATAL: 50000, OFF: 60000}


def _xml_escaped(text: str) -> str:
    """log4cplus ``output_xml_escaped``: the five XML entities, control
    bytes as ``&#xhh;``; other bytes (UTF-8) unchanged."""
    out: list[str] = []
    for ch in text:
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "'":
            out.append("&apos;")
        elif ch == '"':
            out.append("&quot;")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"&#x{ord(ch):02x};")
        else:
            out.append(ch)
    return "".join(out)


def _record_location(record: logging.LogRecord) -> tuple[str, int, str]:
    """(file, line, function) of a record; -1 as line when there is none."""
    if not record.pathname:
        return "", -1, record.funcName or ""
    return record.pathname, record.lineno, record.funcName or ""


class Log4jUdpAppender(Appender):
    """log4cplus Log4jUdpAppender: one log4j XML event per UDP datagram to
    ``host`` (default localhost) : ``port`` (default 5000); the message is
    the layout's output.  A failed send (e.g. ICMP port unreachable from the
    previous datagram) is reported and the socket reopened for the next event,
    like DCMTK does."""

    def __init__(self, props: "Properties") -> None:
        super().__init__()
        self.host = props.get("host", "localhost") if props.exists("host") else "localhost"
        self.port = props.get_int("port", 5000)
        self.sock: Any = None
        self.open_socket()

    def open_socket(self) -> None:
        import socket

        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.connect((self.host, self.port))
            except OSError:
                sock.close()
                raise
            self.sock = sock
        except (OSError, OverflowError):
            self.sock = None

    def datagram(self, record: logging.LogRecord) -> bytes:
        file, line, func = _record_location(record)
        stamp = int(record.created * 1000)
        text = (
            f'<log4j:event logger="{_xml_escaped(record.name)}" level="{_xml_escaped(level_name(record.levelno))}"'
            f' timestamp="{stamp}" thread="{record.thread}">'
            f"<log4j:message>{_xml_escaped(self.layout.format(record))}</log4j:message>"
            f"<log4j:NDC></log4j:NDC>"
            f'<log4j:locationInfo class="" file="{_xml_escaped(file)}" method="{_xml_escaped(func)}" line="{line}"/>'
            f"</log4j:event>"
        )
        return text.encode("utf-8", "surrogateescape")

    def append(self, record: logging.LogRecord) -> None:
        if self.sock is None:
            self.open_socket()
            if self.sock is None:
                _loglog("ERROR", "Log4jUdpAppender::append()- Cannot connect to server")
                return
        try:
            self.sock.send(self.datagram(record))
        except OSError:
            _loglog("ERROR", "Log4jUdpAppender::append()- Cannot write to server")
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        super().close()


class SocketAppender(Appender):
    """log4cplus SocketAppender: events in log4cplus' binary format over TCP
    to ``host``:``port`` (default 9998), with ``ServerName``.

    log4cplus reconnects from a background thread; its visible behaviour is
    reproduced synchronously: the first event after a failed connection is
    dropped and answered with ``ConnectorThread::run()- Cannot connect to
    server``; later events are dropped silently, a new attempt is made at most
    every 5 seconds."""

    RETRY_SECONDS = 5.0
    CONNECT_TIMEOUT = 10.0

    def __init__(self, props: "Properties") -> None:
        super().__init__()
        self.host = props.get("host")
        self.port = props.get_int("port", 9998)
        self.server_name = props.get("ServerName")
        self.sock: Any = self.connect()
        self.connected = True  # log4cplus' flag starts true even if the connect failed
        self.next_attempt = 0.0

    def connect(self) -> Any:
        import socket

        try:
            return socket.create_connection((self.host or "localhost", self.port), timeout=self.CONNECT_TIMEOUT)
        except (OSError, OverflowError):
            return None

    @staticmethod
    def _string(text: str) -> bytes:
        data = text.encode("utf-8", "surrogateescape")
        return len(data).to_bytes(4, "big") + data

    def message(self, record: logging.LogRecord) -> bytes:
        """``convertToBuffer`` plus the length prefix."""
        file, line, func = _record_location(record)
        secs = int(record.created)
        usec = int((record.created - secs) * 1_000_000)
        body = b"".join(
            [
                bytes([3, 1]),  # message version, sizeof(tchar)
                self._string(self.server_name),
                self._string(record.name),
                _LOG4CPLUS_LEVEL_NUMBERS.get(record.levelno, record.levelno * 1000).to_bytes(4, "big"),
                self._string(""),  # NDC
                self._string(_record_message(record)),
                self._string(str(record.thread)),
                (secs & 0xFFFFFFFF).to_bytes(4, "big"),
                usec.to_bytes(4, "big"),
                self._string(file),
                (line & 0xFFFFFFFF).to_bytes(4, "big"),
                self._string(func),
            ]
        )
        return len(body).to_bytes(4, "big") + body

    def reconnect(self) -> None:
        now = time.monotonic()
        if now < self.next_attempt:
            return
        self.sock = self.connect()
        if self.sock is None:
            _loglog("ERROR", "SocketAppender::ConnectorThread::run()- Cannot connect to server")
            self.next_attempt = now + self.RETRY_SECONDS
        else:
            self.connected = True

    def append(self, record: logging.LogRecord) -> None:
        if not self.connected:
            self.reconnect()
            return
        try:
            if self.sock is None:
                raise OSError("not connected")
            self.sock.sendall(self.message(record))
        except OSError:
            if self.sock is not None:
                self.sock.close()
                self.sock = None
            self.connected = False
            self.reconnect()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        super().close()


def _make_layout(factory: str, props: "Properties") -> Layout | None:
    if factory == "log4cplus::SimpleLayout":
        return SimpleLayout()
    if factory == "log4cplus::TTCCLayout":
        return TTCCLayout(props.get("DateFormat"), props.get_bool("Use_gmtime", False))
    if factory == "log4cplus::PatternLayout":
        if props.exists("ConversionPattern"):
            pattern = props.get("ConversionPattern")
        elif props.exists("Pattern"):
            _loglog(
                "WARN",
                'PatternLayout- the "Pattern" property has been deprecated.  '
                'Use "ConversionPattern" instead.',
            )
            pattern = props.get("Pattern")
        else:
            _loglog("ERROR", "ConversionPattern not specified in properties")
            _loglog("ERROR", "Error while creating Layout: ConversionPattern not specified in properties")
            return None
        return PatternLayout(pattern, props.get_bool("FormatEachLine", True))
    _loglog("ERROR", f'Cannot find LayoutFactory: "{factory}"')
    return None


def _make_appender(factory: str, props: "Properties") -> Appender | None:
    app: Appender
    if factory == "log4cplus::ConsoleAppender":
        app = ConsoleAppender(props.get_bool("logToStdErr", False), props.get_bool("ImmediateFlush", False))
    elif factory == "log4cplus::NullAppender":
        app = NullAppender()
    elif factory == "log4cplus::FileAppender":
        app = FileAppender(props)
    elif factory == "log4cplus::RollingFileAppender":
        app = RollingFileAppender(props)
    elif factory == "log4cplus::DailyRollingFileAppender":
        app = DailyRollingFileAppender(props)
    elif factory == "log4cplus::SysLogAppender":
        app = SysLogAppender(props)
    elif factory == "log4cplus::AsyncAppender":
        return AsyncAppender(props)
    elif factory == "log4cplus::Log4jUdpAppender":
        app = Log4jUdpAppender(props)
    elif factory == "log4cplus::SocketAppender":
        app = SocketAppender(props)
    else:
        _loglog("ERROR", "PropertyConfigurator::configureAppenders()- Cannot find AppenderFactory: " + factory)
        return None
    app.configure_base(props)
    if isinstance(app, FileAppender):
        app.init()
    return app


class _NoAppenderHandler(logging.Handler):
    """Reproduces log4cplus' one-time complaint when an event finds no
    appender at all in its logger chain (and keeps Python's lastResort
    handler from printing the raw message)."""

    def emit(self, record: logging.LogRecord) -> None:
        if _chain_has_appenders(record.name):
            return
        if not _state.no_appender_warned:
            _state.no_appender_warned = True
            _loglog("ERROR", f"No appenders could be found for logger ({record.name}).")
            _loglog("ERROR", "Please initialize the log4cplus system properly.")


def _chain_has_appenders(name: str) -> bool:
    cached = _state.chain_cache.get(name)
    if cached is not None:
        return cached
    lg: logging.Logger | None = logging.getLogger(name)
    found = False
    while lg is not None:
        if any(isinstance(h, Appender) for h in lg.handlers):
            found = True
            break
        if not lg.propagate or lg.name == ROOT:
            break
        lg = lg.parent  # type: ignore[assignment]
    _state.chain_cache[name] = found
    return found


# ---------------------------------------------------------------------------
# property files


class Properties:
    """log4cplus ``helpers::Properties``: a sorted key/value map read from a
    file with log4cplus' (not Java's) rules: ``key = value`` split at the
    first ``=``, only ``#`` starts a comment, no continuation lines, no ``:``
    separator, lines without ``=`` ignored (except ``include <file>``)."""

    def __init__(self, data: dict[str, str] | None = None) -> None:
        self.data: dict[str, str] = dict(data or {})

    @classmethod
    def read(cls, path: str, _depth: int = 0) -> "Properties":
        props = cls()
        props._load(path, _depth)
        return props

    def _load(self, path: str, depth: int) -> None:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError:
            if depth:
                _loglog("ERROR", "could not open file " + path)
            return
        text = raw.decode("utf-8", "surrogateescape")
        for line in text.split("\n"):
            line = line.lstrip(" \t\n\v\f\r")
            if not line or line[0] == "#":
                continue
            if line.endswith("\r"):
                line = line[:-1]
            idx = line.find("=")
            if idx >= 0:
                key = line[:idx].rstrip(" \t\n\v\f\r")
                value = line[idx + 1 :].strip(" \t\n\v\f\r")
                self.data[key] = value
            elif line.startswith("include") and len(line) >= 9 and line[7] in " \t\v\f\r":
                if depth < 16:
                    self._load(line[8:].strip(" \t\n\v\f\r"), depth + 1)

    def __len__(self) -> int:
        return len(self.data)

    def exists(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: str = "") -> str:
        return self.data.get(key, default)

    def names(self) -> list[str]:
        return sorted(self.data)

    def subset(self, prefix: str) -> "Properties":
        n = len(prefix)
        return Properties({k[n:]: v for k, v in self.data.items() if k.startswith(prefix)})

    def get_bool(self, key: str, default: bool) -> bool:
        """log4cplus ``getBool``: first word, an integer or true/false
        (any case); anything else leaves the default."""
        if key not in self.data:
            return default
        words = self.data[key].split()
        if not words:
            return default
        word = words[0]
        if re.fullmatch(r"[+-]?\d+", word):
            return int(word) != 0
        if word.lower() == "true":
            return True
        if word.lower() == "false":
            return False
        return default

    def get_int(self, key: str, default: int) -> int:
        if key not in self.data:
            return default
        m = re.match(r"\s*([+-]?\d+)", self.data[key])
        return int(m.group(1)) if m else default


def read_config(path: str) -> Properties:
    """Read and validate a ``-lc`` file with DCMTK's checks, in its order."""
    # OFStandard::fileExists: anything that exists and is not a directory
    # (so /dev/null exists and "does not contain any settings")
    if not os.path.exists(path) or os.path.isdir(path):
        raise CommandLineError("Specified --log-config file does not exist")
    if not os.access(path, os.R_OK):
        raise CommandLineError("Specified --log-config file cannot be read")
    props = Properties.read(path)
    if len(props) == 0:
        raise CommandLineError("Specified --log-config file does not contain any settings")
    if len(props.subset("log4cplus.")) == 0:
        raise CommandLineError("Specified --log-config file does not contain any valid settings")
    if not props.exists("log4cplus.rootLogger"):
        raise CommandLineError("Specified --log-config file does not set up log4cplus.rootLogger")
    return props


def _subst_vars(val: str, props: Properties) -> tuple[str, bool]:
    """log4cplus ``substVars`` with DCMTK's flags (recursive expansion,
    properties shadow the environment): ``${key}`` is replaced by the
    property ``key`` or else the environment variable; unknown or empty
    names stay as they are; a missing ``}`` keeps the original value."""
    pattern = val
    i = 0
    changed = False
    rounds = 0
    while True:
        start = pattern.find("${", i)
        if start < 0:
            return pattern, changed
        end = pattern.find("}", start)
        if end < 0:
            _loglog(
                "ERROR",
                f'"{pattern}" has no closing brace. Opening brace at position {start}.',
            )
            return val, False
        key = pattern[start + 2 : end]
        replacement = props.get(key)
        if not replacement:
            replacement = os.environ.get(key, "")
        if replacement:
            expanded = pattern[:start] + replacement + pattern[end + 1 :]
            rounds += 1
            # log4cplus loops forever on self-references (${a} = ${a}) and
            # on growing cycles; we leave such a variable unexpanded
            if expanded != pattern and rounds <= 1000 and len(expanded) <= 1_000_000:
                pattern = expanded
                changed = True
                continue  # recursive expansion: retry at the same spot
        i = end + 1


def expand_variables(props: Properties) -> None:
    """log4cplus ``replaceEnvironVariables``: substitute in keys and values,
    repeating passes until nothing changes (recursive mode)."""
    for _ in range(50):
        changed = False
        for key in props.names():
            val = props.data.get(key, "")
            sub_key, key_changed = _subst_vars(key, props)
            if key_changed:
                props.data.pop(key, None)
                props.data[sub_key] = val
                changed = True
            sub_val, val_changed = _subst_vars(val, props)
            if val_changed:
                props.data[sub_key] = sub_val
                changed = True
        if not changed:
            return


def add_variables(props: Properties, appname: str, now: float | None = None) -> None:
    """DCMTK's ``addVariables``: ${appname} ${hostname} ${pid} ${date} ${time}
    (local time, no delimiters), set as if the user had written them."""
    stamp = time.localtime(time.time() if now is None else now)
    props.data["appname"] = appname
    props.data["hostname"] = hostname(False)
    props.data["pid"] = str(os.getpid())
    props.data["date"] = time.strftime("%Y%m%d", stamp)
    props.data["time"] = time.strftime("%H%M%S", stamp)


# ---------------------------------------------------------------------------
# configuration


def _tokenize(text: str) -> list[str]:
    """log4cplus ``tokenize(s, ',', collapse=true)``."""
    tokens: list[str] = []
    first = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] == ",":
            tokens.append(text[first:i])
            while i + 1 < n and text[i + 1] == ",":
                i += 1
            first = i + 1
        i += 1
    if first != i:
        tokens.append(text[first:i])
    return tokens


class _LoggerConf:
    def __init__(self) -> None:
        self.level: int | None = None  # None: not configured
        self.appenders: list[Appender] | None = None
        self.additive = True


def _apply_properties(tool: str, props: Properties) -> tuple[int, list[Appender]]:
    """log4cplus ``PropertyConfigurator::configure`` on the ``log4cplus.``
    subset; installs the result on Python loggers and returns the root's
    level and appenders."""
    if props.exists("quietMode"):
        _state.loglog_quiet = props.get_bool("quietMode", False)
    appenders: dict[str, Appender] = {}
    app_props = props.subset("appender.")
    for name in app_props.names():
        if "." in name:
            continue
        made = _make_appender(app_props.get(name), app_props.subset(name + "."))
        if made is not None:
            made.set_name(name)
            appenders[name] = made
            _state.all_handlers.append(made)

    root = _LoggerConf()
    root.level = INFO  # OFLog_init's level, kept if rootLogger is unusable
    root_default = True
    confs: dict[str, _LoggerConf] = {}

    def configure(conf: _LoggerConf, logger_name: str, config: str) -> bool:
        text = config.replace(" ", "")
        tokens = _tokenize(text)
        if not tokens:
            _loglog(
                "ERROR",
                f"PropertyConfigurator::configureLogger()- Invalid config string(Logger = {logger_name}): \"{config}\"",
            )
            return False
        level_text = tokens[0]
        conf.level = NOT_SET if level_text == "INHERITED" else parse_level(level_text)
        conf.appenders = []
        for tok in tokens[1:]:
            app = appenders.get(tok)
            if app is None:
                _loglog("ERROR", "PropertyConfigurator::configureLogger()- Invalid appender: " + tok)
                continue
            if app not in conf.appenders:
                conf.appenders.append(app)
        return True

    if props.exists("rootLogger"):
        if configure(root, "root", props.get("rootLogger")):
            root_default = False
    logger_props = props.subset("logger.")
    for name in logger_props.names():
        conf = confs.setdefault(name, _LoggerConf())
        configure(conf, name, logger_props.get(name))
    add_props = props.subset("additivity.")
    for name in add_props.names():
        words = add_props.get(name).split()
        if words and (re.fullmatch(r"[+-]?\d+", words[0]) or words[0].lower() in ("true", "false")):
            confs.setdefault(name, _LoggerConf()).additive = add_props.get_bool(name, True)

    # log4cplus drops the appenders no logger references once configured;
    # closing them has visible effects (closelog(), a daily file's rollover)
    used = {id(a) for conf in [root, *confs.values()] for a in (conf.appenders or [])}
    for app in appenders.values():
        if id(app) not in used:
            app.close()
            _state.all_handlers.remove(app)

    if root.level == NOT_SET:
        # DCMTK 3.6.7 dies here (uncaught std::runtime_error, SIGABRT).  A
        # crash is never a feature (deviations policy): like log4cplus'
        # RootLogger::setLogLevel we refuse NOT_SET and keep the start-up INFO.
        _loglog("ERROR", "You have tried to set NOT_SET_LOG_LEVEL to root.")
        root.level = INFO

    if root_default:
        default = ConsoleAppender(True, True, DefaultLayout())
        root_appenders: list[Appender] = [default]
        _state.all_handlers.append(default)
    else:
        root_appenders = list(root.appenders or [])

    # install: 'dcmtk' merges log4cplus' root and (if configured) 'dcmtk'
    top = logging.getLogger(ROOT)
    top.propagate = False
    dconf = confs.pop(ROOT, None)
    top_level = root.level if root.level is not None else INFO
    top_handlers: list[Appender] = []
    if dconf is not None:
        if dconf.level not in (None, NOT_SET):
            top_level = dconf.level  # type: ignore[assignment]
        top_handlers.extend(dconf.appenders or [])
        if dconf.additive:
            top_handlers.extend(a for a in root_appenders if a not in top_handlers)
    else:
        top_handlers = list(root_appenders)
    top.setLevel(top_level)
    for h in top_handlers:
        top.addHandler(h)
    top.addHandler(_NoAppenderHandler())
    _state.configured.append(ROOT)

    for name, conf in confs.items():
        if not name.startswith(ROOT + "."):
            continue  # nothing logs outside dcmtk.*
        lg = logging.getLogger(name)
        if conf.level is not None:
            lg.setLevel(conf.level)
        for h in conf.appenders or []:
            lg.addHandler(h)
        lg.propagate = conf.additive
        if not conf.additive:
            lg.addHandler(_NoAppenderHandler())
        _state.configured.append(name)
    return root.level or INFO, root_appenders


def _reset() -> None:
    """Undo a previous ``setup`` (tests and repeated calls)."""
    for h in _state.all_handlers:
        try:
            h.close()
        except Exception:  # pragma: no cover
            pass
    for name in _state.configured:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.setLevel(logging.NOTSET)
        lg.propagate = name != ROOT
    _state.__init__()  # type: ignore[misc]


def shutdown() -> None:
    """Close all appenders (files are flushed; a DailyRollingFileAppender
    rolls over, as DCMTK's does at exit).  Registered with atexit."""
    for h in _state.all_handlers:
        try:
            h.flush()
            h.close()
        except Exception:  # pragma: no cover
            pass
    _state.all_handlers = []


_atexit_registered = False


def setup(tool: str, settings: Any) -> None:
    """Configure logging from ``settings.log_level`` / ``settings.log_config``.

    Raises ``CommandLineError`` with DCMTK's text for a bad ``-ll`` value or a
    bad ``-lc`` file (checks in DCMTK's order).
    """
    global _atexit_registered
    _silence_foreign()
    log_level = getattr(settings, "log_level", None)
    log_config = getattr(settings, "log_config", None)
    if log_config is not None:
        props = read_config(log_config)
        _reset()
        argv0 = getattr(settings, "argv0", "") or tool
        add_variables(props, os.path.basename(argv0))
        expand_variables(props)
        level, root_appenders = _apply_properties(tool, props.subset("log4cplus."))
        _state.root_level = level
        _state.root_handlers = list(root_appenders)
    else:
        if log_level is None:
            level = WARN
        elif log_level == "quiet":
            level = FATAL
        elif log_level == "verbose":
            level = INFO
        elif log_level == "debug":
            level = DEBUG
        else:
            level = parse_level(log_level)
            if level == NOT_SET:
                raise CommandLineError("Invalid log level for --log-level option")
        _reset()
        handler = ConsoleAppender(True, True, DefaultLayout())
        root = logging.getLogger(ROOT)
        root.setLevel(level)
        root.propagate = False
        root.addHandler(handler)
        _state.configured = [ROOT]
        _state.root_handlers = [handler]
        _state.all_handlers = [handler]
        _state.root_level = level
    # DCMTK couples log4cplus' own diagnostics to quiet mode
    _state.loglog_quiet = is_quiet()
    if not _atexit_registered:
        import atexit

        atexit.register(shutdown)
        _atexit_registered = True


def is_quiet() -> bool:
    """DCMTK's quiet mode: the root logger is not enabled for ERROR."""
    return _state.root_level > ERROR


def progress_enabled() -> bool:
    """movescu prints ``RECV:`` progress only when the effective level of
    ``dcmtk.apps.movescu.progress`` is exactly INFO."""
    return logging.getLogger(PROGRESS).getEffectiveLevel() == INFO


def log_arguments(argv0: str, args: Iterable[str]) -> None:
    """``--arguments``: log4cplus' ``forcedLog`` at INFO on the root logger,
    i.e. regardless of logger levels, but through the root appenders'
    thresholds and filters (cli.md §7).  Empty arguments are counted but not
    printed; the final newline yields the extra ``I: `` line."""
    args = list(args)
    parts = [f"calling '{argv0}' with {len(args)} arguments: "]
    parts.extend(f"'{a}' " for a in args if a)
    parts.append("\n")
    # a forced log without source location: log4cplus reports line -1
    record = logging.LogRecord("root", INFO, "", -1, "".join(parts), None, None, func="")
    if not _state.root_handlers:
        if not _state.no_appender_warned:
            _state.no_appender_warned = True
            _loglog("ERROR", "No appenders could be found for logger (root).")
            _loglog("ERROR", "Please initialize the log4cplus system properly.")
        return
    for h in _state.root_handlers:
        h.handle(record)
