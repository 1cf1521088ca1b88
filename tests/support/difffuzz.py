"""Differential fuzzing of movescu/getscu against DCMTK 3.6.7.

A seeded generator builds random command lines for both tools from the
option tables (``dcmretrieve.options``): long and short spellings, options of
the other tool and unknown ones, values of every kind with their boundaries,
overflow, hex, octal, signs, blanks, empty strings and non-ASCII text, ``-k``
keys of every form (getscu paths included), ``@files`` with every quoting
form, and 0-3 query files (valid, truncated, mutated, empty, not DICOM,
missing, a directory).  The peer is 127.0.0.1 on a port where nothing
listens.

Each vector runs through ``/usr/bin/<tool>`` and through ours, each in its
own copy of the work directory, each in a fresh network namespace when the
process may create one (root; otherwise on the host's loopback with free
ports).  Compared, after ``normalise``: exit status, standard output,
standard error and the files the run left in its directory.

Vector ``i`` of tool ``t`` under seed ``s`` is generated from
``random.Random(f"{s}:{t}:{i}")`` alone, so any vector can be replayed:

    python tests/support/difffuzz.py --tool getscu --seed 1 --index 417 --show
    python tests/support/difffuzz.py --tool movescu --count 10000 --seed 7 --jobs 4

(``--mode fork`` runs our side in forked children of a pre-imported
process; ``exec`` (the default) starts the console script each time.)

Normalisation (documented in docs/testing.md):

* the identification line: ``$dcmtk: <tool> v3.6.7 2022-04-22 $`` and
  ``$dcmretrieve: <tool> v<version> (DCMTK 3.6.7 2022-04-22) $``;
* ``argv[0]`` in ``--arguments`` output;
* the final ``dcmretrieve extensions:`` group of our ``--help`` (long
  options DCMTK does not have; the vectors never use them);
* ``--version``'s build lines (host type, character encoding, build
  options, external libraries), which name the implementation;
* ``-d``/trace lines that docs/deviations.md lists as a gap: DCMTK's
  dcmdata-internal ``DcmDataDictionary: Loading file`` lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import hashlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS_FILES = HERE.parent / "cli_corpus" / "files"
LAUNCHER = HERE / "fuzz_launcher.py"
TOOLS = ("movescu", "getscu")
DCMTK_BIN = Path("/usr/bin")
OUR_BIN = Path(sys.executable).parent
DEFAULT_SEED = 20261205
TIMEOUT = 30.0

# the port placeholders the generator emits; the runner fills them in
PEER_PORT = "{PORT}"
LISTEN_PORT = "{LPORT}"

# ---------------------------------------------------------------------------
# value pools

NUMBERS = [
    "0", "1", "-1", "+1", " 1", "1 ", "\t7", "2", "5", "30", "60",
    "4095", "4096", "4097", "16384", "16383", "65534", "65535", "65536", "131071", "131072", "131073",
    "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "99999999999999999999", "-99999999999999999999",
    "0x10", "0X1F", "0x", "010", "0010", "08", "1e3", "1.5", ".5", "abc", "12abc", "", " ", "+", "-",
    "--1", "+-1", "1,000", "\uff15", "\u0663", "\u00b2", "1\u00e9", "0b101", "  -0", "-0", "+0",
]
AE_TITLES = [
    "", " ", "A", "MOVESCU", "GETSCU", "ANY-SCP", "COMMON", "A" * 16, "B" * 17, "C" * 64,
    "with space", " lead", "trail ", "back\\slash", "\u00c4\u00d6\u00dc", "\u65e5\u672c", "a\tb",
    "lower", "*", "?", "-k", "@x", "\u00e9" * 9,
]
LOG_LEVELS = [
    "fatal", "error", "warn", "info", "debug", "trace", "off", "all",
    "FATAL", "Error", "WARN", "Info", "DEBUG", "Trace", "OFF", "ALL",
    "", "warning", "verbose", "info ", " info", "nolog", "0", "\u0130nfo", "tr\u0430ce",
]
DIRECTORIES = [".", "adir", "adir/", "./adir", "nodir", "afile.txt", "", "/nonexistent/dir", "..", "adir/../adir"]
LOG_CONFIGS = [
    "/dev/null", "empty.cfg", "quiet.cfg", "log-names.cfg", "nolog4.cfg", "noroot.cfg",
    "missing.cfg", "adir", "", "afile.txt", "query.dcm", "lc-pattern.cfg", "lc-stdout.cfg",
]
KEYWORDS = [
    "PatientID", "PatientName", "QueryRetrieveLevel", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "StudyDate", "StudyTime", "Modality", "AccessionNumber", "PatientBirthDate",
    "NumberOfStudyRelatedInstances", "Rows", "PixelSpacing", "SliceThickness", "ReferringPhysicianName",
    "SpecificCharacterSet", "PixelData", "FrameIncrementPointer", "ReferencedStudySequence",
    "ReferencedSOPInstanceUID", "ReferencedSOPClassUID", "PatientWeight", "InstanceNumber",
    "ImageType", "RetrieveAETitle", "StudyDescription", "OtherPatientIDsSequence", "PatientAge",
    "EncapsulatedDocument", "SmallestImagePixelValue", "UnknownKeyword", "patientid", "",
]
TAGS = [
    "0010,0020", "0010,0010", "0008,0052", "0020,000d", "0020,000D", "0020,000e", "0008,0018",
    "0008,0020", "0008,0060", "0028,0010", "0028,0030", "0008,1110", "0008,1155", "0028,0009",
    "0008,0000", "0010,0000", "0009,0010", "0009,1001", "0011,0010", "ffff,ffff", "fffe,e000",
    "7fe0,0010", "0002,0010", "0000,0900", "10,20", "0x0010,0x0020", "zzzz,0010", "0010,", ",0010",
    "0010 ,0020", "(0010,0020)", "00100020", "0010,00200",
]
LEVELS = ["PATIENT", "STUDY", "SERIES", "IMAGE", "", "FOO", "patient", "PATIENT\\STUDY"]
VALUES = [
    "", "1", "1CT1", "A B", "Doe^John", "1.2.3", "1.2.840.10008.5.1.4.1.1.2", " 1.2.3", "1.2.3 ",
    "1.2 .3", "1.2.3\\4.5.6", "20040119", "2004-01-19", "20040119-", "*", "?", "A*", "x" * 70,
    "1" * 70, "\u00e4\u00f6\u00fc", "\u65e5\u672c", "0", "-1", "65536", "3.5", "1e400", "nan", "abc",
    "0\\1\\2", "00ff", "0g", "\\", "=", "a=b", "'q'", '"dq"', "\t", "0010,0020",
]


def _pick(rng: random.Random, pool: list[str]) -> str:
    return pool[rng.randrange(len(pool))]


def _number(rng: random.Random, option) -> str:  # noqa: ANN001
    roll = rng.random()
    if roll < 0.25 and (option.vmin is not None or option.vmax is not None):
        bounds = [b for b in (option.vmin, option.vmax) if b is not None]
        bound = rng.choice(bounds)
        return str(bound + rng.choice((-1, 0, 0, 1)))
    if roll < 0.35:
        low = option.vmin if option.vmin is not None else 0
        high = option.vmax if option.vmax is not None else low + 1000
        return str(rng.randint(low, high))
    if roll < 0.40:
        low = option.vmin if option.vmin is not None else 0
        return hex(low + rng.randrange(64)) if rng.random() < 0.5 else "0" + oct(low + rng.randrange(64))[2:]
    return _pick(rng, NUMBERS)


def _tag_or_keyword(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return _pick(rng, KEYWORDS)
    return _pick(rng, TAGS)


def _key(rng: random.Random, tool: str) -> str:
    """One ``-k`` value: tag or keyword, with or without ``=value``,
    getscu paths into sequences, and broken forms."""
    roll = rng.random()
    if roll < 0.15:
        return "QueryRetrieveLevel=" + _pick(rng, LEVELS)
    if roll < 0.30:
        uid_keyword = rng.choice(("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "0020,000d"))
        return f"{uid_keyword}=" + _pick(rng, VALUES)
    if roll < 0.45 and tool == "getscu" or roll < 0.35:
        seq = rng.choice(("ReferencedStudySequence", "(0008,1110)", "OtherPatientIDsSequence", "PatientID"))
        index = rng.choice(("0", "1", "*", "-1", "x", "", "99999999999", "0]"))
        leaf = rng.choice(("ReferencedSOPInstanceUID", "(0008,1155)", "PatientID", "", "Bogus"))
        text = f"{seq}[{index}]"
        if rng.random() < 0.8:
            text += f".{leaf}"
        if rng.random() < 0.3:
            text += f"[{rng.choice(('0', '1'))}].PatientID"
        if rng.random() < 0.8:
            text += "=" + _pick(rng, VALUES)
        return text
    name = _tag_or_keyword(rng)
    if rng.random() < 0.8:
        return f"{name}={_pick(rng, VALUES)}"
    return name


# ---------------------------------------------------------------------------
# query files


def _query_bytes(rng: random.Random) -> bytes:
    """A query file: valid (with or without meta, any of three encodings),
    truncated, mutated, empty or not DICOM at all."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the UIDs with blanks we write on purpose
        return _query_bytes_unchecked(rng)


