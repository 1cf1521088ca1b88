"""The one DCMTK-comparison harness: run DCMTK 3.6.7 and ours on the same argv.

Why: DCMTK is the oracle.  Every differential test runs ``/usr/bin/<tool>``
and our clone with the same arguments, each in its own directory, and compares
exit status, standard output, standard error and the files written, after the
few normalisations named below (nothing else is masked).

A :class:`Harness` holds what differs between test modules (how ours is
started, time limit, environment, decoding); its :meth:`Harness.run` /
:meth:`Harness.run_both` return :class:`Result` objects, and
:func:`assert_same` compares two of them with readable failure messages::

    GET = harness.Harness("getscu", ours="module", timeout=120, errors="replace")
    d, o = GET.run_both(["-v", host, port, "-k", "PatientID=*"], tmp_path)
    harness.assert_same(d, o)

Normalisations (:func:`normalise`, each one an explicit parameter):

* ``banner``: the identification line, ``$dcmtk: <tool> v3.6.7 2022-04-22 $``
  / ``$dcmretrieve: <tool> v<version> (DCMTK 3.6.7 2022-04-22) $`` ->
  ``<BANNER>`` (``"exact"``), or any line that starts and ends with ``$``
  -> ``<HDR>`` (``"any"``: the banner is compared for presence only; the
  text comes back joined with ``\n``);
* ``argv0``: the program name in ``--arguments`` output
  (``calling '<ARGV0>' with N arguments``);
* ``replace``: literal substitutions (e.g. program paths);
* ``drop_prefixes``: lines dropped on both sides, e.g.
  :data:`DCMDATA_DEBUG_PREFIXES` (DEBUG lines only DCMTK prints);
* ``help_extensions``: our ``--help`` ends with one group DCMTK has not,
  ``dcmretrieve extensions:``, and shows DCMTK 3.7.0's "IP protocol
  version:" sub-group where 3.7.0 does (:func:`strip_help_extensions`,
  :func:`split_help_later`); both dropped so
  that DCMTK's part is compared byte for byte.

DCMTK tools are always called by absolute path: our console scripts shadow
``getscu``/``movescu`` on ``PATH``.  A missing DCMTK program is a skip with a
reason (``@pytest.mark.dcmtk(...)`` on the test, :func:`require` in a
fixture, and :meth:`Harness.argv` whenever a test is about to run DCMTK); a
missing tool of ours is a failure (:func:`our_script`).
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest

DCMTK_BIN = Path("/usr/bin")
#: the venv's bin directory: our console scripts
OUR_BIN = Path(sys.executable).parent
TOOLS = ("movescu", "getscu")
#: ``Result.rc`` of a run killed at its time limit (``on_timeout="result"``)
TIMED_OUT = -999

#: DEBUG lines only DCMTK prints (dcmdata internals, identification, dictionary)
DCMDATA_DEBUG_PREFIXES = (
    "D: $dcmtk:", "D: $dcmretrieve:", "D: DcmDataDictionary:", "D: DcmDataset::read()",
    "D: DcmFileFormat::", "D: DcmItem::", "D: DcmMetaInfo::",
)

# ---------------------------------------------------------------------------
# presence: DCMTK missing -> skip, ours missing -> fail


def dcmtk_path(program: str) -> str:
    """Absolute path of a DCMTK program (``"getscu"`` -> ``/usr/bin/getscu``);
    absolute paths (e.g. ``/usr/sbin/Orthanc``) are returned as they are."""
    return program if program.startswith("/") else str(DCMTK_BIN / program)


def missing(*programs: str) -> str | None:
    """The skip reason if one of ``programs`` (DCMTK names or absolute paths)
    is not installed, else None."""
    absent = [dcmtk_path(p) for p in programs if not os.access(dcmtk_path(p), os.X_OK)]
    if not absent:
        return None
    return f"not installed: {', '.join(absent)} (Debian: apt-get install dcmtk)"


def require(*programs: str) -> None:
    """Skip the calling test (or fixture) if a DCMTK program is not installed."""
    reason = missing(*programs)
    if reason:
        pytest.skip(reason)


def our_script(tool: str) -> str:
    """Path of our console script; a failure (not a skip) if it is missing."""
    script = OUR_BIN / tool
    assert script.exists(), f"our console script {script} is missing (pip install -e .)"
    return str(script)


# ---------------------------------------------------------------------------
# results


@dataclass
class Result:
    """One run: exit status, decoded output, the directory it ran in."""

    argv: list[str]
    cwd: Path
    rc: int
    stdout: str
    stderr: str
    pid: int | None = None
    timed_out: bool = False

    def files(self, sub: str = ".", *, recursive: bool = True) -> dict[str, bytes]:
        """Regular files below ``cwd/sub``: path relative to it -> bytes.
        ``recursive=False``: only the files directly in it."""
        root = self.cwd / sub
        paths = root.rglob("*") if recursive else root.iterdir()
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(paths) if p.is_file()}


class Pair(NamedTuple):
    """``(dcmtk, ours)``, unpacks like a tuple."""

    dcmtk: Result
    ours: Result


# ---------------------------------------------------------------------------
# running


def environment(*, scrub: Iterable[str] = (), setenv: Mapping[str, str] | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` minus ``scrub``, plus ``setenv``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in set(scrub)}
    env.update(setenv or {})
    env.update(extra or {})
    return env


def _decode(data: bytes, errors: str) -> str:
    return data.decode("utf-8", errors)


def run(argv: Sequence[str], cwd: Path, *, env: Mapping[str, str], timeout: float,
        text: bool = True, errors: str = "strict", on_timeout: str = "raise") -> Result:
    """Run ``argv`` in ``cwd`` (created if missing), capture its output.

    ``text=True``: Python's text mode (locale encoding, universal newlines),
    ``errors`` for undecodable bytes; ``text=False``: the raw bytes decoded
    as UTF-8 with ``errors``, newlines untouched.  ``on_timeout="raise"``
    lets ``subprocess.TimeoutExpired`` escape; ``"result"`` returns
    ``Result(rc=TIMED_OUT, stdout="", stderr="timeout", timed_out=True)``.
    """
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [str(a) for a in argv]
    try:
        if text:
            done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True,
                                  errors=errors, timeout=timeout)
            out, err = done.stdout, done.stderr
        else:
            done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, timeout=timeout)
            out, err = _decode(done.stdout, errors), _decode(done.stderr, errors)
    except subprocess.TimeoutExpired:
        if on_timeout == "raise":
            raise
        return Result(argv, cwd, TIMED_OUT, "", "timeout", timed_out=True)
    return Result(argv, cwd, done.returncode, out, err)


def run_concurrently(jobs: Sequence[tuple[Sequence[str], Path]], *, env: Mapping[str, str],
                     timeout: float) -> list[Result]:
    """Start every ``(argv, cwd)`` at once (text mode), wait for all; a
    process still running after ``timeout`` s is killed and the
    ``TimeoutExpired`` raised.  Each ``Result`` carries the ``pid``."""
    procs = [
        subprocess.Popen([str(a) for a in argv], cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for argv, cwd in jobs
    ]
    results = []
    try:
        for (argv, cwd), popen in zip(jobs, procs):
            out, err = popen.communicate(timeout=timeout)
            results.append(Result([str(a) for a in argv], Path(cwd), popen.returncode, out, err, pid=popen.pid))
    finally:
        for popen in procs:
            if popen.poll() is None:
                popen.kill()
                popen.wait()
    return results


@dataclass(frozen=True)
class Harness:
    """How one test module runs DCMTK's ``tool`` and ours.

    * ``ours``: ``"script"`` (the venv's console script, what users run) or
      ``"module"`` (``python -m dcmretrieve.<tool>``);
    * ``timeout``: seconds per run;
    * ``scrub`` / ``setenv``: variables removed from / set in ``os.environ``
      for both sides (per-run ``env=`` comes on top);
    * ``text`` / ``errors`` / ``on_timeout``: see :func:`run`.
    """

    tool: str
    ours: str = "script"
    timeout: float = 60.0
    scrub: tuple[str, ...] = ("DCMDICTPATH",)
    setenv: Mapping[str, str] = field(default_factory=dict)
    text: bool = True
    errors: str = "strict"
    on_timeout: str = "raise"

    def argv(self, side: str) -> list[str]:
        """The command prefix of ``side`` (``"dcmtk"`` or ``"ours"``).
        DCMTK's program not installed: the calling test is skipped here."""
        if side == "dcmtk":
            require(self.tool)
            return [dcmtk_path(self.tool)]
        if side != "ours":
            raise ValueError(side)
        if self.ours == "module":
            return [sys.executable, "-m", f"dcmretrieve.{self.tool}"]
        return [our_script(self.tool)]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return environment(scrub=self.scrub, setenv=self.setenv, extra=extra)

    def run(self, side: str, args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None,
            timeout: float | None = None) -> Result:
        """``side`` with ``args`` in ``cwd`` (created)."""
        return run([*self.argv(side), *args], cwd, env=self.env(env),
                   timeout=self.timeout if timeout is None else timeout,
                   text=self.text, errors=self.errors, on_timeout=self.on_timeout)

    def run_both(self, args: Sequence[str], root: Path, *, env: Mapping[str, str] | None = None,
                 prepare: Callable[[Path], object] | None = None) -> Pair:
        """DCMTK, then ours, with the same ``args``, in ``root/dcmtk`` and
        ``root/ours`` (created; ``prepare(cwd)`` runs in each before)."""
        results = []
        for side in ("dcmtk", "ours"):
            cwd = Path(root) / side
            cwd.mkdir(parents=True, exist_ok=True)
            if prepare is not None:
                prepare(cwd)
            results.append(self.run(side, args, cwd, env=env))
        return Pair(*results)


# ---------------------------------------------------------------------------
# normalisation and comparison

_OUR_BANNER = r"\$dcmretrieve: {tool} v[^ ]+ \(DCMTK 3\.6\.7 2022-04-22\) \$"
_ARGV0 = re.compile(r"calling '[^']*' with (\d+) arguments")


HELP_EXTENSIONS_TITLE = "dcmretrieve extensions:"


HELP_TLS_TITLE = "transport layer security (TLS) options:"


def split_help_tls(text: str) -> tuple[str, str]:
    """Our ``--help`` text as (the rest, DCMTK 3.7.0's TLS group).

    The group sits between the network options and ``output options:``
    (where 3.7.0 puts it); ``""`` when the text has none."""
    start = text.find("\n" + HELP_TLS_TITLE + "\n")
    end = text.find("\noutput options:\n", start + 1) if start >= 0 else -1
    if end < 0:
        return text, ""
    return text[: start + 1] + text[end + 1 :], text[start + 1 : end + 1]


def split_help_extensions(text: str) -> tuple[str, str]:
    """Our ``--help`` text as (DCMTK 3.6.7's part, the extensions group).

    The group follows DCMTK's last option line and ends before the final
    empty line, so DCMTK's part is the text without it (and the group is
    ``""`` when the text has none).  DCMTK 3.7.0's TLS group is cut out
    too (``split_help_tls`` gives it), so the rest is 3.6.7's text."""
    text = split_help_tls(text)[0]
    start = text.find("\n" + HELP_EXTENSIONS_TITLE + "\n")
    end = text.find("\n\n", start + 1) if start >= 0 else -1
    if end < 0:
        return text, ""
    return text[: start + 1] + text[end + 1 :], text[start + 1 : end + 1]


#: sub-group titles of a later DCMTK release in our ``--help`` (the options
#: with ``Option.since``: DCMTK 3.7.0's IP protocol version); DCMTK 3.6.7's
#: text has none of them
HELP_LATER_TITLES = ("  IP protocol version:",)


def split_help_later(text: str) -> tuple[str, str, str]:
    """Our ``--help`` text as (the text without the later release's
    sub-group, that sub-group, the line it follows); the sub-group ends
    before the next sub-group or group title."""
    lines = text.splitlines(keepends=True)
    for start, line in enumerate(lines):
        if line.rstrip("\n") in HELP_LATER_TITLES:
            end = start + 1
            while end < len(lines) and lines[end].startswith("    "):
                end += 1
            return ("".join(lines[:start] + lines[end:]), "".join(lines[start:end]),
                    lines[start - 1] if start else "")
    return text, "", ""


def strip_help_extensions(text: str) -> str:
    """DCMTK 3.6.7's part of our ``--help``: without the extensions group and
    without the later DCMTK release's sub-group."""
    return split_help_later(split_help_extensions(text)[0])[0]


def normalise(text: str, tool: str | None = None, *, banner: str | None = None, argv0: bool = False,
              replace: Mapping[str, str] | None = None, drop_prefixes: Sequence[str] = (),
              help_extensions: bool = False) -> str:
    """Apply the named normalisations (nothing by default); see the module
    docstring.  ``banner="exact"`` needs ``tool`` for DCMTK's line (ours:
    any tool name)."""
    if help_extensions:
        text = strip_help_extensions(text)
    if drop_prefixes:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(tuple(drop_prefixes)))
    if banner == "exact":
        if tool is not None:
            text = text.replace(f"$dcmtk: {tool} v3.6.7 2022-04-22 $", "<BANNER>")
        text = re.sub(_OUR_BANNER.format(tool=r"\w+"), "<BANNER>", text)
    elif banner == "any":  # line by line, as str.splitlines() sees lines
        text = "\n".join("<HDR>" if line.startswith("$") and line.endswith("$") else line
                         for line in text.splitlines())
    elif banner is not None:
        raise ValueError(banner)
    if argv0:
        text = _ARGV0.sub(r"calling '<ARGV0>' with \1 arguments", text)
    for old, new in (replace or {}).items():
        text = text.replace(old, new)
    return text


