"""Unit tests of the command-line engine: C number scanning, command-file
splitting, the option tables' integrity, Settings contents, and the app's
handler paths that the differential corpus cannot reach (we run as root, the
network modules exist, …)."""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from dcmretrieve.cli import app
from dcmretrieve.cli import cmdline
from dcmretrieve.cli import options
from dcmretrieve.errors import CommandLineError
from dcmretrieve.cli.options import ULONG_MAX, Block, Find

CORPUS = Path(__file__).parents[1] / "cli_corpus"


def run_captured(tool: str, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = app.run(tool, argv)
    return code, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------------------
# C number scanning (cli.md §3)


@pytest.mark.parametrize(
    "text, expected",
    [("104", 104), (" 104", 104), ("\t+104", 104), ("104abc", 104), ("127.0.0.1", 127),
     ("0x68", 104), ("010", 8), ("08", 0), ("-0x10", -16), ("-5", -5), ("-0", 0), ("abc", None), ("", None), (" ", None), ("+", None),
     ("+-1", None), ("99999999999999999999", 2**63 - 1), ("-99999999999999999999", -(2**63))],
)
def test_scan_long(text, expected):
    assert cmdline.scan_long(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("104", 104), ("-1", ULONG_MAX), (" -1", ULONG_MAX), ("-0", 0), ("18446744073709551616", ULONG_MAX),
     ("4096.9", 4096), ("1e5", 1), ("\u0663", None)],
)
def test_scan_ulong(text, expected):
    assert cmdline.scan_ulong(text) == expected


@pytest.mark.parametrize(
    "vtype, text, status",
    [(options.UNSIGNED, "-5", "invalid"), (options.UNSIGNED, " -5", "invalid"), (options.UNSIGNED, "-0", "invalid"),
     (options.UNSIGNED, "+0", "underflow"), (options.SIGNED, "-0", "underflow"), (options.SIGNED, " -1", "underflow"),
     (options.UNSIGNED, "131073", "overflow"), (options.UNSIGNED, " +4096", "ok")],
)
def test_number_status(vtype, text, status):
    assert cmdline.number_status(vtype, text, 1, 131072)[0] == status


@pytest.mark.parametrize(
    "text, message",
    [("abc", "Invalid parameter value abc"), ("0", "Invalid parameter value 0 (underflow)"),
     ("65536", "Invalid parameter value 65536 (overflow)"), ("-1", "Invalid parameter value -1 (overflow)"),
     ("0x68", "Invalid parameter value 0x68 (underflow)"), ("", "Invalid parameter value ")],
)
def test_port_parameter_messages(text, message):
    with pytest.raises(CommandLineError) as info:
        cmdline.check_port_parameter(text)
    assert info.value.message == message


# ---------------------------------------------------------------------------
# command files (cli.md §6)


@pytest.mark.parametrize(
    "text, tokens",
    [('-aet  MYAE\n\t-aec "THE SCP"   127.0.0.1\n 11399 \'x"y\' ab"c d"e "" \n',
      ["-aet", "MYAE", "-aec", "THE SCP", "127.0.0.1", "11399", 'x"y', "abc d", "e", ""]),
     ("-aet\r\nCRLFAE\r\n", ["-aet", "CRLFAE"]),
     ('-aet "A B"C', ["-aet", "A B", "C"]),
     ('-aet "UNTERM\n 127', ["-aet", "UNTERM\n 127"]),
     ("''\"\"", ["", ""]),
     ('x "', ["x"]), ('ab"', ["ab"]), ('"', []), ("\v-v\f", ["\v-v\f"]),
     ("", []),
     ("   \n\t ", [])],
)
def test_split_command_file(text, tokens):
    assert cmdline.split_command_file(text) == tokens


