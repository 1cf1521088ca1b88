"""Named exit codes with DCMTK 3.6.7's numbers (movescu.md §6, getscu.md).

The names follow DCMTK's own ``EXITCODE_*`` constants so that a reader of the
C++ sources finds the same word here.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Every exit status either tool can produce."""

    NO_ERROR = 0
    COMMANDLINE_SYNTAX_ERROR = 1
    # movescu only (getscu uses 1 for every runtime failure)
    INSUFFICIENT_PRIVILEGES = 2
    SETUID_FAILED = 3
    CANNOT_WRITE_OUTPUT_DIRECTORY = 40
    INVALID_OUTPUT_DIRECTORY = 45
    CANNOT_INITIALIZE_NETWORK = 60
    CANNOT_NEGOTIATE_ASSOCIATION = 61
    CANNOT_CREATE_ASSOC_PARAMETERS = 65
    NO_PRESENTATION_CONTEXT = 66
    CANNOT_CLOSE_ASSOCIATION = 67
    CMOVE_WARNING = 68
    CMOVE_ERROR = 69
    CANNOT_CREATE_TLS_LAYER = 70  # DCMTK 3.7.0 movescu (getscu exits 1)


#: getscu's single failure code: every runtime error exits with 1.
GETSCU_FAILURE = ExitCode.COMMANDLINE_SYNTAX_ERROR


class EndReason(enum.Enum):
    """How a run whose command line was accepted ended (``cli.app``'s one
    handler decides; ``--strict-exit`` and ``--summary-json`` use it)."""

    COMPLETED = "completed"  # the network part returned
    FATAL = "fatal"  # a runtime failure with DCMTK's exit code (FatalError)
    INTERRUPTED = "interrupted"  # Ctrl-C
    INTERNAL_ERROR = "internal-error"  # an unexpected exception
    BROKEN_PIPE = "broken-pipe"  # standard output closed
