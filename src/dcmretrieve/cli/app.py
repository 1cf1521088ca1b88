"""Run one tool: DCMTK's order of checks and the single top-level handler.

``run(tool, argv)`` walks ``options.EVALUATION[tool]`` (cli.md §10; movescu
and getscu differ), letting ``cmdline.evaluate`` check option entries and
running the named phases itself, then hands the accepted ``Settings`` to
the tool's network module.  Every exception ends here and becomes DCMTK's
output and exit status; no traceback ever reaches the user.

Heavy modules (logging set-up, pydicom via ``keys``/``dicts``, pynetdicom via
the network modules) are imported only in the phase that needs them, so
``--help``, ``--version`` and syntax errors stay fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import NoReturn

from . import cmdline
from . import options
from .config import ConfigError
from ..errors import CommandLineError, FatalError
from ..exitcodes import EndReason, ExitCode

TYPE_CHECKING = False  # typing costs ~10 ms of start-up; type checkers treat this as True
if TYPE_CHECKING:  # pragma: no cover
    from ..scu.summary import Recorder
    from ..settings import Settings


class _Run:
    """State of one invocation (kept out of module globals so tests can
    call ``run`` repeatedly in one process)."""

    def __init__(self, tool: str, argv0: str) -> None:
        self.tool = tool
        self.argv0 = argv0
        self.logger_ready = False  # quiet mode applies only from here on
        self.wall_start = time.time()  # --summary-json: the run's start
        self.mono_start = time.monotonic()
        self.recorder: Recorder | None = None  # created for the network phase
        self.informational = False  # --show-config: settings printed, nothing run
        # set by execute() once the command line is syntactically valid
        self.line: cmdline.CommandLine
        self.settings: Settings
        self.state: cmdline.State

    # -- the main sequence ---------------------------------------------------

    def execute(self, args: list[str]) -> int:
        action, line = cmdline.parse(self.tool, args)
        if action == cmdline.HELP:
            _write(sys.stdout, cmdline.help_text(self.tool))
            return ExitCode.NO_ERROR
        if action == cmdline.VERSION:
            _write(sys.stdout, cmdline.version_text(self.tool))
            return ExitCode.NO_ERROR
        if action in (cmdline.LIST_CIPHERS, cmdline.LIST_PROFILES):
            from ..net import tls

            body = tls.ciphers_text() if action == cmdline.LIST_CIPHERS else tls.profiles_text()
            _write(sys.stdout, cmdline.host_header(self.tool) + "\n" + body)
            return ExitCode.NO_ERROR
        self.line = line
        self.state = cmdline.State(line, self.argv0)
        self.settings = self.state.settings
        if action == cmdline.SHOW_CONFIG:
            self.informational = True  # like --help: no run, so no summary and no strict status
            return self.show_config()
        for item in options.EVALUATION[self.tool]:
            if isinstance(item, str):
                result = self.phase(item)
                if result is not None:
                    return result
            else:
                cmdline.evaluate(line, item, self.state)
        return ExitCode.NO_ERROR  # pragma: no cover - PHASE_NETWORK always returns

    def phase(self, name: str) -> int | None:
        """Run one named phase; a returned int ends the run with that status."""
        settings = self.settings
        if name == options.PHASE_PORT:
            settings.port = cmdline.check_port_parameter(self.line.params[1])
        elif name == options.PHASE_LOGGER:
            from .. import oflog

            oflog.setup(self.tool, settings)
            self.logger_ready = True
            self.state[options.FACT_INFO_ENABLED] = oflog.app_logger(self.tool).isEnabledFor(oflog.INFO)
        elif name == options.PHASE_ARGUMENTS:
            if settings.arguments:
                from .. import oflog

                oflog.log_arguments(self.argv0, settings.expanded_args)
        elif name == options.PHASE_KEYS:
            if self.tool == "movescu" and settings.keys:
                # validated at start-up, right to left (keys.md §1)
                from ..dicom import keys

                settings.move_keys = keys.MoveKeys.parse(settings.keys)
        elif name == options.PHASE_QUERY_FILES:
            for name_ in settings.query_files:
                if not os.access(name_, os.R_OK):
                    raise CommandLineError(f"cannot access file: {name_}")
        elif name == options.PHASE_NEED_QUERY:
            if not settings.query_files and not settings.keys:
                raise CommandLineError("either query file or override keys (or both) must be specified")
        elif name == options.PHASE_IDENTIFY:
            self.logger().debug(cmdline.banner(self.tool) + "\n")
        elif name == options.PHASE_DICTIONARY:
            self.check_dictionary()
        elif name == options.PHASE_OUTPUT_LAYOUT:
            if settings.output_layout is not None:
                from ..store.layout import Layout, LayoutError

                try:
                    Layout.parse(settings.output_layout)
                except LayoutError as exc:
                    raise CommandLineError(f"Invalid value for option --output-layout ({exc.reason}: "
                                           f"{settings.output_layout})") from None
        elif name == options.PHASE_OUTPUT_DIR:
            self.check_output_directory()
        elif name == options.PHASE_PRIVILEGED_PORT:
            port = settings.listen_port
            if 0 < port < 1024 and hasattr(os, "geteuid") and os.geteuid() != 0:
                raise FatalError(
                    f"cannot listen on port {port}, insufficient privileges",
                    ExitCode.INSUFFICIENT_PRIVILEGES,
                )
        elif name == options.PHASE_NETWORK:
            return self.network()
        else:  # pragma: no cover - tables and code out of step
            raise RuntimeError(f"unknown phase {name!r}")
        return None

    # -- --show-config ------------------------------------------------------------

    #: phases --show-config runs: the ones that decide settings, not files or network
    SHOW_CONFIG_PHASES = (options.PHASE_LOGGER,)

    def show_config(self) -> int:
        """Evaluate every option as a run would (same checks, same errors),
        then print one line per setting with its source, and exit 0."""
        for item in options.EVALUATION[self.tool]:
            if isinstance(item, str):
                if item == options.PHASE_PORT and len(self.line.params) > 1:
                    self.phase(item)
                elif item in self.SHOW_CONFIG_PHASES:
                    self.phase(item)
            else:
                cmdline.evaluate(self.line, item, self.state)
        _write(sys.stdout, cmdline.settings_report(self.line, self.state))
        return ExitCode.NO_ERROR

    # -- phases with more to say ----------------------------------------------

    def logger(self):  # -> logging.Logger
        from .. import oflog

        return oflog.app_logger(self.tool)

    def check_dictionary(self) -> None:
        """DCMTK warns (and carries on) when no data dictionary is loaded."""
        from ..dicom import dicts

        if not dicts.load_data_dictionaries():
            self.logger().warning(dicts.NO_DICTIONARY_WARNING)

    def check_output_directory(self) -> None:
        """movescu checks only when listening (exit 45/40); getscu always
        checks, even with ``--ignore`` (exit 1)."""
        settings = self.settings
        if self.tool == "movescu":
            if settings.listen_port <= 0:
                return
            missing, unwritable = ExitCode.INVALID_OUTPUT_DIRECTORY, ExitCode.CANNOT_WRITE_OUTPUT_DIRECTORY
        else:
            missing = unwritable = ExitCode.COMMANDLINE_SYNTAX_ERROR
        directory = settings.output_directory
        # --strict-exit: getscu exits with movescu's numbers (docs/ci.md)
        if not _directory_opens(directory):
            raise FatalError("specified output directory does not exist", missing,
                             strict_code=ExitCode.INVALID_OUTPUT_DIRECTORY)
        if not os.access(directory, os.W_OK):
            raise FatalError("specified output directory is not writeable", unwritable,
                             strict_code=ExitCode.CANNOT_WRITE_OUTPUT_DIRECTORY)

    def network(self) -> int:
        module_name = "move" if self.tool == "movescu" else "get"
        try:
            module = importlib.import_module(f"dcmretrieve.scu.{module_name}")
        except ImportError:  # the module or what it needs (pynetdicom) is missing
            raise FatalError("network retrieval is not available in this build", 1) from None
        return int(module.run(self.settings, self.make_recorder()))

    def make_recorder(self) -> "Recorder":
        """The run's outcome recorder (--strict-exit, --summary-json)."""
        if self.recorder is None:
            from ..scu import summary

            self.recorder = summary.Recorder(self.settings, self.wall_start, self.mono_start)
            self.recorder.args = list(self.line.args)
        return self.recorder

    # -- the end of every accepted run: --strict-exit and --summary-json ---------

    def finish(self, code: int, end: EndReason, strict_code: int | None = None,
               error: str | None = None) -> int:
        """The exit status (``--strict-exit``) and the summary
        (``--summary-json``) of a run whose command line was accepted."""
        settings = getattr(self, "settings", None)
        if settings is None or self.informational or not (settings.strict_exit or settings.summary_json):
            return code
        from ..scu import summary

        recorder = self.make_recorder()
        status = recorder.strict_exit_code(code, end, strict_code) if settings.strict_exit else code
        if settings.summary_json:
            try:
                summary.write(recorder.document(status, code, end, error), settings.summary_json)
            except OSError as exc:
                self.report_error(f"cannot write summary file {settings.summary_json}: "
                                  f"{exc.strerror or exc}")
                if status == ExitCode.NO_ERROR:
                    status = ExitCode.COMMANDLINE_SYNTAX_ERROR
        return status

    def report_error(self, message: str) -> None:
        """E: line through the application logger (plain stderr if it fails)."""
        try:
            self.logger().error(message)
        except Exception:  # noqa: BLE001 - the logger itself failed
            _write(sys.stderr, f"E: {message}\n")

    # -- the single top-level handler ------------------------------------------

    def report_fatal(self, message: str) -> None:
        """F: lines through the application logger (set up if needed, so an
        early internal error still has DCMTK's format)."""
        try:
            if not self.logger_ready:
                from .. import oflog
                from ..settings import Settings

                oflog.setup(self.tool, Settings(tool=self.tool))
            self.logger().critical(message)
        except Exception:  # the logger itself failed: plain stderr
            _write(sys.stderr, "".join(f"F: {text}\n" for text in message.split("\n")))


