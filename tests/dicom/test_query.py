"""Query file loading: accepted forms and DCMTK 3.6.7's condition texts and
parser diagnostics for broken files (all expectations observed with
/usr/bin/getscu and /usr/bin/movescu on the same bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.logcapture import collected
from pydicom.dataset import Dataset

from dcmretrieve.dicom import dicts
from dcmretrieve.dicom.dump import dump_dataset
from dcmretrieve.dicom.query import QueryFileError, load_query_file

DATA = Path(__file__).parents[1] / "data" / "keys"
PAT_CT = (DATA / "pat_ct.dcm").read_bytes()


@pytest.fixture
def messages(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    monkeypatch.delenv("DCMDICTPATH", raising=False)
    if dicts.dictionary_paths() is not None:  # pragma: no cover - env cleaned above
        dicts.reset_for_tests()
    with collected("dcmtk.dcmdata") as lines:
        yield lines


def bare(implicit: bool, little: bool = True) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "PATIENT"
    ds.PatientID = "1CT1"
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = implicit, little
    write_dataset(fp, ds)
    return fp.getvalue()


def write(tmp_path: Path, data: bytes, name: str = "q.dcm") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


BROKEN = [
    ("empty", b"", "0001:0005 End of stream", []),
    ("garbage", b"garbage\n", "0001:000a I/O suspension or premature end of stream", []),
    ("text", b"hello world this is a text file\nline2\n",
     "0001:000a I/O suspension or premature end of stream",
     ["W: DcmItem: Length of element (6568,6c6c) is odd",
      "E: DcmElement: Unknown Tag & Data (6568,6c6c) larger (1870078063) than remaining bytes in file"]),
    ("three bytes", PAT_CT[:3], "0001:000a I/O suspension or premature end of stream", []),
    ("preamble only", b"\0" * 128 + b"DICM", "0001:000a I/O suspension or premature end of stream", []),
    ("meta group length header only", PAT_CT[:140], "0001:000a I/O suspension or premature end of stream", []),
    ("meta cut after a header", PAT_CT[:200], "0001:000a I/O suspension or premature end of stream",
     ["E: DcmElement: MediaStorageSOPInstanceUID (0002,0003) larger (54) than remaining bytes in file"]),
    ("meta cut inside a value", PAT_CT[:300], "0001:0004 Invalid stream",
     ["E: DcmElement: ImplementationClassUID (0002,0012) larger (28) than remaining bytes (10) in file, "
      "premature end of stream"]),
    ("data set cut inside a header", PAT_CT[:365], "0001:000a I/O suspension or premature end of stream", []),
    ("explicit cut after a header", bare(False)[:24], "0001:000a I/O suspension or premature end of stream",
     ["E: DcmElement: PatientID (0010,0020) larger (4) than remaining bytes in file"]),
    ("explicit cut inside a value", bare(False)[:26], "0001:0004 Invalid stream",
     ["E: DcmElement: PatientID (0010,0020) larger (4) than remaining bytes (2) in file, premature end of stream"]),
    ("implicit cut inside a value", bare(True)[:12], "0001:0004 Invalid stream",
     ["E: DcmElement: QueryRetrieveLevel (0008,0052) larger (8) than remaining bytes (4) in file, "
      "premature end of stream"]),
]


@pytest.mark.parametrize(("data", "dump", "logged"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_query_files(tmp_path: Path, messages: list[str], data: bytes, dump: str,
                            logged: list[str]) -> None:
    with pytest.raises(QueryFileError) as info:
        load_query_file(write(tmp_path, data))
    assert info.value.dump == dump
    assert info.value.reason == dump.split(" ", 1)[1]
    assert messages == logged


def test_directory_is_premature_end(tmp_path: Path, messages: list[str]) -> None:
    with pytest.raises(QueryFileError) as info:
        load_query_file(str(tmp_path))
    assert info.value.reason == "I/O suspension or premature end of stream"


def test_zero_bytes_read_as_repeated_group_length(tmp_path: Path, messages: list[str]) -> None:
    """DCMTK reads 128 zero bytes as sixteen (0000,0000) elements."""
    ds = load_query_file(write(tmp_path, b"\0" * 128))
    assert messages.count(
        "W: DcmItem: Element (0000,0000) found twice in one data set or item, ignoring second entry"
    ) == 15
    assert dump_dataset(ds).split("\n") == [
        "# Dicom-Data-Set",
        "# Used TransferSyntax: Little Endian Implicit",
        "(0000,0000) UL (no value available)                     #   0, 0 CommandGroupLength",
    ]


ELEMENTS = [
    "(0008,0052) CS [PATIENT]                                #   8, 1 QueryRetrieveLevel",
    "(0010,0020) LO [1CT1]                                   #   4, 1 PatientID",
]


@pytest.mark.parametrize(
    ("data", "ts_name"),
    [(bare(True), "Little Endian Implicit"), (bare(False), "Little Endian Explicit"),
     (bare(False, little=False), "Big Endian Explicit"), (PAT_CT, "Little Endian Explicit"),
     (PAT_CT[:358], None)],
    ids=["implicit", "explicit", "big endian", "file with meta header", "cut at an element boundary"],
)
def test_accepted_query_files(tmp_path: Path, messages: list[str], data: bytes, ts_name: str | None) -> None:
    ds = load_query_file(write(tmp_path, data))
    lines = dump_dataset(ds).split("\n")
    if ts_name is None:  # the file simply ends after the first element
        assert lines[2:] == ELEMENTS[:1]
    else:
        assert lines == ["# Dicom-Data-Set", f"# Used TransferSyntax: {ts_name}", *ELEMENTS]
    assert not getattr(ds, "file_meta", None)  # the meta header is ignored
    assert all(elem.tag >> 16 != 0x0002 for elem in ds)
    assert messages == []


def test_meta_header_without_preamble_is_ignored(tmp_path: Path, messages: list[str]) -> None:
    meta = PAT_CT[132:]
    ds = load_query_file(write(tmp_path, meta))
    assert dump_dataset(ds).split("\n")[2:] == ELEMENTS


def test_sequence_lengths_as_read(tmp_path: Path, messages: list[str]) -> None:
    ds = load_query_file(str(DATA / "seq.dcm"))
    assert dump_dataset(ds).split("\n")[2:] == [
        "(0008,0052) CS [STUDY]                                  #   6, 1 QueryRetrieveLevel",
        "(0008,1110) SQ (Sequence with explicit length #=1)      #  36, 1 ReferencedStudySequence",
        "  (fffe,e000) na (Item with explicit length #=2)          #  28, 1 Item",
        "    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID",
        "    (0008,1155) UI [4.5.6]                                  #   6, 1 ReferencedSOPInstanceUID",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
        "(0010,0020) LO [1CT1]                                   #   4, 1 PatientID",
    ]


def test_undefined_length_sequence(tmp_path: Path, messages: list[str]) -> None:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.3"
    ds.ReferencedStudySequence = [item]
    ds["ReferencedStudySequence"].is_undefined_length = True
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = True, True
    write_dataset(fp, ds)
    loaded = load_query_file(write(tmp_path, fp.getvalue()))
    lines = dump_dataset(loaded).split("\n")[2:]
    assert lines[0] == "(0008,1110) SQ (Sequence with undefined length #=1)     # u/l, 1 ReferencedStudySequence"
    assert lines[-1] == "(fffe,e0dd) na (SequenceDelimitationItem)               #   0, 0 SequenceDelimitationItem"


def test_first_of_repeated_elements_is_kept(tmp_path: Path, messages: list[str]) -> None:
    """DCMTK ignores a repeated element ("ignoring second entry")."""
    first = bare(True)
    second = Dataset()
    second.PatientID = "SECOND"
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = True, True
    write_dataset(fp, second)
    ds = load_query_file(write(tmp_path, first + fp.getvalue()))
    assert ds.PatientID == "1CT1"
    assert messages == [
        "W: DcmItem: Element (0010,0020) found twice in one data set or item, ignoring second entry"
    ]


def test_defined_length_sequence_at_end_of_file(tmp_path: Path, messages: list[str]) -> None:
    """A sequence (explicit length) that ends exactly at the end of the file."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    ds = Dataset()
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.ReferencedSOPSequence = [item]
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = False, True
    write_dataset(fp, ds)
    data = fp.getvalue()
    loaded = load_query_file(write(tmp_path, data))
    assert loaded.ReferencedSOPSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    # an undefined-length item that is cut before its delimiter is a bad file
    cut = data[: data.rfind(b"\xfe\xff\x0d\xe0")] if b"\xfe\xff\x0d\xe0" in data else None
    if cut is not None:
        with pytest.raises(QueryFileError):
            load_query_file(write(tmp_path, cut, "cut.dcm"))


