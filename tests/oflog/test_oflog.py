"""Unit tests of ``dcmretrieve.oflog`` (DCMTK's oflog/log4cplus behaviour).

Expected texts come from runs of DCMTK 3.6.7 (see docs/logging.md and
test_oflog_oracle.py, which compares against the binary directly).
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from dcmretrieve import oflog
from dcmretrieve.errors import CommandLineError
from dcmretrieve.oflog import appenders, layouts, netappenders, properties, state
from dcmretrieve.settings import Settings

CFG_DIR = Path(__file__).parents[1] / "data" / "logcfg"
MOVESCU = oflog.app_logger("movescu")
NET = logging.getLogger(oflog.NET)


def settings(level: str | None = None, config: str | None = None) -> Settings:
    return Settings(tool="movescu", argv0="/usr/bin/movescu", log_level=level, log_config=config)


@pytest.fixture(autouse=True)
def default_logging() -> Iterator[None]:
    """Every test starts from and returns to the default set-up."""
    oflog.setup("movescu", settings())
    yield
    oflog.shutdown()
    oflog.setup("movescu", settings())


def write_cfg(tmp_path: Path, *lines: str, name: str = "t.cfg") -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def record(msg: str, level: int = oflog.INFO, name: str = "dcmtk.apps.movescu") -> logging.LogRecord:
    return logging.LogRecord(name, level, "", 0, msg, None, None)


# --- default set-up --------------------------------------------------------


def test_default_pattern_prefixes_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    oflog.setup("movescu", settings("verbose"))
    MOVESCU.info("Request Identifiers:\n\n# Dicom-Data-Set\n# Used TransferSyntax: Little Endian Explicit\n")
    MOVESCU.info("Requesting Association")
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        "I: Request Identifiers:\nI: \nI: # Dicom-Data-Set\n"
        "I: # Used TransferSyntax: Little Endian Explicit\nI: \nI: Requesting Association\n"
    )


def test_level_letters(capsys: pytest.CaptureFixture[str]) -> None:
    oflog.setup("movescu", settings("trace"))
    for level in (oflog.TRACE, oflog.DEBUG, oflog.INFO, oflog.WARN, oflog.ERROR, oflog.FATAL):
        NET.log(level, "x")
    assert capsys.readouterr().err == "T: x\nD: x\nI: x\nW: x\nE: x\nF: x\n"


def test_default_level_is_warn(capsys: pytest.CaptureFixture[str]) -> None:
    MOVESCU.info("hidden")
    MOVESCU.debug("hidden")
    MOVESCU.warning("DICOM file already exists, overwriting: x")
    assert capsys.readouterr().err == "W: DICOM file already exists, overwriting: x\n"
    assert not MOVESCU.isEnabledFor(oflog.INFO)


def test_default_layout_equals_pattern_layout() -> None:
    pattern = layouts.PatternLayout("%P: %m%n")
    for msg in ("", "a", "a\n", "\n", "a\n\nb", "x\ny\n\n"):
        for level in (oflog.TRACE, oflog.INFO, oflog.FATAL):
            rec = record(msg, level)
            assert layouts.DefaultLayout().format(rec) == pattern.format(rec)


@pytest.mark.parametrize(
    ("level", "enabled", "quiet", "progress"),
    [
        (None, oflog.WARN, False, False),
        ("quiet", oflog.FATAL, True, False),
        ("verbose", oflog.INFO, False, True),
        ("debug", oflog.DEBUG, False, False),
        ("fatal", oflog.FATAL, True, False),
        ("FATAL", oflog.FATAL, True, False),
        ("off", None, True, False),
        ("error", oflog.ERROR, False, False),
        ("Warn", oflog.WARN, False, False),
        ("INFO", oflog.INFO, False, True),
        ("Info", oflog.INFO, False, True),
        ("debug", oflog.DEBUG, False, False),
        ("trace", oflog.TRACE, False, False),
        ("all", oflog.TRACE, False, False),
    ],
)
def test_levels_quiet_and_progress(level: str | None, enabled: int | None, quiet: bool, progress: bool) -> None:
    oflog.setup("movescu", settings(level))
    assert oflog.is_quiet() is quiet
    assert oflog.progress_enabled() is progress
    if enabled is None:
        assert not MOVESCU.isEnabledFor(oflog.FATAL)
    else:
        assert MOVESCU.isEnabledFor(enabled)
        assert not MOVESCU.isEnabledFor(enabled - 1)


@pytest.mark.parametrize("value", ["warning", "notset", " info", "info ", "", "fatal1", "i"])
def test_invalid_log_level(value: str) -> None:
    with pytest.raises(CommandLineError) as exc:
        oflog.setup("movescu", settings(value))
    assert exc.value.message == "Invalid log level for --log-level option"


def test_arguments_message(capsys: pytest.CaptureFixture[str]) -> None:
    oflog.setup("movescu", settings("quiet"))
    oflog.log_arguments("/usr/bin/movescu", ["--quiet", "--arguments", "", "127.0.0.1", "11399", "--key", "PatientID=1"])
    MOVESCU.error("suppressed in quiet mode")
    assert capsys.readouterr().err == (
        "I: calling '/usr/bin/movescu' with 7 arguments: '--quiet' '--arguments' "
        "'127.0.0.1' '11399' '--key' 'PatientID=1' \nI: \n"
    )


def test_output_goes_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Streams are looked up at emit time (redirection after set-up works)."""
    import io

    buf = io.StringIO()
    saved = sys.stderr
    sys.stderr = buf
    try:
        MOVESCU.critical("No Acceptable Presentation Contexts")
    finally:
        sys.stderr = saved
    assert buf.getvalue() == "F: No Acceptable Presentation Contexts\n"
    assert capsys.readouterr().err == ""


