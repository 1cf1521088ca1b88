"""Man pages rendered from the option tables (``options``).

Why generated: the same tables already produce the parser and the
byte-identical ``--help``; rendering the man pages from them too means a new
or changed option can never be documented in one place and forgotten in
another.  ``docs/man/<tool>.1`` are the rendered pages, kept in the
repository for readers; ``tests/test_manpage.py`` fails when they drift from
the tables.

Usage: ``python -m dcmretrieve.cli.manpage movescu > docs/man/movescu.1``
(``--check FILE`` exits 1 when FILE differs from what would be rendered).
"""

from __future__ import annotations

import sys

from .. import DCMTK_VERSION, __version__
from . import options

#: What each tool does, in a few sentences (the DESCRIPTION section).
DESCRIPTIONS = {
    "movescu": (
        "movescu sends a C-MOVE request for each query file (or one built from "
        "the -k keys alone) to the DICOM peer and waits for the responses. "
        "The peer sends the matching objects to the move destination (-aem, by "
        "default our own AE title): to a third party, or, with --port, to "
        "movescu itself, which then listens and stores the objects it "
        "receives in the output directory."
    ),
    "getscu": (
        "getscu sends a C-GET request for each query file (or one built from "
        "the -k keys alone) to the DICOM peer, which sends the matching "
        "objects back as C-STORE sub-operations on the same association; "
        "getscu stores them in the output directory."
    ),
}

#: Exit codes per tool (number, meaning), DCMTK's numbers.
EXIT_CODES = {
    "movescu": (
        (0, "success; also failures after the association was accepted that are not C-MOVE statuses"),
        (1, "command line error"),
        (2, "--port below 1024 without root privileges"),
        (40, "output directory not writable"),
        (45, "output directory missing or not a directory"),
        (60, "the --port socket cannot be opened"),
        (61, "association rejected or request failed"),
        (66, "no presentation context accepted"),
        (67, "release or abort at the end failed"),
        (68, "a C-MOVE ended with warning status 0xB000 (--strict-exit: the worst outcome was a warning)"),
        (69, "a C-MOVE ended with an error status (--strict-exit: also Cancel, a request without final "
             "response, an object not stored, nothing retrieved)"),
    ),
    "getscu": (
        (0, "the session ran (whatever the C-GET statuses were); with --strict-exit: every request "
            "ended with Success and every object was stored"),
        (1, "command line, output directory, association, DIMSE or query file error"),
        (40, "with --strict-exit: output directory not writable"),
        (45, "with --strict-exit: output directory missing or not a directory"),
        (61, "with --strict-exit: association rejected or request failed"),
        (66, "with --strict-exit: no presentation context for C-GET accepted"),
        (67, "with --strict-exit: release at the end failed"),
        (68, "with --strict-exit: the worst outcome was a warning (or sub-operations failed or warned)"),
        (69, "with --strict-exit: failure, refused, cancel or unknown status, a request without final "
             "response, an object not stored, or nothing retrieved"),
    ),
}

ENVIRONMENT = {
    "movescu": (
        ("DCMDICTPATH", "data dictionary files to load instead of the built-in one (':'-separated)"),
        ("TCP_NODELAY", "0 switches TCP_NODELAY off (it is on by default)"),
        ("DCMRETRIEVE_HOSTS_ALLOW, DCMRETRIEVE_HOSTS_DENY",
         "rule files read by +ac instead of /etc/hosts.allow and /etc/hosts.deny"),
    ),
    "getscu": (
        ("DCMDICTPATH", "data dictionary files to load instead of the built-in one (':'-separated)"),
        ("TCP_NODELAY", "0 switches TCP_NODELAY off (it is on by default)"),
    ),
}


def _esc(text: str) -> str:
    """Escape text for troff: backslashes, leading dots/quotes, hyphens."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def _option_names(option: options.Option) -> str:
    names = [f"\\fB{_esc(option.short)}\\fR"] if option.short else []
    names.append(f"\\fB{_esc(option.long)}\\fR")
    head = ", ".join(names)
    if option.value_help:
        head += " " + _esc(option.value_help)
    return head


def render(tool: str) -> str:
    """The troff source of ``<tool>.1``."""
    info = options.TOOLS[tool]
    out = [
        f'.TH {tool.upper()} 1 "" "dcmretrieve {__version__}" "dcmretrieve"',
        ".SH NAME",
        f"{tool} \\- {_esc(info.description)} (DCMTK {DCMTK_VERSION} compatible)",
        ".SH SYNOPSIS",
        f".B {tool}",
        "[\\fIoptions\\fR] \\fIpeer\\fR \\fIport\\fR [\\fIdcmfile\\-in\\fR...]",
        ".SH DESCRIPTION",
        _esc(DESCRIPTIONS[tool]),
        ".SH PARAMETERS",
    ]
    for param in options.PARAMS:
        out += [".TP", f"\\fI{_esc(param.name)}\\fR", _esc(param.help)]
    out.append(".SH OPTIONS")
    for group in options.LAYOUT[tool]:
        out.append(f".SS {_esc(group.title.rstrip(':'))}")
        for sub in group.subgroups:
            if sub.title is not None:
                out += [".PP", f"\\fI{_esc(sub.title.rstrip(':'))}\\fR"]
            for option in sub.options:
                out += [".TP", _option_names(option)]
                out += [_esc(line) for line in option.help.split("\n")]
    out.append(".SH EXIT STATUS")
    for code, meaning in EXIT_CODES[tool]:
        out += [".TP", f"\\fB{code}\\fR", _esc(meaning)]
    out.append(".SH ENVIRONMENT")
    for name, meaning in ENVIRONMENT[tool]:
        out += [".TP", f"\\fB{_esc(name)}\\fR", _esc(meaning)]
    other = "getscu" if tool == "movescu" else "movescu"
    out += [
        ".SH NOTES",
        "Command files (\\fB@file\\fR), rightmost-wins option groups and all messages "
        f"follow DCMTK {DCMTK_VERSION}; the few deliberate differences are listed in "
        "docs/deviations.md of the dcmretrieve sources.",
        ".SH SEE ALSO",
        f"\\fB{other}\\fR(1), DCMTK's \\fB{tool}\\fR(1)",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in options.TOOLS:
        sys.stderr.write("usage: python -m dcmretrieve.cli.manpage {movescu|getscu} [--check FILE]\n")
        return 2
    text = render(args[0])
    if len(args) == 3 and args[1] == "--check":
        with open(args[2], encoding="utf-8") as handle:
            return 0 if handle.read() == text else 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