def _query_bytes_unchecked(rng: random.Random) -> bytes:
    from io import BytesIO

    from pydicom import config
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    config.settings.writing_validation_mode = config.IGNORE
    kind = rng.random()
    if kind < 0.08:
        return b""
    if kind < 0.14:
        return rng.choice((b"not dicom\n", b"DICM", b"\0" * 132, b"\0" * 128 + b"DICM", bytes(range(256))))
    ds = Dataset()
    ds.QueryRetrieveLevel = rng.choice(("PATIENT", "STUDY", "SERIES", "IMAGE"))
    ds.PatientID = rng.choice(("1CT1", "4MR1", "", "*"))
    if rng.random() < 0.5:
        ds.StudyInstanceUID = rng.choice(("1.2.3", "1.2.3 4", ""))
    if rng.random() < 0.3:
        ds.PatientName = "Doe^John"
    syntax = rng.choice((ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian))
    buffer = BytesIO()
    with_meta = rng.random() < 0.7
    if with_meta:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = syntax
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.2.1.2"
        ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.preamble = b"\0" * 128 if with_meta else None
    little = syntax != ExplicitVRBigEndian
    implicit = syntax == ImplicitVRLittleEndian
    ds.save_as(buffer, enforce_file_format=with_meta, implicit_vr=implicit, little_endian=little)
    data = bytearray(buffer.getvalue())
    kind = rng.random()
    if kind < 0.15:
        del data[rng.randrange(1, len(data)):]
    elif kind < 0.3:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


