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
        (61, "association rejected or request failed (also a failed TLS handshake)"),
        (66, "no presentation context accepted"),
        (67, "release or abort at the end failed"),
        (68, "a C-MOVE ended with warning status 0xB000 (--strict-exit: the worst outcome was a warning)"),
        (69, "a C-MOVE ended with an error status (--strict-exit: also Cancel, a request without final "
             "response, an object not stored, nothing retrieved)"),
        (70, "the TLS layer cannot be created (private key, certificate, password, ciphersuite or profile)"),
    ),
    "getscu": (
        (0, "the session ran (whatever the C-GET statuses were); with --strict-exit: every request "
            "ended with Success and every object was stored"),
        (1, "command line, output directory, TLS layer or handshake, association, DIMSE or query file error"),
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

_CONFIG_ENVIRONMENT = (
    ("DCMRETRIEVE_CONFIG",
     "config files (':'-separated) read before those named by --config"),
    ("DCMRETRIEVE_<LONG_NAME>",
     "default for the option --<long-name> (upper case, '-' becomes '_'), e.g. "
     "DCMRETRIEVE_ACSE_TIMEOUT=10, DCMRETRIEVE_PREFER_LOSSLESS=true; it beats config files, "
     "the command line beats it. Other DCMRETRIEVE_ variables, and those of the other "
     "tool's options, are ignored"),
)

ENVIRONMENT = {
    "movescu": (
        ("DCMDICTPATH", "data dictionary files to load instead of the built-in one (':'-separated)"),
        ("TCP_NODELAY", "0 switches TCP_NODELAY off (it is on by default)"),
        ("DCMRETRIEVE_HOSTS_ALLOW, DCMRETRIEVE_HOSTS_DENY",
         "rule files read by +ac instead of /etc/hosts.allow and /etc/hosts.deny"),
        *_CONFIG_ENVIRONMENT,
    ),
    "getscu": (
        ("DCMDICTPATH", "data dictionary files to load instead of the built-in one (':'-separated)"),
        ("TCP_NODELAY", "0 switches TCP_NODELAY off (it is on by default)"),
        *_CONFIG_ENVIRONMENT,
    ),
}

#: CONFIGURATION FILES: paragraphs (docs/config.md has the details)
CONFIG_FILES = (
    "No config file is read unless named by --config FILE (repeatable; later files win) "
    "or DCMRETRIEVE_CONFIG. A file is INI: section [dcmretrieve] applies to both tools, "
    "[getscu] and [movescu] to one tool and win over [dcmretrieve]. Keys are long option "
    "names without the dashes; a flag takes true or false (yes/no, on/off, 1/0); key takes "
    "a list, [\"a=1\", \"b=2\"] or one value per indented line; padding-create takes two "
    "numbers. Example:",
    None,  # the example below
    "Precedence: command line, then DCMRETRIEVE_<LONG_NAME> variables, then config files, "
    "then DCMTK's defaults. Within a rightmost-wins group (e.g. the preferred transfer "
    "syntaxes, or -q/-v/-d/-ll/-lc) the highest layer that sets a member decides; keys "
    "accumulate (config files, environment, then -k, a later key for the same tag wins). "
    "Parameters (peer, port, query files) come from the command line only. Values are "
    "checked exactly as on the command line; a bad file, key, value or variable stops "
    "the tool with one E: line naming the file and line or the variable (exit 1). "
    "--show-config prints every effective setting with its source and exits 0.",
)
CONFIG_EXAMPLE = (
    "[dcmretrieve]",
    "call = COMMON",
    "acse-timeout = 10",
    "[getscu]",
    "output-directory = in",
    "key =",
    "    QueryRetrieveLevel=PATIENT",
    "[movescu]",
    "port = 11113",
    "prefer-lossless = true",
)

#: JSON SUMMARY: the --summary-json extension (its schema is docs/summary-schema.json)
JSON_SUMMARY = (
    "With --summary-json the tool also writes a machine-readable summary of the run "
    "as JSON; its format is published as the JSON Schema docs/summary-schema.json in "
    "the dcmretrieve sources. The option belongs to the exit status and summary "
    "extensions; like every extension it can also be set in a config file or the "
    "environment."
)


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
                if option.requires is not None and not options.option_available(option):
                    continue  # +pb/+pn: only when OpenSSL offers the suite
                out += [".TP", _option_names(option)]
                out += [_esc(line) for line in option.help.split("\n")]
                if option.since is not None:
                    out.append(_esc(f"(as DCMTK {option.since}; DCMTK {DCMTK_VERSION} has no such option)"))
    out.append(".SH EXIT STATUS")
    for code, meaning in EXIT_CODES[tool]:
        out += [".TP", f"\\fB{code}\\fR", _esc(meaning)]
    out.append(".SH ENVIRONMENT")
    for name, meaning in ENVIRONMENT[tool]:
        out += [".TP", f"\\fB{_esc(name)}\\fR", _esc(meaning)]
    out.append(".SH CONFIGURATION FILES")
    for paragraph in CONFIG_FILES:
        if paragraph is None:
            out += [".PP", ".nf", *(_esc(line) for line in CONFIG_EXAMPLE), ".fi", ".PP"]
        else:
            out.append(_esc(paragraph))
    out += [".SH JSON SUMMARY", _esc(JSON_SUMMARY)]
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
