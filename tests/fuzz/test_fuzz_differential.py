"""Differential fuzzing against DCMTK 3.6.7 (tests/support/difffuzz.py).

``pytest -m fuzz`` selects these tests.  Environment:

* ``DCMRETRIEVE_FUZZ_COUNT``: vectors per tool (default 250: about a
  minute per tool on two cores);
* ``DCMRETRIEVE_FUZZ_SEED``: the seed (default ``difffuzz.DEFAULT_SEED``;
  ``random`` draws one and prints it);
* ``DCMRETRIEVE_FUZZ_MODE``: ``exec`` (default: a fresh interpreter per
  run) or ``fork`` (pre-imported fork server, for large counts);
* ``DCMRETRIEVE_FUZZ_JOBS``: parallel launchers (default: CPU count).

A difference is reported with its seed and index; replay it with
``python tests/support/difffuzz.py --tool T --seed S --index I``.
"""

from __future__ import annotations

import os
import random
import secrets
import shlex
from pathlib import Path

import pytest

from support import difffuzz

from dcmretrieve.cli import options

pytestmark = pytest.mark.fuzz

COUNT = int(os.environ.get("DCMRETRIEVE_FUZZ_COUNT", "250"))
MODE = os.environ.get("DCMRETRIEVE_FUZZ_MODE", "exec")
JOBS = int(os.environ.get("DCMRETRIEVE_FUZZ_JOBS", str(os.cpu_count() or 2)))
_SEED_TEXT = os.environ.get("DCMRETRIEVE_FUZZ_SEED", str(difffuzz.DEFAULT_SEED))
SEED = secrets.randbelow(10**9) if _SEED_TEXT == "random" else int(_SEED_TEXT)
MAX_REPORTS = 12


def _dcmtk_missing() -> str | None:
    for tool in difffuzz.TOOLS:
        if not os.access(difffuzz.DCMTK_BIN / tool, os.X_OK):
            return f"DCMTK's {difffuzz.DCMTK_BIN / tool} is not installed (apt-get install dcmtk)"
    return None


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory):
    reason = _dcmtk_missing()
    if reason:
        pytest.skip(reason)
    runner = difffuzz.Runner(tmp_path_factory.mktemp("fuzz"), jobs=JOBS, mode=MODE)
    yield runner
    runner.close()


# ---------------------------------------------------------------------------
# the generator covers what the issue asks for


def test_generation_is_replayable():
    for tool in difffuzz.TOOLS:
        for index in (0, 17, 999):
            first = difffuzz.generate(tool, 5, index)
            again = difffuzz.generate(tool, 5, index)
            assert (first.argv, first.files, first.env) == (again.argv, again.files, again.env)
    assert difffuzz.generate("getscu", 5, 1).argv != difffuzz.generate("getscu", 6, 1).argv


def test_generator_covers_tables_and_forms():
    """In 3,000 vectors per tool every option of both tables appears in its
    long and its short spelling, and every kind of input the issue lists."""
    for tool in difffuzz.TOOLS:
        other = "getscu" if tool == "movescu" else "movescu"
        seen_words: set[str] = set()
        file_kinds: set[str] = set()
        key_forms: set[str] = set()
        values: set[str] = set()
        for index in range(3000):
            vector = difffuzz.generate(tool, 1, index)
            words = list(vector.argv)
            for name, data in vector.files.items():
                if name.endswith(".dcm"):
                    if not data:
                        file_kinds.add("empty")
                    elif data[128:132] == b"DICM":
                        file_kinds.add("meta")
                    else:
                        file_kinds.add("other")
                else:
                    file_kinds.add("command file")
                    text = data.decode("utf-8", "surrogateescape")
                    file_kinds.update(q for q in ("'", '"') if q in text)
                    words += text.split()
            seen_words.update(words)
            for before, word in zip(words, words[1:]):
                if before in ("-k", "--key"):
                    key_forms.add("path" if "[" in word else "assign" if "=" in word else "bare")
                values.add(word)
        for option in difffuzz.dcmtk_options(tool) + difffuzz.dcmtk_options(other):
            assert option.long in seen_words, (tool, option.long)
            if option.short:
                assert option.short in seen_words, (tool, option.short)
        assert {"empty", "meta", "other", "command file", "'", '"'} <= file_kinds
        assert {"path", "assign", "bare"} <= key_forms
        for sample in ("0x10", "99999999999999999999", "-1", "", " 1", "\uff15", "010", "2147483648"):
            assert sample in values, sample


def test_normalisation_keeps_what_matters():
    dcmtk = "D: DcmDataDictionary: Loading file: /usr/share/libdcmtk17/dicom.dic\nD: $dcmtk: getscu v3.6.7 2022-04-22 $\nE: x\n"
    ours = "D: $dcmretrieve: getscu v0.1.0 (DCMTK 3.6.7 2022-04-22) $\nE: x\n"
    assert difffuzz.normalise("getscu", dcmtk, dcmtk=True) == difffuzz.normalise("getscu", ours, dcmtk=False)
    # the same line printed by ours is not dropped: it would be a difference
    assert "Loading file" in difffuzz.normalise("getscu", dcmtk, dcmtk=False)
    assert difffuzz.normalise("getscu", "E: a\n", dcmtk=True) != difffuzz.normalise("getscu", "E: b\n", dcmtk=False)
    # dcmdata-internal trace lines go, warnings of the same classes stay
    trace = 'T: DcmItem::insert() Element (0010,0020) VR="LO" inserted at beginning\n'
    warning = "W: DcmUniqueIdentifier: Element X contains one or more space characters, which were removed\n"
    assert difffuzz.normalise("movescu", trace + warning, dcmtk=True) == warning
    # a dictionary named by DCMDICTPATH is logged by both: compared
    vector = difffuzz.Vector("getscu", 0, 0, [], {}, {"DCMDICTPATH": "/usr/share/libdcmtk17/dicom.dic"})
    assert "Loading file" in difffuzz.normalise("getscu", dcmtk, dcmtk=True, vector=vector)


def test_namespace_hides_the_host(runner):
    """In a fresh namespace a port that listens on the host is closed."""
    if not runner.netns:
        pytest.skip("no network namespaces here (needs root): runs on the host's loopback")
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        vector = difffuzz.Vector("getscu", 0, 0, ["-k", "PatientID=1", "127.0.0.1", str(port)], {}, {})
        outcome = difffuzz.run_side(runner.launchers[0], vector, "dcmtk",
                                    runner.root / "netns-probe", {}, inproc=False)
        assert "Connection refused" in outcome.stderr, outcome.stderr


# ---------------------------------------------------------------------------
# the differential run


@pytest.mark.network
@pytest.mark.parametrize("tool", difffuzz.TOOLS)
def test_random_command_lines_agree_with_dcmtk(tool: str, runner):
    vectors = difffuzz.vectors(tool, SEED, COUNT)
    differences = runner.run_many(vectors)
    if differences:
        reports = [d.report() for d in differences[:MAX_REPORTS]]
        summary = "\n".join(f"  {d.vector.name}: {shlex.join(d.vector.argv)}" for d in differences)
        pytest.fail(
            f"{len(differences)} of {len(vectors)} {tool} vectors (seed {SEED}, mode {MODE}) differ from DCMTK:\n"
            + summary + "\n\n" + "\n\n".join(reports),
            pytrace=False,
        )
