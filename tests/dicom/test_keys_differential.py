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
    (None, ["-k", "ReferencedSOPInstanceUID==ctimagestorage"]),
    (None, ["-k", "OtherPatientIDsSequence=-1", "-k", "SpecificCharacterSet=1", "-k", "SOPInstanceUID=="]),
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


# ---------------------------------------------------------------------------
# UID values with white space and "=Name" values on the wire (dcmqrscp)
#
# DcmUniqueIdentifier removes every white-space character of a UID value
# (with a warning) when the value is put (-k: movescu at start-up, getscu
# when the key is applied) or, for a value read from a query file, when it
# is first printed or written; "=Name" stands for the UID of that name.
# dcmqrscp matches on the corrected value, so a retrieved file proves what
# was sent.

DCMTK_GETSCU = "/usr/bin/getscu"

#: dcmdata-internal DEBUG lines only DCMTK prints (docs/deviations.md)
_DCMTK_ONLY = ("D: DcmDataset::", "D: DcmFileFormat::", "D: DcmItem::", "D: DcmMetaInfo::",
               "D: DcmDataDictionary:")


def _spaced_query_file(path: Path, implicit: bool) -> Path:
    """A STUDY-level query with white space inside the CT study's UID, in a
    sequence item, and padding the dump still counts."""
    import warnings

    from pydicom import config
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    from support import sampledata

    saved = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        with warnings.catch_warnings():  # pydicom warns about the invalid UIDs
            warnings.simplefilter("ignore")
            ds = Dataset()
            ds.QueryRetrieveLevel = "STUDY"
            ds.PatientID = "1CT1    "
            uid = sampledata.CT.study_instance_uid
            ds.StudyInstanceUID = uid[:10] + " " + uid[10:20] + "\t" + uid[20:]
            item = Dataset()
            item.ReferencedSOPInstanceUID = "1.2. 3\t4"
            ds.ReferencedSeriesSequence = Sequence([item])
            ds.save_as(path, implicit_vr=implicit, little_endian=True)
    finally:
        config.settings.writing_validation_mode = saved
    return path


def _run_net(tool: str, side: str, args: list[str], cwd: Path) -> tuple[int, str, str, list[str]]:
    """One side against a real server: exit status, stdout and stderr without
    the identification line and DCMTK's dcmdata-internal debug lines, and the
    names of the files received."""
    done = harness.Harness(tool, ours="module", timeout=60, errors="replace").run(side, args, cwd)

    def clean(text: str) -> str:
        return "\n".join(line for line in text.splitlines()
                         if not line.startswith(_DCMTK_ONLY) and "$dcmtk: " not in line
                         and "$dcmretrieve: " not in line)

    return done.rc, clean(done.stdout), clean(done.stderr), sorted(p.name for p in cwd.iterdir())


UID_NET_CASES = [
    ("getscu", ["-v"], True, []),
    ("getscu", ["-d"], False, []),
    ("getscu", [], False, []),
    ("getscu", ["-v"], False, ["-k", "StudyInstanceUID==CTImageStorage", "-k", "StudyInstanceUID==",
                               "-k", "ReferencedSeriesSequence[0].ReferencedSOPInstanceUID= 1.2 ",
                               "-k", "PatientID=1CT1   "]),
    ("movescu", ["-v"], True, []),
    ("movescu", ["-v", "--repeat", "2"], False, []),
    ("movescu", [], False, []),
    ("movescu", ["-v"], False, ["-k", "SOPInstanceUID==CTImageStorage", "-k", "SeriesInstanceUID=1.2 .3",
                                "-k", "PatientID=1CT1   "]),
]


@pytest.mark.network
@pytest.mark.parametrize(("tool", "opts", "implicit", "keys"), UID_NET_CASES,
                         ids=[f"{t}:{' '.join(o)}:{i}:{' '.join(k)}" for t, o, i, k in UID_NET_CASES])
def test_uid_white_space_on_the_wire(qrscp, tmp_path: Path, tool: str, opts: list[str],
                                     implicit: bool, keys: list[str]) -> None:
    query = _spaced_query_file(tmp_path / "q.dcm", implicit)
    args = [*opts, "-aec", "COMMON", "-S", qrscp.host, str(qrscp.port), str(query), *keys]
    expected = _run_net(tool, "dcmtk", args, tmp_path / "dcmtk")
    ours = _run_net(tool, "ours", args, tmp_path / "ours")
    assert ours == expected
    assert "contains one or more space characters, which were removed" in expected[2] + expected[1]
    if tool == "getscu" and not keys:
        assert any(name.startswith("CT.") for name in expected[3])  # matched on the corrected UID


KEYS_NET_CASES = [
    # an unknown Specific Character Set: the values are sent as typed, no Python warning
    ("movescu", ["-k", "QueryRetrieveLevel=PATIENT", "-k", "SpecificCharacterSet=1.2.3", "-k", "PatientName=x"]),
    ("getscu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "SpecificCharacterSet=1.2.3\\4.5.6",
                "-k", "PatientName=x"]),
    # non-ASCII bytes in DA/DT/TM/DS/IS values: sent as typed (pydicom's writers take no bytes)
    ("movescu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientBirthDate=\u00e4\u00f6\u00fc"]),
    ("getscu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientBirthDate=\u00e4",
                "-k", "PatientWeight=1\\\u00e4", "-k", "StudyTime=\u65e5", "-k", "PatientID=1CT1"]),
    # PN values as typed: empty trailing component groups are kept (pydicom's
    # PersonName dropped them), also under a Specific Character Set
    ("getscu", ["-d", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientName=a=", "-k", "OtherPatientNames=b=\\c==",
                "-k", "PatientID=1CT1"]),
    ("movescu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "SpecificCharacterSet=ISO_IR 100",
                 "-k", "PatientName=a^b==", "-k", "PatientID=1CT1"]),
    # a PixelData element made by a key without a value cannot be written:
    # DIMSE refuses to send (movescu aborts, exit 0; getscu exits 1)
    ("movescu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PixelData", "-k", "PatientID=1CT1"]),
    ("getscu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "ReferencedStudySequence[0].PixelData="]),
    ("getscu", ["-v", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PixelData=00ff", "-k", "PatientID=NONE"]),
]


@pytest.mark.network
@pytest.mark.parametrize(("tool", "args"), KEYS_NET_CASES, ids=[f"{t}:{' '.join(a)}" for t, a in KEYS_NET_CASES])
def test_keys_on_the_wire(qrscp, tmp_path: Path, tool: str, args: list[str]) -> None:
    argv = ["-aec", "COMMON", "-P", qrscp.host, str(qrscp.port), *args]
    expected = _run_net(tool, "dcmtk", argv, tmp_path / "dcmtk")
    ours = _run_net(tool, "ours", argv, tmp_path / "ours")
    assert ours == expected