# ---------------------------------------------------------------------------
# command files


def _quote(rng: random.Random, word: str) -> str:
    """One argument written into a command file with a random quoting form
    that DCMTK reads back as ``word`` (or, rarely, a broken form)."""
    plain_ok = word and not any(c in word for c in " \t\r\n\"'")
    forms = []
    if plain_ok:
        forms += ["plain", "plain", "split"]
    if '"' not in word:
        forms.append("double")
    if "'" not in word:
        forms.append("single")
    form = rng.choice(forms or ["double"])
    if form == "plain":
        return word
    if form == "split" and len(word) > 1:
        cut = rng.randrange(1, len(word))
        return word[:cut] + '"' + word[cut:] + '"'  # ab"c" -> abc
    if form == "single":
        return f"'{word}'"
    return f'"{word}"'


def _command_file(rng: random.Random, words: list[str]) -> bytes:
    separators = [" ", "  ", "\t", "\n", "\r\n", " \n "]
    parts = [_quote(rng, w) for w in words]
    text = ""
    for part in parts:
        text += part + rng.choice(separators)
    roll = rng.random()
    if roll < 0.05:
        text += rng.choice(('"unterminated', "'", '"'))
    elif roll < 0.08:
        text += "@nested.txt "
    elif roll < 0.10:
        text = "\ufeff" + text
    return text.encode("utf-8")


# ---------------------------------------------------------------------------
# the generator


@dataclasses.dataclass
class Vector:
    tool: str
    seed: int
    index: int
    argv: list[str]
    files: dict[str, bytes]
    env: dict[str, str]

    @property
    def name(self) -> str:
        return f"{self.tool}:{self.seed}:{self.index}"

    def describe(self) -> str:
        lines = [f"vector {self.name}  (replay: python tests/support/difffuzz.py --tool {self.tool} "
                 f"--seed {self.seed} --index {self.index} --show)"]
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        lines.append(f"  $ {env + ' ' if env else ''}{self.tool} {shlex.join(self.argv)}")
        for name, data in self.files.items():
            shown = data[132:212] if data[128:132] == b"DICM" else data[:80]
            lines.append(f"  file {name} ({len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}): "
                         f"{'...' if shown is not data[:80] else ''}{shown!r}")
        return "\n".join(lines)


