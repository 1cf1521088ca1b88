"""log4cplus property files (``-lc``): the ``helpers::Properties`` parser
with log4cplus' (not Java's) syntax, DCMTK's checks of a ``-lc`` file
(``read_config``) and variable substitution (``${name}``, DCMTK's
predefined ``${appname}`` ... ``${time}``); also C's ``atoi``, which
log4cplus applies to numeric options.
"""

from __future__ import annotations

import os
import re
import time

from ..errors import CommandLineError
from .state import hostname, loglog


def atoi(text: str) -> int:
    """C ``atoi``: leading blanks, a sign, digits; 0 if there are none."""
    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0


class Properties:
    """log4cplus ``helpers::Properties``: a sorted key/value map read from a
    file with log4cplus' (not Java's) rules: ``key = value`` split at the
    first ``=``, only ``#`` starts a comment, no continuation lines, no ``:``
    separator, lines without ``=`` ignored (except ``include <file>``)."""

    def __init__(self, data: dict[str, str] | None = None) -> None:
        self.data: dict[str, str] = dict(data or {})

    @classmethod
    def read(cls, path: str, _depth: int = 0) -> Properties:
        props = cls()
        props._load(path, _depth)
        return props

    def _load(self, path: str, depth: int) -> None:
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError:
            if depth:
                loglog("ERROR", "could not open file " + path)
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

    def subset(self, prefix: str) -> Properties:
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
            loglog(
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
