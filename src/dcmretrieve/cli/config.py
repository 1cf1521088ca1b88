"""Config files and environment defaults (docs/config.md).

Defaults for options come from three layers under the command line:

    command line  >  DCMRETRIEVE_<LONG_NAME>  >  config files  >  DCMTK's defaults

How: every value of a config file or of the environment becomes a
*synthetic* DCMTK argument (``aetitle = ME`` -> ``--aetitle ME``), and the
synthetic arguments are placed before the real command line.  DCMTK's own
evaluation (``cmdline.evaluate``: rightmost wins, value checks, conflicts,
dependencies) then runs unchanged on the combined list, so a value from a
file is checked exactly like the same option typed by hand, and the command
line wins because it comes last.

Rules that the synthetic list alone would not give:

* precedence groups: a rightmost-wins group (DCMTK's option blocks, e.g.
  ``+xe``/``+xs``/...; ``-q``/``-v``/``-d`` together with ``-ll``/``-lc``)
  is set by the highest layer that sets any member of it; lower layers'
  members of the group are dropped (so a config ``bit-preserving = true``
  and a command-line ``-B`` give ``-B``, not getscu's ``+B -B`` conflict);
* ``key`` accumulates: config files' keys first (in file order), then
  ``DCMRETRIEVE_KEY``, then the command line's ``-k``; a later key for the
  same tag overrides an earlier one (DCMTK's ``-k`` rule);
* a flag set to false removes that option from the lower layers; it does not
  select another member of its group;
* parameters (peer, port, query files) come from the command line only.

Files: INI, read with configargparse's ``IniConfigParser`` (lists as
``[a, b]`` or one value per indented line, quoted strings).  Sections
``[dcmretrieve]`` (both tools) and ``[getscu]``/``[movescu]`` (one tool, over
the shared one); keys are long option names without ``--``.  configargparse
reports no line numbers, so a small scan of the same text finds the line of
each section and key for messages.  configargparse is imported only when a
file is read (start-up cost, docs/performance.md).

Environment: ``DCMRETRIEVE_CONFIG`` names config files (``os.pathsep``
separated) read before the ``--config`` files; ``DCMRETRIEVE_<LONG_NAME>``
(upper case, ``-`` -> ``_``) for each option of the running tool.  Other
``DCMRETRIEVE_`` variables are ignored (some are used by the test harness or
by ``+ac``); a variable of the other tool's option is ignored too.
"""

from __future__ import annotations

import os

from . import options
from ..errors import CommandLineError
from .options import Block, Find, Option

ENV_PREFIX = "DCMRETRIEVE_"
CONFIG_ENV = "DCMRETRIEVE_CONFIG"
SHARED_SECTION = "dcmretrieve"
SECTIONS = (SHARED_SECTION, *options.TOOLS)

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")

#: options that configure the configuration itself, or end the run at once
_NOT_CONFIGURABLE_ACTIONS = ("exclusive", options.CONFIG_ACTION, options.SHOW_CONFIG_ACTION,
                             options.LIST_CIPHERS_ACTION, options.LIST_PROFILES_ACTION)
#: logging options that DCMTK lets conflict with each other: one precedence group
_RESERVED_KEYS = ("help", "version", "config", "show-config")
_LOGGING_GROUP = ("--debug", "--verbose", "--quiet", "--log-level", "--log-config")


class ConfigError(CommandLineError):
    """Bad config file or environment value (exit 1).  ``app`` prints it as
    ``E: <message>``; the message names the file and line or the variable."""


class Origin:
    """Where a value came from: the command line, a config file line or an
    environment variable."""

    __slots__ = ("kind", "name", "line")

    COMMAND_LINE = "command line"
    CONFIG = "config"
    ENV = "env"

    def __init__(self, kind: str, name: str = "", line: int = 0) -> None:
        self.kind = kind
        self.name = name
        self.line = line

    def describe(self) -> str:
        """For error messages: ``config file F, line N``."""
        if self.kind == self.CONFIG:
            return f"config file {self.name}, line {self.line}" if self.line else f"config file {self.name}"
        if self.kind == self.ENV:
            return f"environment variable {self.name}"
        return "command line"

    def __str__(self) -> str:
        """For ``--show-config``: ``config F:N``, ``env VAR``, ``command line``."""
        if self.kind == self.CONFIG:
            return f"config {self.name}:{self.line}" if self.line else f"config {self.name}"
        if self.kind == self.ENV:
            return f"env {self.name}"
        return "command line"

    def __repr__(self) -> str:
        return f"Origin({self.kind!r}, {self.name!r}, {self.line})"


COMMAND_LINE = Origin(Origin.COMMAND_LINE)


def env_name(long: str) -> str:
    """``--prefer-lossless`` -> ``DCMRETRIEVE_PREFER_LOSSLESS``."""
    return ENV_PREFIX + long[2:].upper().replace("-", "_")


