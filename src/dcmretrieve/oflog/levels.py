"""Levels and logger names: log4cplus' level numbers, names and letters
mapped onto Python's ``logging`` levels (plus TRACE), and the ``dcmtk.*``
logger names the rest of the package codes against.

Bottom of the package: imports nothing from it.
"""

from __future__ import annotations

import logging

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
LEVEL_LETTERS: dict[int, str] = {k: v[0] for k, v in _LEVEL_NAMES.items()}

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
    return LEVEL_LETTERS.get(levelno) or level_name(levelno)[:1]


def parse_level(text: str) -> int:
    """log4cplus' ``fromString``: case-insensitive; ``NOT_SET`` if unknown."""
    return _LEVEL_BY_NAME.get(text.upper(), NOT_SET)


def app_logger(tool: str) -> logging.Logger:
    """The application logger ``dcmtk.apps.<tool>``."""
    return logging.getLogger("dcmtk.apps." + tool)
