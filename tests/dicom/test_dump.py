"""dcmdump-format rendering: fixed expectations plus a differential check
against /usr/bin/dcmdump on data sets covering every VR family."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dcmretrieve.dicom.dump import dump_dataset, format_number
from dcmretrieve.dicom.keys import MoveKeys
from dcmretrieve.dicom.query import load_query_file

DCMDUMP = "/usr/bin/dcmdump"


def rich() -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.StudyInstanceUID = "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24"
    ds.PatientName = "Doe^John\\Roe^Jane"
    ds.StudyDescription = "D" * 64
    ds.PatientComments = "X" * 80
    ds.Rows = 512
    ds.Columns = 256
    ds.PixelSpacing = ["0.5", "0.25"]
    ds.InstanceNumber = "7"
    ds.add_new(0x00280106, "US", 3)  # SmallestImagePixelValue: xs in DCMTK's dictionary
    ds.add_new(0x00720074, "FD", [0.5, -2.25, 100.0, 0.1, 1 / 3, 1e-5, 1e16, 1e300, 3.0000000000000004,
                                  123456789012345.6, 2.5e-7])
    ds.add_new(0x00720076, "FL", [0.1, 3.5])
    ds.add_new(0x0072007C, "SL", [-7, 8])
    ds.add_new(0x0072007E, "SS", [-1])
    ds.add_new(0x00720078, "UL", [1, 2, 3] * 10)
    ds.add_new(0x00720060, "AT", [0x00100020, 0x00080052])
    ds.add_new(0x00720065, "OB", bytes(range(40)))
    ds.add_new(0x00720069, "OW", bytes(range(60)))
    ds.add_new(0x00720073, "OD", bytes(8))
    ds.add_new(0x00090010, "LO", "ACME")
    ds.add_new(0x00091001, "LO", "private value")
    ds.add_new(0x00080005, "CS", "ISO_IR 100")
    ds.add_new(0x00100021, "LO", "")
    ds.add_new(0x00720082, "SV", [-5, 6])
    ds.add_new(0x00720083, "UV", [7])
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    item.ReferencedSOPInstanceUID = "1.2.3"
    inner = Dataset()
    inner.PatientID = "nested"
    item.ReferencedSeriesSequence = Sequence([inner])
    ds.ReferencedStudySequence = Sequence([item, Dataset()])
    ds.ReferencedPatientSequence = Sequence([])
    return ds


def encode(ds: Dataset, implicit: bool, little: bool) -> bytes:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = implicit, little
    write_dataset(fp, ds)
    return fp.getvalue()


@pytest.mark.dcmtk("dcmdump")
@pytest.mark.parametrize(("implicit", "little"), [(False, True), (True, True), (False, False)],
                         ids=["explicit-little", "implicit-little", "explicit-big"])
@pytest.mark.parametrize("shorten", [False, True], ids=["full", "shortened"])
def test_matches_dcmdump(tmp_path: Path, implicit: bool, little: bool, shorten: bool) -> None:
    path = tmp_path / "rich.dcm"
    path.write_bytes(encode(rich(), implicit, little))
    args = [DCMDUMP] + ([] if shorten else ["+L"]) + [str(path)]
    real = subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.splitlines()
    # dcmdump adds the (empty) meta header block of a file; the data set part follows
    real = real[real.index("# Dicom-Data-Set"):]
    ours = dump_dataset(load_query_file(str(path)), shorten=shorten).splitlines()
    assert ours == real


def test_request_identifier_block_from_keys() -> None:
    """movescu -v (movescu.md §7): a data set built from keys only."""
    ds = Dataset()
    MoveKeys.parse(["QueryRetrieveLevel=PATIENT", "PatientID=1CT1"]).apply(ds)
    assert dump_dataset(ds) == (
        "# Dicom-Data-Set\n"
        "# Used TransferSyntax: Little Endian Explicit\n"
        "(0008,0052) CS [PATIENT]                                #   8, 1 QueryRetrieveLevel\n"
        "(0010,0020) LO [1CT1]                                   #   4, 1 PatientID"
    )


def test_explicit_transfer_syntax_argument() -> None:
    ds = Dataset()
    ds.PatientID = "X"
    assert dump_dataset(ds, "1.2.840.10008.1.2").split("\n")[1] == "# Used TransferSyntax: Little Endian Implicit"
    assert dump_dataset(ds, "1.2.840.10008.1.2.2").split("\n")[1] == "# Used TransferSyntax: Big Endian Explicit"


def test_long_values_full_and_shortened() -> None:
    """getscu's DIMSE dump shortens (observed), movescu's does not."""
    ds = Dataset()
    MoveKeys.parse(["StudyDescription=" + "A" * 70,
                    "Columns=" + "\\".join(str(i) for i in range(1, 29))]).apply(ds)
    full = dump_dataset(ds).split("\n")[2:]
    short = dump_dataset(ds, shorten=True).split("\n")[2:]
    assert full[0] == "(0008,1030) LO [" + "A" * 70 + "] #  70, 1 StudyDescription"
    assert short[0] == "(0008,1030) LO [" + "A" * 66 + "... #  70, 1 StudyDescription"
    assert short[1] == (
        "(0028,0011) US 1\\2\\3\\4\\5\\6\\7\\8\\9\\10\\11\\12\\13\\14\\15\\16\\17\\18\\19\\20\\21\\22\\23\\24\\25..."
        " #  56,28 Columns"
    )


@pytest.mark.parametrize(
    ("value", "code", "text"),
    [(0.1, "d", "0.1"), (1500.0, "d", "1500"), (1e-5, "d", "1e-05"), (1e16, "d", "10000000000000000"),
     (1e21, "d", "1e+21"), (1 / 3, "d", "0.3333333333333333"), (-2.75, "d", "-2.75"), (0.0, "d", "0"),
     (float("nan"), "d", "nan"), (float("inf"), "f", "inf"), (0.1, "f", "0.100000001"),
     (3.14159, "f", "3.14159012"), (-7, "l", "-7"),
     # DCMTK's own digit generator (observed with dcmdump)
     (1e300, "d", "1.0000000000000007e+300"), (3.0000000000000004, "d", "3.0000000000000004440892098500626"),
     (12345678901234567.0, "d", "12345678901234567"), (123456789012345.6, "d", "123456789012345.59"),
     (123456789.0, "f", "123456792"), (1e-7, "f", "1.00000001e-07")],
)
def test_number_formats(value: float, code: str, text: str) -> None:
    import struct

    if code == "f":
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    assert format_number(value, code) == text


def test_own_transfer_syntax_wins_over_the_context() -> None:
    """DCMTK names the data set's own transfer syntax (observed: getscu -d
    and movescu -v with an implicit VR context show Little Endian Explicit
    for key-only identifiers and Little Endian Implicit for an implicit file)."""
    from dcmretrieve.dicom.keys import apply_get_keys
    import logging

    ds = Dataset()
    apply_get_keys(ds, ["QueryRetrieveLevel=PATIENT"], logging.getLogger("test.dump"))
    assert dump_dataset(ds, "1.2.840.10008.1.2").split("\n")[1] == "# Used TransferSyntax: Little Endian Explicit"
    implicit = Dataset()
    implicit.dcmtk_transfer_syntax = "1.2.840.10008.1.2"
    MoveKeys.parse(["PatientID=1"]).apply(implicit)
    assert dump_dataset(implicit, "1.2.840.10008.1.2.1").split("\n")[1] == (
        "# Used TransferSyntax: Little Endian Implicit"
    )


@pytest.mark.dcmtk("dcmdump")
@pytest.mark.parametrize("charset", ["ISO_IR 100", "ISO_IR 192"])
def test_stored_bytes_printed_and_counted_like_dcmdump(tmp_path: Path, charset: str) -> None:
    """DCMTK prints and counts the stored bytes (here Latin-1 or UTF-8)."""
    ds = Dataset()
    ds.SpecificCharacterSet = charset
    ds.PatientName = "Müller^Jörg"
    ds.PatientID = "Jörg"
    ds.StudyDescription = "ü" * 30
    path = tmp_path / "charset.dcm"
    path.write_bytes(encode(ds, False, True))
    out = subprocess.run([DCMDUMP, str(path)], capture_output=True, timeout=20).stdout
    real = out.decode("utf-8", "surrogateescape").splitlines()
    real = real[real.index("# Dicom-Data-Set"):]
    assert dump_dataset(load_query_file(str(path)), shorten=True).splitlines() == real


PYDICOM_FILES = ["MR_small.dcm", "rtplan.dcm", "SC_rgb_rle.dcm", "image_dfl.dcm", "MR_small_implicit.dcm",
                 "MR_small_bigendian.dcm", "priv_SQ.dcm", "rtdose.dcm", "MR_small_RLE.dcm", "rtdose_rle.dcm",
                 "MR_small_jpeg_ls_lossless.dcm"]


@pytest.mark.dcmtk("dcmdump")
@pytest.mark.parametrize("name", PYDICOM_FILES)
def test_real_world_files_match_dcmdump(name: str) -> None:
    """pydicom's sample files (implicit/explicit/big endian, deflate, RLE,
    JPEG-LS, sequences, explicit UN) read as query files dump like dcmdump."""
    import pydicom

    path = Path(pydicom.__file__).parent / "data" / "test_files" / name
    if not path.exists():
        pytest.skip(f"{name} is not part of this pydicom installation")
    out = subprocess.run([DCMDUMP, str(path)], capture_output=True, timeout=20).stdout
    real = out.decode("utf-8", "surrogateescape").splitlines()
    real = real[real.index("# Dicom-Data-Set"):]
    assert dump_dataset(load_query_file(str(path)), shorten=True).splitlines() == real


@pytest.mark.dcmtk("dcmdump")
def test_uid_names_match_dcmdump(tmp_path: Path) -> None:
    """Every UID of pydicom's table is named (or not) as DCMTK names it."""
    from pydicom._uid_dict import UID_dictionary

    ds = Dataset()
    items = []
    for uid in UID_dictionary:
        item = Dataset()
        item.ReferencedSOPClassUID = uid
        items.append(item)
    ds.ReferencedSOPSequence = Sequence(items)
    path = tmp_path / "uids.dcm"
    path.write_bytes(encode(ds, False, True))
    out = subprocess.run([DCMDUMP, "+L", str(path)], capture_output=True, timeout=20).stdout
    real = [line for line in out.decode("utf-8", "surrogateescape").splitlines() if "(0008,1150)" in line]
    ours = [line for line in dump_dataset(load_query_file(str(path))).splitlines() if "(0008,1150)" in line]
    assert ours == real


