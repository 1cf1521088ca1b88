"""log4cplus layouts: how an appender turns a record into text.

``SimpleLayout``, ``TTCCLayout``, ``PatternLayout`` (a transcription of
log4cplus' pattern parser incl. DCMTK's ``%P`` and ``FormatEachLine``), the
default set-up's hand-inlined ``DefaultLayout``, log4cplus' time formatting
(``format_time``) and the layout factory used by ``-lc`` files.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from .levels import LEVEL_LETTERS, level_letter, level_name
from .properties import Properties, atoi
from .state import START_TIME, hostname, loglog


def record_message(record: logging.LogRecord) -> str:
    """The message text of a record (``%m``), formatted only if it has arguments."""
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
        return level_name(record.levelno) + " - " + record_message(record) + "\n"


class TTCCLayout(Layout):
    """``<ms since start | DateFormat> [<thread>] LEVEL logger <NDC> - message``."""

    def __init__(self, date_format: str = "", use_gmtime: bool = False) -> None:
        self.date_format = date_format
        self.use_gmtime = use_gmtime

    def format(self, record: logging.LogRecord) -> str:
        if self.date_format:
            stamp = format_time(self.date_format, record.created, self.use_gmtime)
        else:
            stamp = str(int((record.created - START_TIME) * 1000))
        return (
            f"{stamp} [{record.thread}] {level_name(record.levelno)} "
            f"{record.name} <> - {record_message(record)}\n"
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
    "r": lambda record, line: str(int((record.created - START_TIME) * 1000)),
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
                loglog(
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
                conv = _conv_logger(atoi(opt))
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
                    loglog("ERROR", f"Unexpected char [{c}] at position {pos} in conversion pattern.")
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
                    loglog(
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
        msg = record_message(record)
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


class DefaultLayout(Layout):
    """The default set-up's ``%P: %m%n`` (FormatEachLine), hand-inlined
    because it runs for every INFO line of a verbose transfer."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record_message(record)
        prefix = (LEVEL_LETTERS.get(record.levelno) or level_letter(record.levelno)) + ": "
        if "\n" not in msg:
            return prefix + msg + "\n"
        return prefix + ("\n" + prefix).join(msg.split("\n")) + "\n"


def make_layout(factory: str, props: Properties) -> Layout | None:
    """log4cplus' layout factory: ``appender.<name>.layout = <factory>``."""
    if factory == "log4cplus::SimpleLayout":
        return SimpleLayout()
    if factory == "log4cplus::TTCCLayout":
        return TTCCLayout(props.get("DateFormat"), props.get_bool("Use_gmtime", False))
    if factory == "log4cplus::PatternLayout":
        if props.exists("ConversionPattern"):
            pattern = props.get("ConversionPattern")
        elif props.exists("Pattern"):
            loglog(
                "WARN",
                'PatternLayout- the "Pattern" property has been deprecated.  '
                'Use "ConversionPattern" instead.',
            )
            pattern = props.get("Pattern")
        else:
            loglog("ERROR", "ConversionPattern not specified in properties")
            loglog("ERROR", "Error while creating Layout: ConversionPattern not specified in properties")
            return None
        return PatternLayout(pattern, props.get_bool("FormatEachLine", True))
    loglog("ERROR", f'Cannot find LayoutFactory: "{factory}"')
    return None
