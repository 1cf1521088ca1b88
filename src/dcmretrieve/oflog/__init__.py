"""DCMTK's logging (oflog = log4cplus 1.2) rebuilt on Python's ``logging``.

DCMTK writes every diagnostic through log4cplus loggers named ``dcmtk.*``,
and scripts parse that output, so it is reproduced exactly: level letters
(``%P``), one prefix per line of a multi-line message, WARN by default,
``-q/-v/-d/-ll``, ``-lc`` property files (appenders, layouts, filters,
variables, even log4cplus' own ``log4cplus:ERROR`` diagnostics), quiet mode,
``--arguments`` and movescu's progress switch.  DCMTK 3.6.7 is the oracle for
every detail; where it differs from log4cplus' documentation (e.g. the
property is ``logToStdErr``, not ``logToStderr``) the binary wins.

This module is what the rest of the package uses: ``setup``, ``is_quiet``,
``log_arguments``, ``progress_enabled``, ``app_logger``, the logger names
``NET``/``DATA`` and the levels.  The emulation lives in the submodules,
each importing only those before it:

``levels``        level numbers, names, letters; logger names
``state``         all module-global state (``STATE``, ``reset``,
                  ``shutdown``), ``loglog``, host name, start time
``properties``    property files, ``read_config``, ``${...}`` variables
``layouts``       Simple/TTCC/Pattern/Default layouts, time formats
``filters``       the ``log4cplus::spi`` filters
``appenders``     the Appender base; console, null and file appenders
``netappenders``  syslog, log4j UDP and socket appenders
``factory``       the appender factory and AsyncAppender
``config``        the default set-up, the PropertyConfigurator, ``setup``
"""

from __future__ import annotations

import logging
from typing import Iterable

from .appenders import console_guard, set_console_guard
from .config import setup
from .levels import (
    DATA,
    DEBUG,
    ERROR,
    FATAL,
    INFO,
    NET,
    NOT_SET,
    OFF,
    PROGRESS,
    ROOT,
    TRACE,
    WARN,
    app_logger,
)
from .state import STATE, is_quiet, loglog, reset, shutdown

__all__ = [
    "DATA",
    "DEBUG",
    "ERROR",
    "FATAL",
    "INFO",
    "NET",
    "NOT_SET",
    "OFF",
    "PROGRESS",
    "ROOT",
    "TRACE",
    "WARN",
    "app_logger",
    "console_guard",
    "is_quiet",
    "log_arguments",
    "progress_enabled",
    "reset",
    "set_console_guard",
    "setup",
    "shutdown",
]


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
    if not STATE.root_handlers:
        if not STATE.no_appender_warned:
            STATE.no_appender_warned = True
            loglog("ERROR", "No appenders could be found for logger (root).")
            loglog("ERROR", "Please initialize the log4cplus system properly.")
        return
    for h in STATE.root_handlers:
        h.handle(record)