def _option_words(rng: random.Random, tool: str, option) -> list[str]:  # noqa: ANN001
    from dcmretrieve.cli import options as opts

    name = option.long if (option.short is None or rng.random() < 0.5) else option.short
    if option.nvalues == 0:
        return [name]
    values: list[str] = []
    for _ in range(option.nvalues):
        long = option.long
        if option.vtype in (opts.SIGNED, opts.UNSIGNED):
            values.append(_number(rng, option))
        elif option.vtype == opts.LOGLEVEL:
            values.append(_pick(rng, LOG_LEVELS))
        elif long == "--key":
            values.append(_key(rng, tool))
        elif long in ("--aetitle", "--call", "--move"):
            values.append(_pick(rng, AE_TITLES))
        elif long == "--output-directory":
            values.append(_pick(rng, DIRECTORIES))
        elif long == "--log-config":
            values.append(_pick(rng, LOG_CONFIGS))
        else:
            values.append(_pick(rng, VALUES))
    if rng.random() < 0.03:
        values = values[:-1]  # missing value (at the end of the line or eating the next word)
    return [name, *values]


GARBAGE_OPTIONS = ["--foo", "-x", "+", "-", "--", "+-", "-+", "---help", "--HELP", "-H", "-1", "+5", "-v1", "--help=1", "-\u00e9"]
EXCLUSIVE = {"--help", "--version"}


def generate(tool: str, seed: int, index: int) -> Vector:
    """Vector ``index`` of ``tool`` under ``seed`` (deterministic)."""
    from dcmretrieve.cli import options as opts

    rng = random.Random(f"{seed}:{tool}:{index}")
    other = "getscu" if tool == "movescu" else "movescu"
    # DCMTK's options only: the extensions (long options of ours) are unknown to DCMTK
    own = [o for o in opts.dcmtk_options_of(tool) if o.long not in EXCLUSIVE]
    foreign = [o for o in opts.dcmtk_options_of(other) if o.long not in opts.index(tool)]
    files: dict[str, bytes] = {}
    env: dict[str, str] = {}

    words: list[list[str]] = []  # one entry per option occurrence
    count = min(int(rng.expovariate(0.35)), 12)
    for _ in range(count):
        roll = rng.random()
        if roll < 0.86:
            option = rng.choice(own)
            if option.long == "--port" and rng.random() < 0.7:
                words.append([rng.choice(("--port", "+P")), LISTEN_PORT])
                continue
            words.append(_option_words(rng, tool, option))
        elif roll < 0.95 and foreign:
            words.append(_option_words(rng, tool, rng.choice(foreign)))
        elif roll < 0.99:
            words.append([_pick(rng, GARBAGE_OPTIONS)])
        else:
            words.append([rng.choice(("--help", "-h", "--version"))])
    if rng.random() < 0.4:
        # most real command lines carry keys
        for _ in range(rng.randint(1, 3)):
            words.append([rng.choice(("-k", "--key")), _key(rng, tool)])

    params: list[str] = []
    roll = rng.random()
    peer = "127.0.0.1"
    if roll < 0.05:
        peer = "localhost"
    elif roll < 0.07:
        peer = ""
    elif roll < 0.08:
        peer = "::1"
    elif roll < 0.09:
        peer = "256.1.1.1"
    elif roll < 0.10:
        peer = "no-such-host.invalid"
    port = PEER_PORT if rng.random() < 0.9 else _pick(rng, NUMBERS)
    params = [peer, port]
    for number in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
        kind = rng.random()
        if kind < 0.75:
            name = f"q{number}.dcm"
            files[name] = _query_bytes(rng)
        else:
            name = rng.choice(("missing.dcm", "adir", "query.dcm", "", "-", "afile.txt"))
        params.append(name)
    roll = rng.random()
    if roll < 0.04:
        params = params[:1]
    elif roll < 0.05:
        params = []

    # interleave: options mostly first, some after the parameters
    head: list[str] = []
    tail: list[str] = []
    for occurrence in words:
        (tail if rng.random() < 0.15 else head).extend(occurrence)
    argv = head + params + tail

    # command files: replace a slice of argv by @file (every quoting form)
    if argv and rng.random() < 0.15:
        start = rng.randrange(len(argv))
        stop = rng.randrange(start, len(argv) + 1)
        name = rng.choice(("args.txt", "sub dir.txt", "args"))
        files[name] = _command_file(rng, argv[start:stop])
        argv = argv[:start] + [f"@{name}"] + argv[stop:]
        if rng.random() < 0.1:
            files["nested.txt"] = b"-v\n"
    elif rng.random() < 0.02:
        argv.append(rng.choice(("@missing.txt", "@", "@adir", "@empty.txt", "@quotes.txt")))

    if rng.random() < 0.04:
        env["DCMDICTPATH"] = rng.choice(("bad.dic", "custom.dic", "missing.dic", "", "/usr/share/libdcmtk17/dicom.dic"))
    return Vector(tool, seed, index, argv, files, env)