def test_nothing_reaches_python_root_and_foreign_loggers_are_silent(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[logging.LogRecord] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    catcher = Catch()
    logging.getLogger().addHandler(catcher)
    try:
        oflog.setup("movescu", settings("trace"))
        MOVESCU.critical("a")
        logging.getLogger("dcmtk.somewhere.else").error("b")
        for name in ("pynetdicom", "pynetdicom.assoc", "pydicom"):
            logging.getLogger(name).critical("foreign")
            assert not logging.getLogger(name).isEnabledFor(logging.CRITICAL)
        assert logging.getLogger("pynetdicom").propagate is False
    finally:
        logging.getLogger().removeHandler(catcher)
    assert seen == []
    assert capsys.readouterr().err == "F: a\nE: b\n"


# --- -lc validation --------------------------------------------------------


def test_lc_validation_messages_in_dcmtk_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def message(path: str) -> str:
        with pytest.raises(CommandLineError) as exc:
            oflog.setup("movescu", settings(config=path))
        return exc.value.message

    prefix = "Specified --log-config file "
    assert message(str(tmp_path / "missing.cfg")) == prefix + "does not exist"
    assert message(str(tmp_path)) == prefix + "does not exist"  # a directory
    assert message(write_cfg(tmp_path, "  ", "# only a comment", "no equals sign")) == (
        prefix + "does not contain any settings"
    )
    assert message(write_cfg(tmp_path, "foo = bar")) == prefix + "does not contain any valid settings"
    assert message(write_cfg(tmp_path, "log4cplus.logger.x = INFO")) == (
        prefix + "does not set up log4cplus.rootLogger"
    )
    readable = write_cfg(tmp_path, "log4cplus.rootLogger = INFO")
    monkeypatch.setattr(properties.os, "access", lambda path, mode: False)
    assert message(readable) == prefix + "cannot be read"


# --- property files and variables ------------------------------------------


def test_properties_syntax(tmp_path: Path) -> None:
    inc = write_cfg(tmp_path, "included = yes", name="inc.cfg")
    path = write_cfg(
        tmp_path,
        "   # comment",
        "! bang = not a comment",
        "key one  =  spaced value  ",
        "cont = a \\",
        "continued = b",
        "colon : no separator",
        "dup = 1",
        "dup = 2",
        "crlf = x\r",
        f"include {inc}",
    )
    props = properties.Properties.read(path)
    assert props.data == {
        "! bang": "not a comment",
        "key one": "spaced value",
        "cont": "a \\",
        "continued": "b",
        "dup": "2",
        "crlf": "x",
        "included": "yes",
    }
    assert props.subset("key ").data == {"one": "spaced value"}
    assert props.names() == sorted(props.data)


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("TRUE", True), ("False", False), ("1", True), ("0", False), ("42 x", True), ("yes", None)],
)
def test_get_bool(text: str, value: bool | None) -> None:
    props = properties.Properties({"k": text})
    assert props.get_bool("k", True) is (True if value is None else value)
    assert props.get_bool("k", False) is (False if value is None else value)


