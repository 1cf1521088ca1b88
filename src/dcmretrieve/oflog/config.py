"""Configuring the logger hierarchy: the default set-up (``-q -v -d -ll``)
and log4cplus' ``PropertyConfigurator`` for ``-lc`` files (loggers, levels,
additivity, appenders), installed on Python loggers; ``setup`` is the entry
point.

The Python logger ``dcmtk`` stands in for log4cplus' root logger.  It never
propagates, so nothing reaches Python's root handlers or
``logging.lastResort``.  A ``-lc`` file's root logger is merged into
``dcmtk`` (``_apply_properties``); since no other logger sits between the
two for the names DCMTK uses, this reproduces the log4cplus hierarchy
exactly (levels, appenders, additivity).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from ..errors import CommandLineError
from .appenders import Appender, ConsoleAppender
from .factory import make_appender
from .layouts import DefaultLayout
from .levels import DEBUG, FATAL, INFO, NOT_SET, ROOT, WARN, parse_level
from .properties import Properties, add_variables, expand_variables, read_config
from .state import STATE, is_quiet, loglog, reset, shutdown


def _silence_foreign() -> None:
    """pynetdicom and pydicom log through their own loggers.  DCMTK never
    prints such messages and evaluating them costs time on the hot path, so
    they are switched off completely and never reach Python's root."""
    for name in ("pynetdicom", "pydicom"):
        lg = logging.getLogger(name)
        lg.setLevel(logging.CRITICAL + 1)
        lg.propagate = False


class _NoAppenderHandler(logging.Handler):
    """Reproduces log4cplus' one-time complaint when an event finds no
    appender at all in its logger chain (and keeps Python's lastResort
    handler from printing the raw message)."""

    def emit(self, record: logging.LogRecord) -> None:
        if _chain_has_appenders(record.name):
            return
        if not STATE.no_appender_warned:
            STATE.no_appender_warned = True
            loglog("ERROR", f"No appenders could be found for logger ({record.name}).")
            loglog("ERROR", "Please initialize the log4cplus system properly.")


def _chain_has_appenders(name: str) -> bool:
    cached = STATE.chain_cache.get(name)
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
    STATE.chain_cache[name] = found
    return found


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
        STATE.loglog_quiet = props.get_bool("quietMode", False)
    appenders: dict[str, Appender] = {}
    app_props = props.subset("appender.")
    for name in app_props.names():
        if "." in name:
            continue
        made = make_appender(app_props.get(name), app_props.subset(name + "."))
        if made is not None:
            made.set_name(name)
            appenders[name] = made
            STATE.all_handlers.append(made)

    root = _LoggerConf()
    root.level = INFO  # OFLog_init's level, kept if rootLogger is unusable
    root_default = True
    confs: dict[str, _LoggerConf] = {}

    def configure(conf: _LoggerConf, logger_name: str, config: str) -> bool:
        text = config.replace(" ", "")
        tokens = _tokenize(text)
        if not tokens:
            loglog(
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
                loglog("ERROR", "PropertyConfigurator::configureLogger()- Invalid appender: " + tok)
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
            STATE.all_handlers.remove(app)

    if root.level == NOT_SET:
        # DCMTK 3.6.7 dies here (uncaught std::runtime_error, SIGABRT).  A
        # crash is never a feature (deviations policy): like log4cplus'
        # RootLogger::setLogLevel we refuse NOT_SET and keep the start-up INFO.
        loglog("ERROR", "You have tried to set NOT_SET_LOG_LEVEL to root.")
        root.level = INFO

    if root_default:
        default = ConsoleAppender(True, True, DefaultLayout())
        root_appenders: list[Appender] = [default]
        STATE.all_handlers.append(default)
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
    STATE.configured.append(ROOT)

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
        STATE.configured.append(name)
    return root.level or INFO, root_appenders


def setup(tool: str, settings: Any) -> None:
    """Configure logging from ``settings.log_level`` / ``settings.log_config``.

    Raises ``CommandLineError`` with DCMTK's text for a bad ``-ll`` value or a
    bad ``-lc`` file (checks in DCMTK's order).
    """
    _silence_foreign()
    log_level = getattr(settings, "log_level", None)
    log_config = getattr(settings, "log_config", None)
    if log_config is not None:
        props = read_config(log_config)
        reset()
        argv0 = getattr(settings, "argv0", "") or tool
        add_variables(props, os.path.basename(argv0))
        expand_variables(props)
        level, root_appenders = _apply_properties(tool, props.subset("log4cplus."))
        STATE.root_level = level
        STATE.root_handlers = list(root_appenders)
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
        reset()
        handler = ConsoleAppender(True, True, DefaultLayout())
        root = logging.getLogger(ROOT)
        root.setLevel(level)
        root.propagate = False
        root.addHandler(handler)
        STATE.configured = [ROOT]
        STATE.root_handlers = [handler]
        STATE.all_handlers = [handler]
        STATE.root_level = level
    # DCMTK couples log4cplus' own diagnostics to quiet mode
    STATE.loglog_quiet = is_quiet()
    if not STATE.atexit_registered:
        import atexit

        atexit.register(shutdown)
        STATE.atexit_registered = True