# ---------------------------------------------------------------------------
# running


#: DCMTK's built-in dictionary files (loaded, and logged at DEBUG, when
#: DCMDICTPATH is not set; ours has the dictionary built in)
DEFAULT_DICTIONARIES = ("/usr/share/libdcmtk17/dicom.dic", "/usr/share/libdcmtk17/private.dic")
#: DEBUG/TRACE lines of dcmdata's internals (``DcmItem::insert() …``)
_DCMDATA_INTERNAL = re.compile(r"(?m)^(?![WEFI]: ).*\bDcm[A-Za-z]+::[A-Za-z]+\(\).*\n")


def normalise(tool: str, text: str, *, dcmtk: bool, vector: Vector | None = None) -> str:
    """See the module docstring: what is normalised and why."""
    from support import harness

    text = harness.normalise(text, tool, banner="exact", argv0=True, help_extensions=not dcmtk)
    # --version: the build description names the implementation
    text = re.sub(
        r"(?ms)^Host type: .*?^External libraries used:\n(?:- .*\n)*",
        "<BUILD>\n",
        text,
    )
    if dcmtk:
        # docs/deviations.md ("Known differences"): dcmdata-internal debug
        # and trace lines are not printed, nor the loading of DCMTK's
        # built-in dictionary files
        named = vector.env.get("DCMDICTPATH", "") if vector is not None else ""
        for name in DEFAULT_DICTIONARIES:
            if name not in named:
                text = re.sub(rf"(?m)^.*DcmDataDictionary: Loading file: {re.escape(name)}\n", "", text)
        text = _DCMDATA_INTERNAL.sub("", text)
    if vector is not None and vector.tool == "getscu" and _mentions(
            vector, ("-xi", "--propose-implicit", "+xi", "--implicit")):
        # deviation #4: getscu -xi/+xi propose Implicit VR (DCMTK 3.6.7: Explicit)
        text = re.sub(r"(?m)^(.*)=LittleEndian(?:Explicit|Implicit)$", r"\1=LittleEndian<#4>", text)
    return text


def _mentions(vector: Vector, words: tuple[str, ...]) -> bool:
    texts = list(vector.argv) + [d.decode("utf-8", "surrogateescape") for d in vector.files.values()]
    return any(word in text.split() or any(f"{q}{word}{q}" in text for q in "'\"") for text in texts for word in words)


SCRUBBED = ("DCMDICTPATH", "TCP_NODELAY", "PYTHONDONTWRITEBYTECODE", "DCMRETRIEVE_HOSTS_ALLOW",
            "DCMRETRIEVE_HOSTS_DENY")

EXTRA_FILES = {
    # a log4cplus configuration whose output does not depend on time or PID
    "lc-pattern.cfg": b"log4cplus.rootLogger = TRACE, c\nlog4cplus.appender.c = log4cplus::ConsoleAppender\n"
                      b"log4cplus.appender.c.layout = log4cplus::PatternLayout\n"
                      b"log4cplus.appender.c.layout.ConversionPattern = [%p] %c: %m%n\n",
    "lc-stdout.cfg": b"log4cplus.rootLogger = INFO, c\nlog4cplus.appender.c = log4cplus::ConsoleAppender\n"
                     b"log4cplus.appender.c.layout = log4cplus::SimpleLayout\n",
}


@dataclasses.dataclass
class Outcome:
    rc: int
    stdout: str
    stderr: str
    files: dict[str, str]  # relative path -> sha256 of the contents ("<dir>" for directories)

    def as_tuple(self) -> tuple:
        return (self.rc, self.stdout, self.stderr, self.files)


