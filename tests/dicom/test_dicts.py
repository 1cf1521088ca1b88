"""DCMDICTPATH handling and dicom.dic parsing (keys.md §4), including the
example dictionary shipped in dicts/."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.logcapture import Collect
from pydicom.dataset import Dataset

from dcmretrieve.dicom import dicts
from dcmretrieve.dicom.dump import dump_dataset
from dcmretrieve.errors import CommandLineError
from dcmretrieve.dicom.keys import MoveKeys, apply_get_keys

DATA = Path(__file__).parents[1] / "data" / "keys"
EXAMPLE = Path(__file__).parents[2] / "dicts" / "example-private.dic"


@pytest.fixture
def dictpath(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Callable[[str | None], bool], Collect]]:
    """Set DCMDICTPATH, load the dictionary, collect dcmtk.dcmdata messages."""
    logger = logging.getLogger("dcmtk.dcmdata")
    handler = Collect()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    def load(value: str | None) -> bool:
        if value is None:
            monkeypatch.delenv("DCMDICTPATH", raising=False)
        else:
            monkeypatch.setenv("DCMDICTPATH", value)
        dicts.reset_for_tests()
        return dicts.load_data_dictionaries()

    try:
        yield load, handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        monkeypatch.delenv("DCMDICTPATH", raising=False)
        dicts.reset_for_tests()


def test_nonexistent_file_gives_empty_dictionary(dictpath) -> None:
    load, log = dictpath
    assert load("/nonexistent") is False
    assert log.lines == ["E: DcmDataDictionary: Cannot open file: /nonexistent"]
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["PatientID=x"])
    assert info.value.message == "bad key format or dictionary name not found in dictionary: PatientID"
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["0010,0020=x"])
    assert info.value.message == "unknown tag: (0010,0020)"


def test_nonexistent_file_getscu_keys(dictpath) -> None:
    load, _ = dictpath
    load("/nonexistent")
    logger = logging.getLogger("test.dicts.getscu")
    handler = Collect()
    logger.addHandler(handler)
    logger.propagate = False
    ds = Dataset()
    try:
        apply_get_keys(ds, ["PatientID=x", "0008,0052=PATIENT"], logger)
    finally:
        logger.removeHandler(handler)
    assert handler.lines == [
        "E: Bad override key/path: PatientID=x: Unable to parse tag/dictionary name at beginning of path: PatientID",
        "E: Bad override key/path: 0008,0052=PATIENT: Corrupted data",
    ]
    assert dump_dataset(ds).split("\n")[2:] == [
        "(0008,0052) ?? (no value available)                     #   0, 1 Unknown Tag & Data"
    ]


def test_custom_dictionary_replaces_builtin(dictpath) -> None:
    load, log = dictpath
    custom = str(DATA / "custom.dic")
    assert load(custom) is True
    assert log.lines == [f"D: DcmDataDictionary: Loading file: {custom}"]
    ds = Dataset()
    MoveKeys.parse(["PatID=x"]).apply(ds)
    assert dump_dataset(ds).split("\n")[2:] == [
        "(0010,0020) LO [x]                                      #   2, 1 PatID"
    ]
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["PatientID=1"])
    assert info.value.message == "bad key format or dictionary name not found in dictionary: PatientID"
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["0008,0052=PATIENT"])
    assert info.value.message == "unknown tag: (0008,0052)"


def test_bad_dictionary_messages_and_flag(dictpath) -> None:
    load, log = dictpath
    bad = str(DATA / "bad.dic")
    assert load(bad) is False
    assert log.lines == [
        f"D: DcmDataDictionary: Loading file: {bad}",
        f"E: DcmDataDictionary: {bad}: bad VR field (line 1): ZZ",
        f"E: DcmDataDictionary: {bad}: bad Tag field (line 2): (0010,0021",
        f"E: DcmDataDictionary: {bad}: bad VM field (line 3): x",
        f"E: DcmDataDictionary: {bad}: too few fields (line 4)",
        f"E: DcmDataDictionary: {bad}: too many fields (line 5): ",
    ]
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["0010,0020=x"])
    assert info.value.message == "unknown tag: (0010,0020)"


@pytest.mark.parametrize(
    ("order", "loaded"),
    [("custom.dic:bad.dic", False), ("bad.dic:custom.dic", True), ("custom.dic:/nonexist", True),
     ("custom.dic::/nonexist2", True)],
)
def test_loaded_flag_reflects_last_openable_file(dictpath, order: str, loaded: bool) -> None:
    load, log = dictpath
    value = ":".join(p if p.startswith("/") or not p else str(DATA / p) for p in order.split(":"))
    assert load(value) is loaded
    # entries of every readable file are present even when the flag is clear
    assert dicts.get_dictionary().find_name("PatID") is not None
    for missing in ("/nonexist", "/nonexist2"):
        if missing in order.split(":"):
            assert f"E: DcmDataDictionary: Cannot open file: {missing}" in log.lines


def test_unset_or_empty_uses_builtin(dictpath) -> None:
    load, log = dictpath
    assert load("") is True
    assert dicts.get_dictionary().find_name("PatientID").tag == 0x00100020
    assert load(None) is True
    assert log.lines == []


def test_later_file_overrides_per_tag(dictpath, tmp_path: Path) -> None:
    load, _ = dictpath
    second = tmp_path / "second.dic"
    second.write_text("(0010,0020)\tLO\tPatientIdent\n(0010,0010)\tPN\tPatientName\t1\tDICOM\n")
    assert load(f"{DATA / 'custom.dic'}:{second}") is True
    dictionary = dicts.get_dictionary()
    assert dictionary.find_name("PatID") is None
    assert dictionary.find_name("PatientIdent").tag == 0x00100020
    assert dictionary.tag_name(0x00100010) == "PatientName"


def test_example_private_dictionary(dictpath) -> None:
    load, log = dictpath
    assert load(str(EXAMPLE)) is True
    assert log.lines == [f"D: DcmDataDictionary: Loading file: {EXAMPLE}"]
    # movescu: a private name resolves to its (gggg,00ee) key, as in DCMTK
    ds = Dataset()
    MoveKeys.parse(["ExampleCreator=EXAMPLE CREATOR"]).apply(ds)
    assert dump_dataset(ds).split("\n")[2:] == [
        "(0029,0010) LO [EXAMPLE CREATOR]                        #  16, 1 ExampleCreator"
    ]
    with pytest.raises(CommandLineError) as info:
        MoveKeys.parse(["0029,1010=X"])
    assert info.value.message == "unknown tag: (0029,1010)"
    # getscu: the creator in the item gives private tags their VR and name
    ds = Dataset()
    apply_get_keys(ds, ["0029,0010=EXAMPLE CREATOR", "0029,1011=7", "0029,1012[0]",
                        "0029,1010=X"], logging.getLogger("test.dicts"))
    assert dump_dataset(ds).split("\n")[2:] == [
        "(0029,0010) LO [EXAMPLE CREATOR]                        #  16, 1 ExampleCreator",
        "(0029,1010) LO [X]                                      #   2, 1 ExampleStudyCode",
        "(0029,1011) US 7                                        #   2, 1 ExampleFlags",
        "(0029,1012) SQ (Sequence with explicit length #=1)      #   0, 1 ExampleSequence",
        "  (fffe,e000) na (Item with explicit length #=0)          #   0, 1 Item",
        "  (fffe,e00d) na (ItemDelimitationItem for re-encoding)   #   0, 0 ItemDelimitationItem",
        "(fffe,e0dd) na (SequenceDelimitationItem for re-encod.) #   0, 0 SequenceDelimitationItem",
    ]


def test_range_entries_and_restrictions(dictpath, tmp_path: Path) -> None:
    load, log = dictpath
    path = tmp_path / "ranges.dic"
    path.write_text(
        "(6000-60FF,0010)\tUS\tWide\n"
        "(6000-6010,0010)\tUS\tNarrow\n"
        "(0009-o-FFFF,0010-u-00FF)\tLO\tCreator\n"
        "(0020,3100-31FF)\tCS\tEvenElements\t1-n\n"
        "(0011,0010-z-0020)\tLO\tBadRestrictor\n"
        "   # comment line\n"
        "\n"
        "(0012,0010)\tLO\tSpaced Name \t 2-2n \tDICOM/retired\n"
    )
    assert load(str(path)) is False
    assert "E: DcmDataDictionary: Unknown range restrictor: z" in log.lines
    assert f"E: DcmDataDictionary: {path}: bad Tag field (line 5): (0011,0010-z-0020)" in log.lines
    dictionary = dicts.get_dictionary()
    assert dictionary.tag_name(0x60020010) == "Narrow"  # narrower range placed first
    assert dictionary.tag_name(0x60200010) == "Wide"
    assert dictionary.tag_name(0x60010010) == "Creator"  # odd group: not Wide/Narrow (even only)
    assert dictionary.tag_name(0x00290011) == "Creator"
    assert dictionary.tag_name(0x00280011) == "Unknown Tag & Data"  # odd groups only
    assert dictionary.tag_name(0x00203102) == "EvenElements"
    assert dictionary.tag_name(0x00203101) == "Unknown Tag & Data"
    assert dictionary.find_name("SpacedName").tag == 0x00120010  # all whitespace removed
    assert dictionary.find_name("Wide").tag == 0x60000010


@pytest.mark.parametrize(
    ("vm", "ok"),
    [("1", True), ("1-n", True), ("n", True), ("2-2n", True), ("1-3", True), ("3n", True),
     ("N", True), ("1x", False), ("x", False), ("", False), ("1-", False), ("1-x", False)],
)
def test_vm_field(vm: str, ok: bool) -> None:
    assert dicts.parse_vm_field(vm) is ok


def test_new_public_tags_are_registered_with_pydicom(dictpath, tmp_path: Path) -> None:
    from pydicom.datadict import dictionary_VR

    load, _ = dictpath
    path = tmp_path / "public.dic"
    path.write_text("(0066,9F01)\tUS\tMyTestAttribute\t1\tLOCAL\n")
    assert load(str(path)) is True
    assert dictionary_VR(0x00669F01) == "US"


def test_dimse_request_problem(dictpath, tmp_path: Path) -> None:
    """What DCMTK reports when it tries to send a request (observed)."""
    load, _ = dictpath
    load(None)
    assert dicts.dimse_request_problem() is None
    assert dicts.dimse_request_problem(move=True) is None
    load("/nonexistent")
    assert dicts.dimse_request_problem() == "0006:0213 Data dictionary missing"
    load(str(DATA / "custom.dic"))
    assert dicts.dimse_request_problem() == (
        "0006:0204 DIMSE: Command Build Failed: dimcmd:addUS: Cannot add Uint16: "
        "Element: (0000,0100) Unknown Tag & Data"
    )
    partial = tmp_path / "partial.dic"
    partial.write_text("(0000,0100)\tUS\tCommandField\n(0000,0110)\tUS\tMessageID\n"
                       "(0000,0800)\tUS\tCommandDataSetType\n(0000,0700)\tUS\tPriority\n")
    load(str(partial))
    assert dicts.dimse_request_problem() is None
    assert dicts.dimse_request_problem(move=True) == (
        "0006:0204 DIMSE: Command Build Failed: dimcmd:addString: Cannot add string: "
        "Element: (0000,0600) Unknown Tag & Data"
    )


DCMTK_DICOM_DIC = Path("/usr/share/libdcmtk17/dicom.dic")


@pytest.mark.skipif(not DCMTK_DICOM_DIC.exists(), reason="DCMTK's dicom.dic is not installed")
def test_builtin_dictionary_equals_dcmtk_dicom_dic(dictpath) -> None:
    """Every name, tag and VR of DCMTK 3.6.7's dicom.dic resolves the same way
    in the built-in dictionary, and the built-in one knows no other names."""
    load, _ = dictpath
    load(None)
    ours = dicts.get_dictionary()
    real = dicts.DataDictionary()
    dicts._parse_lines(DCMTK_DICOM_DIC.read_text(encoding="latin-1").splitlines(), "dicom.dic", real)
    mismatches = []
    for entry in real.entries():
        mine, theirs = ours.find_name(entry.name), real.find_name(entry.name)
        if mine is None or mine.tag != theirs.tag:
            mismatches.append(("name", entry.name))
            continue
        mine, theirs = ours.find_tag(entry.tag), real.find_tag(entry.tag)
        if (mine.name, mine.vr) != (theirs.name, theirs.vr):
            mismatches.append(("tag", hex(entry.tag)))
    assert mismatches == []
    assert [e.name for e in ours.entries() if real.find_name(e.name) is None] == []


def test_builtin_without_pydicom_package_equals_pydicom_table(dictpath, monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in dictionary made from pydicom's table loaded on its own
    (``pydicom_table`` without ``import pydicom``) is the one made from
    ``pydicom.datadict.DicomDictionary``, entry for entry and in order."""
    import pydicom.datadict

    load, _ = dictpath
    assert dicts.pydicom_table() is pydicom.datadict.DicomDictionary  # pydicom imported: its copy
    load(None)
    via_pydicom = dicts.get_dictionary().entries()
    monkeypatch.delitem(sys.modules, "pydicom._dicom_dict")
    standalone = dicts.pydicom_table()
    assert standalone is not pydicom.datadict.DicomDictionary
    assert standalone == pydicom.datadict.DicomDictionary
    assert list(standalone) == list(pydicom.datadict.DicomDictionary)
    load(None)
    assert "pydicom._dicom_dict" not in sys.modules  # pydicom's import state left alone
    alone = dicts.get_dictionary().entries()
    assert len(alone) == len(via_pydicom) > 4900
    assert alone == via_pydicom
    # not installed as plain files (say, a zip): pydicom's normal import
    monkeypatch.setattr(dicts, "_table_file", lambda: None)
    imported = dicts.pydicom_table()
    assert sys.modules["pydicom._dicom_dict"].DicomDictionary is imported
    assert imported == pydicom.datadict.DicomDictionary