def test_variable_expansion(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LOGTEST_HOME", "/home/x")
    monkeypatch.setenv("LOGTEST_SHADOW", "env")
    monkeypatch.setenv("empty", "from-env")
    monkeypatch.delenv("LOGTEST_UNDEF", raising=False)
    props = properties.Properties(
        {
            "a": "${LOGTEST_HOME}/${b}",
            "b": "${c}!",
            "c": "C",
            "LOGTEST_SHADOW": "prop",
            "shadow": "${LOGTEST_SHADOW}",
            "undef": "[${LOGTEST_UNDEF}]",
            "empty": "",
            "e": "${empty}",
            "self": "${self}",
            "unclosed": "${c} ${open",
            "k${c}": "key substituted",
            "appname": "overridden",
        }
    )
    properties.add_variables(props, "movescu", now=time.mktime((2026, 11, 22, 11, 57, 31, 0, 0, -1)))
    properties.expand_variables(props)
    data = props.data
    assert data["a"] == "/home/x/C!"
    assert data["shadow"] == "prop"
    assert data["undef"] == "[${LOGTEST_UNDEF}]"
    assert data["e"] == "from-env"
    assert data["unclosed"] == "${c} ${open"
    assert data["kC"] == "key substituted" and "k${c}" not in data
    assert data["appname"] == "movescu"
    assert data["date"] == "20261122" and data["time"] == "115731"
    assert data["pid"] == str(os.getpid())
    assert data["self"] == "${self}"  # log4cplus would loop forever; we stop
    assert 'log4cplus:ERROR "C ${open" has no closing brace. Opening brace at position 2.\n' in capsys.readouterr().err


# --- layouts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("%P|%c{1}|%m%n", "I|movescu|msg\n"),
        ("[%-8c{1}][%8.5c][%.2p][%-6p][%5P]", "[movescu ][vescu][FO][INFO  ][    I]"),
        ("[%c{2}][%c{0}][%c{9}][%20c{1}]", "[apps.movescu][dcmtk.apps.movescu][dcmtk.apps.movescu][             movescu]"),
        ("%%|%x|%X{key}|%x{1}|%X|%m", "%|||{1}||msg"),
        ("[%-c{1}][%-5.2p][%c{-1}][%c{1x}][%c{ 2}]", "[movescu][FO][dcmtk.apps.movescu][movescu][apps.movescu]"),
        ("%m%n%", "msg\n%"),
        ("%d{%Y}|%D{%%q}", time.strftime("%Y", time.gmtime()) + "|%q"),
        ("<%m>", "<msg>"),
    ],
)
def test_pattern_layout(pattern: str, expected: str) -> None:
    assert layouts.PatternLayout(pattern).format(record("msg")) == expected


