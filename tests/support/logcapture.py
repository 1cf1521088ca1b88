"""``Collect``: a logging handler that keeps ``"<L>: <message>"`` lines
(DCMTK's default layout without the logger set-up), for unit tests of
modules that log to ``dcmtk.*`` loggers."""

from __future__ import annotations

import logging


class Collect(logging.Handler):
    def __init__(self, lines: list[str] | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = [] if lines is None else lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname[0]}: {record.getMessage()}")
