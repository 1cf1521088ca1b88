"""Differential test of the command line against the real DCMTK 3.6.7.

Every line of ``cli_corpus/<tool>.txt`` is one argument vector (shell
quoting).  Each is run through ``/usr/bin/<tool>`` and through our console
script in a scratch directory holding ``cli_corpus/files``; stdout, stderr
and the exit status must be identical after normalising the identification
line and ``argv[0]`` in ``--arguments`` output.

Line syntax (see cli_corpus/README.md):

* ``[net]`` first: the vector reaches the network layer (``{PORT}`` is a
  free port where nothing listens); skipped while the tool's network module
  cannot be imported.
* ``NAME=value`` words before the arguments set environment variables.
* ``{PORT}``: a free closed port; ``{LPORT}``: a free port for ``--port``.
* ``(no arguments)``: run without any argument.

All vectors run in parallel threads (subprocesses) once per session.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import shlex
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "cli_corpus"
TOOLS = ("movescu", "getscu")
OUR_BIN = Path(sys.executable).parent
ENV_WORD = re.compile(r"^[A-Z][A-Z0-9_]*=")
TIMEOUT = 60


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


def network_available(tool: str) -> bool:
    return importlib.util.find_spec("dcmretrieve.scu." + ("move" if tool == "movescu" else "get")) is not None


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port *below* the ephemeral range, where nothing listens.

    Why not bind port 0: a connect to a closed port inside the ephemeral
    range can pick that very port as its source port and connect to itself
    (TCP simultaneous open), which turns "connection refused" into a
    protocol error now and then; ports handed out by bind(0) are never
    below the range, so other suites cannot collide with these either."""
    low = _ephemeral_low()
    rnd = random.Random()
    for _ in range(200):
        port = rnd.randrange(max(1024, low - 12000), low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def normalise(tool: str, text: str) -> str:
    text = text.replace(f"$dcmtk: {tool} v3.6.7 2022-04-22 $", "<BANNER>")
    text = re.sub(r"\$dcmretrieve: \w+ v[^ ]+ \(DCMTK 3\.6\.7 2022-04-22\) \$", "<BANNER>", text)
    return re.sub(r"calling '[^']*' with (\d+) arguments", r"calling '<ARGV0>' with \1 arguments", text)


#: PYTHONDONTWRITEBYTECODE is removed: without byte code every run would
#: compile every module again, doubling the corpus time (__pycache__ is
#: git-ignored).
SCRUBBED = ("DCMDICTPATH", "TCP_NODELAY", "PYTHONDONTWRITEBYTECODE")


def execute(program: str, case: Case, workdir: Path, ports: dict[str, str]) -> tuple[int, str, str]:
    argv = [a.replace("{PORT}", ports["PORT"]).replace("{LPORT}", ports["LPORT"]) for a in case.argv]
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"})
    env.update(case.env)
    try:
        done = subprocess.run(
            [program, *argv], cwd=workdir, env=env, capture_output=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return -999, "", "timeout"
    out = done.stdout.decode("utf-8", "surrogateescape")
    err = done.stderr.decode("utf-8", "surrogateescape")
    return done.returncode, normalise(case.tool, out), normalise(case.tool, err)


def run_pair(case: Case, root: Path) -> dict[str, tuple[int, str, str]]:
    results = {}
    # the same ports for both sides: they appear in --arguments output
    ports = {"PORT": str(free_port()), "LPORT": str(free_port())}
    for side, program in (("dcmtk", f"/usr/bin/{case.tool}"), ("ours", str(OUR_BIN / case.tool))):
        workdir = root / f"{case.id}-{side}"
        shutil.copytree(CORPUS / "files", workdir)
        results[side] = execute(program, case, workdir, ports)
    return results


@pytest.fixture(scope="session")
def corpus_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[int, str, str]]]:
    root = tmp_path_factory.mktemp("cli_corpus")
    runnable = [c for c in ALL_CASES if not c.net or network_available(c.tool)]
    # write the byte-code caches once before running in parallel
    for tool in TOOLS:
        warm = Case(tool, 0, "-k PatientID=1 --max-pdu 1 127.0.0.1 1")
        execute(str(OUR_BIN / tool), warm, root, {"PORT": "1", "LPORT": "1"})
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {case.id: pool.submit(run_pair, case, root) for case in runnable}
        return {key: future.result() for key, future in futures.items()}


def test_corpus_is_big_enough():
    assert len(ALL_CASES) >= 150
    for tool in TOOLS:
        assert len([c for c in ALL_CASES if c.tool == tool]) >= 50


def test_dcmtk_binaries_present():
    for tool in TOOLS:
        assert os.access(f"/usr/bin/{tool}", os.X_OK)
        assert (OUR_BIN / tool).exists()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_same_as_dcmtk(case: Case, corpus_results):
    if case.net and not network_available(case.tool):
        pytest.skip(f"dcmretrieve.scu network module not importable yet")
    results = corpus_results[case.id]
    expected, actual = results["dcmtk"], results["ours"]
    assert expected[0] != -999, "DCMTK timed out"
    assert actual[2] == expected[2], f"stderr differs for: {case.text}"
    assert actual[1] == expected[1], f"stdout differs for: {case.text}"
    assert actual[0] == expected[0], f"exit status differs for: {case.text}"