def test_pattern_layout_default_date_format() -> None:
    import re

    text = layouts.PatternLayout("%d{}|%d|%10.3d{%H}").format(record("x"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\|        \d\d", text)


def test_pattern_layout_format_each_line() -> None:
    rec = record("a\n\nb")
    assert layouts.PatternLayout("[%p] %m%n").format(rec) == "[INFO] a\n[INFO] \n[INFO] b\n"
    assert layouts.PatternLayout("[%p] %m%n", format_each_line=False).format(rec) == "[INFO] a\n\nb\n"


def test_pattern_layout_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    assert layouts.PatternLayout("[%Z]%m").format(record("x")) == "[%Z]x"
    assert layouts.PatternLayout("[%5.x]%m").format(record("x")) == "[%5.x]x"
    assert layouts.PatternLayout("[%c{1][%m").format(record("x")) == "[dcmtk.apps.movescu"
    assert capsys.readouterr().err == (
        "log4cplus:ERROR Unexpected char [Z] at position 3 in conversion pattern.\n"
        "log4cplus:ERROR Error occurred in position 5.\n"
        ' Was expecting digit, instead got char "x".\n'
        "log4cplus:ERROR No matching '}' found in conversion pattern string \"[%c{1][%m\"\n"
    )


def test_simple_and_ttcc_layouts_do_not_split_lines() -> None:
    rec = record("calling 'x' with 0 arguments: \n", name="root")
    assert layouts.SimpleLayout().format(rec) == "INFO - calling 'x' with 0 arguments: \n\n"
    ttcc = layouts.TTCCLayout().format(rec)
    assert ttcc.endswith(f" [{rec.thread}] INFO root <> - calling 'x' with 0 arguments: \n\n")
    assert ttcc.split(" ")[0].isdigit()
    dated = layouts.TTCCLayout("%Y|%%q|", use_gmtime=True).format(rec)
    assert dated.startswith(time.strftime("%Y", time.gmtime(rec.created)) + "|%q| [")


def test_format_time_log4cplus_extensions() -> None:
    stamp = 1795358136.106798
    assert layouts.format_time("%H:%M:%S,%q", stamp, True) == time.strftime("%H:%M:%S", time.gmtime(stamp)) + ",106"
    assert layouts.format_time("%Q|%s|%%s", stamp, True) == "106.798|1795358136|%s"
    assert layouts.format_time("", stamp, True) == ""


# --- appenders, filters, hierarchy ------------------------------------------


def console(name: str, pattern: str, stderr: bool = False) -> list[str]:
    lines = [
        f"log4cplus.appender.{name} = log4cplus::ConsoleAppender",
        f"log4cplus.appender.{name}.layout = log4cplus::PatternLayout",
        f"log4cplus.appender.{name}.layout.ConversionPattern = {pattern}",
    ]
    if stderr:
        lines.append(f"log4cplus.appender.{name}.logToStdErr = true")
    return lines


def emit_refused() -> None:
    """What movescu logs for a refused connection."""
    MOVESCU.info("Requesting Association")
    MOVESCU.critical("Association Request Failed:")
    MOVESCU.critical("0006:031c TCP Initialization Error: Connection refused")


def test_console_appender_defaults_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(tmp_path, "log4cplus.rootLogger = INFO, a, b", *console("a", "a:%m%n"), *console("b", "b:%m%n", True))
    oflog.setup("movescu", settings(config=cfg))
    MOVESCU.info("x")
    out = capsys.readouterr()
    assert (out.out, out.err) == ("a:x\n", "b:x\n")


def test_threshold_applies_to_forced_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, c",
        *console("c", "%c|%p|%m%n"),
        "log4cplus.appender.c.Threshold = warn",
    )
    oflog.setup("movescu", settings(config=cfg))
    oflog.log_arguments("movescu", ["a"])
    emit_refused()
    assert capsys.readouterr().out == (
        "dcmtk.apps.movescu|FATAL|Association Request Failed:\n"
        "dcmtk.apps.movescu|FATAL|0006:031c TCP Initialization Error: Connection refused\n"
    )


def test_filter_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = TRACE, c",
        *console("c", "%P:%m%n"),
        "log4cplus.appender.c.filters.1 = log4cplus::spi::StringMatchFilter",
        "log4cplus.appender.c.filters.1.StringToMatch = secret",
        "log4cplus.appender.c.filters.2 = log4cplus::spi::LogLevelRangeFilter",
        "log4cplus.appender.c.filters.2.LogLevelMin = DEBUG",
        "log4cplus.appender.c.filters.2.LogLevelMax = WARN",
        "log4cplus.appender.c.filters.3 = log4cplus::spi::LogLevelMatchFilter",
        "log4cplus.appender.c.filters.3.LogLevelToMatch = WARN",
        "log4cplus.appender.c.filters.3.AcceptOnMatch = true",
        "log4cplus.appender.c.filters.5 = log4cplus::spi::DenyAllFilter",  # not consecutive: ignored
    )
    oflog.setup("movescu", settings(config=cfg))
    NET.log(oflog.TRACE, "below range")  # DENY by range
    NET.debug("secret debug")  # DENY by string match (AcceptOnMatch defaults to false)
    NET.info("plain info")  # neutral, neutral, neutral -> accepted
    NET.warning("warn")  # accepted by level match
    NET.error("above range")  # DENY by range
    assert capsys.readouterr().out == "I:plain info\nW:warn\n"