def configurable(tool: str) -> dict[str, Option]:
    """``{key: Option}``: options of ``tool`` a config file or the
    environment may set (all but help, version and the configuration
    options themselves)."""
    return {
        option.long[2:]: option
        for option in options.options_of(tool)
        if option.action not in _NOT_CONFIGURABLE_ACTIONS
    }


def precedence_groups(tool: str) -> dict[str, str]:
    """``{long: group}``: options in one rightmost-wins group share a group."""
    groups: dict[str, str] = {long: "logging" for long in _LOGGING_GROUP}
    for item in options.EVALUATION[tool]:
        if isinstance(item, Block):
            for long in item.members:
                groups.setdefault(long, item.members[0])
        elif isinstance(item, Find):
            groups.setdefault(item.long, item.long)
    for option in options.options_of(tool):
        groups.setdefault(option.long, option.long)
    return groups


# ---------------------------------------------------------------------------
# values


def _parse_bool(text: str) -> bool | None:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _env_value(text: str) -> object:
    """An environment value: a list literal ``[a, b]`` or one string."""
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        import ast

        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError):
            value = [item.strip() for item in stripped[1:-1].split(",") if item.strip()]
        if isinstance(value, (list, tuple)):
            return list(value)
    return text


def _argument_values(option: Option, raw: object, origin: Origin) -> list[list[str]] | None:
    """The value lists of the synthetic occurrences for one setting
    (``[]`` = the flag is off, None = a flag set to false)."""
    where = origin.describe()
    if option.nvalues == 0:
        value = _parse_bool(raw) if isinstance(raw, str) else None
        if value is None:
            raise ConfigError(f"{where}: {option.long[2:]} expects true or false, not {raw!r}")
        return [[]] if value else None
    if option.action in ("append", "collect"):  # key, +cf ...: one value or a list of values
        items = raw if isinstance(raw, list) else [raw]
        return [[str(item)] for item in items]
    if option.nvalues == 1:
        if isinstance(raw, list):
            raise ConfigError(f"{where}: {option.long[2:]} takes one value, not a list")
        return [[str(raw)]]
    items = [str(item) for item in raw] if isinstance(raw, list) else str(raw).split()
    if len(items) != option.nvalues:
        raise ConfigError(f"{where}: {option.long[2:]} takes {option.nvalues} values, not {len(items)}")
    return [items]


# ---------------------------------------------------------------------------
# the layers