def test_command_files_expand_once_and_in_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.txt").write_text("-v")
    (tmp_path / "outer.txt").write_text("@inner.txt -d")
    (tmp_path / "adir").mkdir()
    assert cmdline.expand_command_files(["a", "@outer.txt", "@", "@adir", "b"]) == ["a", "@inner.txt", "-d", "@", "b"]
    with pytest.raises(CommandLineError, match="^Cannot open command file 'nope'$"):
        cmdline.expand_command_files(["@nope"])


@pytest.mark.parametrize("arg, expected", [("-v", True), ("+B", True), ("--", True), ("-", False), ("+", False),
                                           ("-1", False), ("+5", False), ("-1x", False), ("@", False), ("", False)])
def test_is_option(arg, expected):
    assert cmdline.is_option(arg) is expected


# ---------------------------------------------------------------------------
# the tables


@pytest.mark.parametrize("tool", options.TOOLS)
def test_every_option_is_evaluated_exactly_once(tool):
    evaluated = []
    for item in options.EVALUATION[tool]:
        if isinstance(item, Find):
            evaluated.append(item.long)
        elif isinstance(item, Block):
            evaluated.extend(item.members)
    assert len(evaluated) == len(set(evaluated))
    expected = {o.long for o in options.dcmtk_options_of(tool) if o.action not in ("exclusive", "append")}
    assert expected <= set(evaluated)
    # extensions may be evaluated in the tables too, but never DCMTK's meta options
    later = {o.long for o in options.later_dcmtk_options_of(tool)}
    assert later <= set(evaluated)
    extensions = {o.long for o in options.options_of(tool)} - {o.long for o in options.dcmtk_options_of(tool)}
    assert set(evaluated) - expected <= extensions - {"--config", "--show-config"}


@pytest.mark.parametrize("tool", options.TOOLS)
def test_names_are_unique_and_fit_the_columns(tool):
    names = [n for o in options.options_of(tool) for n in (o.long, o.short) if n]
    assert len(names) == len(set(names))
    for option in options.options_of(tool):
        assert len(option.long) <= options.LONGCOL
        assert cmdline.is_option(option.long) and (option.short is None or cmdline.is_option(option.short))


@pytest.mark.parametrize("tool", options.TOOLS)
def test_every_dest_is_a_settings_field_or_a_logger_field(tool):
    from dcmretrieve.settings import Settings

    fields = set(vars(Settings(tool=tool)))
    for option in options.options_of(tool):
        if option.dest:
            assert option.dest in fields or option.dest in ("verbosity", "log_level_option"), option


def _evaluate_all(tool: str, argv: list[str]):
    """Parse and run only the option checks (no phases)."""
    action, line = cmdline.parse(tool, argv)
    if action != cmdline.RUN:
        return None
    state = cmdline.State(line, tool)
    state[options.FACT_INFO_ENABLED] = True
    for item in options.EVALUATION[tool]:
        if not isinstance(item, str):
            cmdline.evaluate(line, item, state)
    settings = state.settings
    settings.port = cmdline.check_port_parameter(line.params[1])
    return settings, state


def _corpus_vectors(tool: str) -> list[list[str]]:
    vectors = []
    for text in (CORPUS / f"{tool}.txt").read_text().splitlines():
        text = text.strip()
        if not text or text.startswith("#") or "(no arguments)" in text or "@" in text:
            continue
        words = shlex.split(text.replace("[net]", "").replace("{PORT}", "11399").replace("{LPORT}", "11310"))
        vectors.append([w for w in words if not (w[:1].isupper() and "=" in w and w.split("=")[0].isupper())])
    return vectors


