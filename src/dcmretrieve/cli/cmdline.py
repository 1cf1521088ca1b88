"""DCMTK's command-line engine (``OFCommandLine`` / ``OFConsoleApplication``).

Everything here is driven by the tables in ``options``:

* ``expand_command_files``: ``@file`` expansion with DCMTK's quoting (cli.md §6).
* ``classify``: DCMTK's option/parameter rule (cli.md §2): values are
  consumed verbatim even when they look like options, ``-1``/``+5`` are
  parameters, ``--`` is an unknown option, ``+p f i`` takes two values.
* ``State`` + ``evaluate``: DCMTK's checks for one ``Find``/``Block`` of
  ``options.EVALUATION`` (value ranges with sscanf semantics, conflicts,
  dependencies), in DCMTK's order, raising ``CommandLineError``; each value
  is converted once, into the ``Settings`` the tools run on.
* ``help_text``/``version_text``/``error_block``: DCMTK's output formats.
* ``with_defaults``: config files and ``DCMRETRIEVE_*`` variables
  (``config``) as synthetic arguments before the command line, each
  occurrence remembering its ``Origin``.

Nothing here imports pydicom or pynetdicom, so ``--help``, ``--version`` and
syntax errors stay fast (docs/performance.md).
"""

from __future__ import annotations

import os
import sys

from .. import DCMTK_DATE, DCMTK_VERSION, __version__
from . import config
from . import options
from .config import COMMAND_LINE, ConfigError, Origin
from ..dicom.cscan import C_SPACE, scan_c_int
from ..errors import CommandLineError
from .options import Block, Find, Option

# ---------------------------------------------------------------------------
# fixed texts


def banner(tool: str) -> str:
    """The identification line used by ``--help``, ``--version`` and errors.

    DCMTK prints ``$dcmtk: <tool> v3.6.7 2022-04-22 $``; we name ourselves
    but keep the shape (and the DCMTK release we reproduce)."""
    return f"$dcmretrieve: {tool} v{__version__} (DCMTK {DCMTK_VERSION} {DCMTK_DATE}) $"


def header(tool: str) -> str:
    """Banner, empty line, ``<tool>: <description>`` (no trailing newline)."""
    return f"{banner(tool)}\n\n{tool}: {options.TOOLS[tool].description}"


def c_str(text: str) -> str:
    """What C sees of a string: everything before the first NUL.

    Arguments read from a command file may contain NUL bytes.  DCMTK keeps
    them in its ``OFString`` list (so ``-v<NUL>`` is not ``-v``) but hands
    values and parameters to the program, and prints messages, as C
    strings, which end at the NUL."""
    return text.split("\0", 1)[0]


def error_block(tool: str, message: str) -> str:
    """DCMTK's four-line command-line error report (cli.md §1)."""
    return f"{header(tool)}\nerror: {c_str(message)}\n"


def usage_line(tool: str) -> str:
    words = [f"usage: {tool} [options]"]
    for param in options.PARAMS:
        words.append(f"[{param.name}...]" if param.multi else param.name)
    return " ".join(words)


def _option_lines(option: Option, indent: int, short_width: int) -> list[str]:
    head = (
        " " * indent
        + (option.short or "").ljust(short_width)
        + "  "
        + option.long.ljust(options.LONGCOL)
        + "  "
    )
    texts = ([option.value_help] if option.value_help else []) + option.help.split("\n")
    return [head + texts[0]] + [" " * len(head) + text for text in texts[1:]]


