"""``--help`` / ``--version`` / no arguments: DCMTK's output byte for byte
(only the identification line names dcmretrieve), and the import budget:
these paths must never import pydicom or pynetdicom."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from dcmretrieve import __version__
from dcmretrieve.cli import app
from dcmretrieve.cli import cmdline
from dcmretrieve.cli import options
from support import harness

HELP_DIR = Path(__file__).parents[1] / "data" / "help"
TOOLS = ("movescu", "getscu")


def dcmtk_banner(tool: str) -> str:
    return f"$dcmtk: {tool} v3.6.7 2022-04-22 $"


def our_banner(tool: str) -> str:
    return f"$dcmretrieve: {tool} v{__version__} (DCMTK 3.6.7 2022-04-22) $"


def golden(tool: str, kind: str) -> bytes:
    text = (HELP_DIR / f"{tool}-{kind}.txt").read_bytes()
    return text.replace(dcmtk_banner(tool).encode(), our_banner(tool).encode())


def run_captured(tool: str, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = app.run(tool, argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(
    "argv",
    [[], ["--help"], ["-h"], ["-h", "127.0.0.1"], ["--version", "--help"], ["--help", "--version"],
     ["--max-pdu", "1", "-h"]],
)
def test_help_is_byte_identical(tool, argv):
    """DCMTK's part byte for byte; the extensions group follows it."""
    code, out, err = run_captured(tool, argv)
    assert code == 0
    assert err == ""
    dcmtk_part, extensions = harness.split_help_extensions(out)
    dcmtk_367, dcmtk_370, before = harness.split_help_later(dcmtk_part)
    assert dcmtk_367.encode() == golden(tool, "help")
    assert (before, dcmtk_370) == DCMTK_370_HELP[tool]
    assert extensions == extensions_group(tool)
    assert harness.split_help_tls(out)[1].encode() == tls_golden(tool)


def tls_golden(tool: str) -> bytes:
    """DCMTK 3.7.0's TLS group of ``tool`` as built against OpenSSL 3.0
    (rendered from the 3.7.0 source strings, docs/tls.md)."""
    return (HELP_DIR / f"{tool}-tls-3.7.0.txt").read_bytes()


@pytest.mark.parametrize("tool", TOOLS)
def test_tls_group_sits_after_the_network_options(tool):
    text = cmdline.help_text(tool)
    network = text.index("\n  other network options:\n")
    tls = text.index("\n" + harness.HELP_TLS_TITLE + "\n")
    output = text.index("\noutput options:\n")
    assert network < tls < output


#: DCMTK 3.7.0's "IP protocol version:" sub-group, copied from DCMTK-3.7.0's
#: dcmnet/apps/movescu.cc and getscu.cc (the same column geometry as
#: 3.6.7), with the line it follows: movescu has it first in the network
#: options, getscu after the retrieve information model (and names -i0
#: differently)
DCMTK_370_HELP = {
    "movescu": (
        "network options:\n",
        "  IP protocol version:\n"
        "    -i4   --ipv4                 use IPv4 only (default)\n"
        "    -i6   --ipv6                 use IPv6 only\n"
        "    -i0   --ip-auto              use IPv6/IPv4 dual stack\n",
    ),
    "getscu": (
        "    -O    --psonly               use patient/study only information model\n",
        "  IP protocol version:\n"
        "    -i4   --ipv4                 use IPv4 only (default)\n"
        "    -i6   --ipv6                 use IPv6 only\n"
        "    -i0   --ip-auto              use DNS lookup to determine IP protocol\n",
    ),
}


@pytest.mark.parametrize("tool", TOOLS)
def test_later_dcmtk_options_are_marked_and_not_dcmtk_367s(tool):
    """The 3.7.0 options carry ``since`` and stay out of what DCMTK 3.6.7
    accepts (the differential fuzzer draws from ``dcmtk_options_of``)."""
    later = options.later_dcmtk_options_of(tool)
    assert [(o.long, o.short, o.since) for o in later] == [
        ("--ipv4", "-i4", "3.7.0"), ("--ipv6", "-i6", "3.7.0"), ("--ip-auto", "-i0", "3.7.0")]
    assert not set(later) & set(options.dcmtk_options_of(tool))
    assert all(o.long not in harness.strip_help_extensions(cmdline.help_text(tool)) for o in later)


def extensions_group(tool: str) -> str:
    """The expected extensions group, written out independently of the
    renderer: every option of ``options.EXTENSION_SUBGROUPS`` in DCMTK's
    sub-group geometry (4 blanks, short column 4, long names padded to 21,
    descriptions at column 33)."""
    lines = [options.EXTENSIONS_TITLE]
    for sub in options.EXTENSION_SUBGROUPS:
        lines.append("  " + sub.title)
        for option in sub.options:
            assert option.short is None, "extensions are long options only"
            texts = ([option.value_help] if option.value_help else []) + option.help.split("\n")
            lines.append(" " * 10 + option.long.ljust(21) + "  " + texts[0])
            lines += [" " * 33 + text for text in texts[1:]]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("tool", TOOLS)
