"""--output-layout: templates, attribute reading in every mode, placement.

Why these tests: the layout decides where files land from values a peer
sends, so (1) the template is checked at start-up, (2) the +B head reader
(bytes read back from the temporary file, never walked) must find exactly
what the normal-mode walk finds, in every transfer syntax and past
undefined-length sequences, (3) nothing may land outside -od, and (4) end
to end the file *content* must stay DCMTK's: the differential tests run
DCMTK 3.6.7 without a layout and ours with one and compare the bytes of
each file found under its layout path.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.sequence import Sequence

from support import harness
from support import sampledata
from dcmretrieve.dicom import walker
from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from dcmretrieve.store import layout as L
from dcmretrieve.store import pipeline as P

PATIENT_ID, STUDY_UID, SERIES_UID, SERIES_NUMBER, ROWS, NAME = (
    0x00100020, 0x0020000D, 0x0020000E, 0x00200011, 0x00280010, 0x00100010)


# ---------------------------------------------------------------------------
# templates


@pytest.mark.parametrize("template, reason", [
    ("", "empty template"),
    ("/abs/{name}", "not a relative path"),
    ("{PatientID}//{name}", "empty path component"),
    ("{PatientID}/", "empty path component"),
    ("{PatientID/{name}", "unbalanced braces"),
    ("PatientID}/{name}", "unbalanced braces"),
    ("{}/{name}", "empty field {}"),
    ("{NoSuchKeyword}/{name}", "unknown keyword: NoSuchKeyword"),
    ("{patientid}/{name}", "unknown keyword: patientid"),
    ("{ReferencedSeriesSequence}/{name}", "not a text or number attribute: ReferencedSeriesSequence"),
    ("{PixelData}/{name}", "not a text or number attribute: PixelData"),
])
def test_bad_templates_are_refused(template: str, reason: str) -> None:
    with pytest.raises(L.LayoutError) as info:
        L.Layout.parse(template)
    assert info.value.reason == reason


def test_template_fields_and_literals() -> None:
    layout = L.Layout.parse("p-{PatientID}/{{x}}_{SeriesNumber}/{name}.dcm")
    assert layout.tags == {PATIENT_ID, SERIES_NUMBER, L.SPECIFIC_CHARACTER_SET}
    values = {PATIENT_ID: "P1", SERIES_NUMBER: "7"}
    assert layout.render(values, "CT.1.2") == ["p-P1", "{x}_7", "CT.1.2.dcm"]
    # a missing value is UNKNOWN; {name} alone needs no attribute
    assert layout.render({}, "CT.1.2") == ["p-UNKNOWN", "{x}_UNKNOWN", "CT.1.2.dcm"]
    assert L.Layout.parse("{name}").tags == frozenset()


@pytest.mark.parametrize("value, component", [
    ("..", "_.."),
    ("../../etc", "_.._.._etc"),
    (".hidden", "_.hidden"),
    ("a/b\\c", "a_b_c"),
    ("tab\there\x7f", "tab_here_"),
    ("é" * 200, "é" * 127),  # 255 bytes at most, whole characters
])
def test_components_are_sanitised(value: str, component: str) -> None:
    layout = L.Layout.parse("{PatientID}/{name}")
    parts = layout.render({PATIENT_ID: value}, "../name")
    assert parts == [component, "_.._name"]
    assert len(parts[0].encode()) <= 255


def test_value_text_numbers_and_padding() -> None:
    assert L.value_text("US", b"\x00\x02", False) == "512"
    assert L.value_text("US", b"\x02\x00", True) == "512"
    assert L.value_text("FD", b"\x00\x00\x00\x00\x00\x00\xf8\x3f", False) == "1.5"
    assert L.value_text("UI", b"1.2.3\0", False) == "1.2.3"
    assert L.value_text("LO", b"  ", False) is None
    assert L.value_text("PN", "Müller^Hans ".encode("utf-8"), False, "UTF8") == "Müller^Hans"


# ---------------------------------------------------------------------------
# reading the values: the walk (normal mode) and the head reader (+B) agree


def _dataset() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4.5"
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.3"
    ref.ReferencedSOPInstanceUID = "1.2.3.4"
    inner = Dataset()
    inner.CodeValue = "X"
    ref.ConceptNameCodeSequence = Sequence([inner])
    ds.ReferencedImageSequence = Sequence([ref, Dataset()])  # (0008,1140): before the needed tags
    ds.add_new(0x00091010, "LO", "PRIVATE")
    ds.add_new(0x00091011, "OB", b"\x01" * 70000)  # a big value to skip
    ds.PatientName = "Müller^Hans"
    ds.PatientID = "PAT-1"
    ds.StudyInstanceUID = "1.2.3.100"
    ds.SeriesInstanceUID = "1.2.3.200"
    ds.SeriesNumber = 7
    ds.Rows = 512
    ds.add_new(0x7FE00010, "OB", b"\0" * 1024)
    return ds


def _encode(ds: Dataset, ts: str, undefined: bool) -> bytes:
    if undefined:
        for elem in ds.iterall():
            if elem.VR == "SQ":
                elem.is_undefined_length = True
                for item in elem.value:
                    item.is_undefined_length_sequence_item = True
    data = sampledata.encode_dataset(ds, ts)
    if ts == DEFLATED_LE:
        data += b"\0" * (len(data) & 1)
    return data


@pytest.mark.parametrize("undefined", [False, True], ids=["defined", "undefined-length"])
@pytest.mark.parametrize("ts", [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED_LE])
def test_head_reader_agrees_with_the_walk(tmp_path: Path, ts: str, undefined: bool) -> None:
    layout = L.Layout.parse("{PatientName}/{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}_{SeriesNumber}"
                            "_{Rows}/{name}")
    data = _encode(_dataset(), ts, undefined)
    header = b"HEADER" * 11
    path = tmp_path / "object"
    path.write_bytes(header + data)
    walked = L.values_from_elements(walker.parse(data, ts), layout.tags)
    read = L.read_head(str(path), len(header), ts, layout.tags)
    assert layout.values(read) == layout.values(walked)
    assert layout.render(layout.values(read), "N") == ["Müller^Hans", "PAT-1", "1.2.3.100", "1.2.3.200_7_512", "N"]


def test_head_reader_stops_after_the_highest_needed_tag(tmp_path: Path) -> None:
    """Nothing after the last needed tag is read: a data set cut right after
    it (as a half-received file would be) still gives every value."""
    data = _encode(_dataset(), EXPLICIT_LE, True)
    end = data.index(b"1.2.3.200\0") + 10  # the end of (0020,000E)'s padded value
    (tmp_path / "cut").write_bytes(data[:end])
    layout = L.Layout.parse("{PatientID}/{SeriesInstanceUID}/{name}")
    assert layout.values(L.read_head(str(tmp_path / "cut"), 0, EXPLICIT_LE, layout.tags)) == {
        PATIENT_ID: "PAT-1", SERIES_UID: "1.2.3.200"}


def test_head_reader_tolerates_garbage(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x08\x00\x05\x00XX\xff\xff" + os.urandom(64))
    layout = L.Layout.parse("{PatientID}/{name}")
    assert layout.render(layout.values(L.read_head(str(tmp_path / "bad"), 0, EXPLICIT_LE, layout.tags)),
                         "n") == ["UNKNOWN", "n"]


# ---------------------------------------------------------------------------
# the pipeline


class _Source:
    calling_ae = "GETSCU"
    called_ae = "PEER"
    chatter = None

    def __init__(self, data: bytes) -> None:
        self.data = data

    def receive_dataset(self, pc_id: int, sink, timeout="dimse") -> int:  # type: ignore[no-untyped-def]
        for start in range(0, len(self.data), 16000):
            if sink is not None:
                sink(memoryview(self.data[start:start + 16000]))
        return len(self.data)


def _pipeline(od: Path, mode: P.StoreMode, template: str, **kw) -> P.StorePipeline:  # type: ignore[no-untyped-def]
    rule = P.bit_preserving_name if mode is P.StoreMode.BIT_PRESERVING else P.getscu_name
    return P.StorePipeline(str(od), mode, logging.getLogger("test.layout"), rule,
                           layout=L.Layout.parse(template), **kw)


@pytest.mark.parametrize("spool", [P.SPOOL_THRESHOLD, 0], ids=["memory", "spooled"])
@pytest.mark.parametrize("mode", [P.StoreMode.NORMAL, P.StoreMode.BIT_PRESERVING])
def test_pipeline_places_files_and_leaves_no_temporary(tmp_path: Path, mode: P.StoreMode, spool: int) -> None:
    data = _encode(_dataset(), EXPLICIT_LE, True)
    pipe = _pipeline(tmp_path, mode, "{PatientID}/{StudyInstanceUID}/{name}", spool_threshold=spool)
    result = pipe.receive(_Source(data), 1, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5", EXPLICIT_LE)
    assert result.kind is P.StoreOutcome.STORED
    name = "SC.1.2.3.4.5" if mode is P.StoreMode.NORMAL else "1.2.3.4.5"
    assert result.path == f"{tmp_path}/PAT-1/1.2.3.100/{name}"
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"PAT-1/1.2.3.100/{name}"]
    assert dcmread(tmp_path / "PAT-1" / "1.2.3.100" / name).PatientID == "PAT-1"


@pytest.mark.parametrize("mode", [P.StoreMode.NORMAL, P.StoreMode.BIT_PRESERVING])
def test_symbolic_link_out_of_od_is_refused(tmp_path: Path, mode: P.StoreMode) -> None:
    od, outside = tmp_path / "od", tmp_path / "outside"
    od.mkdir()
    outside.mkdir()
    (od / "PAT-1").symlink_to(outside)
    pipe = _pipeline(od, mode, "{PatientID}/{name}")
    result = pipe.receive(_Source(_encode(_dataset(), EXPLICIT_LE, False)), 1, "1.2.840.10008.5.1.4.1.1.7",
                          "1.2.3.4.5", EXPLICIT_LE)
    assert result.kind is P.StoreOutcome.WRITE_ERROR
    assert list(outside.iterdir()) == []
    assert [p.name for p in od.iterdir()] == ["PAT-1"]  # no temporary file left


def test_overwrite_warning_names_the_layout_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _encode(_dataset(), EXPLICIT_LE, False)
    pipe = _pipeline(tmp_path, P.StoreMode.NORMAL, "{PatientID}/{name}")
    for _ in range(2):
        pipe.receive(_Source(data), 1, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5", EXPLICIT_LE)
    assert [r.getMessage() for r in caplog.records] == [
        f"DICOM file already exists, overwriting: {tmp_path}/PAT-1/SC.1.2.3.4.5"]


# ---------------------------------------------------------------------------
# command line


GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="script", timeout=120.0, scrub=())


@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_unknown_keyword_is_a_command_line_error(tmp_path: Path, tool: str) -> None:
    h = GET if tool == "getscu" else MOVE
    result = h.run("ours", ["--output-layout", "{Nope}/{name}", "-k", "PatientID=1", "127.0.0.1", "1"], tmp_path)
    assert result.rc == 1
    assert result.stderr.endswith(
        "error: Invalid value for option --output-layout (unknown keyword: Nope: {Nope}/{name})\n")
    assert result.stderr.startswith(f"$dcmretrieve: {tool} ")


# ---------------------------------------------------------------------------
# end to end: DCMTK's file content under the layout's path


LAYOUT = "{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{name}"


def _expected_paths(dcmtk_files: dict[str, bytes], od: str) -> dict[str, bytes]:
    """Where each of DCMTK's files must be under LAYOUT (values read back from it)."""
    out = {}
    for name, content in dcmtk_files.items():
        ds = dcmread(DicomBytesIO(content), force=True)
        parts = [L.safe_name(str(getattr(ds, kw, "") or L.UNKNOWN)) for kw in
                 ("PatientID", "StudyInstanceUID", "SeriesInstanceUID")]
        out["/".join([*parts, Path(name).name])] = content
    return out



