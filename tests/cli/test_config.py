"""Config files (--config, DCMRETRIEVE_CONFIG), DCMRETRIEVE_<LONG_NAME>
variables and --show-config (docs/config.md).

Precedence: command line > environment > config files > DCMTK's defaults,
for every pair, for rightmost-wins groups and for accumulating -k; bad input
gives one ``E:`` line naming the file and line or the variable, exit 1.
Runs ``app.run`` in-process with a controlled environment; the effective
settings are read back from ``--show-config``."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from dcmretrieve.cli import app, cmdline, config

ROW = re.compile(r"^(\S+)\s+= (.*)  \((.*)\)$")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No DCMRETRIEVE_ option variable from outside; run in tmp_path."""
    import os

    for name in list(os.environ):
        if name.startswith(config.ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(tool: str, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = app.run(tool, argv)
    return code, out.getvalue(), err.getvalue()


def show(tool: str, argv: list[str]) -> dict[str, list[tuple[object, str]]]:
    """``--show-config`` as ``{name: [(value, source), ...]}`` (keys repeat)."""
    import json

    code, out, err = run(tool, ["--show-config", *argv])
    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    assert lines[0].startswith(f"# {tool} effective settings (config files: ")
    rows: dict[str, list[tuple[object, str]]] = {}
    for text in lines[1:]:
        match = ROW.match(text)
        assert match, text
        rows.setdefault(match[1], []).append((json.loads(match[2]), match[3]))
    return rows


def one(rows, name):
    (value, source), = rows[name]
    return value, source


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return path.name


# ---------------------------------------------------------------------------
# nothing named: nothing changes


def test_without_config_or_option_variables_the_line_is_untouched(monkeypatch):
    for name, value in (("DCMRETRIEVE_SLOW", "1"), ("DCMRETRIEVE_FUZZ_COUNT", "10"),
                        ("DCMRETRIEVE_HOSTS_ALLOW", "x"), ("DCMRETRIEVE_NO_SUCH_OPTION", "1")):
        monkeypatch.setenv(name, value)
    import os

    assert not config.mentioned("getscu", dict(os.environ))
    action, line = cmdline.parse("getscu", ["-v", "h", "104", "-k", "PatientID=1"])
    plain = cmdline.classify("getscu", ["-v", "h", "104", "-k", "PatientID=1"])
    assert action == cmdline.RUN
    assert [(o.option.long, o.values) for o in line.occurrences] == [
        (o.option.long, o.values) for o in plain.occurrences]
    assert line.config_files == []
    rows = show("getscu", ["h", "104"])
    sources = {source for values in rows.values() for _, source in values}
    assert sources == {"default", "command line"}


def test_the_config_layer_is_not_imported_without_a_file(tmp_path):
    probe = ("import sys, io, contextlib\n"
             "from dcmretrieve.getscu import main\n"
             "with contextlib.redirect_stderr(io.StringIO()): main(['--max-pdu', '1', 'h', '1'])\n"
             "print('configargparse' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={"DCMRETRIEVE_CALL": "X", "PATH": "/nonexistent"})
    assert result.stdout.strip() == "False", result.stderr


# ---------------------------------------------------------------------------
# precedence, pair by pair


def test_config_beats_default(tmp_path):
    name = write(tmp_path / "a.ini", "[getscu]\naetitle = ME\ntimeout = 7\n")
    rows = show("getscu", ["--config", name, "h", "1"])
    assert one(rows, "aetitle") == ("ME", f"config {name}:2")
    assert one(rows, "timeout") == (7, f"config {name}:3")
    assert one(rows, "call") == ("ANY-SCP", "default")


def test_environment_beats_config(tmp_path, monkeypatch):
    name = write(tmp_path / "a.ini", "[dcmretrieve]\ncall = FROMFILE\n")
    monkeypatch.setenv("DCMRETRIEVE_CALL", "FROMENV")
    assert one(show("getscu", ["--config", name]), "call") == ("FROMENV", "env DCMRETRIEVE_CALL")


def test_command_line_beats_environment(monkeypatch):
    monkeypatch.setenv("DCMRETRIEVE_MAX_PDU", "8192")
    assert one(show("getscu", []), "max_pdu") == (8192, "env DCMRETRIEVE_MAX_PDU")
    assert one(show("getscu", ["-pdu", "32768"]), "max_pdu") == (32768, "command line")


def test_command_line_beats_config(tmp_path):
    name = write(tmp_path / "a.ini", "[movescu]\nmove = FILEDEST\n")
    assert one(show("movescu", ["--config", name, "-aem", "CLI"]), "move") == ("CLI", "command line")


def test_environment_file_list_comes_before_the_config_option(tmp_path, monkeypatch):
    first = write(tmp_path / "first.ini", "[getscu]\naetitle = FIRST\ncall = FIRSTCALL\n")
    second = write(tmp_path / "second.ini", "[getscu]\naetitle = SECOND\n")
    monkeypatch.setenv("DCMRETRIEVE_CONFIG", first)
    rows = show("getscu", ["--config", second])
    assert one(rows, "aetitle") == ("SECOND", f"config {second}:2")
    assert one(rows, "call") == ("FIRSTCALL", f"config {first}:3")


def test_later_files_win_and_the_tool_section_beats_the_shared_one(tmp_path):
    a = write(tmp_path / "a.ini", "[getscu]\nrepeat = 2\n[dcmretrieve]\nrepeat = 9\nabort = true\n")
    b = write(tmp_path / "b.ini", "[dcmretrieve]\nacse-timeout = 5\n")
    c = write(tmp_path / "c.ini", "[dcmretrieve]\nacse-timeout = 6\n")
    rows = show("getscu", ["--config", a, "--config", b, "--config", c])
    assert one(rows, "repeat") == (2, f"config {a}:2")
    assert one(rows, "abort") == (True, f"config {a}:5")
    assert one(rows, "acse_timeout") == (6, f"config {c}:2")


def test_one_file_serves_both_tools(tmp_path):
    name = write(tmp_path / "both.ini", (
        "[dcmretrieve]\ncall = COMMON\nmove = STORE\n"
        "[movescu]\nport = 11113\n"
        "[getscu]\nverbose-pc = false\n"))
    moving = show("movescu", ["--config", name])
    assert one(moving, "call") == ("COMMON", f"config {name}:2")
    assert one(moving, "move") == ("STORE", f"config {name}:3")
    assert one(moving, "listen_port") == (11113, f"config {name}:5")
    getting = show("getscu", ["--config", name])
    assert one(getting, "call") == ("COMMON", f"config {name}:2")
    assert "move" not in getting and "listen_port" not in getting  # movescu's options


def test_a_movescu_option_variable_is_ignored_by_getscu(monkeypatch):
    monkeypatch.setenv("DCMRETRIEVE_PORT", "11113")
    assert one(show("movescu", []), "listen_port") == (11113, "env DCMRETRIEVE_PORT")
    assert "listen_port" not in show("getscu", [])


# ---------------------------------------------------------------------------
# rightmost-wins groups and accumulating keys


def test_groups_are_decided_by_the_highest_layer(tmp_path, monkeypatch):
    name = write(tmp_path / "a.ini", "[getscu]\nprefer-lossless = true\n")
    assert one(show("getscu", ["--config", name]), "prefer_xfer") == ("prefer-lossless", f"config {name}:2")
    monkeypatch.setenv("DCMRETRIEVE_PREFER_LITTLE", "yes")
    assert one(show("getscu", ["--config", name]), "prefer_xfer") == (
        "prefer-little", "env DCMRETRIEVE_PREFER_LITTLE")
    assert one(show("getscu", ["--config", name, "+xb"]), "prefer_xfer") == ("prefer-big", "command line")


def test_command_line_member_beats_config_member_without_dcmtk_conflict(tmp_path):
    """getscu ``+B -B`` is a conflict in DCMTK; a config ``+B`` under a
    command-line ``-B`` is not: the command line sets the whole group."""
    name = write(tmp_path / "a.ini", "[getscu]\nbit-preserving = true\n")
    assert one(show("getscu", ["--config", name]), "bit_preserving") == (True, f"config {name}:2")
    assert one(show("getscu", ["--config", name, "-B"]), "bit_preserving") == (False, "command line")
    code, _, err = run("getscu", ["--show-config", "+B", "-B"])  # DCMTK's own rule stays
    assert code == 1 and "error: --normal not allowed with --bit-preserving" in err


def test_logging_options_form_one_group(tmp_path, monkeypatch):
    name = write(tmp_path / "a.ini", "[dcmretrieve]\nlog-level = debug\n")
    assert one(show("getscu", ["--config", name]), "log_level") == ("debug", f"config {name}:2")
    monkeypatch.setenv("DCMRETRIEVE_QUIET", "true")
    assert one(show("getscu", ["--config", name]), "log_level") == ("quiet", "env DCMRETRIEVE_QUIET")
    assert one(show("getscu", ["--config", name, "-v"]), "log_level") == ("verbose", "command line")
    assert one(show("getscu", ["--config", name, "-ll", "info"]), "log_level") == ("info", "command line")


def test_a_false_flag_removes_the_lower_layers_flag(tmp_path, monkeypatch):
    name = write(tmp_path / "a.ini", "[getscu]\nabort = on\n")
    monkeypatch.setenv("DCMRETRIEVE_ABORT", "off")
    assert one(show("getscu", ["--config", name]), "abort") == (False, "default")


def test_keys_accumulate_config_then_environment_then_command_line(tmp_path, monkeypatch):
    name = write(tmp_path / "a.ini", (
        "[dcmretrieve]\nkey = [\"QueryRetrieveLevel=PATIENT\", \"PatientID=FILE\"]\n"
        "[getscu]\nkey =\n    PatientName=A*\n    StudyDate=2004\n"))
    monkeypatch.setenv("DCMRETRIEVE_KEY", "PatientID=ENV")
    rows = show("getscu", ["--config", name, "-k", "PatientID=CLI"])
    assert rows["key"] == [
        ("QueryRetrieveLevel=PATIENT", f"config {name}:2"),
        ("PatientID=FILE", f"config {name}:2"),
        ("PatientName=A*", f"config {name}:4"),
        ("StudyDate=2004", f"config {name}:4"),
        ("PatientID=ENV", "env DCMRETRIEVE_KEY"),
        ("PatientID=CLI", "command line"),
    ]
    # in the run the later key for the same tag wins (DCMTK's -k rule)
    action, line = cmdline.parse("getscu", ["--config", name, "-k", "PatientID=CLI", "h", "1"])
    assert cmdline.State(line, "getscu").settings.keys[-1] == "PatientID=CLI"


def test_two_valued_option_and_arguments_output(tmp_path):
    name = write(tmp_path / "a.ini", "[movescu]\nport = 11113\npadding-create = 8 4\n")
    assert one(show("movescu", ["--config", name]), "padding") == ([8, 4], f"config {name}:3")
    action, line = cmdline.parse("movescu", ["--config", name, "h", "1"])
    assert line.normalized == ["--config", name, "h", "1"]  # --arguments: the command line as typed


def test_dcmtk_checks_apply_to_config_values(tmp_path):
    name = write(tmp_path / "a.ini", "[movescu]\noutput-directory = in\n")
    code, out, err = run("movescu", ["--config", name, "h", "1", "-k", "PatientID=1"])
    assert (code, out) == (1, "")
    assert err == f"E: config file {name}, line 2: --output-directory only allowed with --port\n"


# ---------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("text, message", [
    ("[getscu]\naetitel = X\n", "line 2: unknown option 'aetitel' in section [getscu]"),
    ("[getscu]\nport = 1\n", "line 2: unknown option 'port' in section [getscu]"),
    ("[movescu]\nverbose-pc = true\n", "line 2: unknown option 'verbose-pc' in section [movescu]"),
    ("[getsc]\ncall = X\n", "line 1: unknown section [getsc]"),
    ("[getscu]\ncall = X\n[DEFAULT]\ncall = Y\n", "line 3: unknown section [DEFAULT]"),
    ("call = X\n", "line 1: a setting before the first [section]"),
    ("[getscu]\ncall = A\n\ncall = B\n", "line 4: option 'call' repeated in section [getscu]"),
    ("[dcmretrieve]\nconfig = other.ini\n", "line 2: 'config' cannot be set in a config file"),
    ("[getscu]\nabort = maybe\n", "line 2: abort expects true or false, not 'maybe'"),
    ("[getscu]\ntimeout = abc\n", "line 2: Invalid value for option --timeout (abc)"),
    ("[getscu]\n\nmax-pdu = 1\n", "line 3: Invalid value for option --max-pdu (underflow: 1)"),
    ("[getscu]\ncall = [\"A\", \"B\"]\n", "line 2: call takes one value, not a list"),
    ("[getscu]\nkey = [a=1, b]\n", "line 2: not a list of quoted strings"),
])
def test_bad_config_file(tmp_path, text, message):
    name = write(tmp_path / "bad.ini", text)
    code, out, err = run("getscu" if "movescu" not in text else "movescu",
                         ["--config", name, "h", "1", "-k", "PatientID=1"])
    assert (code, out) == (1, "")
    assert err.startswith(f"E: config file {name}, {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("variable, value, message", [
    ("DCMRETRIEVE_TIMEOUT", "abc", "Invalid value for option --timeout (abc)"),
    ("DCMRETRIEVE_ABORT", "2", "abort expects true or false, not '2'"),
    ("DCMRETRIEVE_LOG_LEVEL", "loud", "Invalid log level for --log-level option"),
])
def test_bad_environment_value(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    code, out, err = run("getscu", ["h", "1", "-k", "PatientID=1"])
    assert (code, out) == (1, "")
    assert err == f"E: environment variable {variable}: {message}\n"


def test_unreadable_config_files(tmp_path):
    code, _, err = run("getscu", ["--config", "missing.ini", "h", "1"])
    assert (code, err) == (1, "E: cannot read config file missing.ini: No such file or directory\n")
    (tmp_path / "latin1.ini").write_bytes(b"[getscu]\ncall = \xe9\n")
    code, _, err = run("getscu", ["--config", "latin1.ini", "h", "1"])
    assert code == 1 and err.startswith("E: config file latin1.ini: not UTF-8")


def test_command_line_errors_come_first(tmp_path):
    """A DCMTK command line error is reported as DCMTK does, before any
    config file is read."""
    code, _, err = run("getscu", ["--config", "missing.ini", "h"])
    assert code == 1 and err.endswith("error: Missing parameter port\n")
    code, out, _ = run("getscu", ["--config", "missing.ini", "--help"])
    assert code == 0 and out.startswith("$dcmretrieve: getscu")


def test_show_config_lists_the_files_and_exits_0(tmp_path):
    a = write(tmp_path / "a.ini", "[getscu]\n")
    code, out, err = run("getscu", ["--config", a, "--show-config", "-od", "nowhere", "x", "0"])
    # the port parameter is still checked; the output directory is not (no run)
    assert code == 1 and "Invalid parameter value 0 (underflow)" in err
    code, out, err = run("getscu", ["--config", a, "--show-config", "-od", "nowhere", "x", "5", "q.dcm"])
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"# getscu effective settings (config files: {a})"
    assert 'query_file       = "q.dcm"  (command line)' in out
    assert 'output_directory = "nowhere"  (command line)' in out


def test_config_variable_names_several_files(tmp_path, monkeypatch):
    import os

    a = write(tmp_path / "a.ini", "[getscu]\nrepeat = 3\ncall = A\n")
    b = write(tmp_path / "b.ini", "[getscu]\ncall = B\n")
    monkeypatch.setenv("DCMRETRIEVE_CONFIG", f"{a}{os.pathsep}{b}")
    code, out, err = run("getscu", ["--show-config"])
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"# getscu effective settings (config files: {a}, {b})"
    rows = show("getscu", [])
    assert one(rows, "repeat") == (3, f"config {a}:2")
    assert one(rows, "call") == ("B", f"config {b}:2")


def test_quiet_mode_silences_later_config_errors(monkeypatch):
    """Like DCMTK's errors: once -q is evaluated, value errors print nothing
    (the exit status stays 1)."""
    monkeypatch.setenv("DCMRETRIEVE_TIMEOUT", "abc")
    assert run("getscu", ["-q", "h", "1", "-k", "PatientID=1"]) == (1, "", "")
    assert run("getscu", ["h", "1", "-k", "PatientID=1"])[2].startswith("E: environment variable")


def test_show_config_runs_nothing_so_writes_no_summary(tmp_path, monkeypatch):
    """--show-config is informational like --help: with --strict-exit and
    --summary-json it still exits 0 and writes no summary file."""
    monkeypatch.chdir(tmp_path)
    code, out, _err = run("getscu", ["--strict-exit", "--summary-json", "s.json", "--show-config",
                                     "127.0.0.1", "1"])
    assert code == 0
    assert "summary_json" in out
    assert not (tmp_path / "s.json").exists()