def test_file_appenders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trunc.log").write_text("old\n")
    (tmp_path / "app.log").write_text("old\n")
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, t, a, n",
        "log4cplus.appender.t = log4cplus::FileAppender",
        "log4cplus.appender.t.File = trunc.log",
        "log4cplus.appender.a = log4cplus::FileAppender",
        "log4cplus.appender.a.File = app.log",
        "log4cplus.appender.a.Append = true",
        "log4cplus.appender.a.layout = log4cplus::PatternLayout",
        "log4cplus.appender.a.layout.ConversionPattern = %P|%c{1}|%m%n",
        "log4cplus.appender.n = log4cplus::NullAppender",
    )
    oflog.setup("movescu", settings(config=cfg))
    emit_refused()
    oflog.shutdown()
    assert (tmp_path / "trunc.log").read_text() == (
        "INFO - Requesting Association\nFATAL - Association Request Failed:\n"
        "FATAL - 0006:031c TCP Initialization Error: Connection refused\n"
    )
    assert (tmp_path / "app.log").read_text() == (
        "old\nI|movescu|Requesting Association\nF|movescu|Association Request Failed:\n"
        "F|movescu|0006:031c TCP Initialization Error: Connection refused\n"
    )


def test_file_appender_errors_reported_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, f, g",
        "log4cplus.appender.f = log4cplus::FileAppender",
        f"log4cplus.appender.f.File = {tmp_path}/no/such/dir.log",
        "log4cplus.appender.g = log4cplus::FileAppender",
        "log4cplus.appender.g.File =",
    )
    oflog.setup("movescu", settings(config=cfg))
    emit_refused()
    assert capsys.readouterr().err == (
        f"log4cplus:ERROR Unable to open file: {tmp_path}/no/such/dir.log\nlog4cplus:ERROR Invalid filename\n"
    )


def test_rolling_file_appender(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, r",
        "log4cplus.appender.r = log4cplus::RollingFileAppender",
        "log4cplus.appender.r.File = r.log",
        "log4cplus.appender.r.MaxFileSize = 1KB",  # raised to log4cplus' 200 KB minimum
        "log4cplus.appender.r.MaxBackupIndex = 2",
        "log4cplus.appender.r.layout = log4cplus::PatternLayout",
        "log4cplus.appender.r.layout.ConversionPattern = %m%n",
    )
    oflog.setup("movescu", settings(config=cfg))
    chunk = "x" * 150_000
    MOVESCU.info(chunk)  # 150 KB: below the effective limit
    assert not (tmp_path / "r.log.1").exists()
    MOVESCU.info("y" * 100_000)  # crosses 200 KB: rolled after the write
    assert (tmp_path / "r.log.1").stat().st_size == 250_002
    assert (tmp_path / "r.log").stat().st_size == 0
    for c in "abc":
        MOVESCU.info(c * 250_000)
    oflog.shutdown()
    assert sorted(p.name for p in tmp_path.glob("r.log*")) == ["r.log", "r.log.1", "r.log.2"]
    assert (tmp_path / "r.log.1").read_text() == "c" * 250_000 + "\n"
    assert (tmp_path / "r.log.2").read_text() == "b" * 250_000 + "\n"


def test_daily_rolling_file_appender_rolls_at_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, d",
        "log4cplus.appender.d = log4cplus::DailyRollingFileAppender",
        "log4cplus.appender.d.File = d.log",
        "log4cplus.appender.d.Schedule = MONTHLY",
        "log4cplus.appender.d.MaxBackupIndex = 1",
    )
    for run in range(3):
        oflog.setup("movescu", settings(config=cfg))
        MOVESCU.info(f"run {run}")
        scheduled = tmp_path / Path(state.STATE.root_handlers[0].scheduled).name  # type: ignore[attr-defined]
        oflog.shutdown()
    names = sorted(p.name for p in tmp_path.glob("d.log*"))
    # third run: the oldest copy (".1" is the maximum) was dropped
    assert names == ["d.log", scheduled.name, scheduled.name + ".1"]
    assert (tmp_path / (scheduled.name + ".1")).read_text() == "INFO - run 1\n"
    assert (tmp_path / "d.log").read_text() == ""
    assert scheduled.read_text() == "INFO - run 2\n"