@pytest.mark.network
@pytest.mark.parametrize("extra", [[], ["+B"]], ids=["normal", "bit-preserving"])
def test_getscu_layout_against_dcmqrscp(tmp_path: Path, qrscp, extra: list[str]) -> None:  # type: ignore[no-untyped-def]
    args = [*extra, "-aec", "COMMON", qrscp.host, str(qrscp.port), "-k", "QueryRetrieveLevel=PATIENT",
            "-k", "PatientID=", "-od", "od"]
    (tmp_path / "dcmtk" / "od").mkdir(parents=True)
    (tmp_path / "ours" / "od").mkdir(parents=True)
    dcmtk = GET.run("dcmtk", args, tmp_path / "dcmtk")
    ours = GET.run("ours", [*args, "--output-layout", LAYOUT, "--summary-json", "../summary.json"],
                   tmp_path / "ours")
    assert (ours.rc, ours.stderr, ours.stdout) == (dcmtk.rc, dcmtk.stderr, dcmtk.stdout)
    expected = _expected_paths(dcmtk.files("od"), "od")
    assert len(expected) == 3
    assert ours.files("od") == expected
    # --summary-json names each file by its layout path (relative to -od)
    summary = json.loads((tmp_path / "summary.json").read_text())
    paths = [o["path"] for r in summary["requests"] for o in r["objects"]]
    assert sorted(paths) == sorted(expected)


