"""movescu and getscu ``-k`` handling against the observed DCMTK 3.6.7 rows
of keys.md (movescu: Request Identifiers lines; getscu: C-GET-RQ dump lines
and ``E: Bad override key/path`` messages)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from support.logcapture import Collect
from pydicom.dataset import Dataset

from dcmretrieve.dicom import dicts
from dcmretrieve.dicom.dump import dump_dataset
from dcmretrieve.errors import CommandLineError
from dcmretrieve.dicom.keys import MoveKeys, apply_get_keys
from dcmretrieve.dicom.query import load_query_file

DATA = Path(__file__).parents[1] / "data" / "keys"


@pytest.fixture(autouse=True, scope="module")
def _builtin_dictionary():
    """These tests need the built-in dictionary (DCMDICTPATH unset); it is
    built once per module (building it takes a few hundred ms)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DCMDICTPATH", raising=False)
        dicts.reset_for_tests()
        yield
    dicts.reset_for_tests()


def element_lines(ds: Dataset, *, shorten: bool = False) -> list[str]:
    """Dump lines without the two header lines and without (0008,0052)."""
    lines = dump_dataset(ds, shorten=shorten).split("\n")[2:]
    return [line for line in lines if not line.startswith("(0008,0052)")]


def move(keys: list[str], ds: Dataset | None = None) -> list[str]:
    ds = Dataset() if ds is None else ds
    MoveKeys.parse(["QueryRetrieveLevel=PATIENT", *keys]).apply(ds)
    return element_lines(ds)


# ---------------------------------------------------------------------------
# movescu