def _directory_opens(path: str) -> bool:
    """OFStandard::dirExists: true if the directory can be opened."""
    try:
        with os.scandir(path):
            return True
    except OSError:
        return False


def _write(stream, text: str) -> None:  # type: ignore[no-untyped-def]
    """Write and flush; a closed standard stream (None) swallows the text,
    as a C++ ``COUT``/``CERR`` with a closed descriptor does."""
    if stream is None:
        return
    stream.write(text)
    stream.flush()


def run(tool: str, argv: list[str] | None = None) -> int:
    """Run ``tool`` ("movescu" or "getscu") on ``argv`` (the arguments after
    the program name; default ``sys.argv[1:]``) and return the exit status."""
    if tool not in options.TOOLS:
        raise ValueError(f"unknown tool {tool!r}")
    if argv is None:
        argv0, args = (sys.argv[0] if sys.argv else tool), sys.argv[1:]
    else:
        argv0, args = tool, list(argv)
    _raw_bytes_out()
    current = _Run(tool, argv0)
    try:
        return current.finish(int(current.execute(args)), EndReason.COMPLETED)
    except ConfigError as exc:
        # config files/environment are part of the command line: not accepted, no summary
        if not _quiet(current):
            _write(sys.stderr, f"E: {cmdline.c_str(exc.message)}\n")
        return int(exc.exit_code)
    except CommandLineError as exc:
        if not _quiet(current):
            _write(sys.stderr, cmdline.error_block(tool, exc.message))
        return int(exc.exit_code)
    except FatalError as exc:
        if not exc.logged and exc.message:
            current.report_fatal(exc.message)
        return current.finish(int(exc.exit_code), EndReason.FATAL, exc.strict_code, exc.message or None)
    except KeyboardInterrupt:
        return current.finish(1, EndReason.INTERRUPTED, error="interrupted")
    except BrokenPipeError:
        # DCMTK dies of SIGPIPE (the shell shows 141); exit with that status
        _silence_stdout()
        return current.finish(128 + 13, EndReason.BROKEN_PIPE, error="standard output closed")
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        text = f"internal error: {type(exc).__name__}: {exc}"
        current.report_fatal(text)
        return current.finish(1, EndReason.INTERNAL_ERROR, error=text)


