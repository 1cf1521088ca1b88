"""Every command-line option of movescu 3.6.7 and getscu 3.6.7, as data.

Why data: the same tables drive four things that must never drift apart —
the ``--help`` text (byte-identical to DCMTK), the configargparse parser that
stores values (rightmost wins), the ``Settings`` object, and DCMTK's checks
(value ranges, "X not allowed with Y", "X only allowed with Y") performed in
DCMTK's own evaluation order.  ``cmdline`` and ``app`` interpret these
tables; they contain no option names of their own.

Vocabulary
----------
* ``Option``: one option (long/short name, value names, help, type, range,
  the ``Settings`` field it is stored into and the checks run when DCMTK
  "finds" it).
* ``Option.since``: set on the few options a later DCMTK release added
  (DCMTK 3.7.0's "IP protocol version:" sub-group); they sit in DCMTK's
  groups where that release shows them, and ``dcmtk_options_of`` (what
  DCMTK 3.6.7 accepts) leaves them out.
* ``LAYOUT[tool]``: groups and sub-groups in DCMTK's ``--help`` order
  (``DCMTK_LAYOUT``), then one group of our extensions (``EXTENSIONS``:
  long options only, after DCMTK's last group).
* ``EVALUATION[tool]``: DCMTK's order of checks (cli.md §10).  An entry is
  either ``Find`` (a single option: the rightmost occurrence is validated),
  ``Block`` (a rightmost-wins group evaluated the way ``OFCommandLine``'s
  option blocks work, see ``cmdline.evaluate``) or the name of a phase that
  ``app`` runs itself (``PHASE_*``).

This module is imported for ``--help``: it must stay free of heavy imports
(no dataclasses/typing at run time; see docs/performance.md).
"""

from __future__ import annotations

# ---------------------------------------------------------------------------
# building blocks


class Cond:
    """``state[field] <op> value`` on the evaluation state (see ``cmdline``).

    ``op`` is one of ``==``, ``!=``, ``>``, ``not in`` (value: a tuple).  A field starting with ``@`` is a
    fact supplied by ``app`` at run time (e.g. whether INFO is enabled).
    """

    __slots__ = ("field", "op", "value")

    def __init__(self, field: str, op: str, value: object) -> None:
        self.field = field
        self.op = op
        self.value = value

    def holds(self, state: dict[str, object]) -> bool:
        current = state.get(self.field)
        if self.op == "==":
            return current == self.value
        if self.op == "!=":
            return current != self.value
        if self.op == ">":
            return isinstance(current, int) and current > self.value  # type: ignore[operator]
        if self.op == "not in":
            return current not in self.value  # type: ignore[operator]
        raise ValueError(f"unknown operator {self.op!r}")

    def __repr__(self) -> str:
        return f"Cond({self.field!r}, {self.op!r}, {self.value!r})"


class Check:
    """A conflict or a dependence attached to an option.

    DCMTK's ``checkConflict(opt, other, cond)`` fails when ``cond`` holds and
    prints ``<opt> not allowed with <other>``; ``checkDependence(opt, other,
    cond)`` fails when ``cond`` does not hold and prints ``<opt> only allowed
    with <other>``.  For a dependence ``conds`` are alternatives (any one
    satisfies it), for a conflict any holding condition triggers it.
    """

    __slots__ = ("kind", "other", "conds", "subject")

    def __init__(self, kind: str, other: str, *conds: Cond, subject: str | None = None) -> None:
        if kind not in ("conflict", "dependence"):
            raise ValueError(kind)
        self.kind = kind
        self.other = other
        self.conds = conds
        self.subject = subject  # the option name DCMTK prints, when not the option's own

    def fails(self, state: dict[str, object]) -> bool:
        hit = any(c.holds(state) for c in self.conds)
        return hit if self.kind == "conflict" else not hit

    def message(self, long: str) -> str:
        word = "not" if self.kind == "conflict" else "only"
        return f"{self.subject or long} {word} allowed with {self.other}"


def conflict(other: str, field: str, value: object, op: str = "==") -> Check:
    return Check("conflict", other, Cond(field, op, value))


def dependence(other: str, *conds: Cond, subject: str | None = None) -> Check:
    return Check("dependence", other, *conds, subject=subject)


# value types
FLAG = "flag"  # no value
STRING = "string"  # any string, even empty
SIGNED = "signed"  # C long, sscanf("%ld")
UNSIGNED = "unsigned"  # C unsigned long, sscanf("%lu"), leading '-' refused
LOGLEVEL = "loglevel"  # one of LOG_LEVELS, case-insensitive

# post-processing of a valid value before it reaches Settings
AE_TITLE = "ae16"  # DCMTK copies AE titles into 16-byte fields
INT32 = "int32"  # DCMTK casts the long to a C int / Sint32
SECONDS = "seconds"  # a STRING value read as a non-negative decimal number of seconds (extensions only)

#: values -ll accepts (log4cplus' LogLevelManager::fromString, case-insensitive)
LOG_LEVELS = ("fatal", "error", "warn", "info", "debug", "trace", "off", "all")

LONG_MAX = 2**63 - 1
ULONG_MAX = 2**64 - 1