MOVE_ROWS = [
    (['0010,0020=X'], [
        '(0010,0020) LO [X]                                      #   2, 1 PatientID',
    ]),
    ([' 0010,0020=X'], [
        '(0010,0020) LO [X]                                      #   2, 1 PatientID',
    ]),
    (['0010,0020xyz=X'], [
        '(0010,0020) LO [X]                                      #   2, 1 PatientID',
    ]),
    (['PatientID'], [
        '(0010,0020) LO (no value available)                     #   0, 0 PatientID',
    ]),
    (['0010,0020'], [
        '(0010,0020) LO (no value available)                     #   0, 0 PatientID',
    ]),
    (['PatientID=A=B'], [
        '(0010,0020) LO [A=B]                                    #   4, 1 PatientID',
    ]),
    (['0009,0010=CREATOR'], [
        '(0009,0010) LO [CREATOR]                                #   8, 1 PrivateCreator',
    ]),
    (['Rows=12'], [
        '(0028,0010) US 12                                       #   2, 1 Rows',
    ]),
    (['7fe0,0010=abc'], [
        '(7fe0,0010) OW 0abc                                     #   2, 1 PixelData',
    ]),
    (['0008,0000=12'], [
        '(0008,0000) UL 12                                       #   4, 1 GenericGroupLength',
    ]),
    (['ReferencedStudySequence'], [
        '(0008,1110) SQ (Sequence with explicit length #=0)      #   0, 1 ReferencedStudySequence',
        '(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem',
    ]),
    (['PatientName=Doe^John', 'PatientName=Second'], [
        '(0010,0010) PN [Doe^John]                               #   8, 1 PatientName',
    ]),
    (['PatientID=', 'PatientID=LAST'], [
        '(0010,0020) LO (no value available)                     #   0, 0 PatientID',
    ]),
    (['Rows=-1'], [
        '(0028,0010) US 65535                                    #   2, 1 Rows',
    ]),
    (['Rows=70000'], [
        '(0028,0010) US 4464                                     #   2, 1 Rows',
    ]),
    (['Rows=0x10'], [
        '(0028,0010) US 0                                        #   2, 1 Rows',
    ]),
    (['SmallestImagePixelValue=-5'], [
        '(0028,0106) xs 65531                                    #   2, 1 SmallestImagePixelValue',
    ]),
    (['LUTData=1\\2'], [
        '(0028,3006) lt 0001\\0002                                #   4, 1 LUTData',
    ]),
    (['RETIRED_AudioSampleData=12'], [
        '(5000,200c) ox 12\\00                                    #   2, 1 RETIRED_AudioSampleData',
    ]),
    (['OverlayData=abc'], [
        '(6000,3000) OW 0abc                                     #   2, 1 OverlayData',
    ]),
    (['0009,0000=5'], [
        '(0009,0000) UL 5                                        #   4, 1 PrivateGroupLength',
    ]),
    (['OffsetOfTheNextDirectoryRecord=1'], [
        '(0004,1400) up 1                                        #   4, 1 OffsetOfTheNextDirectoryRecord',
    ]),
    (['InstanceNumber=abc'], [
        '(0020,0013) IS [abc]                                    #   4, 1 InstanceNumber',
    ]),
    (['DimensionIndexPointer=( 10,20)'], [
        '(0020,9165) AT (0010,0020)                              #   4, 1 DimensionIndexPointer',
    ]),
    (['SelectorFDValue=1.5x'], [
        '(0072,0074) FD 1.5                                      #   8, 1 SelectorFDValue',
    ]),
    (['SelectorFLValue=0.1'], [
        '(0072,0076) FL 0.100000001                              #   4, 1 SelectorFLValue',
    ]),
    (['SelectorULValue=4294967296'], [
        '(0072,0078) UL 0                                        #   4, 1 SelectorULValue',
    ]),
    (['SelectorOBValue=123'], [
        '(0072,0065) OB 23\\00                                    #   2, 1 SelectorOBValue',
    ]),
    (['SelectorOWValue=12345'], [
        '(0072,0069) OW 2345                                     #   2, 1 SelectorOWValue',
    ]),
    (['SelectorSVValue=-7'], [
        '(0072,0082) SV -7                                       #   8, 1 SelectorSVValue',
    ]),
    (['PatientName=a b '], [
        '(0010,0010) PN [a b]                                    #   4, 1 PatientName',
    ]),
    (['StudyDescription=a\\b'], [
        '(0008,1030) LO [a\\b]                                    #   4, 2 StudyDescription',
    ]),
    (['SelectorUTValue=a\\b'], [
        '(0072,0070) UT [a\\b]                                    #   4, 1 SelectorUTValue',
    ]),
    (['SelectorOBValue'], [
        '(0072,0065) OB (no value available)                     #   0, 1 SelectorOBValue',
    ]),
    (['RETIRED_CommandLengthToEnd=4'], [
        '(0000,0001) UL 4                                        #   4, 1 RETIRED_CommandLengthToEnd',
    ]),
    # "=Name": the UID of a name of DCMTK's uidNameMap (observed)
    (['StudyInstanceUID==CTImageStorage'], [
        '(0020,000d) UI =CTImageStorage                          #  26, 1 StudyInstanceUID',
    ]),
    # white space removed from UIDs; the length field keeps the length given,
    # made even, until the value is written (observed with dcmqrscp)
    (['StudyInstanceUID=1. 2 '], [
        '(0020,000d) UI [1.2]                                    #   6, 1 StudyInstanceUID',
    ]),
    (['StudyInstanceUID= '], [
        '(0020,000d) UI (no value available)                     #   2, 0 StudyInstanceUID',
    ]),
    (['PatientID=1CT1   '], [
        '(0010,0020) LO [1CT1]                                   #   8, 1 PatientID',
    ]),
]


@pytest.mark.parametrize(("keys", "expected"), MOVE_ROWS, ids=[" ".join(k) for k, _ in MOVE_ROWS])
def test_movescu_key_rows(keys: list[str], expected: list[str]) -> None:
    assert move(keys) == expected


def test_movescu_numeric_short_form_sets_both_tags() -> None:
    ds = Dataset()
    MoveKeys.parse(["8,52=PATIENT", "10,20=X"]).apply(ds)
    lines = dump_dataset(ds).split("\n")[2:]
    assert lines == [
        "(0008,0052) CS [PATIENT]                                #   8, 1 QueryRetrieveLevel",
        "(0010,0020) LO [X]                                      #   2, 1 PatientID",
    ]


def test_movescu_float_keys_parsed_and_printed_like_dcmtk() -> None:
    """DCMTK's atof/ftoa (observed: movescu -v -k 'SelectorODValue=0.1\\1e300')."""
    assert move(["SelectorODValue=0.1\\1e300"]) == [
        "(0072,0073) OD 0.1\\1.0000000000000007e+300              #  16, 1 SelectorODValue"
    ]


