"""``Collect``: a logging handler that keeps ``"<L>: <message>"`` lines
(DCMTK's default layout without the logger set-up), for unit tests of
modules that log to ``dcmtk.*`` loggers; ``collected(name)``: the lines
logged on one logger (and below it, at every level) while a block runs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class Collect(logging.Handler):
    def __init__(self, lines: list[str] | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = [] if lines is None else lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname[0]}: {record.getMessage()}")


@contextlib.contextmanager
def collected(name: str) -> Iterator[list[str]]:
    logger = logging.getLogger(name)
    handler = Collect()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
