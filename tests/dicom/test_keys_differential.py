"""Differential check: movescu ``-k`` start-up errors and DCMDICTPATH
messages of our ``python -m dcmretrieve.movescu`` against /usr/bin/movescu.

These fail before any association is attempted, so no server is needed.
The identification line of the error block (``$dcmtk: movescu v3.6.7 … $``)
is the CLI's business and is compared only for presence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import harness

DATA = Path(__file__).parents[1] / "data" / "keys"

pytestmark = pytest.mark.dcmtk("movescu")

#: ours through ``python -m``; DCMDICTPATH removed unless a case sets it
MOVE = harness.Harness("movescu", ours="module", timeout=30)

#: address of a port nobody listens on is irrelevant: the key errors come first
ARGS = ["-aec", "COMMON", "-aem", "NOSUCHAE", "127.0.0.1", "11399"]


def run(side: str, keys: list[str], cwd: Path, dictpath: str | None) -> tuple[int, list[str]]:
    done = MOVE.run(side, [*ARGS, *keys], cwd, env={"DCMDICTPATH": dictpath} if dictpath is not None else None)
    # the identification line is checked for presence only (see module docstring)
    lines = harness.normalise(done.stdout + done.stderr, banner="any").splitlines()
    return done.rc, lines


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
    expected = run("dcmtk", keys, tmp_path, dictpath)
    ours = run("ours", keys, tmp_path, dictpath)
    assert expected[0] == 1
    assert ours == expected