@pytest.mark.network
@pytest.mark.parametrize("extra", [[], ["+B"], ["+B", "-F"]], ids=["normal", "bit-preserving", "dataset"])
def test_movescu_layout_against_dcmqrscp(tmp_path: Path, qrscp, query_files, extra: list[str]) -> None:  # type: ignore[no-untyped-def]
    args = [*extra, "-aec", "COMMON", "--port", str(qrscp.host_table["MOVESCU"]), qrscp.host, str(qrscp.port),
            str(query_files["pat_all"]), "-od", "od"]
    (tmp_path / "dcmtk" / "od").mkdir(parents=True)
    (tmp_path / "ours" / "od").mkdir(parents=True)
    dcmtk = MOVE.run("dcmtk", args, tmp_path / "dcmtk")
    ours = MOVE.run("ours", [*args, "--output-layout", LAYOUT], tmp_path / "ours")
    assert (ours.rc, ours.stderr, ours.stdout) == (dcmtk.rc, dcmtk.stderr, dcmtk.stdout)
    # DCMTK's movescu +B writes into the current directory (deviation #3)
    expected = _expected_paths(dcmtk.files("." if "+B" in extra else "od", recursive=False), "od")
    assert len(expected) == 3
    assert ours.files("od") == expected


@pytest.mark.network
def test_getscu_layout_against_orthanc(tmp_path: Path, make_orthanc) -> None:  # type: ignore[no-untyped-def]
    server = make_orthanc()
    args = ["-aec", server.aetitle, server.host, str(server.port), "-k", "QueryRetrieveLevel=PATIENT",
            "-k", "PatientID=4MR1", "-od", "od"]
    for side in ("dcmtk", "ours", "ours+B"):
        (tmp_path / side / "od").mkdir(parents=True)
    dcmtk = GET.run("dcmtk", args, tmp_path / "dcmtk")
    ours = GET.run("ours", [*args, "--output-layout", LAYOUT], tmp_path / "ours")
    bp = GET.run("ours", ["+B", *args, "--output-layout", LAYOUT], tmp_path / "ours+B")
    assert (ours.rc, ours.stderr) == (bp.rc, bp.stderr) == (dcmtk.rc, dcmtk.stderr)
    expected = _expected_paths(dcmtk.files("od"), "od")
    assert len(expected) == 1
    assert ours.files("od") == expected
    # +B keeps the received bytes (named after the request's UID): same directory
    assert [str(Path(p).parent) for p in bp.files("od")] == [str(Path(p).parent) for p in expected]