class Launcher:
    """A client of tests/support/fuzz_launcher.py (one request at a time)."""

    def __init__(self, preimport: bool) -> None:
        env = dict(os.environ)
        src = str(HERE.parents[1] / "src")
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        args = [sys.executable, str(LAUNCHER)] + (["--preimport"] if preimport else [])
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        hello = json.loads(self.process.stdout.readline())  # type: ignore[union-attr]
        self.netns = bool(hello["netns"])

    def run(self, request: dict) -> dict:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("fuzz launcher died")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def _snapshot(directory: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(directory.rglob("*")):
        relative = str(path.relative_to(directory))
        if relative.startswith(".fuzz-"):
            continue
        if path.is_symlink():
            found[relative] = "<link>"
        elif path.is_dir():
            found[relative] = "<dir>"
        else:
            try:
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            except OSError:
                found[relative] = "<unreadable>"
    return found


def _port_values(vector: Vector, netns: bool, free_port: Callable[[], int]) -> dict[str, str]:
    if netns:
        rng = random.Random(vector.name + ":ports")
        # a private range; in a fresh namespace nothing listens anywhere
        return {PEER_PORT: str(rng.randrange(20000, 25000)), LISTEN_PORT: str(rng.randrange(25000, 30000))}
    return {PEER_PORT: str(free_port()), LISTEN_PORT: str(free_port())}


def _fill(text: str, ports: dict[str, str]) -> str:
    for placeholder, value in ports.items():
        text = text.replace(placeholder, value)
    return text


def prepare(vector: Vector, directory: Path, ports: dict[str, str]) -> None:
    shutil.copytree(CORPUS_FILES, directory)
    for name, data in EXTRA_FILES.items():
        (directory / name).write_bytes(data)
    for name, data in vector.files.items():
        (directory / name).write_bytes(_fill(data.decode("utf-8", "surrogateescape"), ports).encode("utf-8", "surrogateescape"))


def run_side(launcher: Launcher, vector: Vector, side: str, directory: Path, ports: dict[str, str],
             inproc: bool) -> Outcome:
    prepare(vector, directory, ports)
    before = _snapshot(directory)
    program = str(DCMTK_BIN / vector.tool) if side == "dcmtk" else str(OUR_BIN / vector.tool)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    env.update(vector.env)
    stdout = directory / ".fuzz-stdout"
    stderr = directory / ".fuzz-stderr"
    reply = launcher.run({
        "argv": [program, *(_fill(a, ports) for a in vector.argv)],
        "cwd": str(directory), "env": env, "stdout": str(stdout), "stderr": str(stderr),
        "timeout": TIMEOUT, "netns": launcher.netns,
        "inproc": vector.tool if (inproc and side == "ours") else None,
    })
    after = _snapshot(directory)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    for gone in set(before) - set(after):
        changed[gone] = "<removed>"
    out = stdout.read_bytes().decode("utf-8", "surrogateescape")
    err = stderr.read_bytes().decode("utf-8", "surrogateescape")
    rc = -999 if reply["timeout"] else reply["rc"]
    dcmtk = side == "dcmtk"
    return Outcome(rc, normalise(vector.tool, out, dcmtk=dcmtk, vector=vector),
                   normalise(vector.tool, err, dcmtk=dcmtk, vector=vector), changed)


@dataclasses.dataclass
class Difference:
    vector: Vector
    dcmtk: Outcome
    ours: Outcome

    def report(self) -> str:
        lines = [self.vector.describe()]
        for label, left, right in (
            ("exit status", str(self.dcmtk.rc), str(self.ours.rc)),
            ("stdout", self.dcmtk.stdout, self.ours.stdout),
            ("stderr", self.dcmtk.stderr, self.ours.stderr),
            ("files", json.dumps(self.dcmtk.files, indent=0), json.dumps(self.ours.files, indent=0)),
        ):
            if left != right:
                lines.append(f"  -- {label} differs (- DCMTK, + ours):")
                diff = difflib.unified_diff(left.splitlines(), right.splitlines(), lineterm="", n=1)
                lines.extend("     " + d for d in list(diff)[2:40])
        return "\n".join(lines)

    def signature(self) -> str:
        """A short class label for grouping many differences."""
        first = ""
        for left, right in ((self.dcmtk.stderr, self.ours.stderr), (self.dcmtk.stdout, self.ours.stdout)):
            a, b = left.splitlines(), right.splitlines()
            for x, y in zip(a + [""] * len(b), b + [""] * len(a)):
                if x != y:
                    first = f"{x[:60]!r} vs {y[:60]!r}"
                    break
            if first:
                break
        first = re.sub(r"\d+", "N", first)
        return f"rc {self.dcmtk.rc}/{self.ours.rc} {first}"


class Runner:
    """Runs vectors through DCMTK and ours with ``jobs`` launchers."""

    def __init__(self, root: Path, jobs: int = 2, mode: str = "exec") -> None:
        self.root = root
        self.mode = mode
        self.launchers = [Launcher(preimport=mode == "fork") for _ in range(jobs)]
        self.netns = all(launcher.netns for launcher in self.launchers)
        self._lock = threading.Lock()
        self._free = list(self.launchers)

    def close(self) -> None:
        for launcher in self.launchers:
            launcher.close()

    def _take(self) -> Launcher:
        with self._lock:
            return self._free.pop()

    def _give(self, launcher: Launcher) -> None:
        with self._lock:
            self._free.append(launcher)

    def run(self, vector: Vector) -> Difference | None:
        from functools import partial

        from support.ports import free_port as any_free_port

        # below the ephemeral range: a connect to a closed port inside it can
        # pick that very port as its source and connect to itself
        free_port = partial(any_free_port, below_ephemeral=True)

        launcher = self._take()
        try:
            ports = _port_values(vector, launcher.netns, free_port)
            base = self.root / f"{vector.tool}-{vector.seed}-{vector.index}"
            dcmtk = run_side(launcher, vector, "dcmtk", base / "dcmtk", ports, False)
            ours = run_side(launcher, vector, "ours", base / "ours", ports, self.mode == "fork")
        finally:
            self._give(launcher)
        if dcmtk.as_tuple() == ours.as_tuple() and ours.rc != -999 and not _internal_error(ours):
            shutil.rmtree(base, ignore_errors=True)
            return None
        return Difference(vector, dcmtk, ours)

    def run_many(self, vectors: list[Vector]) -> list[Difference]:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=len(self.launchers)) as pool:
            return [d for d in pool.map(self.run, vectors) if d is not None]