def help_text(tool: str) -> str:
    """The complete ``--help`` output, rendered from ``options.LAYOUT``.

    Column rules are DCMTK's (cli.md §8.1): options directly in a group use a
    short-name column of 6 after 2 blanks, options in a sub-group a column of
    4 after 4 blanks; long names are padded to 21; descriptions start at
    column 33.  A column widens when a name would not fit (none does in
    3.6.7, but the rule is DCMTK's).
    """
    lines = [header(tool), usage_line(tool), "", "parameters:"]
    width = max([options.PARAMCOL] + [len(p.name) for p in options.PARAMS])
    for param in options.PARAMS:
        lines.append("  " + param.name.ljust(width) + "  " + param.help)
    lines.append("")
    for group in options.LAYOUT[tool]:
        lines.append(group.title)
        for sub in group.subgroups:
            if sub.title is None:
                indent, short_width = 2, options.GENERAL_SHORTCOL
            else:
                lines.append("  " + sub.title)
                indent, short_width = 4, options.SHORTCOL
            shown = [o for o in sub.options if o.requires is None or options.option_available(o)]
            short_width = max([short_width] + [len(o.short or "") for o in shown])
            for option in shown:
                lines.extend(_option_lines(option, indent, short_width))
    return "\n".join(lines) + "\n\n"


def _distribution_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def version_text(tool: str) -> str:
    """``--version``: DCMTK's shape (cli.md §9) with our own build facts.

    Versions come from the installed distributions' metadata so that
    ``--version`` never imports pynetdicom or pydicom."""
    pydicom_v = _distribution_version("pydicom")
    pynetdicom_v = _distribution_version("pynetdicom")
    configargparse_v = _distribution_version("ConfigArgParse")
    lines = [
        host_header(tool),
        "",
        "External libraries used:",
        f"- pydicom, Version {pydicom_v}",
        f"- pynetdicom, Version {pynetdicom_v}",
        f"- configargparse, Version {configargparse_v}",
    ]
    if options.tls_available():  # DCMTK: "- <OpenSSL version>" when built with OpenSSL
        import ssl  # the version net.tls reports (tls.openssl_version_name)

        lines.append(f"- {ssl.OPENSSL_VERSION}")
    return "\n".join(lines) + "\n"


def host_header(tool: str) -> str:
    """``app.printHeader(OFTrue)``: the header with the host lines (no
    trailing newline); ``--version``, ``--list-ciphers``, ``--list-profiles``."""
    import platform

    pydicom_v = _distribution_version("pydicom")
    pynetdicom_v = _distribution_version("pynetdicom")
    return "\n".join([
        header(tool),
        "",
        f"Host type: {platform.system()}-{platform.machine()}",
        f"Character encoding: {sys.getfilesystemencoding()} (Python codecs)",
        f"Build options: python-{platform.python_version()} pydicom-{pydicom_v} pynetdicom-{pynetdicom_v}",
    ])


# ---------------------------------------------------------------------------
# step 1: @file expansion

_SEPARATORS = " \t\n\r"
_QUOTES = "\"'"


def split_command_file(text: str) -> list[str]:
    """Split the contents of a command file the way DCMTK does (cli.md §6).

    Blanks (space, TAB, CR, LF) separate arguments outside quotes; ``"`` and
    ``'`` open a block that only the same character closes; the closing
    quote ends the argument (even an empty one), so ``ab"c d"e`` gives
    ``abc d`` and ``e``; an unterminated quote takes the rest of the file,
    and yields nothing if that rest (and the argument before the quote) is
    empty.
    """
    result: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                result.append("".join(current))
                current, quote = [], ""
            else:
                current.append(char)
        elif char in _QUOTES:
            quote = char
        elif char in _SEPARATORS:
            if current:
                result.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        result.append("".join(current))
    return result