def test_settings_contents():
    settings, _ = _evaluate_all("movescu", [
        "-aet", "A" * 20, "-aec", "CALLED", "-S", "+xs", "-xb", "+ac", "-to", "4294967297", "-ta", "5",
        "-td", "7", "--port", "11310", "-pr", "-pdu", "8192", "-dhl", "--repeat", "3", "--abort", "--ignore",
        "--cancel", "2", "-up", "-od", "out", "-F", "+F", "-u", "+g", "-e", "+p", "8", "16", "+cl", "9", "-xd",
        "-ll", "INFO", "peer", "104abc", "q1", "q2", "-k", "PatientID=1", "-k", "Rows=2",
    ])
    assert settings.aetitle == "A" * 16
    assert (settings.call, settings.move, settings.move_destination) == ("CALLED", None, "A" * 16)
    assert (settings.model, settings.prefer_xfer, settings.propose_xfer) == ("study", "prefer-lossless", "propose-deflated")
    assert (settings.access_control, settings.timeout, settings.acse_timeout, settings.dimse_timeout) == (True, 1, 5, 7)
    assert (settings.listen_port, settings.pending_read, settings.max_pdu) == (11310, True, 8192)
    assert (settings.disable_host_lookup, settings.repeat, settings.abort, settings.ignore) == (True, 3, True, True)
    assert (settings.cancel, settings.uid_padding) == (2, True)
    assert settings.output_directory == "out"
    assert (settings.write_file, settings.enable_new_vr, settings.group_length, settings.length_explicit) == (
        True, False, "group-length-create", False)
    assert (settings.padding, settings.compression_level, settings.log_level) == ((8, 16), 9, "info")
    assert (settings.peer, settings.port, settings.query_files) == ("peer", 104, ["q1", "q2"])
    assert settings.keys == ["PatientID=1", "Rows=2"]


@pytest.mark.parametrize("tool, aetitle", [("movescu", "MOVESCU"), ("getscu", "GETSCU")])
def test_settings_defaults(tool, aetitle):
    settings, _ = _evaluate_all(tool, ["peer", "104", "-q"])
    assert settings.aetitle == aetitle and settings.log_level == "quiet"
    assert (settings.max_pdu, settings.acse_timeout, settings.timeout, settings.dimse_timeout) == (16384, 30, None, None)
    assert settings.output_directory == "."


def test_expanded_args_use_long_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.txt").write_text('-aet X "" +p 1 2')
    action, line = cmdline.parse("movescu", ["-v", "@f.txt", "h", "1"])
    assert action == cmdline.RUN
    assert line.normalized == ["--verbose", "--aetitle", "X", "", "--padding-create", "1", "2", "h", "1"]


# ---------------------------------------------------------------------------
# app paths the corpus cannot reach


def test_privileged_listen_port_needs_root(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, out, err = run_captured("movescu", ["--port", "104", "-od", str(tmp_path), "-k", "PatientID=1", "h", "1"])
    assert (code, out, err) == (2, "", "F: cannot listen on port 104, insufficient privileges\n")


@pytest.mark.parametrize("tool, code", [("movescu", 40), ("getscu", 1)])
def test_output_directory_not_writeable(monkeypatch, tmp_path, tool, code):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode))
    (tmp_path / "q").write_text("x")
    argv = ["-od", str(tmp_path), "h", "1", str(tmp_path / "q")]
    if tool == "movescu":
        argv += ["--port", "11310"]
    result = run_captured(tool, argv)
    assert result == (code, "", "F: specified output directory is not writeable\n")


def test_missing_network_module_is_reported(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "dcmretrieve.scu.get", None)
    (tmp_path / "q").write_text("x")
    code, out, err = run_captured("getscu", ["-od", str(tmp_path), "h", "1", str(tmp_path / "q")])
    assert (code, out, err) == (1, "", "F: network retrieval is not available in this build\n")


