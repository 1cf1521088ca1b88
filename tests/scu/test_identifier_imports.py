"""A retrieval with plain ``-k`` keys imports neither pydicom nor pynetdicom
(issue 8: pydicom's import alone is ~100 ms CPU, DCMTK's getscu needs ~20 ms
for an empty retrieval), and still behaves exactly as DCMTK 3.6.7's.

How: our tool runs under ``python -X importtime``, which prints one line per
module imported; the run must name no ``pydicom``/``pynetdicom`` module.
Those lines are taken out of stderr and the rest is compared with DCMTK's run
of the same argv against the same dcmqrscp (exit status, stderr, stdout,
files).  With ``-d`` (getscu) or ``-v``/``-d`` (movescu) the identifier dump
of plain keys is made from the plain elements too (``dump.dump_plain``), and
must still be DCMTK's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import harness, sampledata

pytestmark = [pytest.mark.network, pytest.mark.dcmtk("getscu", "movescu")]

HEAVY = ("pydicom", "pynetdicom")


def run_ours(tool: str, args: list[str], cwd: Path) -> tuple[harness.Result, list[str]]:
    """Our tool under ``-X importtime``: its result (import lines removed
    from stderr) and the names of the modules it imported."""
    result = harness.run([sys.executable, "-X", "importtime", "-m", f"dcmretrieve.{tool}", *args], cwd,
                         env=harness.environment(scrub=("DCMDICTPATH",)), timeout=120)
    lines = result.stderr.splitlines(keepends=True)
    imported = [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")]
    result.stderr = "".join(line for line in lines if not line.startswith("import time:"))
    assert "dcmretrieve.dicom.keys" in imported  # the report works
    return result, imported


def run_dcmtk(tool: str, args: list[str], cwd: Path) -> harness.Result:
    return harness.Harness(tool, timeout=120).run("dcmtk", args, cwd)


def heavy(imported: list[str]) -> list[str]:
    return [name for name in imported if name.split(".")[0] in HEAVY]


def comparable(text: str) -> str:
    return harness.normalise(text, drop_prefixes=harness.DCMDATA_DEBUG_PREFIXES)


STUDY = ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={sampledata.CT.study_instance_uid}"]
PATIENT = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "0010,0020=1CT1", "-k", "PatientName"]
NOTHING = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3.4.5.6.7"]


@pytest.mark.parametrize(("tool", "opts", "keys"), [
    ("getscu", ["-S"], STUDY),
    ("getscu", ["-P"], PATIENT),
    ("getscu", ["-S"], NOTHING),
    ("getscu", ["-v", "-S"], STUDY),  # -v logs no identifier
    ("getscu", ["-d", "-S"], STUDY),  # the identifier in the C-GET-RQ dump
    ("getscu", ["-d", "-P"], PATIENT),
    ("movescu", ["-S"], STUDY),
    ("movescu", ["-P"], PATIENT),
    ("movescu", ["-v", "-S"], STUDY),  # "Request Identifiers:" dump
    ("movescu", ["-v", "-P"], PATIENT),
    ("movescu", ["-d", "-S"], STUDY),
], ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_plain_keys_retrieval(qrscp, tmp_path: Path, tool: str, opts: list[str], keys: list[str]) -> None:
    args = [*opts, "-aec", "COMMON", qrscp.host, str(qrscp.port), *keys]
    if tool == "movescu":
        args = ["-aet", "MOVESCU", "--port", str(qrscp.host_table["MOVESCU"]), *args]
    dcmtk = run_dcmtk(tool, args, tmp_path / "dcmtk")
    ours, imported = run_ours(tool, args, tmp_path / "ours")
    harness.assert_same(dcmtk, ours, files=".", normalise_stderr=comparable, normalise_stdout=comparable)
    assert heavy(imported) == []
    if keys is not NOTHING:
        assert len(ours.files()) == 1


def test_query_file_still_uses_pydicom(qrscp, query_files, tmp_path: Path) -> None:
    """A query file is read with pydicom (the fall-back path), same result."""
    args = ["-aec", "COMMON", qrscp.host, str(qrscp.port), str(query_files["pat_ct"])]
    dcmtk = run_dcmtk("getscu", args, tmp_path / "dcmtk")
    ours, imported = run_ours("getscu", args, tmp_path / "ours")
    harness.assert_same(dcmtk, ours, files=".")
    assert "pydicom" in imported