MOVE_ERRORS = [
    (["(0010,0020)=X"], "bad key format or dictionary name not found in dictionary: (0010,0020)"),
    (["NoSuch=1"], "bad key format or dictionary name not found in dictionary: NoSuch"),
    (["=X"], "bad key format or dictionary name not found in dictionary: "),
    ([""], "bad key format or dictionary name not found in dictionary: "),
    (["ReferencedStudySequence[0].ReferencedSOPClassUID=1.2"],
     "bad key format or dictionary name not found in dictionary: "
     "ReferencedStudySequence[0].ReferencedSOPClassUID"),
    (["0009,1010=X"], "unknown tag: (0009,1010)"),
    (["Rows=abc"], 'cannot put tag value: (0028,0010)="abc"'),
    (["Rows=1\\"], 'cannot put tag value: (0028,0010)="1\\"'),
    (["ReferencedStudySequence=X"], 'cannot put tag value: (0008,1110)="X"'),
    (["DimensionIndexPointer=0010,0020"], 'cannot put tag value: (0020,9165)="0010,0020"'),
    (["SelectorOWValue=zz"], 'cannot put tag value: (0072,0069)="zz"'),
    (["SelectorFDValue=abc"], 'cannot put tag value: (0072,0074)="abc"'),
    (["patientid=X"], "bad key format or dictionary name not found in dictionary: patientid"),
    (["fffe,e000"], "cannot create element for tag: (fffe,e000)"),
    (["ItemDelimitationItem"], "cannot create element for tag: (fffe,e00d)"),
    (["CommandLengthToEnd=1"], "bad key format or dictionary name not found in dictionary: CommandLengthToEnd"),
    (["SyntheticData=YES"], "bad key format or dictionary name not found in dictionary: SyntheticData"),
    # processed right to left: the rightmost bad key is reported
    (["NoSuch=1", "Rows=abc"], 'cannot put tag value: (0028,0010)="abc"'),
    # a UI value "=Name" needs a known UID name (found by tests/difffuzz.py)
    (["StudyInstanceUID=="], 'cannot put tag value: (0020,000d)="="'),
    (["ReferencedSOPInstanceUID==ctimagestorage"], 'cannot put tag value: (0008,1155)="=ctimagestorage"'),
    (["SOPInstanceUID==CTImageStorage\\1.2"], 'cannot put tag value: (0008,0018)="=CTImageStorage\\1.2"'),
    (["OtherPatientIDsSequence=-1", "SpecificCharacterSet=1", "SOPInstanceUID=="],
     'cannot put tag value: (0008,0018)="="'),
]


@pytest.mark.parametrize(("keys", "message"), MOVE_ERRORS, ids=[" ".join(k) for k, _ in MOVE_ERRORS])
def test_movescu_key_errors(keys: list[str], message: str) -> None:
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(keys)
    assert info.value.message == message
    assert info.value.exit_code == 1


def test_movescu_keys_replace_query_file_elements() -> None:
    ds = load_query_file(str(DATA / "pat_ct.dcm"))
    MoveKeys.parse(["PatientID=OVR"]).apply(ds)
    assert element_lines(ds) == ["(0010,0020) LO [OVR]                                    #   4, 1 PatientID"]


def test_movescu_whole_sequence_replaced_by_empty_one() -> None:
    ds = load_query_file(str(DATA / "seq.dcm"))
    MoveKeys.parse(["PatientID", "ReferencedStudySequence"]).apply(ds)
    assert dump_dataset(ds).split("\n") == [
        "# Dicom-Data-Set",
        "# Used TransferSyntax: Little Endian Explicit",
        "(0008,0052) CS [STUDY]                                  #   6, 1 QueryRetrieveLevel",
        "(0008,1110) SQ (Sequence with explicit length #=0)      #   0, 1 ReferencedStudySequence",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
        "(0010,0020) LO (no value available)                     #   0, 0 PatientID",
    ]


def test_movescu_apply_gives_fresh_copies_each_time() -> None:
    keys = MoveKeys.parse(["PatientID=A"])
    first, second = Dataset(), Dataset()
    keys.apply(first)
    first.PatientID = "changed"
    keys.apply(second)
    assert second.PatientID == "A"
    assert len(keys) == 1


def test_movescu_encodes_like_dcmtk_on_the_wire() -> None:
    """The elements must encode as DCMTK sends them (pseudo VRs resolved)."""
    from pynetdicom.dsutils import encode

    ds = Dataset()
    MoveKeys.parse(["SmallestImagePixelValue=5", "PatientID=X", "InstanceNumber=abc"]).apply(ds)
    raw = encode(ds, False, True)
    assert b"\x10\x00\x20\x00LO\x02\x00X " in raw
    assert b"\x20\x00\x13\x00IS\x04\x00abc " in raw
    assert b"\x28\x00\x06\x01US\x02\x00\x05\x00" in raw