def test_internal_errors_never_show_a_traceback(monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(cmdline, "State", boom)
    assert run_captured("movescu", ["h", "1"]) == (1, "", "F: internal error: ValueError: boom\n")


def test_keyboard_interrupt_exits_quietly(monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cmdline, "parse", interrupt)
    assert run_captured("getscu", ["h", "1"]) == (1, "", "")


def test_quiet_mode_applies_only_after_the_logger_options():
    code, out, err = run_captured("movescu", ["-q", "h", "0"])
    assert code == 1 and err.endswith("error: Invalid parameter value 0 (underflow)\n")
    assert run_captured("getscu", ["-q", "h", "0"]) == (1, "", "")
    assert run_captured("getscu", ["-ll", "off", "h", "1"]) == (1, "", "")


@pytest.mark.parametrize("tool", options.TOOLS)
def test_python_dash_m_entry_point(tool):
    result = subprocess.run([sys.executable, "-m", f"dcmretrieve.{tool}", "--nope"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.endswith("error: Unknown option --nope\n")
    assert result.stderr.startswith(f"$dcmretrieve: {tool} v")


# ---------------------------------------------------------------------------
# packaging


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_gives_our_console_scripts(tmp_path):
    """``pip install .`` (with pynetdicom, which ships console scripts of the
    same names) must leave *our* movescu/getscu in the venv.  Needs the
    package registry.  The project is copied first so that the build does
    not write into the work tree."""
    project = Path(__file__).resolve().parents[2]
    source = tmp_path / "src-copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((project / name).read_bytes())
    import shutil

    shutil.copytree(project / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source), "pynetdicom"],
                         capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]
    for tool in options.TOOLS:
        result = subprocess.run([str(venv / "bin" / tool), "--version"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"$dcmretrieve: {tool} v0.1.0 (DCMTK 3.6.7 2022-04-22) $\n\n{tool}: ")


class _BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_exits_like_sigpipe(monkeypatch):
    monkeypatch.setattr(sys, "stdout", _BrokenPipe())
    assert app.run("movescu", ["--help"]) == 141


def test_closed_stdout_is_not_an_error():
    script = Path(sys.executable).parent / "getscu"
    result = subprocess.run([str(script), "--help"], preexec_fn=lambda: os.close(1),
                            stderr=subprocess.PIPE, timeout=60)
    assert (result.returncode, result.stderr) == (0, b"")


@pytest.mark.parametrize("tool", options.TOOLS)
def test_help_defaults_agree_with_settings_defaults(tool):
    """What --help calls "(default)" is what Settings starts with."""
    from dcmretrieve.settings import Settings

    defaults = Settings(tool=tool, aetitle=options.TOOLS[tool].default_aetitle)
    checked = 0
    for option in options.options_of(tool):
        if option.nvalues == 0 and option.dest in vars(defaults) and "(default)" in option.help:
            if option.since is not None:
                # -i4 (default): no option keeps DCMTK 3.6.7's code, IPv4 as well
                assert (option.long, getattr(defaults, option.dest)) == ("--ipv4", None), option
                continue
            assert getattr(defaults, option.dest) == option.const, option
            checked += 1
    assert checked >= (12 if tool == "movescu" else 4)
    valued = {
        "--aetitle": defaults.aetitle, "--call": defaults.call, "--acse-timeout": str(defaults.acse_timeout),
        "--max-pdu": str(defaults.max_pdu), "--output-directory": f'"{defaults.output_directory}"',
    }
    if tool == "movescu":
        valued["--compression-level"] = str(defaults.compression_level)
        valued["--move"] = defaults.aetitle
    for long, shown in valued.items():
        option = options.by_long(tool, long)
        assert f"(default: {shown})" in (option.value_help or "") + option.help, long
    assert defaults.timeout is None and defaults.dimse_timeout is None  # "(default: unlimited)"
    assert defaults.cancel == -1 and defaults.listen_port == 0  # "never", --no-port


def test_nul_in_a_command_file_ends_c_strings(tmp_path, monkeypatch):
    """An option with a NUL stays unknown, but DCMTK prints it (and passes
    values and parameters on) only up to the NUL."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_bytes(b"-v\x00x")
    code, out, err = run_captured("movescu", ["@f"])
    assert (code, out) == (1, "") and err.endswith("\nerror: Unknown option -v\n")
    (tmp_path / "g").write_bytes(b"-aet A\x00B h\x00i 1")
    action, line = cmdline.parse("movescu", ["@g"])
    assert line.normalized == ["--aetitle", "A", "h", "1"]


def test_undecodable_argument_bytes_are_printed_unchanged():
    script = Path(sys.executable).parent / "movescu"
    result = subprocess.run([os.fsencode(script), b"--\xe9"], capture_output=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.endswith(b"\nerror: Unknown option --\xe9\n")


@pytest.mark.parametrize("tool", options.TOOLS)
def test_random_command_lines_agree_and_never_crash(tool):
    """Seeded random vectors: parsing either fails with a CommandLineError or
    yields Settings whose fields have their declared kinds."""
    import random

    rnd = random.Random(20221122)
    names = [n for o in options.dcmtk_options_of(tool) for n in (o.long, o.short)
             if n and o.action != "exclusive" and o.long != "--log-config"]
    values = ["0", "1", "-1", "abc", "", "8192", "x", "PatientID=1", ".", "5", " 7", "+3", "131072",
              "info", "-v", "--", "a=b", "-k", "+B", "\u00e9"]
    agreed = 0
    for _ in range(400):
        argv: list[str] = []
        for _ in range(rnd.randint(0, 8)):
            name = rnd.choice(names)
            argv.append(name)
            argv.extend(rnd.choice(values) for _ in range(options.index(tool)[name].nvalues))
        for param in ["h", "104", "q"][: rnd.choice([0, 2, 2, 3])]:
            argv.insert(rnd.randint(0, len(argv)), param)
        try:
            result = _evaluate_all(tool, argv)
        except CommandLineError:
            continue
        if result is None:
            continue
        settings, _ = result
        defaults = type(settings)(tool=tool)
        for field, value in vars(settings).items():
            default = getattr(defaults, field)
            if default is not None and value is not None and field != "padding":
                assert isinstance(value, type(default)), (argv, field, value)
        agreed += 1
    assert agreed >= 40


@pytest.mark.parametrize("tool", options.TOOLS)
def test_accepted_command_line_reaches_the_network_module(monkeypatch, tmp_path, tool):
    """The hand-off: the network module gets the final Settings (movescu's
    keys already parsed) and the run's outcome recorder (inactive without
    --strict-exit/--summary-json); its return value is the exit status."""
    import types

    from dcmretrieve.scu.summary import Recorder

    seen = []
    net_module = "dcmretrieve.scu." + ("move" if tool == "movescu" else "get")
    fake = types.ModuleType(net_module)

    def fake_run(settings, record):  # type: ignore[no-untyped-def]
        assert isinstance(record, Recorder) and not record.active and record.settings is settings
        seen.append(settings)
        return 68

    fake.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, net_module, fake)
    argv = ["-aec", "QR", "-k", "PatientID=1", "-od", str(tmp_path), "127.0.0.1", "104"]
    if tool == "movescu":
        argv += ["--port", "11310"]  # -od needs it; nothing listens (fake network module)
    assert run_captured(tool, argv) == (68, "", "")
    (settings,) = seen
    assert (settings.tool, settings.call, settings.port, settings.keys) == (tool, "QR", 104, ["PatientID=1"])
    assert (settings.move_keys is not None) == (tool == "movescu")


@pytest.mark.parametrize("tool", options.TOOLS)
@pytest.mark.parametrize("argv,family", [
    ([], None),
    (["-i4"], "inet"),
    (["--ipv6"], "inet6"),
    (["-i0"], "unspec"),
    (["-i6", "-i4"], "inet"),  # an option block: the rightmost wins
    (["--ip-auto", "--ipv6"], "inet6"),
])
def test_ip_protocol_version(tool, argv, family):
    """DCMTK 3.7.0's -i4/-i6/-i0 set the family; none given keeps None
    (DCMTK 3.6.7's code path)."""
    settings, _ = _evaluate_all(tool, ["peer", "104", *argv])
    assert settings.protocol_family == family