def exit_process(code: int) -> NoReturn:
    """End the process with ``code`` the way the interpreter would, without
    its teardown: ``atexit`` handlers (log files, oflog's shutdown) run and
    the standard streams are flushed, then ``os._exit``.

    WHY: tearing down a few hundred modules and their objects costs a
    retrieval 10-30 ms of CPU at the very end (measured, issue 8; DCMTK's
    whole empty retrieval takes 23 ms), and nothing of it is observable: our
    files are written with unbuffered system calls and closed before this.
    Whenever that might not hold -- a thread other than a daemon still runs,
    or a standard stream cannot be flushed (a closed pipe: Python then
    prints its message and exits 120, as before) -- the normal exit is taken.
    Only the console scripts and ``python -m`` call this; ``run`` and the
    tools' ``main`` return the status to in-process callers."""
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _raw_bytes_out() -> None:
    """Arguments that are not valid in the locale's encoding reach Python
    as surrogate escapes; DCMTK prints such bytes unchanged, so our
    standard streams must turn the escapes back into the original bytes
    (Python's default for stderr would print ``\\udce9``)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):
                pass


def _quiet(current: _Run) -> bool:
    """Errors after the logger options were evaluated obey quiet mode."""
    if not current.logger_ready:
        return False
    from .. import oflog

    return oflog.is_quiet()


def _silence_stdout() -> None:
    """After EPIPE, stop Python's shutdown flush from complaining."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
