"""The identifier without pydicom (dicom.ident, keys.plain_element): the
same bytes as pydicom's encoding of the data set today's code builds, and
the fall-back to that data set for every key that needs it.

Why generated key sets: the plain path must equal the pydicom path for any
key a user may type that it accepts (tag forms, names, repeated keys, empty
values, backslashes, component groups, character sets), in every transfer
syntax ``encode_identifier`` supports; a few hand-picked cases would not
show a padding or length-field difference in some VR.
"""

from __future__ import annotations

import logging
import random

import pytest
from pydicom.dataset import Dataset

from support.logcapture import collected

from dcmretrieve.dicom import dicts
from dcmretrieve.dicom.dump import dump_dataset, dump_plain
from dcmretrieve.dicom.ident import Element, Identifier, encode
from dcmretrieve.dicom.keys import STRING_VRS, MoveKeys, apply_get_keys, plain_element, plain_get_keys
from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from dcmretrieve.errors import CommandLineError
from dcmretrieve.net.dimse import encode_identifier

TRANSFER_SYNTAXES = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED_LE]


@pytest.fixture(autouse=True, scope="module")
def _builtin_dictionary():
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("DCMDICTPATH", raising=False)
        dicts.reset_for_tests()
        yield
    dicts.reset_for_tests()


@pytest.fixture
def messages():
    """Everything logged on dcmtk.* while a test runs."""
    with collected("dcmtk") as lines:
        yield lines


def get_dataset(keys: list[str]) -> Dataset:
    """Today's getscu path: the keys applied to an empty data set."""
    ds = Dataset()
    apply_get_keys(ds, keys, logging.getLogger("dcmtk.apps.getscu"))
    return ds


def move_dataset(keys: list[str]) -> Dataset:
    ds = Dataset()
    MoveKeys.parse(keys).apply(ds)
    return ds


def assert_same_dump(plain: list[Element], ds: Dataset) -> None:
    """movescu -v / getscu -d: the plain dump equals pydicom's data set's,
    whatever transfer syntax the request goes on (a data set built in memory)."""
    for ts in TRANSFER_SYNTAXES:
        assert dump_plain(plain) == dump_dataset(ds, ts)


def assert_same_bytes(plain: list[Element], ds: Dataset) -> None:
    """Every transfer syntax, both deflate paddings: plain == pydicom."""
    ident = Identifier(lambda: pytest.fail("the data set is not needed to encode plain elements"), plain)
    for ts in TRANSFER_SYNTAXES:
        for pad in (False, True):
            assert encode_identifier(ident, ts, pad) == encode_identifier(ds, ts, pad), (ts, pad)


# ---------------------------------------------------------------------------
# generated key sets

#: character sets a user may name (ASCII text must not change in any)
CHARSETS = ["ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 87", "\\ISO 2022 IR 87", "ISO_IR 100\\ISO 2022 IR 149",
            "GB18030", "ISO_IR 13", "UNKNOWN", ""]


def _candidates() -> list[tuple[int, str, str]]:
    """(tag, VR, name) of every exact standard string-VR entry."""
    found = []
    for entry in dicts.get_dictionary().entries():
        if entry.vr in STRING_VRS and not entry.is_repeating and entry.group >= 8 and entry.group % 2 == 0:
            found.append((entry.tag, entry.vr, entry.name))
    return sorted(found)


def _value(rng: random.Random, vr: str) -> str:
    if rng.random() < 0.15:
        return ""
    size = rng.choice([1, 2, 3, 7, 8, 16, 63, 64, 65, 200])
    if vr == "UI":
        alphabet = "0123456789." * 4 + "\\aZ-_"
    else:
        alphabet = "ABCXYZabcxyz0123456789 .^=\\-*?+/:,()'\"%&"
    text = "".join(rng.choice(alphabet) for _ in range(size)).rstrip(" ")
    return text


def _key(rng: random.Random, tag: int, name: str, value: str | None, getscu: bool) -> str:
    forms = [name, f"{tag >> 16:04x},{tag & 0xFFFF:04x}", f"{tag >> 16:04X},{tag & 0xFFFF:04X}"]
    if getscu:
        forms.append(f"({tag >> 16:04x},{tag & 0xFFFF:04x})")
    path = rng.choice(forms)
    return path if value is None else f"{path}={value}"


def generated_key_sets(getscu: bool, count: int = 300, seed: int = 8) -> list[list[str]]:
    rng = random.Random(seed + getscu)
    candidates = _candidates()
    sets = []
    for _ in range(count):
        pool = rng.sample(candidates, rng.randint(1, 8))  # small pools: repeated tags
        keys = []
        if rng.random() < 0.3:
            keys.append(f"SpecificCharacterSet={rng.choice(CHARSETS)}")
        for _ in range(rng.randint(1, 12)):
            tag, vr, name = rng.choice(pool)
            value = None if rng.random() < 0.1 else _value(rng, vr)
            keys.append(_key(rng, tag, name, value, getscu))
        if getscu and rng.random() < 0.1:
            keys.insert(rng.randrange(len(keys) + 1), "")  # an empty key is skipped
        sets.append(keys)
    return sets