@pytest.mark.parametrize(
    ("schedule", "suffix"),
    [
        ("monthly", "2026-11"),
        ("WEEKLY", "2026-46"),
        ("daily", "2026-11-22"),
        ("twice_daily", "2026-11-22-PM"),
        ("hourly", "2026-11-22-14"),
        ("minutely", "2026-11-22-14-39"),
    ],
)
def test_daily_rolling_schedules(schedule: str, suffix: str, tmp_path: Path) -> None:
    props = properties.Properties({"File": str(tmp_path / "d.log"), "Schedule": schedule})
    app = appenders.DailyRollingFileAppender(props)
    stamp = time.mktime((2026, 11, 22, 14, 39, 12, 0, 0, -1))
    start = app._period_start(stamp)
    assert app._scheduled_name(start) == str(tmp_path / "d.log") + "." + suffix
    assert start <= stamp < app._next_period(start)


def test_invalid_schedule_and_config_diagnostics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, c, missing",
        *console("c", "%m%n"),
        "log4cplus.appender.d = log4cplus::DailyRollingFileAppender",
        f"log4cplus.appender.d.File = {tmp_path}/d.log",
        "log4cplus.appender.d.Schedule = fortnightly",
        "log4cplus.appender.x = log4cplus::NoSuchAppender",
        "log4cplus.appender.y = log4cplus::NullAppender",
        "log4cplus.appender.y.layout = log4cplus::NoSuchLayout",
        "log4cplus.appender.y.filters.1 = log4cplus::spi::NoSuchFilter",
        "log4cplus.logger.dcmtk.dcmnet =",
    )
    oflog.setup("movescu", settings(config=cfg))
    assert capsys.readouterr().err == (
        'log4cplus:WARN DailyRollingFileAppender::ctor()- "Schedule" not valid: fortnightly\n'
        "log4cplus:ERROR PropertyConfigurator::configureAppenders()- Cannot find AppenderFactory: "
        "log4cplus::NoSuchAppender\n"
        'log4cplus:ERROR Cannot find LayoutFactory: "log4cplus::NoSuchLayout"\n'
        "log4cplus:ERROR Appender::ctor()- Cannot find FilterFactory: log4cplus::spi::NoSuchFilter\n"
        "log4cplus:ERROR PropertyConfigurator::configureLogger()- Invalid appender: missing\n"
        'log4cplus:ERROR PropertyConfigurator::configureLogger()- Invalid config string(Logger = dcmtk.dcmnet): ""\n'
    )


def test_no_appenders_warning_once_and_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(tmp_path, "log4cplus.rootLogger = WARN")
    oflog.setup("movescu", settings(config=cfg))
    emit_refused()
    NET.error("again")
    assert capsys.readouterr().err == (
        "log4cplus:ERROR No appenders could be found for logger (dcmtk.apps.movescu).\n"
        "log4cplus:ERROR Please initialize the log4cplus system properly.\n"
    )
    quiet = write_cfg(tmp_path, "log4cplus.rootLogger = FATAL", "log4cplus.logger.dcmtk.apps.movescu = INFO")
    oflog.setup("movescu", settings(config=quiet))
    assert oflog.is_quiet()
    emit_refused()
    oflog.log_arguments("movescu", [])
    assert capsys.readouterr().err == ""


def test_hierarchy_inherited_additivity_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, out",
        *console("out", "out:%c:%m%n"),
        *console("err", "err:%c:%m%n", stderr=True),
        "log4cplus.logger.dcmtk.apps = FATAL, err",
        "log4cplus.logger.dcmtk.apps.movescu = INHERITED",
        "log4cplus.logger.dcmtk.dcmnet = DEBUG, err",
        "log4cplus.additivity.dcmtk.dcmnet = false",
    )
    oflog.setup("movescu", settings(config=cfg))
    oflog.log_arguments("m", [])
    emit_refused()
    NET.debug("net")
    out = capsys.readouterr()
    assert out.out == (
        "out:root:calling 'm' with 0 arguments: \nout:root:\n"
        "out:dcmtk.apps.movescu:Association Request Failed:\n"
        "out:dcmtk.apps.movescu:0006:031c TCP Initialization Error: Connection refused\n"
    )
    assert out.err == (
        "err:dcmtk.apps.movescu:Association Request Failed:\n"
        "err:dcmtk.apps.movescu:0006:031c TCP Initialization Error: Connection refused\n"
        "err:dcmtk.dcmnet:net\n"
    )
    assert not oflog.is_quiet()
    assert not oflog.progress_enabled()  # inherits FATAL