def _random_dataset(rnd, tags: list[int], depth: int = 0) -> Dataset:
    """A random data set: every common VR, nested sequences and items of
    defined and undefined length."""
    from pydicom.datadict import dictionary_VR

    values = {
        "CS": ["", "A", "X Y", "VAL\\UE"], "LO": ["", "ABC", "12345678"], "SH": ["A"],
        "PN": ["Doe^John", ""], "UI": ["1.2.3", "1.2.840.10008.5.1.4.1.1.2", ""], "DA": ["20200101", ""],
        "TM": ["120000", ""], "US": [0, 65535, [1, 2, 3]], "UL": [4294967295, [5, 6]], "SS": [-1, [-3, 4]],
        "SL": [-100000], "FD": [0.1, 1e300, [1.5, 2.25], 3.0000000000000004], "FL": [0.1, [1.0, 2.0]],
        "DS": ["1.5", "", "3\\4.25"], "IS": ["7", "1\\2"], "AT": [0x00100020, [0x00080052, 0x00100010]],
        "OB": [b"", b"\x01\x02", bytes(range(40))], "OW": [b"", bytes(range(60))], "LT": ["", "x" * 100],
        "UT": ["text"], "ST": ["x"],
    }
    ds = Dataset()
    for _ in range(rnd.randrange(1, 7)):
        tag = rnd.choice(tags)
        vr = dictionary_VR(tag)
        if vr == "SQ":
            if depth > 2:
                continue
            items = [_random_dataset(rnd, tags, depth + 1) for _ in range(rnd.randrange(0, 3))]
            ds.add_new(tag, "SQ", Sequence(items))
            ds[tag].is_undefined_length = rnd.random() < 0.5
            for item in items:
                item.is_undefined_length_sequence_item = rnd.random() < 0.5
        elif vr in values:
            ds.add_new(tag, vr, rnd.choice(values[vr]))
    return ds


