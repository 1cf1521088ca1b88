"""log4cplus filters (``log4cplus::spi``): an appender's filter chain
decides DENY, NEUTRAL or ACCEPT per record; ``FILTERS`` maps the factory
names a ``-lc`` file uses to the classes.
"""

from __future__ import annotations

import logging
from typing import Callable

from .layouts import record_message
from .levels import NOT_SET, parse_level
from .properties import Properties

DENY, NEUTRAL, ACCEPT = -1, 0, 1


class Filter:
    """log4cplus filter: ``decide`` returns DENY, NEUTRAL or ACCEPT."""

    def decide(self, record: logging.LogRecord) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class DenyAllFilter(Filter):
    def decide(self, record: logging.LogRecord) -> int:
        return DENY


class LogLevelMatchFilter(Filter):
    def __init__(self, props: Properties) -> None:
        self.accept = props.get_bool("AcceptOnMatch", False)
        self.level = parse_level(props.get("LogLevelToMatch"))

    def decide(self, record: logging.LogRecord) -> int:
        if self.level == NOT_SET or record.levelno != self.level:
            return NEUTRAL
        return ACCEPT if self.accept else DENY


class LogLevelRangeFilter(Filter):
    def __init__(self, props: Properties) -> None:
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
    def __init__(self, props: Properties) -> None:
        self.accept = props.get_bool("AcceptOnMatch", False)
        self.text = props.get("StringToMatch")

    def decide(self, record: logging.LogRecord) -> int:
        msg = record_message(record)
        if not msg or not self.text or self.text not in msg:
            return NEUTRAL
        return ACCEPT if self.accept else DENY


#: ``appender.<name>.filters.<n> = <factory>``
FILTERS: dict[str, Callable[[Properties], Filter]] = {
    "log4cplus::spi::DenyAllFilter": lambda props: DenyAllFilter(),
    "log4cplus::spi::LogLevelMatchFilter": LogLevelMatchFilter,
    "log4cplus::spi::LogLevelRangeFilter": LogLevelRangeFilter,
    "log4cplus::spi::StringMatchFilter": StringMatchFilter,
}