def test_progress_follows_app_logger_in_config() -> None:
    oflog.setup("movescu", settings(config=str(CFG_DIR / "log-appinfo.cfg")))
    assert oflog.progress_enabled()
    assert not oflog.is_quiet()


def test_dcmtk_logger_merges_with_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    oflog.setup("movescu", settings(config=str(CFG_DIR / "dcmtk-noadd.cfg")))
    assert oflog.is_quiet()  # the root is OFF
    oflog.log_arguments("m", ["x"])
    MOVESCU.info("i")
    out = capsys.readouterr()
    assert out.out == "out:root:calling 'm' with 1 arguments: 'x' \nout:root:\n"
    assert out.err == "err:dcmtk.apps.movescu:i\n"


def test_unusable_root_logger_keeps_startup_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    oflog.setup("movescu", settings(config=str(CFG_DIR / "emptyroot.cfg")))
    MOVESCU.info("Requesting Association")
    assert capsys.readouterr().err == (
        'log4cplus:ERROR PropertyConfigurator::configureLogger()- Invalid config string(Logger = root): ""\n'
        "I: Requesting Association\n"
    )


def test_root_without_level_keeps_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DCMTK aborts here; we refuse the level like log4cplus' RootLogger."""
    for level in ("NOSUCHLEVEL", "INHERITED"):
        cfg = write_cfg(tmp_path, f"log4cplus.rootLogger = {level}, c", *console("c", "%P %m%n"))
        oflog.setup("movescu", settings(config=cfg))
        MOVESCU.info("Requesting Association")
        MOVESCU.debug("hidden")
        assert not oflog.is_quiet()
        out = capsys.readouterr()
        assert out.err == "log4cplus:ERROR You have tried to set NOT_SET_LOG_LEVEL to root.\n"
        assert out.out == "I Requesting Association\n"


# --- syslog ---------------------------------------------------------------------


def test_syslog_local_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        server.settimeout(5)
        monkeypatch.setattr(netappenders.SysLogAppender, "SOCKET_PATH", path)
        cfg = write_cfg(
            tmp_path,
            "log4cplus.rootLogger = INFO, s",
            "log4cplus.appender.s = log4cplus::SysLogAppender",
            "log4cplus.appender.s.ident = myid",
            "log4cplus.appender.s.facility = LOCAL3",
        )
        oflog.setup("movescu", settings(config=cfg))
        MOVESCU.info("Requesting Association")
        MOVESCU.critical("Association Request Failed:")
        first, second = server.recv(4096).decode(), server.recv(4096).decode()
    assert first.startswith("<158>") and first.endswith(" myid: INFO - Requesting Association\n")
    assert second.startswith("<154>") and second.endswith(" myid: FATAL - Association Request Failed:\n")
    assert time.strptime(first[5:20], "%b %d %H:%M:%S")


def test_syslog_without_daemon_is_silent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(netappenders.SysLogAppender, "SOCKET_PATH", str(tmp_path / "absent.sock"))
    cfg = write_cfg(tmp_path, "log4cplus.rootLogger = INFO, s", "log4cplus.appender.s = log4cplus::SysLogAppender")
    oflog.setup("movescu", settings(config=cfg))
    emit_refused()
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "")