def test_elements_out_of_order_warn_like_dcmtk(tmp_path: Path, messages: list[str]) -> None:
    """DcmItem::insert's diagnostics, in DCMTK's order (an element is inserted
    after its value, nested items included, was read); observed with dcmdump
    and with movescu/getscu -v against dcmqrscp (found by a keys fuzz)."""
    import struct

    def element(group: int, elem: int, vr: str, value: bytes) -> bytes:
        return struct.pack("<HH", group, elem) + vr.encode() + struct.pack("<H", len(value)) + value

    item = element(0x0008, 0x1155, "UI", b"1.2.3\0") + element(0x0008, 0x1150, "UI", b"1.2\0")
    sequence = (struct.pack("<HH", 0x0008, 0x1115) + b"SQ\0\0" + struct.pack("<L", 8 + len(item))
                + struct.pack("<HHL", 0xFFFE, 0xE000, len(item)) + item)
    body = (element(0x0010, 0x0020, "LO", b"1CT1") + element(0x0008, 0x0052, "CS", b"STUDY ") + sequence
            + element(0x0010, 0x0020, "LO", b"XX") + element(0x0008, 0x0060, "CS", b"CT"))
    ds = load_query_file(write(tmp_path, body))
    assert ds.PatientID == "1CT1"
    assert messages == [
        "W: DcmItem: Dataset not in ascending tag order, at element (0008,0052)",
        "W: DcmItem: Dataset not in ascending tag order, at element (0008,1150)",
        "W: DcmItem: Dataset not in ascending tag order, at element (0008,1115)",
        "W: DcmItem: Element (0010,0020) found twice in one data set or item, ignoring second entry",
        "W: DcmItem: Dataset not in ascending tag order, at element (0008,0060)",
    ]