@pytest.mark.parametrize("keys", [
    ["6002,0022=OVERLAY", "6002,1500=LABEL", "5010,2500=CURVE"],  # repeating groups (range entries)
    ["0008,0005=ISO_IR 100", "0008,0050=A\\B\\", "0008,0090=^^^^", "0010,0010=\\"],
], ids=["ranges", "separators"])
def test_range_and_separator_keys(keys: list[str], messages: list[str]) -> None:
    for plain, ds in ((plain_get_keys(keys), get_dataset(keys)),
                      (MoveKeys.parse(keys).plain_elements(), move_dataset(keys))):
        assert plain is not None and len(plain) == len(keys)
        assert_same_bytes(plain, ds)
    assert messages == []


def test_candidates_cover_every_string_vr() -> None:
    assert {vr for _tag, vr, _name in _candidates()} == STRING_VRS


@pytest.mark.parametrize("keys", generated_key_sets(getscu=True), ids=lambda k: " ".join(k)[:60])
@pytest.mark.filterwarnings("error")
def test_getscu_plain_equals_pydicom(keys: list[str], messages: list[str]) -> None:
    plain = plain_get_keys(keys)
    assert plain is not None
    assert_same_bytes(plain, get_dataset(keys))
    assert_same_dump(plain, get_dataset(keys))
    assert messages == []


@pytest.mark.parametrize("keys", generated_key_sets(getscu=False), ids=lambda k: " ".join(k)[:60])
@pytest.mark.filterwarnings("error")
def test_movescu_plain_equals_pydicom(keys: list[str], messages: list[str]) -> None:
    plain = MoveKeys.parse(keys).plain_elements()
    assert plain is not None
    assert_same_bytes(plain, move_dataset(keys))
    assert_same_dump(plain, move_dataset(keys))
    assert messages == []


def test_override_rules() -> None:
    """getscu: the rightmost key for a tag wins; movescu: the leftmost."""
    keys = ["PatientID=FIRST", "0010,0020=SECOND", "PatientName=X", "PatientID=LAST"]
    assert plain_get_keys(keys) is not None
    assert {e.tag: e.value for e in plain_get_keys(keys)} == {0x00100020: b"LAST", 0x00100010: b"X"}
    move = MoveKeys.parse(keys).plain_elements()
    assert move is not None
    assert {e.tag: e.value for e in move} == {0x00100020: b"FIRST", 0x00100010: b"X"}
    assert get_dataset(keys).PatientID == "LAST" and move_dataset(keys).PatientID == "FIRST"


def test_encode_layout() -> None:
    """Tag order, padding and the three length-field layouts, by hand."""
    elements = [Element(0x00100020, "LO", b"ABC"), Element(0x0020000D, "UI", b"1.2.3"),
                Element(0x00081190, "UR", b"http://x")]
    assert encode(elements, implicit=False, little=True) == (
        b"\x08\x00\x90\x11UR\0\0\x08\0\0\0http://x"
        b"\x10\x00\x20\x00LO\x04\x00ABC "
        b"\x20\x00\x0d\x00UI\x06\x001.2.3\0")
    assert encode(elements[:1], implicit=True, little=True) == b"\x10\x00\x20\x00\x04\0\0\0ABC "
    assert encode(elements[:1], implicit=False, little=False) == b"\x00\x10\x00\x20LO\x00\x04ABC "


# ---------------------------------------------------------------------------
# the decision


@pytest.mark.parametrize("keys", [
    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3"],
    ["0008,0052=PATIENT", "0010,0020=X"],
    ["(0010,0020)=X"],
    ["PatientName"],  # no value: an empty element
    ["PatientName="],
    ["", "PatientID=X"],
    ["PatientID= leading blank kept"],
    ["PatientName=A^B=C^D"],
    ["ModalitiesInStudy=CT\\MR"],
    ["StudyDate=20200101-"],
    ["SeriesNumber=12", "SliceThickness=1.50"],
])
def test_plain_keys(keys: list[str]) -> None:
    assert plain_get_keys(keys) is not None
    if not any(k.startswith("(") or k == "" for k in keys):
        assert MoveKeys.parse(keys).plain_elements() is not None