class Option:
    """One DCMTK option.  See the module docstring."""

    __slots__ = (
        "long", "short", "help", "value_help", "nvalues", "vtype", "vmin", "vmax",
        "dest", "const", "action", "checks", "convert", "invalid_message", "requires", "since",
    )

    def __init__(
        self,
        long: str,
        short: str | None,
        help: str,
        *,
        value_help: str | None = None,
        nvalues: int = 0,
        vtype: str = FLAG,
        vmin: int | None = None,
        vmax: int | None = None,
        dest: str | None = None,
        const: object = True,
        action: str | None = None,
        checks: tuple[Check, ...] = (),
        convert: str | None = None,
        invalid_message: str | None = None,
        requires: str | None = None,
        since: str | None = None,
    ) -> None:
        self.long = long
        self.short = short
        self.help = help
        self.value_help = value_help
        self.nvalues = nvalues
        self.vtype = vtype
        self.vmin = vmin
        self.vmax = vmax
        self.dest = dest
        self.const = const
        # "exclusive" (help/version), "store_const", "store", "append" (-k),
        # "collect" (every occurrence's value, in order: +cf, +cd, +crl, +cs),
        # LIST_CIPHERS_ACTION / LIST_PROFILES_ACTION (+cc, +ph)
        self.action = action or ("store_const" if nvalues == 0 else "store")
        self.checks = checks
        self.convert = convert
        self.invalid_message = invalid_message
        # an OpenSSL feature the option exists only with (TLS_3DES, TLS_NULL; see option_available)
        self.requires = requires
        # the later DCMTK release that added the option (None = DCMTK 3.6.7's)
        self.since = since

    def but(self, **changes: object) -> "Option":
        """A copy with some attributes changed (per-tool variants)."""
        kwargs = {name: getattr(self, name) for name in self.__slots__}
        kwargs.update(changes)
        long = kwargs.pop("long")
        short = kwargs.pop("short")
        help_ = kwargs.pop("help")
        return Option(long, short, help_, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Option({self.long!r})"


class SubGroup:
    """A sub-group of options; ``title`` None = options directly in the group."""

    __slots__ = ("title", "options")

    def __init__(self, title: str | None, *options: Option) -> None:
        self.title = title
        self.options = options


class Group:
    __slots__ = ("title", "subgroups")

    def __init__(self, title: str, *subgroups: SubGroup) -> None:
        self.title = title
        self.subgroups = subgroups


class Find:
    """Evaluate one option: DCMTK's ``if (cmd.findOption(long)) {...}``."""

    __slots__ = ("long",)

    def __init__(self, long: str) -> None:
        self.long = long

    def __repr__(self) -> str:
        return f"Find({self.long!r})"


class Block:
    """Evaluate a rightmost-wins group: ``beginOptionBlock`` … ``endOptionBlock``.

    ``members`` are in DCMTK's source order, which decides which conflict
    checks run (cli.md §4).
    """

    __slots__ = ("members",)

    def __init__(self, *members: str) -> None:
        self.members = members

    def __repr__(self) -> str:
        return f"Block{self.members!r}"


class Param:
    __slots__ = ("name", "help", "multi")

    def __init__(self, name: str, help: str, multi: bool = False) -> None:
        self.name = name
        self.help = help
        self.multi = multi


class Tool:
    """Identity of one tool (help header, defaults that differ)."""

    __slots__ = ("name", "description", "default_aetitle")

    def __init__(self, name: str, description: str, default_aetitle: str) -> None:
        self.name = name
        self.description = description
        self.default_aetitle = default_aetitle


TOOLS = {
    "movescu": Tool("movescu", "DICOM retrieve (C-MOVE) SCU", "MOVESCU"),
    "getscu": Tool("getscu", "DICOM retrieve (C-GET) SCU", "GETSCU"),
}

#: both tools: peer, port, query files (PM_MultiOptional)
PARAMS = (
    Param("peer", "hostname of DICOM peer"),
    Param("port", "tcp/ip port number of peer"),
    Param("dcmfile-in", "DICOM query file(s)", multi=True),
)

#: the port parameter: unsigned 1..65535, "Invalid parameter value …"
PORT_PARAM_RANGE = (1, 65535)

# help-text column geometry of both tools (DCMTK: LONGCOL 21, SHORTCOL 4)
LONGCOL = 21
SHORTCOL = 4
GENERAL_SHORTCOL = SHORTCOL + 2  # addGroup("general options:", LONGCOL, SHORTCOL + 2)
PARAMCOL = LONGCOL + SHORTCOL + 4

# ---------------------------------------------------------------------------
# options shared by both tools

VERBOSITY = "verbosity"  # state field of the -q/-v/-d block (not a Settings field)
LOG_LEVEL_RAW = "log_level_option"  # state field of -ll (not a Settings field)
_VDQ = "--verbose, --debug or --quiet"

HELP = Option("--help", "-h", "print this help text and exit", action="exclusive")
VERSION = Option("--version", None, "print version information and exit", action="exclusive")
ARGUMENTS = Option("--arguments", None, "print expanded command line arguments", dest="arguments")
QUIET = Option("--quiet", "-q", "quiet mode, print no warnings and errors", dest=VERBOSITY, const="quiet")
VERBOSE = Option("--verbose", "-v", "verbose mode, print processing details", dest=VERBOSITY, const="verbose")
DEBUG = Option("--debug", "-d", "debug mode, print debug information", dest=VERBOSITY, const="debug")
LOG_LEVEL = Option(
    "--log-level", "-ll",
    "(fatal, error, warn, info, debug, trace)\nuse level l for the logger",
    value_help="[l]evel: string constant", nvalues=1, vtype=LOGLEVEL, dest=LOG_LEVEL_RAW,
    checks=(conflict(_VDQ, VERBOSITY, None, "!="),),
    invalid_message="Invalid log level for --log-level option",
)
LOG_CONFIG = Option(
    "--log-config", "-lc", "use config file f for the logger",
    value_help="[f]ilename: string", nvalues=1, vtype=STRING, dest="log_config",
    checks=(
        conflict("--log-level", LOG_LEVEL_RAW, None, "!="),
        conflict(_VDQ, VERBOSITY, None, "!="),
    ),
)
GENERAL = (HELP, VERSION, ARGUMENTS, QUIET, VERBOSE, DEBUG, LOG_LEVEL, LOG_CONFIG)

KEY = Option(
    "--key", "-k", "override matching key",
    value_help='[k]ey: gggg,eeee="str" or dict. name="str"', nvalues=1, vtype=STRING,
    dest="keys", action="append",
)

PATIENT = Option("--patient", "-P", "use patient root information model (default)", dest="model", const="patient")
STUDY = Option("--study", "-S", "use study root information model", dest="model", const="study")
PSONLY = Option("--psonly", "-O", "use patient/study only information model", dest="model", const="psonly")
MODELS = (PATIENT, STUDY, PSONLY)

#: DCMTK 3.7.0's "IP protocol version:" sub-group (a 3.7.0 option, not 3.6.7's);
#: the dest is the family of the outgoing association (and of movescu's
#: listener): None (not given) = 3.6.7's IPv4 code path
DCMTK_370 = "3.7.0"
IP_VERSION_TITLE = "IP protocol version:"
IPV4 = Option("--ipv4", "-i4", "use IPv4 only (default)", dest="protocol_family", const="inet", since=DCMTK_370)
IPV6 = Option("--ipv6", "-i6", "use IPv6 only", dest="protocol_family", const="inet6", since=DCMTK_370)
IP_AUTO = Option(
    "--ip-auto", "-i0", "use IPv6/IPv4 dual stack", dest="protocol_family", const="unspec", since=DCMTK_370)
IP_VERSION = SubGroup(IP_VERSION_TITLE, IPV4, IPV6, IP_AUTO)
#: getscu names -i0 after what it does for the outgoing association only
IP_VERSION_GETSCU = SubGroup(
    IP_VERSION_TITLE, IPV4, IPV6, IP_AUTO.but(help="use DNS lookup to determine IP protocol"))
_IP_BLOCK = Block("--ipv4", "--ipv6", "--ip-auto")

AETITLE = Option(
    "--aetitle", "-aet", "set my calling AE title (default: MOVESCU)",
    value_help="[a]etitle: string", nvalues=1, vtype=STRING, dest="aetitle", convert=AE_TITLE,
)
CALL = Option(
    "--call", "-aec", "set called AE title of peer (default: ANY-SCP)",
    value_help="[a]etitle: string", nvalues=1, vtype=STRING, dest="call", convert=AE_TITLE,
)
MOVE = Option(
    "--move", "-aem", "set move destinat. AE title (default: MOVESCU)",
    value_help="[a]etitle: string", nvalues=1, vtype=STRING, dest="move", convert=AE_TITLE,
)


def _prefer(long: str, short: str, help: str) -> Option:
    return Option(long, short, help, dest="prefer_xfer", const=long[2:])


PREFER_UNCOMPRESSED = (
    _prefer("--prefer-uncompr", "+x=", "prefer explicit VR local byte order (default)"),
    _prefer("--prefer-little", "+xe", "prefer explicit VR little endian TS"),
    _prefer("--prefer-big", "+xb", "prefer explicit VR big endian TS"),
)
#: the compressed preferences: each conflicts with movescu's +te/+tb/+ti/+td
PREFER_COMPRESSED = (
    _prefer("--prefer-lossless", "+xs", "prefer default JPEG lossless TS"),
    _prefer("--prefer-jpeg8", "+xy", "prefer default JPEG lossy TS for 8 bit data"),
    _prefer("--prefer-jpeg12", "+xx", "prefer default JPEG lossy TS for 12 bit data"),
    _prefer("--prefer-j2k-lossless", "+xv", "prefer JPEG 2000 lossless TS"),
    _prefer("--prefer-j2k-lossy", "+xw", "prefer JPEG 2000 lossy TS"),
    _prefer("--prefer-jls-lossless", "+xt", "prefer JPEG-LS lossless TS"),
    _prefer("--prefer-jls-lossy", "+xu", "prefer JPEG-LS lossy TS"),
    _prefer("--prefer-mpeg2", "+xm", "prefer MPEG2 Main Profile @ Main Level TS"),
    _prefer("--prefer-mpeg2-high", "+xh", "prefer MPEG2 Main Profile @ High Level TS"),
    _prefer("--prefer-mpeg4", "+xn", "prefer MPEG4 AVC/H.264 HP / Level 4.1 TS"),
    _prefer("--prefer-mpeg4-bd", "+xl", "prefer MPEG4 AVC/H.264 BD-compatible TS"),
    _prefer("--prefer-mpeg4-2-2d", "+x2", "prefer MPEG4 AVC/H.264 HP / Level 4.2 TS (2D)"),
    _prefer("--prefer-mpeg4-2-3d", "+x3", "prefer MPEG4 AVC/H.264 HP / Level 4.2 TS (3D)"),
    _prefer("--prefer-mpeg4-2-st", "+xo", "prefer MPEG4 AVC/H.264 Stereo HP / Level 4.2 TS"),
    _prefer("--prefer-hevc", "+x4", "prefer HEVC/H.265 Main Profile / Level 5.1 TS"),
    _prefer("--prefer-hevc10", "+x5", "prefer HEVC/H.265 Main 10 Profile / Level 5.1 TS"),
    _prefer("--prefer-rle", "+xr", "prefer RLE lossless TS"),
)
PREFER_OTHER = (
    _prefer("--prefer-deflated", "+xd", "prefer deflated explicit VR little endian TS"),
    _prefer("--implicit", "+xi", "accept implicit VR little endian TS only"),
)
PREFER = PREFER_UNCOMPRESSED + PREFER_COMPRESSED + PREFER_OTHER
ACCEPT_ALL = _prefer("--accept-all", "+xa", "accept all supported transfer syntaxes")


def _propose(long: str, short: str, help: str) -> Option:
    return Option(long, short, help, dest="propose_xfer", const=long[2:])


PROPOSE = (
    _propose("--propose-uncompr", "-x=", "propose all uncompressed TS, explicit VR\nwith local byte ordering first (default)"),
    _propose("--propose-little", "-xe", "propose all uncompressed TS, explicit VR\nlittle endian first"),
    _propose("--propose-big", "-xb", "propose all uncompressed TS, explicit VR\nbig endian first"),
    _propose("--propose-deflated", "-xd", "propose deflated explicit VR little endian TS\nand all uncompressed transfer syntaxes"),
    _propose("--propose-implicit", "-xi", "propose implicit VR little endian TS only"),
)

TIMEOUT = Option(
    "--timeout", "-to", "timeout for connection requests",
    value_help="[s]econds: integer (default: unlimited)", nvalues=1, vtype=SIGNED, vmin=1,
    dest="timeout", convert=INT32,
)
ACSE_TIMEOUT = Option(
    "--acse-timeout", "-ta", "timeout for ACSE messages",
    value_help="[s]econds: integer (default: 30)", nvalues=1, vtype=SIGNED, vmin=1,
    dest="acse_timeout", convert=INT32,
)
DIMSE_TIMEOUT = Option(
    "--dimse-timeout", "-td", "timeout for DIMSE messages",
    value_help="[s]econds: integer (default: unlimited)", nvalues=1, vtype=SIGNED, vmin=1,
    dest="dimse_timeout", convert=INT32,
)
MAX_PDU = Option(
    "--max-pdu", "-pdu", "set max receive pdu to n bytes (default: 16384)",
    value_help="[n]umber of bytes: integer (4096..131072)", nvalues=1, vtype=UNSIGNED,
    vmin=4096, vmax=131072, dest="max_pdu",
)
REPEAT = Option(
    "--repeat", None, "repeat n times",
    value_help="[n]umber: integer", nvalues=1, vtype=UNSIGNED, vmin=1, dest="repeat",
)
ABORT = Option("--abort", None, "abort association instead of releasing it", dest="abort")
IGNORE = Option("--ignore", None, "ignore store data, receive but do not store", dest="ignore")
OUTPUT_DIRECTORY = Option(
    "--output-directory", "-od", "write received objects to existing directory d",
    value_help='[d]irectory: string (default: ".")', nvalues=1, vtype=STRING, dest="output_directory",
)
NORMAL = Option("--normal", "-B", "allow implicit format conversions (default)", dest="bit_preserving", const=False)
BIT_PRESERVING = Option("--bit-preserving", "+B", "write data exactly as read", dest="bit_preserving", const=True)

# ---------------------------------------------------------------------------
# movescu only

ACCESS = (
    Option("--access-full", "-ac", "accept connections from any host (default)", dest="access_control", const=False),
    Option("--access-control", "+ac", "enforce host access control rules", dest="access_control", const=True),
)
NO_PORT = Option("--no-port", None, "no port for incoming associations (default)", dest="listen_port", const=0)
PORT = Option(
    "--port", "+P", "port number for incoming associations",
    value_help="[n]umber: integer", nvalues=1, vtype=UNSIGNED, vmin=1, vmax=65535, dest="listen_port",
)
PENDING = (
    Option("--pending-ignore", "-pi", "assume no dataset present (default)", dest="pending_read", const=False),
    Option("--pending-read", "-pr", "read and ignore dataset", dest="pending_read", const=True),
)
DISABLE_HOST_LOOKUP = Option("--disable-host-lookup", "-dhl", "disable hostname lookup", dest="disable_host_lookup")
CANCEL = Option(
    "--cancel", None, "cancel after n responses (default: never)",
    value_help="[n]umber: integer", nvalues=1, vtype=SIGNED, vmin=0, dest="cancel",
)
UID_PADDING = Option("--uid-padding", "-up", "silently correct space-padded UIDs", dest="uid_padding")

FILE_FORMAT = (
    Option("--write-file", "+F", "write file format (default)", dest="write_file", const=True),
    Option("--write-dataset", "-F", "write data set without file meta information", dest="write_file", const=False),
)


def _write_xfer_conflicts() -> tuple[Check, ...]:
    """+te/+tb/+ti/+td: DCMTK's checks, in its order (accept-all, +B, then
    every compressed preference; +xd is deliberately absent)."""
    checks = [
        conflict("--accept-all", "prefer_xfer", "accept-all"),
        conflict("--bit-preserving", "bit_preserving", True),
    ]
    checks += [conflict(o.long, "prefer_xfer", o.const) for o in PREFER_COMPRESSED]
    return tuple(checks)


def _write_xfer(long: str, short: str, help: str, checks: tuple[Check, ...] = ()) -> Option:
    return Option(long, short, help, dest="write_xfer", const=long[2:], checks=checks)


WRITE_XFER = (
    _write_xfer("--write-xfer-same", "+t=", "write with same TS as input (default)"),
    _write_xfer("--write-xfer-little", "+te", "write with explicit VR little endian TS", _write_xfer_conflicts()),
    _write_xfer("--write-xfer-big", "+tb", "write with explicit VR big endian TS", _write_xfer_conflicts()),
    _write_xfer("--write-xfer-implicit", "+ti", "write with implicit VR little endian TS", _write_xfer_conflicts()),
    _write_xfer("--write-xfer-deflated", "+td", "write with deflated expl. VR little endian TS", _write_xfer_conflicts()),
)

_NOT_WITH_BP = (conflict("--bit-preserving", "bit_preserving", True),)
NEW_VR = (
    Option("--enable-new-vr", "+u", "enable support for new VRs (UN/UT) (default)", dest="enable_new_vr", const=True, checks=_NOT_WITH_BP),
    Option("--disable-new-vr", "-u", "disable support for new VRs, convert to OB", dest="enable_new_vr", const=False, checks=_NOT_WITH_BP),
)
GROUP_LENGTH = (
    Option("--group-length-recalc", "+g=", "recalculate group lengths if present (default)", dest="group_length", const="group-length-recalc", checks=_NOT_WITH_BP),
    Option("--group-length-create", "+g", "always write with group length elements", dest="group_length", const="group-length-create", checks=_NOT_WITH_BP),
    Option("--group-length-remove", "-g", "always write without group length elements", dest="group_length", const="group-length-remove", checks=_NOT_WITH_BP),
)
LENGTH_ENCODING = (
    Option("--length-explicit", "+e", "write with explicit lengths (default)", dest="length_explicit", const=True, checks=_NOT_WITH_BP),
    Option("--length-undefined", "-e", "write with undefined lengths", dest="length_explicit", const=False, checks=_NOT_WITH_BP),
)
PADDING = (
    Option("--padding-off", "-p", "no padding (default)", dest="padding", const=None),
    Option(
        "--padding-create", "+p", "align file on multiple of f bytes\nand items on multiple of i bytes",
        value_help="[f]ile-pad [i]tem-pad: integer", nvalues=2, vtype=UNSIGNED, vmin=0, dest="padding",
        checks=(
            conflict("--write-dataset", "write_file", False),
            conflict("--bit-preserving", "bit_preserving", True),
        ),
    ),
)
COMPRESSION_LEVEL = Option(
    "--compression-level", "+cl", "0=uncompressed, 1=fastest, 9=best compression",
    value_help="[l]evel: integer (default: 6)", nvalues=1, vtype=UNSIGNED, vmin=0, vmax=9,
    dest="compression_level",
    checks=(
        dependence(
            "--propose-deflated, --write-xfer-deflated or --write-xfer-same",
            Cond("propose_xfer", "==", "propose-deflated"),
            Cond("write_xfer", "==", "write-xfer-deflated"),
            Cond("write_xfer", "==", "write-xfer-same"),
        ),
    ),
)

# ---------------------------------------------------------------------------
# getscu only / getscu variants

#: fact provided by app after the logger is configured
FACT_INFO_ENABLED = "@info_enabled"

VERBOSE_PC = Option(
    "--verbose-pc", "+v", "show presentation contexts in verbose mode", dest="verbose_pc",
    checks=(dependence("verbose mode", Cond(FACT_INFO_ENABLED, "==", True)),),
)

# ---------------------------------------------------------------------------
# dcmretrieve extensions (long options only; never in DCMTK's groups)

#: title of the one group after DCMTK's last group in ``--help`` and the man pages
EXTENSIONS_TITLE = "dcmretrieve extensions:"

#: actions of the configuration options (``cmdline``/``config``/``app`` act on them)
CONFIG_ACTION = "config"
SHOW_CONFIG_ACTION = "show-config"

CONFIG = Option(
    "--config", None, "read option defaults from config file f\n(repeatable, later files win)",
    value_help="[f]ilename: string", nvalues=1, vtype=STRING, action=CONFIG_ACTION,
)
SHOW_CONFIG = Option(
    "--show-config", None, "print the effective settings and where each\ncomes from, then exit",
    action=SHOW_CONFIG_ACTION,
)

STRICT_EXIT = Option(
    "--strict-exit", None,
    "exit status follows the outcome (docs/ci.md):\n"
    "  0  every request Success, every object stored\n"
    "  68 warning, or sub-operations failed/warned\n"
    "  69 failure, refused, cancel, unknown status,\n"
    "     object not stored, nothing retrieved\n"
    "  61 66 60 45 40 67: association/setup failure\n"
    "     (movescu's codes, for getscu too)",
    dest="strict_exit",
)
ALLOW_EMPTY = Option(
    "--allow-empty", None, "nothing retrieved is no failure (--strict-exit)",
    dest="allow_empty", checks=(dependence("--strict-exit", Cond("strict_exit", "==", True)),),
)
SUMMARY_JSON = Option(
    "--summary-json", None, "write a JSON summary of the run to file f\n(- = standard output) when the run ends",
    value_help="[f]ilename: string", nvalues=1, vtype=STRING, dest="summary_json",
)
EXIT_STATUS_AND_SUMMARY = SubGroup("exit status and summary:", STRICT_EXIT, ALLOW_EMPTY, SUMMARY_JSON)
_EXIT_STATUS_EVALUATION = (Find("--strict-exit"), Find("--allow-empty"), Find("--summary-json"))

PARALLEL = Option(
    "--parallel", None, "run the requests over up to n associations\nat once (default: 1; docs/batch.md)",
    value_help="[n]umber: integer (1..64)", nvalues=1, vtype=UNSIGNED, vmin=1, vmax=64, dest="parallel",
)
RETRY = Option(
    "--retry", None, "retry a request that failed transiently\n(refused, aborted, timeout, out of resources)\n"
    "up to n times (default: 0)",
    value_help="[n]umber: integer (0..100)", nvalues=1, vtype=UNSIGNED, vmin=0, vmax=100, dest="retry",
)
RETRY_WAIT = Option(
    "--retry-wait", None, "wait s seconds before the first retry, doubling\nfor each further one (default: 1)",
    value_help="[s]econds: number (0..3600)", nvalues=1, vtype=STRING, convert=SECONDS, dest="retry_wait",
    checks=(dependence("--retry", Cond("retry", ">", 0)),),
)
RESUME = Option(
    "--resume", None, "skip the requests that ended in Success in the\n--summary-json file f of an earlier run",
    value_help="[f]ilename: string", nvalues=1, vtype=STRING, dest="resume",
)
OUTPUT_LAYOUT = Option(
    "--output-layout", None,
    "store under the output directory by attributes\n"
    "of each received object (docs/output-layout.md),\n"
    "e.g. {PatientID}/{StudyInstanceUID}/{name}",
    value_help="[t]emplate: string", nvalues=1, vtype=STRING, dest="output_layout",
)
PROGRESS = Option(
    "--progress", None,
    "show a live progress display on standard error\n"
    "when it is a terminal (docs/progress.md)",
    dest="progress",
)
BATCH_RETRIEVAL = SubGroup("batch retrieval:", PARALLEL, RETRY, RETRY_WAIT, RESUME, OUTPUT_LAYOUT, PROGRESS)
_BATCH_EVALUATION = (Find("--parallel"), Find("--retry"), Find("--retry-wait"), Find("--resume"),
                     Find("--output-layout"), Find("--progress"))

#: sub-groups of the extensions group, in help order (one entry per feature)
EXTENSION_SUBGROUPS = (
    EXIT_STATUS_AND_SUMMARY,
    BATCH_RETRIEVAL,
    SubGroup("configuration:", CONFIG, SHOW_CONFIG),
)
EXTENSIONS = Group(EXTENSIONS_TITLE, *EXTENSION_SUBGROUPS)

# ---------------------------------------------------------------------------
# DCMTK 3.7.0's TLS option group (dcmtls/libsrc/tlsopt.cc), per network role
#
# Not part of DCMTK 3.6.7 (whose getscu/movescu have no TLS): kept out of
# ``DCMTK_LAYOUT`` (so ``dcmtk_options_of`` and the differential fuzzer
# never draw these options) and inserted into ``LAYOUT`` where 3.7.0 puts
# the group, after the network options.  Absent when Python has no ``ssl``
# module, as in a DCMTK build without OpenSSL.

TLS_GROUP_TITLE = "transport layer security (TLS) options:"
#: actions of +cc / +ph (``cmdline.parse`` and ``app`` act on them)
LIST_CIPHERS_ACTION = "list-ciphers"
LIST_PROFILES_ACTION = "list-profiles"
#: ``Option.requires``: OpenSSL offers DES-CBC3-SHA / NULL-SHA
TLS_3DES = "3des"
TLS_NULL = "null"

#: Settings fields of the group
TLS_MODE = "tls"  # None (-tls), "anonymous" (+tla) or (key, certificate) (+tls)
TLS_PROFILE = "tls_profile"


def _tls_group(requestor: bool) -> tuple[Group, tuple[object, ...]]:
    """The group and its evaluation entries (``parseArguments``) for
    getscu (``requestor``: NET_REQUESTOR) or movescu (NET_ACCEPTORREQUESTOR)."""
    tls_opts = "--enable-tls or --anonymous-tls" if requestor else "--enable-tls"
    secure = dependence(tls_opts, Cond(TLS_MODE, "!=", None))
    authenticated = dependence("--enable-tls", Cond(TLS_MODE, "not in", (None, "anonymous")))

    def flag(long: str, short: str | None, help: str, dest: str | None, const: object = True,
             checks: tuple[Check, ...] = (secure,), **kw: object) -> Option:
        return Option(long, short, help, dest=dest, const=const, checks=checks, **kw)  # type: ignore[arg-type]

    def valued(long: str, short: str | None, value_help: str, help: str, dest: str | None,
               checks: tuple[Check, ...] = (secure,), action: str | None = None) -> Option:
        return Option(long, short, help, value_help=value_help, nvalues=1, vtype=STRING, dest=dest,
                      checks=checks, action=action)

    disable = flag("--disable-tls", "-tls", "use normal TCP/IP connection (default)", TLS_MODE, None, ())
    enable = Option("--enable-tls", "+tls", "use authenticated secure TLS connection",
                    value_help="[p]rivate key file, [c]ertificate file: string", nvalues=2, vtype=STRING,
                    dest=TLS_MODE)
    anonymous = flag("--anonymous-tls", "+tla", "use secure TLS connection without certificate",
                     TLS_MODE, "anonymous", ())
    stack = (disable, enable, anonymous) if requestor else (disable, enable)
    passwords = (
        flag("--std-passwd", "+ps", "prompt user to type password on stdin (default)", "tls_password", None,
             (authenticated,)),
        valued("--use-passwd", "+pw", "[p]assword: string ", "use specified password", "tls_password",
               (authenticated,)),
        flag("--null-passwd", "-pw", "use empty string as password", "tls_password", "", (authenticated,)),
    )
    formats = (
        flag("--pem-keys", "-pem", "read keys and certs as PEM file (default)", "tls_der", False),
        flag("--der-keys", "-der", "read keys and certificates as DER file", "tls_der", True),
    )
    authority = (
        valued("--add-cert-file", "+cf", "[f]ilename: string", "add certificate file to list of certificates",
               "tls_cert_files", action="collect"),
        valued("--add-cert-dir", "+cd", "[d]irectory: string", "add certificates in d to list of certificates",
               "tls_cert_dirs", action="collect"),
        valued("--add-crl-file", "+crl", "[f]ilename: string",
               "add certificate revocation list file\n(implies --enable-crl-vfy)", "tls_crl_files",
               action="collect"),
        flag("--enable-crl-vfy", "+crv", "enable leaf CRL verification", "tls_crl", "leaf"),
        flag("--enable-crl-all", "+cra", "enable full chain CRL verification", "tls_crl", "all"),
    )

    def profile(long: str, short: str, help: str, requires: str | None = None,
                subject: str | None = None) -> Option:
        check = dependence(tls_opts, Cond(TLS_MODE, "!=", None), subject=subject)
        return flag(long, short, help, TLS_PROFILE, long[2:], (check,), requires=requires)

    profiles = (
        Option("--list-profiles", "+ph", "list supported TLS profiles and exit", action=LIST_PROFILES_ACTION),
        profile("--profile-8996", "+pg", "BCP 195 RFC 8996 TLS Profile (default)"),
        profile("--profile-8996-mod", "+pm", "Modified BCP 195 RFC 8996 TLS Profile"),
        profile("--profile-bcp195-nd", "+py", "Non-downgrading BCP 195 TLS Profile (retired)"),
        profile("--profile-bcp195", "+px", "BCP 195 TLS Profile (retired)"),
        profile("--profile-bcp195-ex", "+pz", "Extended BCP 195 TLS Profile (retired)"),
        profile("--profile-basic", "+pb", "Basic TLS Secure Transport Connection Profile\n(retired)", TLS_3DES),
        # DCMTK's copy-and-paste slip: +pa's dependence error names --profile-basic
        profile("--profile-aes", "+pa", "AES TLS Secure Transport Connection Profile\n(retired)",
                subject="--profile-basic"),
        profile("--profile-null", "+pn", "Authenticated unencrypted communication\n(retired, was used in IHE ATNA)",
                TLS_NULL),
    )
    ciphers: tuple[Option, ...] = (
        Option("--list-ciphers", "+cc", "list supported TLS ciphersuites and exit", action=LIST_CIPHERS_ACTION),
        valued("--cipher", "+cs", "[c]iphersuite name: string",
               "add ciphersuite to list of negotiated suites\n(not with --profile-bcp195-ex)", "tls_ciphers",
               (secure, conflict("--profile-bcp195-ex", TLS_PROFILE, "profile-bcp195-ex")), action="collect"),
    )
    if not requestor:
        ciphers += (valued("--dhparam", "+dp", "[f]ilename: string", "read DH parameters for DH/DSS ciphersuites",
                           "tls_dhparam"),)
    sni: tuple[Option, ...] = (
        Option("--no-sni", None, "do not use SNI (default)", checks=(
            conflict("--request-sni", "tls_request_sni", None, "!="),
            conflict("--expect-sni", "tls_expect_sni", None, "!="),
        )),
        valued("--request-sni", None, "[s]erver name: string", "request server name s", "tls_request_sni", ()),
    )
    if not requestor:
        sni += (valued("--expect-sni", None, "[s]erver name: string", "expect requests for server name s",
                       "tls_expect_sni", ()),)
    seed_needed = dependence("--seed", Cond("tls_seed", "!=", None))
    seeds = (
        valued("--seed", "+rs", "[f]ilename: string", "seed random generator with contents of f", "tls_seed"),
        flag("--write-seed", "+ws", "write back modified seed (only with --seed)", "tls_write_seed", True,
             (secure, seed_needed)),
        valued("--write-seed-file", "+wf", "[f]ilename: string (only with --seed)", "write modified seed to file f",
               "tls_write_seed", (secure, seed_needed)),
    )
    verify = [flag("--require-peer-cert", "-rc", "verify peer cert, fail if absent (default)", "tls_verify", "require")]
    if not requestor:
        verify.append(flag("--verify-peer-cert", "-vc", "verify peer certificate if present", "tls_verify", "verify"))
    verify.append(flag("--ignore-peer-cert", "-ic", "don't verify peer certificate", "tls_verify", "ignore"))
    group = Group(
        TLS_GROUP_TITLE,
        SubGroup("transport protocol stack:", *stack),
        SubGroup("private key password (only with --enable-tls):", *passwords),
        SubGroup("key and certificate file format:", *formats),
        SubGroup("certification authority:", *authority),
        SubGroup("security profile:", *profiles),
        SubGroup("ciphersuite:", *ciphers),
        SubGroup("server name indication:", *sni),
        SubGroup("pseudo random generator:", *seeds),
        SubGroup("peer authentication:", *verify),
    )
    evaluation: tuple[object, ...] = (
        Block(*(o.long for o in stack)),
        Block("--std-passwd", "--use-passwd", "--null-passwd"),
        Block("--pem-keys", "--der-keys"),
        Block("--enable-crl-vfy", "--enable-crl-all"),
        *((Find("--dhparam"),) if not requestor else ()),
        Find("--request-sni"),
        *((Find("--expect-sni"),) if not requestor else ()),
        Find("--no-sni"),
        Find("--seed"),
        Block("--write-seed", "--write-seed-file"),
        Block("--require-peer-cert", "--ignore-peer-cert", *(("--verify-peer-cert",) if not requestor else ())),
        # DCMTK's order within the block (not the help order)
        Block("--profile-8996", "--profile-8996-mod", "--profile-bcp195", "--profile-bcp195-nd",
              "--profile-bcp195-ex", "--profile-basic", "--profile-aes", "--profile-null"),
        Find("--add-cert-file"),
        Find("--add-cert-dir"),
        Find("--add-crl-file"),
        Find("--cipher"),
    )
    return group, evaluation


_TLS_AVAILABLE: list[bool] = []


def tls_available() -> bool:
    """Python has the ``ssl`` module (found without importing it: importing
    ``ssl`` costs about 11 ms, ``importlib.util`` about 5 ms).  A ``None``
    in ``sys.modules`` (``ssl`` or ``_ssl`` blocked) counts as no ``ssl``."""
    if not _TLS_AVAILABLE:
        import sys
        from importlib.machinery import PathFinder

        modules = sys.modules
        try:
            if modules.get("ssl", True) is None or modules.get("_ssl", True) is None:
                found = False  # an import of ssl would fail
            else:
                found = ("ssl" in modules or "_ssl" in sys.builtin_module_names
                         or PathFinder.find_spec("_ssl") is not None)
        except (ImportError, ValueError):  # pragma: no cover
            found = False
        _TLS_AVAILABLE.append(found)
    return _TLS_AVAILABLE[0]


_OPENSSL_FEATURES: dict[str, bool] = {}


def option_available(option: Option) -> bool:
    """False for +pb/+pn when OpenSSL does not offer 3DES/NULL-SHA
    (tlsopt.cc adds them only then).  Imports ``ssl``, so it is asked only
    for such options."""
    if option.requires is None:
        return True
    if not _OPENSSL_FEATURES:
        # determineSupportedCiphers (net.tls does the same; not imported here,
        # it is heavier than ssl alone)
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.set_ciphers("ALL:eNULL")
        offered = {cipher["name"] for cipher in ctx.get_ciphers()}
        _OPENSSL_FEATURES[TLS_3DES] = "DES-CBC3-SHA" in offered
        _OPENSSL_FEATURES[TLS_NULL] = "NULL-SHA" in offered
    return _OPENSSL_FEATURES[option.requires]


TLS_GROUPS = {"getscu": _tls_group(True), "movescu": _tls_group(False)}


# ---------------------------------------------------------------------------
# help layout, per tool

#: DCMTK's groups, byte for byte DCMTK's ``--help``
DCMTK_LAYOUT = {
    "movescu": (
        Group("general options:", SubGroup(None, *GENERAL)),
        Group(
            "network options:",
            IP_VERSION,
            SubGroup("override matching keys:", KEY),
            SubGroup("query information model:", *MODELS),
            SubGroup("application entity titles:", AETITLE, CALL, MOVE),
            SubGroup("preferred network transfer syntaxes (incoming associations):", *PREFER, ACCEPT_ALL),
            SubGroup("proposed transmission transfer syntaxes (outgoing associations):", *PROPOSE),
            SubGroup("network host access control (tcp wrapper):", *ACCESS),
            SubGroup("port for incoming network associations:", NO_PORT, PORT),
            SubGroup("handling of illegal datasets following 'pending' move responses:", *PENDING),
            SubGroup(
                "other network options:",
                TIMEOUT, ACSE_TIMEOUT, DIMSE_TIMEOUT, MAX_PDU, DISABLE_HOST_LOOKUP, REPEAT, ABORT,
                IGNORE, CANCEL, UID_PADDING,
            ),
        ),
        Group(
            "output options:",
            SubGroup(
                "general:",
                OUTPUT_DIRECTORY.but(checks=(dependence("--port", Cond("listen_port", ">", 0)),)),
            ),
            SubGroup("bit preserving mode:", NORMAL, BIT_PRESERVING),
            SubGroup("output file format:", *FILE_FORMAT),
            SubGroup("output transfer syntax (not with --bit-preserving or compressed transmission):", *WRITE_XFER),
            SubGroup("post-1993 value representations (not with --bit-preserving):", *NEW_VR),
            SubGroup("group length encoding (not with --bit-preserving):", *GROUP_LENGTH),
            SubGroup("length encoding in sequences and items (not with --bit-preserving):", *LENGTH_ENCODING),
            SubGroup("data set trailing padding (not with --write-dataset or --bit-preserving):", *PADDING),
            SubGroup("deflate compression level (only with -xd or --write-xfer-deflated/same):", COMPRESSION_LEVEL),
        ),
    ),
    "getscu": (
        Group("general options:", SubGroup(None, *GENERAL, VERBOSE_PC)),
        Group(
            "network options:",
            SubGroup("override matching keys:", KEY.but(value_help='[k]ey: gggg,eeee="str", path or dic. name="str"')),
            SubGroup("retrieve information model:", *MODELS),
            IP_VERSION_GETSCU,
            SubGroup(
                "application entity titles:",
                AETITLE.but(help="set my calling AE title (default: GETSCU)"), CALL,
            ),
            SubGroup("preferred storage transfer syntaxes (incoming associations):", *PREFER),
            SubGroup("proposed retrieve transfer syntaxes (outgoing associations):", *PROPOSE),
            SubGroup("other network options:", TIMEOUT, ACSE_TIMEOUT, DIMSE_TIMEOUT, MAX_PDU, REPEAT, ABORT),
        ),
        Group(
            "output options:",
            SubGroup(
                "general:",
                OUTPUT_DIRECTORY.but(checks=(conflict("--ignore", "ignore", True),)),
            ),
            SubGroup(
                "storage mode:",
                NORMAL.but(
                    help="receive in memory, then write to disk (default)",
                    checks=(
                        conflict("--bit-preserving", "bit_preserving", True),
                        conflict("--ignore", "ignore", True),
                    ),
                ),
                BIT_PRESERVING.but(help="receive directly to disk", checks=(conflict("--ignore", "ignore", True),)),
                IGNORE,
            ),
        ),
    ),
}



def _layout(tool: str) -> tuple[Group, ...]:
    groups = DCMTK_LAYOUT[tool]
    if tls_available():  # 3.7.0: after the network options
        groups = groups[:2] + (TLS_GROUPS[tool][0],) + groups[2:]
    return groups + (EXTENSIONS,)


#: what ``--help`` and the man pages show: DCMTK 3.6.7's groups with 3.7.0's
#: TLS group after the network options, then the extensions
LAYOUT = {tool: _layout(tool) for tool in DCMTK_LAYOUT}

# ---------------------------------------------------------------------------
# order of evaluation (cli.md §10), per tool

PHASE_PORT = "port parameter"
PHASE_LOGGER = "configure logger"
PHASE_ARGUMENTS = "print --arguments"
PHASE_KEYS = "override keys"
PHASE_QUERY_FILES = "query files readable"
PHASE_NEED_QUERY = "query file or keys given"
PHASE_IDENTIFY = "debug identification line"
PHASE_DICTIONARY = "data dictionary loaded"
PHASE_OUTPUT_DIR = "output directory usable"
PHASE_OUTPUT_LAYOUT = "output layout valid"
PHASE_PRIVILEGED_PORT = "privileged listen port"
PHASE_NETWORK = "network"

_LOGGER_OPTIONS = (
    Block("--debug", "--verbose", "--quiet"),
    Find("--log-level"),
    Find("--log-config"),
    PHASE_LOGGER,
    Find("--arguments"),
    PHASE_ARGUMENTS,
)
_PREFER_BLOCK = tuple(o.long for o in PREFER)
_PROPOSE_BLOCK = Block(
    "--propose-uncompr", "--propose-little", "--propose-big", "--propose-implicit", "--propose-deflated"
)



def _tls_evaluation(tool: str) -> tuple[object, ...]:
    return TLS_GROUPS[tool][1] if tls_available() else ()


EVALUATION: dict[str, tuple[object, ...]] = {
    "movescu": (
        PHASE_PORT,
        *_LOGGER_OPTIONS,
        PHASE_KEYS,
        Block("--patient", "--study", "--psonly"),
        Find("--aetitle"),
        Find("--call"),
        Find("--move"),
        Block(*_PREFER_BLOCK, "--accept-all"),
        _PROPOSE_BLOCK,
        _IP_BLOCK,
        Block("--access-full", "--access-control"),
        Find("--timeout"),
        Find("--acse-timeout"),
        Find("--dimse-timeout"),
        Block("--port", "--no-port"),
        Block("--pending-ignore", "--pending-read"),
        Find("--max-pdu"),
        Find("--disable-host-lookup"),
        Find("--repeat"),
        Find("--abort"),
        Find("--ignore"),
        Find("--cancel"),
        Find("--uid-padding"),
        *_tls_evaluation("movescu"),
        Find("--output-directory"),
        Block("--normal", "--bit-preserving"),
        Block("--write-file", "--write-dataset"),
        Block(*(o.long for o in WRITE_XFER)),
        Block(*(o.long for o in NEW_VR)),
        Block(*(o.long for o in GROUP_LENGTH)),
        Block(*(o.long for o in LENGTH_ENCODING)),
        Block("--padding-off", "--padding-create"),
        Find("--compression-level"),
        *_EXIT_STATUS_EVALUATION,
        *_BATCH_EVALUATION,
        PHASE_QUERY_FILES,
        PHASE_NEED_QUERY,
        PHASE_IDENTIFY,
        PHASE_DICTIONARY,
        PHASE_OUTPUT_LAYOUT,
        PHASE_OUTPUT_DIR,
        PHASE_PRIVILEGED_PORT,
        PHASE_NETWORK,
    ),
    "getscu": (
        *_LOGGER_OPTIONS,
        Find("--verbose-pc"),
        PHASE_KEYS,
        Block("--patient", "--study", "--psonly"),
        Find("--aetitle"),
        Find("--call"),
        Block(*_PREFER_BLOCK),
        _PROPOSE_BLOCK,
        Find("--timeout"),
        Find("--acse-timeout"),
        Find("--dimse-timeout"),
        Find("--max-pdu"),
        Find("--repeat"),
        Find("--abort"),
        Find("--ignore"),
        _IP_BLOCK,
        *_tls_evaluation("getscu"),
        Find("--output-directory"),
        Block("--bit-preserving", "--normal"),
        *_EXIT_STATUS_EVALUATION,
        *_BATCH_EVALUATION,
        PHASE_PORT,
        PHASE_QUERY_FILES,
        PHASE_NEED_QUERY,
        PHASE_IDENTIFY,
        PHASE_DICTIONARY,
        PHASE_OUTPUT_LAYOUT,
        PHASE_OUTPUT_DIR,
        PHASE_NETWORK,
    ),
}

# ---------------------------------------------------------------------------
# lookups


def options_of(tool: str) -> tuple[Option, ...]:
    """All options of ``tool`` in help order, the extensions included."""
    return tuple(
        option for group in LAYOUT[tool] for sub in group.subgroups for option in sub.options
    )


def dcmtk_options_of(tool: str) -> tuple[Option, ...]:
    """DCMTK 3.6.7's options of ``tool`` (no extensions, none of a later
    DCMTK release), in help order."""
    return tuple(
        option for group in DCMTK_LAYOUT[tool] for sub in group.subgroups for option in sub.options
        if option.since is None
    )


def later_dcmtk_options_of(tool: str) -> tuple[Option, ...]:
    """The options of ``tool`` a later DCMTK release added (``since``), in
    help order: they sit in DCMTK's groups where that release shows them."""
    return tuple(
        option for group in DCMTK_LAYOUT[tool] for sub in group.subgroups for option in sub.options
        if option.since is not None
    )


def tls_options_of(tool: str) -> tuple[Option, ...]:
    """DCMTK 3.7.0's TLS options of ``tool`` (empty without ``ssl``)."""
    if not tls_available():
        return ()
    return tuple(option for sub in TLS_GROUPS[tool][0].subgroups for option in sub.options)


_INDEX: dict[str, dict[str, Option]] = {}


def index(tool: str) -> dict[str, Option]:
    """``{name: Option}`` for every long *and* short name of ``tool``."""
    found = _INDEX.get(tool)
    if found is None:
        found = {}
        for option in options_of(tool):
            found[option.long] = option
            if option.short:
                found[option.short] = option
        _INDEX[tool] = found
    return found


def by_long(tool: str, long: str) -> Option:
    return index(tool)[long]