def test_builtin_dictionary_imports_no_pydicom() -> None:
    """In a fresh interpreter the built-in dictionary is made without
    importing pydicom (issue 8: its import is ~100 ms CPU)."""
    code = ("import sys; from dcmretrieve.dicom import dicts; d = dicts.get_dictionary(); "
            "print(len(d), d.find_name('PatientID').tag, sorted(m for m in sys.modules if 'pydicom' in m))")
    env = {k: v for k, v in os.environ.items() if k != "DCMDICTPATH"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split(" ", 2) == [str(len(dicts._builtin())), str(0x00100020), "[]\n"]


def test_builtin_table_entries_as_add_makes_them(dictpath, monkeypatch: pytest.MonkeyPatch) -> None:
    """``_builtin`` puts pydicom's entries straight into the exact-entry
    table: the same dictionary as ``add`` for each, then the extra lines."""
    load, _ = dictpath
    load(None)
    fast = dicts._builtin()
    extra = dicts._BUILTIN_EXTRA
    monkeypatch.setattr(dicts, "_BUILTIN_EXTRA", "")
    table_only = dicts._builtin().entries()
    reference = dicts.DataDictionary()
    for entry in table_only:
        reference.add(entry)
    dicts._parse_lines(extra.splitlines(), "<built-in>", reference)
    assert reference.entries() == fast.entries()
    assert list(reference._exact.items()) == list(fast._exact.items()) and reference._ranges == fast._ranges