@pytest.mark.network
def test_movescu_layout_against_orthanc(tmp_path: Path, make_orthanc) -> None:  # type: ignore[no-untyped-def]
    from support.ports import free_port

    port = free_port()
    server = make_orthanc(modalities={"movescu": ["MOVESCU", "127.0.0.1", port]})
    args = ["-aec", server.aetitle, "--port", str(port), server.host, str(server.port),
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1", "-od", "od"]
    for side in ("dcmtk", "ours"):
        (tmp_path / side / "od").mkdir(parents=True)
    dcmtk = MOVE.run("dcmtk", args, tmp_path / "dcmtk")
    ours = MOVE.run("ours", [*args, "--output-layout", LAYOUT], tmp_path / "ours")
    assert (ours.rc, ours.stderr, ours.stdout) == (dcmtk.rc, dcmtk.stderr, dcmtk.stdout)
    expected = _expected_paths(dcmtk.files("od"), "od")
    assert len(expected) == 1
    assert ours.files("od") == expected


@pytest.mark.network
def test_big_object_bit_preserving_layout_memory_flat(make_fakeqr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """+B with a layout: the values are read back from the temporary file's
    head, so a 200 MB object still keeps memory flat, and lands placed."""
    from scu.test_big_objects import run_measured

    server = make_fakeqr(big_size=200 * 1000 * 1000)
    work = tmp_path / "run"
    (work / "od").mkdir(parents=True)
    rc, err, rss_kib = run_measured(
        [*GET.argv("ours"), "+B", "-od", "od", "--output-layout", "{PatientID}/{SOPInstanceUID}.dcm",
         server.host, str(server.port), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=BIG"],
        GET.env(), work, 120)
    assert rc == 0, err
    (path,) = [p for p in (work / "od").rglob("*") if p.is_file()]
    assert path.parent.name == "BIG" and path.name.endswith(".dcm"), path
    assert path.stat().st_size > 200 * 1000 * 1000
    print(f"peak RSS {rss_kib} KiB")
    assert rss_kib < 150 * 1024, rss_kib


@pytest.mark.network
def test_hostile_uids_stay_inside_od(make_fakeqr, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """fakeqr's EVILUID objects (SOP Instance UID ``../../x``, an absolute
    path, 300 characters) used as directory names: every component is
    sanitised, nothing lands outside -od, in normal and +B mode.  (fakeqr
    aborts after the third object, see test_getscu_net's deviation #2 test.)"""
    import shutil
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="ev"))  # short: fakeqr echoes it in a UID
    try:
        server = make_fakeqr(extra_args=["--evil-abs", str(outside / "evil-abs")])
        for mode in ([], ["+B"]):
            cwd = tmp_path / ("bp" if mode else "normal")
            (cwd / "deep" / "od").mkdir(parents=True)
            run = GET.run("ours", ["-v", *mode, "-od", "deep/od", "--output-layout", "{SOPInstanceUID}/x/{name}",
                                   server.host, str(server.port), "-k", "QueryRetrieveLevel=PATIENT",
                                   "-k", "PatientID=EVILUID"], cwd)
            assert run.stderr.count("I: Sending C-STORE Response (Success)") == 3, run.stderr
            assert list(outside.iterdir()) == []
            assert [p.name for p in cwd.iterdir()] == ["deep"]
            assert [p.name for p in (cwd / "deep").iterdir()] == ["od"]
            files = sorted(p.relative_to(cwd / "deep" / "od") for p in (cwd / "deep" / "od").rglob("*")
                           if p.is_file())
            assert len(files) == 3, files
            for path in files:
                top, middle, name = path.parts
                assert middle == "x"
                for part in (top, name):
                    assert not part.startswith(".") and len(part.encode()) <= 255
                assert top.startswith("_.._.._x") or "evil-abs" in top or len(top.encode()) == 255 or \
                    len(top) >= 64, top
    finally:
        shutil.rmtree(outside, ignore_errors=True)
