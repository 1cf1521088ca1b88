"""The man pages are rendered from the option tables and kept in sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmretrieve.cli import manpage
from dcmretrieve.cli import options

MAN_DIR = Path(__file__).resolve().parents[2] / "docs" / "man"


@pytest.mark.parametrize("tool", ["movescu", "getscu"])
def test_committed_page_matches_the_tables(tool: str) -> None:
    committed = (MAN_DIR / f"{tool}.1").read_text(encoding="utf-8")
    assert committed == manpage.render(tool), (
        f"docs/man/{tool}.1 is stale: python -m dcmretrieve.cli.manpage {tool} > docs/man/{tool}.1"
    )


@pytest.mark.parametrize("tool", ["movescu", "getscu"])
def test_every_option_and_exit_code_is_documented(tool: str) -> None:
    page = manpage.render(tool)
    for option in options.options_of(tool):
        if option.requires is not None and not options.option_available(option):
            assert f"\\fB{manpage._esc(option.long)}\\fR" not in page, option.long  # +pb without 3DES
            continue
        assert f"\\fB{manpage._esc(option.long)}\\fR" in page, option.long
        if option.short:
            assert f"\\fB{manpage._esc(option.short)}\\fR" in page, option.short
        for line in option.help.split("\n"):
            assert manpage._esc(line) in page
    for code, _meaning in manpage.EXIT_CODES[tool]:
        assert f".TP\n\\fB{code}\\fR\n" in page


def test_the_other_tools_options_are_absent() -> None:
    page = manpage.render("getscu")
    assert "\\fB\\-\\-port\\fR" not in page
    assert "\\fB\\-\\-cancel\\fR" not in page


def test_check_mode(tmp_path: Path) -> None:
    good = tmp_path / "good.1"
    good.write_text(manpage.render("getscu"), encoding="utf-8")
    bad = tmp_path / "bad.1"
    bad.write_text("stale\n", encoding="utf-8")
    assert manpage.main(["getscu", "--check", str(good)]) == 0
    assert manpage.main(["getscu", "--check", str(bad)]) == 1
    assert manpage.main(["nosuchtool"]) == 2


@pytest.mark.parametrize("tool", ["movescu", "getscu"])
def test_extensions_config_environment_and_summary_sections(tool: str) -> None:
    page = manpage.render(tool)
    sections = [line for line in page.splitlines() if line.startswith(".SH ")]
    assert sections.index(".SH OPTIONS") < sections.index(".SH ENVIRONMENT") < sections.index(
        ".SH CONFIGURATION FILES") < sections.index(".SH JSON SUMMARY")
    # the extensions group is the last option group, after DCMTK's
    subsections = [line for line in page.splitlines() if line.startswith(".SS ")]
    assert subsections[-1] == ".SS dcmretrieve extensions"
    assert "\\fB\\-\\-config\\fR [f]ilename: string" in page
    assert "\\fB\\-\\-show\\-config\\fR" in page
    assert "\\fBDCMRETRIEVE_CONFIG\\fR" in page and "\\fBDCMRETRIEVE_<LONG_NAME>\\fR" in page
    assert "docs/summary\\-schema.json" in page
    assert "[getscu]" in page and "[movescu]" in page and "[dcmretrieve]" in page