def _diff(name: str, expected: str, actual: str) -> str:
    lines = difflib.unified_diff(expected.splitlines(keepends=True), actual.splitlines(keepends=True),
                                 f"{name} (DCMTK)", f"{name} (ours)")
    return "".join(lines)


def _first_difference(a: bytes, b: bytes) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def assert_same_files(dcmtk: Mapping[str, bytes], ours: Mapping[str, bytes]) -> None:
    """Same file names, then the same bytes per file."""
    assert sorted(ours) == sorted(dcmtk), f"files differ: DCMTK {sorted(dcmtk)}, ours {sorted(ours)}"
    for name, data in dcmtk.items():
        mine = ours[name]
        assert mine == data, (f"{name}: {len(data)} bytes (DCMTK) vs {len(mine)} (ours), "
                              f"first difference at offset {_first_difference(data, mine)}")


def assert_same(dcmtk: Result, ours: Result, *, rc: bool = True, stdout: bool = True, stderr: bool = True,
                files: str | None = ".", recursive: bool = True,
                normalise_stderr: Callable[[str], str] | None = None,
                normalise_stdout: Callable[[str], str] | None = None) -> None:
    """Exit status, stderr, stdout and the files below ``cwd/files`` identical
    (``files=None``: not compared).  ``normalise_stderr``/``normalise_stdout``
    are applied to both sides first.  Failure messages show a unified diff."""
    same = lambda text: text  # noqa: E731
    norm_err, norm_out = normalise_stderr or same, normalise_stdout or same
    if rc:
        assert ours.rc == dcmtk.rc, (f"exit status: DCMTK {dcmtk.rc}, ours {ours.rc}\n"
                                     + _diff("stderr", dcmtk.stderr, ours.stderr))
    if stderr:
        expected, actual = norm_err(dcmtk.stderr), norm_err(ours.stderr)
        assert actual == expected, "stderr differs:\n" + _diff("stderr", expected, actual)
    if stdout:
        expected, actual = norm_out(dcmtk.stdout), norm_out(ours.stdout)
        assert actual == expected, "stdout differs:\n" + _diff("stdout", expected, actual)
    if files is not None:
        assert_same_files(dcmtk.files(files, recursive=recursive), ours.files(files, recursive=recursive))
