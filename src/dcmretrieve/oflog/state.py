"""All module-global state of the logging package, in one place.

``STATE`` holds what the last ``setup`` configured (root level and
appenders, the Python loggers it changed, log4cplus' one-time warnings) and
the few process-wide facts log4cplus keeps (``openlog()``'s ident, the host
name, whether the exit hook is registered); ``START_TIME`` is the time base
of ``%r`` and TTCCLayout.  ``reset()`` undoes a ``setup`` (tests use it
between configurations), ``shutdown()`` closes every appender at exit.

Also here, because every layer reports through it: ``loglog``, log4cplus'
own ``log4cplus:ERROR`` diagnostics, silenced in quiet mode.
"""

from __future__ import annotations

import logging
import os
import sys
import time

from .levels import ERROR, ROOT, WARN


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
START_TIME = _process_start_time()


class State:
    """What the last ``setup`` configured (cleared by ``reset``), read by the
    query functions, plus process-wide facts that outlive a ``reset``."""

    def __init__(self) -> None:
        # process-wide: survive reset(), like the process they describe
        #: openlog() is process-wide and openlog(NULL) keeps the tag: the last
        #: non-empty ident of a local SysLogAppender (closelog() forgets it)
        self.openlog_ident: str = ""
        #: log4cplus ``getHostname`` results (plain and fully qualified)
        self.hostnames: dict[bool, str] = {}
        self.atexit_registered: bool = False
        self.clear()

    def clear(self) -> None:
        """Forget the last ``setup`` (the per-configuration fields)."""
        self.root_level: int = WARN
        self.root_handlers: list[logging.Handler] = []
        self.configured: list[str] = []  # Python loggers we changed
        self.all_handlers: list[logging.Handler] = []
        self.loglog_quiet: bool = False
        self.no_appender_warned: bool = False
        self.chain_cache: dict[str, bool] = {}


STATE = State()


def loglog(kind: str, msg: str) -> None:
    """log4cplus' LogLog: internal diagnostics as ``log4cplus:ERROR <msg>``
    on stderr, silenced in quiet mode (DCMTK couples it to ``-q``)."""
    if STATE.loglog_quiet:
        return
    stream = sys.stderr
    if stream is None:
        return
    stream.write(f"log4cplus:{kind} {msg}\n")
    stream.flush()


def hostname(fqdn: bool = False) -> str:
    """log4cplus ``getHostname``: gethostname(), or its canonical name."""
    cached = STATE.hostnames.get(fqdn)
    if cached is not None:
        return cached
    import socket

    name = socket.gethostname()
    if fqdn:
        try:
            name = socket.gethostbyname_ex(name)[0]
        except OSError:
            pass
    STATE.hostnames[fqdn] = name
    return name


def is_quiet() -> bool:
    """DCMTK's quiet mode: the root logger is not enabled for ERROR."""
    return STATE.root_level > ERROR


def reset() -> None:
    """Undo a previous ``setup`` (tests and repeated calls): close its
    appenders, give the Python loggers it changed back their defaults,
    clear ``STATE``."""
    for h in STATE.all_handlers:
        try:
            h.close()
        except Exception:  # pragma: no cover
            pass
    for name in STATE.configured:
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.setLevel(logging.NOTSET)
        lg.propagate = name != ROOT
    STATE.clear()


def shutdown() -> None:
    """Close all appenders (files are flushed; a DailyRollingFileAppender
    rolls over, as DCMTK's does at exit).  Registered with atexit."""
    for h in STATE.all_handlers:
        try:
            h.flush()
            h.close()
        except Exception:  # pragma: no cover
            pass
    STATE.all_handlers = []
