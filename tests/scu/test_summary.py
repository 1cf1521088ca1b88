"""scu.summary without a network: status categories, the --strict-exit
decision table, the JSON document and its atomic writing.

Why units here: the network tests (test_strict_exit.py) reach the cases
real peers can produce; the decision table also has rows no peer of ours
provokes on demand (a Success final status with failed sub-operations, a
release failure after a clean retrieval, an object received outside a
request), and they must still hold.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydicom import Dataset

from dcmretrieve.dicom.ident import Identifier
from dcmretrieve.exitcodes import EndReason, ExitCode
from dcmretrieve.scu import summary
from dcmretrieve.scu.summary import Category, Outcome, Recorder
from dcmretrieve.settings import Settings
from dcmretrieve.store.pipeline import ObjectInfo, StoreOutcome, StoreResult
from support import summarycheck

CT = "1.2.840.10008.5.1.4.1.1.2"
ELE = "1.2.840.10008.1.2.1"


@pytest.mark.parametrize("status,category", [
    (0x0000, Category.SUCCESS),
    (0xB000, Category.WARNING),
    (0xB007, Category.WARNING),
    (0x0001, Category.WARNING),
    (0xFE00, Category.CANCEL),
    (0xA701, Category.REFUSED),
    (0xA702, Category.REFUSED),
    (0xA801, Category.REFUSED),
    (0x0122, Category.REFUSED),
    (0xA900, Category.FAILURE),
    (0xC000, Category.FAILURE),
    (0xCFFF, Category.FAILURE),
    (0x0110, Category.UNKNOWN),
    (0xD000, Category.UNKNOWN),
])
def test_categorize(status: int, category: Category) -> None:
    assert summary.categorize(status) is category


def settings(tool: str = "getscu", **changes: object) -> Settings:
    s = Settings(tool=tool, aetitle=tool.upper(), peer="127.0.0.1", port=104, strict_exit=True)
    for name, value in changes.items():
        setattr(s, name, value)
    return s


def counter(**values: int):  # type: ignore[no-untyped-def]
    return lambda name: values.get(name)


def stored(directory: Path, name: str, size: int = 10, kind: StoreOutcome = StoreOutcome.STORED) -> StoreResult:
    info = ObjectInfo(1, ELE, CT, name)
    path = None
    if kind is StoreOutcome.STORED:
        (directory / name).write_bytes(b"x" * size)
        path = str(directory / name)
    return StoreResult(kind, info, path=path)


def recorder(tmp_path: Path, status: int | None = 0x0000, objects: int = 1, answered: int = 0x0000,
             counts: dict[str, int] | None = None, **changes: object) -> Recorder:
    rec = Recorder(settings(output_directory=str(tmp_path), **changes))
    rec.association_accepted()
    rec.begin_request(None, 1)
    for i in range(objects):
        rec.object(stored(tmp_path, f"CT.1.2.{i}"), answered, str(tmp_path))
    if status is None:
        rec.request_error("0006:0317 Peer aborted Association (or never connected)")
    else:
        rec.final_response(status, counter(**(counts or {"completed": objects, "failed": 0, "warning": 0})))
    return rec


def strict(rec: Recorder, dcmtk: int = 0, end: EndReason = EndReason.COMPLETED) -> int:
    return rec.strict_exit_code(dcmtk, end)


def test_clean_retrieve_is_0(tmp_path: Path) -> None:
    assert strict(recorder(tmp_path)) == 0


@pytest.mark.parametrize("status,expected", [(0xB000, 68), (0xA702, 69), (0xC000, 69), (0xFE00, 69),
                                             (0x0110, 69), (None, 69)])
def test_final_status(tmp_path: Path, status: int | None, expected: int) -> None:
    assert strict(recorder(tmp_path, status)) == expected


@pytest.mark.parametrize("counts", [{"completed": 1, "failed": 1}, {"completed": 1, "warning": 2}])
def test_success_with_failed_or_warned_sub_operations_is_68(tmp_path: Path, counts: dict[str, int]) -> None:
    assert strict(recorder(tmp_path, counts=counts)) == 68


def test_object_not_stored_is_69(tmp_path: Path) -> None:
    assert strict(recorder(tmp_path, answered=0xA700)) == 69
    rec = recorder(tmp_path, objects=0)
    rec.requests[0].objects.append(summary.ObjectRecord(CT, "1.2", ELE, StoreOutcome.WRITE_ERROR, None, None, 0xC000))
    assert strict(rec) == 69


def test_nothing_retrieved(tmp_path: Path) -> None:
    assert strict(recorder(tmp_path, objects=0)) == 69
    assert strict(recorder(tmp_path, objects=0, allow_empty=True)) == 0
    # a warning stays a warning with --allow-empty
    assert strict(recorder(tmp_path, 0xB000, objects=0, allow_empty=True)) == 68


def test_ignored_objects_are_retrieved(tmp_path: Path) -> None:
    rec = recorder(tmp_path, objects=0)
    rec.requests[0].objects.append(summary.ObjectRecord(CT, "1.2", ELE, StoreOutcome.IGNORED, None, None, 0))
    assert strict(rec) == 0 and rec.retrieved() == 1


def test_movescu_basis(tmp_path: Path) -> None:
    """Not the destination (no --port, or -aem another AE): completed
    sub-operations count; else the objects we received."""
    third = recorder(tmp_path, objects=0, tool="movescu", counts={"completed": 2})
    assert third.basis is summary.Basis.COMPLETED_SUB_OPERATIONS and strict(third) == 0
    other = recorder(tmp_path, objects=0, tool="movescu", listen_port=11112, move="OTHER",
                     counts={"completed": 0})
    assert other.basis is summary.Basis.COMPLETED_SUB_OPERATIONS and strict(other) == 69
    own = recorder(tmp_path, objects=0, tool="movescu", listen_port=11112, counts={"completed": 2})
    assert own.basis is summary.Basis.OBJECTS_RECEIVED and strict(own) == 69


def test_setup_and_association_failures_keep_their_codes(tmp_path: Path) -> None:
    rec = Recorder(settings())
    assert rec.strict_exit_code(1, EndReason.FATAL, ExitCode.CANNOT_NEGOTIATE_ASSOCIATION) == 61
    rec.association_failed()
    assert rec.strict_exit_code(61, EndReason.FATAL) == 61  # movescu raised it itself
    assert Recorder(settings()).strict_exit_code(45, EndReason.FATAL) == 45


def test_release_failure(tmp_path: Path) -> None:
    rec = recorder(tmp_path)
    rec.release_failed = True
    assert strict(rec) == 67
    warned = recorder(tmp_path, 0xB000)
    warned.release_failed = True
    assert strict(warned) == 68  # the data's outcome first


def test_interrupt_and_internal_error_keep_dcmtk_status(tmp_path: Path) -> None:
    rec = recorder(tmp_path)
    assert strict(rec, 1, EndReason.INTERRUPTED) == 1
    assert strict(rec, 1, EndReason.INTERNAL_ERROR) == 1
    assert strict(rec, 141, EndReason.BROKEN_PIPE) == 141


def test_getscu_session_failure_is_a_request_failure(tmp_path: Path) -> None:
    """getscu exits 1 on a DIMSE failure mid-session; --strict-exit: 69."""
    assert strict(recorder(tmp_path, None), 1, EndReason.FATAL) == 69


def test_outcome_enum_maps_to_movescu_codes() -> None:
    assert [o.exit_code for o in Outcome] == [ExitCode.NO_ERROR, ExitCode.CMOVE_WARNING, ExitCode.CMOVE_ERROR]


def test_document_validates_and_lists_files(tmp_path: Path) -> None:
    rec = recorder(tmp_path, 0xB000, objects=2, counts={"completed": 2, "failed": 1, "warning": 0, "remaining": 0})
    rec.args = ["-k", "PatientID=X"]
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "PATIENT"
    identifier.PatientID = "X"
    rec.begin_request("q.dcm", 1)
    rec.identifier(Identifier(lambda: identifier), 3)
    rec.final_response(0xA702, counter(), ["1.2.3", "1.2.4"])
    rec.object(stored(tmp_path, "late"), 0, str(tmp_path))  # after the last request: the last one's
    doc = rec.document(68, 0, EndReason.COMPLETED)
    summarycheck.check(doc, Path("/"), exhaustive=False)
    assert doc["argv"] == ["", "-k", "PatientID=X"]
    first, second = doc["requests"]
    assert [o["path"] for o in first["objects"]] == ["CT.1.2.0", "CT.1.2.1"]
    assert first["status"]["text"] == "Warning: SubOperationsCompleteOneOrMoreFailures"
    assert second["identifier"] is None  # identifiers only for --summary-json
    assert second["failed_sop_instance_uids"] == ["1.2.3", "1.2.4"]
    assert second["status"]["category"] == "refused" and second["message_id"] == 3
    assert [o["path"] for o in second["objects"]] == ["late"]
    assert doc["totals"]["bytes"] == 30 and doc["outcome"] == "failure"


def test_identifier_json_model() -> None:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = ["1.2.3", "1.2.4"]
    ds.PatientName = "Doe^John"
    assert summary.identifier_json(ds) == {
        "00080052": {"vr": "CS", "Value": ["STUDY"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^John"}]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3", "1.2.4"]},
    }


def test_write_is_atomic_and_keeps_umask(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    target.write_text("old")
    old_umask = os.umask(0o027)
    try:
        summary.write({"a": 1}, str(target))
    finally:
        os.umask(old_umask)
    assert json.loads(target.read_text()) == {"a": 1}
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
    with pytest.raises(OSError):
        summary.write({"a": 1}, str(tmp_path / "missing" / "s.json"))
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_write_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    summary.write({"schema": summary.SCHEMA}, "-")
    assert json.loads(capsys.readouterr().out) == {"schema": "dcmretrieve-summary/2"}


def test_schema_is_a_valid_schema() -> None:
    summarycheck.validator()  # check_schema raises on an invalid one


def test_without_the_options_nothing_is_recorded(tmp_path: Path) -> None:
    rec = Recorder(settings(strict_exit=False))
    rec.begin_request(None, 1)
    rec.object(stored(tmp_path, "CT.1"), 0, str(tmp_path))
    rec.final_response(0, counter(completed=1))
    assert not rec.active and rec.requests == [] and rec.unattributed == []


def test_object_outside_any_request_is_unattributed(tmp_path: Path) -> None:
    rec = Recorder(settings(output_directory=str(tmp_path)))
    rec.object(stored(tmp_path, "CT.1"), 0, str(tmp_path))
    doc = rec.document(69, 0, EndReason.COMPLETED)
    summarycheck.check(doc, Path("/"))
    assert [o["path"] for o in doc["unattributed_objects"]] == ["CT.1"] and doc["outcome"] == "failure"


def test_undecodable_argument_keeps_the_file_valid_utf8(tmp_path: Path) -> None:
    """An argument that was not valid in the locale (a lone surrogate in
    Python) is escaped, not written as a stray byte."""
    target = tmp_path / "s.json"
    summary.write({"argv": ["getscu", "-aet", "caf\udce9", "Müller"]}, str(target))
    raw = target.read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    assert json.loads(raw)["argv"][2:] == ["caf\udce9", "Müller"]
