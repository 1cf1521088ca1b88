"""Differential test of the command line against the real DCMTK 3.6.7.

Every line of ``cli_corpus/<tool>.txt`` is one argument vector (shell
quoting).  Each is run through ``/usr/bin/<tool>`` and through our console
script in a scratch directory holding ``cli_corpus/files``; stdout, stderr
and the exit status must be identical after normalising the identification
line and ``argv[0]`` in ``--arguments`` output.

Line syntax (see cli_corpus/README.md):

* ``[net]`` first: the vector reaches the network layer (``{PORT}`` is a
  free port where nothing listens).
* ``NAME=value`` words before the arguments set environment variables.
* ``{PORT}``: a free closed port; ``{LPORT}``: a free port for ``--port``.
* ``(no arguments)``: run without any argument.

All vectors run in parallel threads (subprocesses) once per session.
"""

from __future__ import annotations

import re
import shlex
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support import harness
from support.ports import free_port

CORPUS = Path(__file__).parents[1] / "cli_corpus"
TOOLS = harness.TOOLS
ENV_WORD = re.compile(r"^[A-Z][A-Z0-9_]*=")

class Case:
    def __init__(self, tool: str, number: int, text: str) -> None:
        self.tool = tool
        self.number = number
        self.text = text
        words = text.split(None, 1)
        self.net = words[0] == "[net]"
        rest = words[1] if self.net and len(words) > 1 else ("" if self.net else text)
        self.env: dict[str, str] = {}
        if rest.strip() == "(no arguments)":
            self.argv: list[str] = []
            return
        argv = shlex.split(rest)
        while argv and ENV_WORD.match(argv[0]):
            name, value = argv.pop(0).split("=", 1)
            self.env[name] = value
        self.argv = argv

    @property
    def id(self) -> str:
        return f"{self.tool}-{self.number:03d}"


def load_cases(tool: str) -> list[Case]:
    cases = []
    for number, line in enumerate((CORPUS / f"{tool}.txt").read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            cases.append(Case(tool, number, line.strip()))
    return cases


ALL_CASES = [case for tool in TOOLS for case in load_cases(tool)]


#: PYTHONDONTWRITEBYTECODE is removed: without byte code every run would
#: compile every module again, doubling the corpus time (__pycache__ is
#: git-ignored).
SCRUBBED = ("DCMDICTPATH", "TCP_NODELAY", "PYTHONDONTWRITEBYTECODE")


def harness_for(tool: str) -> harness.Harness:
    """Ours as the console script, a scrubbed environment in the C.UTF-8
    locale, raw output decoded as UTF-8 (surrogateescape), a run still going
    after 60 s ends as ``TIMED_OUT``."""
    return harness.Harness(tool, ours="script", timeout=60, scrub=SCRUBBED,
                           setenv={"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"},
                           text=False, errors="surrogateescape", on_timeout="result")


def normalise(tool: str, text: str) -> str:
    """The identification line, ``argv[0]`` in ``--arguments`` output and
    the ``dcmretrieve extensions:`` group our ``--help`` adds at its end."""
    return harness.normalise(text, tool, banner="exact", argv0=True, extensions=True)


def execute(side: str, case: Case, workdir: Path, ports: dict[str, str]) -> tuple[int, str, str]:
    argv = [a.replace("{PORT}", ports["PORT"]).replace("{LPORT}", ports["LPORT"]) for a in case.argv]
    done = harness_for(case.tool).run(side, argv, workdir, env=case.env)
    return done.rc, normalise(case.tool, done.stdout), normalise(case.tool, done.stderr)


def run_pair(case: Case, root: Path) -> dict[str, tuple[int, str, str]]:
    results = {}
    # the same ports for both sides: they appear in --arguments output
    ports = {"PORT": str(free_port(below_ephemeral=True)), "LPORT": str(free_port(below_ephemeral=True))}
    for side in ("dcmtk", "ours"):
        workdir = root / f"{case.id}-{side}"
        shutil.copytree(CORPUS / "files", workdir)
        results[side] = execute(side, case, workdir, ports)
    return results


@pytest.fixture(scope="session")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[int, str, str]]]:
    root = tmp_path_factory.mktemp("cli_corpus")
    # write the byte-code caches once before running in parallel
    for tool in TOOLS:
        warm = Case(tool, 0, "-k PatientID=1 --max-pdu 1 127.0.0.1 1")
        execute("ours", warm, root, {"PORT": "1", "LPORT": "1"})
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {case.id: pool.submit(run_pair, case, root) for case in ALL_CASES}
        return {key: future.result() for key, future in futures.items()}


def test_corpus_is_big_enough():
    assert len(ALL_CASES) >= 150
    for tool in TOOLS:
        assert len([c for c in ALL_CASES if c.tool == tool]) >= 50


def test_our_console_scripts_present():
    for tool in TOOLS:
        harness.our_script(tool)  # asserts


@pytest.mark.dcmtk(*TOOLS)
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_same_as_dcmtk(case: Case, corpus_results):
    results = corpus_results[case.id]
    expected, actual = results["dcmtk"], results["ours"]
    assert expected[0] != harness.TIMED_OUT, "DCMTK timed out"
    assert actual[2] == expected[2], f"stderr differs for: {case.text}"
    assert actual[1] == expected[1], f"stdout differs for: {case.text}"
    assert actual[0] == expected[0], f"exit status differs for: {case.text}"
