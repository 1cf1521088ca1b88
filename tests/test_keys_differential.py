"""Differential check: movescu ``-k`` start-up errors and DCMDICTPATH
messages of our ``python -m dcmretrieve.movescu`` against /usr/bin/movescu.

These fail before any association is attempted, so no server is needed.
The identification line of the error block (``$dcmtk: movescu v3.6.7 … $``)
is the CLI's business and is compared only for presence.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DCMTK_MOVESCU = "/usr/bin/movescu"
DATA = Path(__file__).parent / "data" / "keys"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(DCMTK_MOVESCU), reason="DCMTK's movescu is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("dcmretrieve.movescu") is None,
                       reason="the movescu entry point (dcmretrieve.movescu) does not exist yet"),
]

#: address of a port nobody listens on is irrelevant: the key errors come first
ARGS = ["-aec", "COMMON", "-aem", "NOSUCHAE", "127.0.0.1", "11399"]


def run(command: list[str], cwd: Path, dictpath: str | None) -> tuple[int, list[str]]:
    env = dict(os.environ)
    env.pop("DCMDICTPATH", None)
    if dictpath is not None:
        env["DCMDICTPATH"] = dictpath
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
    lines = (proc.stdout + proc.stderr).splitlines()
    # the identification line is checked for presence only (see module docstring)
    lines = ["<HDR>" if line.startswith("$") and line.endswith("$") else line for line in lines]
    return proc.returncode, lines


CASES = [
    (None, ["-k", "(0010,0020)=X"]),
    (None, ["-k", "0009,1010=X"]),
    (None, ["-k", "Rows=abc", "-k", "NoSuch=1"]),
    (None, ["-k", "ReferencedStudySequence=X"]),
    ("/nonexistent", ["-k", "0010,0020=x"]),
    ("bad.dic", ["-k", "PatientID=1"]),
    ("custom.dic", ["-k", "PatientID=1"]),
]


@pytest.mark.parametrize(("dictpath", "keys"), CASES, ids=[f"{d}:{' '.join(k)}" for d, k in CASES])
def test_movescu_key_errors_match_dcmtk(tmp_path: Path, dictpath: str | None, keys: list[str]) -> None:
    for name in ("bad.dic", "custom.dic"):
        shutil.copy(DATA / name, tmp_path / name)
    expected = run([DCMTK_MOVESCU, *ARGS, *keys], tmp_path, dictpath)
    ours = run([sys.executable, "-m", "dcmretrieve.movescu", *ARGS, *keys], tmp_path, dictpath)
    assert expected[0] == 1
    assert ours == expected