def test_syslog_remote_udp(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        cfg = write_cfg(
            tmp_path,
            "log4cplus.rootLogger = INFO, s",
            "log4cplus.appender.s = log4cplus::SysLogAppender",
            "log4cplus.appender.s.host = 127.0.0.1",
            f"log4cplus.appender.s.port = {port}",
            "log4cplus.appender.s.facility = local1",
        )
        oflog.setup("movescu", settings(config=cfg))
        MOVESCU.info("Requesting Association")
        data = server.recv(4096).decode()
    head, rest = data.split(" ", 1)
    assert head == "<142>1"
    stamp, host, ident_and_more = rest.split(" ", 2)
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-22T14:43:32.494Z")
    assert host == state.hostname()
    assert ident_and_more == f" {os.getpid()} dcmtk.apps.movescu - INFO - Requesting Association\n"


def test_network_appenders_without_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Nobody listening: DCMTK 3.6.7 says exactly this (observed in a private
    network namespace, see test_oflog_oracle.py); events are lost."""
    def unused_port(kind: int) -> int:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, u, t",
        "log4cplus.appender.u = log4cplus::Log4jUdpAppender",
        "log4cplus.appender.u.host = 127.0.0.1",
        f"log4cplus.appender.u.port = {unused_port(socket.SOCK_DGRAM)}",
        "log4cplus.appender.t = log4cplus::SocketAppender",
        "log4cplus.appender.t.host = 127.0.0.1",
        f"log4cplus.appender.t.port = {unused_port(socket.SOCK_STREAM)}",
    )
    oflog.setup("movescu", settings(config=cfg))
    oflog.log_arguments("/usr/bin/movescu", ["x"])
    emit_refused()
    assert capsys.readouterr().err == (
        "log4cplus:ERROR SocketAppender::ConnectorThread::run()- Cannot connect to server\n"
        "log4cplus:ERROR Log4jUdpAppender::append()- Cannot write to server\n"
        "log4cplus:ERROR Log4jUdpAppender::append()- Cannot write to server\n"
    )


def test_log4j_xml_escaping() -> None:
    assert netappenders._xml_escaped("<a & 'b' \"c\">\n\x7f\u00e9") == "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;&#x0a;&#x7f;\u00e9"


def test_undecodable_bytes_are_written_as_bytes(tmp_path: Path) -> None:
    """A file name with invalid UTF-8 (surrogate-escaped in Python) is
    written as its original bytes, like DCMTK does."""
    code = (
        "import os\nfrom dcmretrieve import oflog\nfrom dcmretrieve.settings import Settings\n"
        "oflog.setup('movescu', Settings(tool='movescu'))\n"
        "oflog.app_logger('movescu').warning('DICOM file already exists, overwriting: ' + os.fsdecode(b'CT.\\xff\\xfe'))\n"
        "oflog.app_logger('movescu').warning('caf\\u00e9')\n"
    )
    env = dict(os.environ, LANG="C.UTF-8", PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, env=env)
    assert proc.stderr == b"W: DICOM file already exists, overwriting: CT.\xff\xfe\nW: caf\xc3\xa9\n"


# --- package structure -------------------------------------------------------

#: ``dcmretrieve.oflog``'s modules in import order: each may import only
#: modules before it (no cycles; see docs/architecture.md).
OFLOG_ORDER = [
    "levels", "state", "properties", "layouts", "filters",
    "appenders", "netappenders", "factory", "config", "__init__",
]  # fmt: skip


def test_oflog_imports_point_one_way() -> None:
    import ast

    package_dir = Path(oflog.__file__).parent
    assert sorted(p.stem for p in package_dir.glob("*.py")) == sorted(OFLOG_ORDER)
    for index, name in enumerate(OFLOG_ORDER):
        tree = ast.parse((package_dir / f"{name}.py").read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert imported <= set(OFLOG_ORDER[:index]), (name, imported)


def test_reset_undoes_a_setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_cfg(
        tmp_path,
        "log4cplus.rootLogger = INFO, c",
        "log4cplus.logger.dcmtk.dcmnet = DEBUG",
        "log4cplus.appender.c = log4cplus::ConsoleAppender",
    )
    oflog.setup("movescu", settings(config=cfg))
    assert state.STATE.root_handlers and logging.getLogger(oflog.NET).level == oflog.DEBUG
    state.reset()
    assert state.STATE.root_handlers == [] and state.STATE.all_handlers == [] and state.STATE.configured == []
    assert state.STATE.root_level == oflog.WARN
    assert logging.getLogger(oflog.ROOT).handlers == [] and logging.getLogger(oflog.NET).level == logging.NOTSET
    assert logging.getLogger(oflog.NET).propagate


def test_help_does_not_import_the_logging_package() -> None:
    code = (
        "import sys, contextlib, io\nfrom dcmretrieve import movescu\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    movescu.main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('dcmretrieve.oflog')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "[]\n", proc.stderr