#: keys that need the pydicom data set, and why
FALL_BACK = {
    "sequence": "ReferencedStudySequence",
    "sequence item path": "ReferencedStudySequence[0].StudyInstanceUID=1.2",
    "private creator": "0009,0010=CREATOR",
    "private element": "0029,1010=x",
    "binary VR US": "Rows=512",
    "binary VR AT": "DimensionIndexPointer=(0010,0020)",
    "pixel data": "PixelData=1\\2",
    "UI with a blank": "StudyInstanceUID=1.2. 3",
    "UI with a tab": "StudyInstanceUID=1.2.\t3",
    "UID name": "AffectedSOPClassUID==CTImageStorage",
    "non-ASCII": "PatientName=M\u00fcller",
    "trailing blank": "PatientID=ABC ",
    "control character": "PatientID=A\x01B",
    "command group": "0000,0600=X",
    "meta group": "0002,0010=1.2.840.10008.1.2",
    "too long": "PatientComments=" + "x" * 70000,
}

#: no movescu keys (no item paths; no private element without its creator)
MOVE_ERRORS = {"sequence item path", "private element"}

#: getscu keys that apply_get_keys reports (its messages stay as they were)
GET_ERRORS = ["NoSuchName=1", "=x", "Referenced*Sequence=1", "PatientID[0].X=1", "(0010,0020=X", "Item=1"]


@pytest.mark.parametrize("case", list(FALL_BACK))
def test_fall_back(case: str) -> None:
    key = FALL_BACK[case]
    assert plain_get_keys(["QueryRetrieveLevel=STUDY", key]) is None
    assert plain_get_keys([key, "PatientID=X"]) is None
    if case in MOVE_ERRORS:
        with pytest.raises(CommandLineError):
            MoveKeys.parse(["QueryRetrieveLevel=STUDY", key])
        return
    assert MoveKeys.parse(["QueryRetrieveLevel=STUDY", key]).plain_elements() is None


@pytest.mark.parametrize("key", GET_ERRORS)
def test_fall_back_getscu_errors(key: str) -> None:
    assert plain_get_keys(["QueryRetrieveLevel=STUDY", key]) is None


def test_plain_element_rules() -> None:
    assert plain_element(0x00100020, "LO", "X") == Element(0x00100020, "LO", b"X")
    assert plain_element(0x00100020, "LO", "") == Element(0x00100020, "LO", b"")
    for vr in sorted(STRING_VRS):
        assert plain_element(0x00100020, vr, "1") is not None
    for vr in ["US", "SS", "UL", "FL", "FD", "AT", "OB", "OW", "UN", "SQ", "xs", "ox", "px", "lt", "up", "??", "na"]:
        assert plain_element(0x00100020, vr, "1") is None


def test_movescu_errors_unchanged() -> None:
    """A plain key next to a bad one: the same command-line error."""
    with pytest.raises(CommandLineError, match=r'cannot put tag value: \(0028,0010\)="x"'):
        MoveKeys.parse(["PatientID=X", "Rows=x"])
    with pytest.raises(CommandLineError, match="dictionary name not found in dictionary: Nope"):
        MoveKeys.parse(["Nope=1", "PatientID=X"])


# ---------------------------------------------------------------------------
# the lazy data set


def test_dataset_built_on_demand_equals_eager() -> None:
    """Plain keys: the data set is made only when asked for (a dump, a
    summary) and is the one today's code makes, dump line for dump line."""
    keys = ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3", "PatientName=A^B", "PatientID"]
    calls = []

    def build() -> Dataset:
        calls.append(1)
        return get_dataset(keys)

    ident = Identifier(build, plain_get_keys(keys))
    assert calls == [] and ident.repair_uids() == [] and ident.unconvertible(EXPLICIT_LE) is None
    assert calls == []
    assert dump_dataset(ident.dataset, EXPLICIT_LE) == dump_dataset(get_dataset(keys), EXPLICIT_LE)
    ident.dataset
    assert calls == [1]


def test_not_plain_builds_at_once() -> None:
    """Without plain elements the data set is built at once (bad keys and
    query files report where they always did)."""
    calls = []
    ident = Identifier(lambda: calls.append(1) or Dataset())
    assert calls == [1] and ident.elements is None


@pytest.mark.parametrize("charset", ["", "ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 87"])
def test_person_names_sent_as_typed(charset: str) -> None:
    """DCMTK sends a PN value as the bytes typed, whatever the character
    set: trailing empty component groups stay, non-ASCII bytes are not
    re-encoded (pydicom's PersonName did both)."""
    keys = [f"SpecificCharacterSet={charset}", "PatientName=a^b==", "OtherPatientNames=c=\\d==",
            "PatientBirthName=M\u00fcller="]
    for ds in (get_dataset(keys), move_dataset(keys)):
        data = encode_identifier(ds, EXPLICIT_LE)
        assert b"PN\x06\x00a^b== " in data
        assert b"PN\x06\x00c=\\d==" in data
        assert "M\u00fcller=".encode() in data
