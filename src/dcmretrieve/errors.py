"""One exception hierarchy; every error carries the exit code DCMTK uses.

Entry points never call ``sys.exit`` from deep inside; they raise one of these
and the single top-level handler (``app.run``) prints DCMTK's text and
exits with ``exc.exit_code``.
"""

from __future__ import annotations

from .exitcodes import ExitCode


class DcmRetrieveError(Exception):
    """Base class. ``exit_code`` is what the process exits with."""

    exit_code: int = ExitCode.COMMANDLINE_SYNTAX_ERROR

    def __init__(self, message: str = "", exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class CommandLineError(DcmRetrieveError):
    """A command-line error: printed as DCMTK's four-line ``error:`` block
    (cli.md §1) unless quiet mode is already in effect; exit 1."""

    exit_code = ExitCode.COMMANDLINE_SYNTAX_ERROR


class FatalError(DcmRetrieveError):
    """A runtime failure DCMTK reports with ``F: <message>`` lines through the
    application logger before exiting with ``exit_code``.

    ``message`` may contain several lines; each is logged at FATAL level.
    ``logged`` is True when the lines were already logged at the point of
    failure (the handler then only exits).  ``strict_code``: the status
    under ``--strict-exit`` when it differs (getscu's association and setup
    failures exit 1 like DCMTK, with movescu's number under --strict-exit).
    """

    def __init__(self, message: str = "", exit_code: int = 1, logged: bool = False,
                 strict_code: int | None = None) -> None:
        super().__init__(message, exit_code)
        self.logged = logged
        self.strict_code = strict_code


class ReceiveError(Exception):
    """A data set could not be received: the transport failed under the
    receiver (the network layer's ``DimseError`` is one).  Defined here, below
    both, so that the storage pipeline can tell it from a file-system
    problem without importing the network layer."""