def test_extensions_group_is_last_and_complete(tool):
    text = cmdline.help_text(tool)
    dcmtk_part, extensions = harness.split_help_extensions(text)
    assert extensions.startswith("dcmretrieve extensions:\n  ")
    assert "\n  configuration:\n" in extensions
    assert "--config               [f]ilename: string\n" in extensions
    assert "--show-config          print the effective settings" in extensions
    extension_longs = {o.long for o in options.options_of(tool)} - {
        o.long for o in options.dcmtk_options_of(tool) + options.later_dcmtk_options_of(tool)
        + options.tls_options_of(tool)}
    assert extension_longs >= {"--config", "--show-config"}
    for long in extension_longs:
        assert f"          {long} " in extensions, long
        assert long not in dcmtk_part, long
    assert text.endswith(extensions + "\n")


@pytest.mark.parametrize("tool", TOOLS)
def test_help_geometry(tool):
    """Fixture facts from cli.md §8: line count and final empty line (of
    DCMTK's part)."""
    text = harness.strip_help_extensions(cmdline.help_text(tool))
    assert text.endswith("\n\n")
    assert text.count("\n") == {"movescu": 133, "getscu": 90}[tool]


@pytest.mark.parametrize("tool", TOOLS)
def test_extensions_group_is_last_and_long_only(tool):
    """One final group after DCMTK's last one; its options have no short
    name, so no DCMTK command line can mean anything new."""
    text = cmdline.help_text(tool)
    head, title, tail = text.partition(harness.HELP_EXTENSIONS_TITLE + "\n")
    assert title and head.endswith("\n") and not head.endswith("\n\n")
    assert tail.endswith("\n\n") and all(line.startswith("  ") for line in tail[:-2].split("\n"))
    groups = options.LAYOUT[tool]
    assert groups[-1].title == harness.HELP_EXTENSIONS_TITLE
    assert all(o.short is None for sub in groups[-1].subgroups for o in sub.options)
    assert "  exit status and summary:\n" in tail
    for long in ("--strict-exit", "--allow-empty", "--summary-json"):
        assert f"          {long} " in tail


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("argv", [["--version"], ["--version", "127.0.0.1", "11399", "a", "b"],
                                  ["--version", "--max-pdu", "1"], ["-q", "--version"]])
def test_version_shape(tool, argv):
    code, out, err = run_captured(tool, argv)
    assert code == 0 and err == ""
    lines = out.split("\n")
    ref = golden(tool, "version").decode().split("\n")
    assert lines[:4] == ref[:4]  # banner, empty, "<tool>: <description>", empty
    assert lines[4].startswith("Host type: ") and len(lines[4]) > len("Host type: ")
    assert lines[5].startswith("Character encoding: ")
    assert lines[6].startswith("Build options: ")
    assert lines[7] == ""
    assert lines[8] == "External libraries used:"
    libs = lines[9:-1]
    # DCMTK 3.7.0 (built with OpenSSL) ends the list with "- OpenSSL <version>"
    import ssl

    assert [lib.split(",")[0] for lib in libs] == [
        "- pydicom", "- pynetdicom", "- configargparse", f"- {ssl.OPENSSL_VERSION}"]
    for lib in libs[:3]:
        assert lib.split(", Version ")[1][0].isdigit()
    assert lines[-1] == ""  # newline-terminated


@pytest.mark.parametrize("tool", TOOLS)
def test_parse_errors_beat_help(tool):
    code, out, err = run_captured(tool, ["--help", "--foo"])
    assert (code, out) == (1, "")
    assert err == f"{our_banner(tool)}\n\n{tool}: " + (
        "DICOM retrieve (C-MOVE) SCU" if tool == "movescu" else "DICOM retrieve (C-GET) SCU"
    ) + "\nerror: Unknown option --foo\n"


PROBE = """
import sys
from dcmretrieve.{tool} import main
import io, contextlib
buf = io.StringIO()
with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
    code = main({argv!r})
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pydicom', 'pynetdicom'))
print(code, 'configargparse' in sys.modules, heavy)
"""


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--foo"], ["-aet"], ["x"], ["x", "0"],
                                  ["--max-pdu", "1", "x", "1"]])
def test_cheap_paths_do_not_import_pydicom_or_pynetdicom(tool, argv):
    probe = PROBE.format(tool=tool, argv=argv)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    code, parser_loaded, heavy = result.stdout.split(" ", 2)
    assert heavy.strip() == "[]"
    assert code in ("0", "1")
    assert parser_loaded == "False"  # configargparse is for config files (not read by default)