@pytest.mark.dcmtk("dcmdump")
def test_random_datasets_match_dcmdump(tmp_path: Path) -> None:
    """Seeded random data sets in all three encodings dump like dcmdump
    (this found the unknown-tag and end-of-file sequence cases)."""
    import random
    import warnings

    from pydicom.datadict import DicomDictionary

    rnd = random.Random(20261122)
    tags = sorted(
        t for t, v in DicomDictionary.items()
        if (t >> 16) % 2 == 0 and (t >> 16) not in (0, 2, 4) and t & 0xFFFF and v[3] != "Retired"
        and t < 0x7FE00000
    )
    path = tmp_path / "random.dcm"
    checked = 0
    for _ in range(12):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = _random_dataset(rnd, tags)
            implicit, little = rnd.choice([(True, True), (False, True), (False, False)])
            try:
                path.write_bytes(encode(ds, implicit, little))
            except Exception:  # noqa: BLE001 - pydicom cannot encode every random combination
                continue
        out = subprocess.run([DCMDUMP, "+L", str(path)], capture_output=True, timeout=20).stdout
        real = out.decode("utf-8", "surrogateescape").splitlines()
        if "# Dicom-Data-Set" not in real:
            continue
        real = real[real.index("# Dicom-Data-Set"):]
        assert dump_dataset(load_query_file(str(path))).splitlines() == real
        checked += 1
    assert checked >= 8


def test_unknown_specific_character_set_dumps_without_python_warning() -> None:
    """An unknown term (``-k SpecificCharacterSet='q'``): DCMTK prints the
    stored bytes; pydicom's UserWarning must not reach stderr (found by a
    keys fuzz against dcmqrscp)."""
    import warnings

    ds = Dataset()
    MoveKeys.parse(["SpecificCharacterSet='q'", "ReferringPhysicianName=nan"]).apply(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = dump_dataset(ds).split("\n")[2:]
    assert lines == [
        "(0008,0005) CS ['q']                                    #   4, 1 SpecificCharacterSet",
        "(0008,0090) PN [nan]                                    #   4, 1 ReferringPhysicianName",
    ]