def _internal_error(outcome: Outcome) -> bool:
    text = outcome.stderr + outcome.stdout
    return "internal error" in text or "Traceback (most recent call last)" in text


def vectors(tool: str, seed: int, count: int, start: int = 0) -> list[Vector]:
    return [generate(tool, seed, index) for index in range(start, start + count)]


# ---------------------------------------------------------------------------
# command line (by-hand runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="differential fuzzing against DCMTK 3.6.7")
    parser.add_argument("--tool", choices=TOOLS + ("both",), default="both")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--index", type=int, help="run (or --show) this one vector")
    parser.add_argument("--show", action="store_true", help="print the vector, do not run it")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--mode", choices=("exec", "fork"), default="exec")
    parser.add_argument("--root", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--details", type=int, default=3, help="full reports per class")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))  # tests/: the support package
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    tools = TOOLS if args.tool == "both" else (args.tool,)
    if args.index is not None:
        todo = [generate(t, args.seed, args.index) for t in tools]
    else:
        todo = [v for t in tools for v in vectors(t, args.seed, args.count, args.start)]
    if args.show:
        for vector in todo:
            print(vector.describe())
        return 0
    import tempfile

    root = args.root or Path(tempfile.mkdtemp(prefix="difffuzz-"))
    runner = Runner(root, jobs=args.jobs, mode=args.mode)
    try:
        print(f"{len(todo)} vectors, seed {args.seed}, mode {args.mode}, "
              f"network namespace {'yes' if runner.netns else 'no'}, work in {root}", flush=True)
        differences = runner.run_many(todo)
    finally:
        runner.close()
    classes: Counter[str] = Counter(d.signature() for d in differences)
    shown: Counter[str] = Counter()
    for difference in differences:
        signature = difference.signature()
        if shown[signature] < args.details:
            print(difference.report())
            print()
        shown[signature] += 1
    print(f"{len(differences)} of {len(todo)} vectors differ; {len(classes)} classes:")
    for signature, number in classes.most_common():
        print(f"  {number:5d}  {signature}")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