# ---------------------------------------------------------------------------
# getscu


def get(keys: list[str], ds: Dataset | None = None) -> tuple[list[str], list[str]]:
    ds = Dataset() if ds is None else ds
    logger = logging.getLogger("test.getscu.keys")
    records: list[str] = []

    handler = Collect(records)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        apply_get_keys(ds, ["QueryRetrieveLevel=PATIENT", *keys], logger)
    finally:
        logger.removeHandler(handler)
    return element_lines(ds, shorten=True), records


ONE_ITEM = [
    "(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence",
    "  (fffe,e000) na (Item with explicit length #=1)          #   0, 1 Item",
    "    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID",
    "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
    "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
]

GET_ROWS = [
    (['(0010,0020)=X'], [
        '(0010,0020) LO [X]                                      #   2, 1 PatientID',
    ]),
    (['0010,0020=X'], [
        '(0010,0020) LO [X]                                      #   2, 1 PatientID',
    ]),
    (['PatientID'], [
        '(0010,0020) LO (no value available)                     #   0, 0 PatientID',
    ]),
    (['ReferencedStudySequence[0].ReferencedSOPClassUID=1.2.3'], [
        '(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence',
        '  (fffe,e000) na (Item with explicit length #=1)          #   0, 1 Item',
        '    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID',
        '  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem',
        '(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem',
    ]),
    (['0008,1110[0].0008,1150=1.2.3'], [
        '(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence',
        '  (fffe,e000) na (Item with explicit length #=1)          #   0, 1 Item',
        '    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID',
        '  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem',
        '(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem',
    ]),
    (['(0008,1110)[0].(0008,1150)=1.2.3'], [
        '(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence',
        '  (fffe,e000) na (Item with explicit length #=1)          #   0, 1 Item',
        '    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID',
        '  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem',
        '(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem',
    ]),
    (['PatientID=A=B'], [
        '(0010,0020) LO [A=B]                                    #   4, 1 PatientID',
    ]),
    (['Rows=12'], [
        '(0028,0010) US 12                                       #   2, 1 Rows',
    ]),
    (['PatientID=', 'PatientID=LAST'], [
        '(0010,0020) LO [LAST]                                   #   4, 1 PatientID',
    ]),
    ([''], [
    ]),
    (['0009,1010=12'], [
        '(0009,1010) ?? 12\\00                                    #   2, 1 Unknown Tag & Data',
    ]),
    (['(0010, 0020)=Z'], [
        '(0010,0020) LO [Z]                                      #   2, 1 PatientID',
    ]),
    (['ReferencedStudySequence='], [
        '(0008,1110) SQ (Sequence with explicit length #=0)      #   0, 1 ReferencedStudySequence',
        '(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem',
    ]),
]


@pytest.mark.parametrize(("keys", "expected"), GET_ROWS, ids=[" ".join(k) for k, _ in GET_ROWS])
def test_getscu_key_rows(keys: list[str], expected: list[str]) -> None:
    lines, errors = get(keys)
    assert errors == []
    assert lines == expected


def test_getscu_items_created_on_demand() -> None:
    lines, errors = get(["ReferencedStudySequence[2].ReferencedSOPClassUID=1.2.3"])
    assert errors == []
    assert lines.count("  (fffe,e000) na (Item with explicit length #=0)          #   0, 1 Item") == 2
    assert "    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID" in lines
    assert lines[0].startswith("(0008,1110) SQ (Sequence with explicit length #=3)")


def test_getscu_multiple_paths_into_items() -> None:
    ds = Dataset()
    apply_get_keys(ds, [
        "ReferencedStudySequence[0].ReferencedSOPClassUID=1.2",
        "ReferencedStudySequence[0].ReferencedSOPInstanceUID=3.4",
        "ReferencedStudySequence[1].ReferencedSOPClassUID=5.6",
    ], logging.getLogger("test.getscu.keys"))
    seq = ds.ReferencedStudySequence
    assert len(seq) == 2
    assert (seq[0].ReferencedSOPClassUID, seq[0].ReferencedSOPInstanceUID) == ("1.2", "3.4")
    assert seq[1].ReferencedSOPClassUID == "5.6"


def test_getscu_existing_item_path_with_empty_item() -> None:
    lines, errors = get(["ReferencedStudySequence[0]"])
    assert errors == []
    assert lines == [
        "(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence",
        "  (fffe,e000) na (Item with explicit length #=0)          #   0, 1 Item",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
    ]