def _read_command_file(name: str) -> list[str]:
    try:
        with open(name, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        return []  # DCMTK: a directory opens but yields nothing
    except OSError:
        raise CommandLineError(f"Cannot open command file '{name}'") from None
    return split_command_file(data.decode("utf-8", "surrogateescape"))


def expand_command_files(args: list[str]) -> list[str]:
    """Replace every ``@name`` (``@`` plus at least one character) by the
    arguments read from ``name``.  No nesting: arguments read from a file are
    never expanded again."""
    expanded: list[str] = []
    for arg in args:
        if len(arg) > 1 and arg[0] == "@":
            expanded.extend(_read_command_file(arg[1:]))
        else:
            expanded.append(arg)
    return expanded


# ---------------------------------------------------------------------------
# step 2: options versus parameters


def is_option(arg: str) -> bool:
    """DCMTK's rule: at least two characters, starting with ``-`` or ``+``,
    and the second character is not a digit (so ``-1``, ``+5``, ``-`` are
    parameters)."""
    return len(arg) >= 2 and arg[0] in "-+" and not ("0" <= arg[1] <= "9")


class Occurrence:
    """One option on the (expanded) command line, with its values."""

    __slots__ = ("option", "values", "position", "origin")

    def __init__(self, option: Option, values: list[str], position: int,
                 origin: Origin = COMMAND_LINE) -> None:
        self.option = option
        self.values = values
        self.position = position  # index among the option occurrences
        self.origin = origin  # command line, config file line or environment variable

    def __repr__(self) -> str:
        return f"Occurrence({self.option.long!r}, {self.values!r}, {self.position})"


class CommandLine:
    """The classified command line of one run."""

    __slots__ = ("tool", "args", "occurrences", "params", "normalized", "config_files")

    def __init__(self, tool: str, args: list[str]) -> None:
        self.tool = tool
        self.args = args  # after @file expansion
        self.occurrences: list[Occurrence] = []
        self.params: list[str] = []
        self.normalized: list[str] = []  # options as long names (for --arguments)
        self.config_files: list[str] = []  # config files read (with_defaults)

    def has(self, long: str) -> bool:
        return any(o.option.long == long for o in self.occurrences)

    def rightmost(self, long: str, after: int = -1) -> Occurrence | None:
        """DCMTK's ``findOption``: the rightmost occurrence of ``long``, but
        only to the right of position ``after`` (option blocks)."""
        for occurrence in reversed(self.occurrences):
            if occurrence.position <= after:
                return None
            if occurrence.option.long == long:
                return occurrence
        return None


def classify(tool: str, args: list[str], origins: list[Origin] | None = None) -> CommandLine:
    """Split ``args`` into option occurrences and parameters, left to right,
    stopping at the first unknown option or missing value (cli.md §2).
    ``origins``: where each word came from (default: the command line)."""
    table = options.index(tool)
    line = CommandLine(tool, args)
    i = 0
    while i < len(args):
        arg = args[i]
        if is_option(arg):
            option = table.get(arg)
            if option is None or (option.requires is not None and not options.option_available(option)):
                raise CommandLineError(f"Unknown option {arg}")
            values = [c_str(value) for value in args[i + 1 : i + 1 + option.nvalues]]
            if len(values) < option.nvalues:
                raise CommandLineError(f"Missing value for option {option.long}")
            origin = origins[i] if origins is not None else COMMAND_LINE
            line.occurrences.append(Occurrence(option, list(values), len(line.occurrences), origin))
            line.normalized.append(option.long)
            line.normalized.extend(values)
            i += 1 + option.nvalues
        else:
            line.params.append(c_str(arg))
            line.normalized.append(c_str(arg))
            i += 1
    return line


# ---------------------------------------------------------------------------
# step 3: what to do


HELP = "help"
VERSION = "version"
LIST_CIPHERS = "list-ciphers"
LIST_PROFILES = "list-profiles"
RUN = "run"
SHOW_CONFIG = "show-config"


def parse(tool: str, args: list[str], environ: dict[str, str] | None = None) -> tuple[str, CommandLine]:
    """Steps 1–3 of cli.md §10: expand, classify, then decide between help,
    version and a normal run (``Missing parameter …`` otherwise), or
    ``--show-config`` (parameters optional).  For a run, config files and
    the environment (``environ``, default ``os.environ``) add their
    defaults (``with_defaults``)."""
    expanded = expand_command_files(args)
    line = classify(tool, expanded)
    if not expanded or line.has("--help"):
        return HELP, line
    if line.has("--version"):
        return VERSION, line
    # DCMTK 3.7.0: exclusive options of the TLS group, no parameters needed
    for action in (LIST_CIPHERS, LIST_PROFILES):
        if any(o.option.action == action for o in line.occurrences):
            return action, line
    show = line.has("--show-config")
    if not show:
        for index, param in enumerate(options.PARAMS):
            if not param.multi and len(line.params) <= index:
                raise CommandLineError(f"Missing parameter {param.name}")
    line = with_defaults(line, os.environ if environ is None else environ)
    return (SHOW_CONFIG if show else RUN), line


def with_defaults(line: CommandLine, environ: dict[str, str]) -> CommandLine:
    """``line`` with the settings of config files and ``DCMRETRIEVE_*``
    variables as synthetic arguments in front (``config``); ``line`` itself
    when there are none (so DCMTK's command lines run exactly as before)."""
    tool = line.tool
    names = [o.values[0] for o in line.occurrences if o.option.action == options.CONFIG_ACTION]
    if not names and not config.mentioned(tool, environ):
        return line
    layers = config.build(tool, names, environ)
    synthetic, origins = layers.arguments({o.option.long for o in line.occurrences})
    combined = classify(tool, synthetic + line.args, origins + [COMMAND_LINE] * len(line.args))
    combined.args = line.args
    combined.normalized = line.normalized  # --arguments shows the command line as typed
    combined.config_files = layers.files
    return combined


# ---------------------------------------------------------------------------
# numbers, C sscanf style

def scan_long(text: str) -> int | None:
    """What DCMTK's ``OFCommandLine`` reads for a signed option value:
    ``sscanf(text, "%li")`` (the C library decides the base: ``0x10`` is 16,
    ``010`` is 8, ``08`` is 0), leading blanks, optional sign, trailing
    garbage ignored, saturating at LONG_MIN/LONG_MAX (glibc).  None if no
    number could be read."""
    scanned = scan_c_int(text, 0, 0, wrap=False)
    if scanned is None:
        return None
    return max(-options.LONG_MAX - 1, min(options.LONG_MAX, scanned[0]))


def scan_ulong(text: str) -> int | None:
    """``sscanf(text, "%lu")``: like ``scan_long`` but a negative number
    wraps modulo 2**64 (``-1`` → ULONG_MAX) and overflow saturates."""
    scanned = scan_c_int(text, 0, 10, wrap=False)
    if scanned is None:
        return None
    value = scanned[0]
    if abs(value) > options.ULONG_MAX:
        return options.ULONG_MAX
    return value % (options.ULONG_MAX + 1)


def _first_non_blank(text: str) -> str:
    stripped = text.lstrip(C_SPACE)
    return stripped[:1]


def number_status(vtype: str, text: str, vmin: int | None, vmax: int | None) -> tuple[str, int]:
    """``("ok"|"invalid"|"underflow"|"overflow", value)`` for an option value,
    with DCMTK's rule that unsigned option values must not start with ``-``."""
    if vtype == options.SIGNED:
        value = scan_long(text)
    else:
        if _first_non_blank(text) == "-":
            return "invalid", 0
        value = scan_ulong(text)
    if value is None:
        return "invalid", 0
    if vmin is not None and value < vmin:
        return "underflow", value
    if vmax is not None and value > vmax:
        return "overflow", value
    return "ok", value


def check_port_parameter(text: str) -> int:
    """The ``port`` parameter: unsigned 1..65535 with the parameter wording
    (``Invalid parameter value 0 (underflow)``; a ``-1`` wraps and overflows)."""
    low, high = options.PORT_PARAM_RANGE
    value = scan_ulong(text)
    if value is None:
        raise CommandLineError(f"Invalid parameter value {text}")
    if value < low:
        raise CommandLineError(f"Invalid parameter value {text} (underflow)")
    if value > high:
        raise CommandLineError(f"Invalid parameter value {text} (overflow)")
    return value


def _wrap_int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 0x100000000 if value >= 0x80000000 else value


def _ae_title(value: str) -> str:
    """DCMTK copies AE titles into 16-byte buffers: keep the first 16 bytes
    of the argument as it was passed (``os.fsencode`` restores them)."""
    return os.fsdecode(os.fsencode(value)[:16])


def _seconds(option: Option, text: str) -> float:
    """A decimal number of seconds, 0..3600 (our extensions only)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value == value or text.strip() != text or value in (float("inf"), float("-inf")):
        raise CommandLineError(f"Invalid value for option {option.long} ({text})")
    if value < 0:
        raise CommandLineError(f"Invalid value for option {option.long} (underflow: {text})")
    if value > 3600:
        raise CommandLineError(f"Invalid value for option {option.long} (overflow: {text})")
    return value


def convert_value(option: Option, values: list[str]) -> object:
    """Validate the value(s) of one occurrence and return what ``Settings``
    stores; raises ``CommandLineError`` with DCMTK's message."""
    converted: list[object] = []
    for text in values:
        if option.vtype == options.STRING and option.convert == options.SECONDS:
            converted.append(_seconds(option, text))
        elif option.vtype == options.STRING:
            converted.append(_ae_title(text) if option.convert == options.AE_TITLE else text)
        elif option.vtype == options.LOGLEVEL:
            if not (text.isascii() and text.lower() in options.LOG_LEVELS):
                raise CommandLineError(option.invalid_message or f"Invalid value for option {option.long}")
            converted.append(text.lower())
        else:
            status, value = number_status(option.vtype, text, option.vmin, option.vmax)
            if status == "invalid":
                shown = f" ({text})" if text else ""
                raise CommandLineError(f"Invalid value for option {option.long}{shown}")
            if status != "ok":
                raise CommandLineError(f"Invalid value for option {option.long} ({status}: {text})")
            converted.append(_wrap_int32(value) if option.convert == options.INT32 else value)
    if option.nvalues == 1:
        return converted[0]
    return tuple(converted)


# ---------------------------------------------------------------------------
# DCMTK's evaluation of Find / Block entries


class State:
    """The evaluation state of one run: the ``Settings`` being filled, plus
    the facts DCMTK's checks look at that are no settings (the -q/-v/-d
    block, the raw -ll value, facts ``app`` supplies such as
    ``@info_enabled``).

    This is the one path from the classified command line to ``Settings``:
    parameters and ``-k`` values are taken as classified, every option value
    is converted and checked exactly once, when DCMTK's evaluation order
    reaches it (``evaluate``), and phases of ``app`` complete the rest (the
    port parameter, parsed -k keys)."""

    __slots__ = ("settings", "facts", "sources", "key_origins")

    def __init__(self, line: CommandLine, argv0: str) -> None:
        from ..settings import Settings

        tool = line.tool
        settings = Settings(tool=tool, aetitle=options.TOOLS[tool].default_aetitle)
        settings.argv0 = argv0
        settings.expanded_args = list(line.normalized)
        settings.peer = line.params[0] if line.params else ""
        settings.query_files = list(line.params[2:])
        keys = [o for o in line.occurrences if o.option.action == "append"]
        settings.keys = [o.values[0] for o in keys]
        self.key_origins = [o.origin for o in keys]
        self.settings = settings
        self.sources: dict[str, Origin] = {}  # dest -> origin of the value that set it
        for occurrence in line.occurrences:  # +cf/+cd/+crl/+cs: every value, in order
            if occurrence.option.action == "collect":
                getattr(settings, occurrence.option.dest).append(c_str(occurrence.values[0]))
                self.sources[occurrence.option.dest] = occurrence.origin
        self.facts: dict[str, object] = {}
        for option in options.options_of(tool):
            if option.dest and not hasattr(settings, option.dest):
                self.facts[option.dest] = None

    def get(self, field: str) -> object:
        if field in self.facts or field.startswith("@"):
            return self.facts.get(field)
        return getattr(self.settings, field)

    def __getitem__(self, field: str) -> object:
        return self.get(field)

    def __setitem__(self, field: str, value: object) -> None:
        if field in self.facts or field.startswith("@"):
            self.facts[field] = value
            if field == options.VERBOSITY:
                self.settings.log_level = value  # type: ignore[assignment]
            elif field == options.LOG_LEVEL_RAW and self.facts.get(options.VERBOSITY) is None:
                self.settings.log_level = value  # type: ignore[assignment]
        else:
            setattr(self.settings, field, value)


def _apply(occurrence: Occurrence, state: dict[str, object]) -> None:
    try:
        _check_and_store(occurrence, state)
    except CommandLineError as exc:
        if occurrence.origin.kind == Origin.COMMAND_LINE:
            raise
        # a value from a config file or the environment: say where it came from
        raise ConfigError(f"{occurrence.origin.describe()}: {c_str(exc.message)}") from None


def _check_and_store(occurrence: Occurrence, state: dict[str, object]) -> None:
    option = occurrence.option
    for check in option.checks:
        if check.fails(state):
            raise CommandLineError(check.message(option.long))
    if option.dest is None or option.action in ("append", "collect"):
        return
    if option.nvalues:
        state[option.dest] = convert_value(option, occurrence.values)
    else:
        state[option.dest] = option.const
    sources = getattr(state, "sources", None)
    if sources is not None:
        sources[option.dest] = occurrence.origin


def evaluate(line: CommandLine, item: object, state: dict[str, object]) -> None:
    """Run DCMTK's checks for one ``Find`` or ``Block`` and update ``state``.

    ``Find``: the rightmost occurrence is checked and stored; earlier ones
    are never looked at.  ``Block``: members are searched in DCMTK's source
    order, each only to the right of the previously found member, so the
    rightmost member wins while conflict checks see the members found
    before it (cli.md §4, e.g. getscu ``+B -B``)."""
    if isinstance(item, Find):
        occurrence = line.rightmost(item.long)
        if occurrence is not None:
            _apply(occurrence, state)
    elif isinstance(item, Block):
        after = -1
        for long in item.members:
            occurrence = line.rightmost(long, after)
            if occurrence is not None:
                _apply(occurrence, state)
                after = occurrence.position
    else:
        raise TypeError(f"not an option item: {item!r}")


# ---------------------------------------------------------------------------
# --show-config

DEFAULT_SOURCE = "default"
#: Settings fields that are no option's value (computed or internal)
_LOG_FIELDS = (options.VERBOSITY, options.LOG_LEVEL_RAW)


def _shown(value: object) -> str:
    import json

    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False)