class Layers:
    """Settings from config files and the environment, lowest first.

    ``assign`` replaces what a lower layer set for the same precedence group;
    ``arguments`` gives the synthetic argument list."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.groups = precedence_groups(tool)
        # group -> (option, value lists, origin), latest assignment last
        self.entries: dict[str, tuple[Option, list[list[str]], Origin]] = {}
        self.keys: list[tuple[str, Origin]] = []
        self.files: list[str] = []

    def assign(self, option: Option, raw: object, origin: Origin) -> None:
        values = _argument_values(option, raw, origin)
        if option.action == "append":
            self.keys.extend((value[0], origin) for value in values or ())
            return
        group = self.groups[option.long]
        current = self.entries.pop(group, None)
        if values is None:  # a flag set to false: drop the same option only
            if current is not None and current[0] is not option:
                self.entries[group] = current
            return
        self.entries[group] = (option, values, origin)

    def arguments(self, overridden: set[str]) -> tuple[list[str], list[Origin]]:
        """Synthetic argv and the origin of each word, skipping the groups
        the command line sets (``overridden``: long names on it)."""
        taken = {self.groups.get(long, long) for long in overridden}
        args: list[str] = []
        origins: list[Origin] = []
        for group, (option, value_lists, origin) in self.entries.items():
            if group in taken:
                continue
            for values in value_lists:
                words = [option.long, *values]
                args += words
                origins += [origin] * len(words)
        key = options.by_long(self.tool, "--key")
        for value, origin in self.keys:
            args += [key.long, value]
            origins += [origin, origin]
        return args, origins


# ---------------------------------------------------------------------------
# config files


def _scan_lines(text: str) -> tuple[list[tuple[str, int]], dict[tuple[str, str], int]]:
    """Sections ``[(name, line)]`` and ``{(section, key): line}`` of an INI
    text (first occurrence; continuation lines are indented and skipped)."""
    sections: list[tuple[str, int]] = []
    keys: dict[tuple[str, str], int] = {}
    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or line[0] in " \t":
            continue
        if stripped.startswith("[") and "]" in stripped:
            current = stripped[1 : stripped.index("]")].strip()
            sections.append((current, number))
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if cut > 0:
            keys.setdefault((current, line[:cut].strip().lower()), number)
    return sections, keys


def _bad_list_line(text: str, section: str) -> int:
    """The line of the first ``key = [...]`` in ``section`` that is no
    Python literal (configargparse reports no line for it)."""
    import ast

    current = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and line[0] not in " \t":
            current = stripped[1 : stripped.find("]")].strip()
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        value = line[cut + 1 :].strip() if cut > 0 else ""
        if current == section and value.startswith("[") and value.endswith("]"):
            try:
                ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return number
    return 0


def _parse_error(name: str, exc: Exception, text: str, section: str) -> ConfigError:
    """configargparse's exception, with the line of configparser's error."""
    import configparser

    cause = exc.__cause__ or exc.__context__ or exc
    if not isinstance(cause, configparser.Error):  # a list that is no Python literal
        origin = Origin(Origin.CONFIG, name, _bad_list_line(text, section))
        return ConfigError(f"{origin.describe()}: not a list of quoted strings "
                           "(write [\"a\", \"b\"] or one value per indented line)")
    line = getattr(cause, "lineno", None)
    errors = getattr(cause, "errors", None)
    if line is None and errors:
        line = errors[0][0]
    text = str(getattr(cause, "message", "") or cause).splitlines()[0]
    if hasattr(cause, "option") and hasattr(cause, "section"):
        text = f"option '{cause.option}' repeated in section [{cause.section}]"
    elif type(cause).__name__ == "MissingSectionHeaderError":
        text = "a setting before the first [section]"
    elif errors:
        text = f"cannot parse {errors[0][1]}"
    origin = Origin(Origin.CONFIG, name, line or 0)
    return ConfigError(f"{origin.describe()}: {text}")


def read_config_file(layers: Layers, name: str) -> None:
    """Add the settings of config file ``name`` for ``layers.tool``: the
    shared section first, then the tool's own (so it wins).  Every section
    and key is checked, also those for the other tool."""
    try:
        with open(name, "rb") as handle:
            text = handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {name}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {name}: {exc.strerror or exc}") from None
    import io

    import configargparse

    sections, key_lines = _scan_lines(text)
    for section, line in sections:
        if section not in SECTIONS:
            # INI's [DEFAULT] too: its keys would repeat in every section (use [dcmretrieve])
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"config file {name}, line {line}: unknown section [{section}] (known: {known})")
    outside = [line for (section, _key), line in key_lines.items() if section == ""]
    if outside:
        raise ConfigError(f"config file {name}, line {min(outside)}: a setting before the first [section]")
    present = {section for section, _ in sections}
    allowed_shared = {**configurable("movescu"), **configurable("getscu")}
    for section in SECTIONS:
        if section not in present:
            continue
        parser = configargparse.IniConfigParser([section], split_ml_text_to_list=True)
        try:
            items = parser.parse(io.StringIO(text))
        except configargparse.ConfigFileParserException as exc:
            raise _parse_error(name, exc, text, section) from None
        except Exception as exc:  # configparser's interpolation errors and the like
            raise ConfigError(f"config file {name}, section [{section}]: {exc}") from None
        allowed = allowed_shared if section == SHARED_SECTION else configurable(section)
        own = configurable(layers.tool)
        for key, raw in items.items():
            line = key_lines.get((section, key), 0)
            origin = Origin(Origin.CONFIG, name, line)
            if key not in allowed:
                if key in _RESERVED_KEYS:
                    why = f"'{key}' cannot be set in a config file"
                else:
                    why = f"unknown option '{key}' in section [{section}]"
                raise ConfigError(f"{origin.describe()}: {why}")
            if section in (SHARED_SECTION, layers.tool) and key in own:
                layers.assign(own[key], raw, origin)
    layers.files.append(name)


# ---------------------------------------------------------------------------
# the environment


def config_files_from_env(environ: dict[str, str]) -> list[str]:
    value = environ.get(CONFIG_ENV, "")
    return [name for name in value.split(os.pathsep) if name]


def read_environment(layers: Layers, environ: dict[str, str]) -> None:
    """``DCMRETRIEVE_<LONG_NAME>`` for every configurable option of the tool,
    in help order."""
    for option in configurable(layers.tool).values():
        variable = env_name(option.long)
        if variable in environ:
            layers.assign(option, _env_value(environ[variable]), Origin(Origin.ENV, variable))


def mentioned(tool: str, environ: dict[str, str]) -> bool:
    """Whether the environment names config files or an option of ``tool``
    (cheap: without this nothing of the config layer runs)."""
    if not any(name.startswith(ENV_PREFIX) for name in environ):
        return False
    return CONFIG_ENV in environ or any(env_name(o.long) in environ for o in configurable(tool).values())


def build(tool: str, config_names: list[str], environ: dict[str, str]) -> Layers:
    """All layers: ``DCMRETRIEVE_CONFIG`` files, ``--config`` files (in
    order), then the environment."""
    layers = Layers(tool)
    for name in config_files_from_env(environ) + config_names:
        read_config_file(layers, name)
    read_environment(layers, environ)
    return layers
