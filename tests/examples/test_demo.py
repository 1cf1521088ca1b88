"""examples/demo.py and examples/qrscp.py: the demo needs nothing but Python.

The demo runs with a PATH that holds only trap programs named like DCMTK's
tools (each one records that it was called), and with an audit hook
(``sitecustomize`` on PYTHONPATH, inherited by every Python child: the
archive, getscu, movescu) that records every program any of them starts.
Passing means: files arrived, no trap was called, and nothing that was
started is a DCMTK program.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.py"
DCMTK_PROGRAMS = ("getscu", "movescu", "dcmqrscp", "storescp", "storescu", "dump2dcm", "dcmdump",
                  "findscu", "echoscu", "dcmodify")

SITECUSTOMIZE = '''
import os, sys
_LOG = os.environ.get("DEMO_EXEC_LOG")
_EVENTS = ("subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile")

def _hook(event, args):
    if event in _EVENTS:
        with open(_LOG, "a") as log:
            log.write(f"{event}\\t{args[0]!s}\\t{args[1]!r}\\n" if len(args) > 1 else f"{event}\\t{args[0]!s}\\t\\n")

if _LOG:
    with open(_LOG, "a") as log:
        log.write(f"python\\t{sys.executable}\\t{sys.argv!r}\\n")
    sys.addaudithook(_hook)
'''

TRAP = '''#!/bin/sh
echo "$0 $*" >> "{log}"
exit 97
'''


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """(environment, trap log, exec log): PATH = traps only."""
    traps = tmp_path / "traps"
    traps.mkdir()
    trap_log = tmp_path / "traps.log"
    for name in DCMTK_PROGRAMS:
        trap = traps / name
        trap.write_text(TRAP.format(log=trap_log))
        trap.chmod(0o755)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    exec_log = tmp_path / "exec.log"
    env = {"PATH": str(traps), "PYTHONPATH": str(hooks), "DEMO_EXEC_LOG": str(exec_log),
           "HOME": str(tmp_path), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return env, trap_log, exec_log


def started_programs(exec_log: Path) -> list[tuple[str, str]]:
    rows = []
    for line in exec_log.read_text().splitlines():
        event, program, _ = line.split("\t", 2)
        rows.append((event, program))
    return rows


def assert_no_dcmtk(trap_log: Path, exec_log: Path) -> list[tuple[str, str]]:
    assert not trap_log.exists(), f"a DCMTK program was called: {trap_log.read_text()}"
    programs = started_programs(exec_log)
    for event, program in programs:
        assert Path(program).name not in DCMTK_PROGRAMS or not program.startswith("/usr/"), (event, program)
        assert not program.startswith(("/usr/bin/", "/bin/")) or "python" in Path(program).name, program
    return programs


@pytest.mark.network
@pytest.mark.slow
def test_demo_retrieves_without_dcmtk(tmp_path: Path) -> None:
    env, trap_log, exec_log = guarded_env(tmp_path)
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, str(DEMO), "--workdir", str(work)], env=env,
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("demo: OK")
    got = sorted(p.name for p in (work / "received" / "get").iterdir())
    moved = sorted(p.name for p in (work / "received" / "move").iterdir())
    assert got == ["CT.1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"]
    assert moved == ["CT.1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322",
                     "MR.1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457"]
    for name in got + moved:
        assert name in result.stdout  # the listing shows them
    # movescu's settings from examples/dcmretrieve.ini, with their sources
    assert 'aetitle             = "MOVESCU"  (config ' in result.stdout
    assert 'output_directory    = "received/move"  (config ' in result.stdout
    sys.path.insert(0, str(DEMO.parent))
    try:
        import demo
    finally:
        sys.path.remove(str(DEMO.parent))
    if demo.SUMMARY_ARGS:  # once the demo passes --summary-json, it shows both summaries
        assert result.stdout.count("JSON summary (") == 2
    programs = assert_no_dcmtk(trap_log, exec_log)
    ours = {Path(program).name for event, program in programs if event == "subprocess.Popen"}
    # the archive (python examples/qrscp.py) and our two tools, all from this venv
    assert {"getscu", "movescu"} <= ours
    bindir = Path(sys.executable).parent
    assert (bindir / "getscu").as_posix() in {p for _, p in programs}
    assert any("qrscp.py" in line for line in exec_log.read_text().splitlines())
    # the archive was stopped by its PID
    pid = int((work / "qrscp.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _fresh_copy(target: Path) -> None:
    """The tracked files of the repository (what a fresh clone has)."""
    if shutil.which("git") and (ROOT / ".git").exists():
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True, timeout=60).stdout.decode().split("\0")
        for name in filter(None, names):
            source = ROOT / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    else:
        shutil.copytree(ROOT, target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.egg-info", ".git"))


@pytest.mark.network
@pytest.mark.slow
def test_demo_on_a_fresh_clone_creates_the_venv(tmp_path: Path) -> None:
    """``python3 examples/demo.py`` with the base interpreter (no project
    installed) on a copy without .venv: it creates .venv, installs the
    project into it, re-runs itself there and retrieves."""
    clone = tmp_path / "clone"
    clone.mkdir()
    _fresh_copy(clone)
    assert not (clone / ".venv").exists()
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    env, trap_log, exec_log = guarded_env(tmp_path)
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE",
                 "PIP_NO_INDEX", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy"):
        if name in os.environ:  # reach the same package index as this machine
            env[name] = os.environ[name]
    result = subprocess.run([str(base_python), "examples/demo.py", "--workdir", str(tmp_path / "work")],
                            env=env, capture_output=True, text=True, timeout=900, cwd=clone)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "creating .venv" in result.stdout
    assert result.stdout.rstrip().endswith("demo: OK")
    assert (clone / ".venv" / "bin" / "getscu").exists()
    assert len(list((tmp_path / "work" / "received" / "move").iterdir())) == 2
    assert_no_dcmtk(trap_log, exec_log)
