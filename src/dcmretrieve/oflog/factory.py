"""Building appenders from a ``-lc`` file: log4cplus' appender factory
(``make_appender``, the factory names in ``APPENDER_TYPES``) and the
``AsyncAppender``, which wraps an appender the factory builds.
"""

from __future__ import annotations

import logging

from .appenders import (
    Appender,
    ConsoleAppender,
    DailyRollingFileAppender,
    FileAppender,
    NullAppender,
    RollingFileAppender,
)
from .netappenders import Log4jUdpAppender, SocketAppender, SysLogAppender
from .properties import Properties
from .state import loglog


class AsyncAppender(Appender):
    """log4cplus AsyncAppender: hands events to the appender described by
    ``Appender`` / ``Appender.*``.  Its own layout, Threshold and filters are
    ignored (as in DCMTK); the hand-over is synchronous, which gives the same
    output in the same order without a background thread.  Without an
    ``Appender`` DCMTK reports the error and later dies on an assertion; we
    report the same error and drop the events (a crash is never a feature)."""

    def __init__(self, props: Properties) -> None:
        super().__init__()
        self.inner: Appender | None = None
        name = props.get("Appender")
        if not name:
            loglog("ERROR", "Unspecified appender for AsyncAppender.")
        elif name not in APPENDER_TYPES:
            loglog("ERROR", "AsyncAppender::AsyncAppender() - Cannot find AppenderFactory: " + name)
        else:
            self.inner = make_appender(name, props.subset("Appender."))

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


APPENDER_TYPES = (
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


def make_appender(factory: str, props: Properties) -> Appender | None:
    """log4cplus' appender factory: ``appender.<name> = <factory>`` with its
    options; ``None`` (after a diagnostic) for an unknown factory."""
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
        loglog("ERROR", "PropertyConfigurator::configureAppenders()- Cannot find AppenderFactory: " + factory)
        return None
    app.configure_base(props)
    if isinstance(app, FileAppender):
        app.init()
    return app