def settings_report(line: CommandLine, state: State) -> str:
    """``--show-config``: one line per setting, ``name = value  (source)``,
    values as JSON, sources ``default``, ``config FILE:LINE``, ``env VAR``
    or ``command line``; parameters first, then the options in help order."""
    settings = state.settings
    rows: list[tuple[str, object, str]] = []
    given = "command line"
    rows.append(("peer", line.params[0] if line.params else None, given if line.params else "not given"))
    has_port = len(line.params) > 1
    rows.append(("port", settings.port if has_port else None, given if has_port else "not given"))
    for name in settings.query_files:
        rows.append(("query_file", name, given))
    seen: set[str] = set()
    for option in options.options_of(line.tool):
        dest = option.dest
        if dest is None or dest in seen:
            continue
        seen.add(dest)
        if option.action == "append":
            rows += [("key", key, str(origin)) for key, origin in zip(settings.keys, state.key_origins)]
            continue
        if dest in _LOG_FIELDS:
            if "log_level" in seen:
                continue
            seen.add("log_level")
            origin = state.sources.get(options.VERBOSITY) or state.sources.get(options.LOG_LEVEL_RAW)
            rows.append(("log_level", settings.log_level, str(origin) if origin else DEFAULT_SOURCE))
            continue
        origin = state.sources.get(dest)
        rows.append((dest, getattr(settings, dest), str(origin) if origin else DEFAULT_SOURCE))
    width = max(len(name) for name, _, _ in rows)
    files = ", ".join(line.config_files) if line.config_files else "none"
    out = [f"# {line.tool} effective settings (config files: {files})"]
    for name, value, source in rows:
        out.append(f"{name.ljust(width)} = {_shown(value)}  ({source})")
    return "\n".join(out) + "\n"