GET_ERRORS = [
    ("ReferencedStudySequence[*].ReferencedSOPClassUID=1.2.3",
     "Item wildcard '*' found in path but wildcards disabled"),
    ("ReferencedStudySequence[0]=X", "Cannot insert value into path ending with item or sequence"),
    ("PatientID[0]=X", "Invalid Path: Non-sequence tag found with rest path following"),
    ("NoSuchKeyword=1", "Unable to parse tag/dictionary name at beginning of path: NoSuchKeyword"),
    ("=X", "Illegal parameter"),
    ("(0010,0020", "Unable to parse tag at beginning of path: (0010,0020"),
    ("ReferencedStudySequence[-1].PatientID=X",
     "Negative item number (not permitted) at beginning of path: [-1].PatientID"),
    ("ReferencedStudySequence[a].PatientID=X", "Unable to parse item number at beginning of path: [a].PatientID"),
    ("ReferencedStudySequence.PatientID=X",
     "Unable to parse tag/dictionary name at beginning of path: ReferencedStudySequence.PatientID"),
    ("0009,1010=X", "Corrupted data"),
    ("Rows=abc", "Corrupted data"),
    (" PatientID=X", "Unable to parse tag/dictionary name at beginning of path:  PatientID"),
    ("PatientID =X", "Unable to parse tag/dictionary name at beginning of path: PatientID "),
    ("patientid=X", "Unable to parse tag/dictionary name at beginning of path: patientid"),
    # further cases checked against /usr/bin/getscu -d
    ("NoSuch[0].PatientID=X", "Unable to parse tag/dictionary name at beginning of path: NoSuch[0].PatientID"),
    ("ReferencedStudySequence[0].NoSuch=X", "Unable to parse tag/dictionary name at beginning of path: NoSuch"),
    ("(00100020)=X", "Unable to parse tag/dictionary name at beginning of path: (00100020)"),
    ("(0010,0020)x=X", "Invalid Path: Non-sequence tag found with rest path following"),
    ("ReferencedStudySequence[1", "Unable to parse item number at beginning of path: [1"),
    ("(0010,0020]=X", "Unable to parse tag at beginning of path: (0010,0020]"),
    ("(fffe,e000)", "Illegal call, perhaps wrong parameters"),
    ("Item=1", "Illegal call, perhaps wrong parameters"),
]


GET_ERRORS += [
    ("StudyInstanceUID==", "Unknown UID name: No mapping to UID value defined"),
    ("ReferencedStudySequence[0].ReferencedSOPClassUID==NoSuchName",
     "Unknown UID name: No mapping to UID value defined"),
]


@pytest.mark.parametrize(("key", "reason"), GET_ERRORS, ids=[k for k, _ in GET_ERRORS])
def test_getscu_key_errors(key: str, reason: str) -> None:
    _, errors = get([key])
    assert errors == [f"E: Bad override key/path: {key}: {reason}"]


def test_getscu_failed_keys_leave_partial_effects() -> None:
    lines, _ = get(["ReferencedStudySequence[0]=X", "0009,1010=X", "Rows=abc", "PatientID[0]=X",
                    "ReferencedSeriesSequence[1].PatientID[0]=1"])
    assert lines == [
        "(0008,1110) SQ (Sequence with explicit length #=1)      #   0, 1 ReferencedStudySequence",
        "  (fffe,e000) na (Item with explicit length #=0)          #   0, 1 Item",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
        # ReferencedSeriesSequence: created, then removed again with its items
        "(0009,1010) ?? (no value available)                     #   0, 1 Unknown Tag & Data",
        "(0028,0010) US (no value available)                     #   0, 0 Rows",
    ]


def test_getscu_failed_put_keeps_old_value() -> None:
    ds = Dataset()
    ds.Rows = 5
    lines, errors = get(["Rows=abc"], ds)
    assert errors == ["E: Bad override key/path: Rows=abc: Corrupted data"]
    assert lines == ["(0028,0010) US 5                                        #   2, 1 Rows"]  # observed


def test_getscu_on_query_file_modifies_in_place() -> None:
    ds = load_query_file(str(DATA / "seq.dcm"))
    apply_get_keys(ds, ["PatientID", "ReferencedStudySequence[0].ReferencedSOPInstanceUID=9.9",
                        "ReferencedStudySequence[1].ReferencedSOPClassUID=7.7"], logging.getLogger("t"))
    assert dump_dataset(ds, shorten=True).split("\n")[2:] == [
        "(0008,0052) CS [STUDY]                                  #   6, 1 QueryRetrieveLevel",
        "(0008,1110) SQ (Sequence with explicit length #=2)      #  36, 1 ReferencedStudySequence",
        "  (fffe,e000) na (Item with explicit length #=2)          #  28, 1 Item",
        "    (0008,1150) UI [1.2.3]                                  #   6, 1 ReferencedSOPClassUID",
        "    (0008,1155) UI [9.9]                                    #   4, 1 ReferencedSOPInstanceUID",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "  (fffe,e000) na (Item with explicit length #=1)          #   0, 1 Item",
        "    (0008,1150) UI [7.7]                                    #   4, 1 ReferencedSOPClassUID",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
        "(0010,0020) LO (no value available)                     #   0, 0 PatientID",
    ]


def test_non_ascii_values_keep_the_typed_bytes() -> None:
    """DCMTK sends the command-line bytes unchanged and pads the dump by
    bytes (observed: "[Müller^Jörg]" is followed by 25 blanks)."""
    from pynetdicom.dsutils import encode

    ds = Dataset()
    MoveKeys.parse(["PatientName=Müller^Jörg", "PatientID=ü\\ä"]).apply(ds)
    assert element_lines(ds) == [
        "(0010,0010) PN [Müller^Jörg]                          #  14, 1 PatientName",
        "(0010,0020) LO [ü\\ä]                                  #   6, 2 PatientID",
    ]
    raw = encode(ds, False, True)
    assert b"PN\x0e\x00M\xc3\xbcller^J\xc3\xb6rg " in raw
    assert b"LO\x06\x00\xc3\xbc\\\xc3\xa4 " in raw


def test_uid_white_space_warning_and_unknown_name_debug(caplog: pytest.LogCaptureFixture) -> None:
    """DcmUniqueIdentifier's messages (logger dcmtk.dcmdata), observed with
    ``movescu -d`` and ``getscu -v`` (paths into items too)."""
    caplog.set_level(logging.DEBUG, logger="dcmtk.dcmdata")
    with pytest.raises(CommandLineError):
        MoveKeys.parse(["StudyInstanceUID=1 2", "SOPInstanceUID=\t1\\2 ", "SeriesInstanceUID==foo"])
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "dcmtk.dcmdata"] == [
        ("DEBUG", "DcmUniqueIdentifier::putString() cannot map UID name 'foo' to UID value"),
    ]
    caplog.clear()
    keys = MoveKeys.parse(["StudyInstanceUID=1 2", "SOPInstanceUID=\t1\\2 "])
    assert [r.getMessage() for r in caplog.records if r.name == "dcmtk.dcmdata"] == [
        "DcmUniqueIdentifier: Element SOPInstanceUID (0008,0018) contains one or more space characters,"
        " which were removed",
        "DcmUniqueIdentifier: Element StudyInstanceUID (0020,000d) contains one or more space characters,"
        " which were removed",
    ]
    caplog.clear()
    ds = Dataset()
    keys.apply(ds)  # no second warning: the values are corrected already
    assert (str(ds.StudyInstanceUID), str(ds[0x00080018].value)) == ("12", "1\\2")
    assert not caplog.records
    lines, errors = get(["ReferencedStudySequence[0].ReferencedSOPInstanceUID= 1.2"])
    assert errors == []
    assert lines[2] == "    (0008,1155) UI [1.2]                                    #   4, 1 ReferencedSOPInstanceUID"
    assert [r.getMessage() for r in caplog.records if r.name == "dcmtk.dcmdata"] == [
        "DcmUniqueIdentifier: Element ReferencedSOPInstanceUID (0008,1155) contains one or more space"
        " characters, which were removed",
    ]


def test_uid_names_are_dcmtk_uid_name_map() -> None:
    """dcmFindUIDFromName / dcmFindNameOfUID over DCMTK 3.6.7's uidNameMap."""
    from dcmretrieve.dicom import uidnames

    assert len(uidnames.UID_NAMES) == 436
    assert uidnames.uid_from_name("RETIRED_XRayAngiographicBiPlaneImageStorage") == "1.2.840.10008.5.1.4.1.1.12.3"
    assert uidnames.uid_from_name("PrivateGELittleEndianImplicitWithBigEndianPixelData") == "1.2.840.113619.5.2"
    assert uidnames.uid_from_name("") is None
    assert uidnames.uid_from_name("UID") is None
