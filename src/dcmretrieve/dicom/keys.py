"""Override keys (``-k``) of movescu and getscu, as DCMTK 3.6.7 handles them.

The two tools differ (keys.md), so there are two entry points:

* movescu: ``MoveKeys.parse(keys)`` at start-up — DCMTK's ``addOverrideKey``:
  ``sscanf("%x,%x=")`` or a dictionary name, the tag must be known, the value
  must fit the VR; keys are processed right to left into a key set that
  replaces equal tags, so the leftmost ``-k`` for a tag wins.  The first bad
  key raises ``CommandLineError`` (printed as DCMTK's ``error:`` block).
  ``MoveKeys.apply(ds)`` replaces/inserts the top-level elements.
* getscu: ``apply_get_keys(ds, keys, logger)`` — DCMTK's
  ``DcmPathProcessor::applyPathWithValue`` with item wildcards disabled:
  paths like ``Seq[0].Tag=value``, elements and items created on demand,
  applied left to right (rightmost wins), errors logged as
  ``Bad override key/path: <key>: <reason>`` and otherwise ignored.

Values are converted like DCMTK's ``putString`` (see ``put_string``); the
resulting pydicom elements carry ``dcmtk_vr`` (the VR DCMTK shows, e.g.
``xs``) for ``dump``.

Without a query file, keys that ``plain_element`` accepts are sent without
pydicom: ``plain_get_keys(keys)`` and ``MoveKeys.plain_elements()`` give
them as ``ident.Element``s (see ``ident``), or None when any key needs the
pydicom data set.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from . import dicts, ident, uids
from .cscan import scan_c_int
from ..errors import CommandLineError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

_T = TypeVar("_T")

#: String VRs: stored as given (DCMTK's DcmByteString::putString never fails).
STRING_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())
#: String VRs that never split at backslashes.
SINGLE_STRING_VRS = frozenset({"LT", "ST", "UT", "UR"})
#: Integer VRs: (bits, signed) as read by sscanf %hu/%hd/%u/%d/%llu/%lld.
INT_VRS: dict[str, tuple[int, bool]] = {
    "US": (16, False), "xs": (16, False), "SS": (16, True),
    "UL": (32, False), "up": (32, False), "SL": (32, True),
    "OL": (32, False), "UV": (64, False), "OV": (64, False), "SV": (64, True),
}
FLOAT_VRS = frozenset({"FL", "FD", "OF", "OD"})
#: Byte-valued VRs (hex bytes) and word-valued VRs (hex words).
BYTE_VRS = frozenset({"OB", "ox", "UN", "??"})
WORD_VRS = frozenset({"OW", "lt", "px"})

#: pydicom's VR for an element DCMTK creates with a dictionary VR.
_PYDICOM_VR = {"xs": "US", "up": "UL", "ox": "OB", "px": "OW", "lt": "OW", "??": "UN", "na": "UN"}

#: DCMTK condition texts used by getscu.
CORRUPTED_DATA = "Corrupted data"
ILLEGAL_PARAMETER = "Illegal parameter"
ILLEGAL_CALL = "Illegal call, perhaps wrong parameters"
UNKNOWN_UID_NAME = "Unknown UID name: No mapping to UID value defined"

#: C's isspace() in the "C" locale (DcmUniqueIdentifier removes these).
_C_SPACE = frozenset(" \t\n\v\f\r")

_LOG = logging.getLogger("dcmtk.dcmdata")


#: String VRs whose pydicom writers take no bytes values.
_NO_BYTES_VRS = frozenset({"DA", "DT", "TM", "DS", "IS"})


class RawString(str):
    """Bytes typed on the command line, for VRs whose pydicom writers need a
    ``str``: decoded as Latin-1, so pydicom writes them back byte for byte;
    ``dcmtk_bytes`` keeps them for the dump."""

    dcmtk_bytes: bytes

    @classmethod
    def of(cls, raw: bytes) -> "RawString":
        text = cls(raw.decode("latin-1"))
        text.dcmtk_bytes = raw
        return text


class PutStringError(Exception):
    """``putString`` failed (DCMTK: EC_CorruptedData / EC_IllegalCall)."""

    def __init__(self, reason: str = CORRUPTED_DATA) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------
# C scanf emulation


def _to_int(value: int, bits: int, signed: bool) -> int:
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


#: 10^(2^i), the table DCMTK's atof combines exponents from.
_POWERS_OF_10 = (10.0, 100.0, 1.0e4, 1.0e8, 1.0e16, 1.0e32, 1.0e64, 1.0e128, 1.0e256)


def scan_c_float(text: str) -> float | None:
    """DCMTK's ``OFStandard::atof`` (Tcl's strtod): a decimal prefix (no hex),
    ``nan``/``inf``; at most 18 mantissa digits, exponent applied with a
    product of powers of ten — so e.g. ``1e300`` becomes the same slightly
    inexact double DCMTK sends.  None when no digits are found."""
    pos, n = 0, len(text)
    while pos < n and text[pos] in " \t\n\r\f\v":
        pos += 1
    negative = False
    if pos < n and text[pos] in "+-":
        negative = text[pos] == "-"
        pos += 1
    head = text[pos : pos + 3].lower()
    if head == "nan":
        return math.nan
    if head == "inf":
        return -math.inf if negative else math.inf
    digits: list[str] = []
    point = -1
    while pos < n:
        char = text[pos]
        if char.isdigit() and char.isascii():
            digits.append(char)
        elif char == "." and point < 0:
            point = len(digits)
        else:
            break
        pos += 1
    if not digits:
        return None
    if point < 0:
        point = len(digits)
    if len(digits) > 18:
        frac_exp = point - 18
        digits = digits[:18]
    else:
        frac_exp = point - len(digits)
    high, low = digits[:-9], digits[-9:]
    fraction = 1.0e9 * (int("".join(high)) if high else 0) + int("".join(low))
    exponent = 0
    exp_negative = False
    if pos < n and text[pos] in "eE":
        pos += 1
        if pos < n and text[pos] == "-":
            exp_negative = True
            pos += 1
        elif pos < n and text[pos] == "+":
            pos += 1
        while pos < n and text[pos].isdigit() and text[pos].isascii():
            exponent = exponent * 10 + int(text[pos])
            pos += 1
    exponent = frac_exp - exponent if exp_negative else frac_exp + exponent
    divide = exponent < 0
    exponent = min(abs(exponent), 511)
    scale = 1.0
    for power in _POWERS_OF_10:
        if not exponent:
            break
        if exponent & 1:
            scale *= power
        exponent >>= 1
    fraction = fraction / scale if divide else fraction * scale
    return -fraction if negative else fraction


def split_values(value: str) -> list[str]:
    """DCMTK's value splitting at backslashes (VM = number of backslashes + 1)."""
    return value.split("\\")


# ---------------------------------------------------------------------------
# element creation and putString


def new_element(tag: int, vr: str) -> "DataElement":
    """DcmItem::newDicomElement: an empty element of the dictionary VR."""
    from pydicom import config
    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence

    if vr in ("ox", "px") and (tag == 0x7FE00010 or (tag & 0xFF00FFFF) == 0x60003000):
        vr = "OW"  # DcmPixelData / DcmOverlayData are created as OW
    pvr = _PYDICOM_VR.get(vr, vr)
    if vr == "SQ":
        elem = DataElement(tag, "SQ", Sequence(), validation_mode=config.IGNORE)
    elif vr in STRING_VRS:
        elem = DataElement(tag, pvr, "", validation_mode=config.IGNORE)
    elif vr in FLOAT_VRS - {"OF", "OD"} or vr in ("US", "xs", "SS", "UL", "up", "SL", "UV", "SV", "AT"):
        elem = DataElement(tag, pvr, None, validation_mode=config.IGNORE)
    else:
        elem = DataElement(tag, pvr, b"", validation_mode=config.IGNORE)
    elem.dcmtk_vr = vr  # type: ignore[attr-defined]
    if tag == 0x7FE00010:
        # DcmPixelData: no representation until a value is put (unconvertible_identifier)
        elem.dcmtk_no_representation = True  # type: ignore[attr-defined]
    return elem


def put_string(elem: "DataElement", value: str, item: "Dataset | None" = None) -> None:
    """DcmElement::putString(value) for the element's DCMTK VR.

    On failure the element keeps its previous value (as in DCMTK) and
    ``PutStringError`` is raised.  An empty *value* empties the element.
    *item* (the data set holding *elem*) only serves to name a private tag
    in DcmUniqueIdentifier's warning.
    """
    from pydicom import config
    from pydicom.dataelem import DataElement

    vr = dcmtk_vr(elem)
    if value == "":
        clear_element(elem)
        return
    if vr == "SQ" or vr == "na":
        raise PutStringError(ILLEGAL_CALL)
    if vr in STRING_VRS:
        if vr == "UI":
            value = _uid_of_name(value)
        # the length field keeps the length given (made even) until the
        # value is written; the dump shows it (DcmObject::printInfoLineEnd)
        given = len(os.fsencode(value))
        if vr == "UI":
            text = _remove_uid_spaces(elem, value, item).rstrip("\0")
        else:
            text = value.rstrip(" ")
        elem.dcmtk_length = given + (given & 1)  # type: ignore[attr-defined]
        if not text.isascii():
            # DCMTK stores the bytes as typed (no character set conversion):
            # keep the original command-line bytes for the wire.
            raw = os.fsencode(text)
            if vr in _NO_BYTES_VRS:
                elem._value = RawString.of(raw)
            else:
                elem._value = _typed_person_name(raw) if vr == "PN" else raw
            return
        if vr == "PN":
            names = [_typed_person_name(part.encode("ascii")) for part in split_values(text)]
            elem._value = names[0] if len(names) == 1 else _multi(names)
        else:
            elem._value = text
        return
    parts = split_values(value)
    if vr in INT_VRS:
        bits, signed = INT_VRS[vr]
        numbers = [_to_int(v[0], bits, signed) for v in _scan_values(parts, lambda p: scan_c_int(p, 0, 10))]
        if vr == "OL":
            elem._value = struct.pack(f"<{len(numbers)}L", *numbers)
        elif vr == "OV":
            elem._value = struct.pack(f"<{len(numbers)}Q", *numbers)
        else:
            elem._value = numbers[0] if len(numbers) == 1 else _multi(numbers)
        return
    if vr in FLOAT_VRS:
        floats = _scan_values(parts, scan_c_float)
        if vr in ("FL", "OF"):
            floats = [struct.unpack("<f", struct.pack("<f", _clamp32(f)))[0] for f in floats]
        if vr == "OF":
            elem._value = struct.pack(f"<{len(floats)}f", *floats)
        elif vr == "OD":
            elem._value = struct.pack(f"<{len(floats)}d", *floats)
        else:
            elem._value = floats[0] if len(floats) == 1 else _multi(floats)
        return
    if vr == "AT":
        tags = _scan_values(parts, _scan_at)
        converted = DataElement(elem.tag, "AT", tags[0] if len(tags) == 1 else tags,
                                validation_mode=config.IGNORE)
        elem._value = converted.value
        return
    if vr in BYTE_VRS or vr in WORD_VRS:
        words = [v[0] & 0xFFFF for v in _scan_values(parts, lambda p: scan_c_int(p, 0, 16))]
        elem.dcmtk_no_representation = False  # type: ignore[attr-defined]
        if vr in WORD_VRS:
            elem._value = struct.pack(f"<{len(words)}H", *words)
        else:
            data = bytes(w & 0xFF for w in words)
            elem._value = data + b"\0" if len(data) % 2 else data
        return
    raise PutStringError(ILLEGAL_CALL)  # pragma: no cover - every VR is handled above


def plain_element(tag: int, vr: str, value: str) -> ident.Element | None:
    """The element ``new_element`` + ``put_string`` make of *value*, when
    pydicom is not needed for it: a standard data set element (even group,
    0008 and up) of a character-string VR (``STRING_VRS``), and a value that
    ``put_string`` stores exactly as typed and without a message -- printable
    ASCII, no trailing blank (removed), for UI neither white space (removed,
    with a warning) nor a leading ``=`` (a UID name), short enough for a
    16-bit length.  None otherwise."""
    group = tag >> 16
    if vr not in STRING_VRS or group < 0x0008 or group % 2:
        return None
    if not (value.isascii() and value.isprintable()) or value.endswith(" ") or len(value) > 0xFFFE:
        return None
    if vr == "UI" and (" " in value or value.startswith("=")):
        return None
    return ident.Element(tag, vr, value.encode("ascii"))


def _typed_person_name(raw: bytes) -> Any:
    """A PN value written as the bytes typed, as DCMTK sends it.  pydicom's
    PersonName is written again from its components in the data set's
    character set, which drops empty trailing component groups (``A=`` was
    sent as ``A``) and re-encodes bytes that are not ASCII."""
    return _typed_person_name_class()(raw)


@functools.cache
def _typed_person_name_class() -> Callable[[bytes], Any]:
    from pydicom import config
    from pydicom.valuerep import PersonName

    class TypedPersonName(PersonName):
        """A PersonName written as the bytes it was made of."""

        def encode(self, encodings: Any = None) -> bytes:
            return self.original_string  # type: ignore[no-any-return]

    return lambda raw: TypedPersonName(raw, validation_mode=config.IGNORE)


def _uid_of_name(value: str) -> str:
    """DcmUniqueIdentifier::putString: ``=Name`` stands for the UID of that
    name (dcmFindUIDFromName); an unknown name fails."""
    from . import uidnames

    if not value.startswith("="):
        return value
    uid = uidnames.uid_from_name(value[1:])
    if uid is None:
        _LOG.debug("DcmUniqueIdentifier::putString() cannot map UID name '%s' to UID value", value[1:])
        raise PutStringError(UNKNOWN_UID_NAME)
    return uid


def _remove_uid_spaces(elem: "DataElement", value: str, item: "Dataset | None") -> str:
    """DcmUniqueIdentifier::makeMachineByteString: every white-space
    character (leading, embedded, trailing) is removed, with a warning."""
    text = "".join(char for char in value if char not in _C_SPACE)
    if len(text) < len(value):
        _LOG.warning("%s", _uid_space_warning(elem, item))
    return text


def _uid_space_warning(elem: "DataElement", item: "Dataset | None") -> str:
    from pydicom.dataset import Dataset

    tag = elem.tag
    name = _tag_name(tag, item if item is not None else Dataset())
    return (f"DcmUniqueIdentifier: Element {name} ({tag >> 16:04x},{tag & 0xFFFF:04x}) "
            "contains one or more space characters, which were removed")


def repair_uids(ds: "Dataset") -> list[tuple[str, "DataElement"]]:
    """DcmUniqueIdentifier::makeMachineByteString for the UI values read
    from a query file, which DCMTK corrects when it first looks at them (the
    dump or the encoder): white space is removed.  Returns the warnings, in
    print order (tags ascending, depth first), with their elements, not yet
    logged: the callers log them where DCMTK does (``log_repairs``).  Values
    set by ``put_string`` are corrected already."""
    from .dump import _string_value

    repairs: list[tuple[str, DataElement]] = []
    for tag in sorted(ds.keys()):
        elem = ds[tag]
        if elem.VR == "SQ":
            for child in elem.value:
                repairs.extend(repair_uids(child))
            continue
        if dcmtk_vr(elem) != "UI" or elem.value is None or isinstance(elem.value, bytes):
            continue
        value = _string_value(elem)
        text = "".join(char for char in value if char not in _C_SPACE)
        if len(text) < len(value):
            elem._value = text
            repairs.append((_uid_space_warning(elem, ds), elem))
    return repairs


def log_repairs(repairs: list[tuple[str, "DataElement"]]) -> None:
    for text, _elem in repairs:
        _LOG.warning("%s", text)


def _tag_name(tag: int, item: "Dataset") -> str:
    """DcmTag::getTagName (a private tag is named through its creator in *item*)."""
    return dicts.get_dictionary().tag_name(tag, dicts.private_creator(tag, item))


def _scan_values(parts: list[str], scan: Callable[[str], _T | None]) -> list[_T]:
    """Each value of a multi-valued string through *scan* (an ``sscanf``
    conversion); an empty value or one *scan* cannot read makes putString
    fail as a whole, like DCMTK (no partial assignment)."""
    values = []
    for part in parts:
        value = scan(part) if part else None
        if value is None:
            raise PutStringError()
        values.append(value)
    return values


def _clamp32(value: float) -> float:
    """float → float32 as C does (overflow gives inf)."""
    if math.isfinite(value) and abs(value) > 3.4028234663852886e38:
        return math.copysign(math.inf, value)
    return value


def _scan_at(part: str) -> int | None:
    """``sscanf(value, "(%x,%x)")`` == 2."""
    if not part.startswith("("):
        return None
    group = scan_c_int(part, 1, 16)
    if group is None or part[group[1] : group[1] + 1] != ",":
        return None
    element = scan_c_int(part, group[1] + 1, 16)
    if element is None:
        return None
    return ((group[0] & 0xFFFF) << 16) | (element[0] & 0xFFFF)


def _multi(values: list[Any]) -> Any:
    from pydicom.multival import MultiValue

    return MultiValue(lambda x: x, values)


def clear_element(elem: "DataElement") -> None:
    """DcmElement::clear(): make the element empty (zero length)."""
    from pydicom.sequence import Sequence

    vr = dcmtk_vr(elem)
    if vr == "SQ":
        elem._value = Sequence()
    elif vr in STRING_VRS:
        elem._value = ""
        elem.dcmtk_length = 0  # type: ignore[attr-defined]
    elif vr in ("US", "xs", "SS", "UL", "up", "SL", "UV", "SV", "FL", "FD", "AT"):
        elem._value = None
    else:
        elem._value = b""


def dcmtk_vr(elem: "DataElement") -> str:
    """The VR DCMTK would show for *elem* (dictionary pseudo VRs kept)."""
    vr = getattr(elem, "dcmtk_vr", None)
    if vr:
        return vr
    return {"US or SS": "xs", "OB or OW": "ox", "US or OW": "lt", "US or SS or OW": "lt"}.get(
        elem.VR, elem.VR
    )


# ---------------------------------------------------------------------------
# movescu


class MoveKeys:
    """movescu's override key set (DCMTK's ``overrideKeys`` data set)."""

    def __init__(self) -> None:
        #: plain keys stay ``ident.Element``s until a data set is wanted
        self._elements: dict[int, "DataElement | ident.Element"] = {}

    def __len__(self) -> int:
        return len(self._elements)

    @property
    def tags(self) -> list[int]:
        return sorted(self._elements)

    @classmethod
    def parse(cls, keys: list[str]) -> "MoveKeys":
        """Validate and convert every ``-k`` value, rightmost first.

        Raises ``CommandLineError`` with DCMTK's message (the text after
        ``error: ``) for the first bad key met, i.e. the rightmost bad one.
        """
        result = cls()
        for key in reversed(keys):
            tag, vr, value, label = _resolve_move_key(key)
            plain = plain_element(tag, vr, value)
            # insert(elem, replaceOld=true)
            result._elements[tag] = plain if plain is not None else _move_element(tag, vr, value, label)
        return result

    def plain_elements(self) -> list[ident.Element] | None:
        """The keys as plain elements, or None if any needs pydicom."""
        plain = [elem for elem in self._elements.values() if isinstance(elem, ident.Element)]
        return plain if len(plain) == len(self._elements) else None

    def apply(self, ds: "Dataset") -> None:
        """Copy the key elements into *ds*, replacing top-level elements with
        the same tag (each call gets fresh copies)."""
        import copy

        mark_in_memory(ds)
        for tag in sorted(self._elements):
            elem = self._elements[tag]
            if isinstance(elem, ident.Element):  # typed text, put_string cannot fail: no label needed
                ds[tag] = _move_element(tag, elem.vr, elem.value.decode("ascii"), "")
            else:
                ds[tag] = copy.deepcopy(elem)


def mark_in_memory(ds: "Dataset") -> None:
    """A data set built in memory reports Little Endian Explicit in DCMTK's
    dump, whatever context it is sent on; one read from a query file keeps
    the file's transfer syntax (set by ``query.load_query_file``)."""
    if not getattr(ds, "dcmtk_transfer_syntax", None):
        ds.dcmtk_transfer_syntax = uids.EXPLICIT_LE
        ds.dcmtk_in_memory = True  # DcmDataset::getOriginalXfer() is EXS_Unknown


def unconvertible_identifier(ds: "Dataset", ts_uid: str) -> str | None:
    """DIMSE's check before sending a data set: a PixelData element created
    by a key and never given a value (DcmPixelData without any
    representation, also inside items) cannot be written in any transfer
    syntax.  Returns DCMTK's warning text after ``sendMessage: `` (the caller
    then fails with ``DIMSE Failed to send message``), None when writable."""
    if not _empty_pixel_data(ds):
        return None
    from .dump import TRANSFER_SYNTAX_NAMES

    unknown = "Unknown Transfer Syntax"
    source = unknown if getattr(ds, "dcmtk_in_memory", False) else TRANSFER_SYNTAX_NAMES.get(
        str(getattr(ds, "dcmtk_transfer_syntax", "")), unknown)
    target = TRANSFER_SYNTAX_NAMES.get(ts_uid, unknown)
    return f"unable to convert dataset from '{source}' transfer syntax to '{target}'"


def _empty_pixel_data(ds: "Dataset") -> bool:
    for elem in ds.values():
        if getattr(elem, "dcmtk_no_representation", False):
            return True
        if getattr(elem, "VR", None) == "SQ" and any(_empty_pixel_data(item) for item in elem.value):
            return True
    return False


def _resolve_move_key(key: str) -> tuple[int, str, str, str]:
    """DCMTK movescu.cc ``addOverrideKey`` for one key, up to the element:
    (tag, dictionary VR, value, ``(gggg,eeee)`` as DCMTK prints it)."""
    group = element = 0xFFFF
    eq = key.find("=")
    value = ""
    first = scan_c_int(key, 0, 16)
    second = None
    if first is not None and key[first[1] : first[1] + 1] == ",":
        second = scan_c_int(key, first[1] + 1, 16)
    dictionary = dicts.get_dictionary()
    if first is None or second is None:
        name = key[:eq] if eq >= 0 else key
        value = key[eq + 1 :] if eq >= 0 else ""
        entry = dictionary.find_name(name)
        if entry is None:
            raise CommandLineError(
                "bad key format or dictionary name not found in dictionary: " + name
            )
        group, element = entry.group, entry.element
    else:
        group, element = first[0] & 0xFFFFFFFF, second[0] & 0xFFFFFFFF
        if eq >= 0:
            value = key[eq + 1 :]
    tag = ((group & 0xFFFF) << 16) | (element & 0xFFFF)
    entry = dictionary.find_tag(tag)
    if entry is None:
        raise CommandLineError(f"unknown tag: ({group:04x},{element:04x})")
    if entry.vr == "na":  # items and delimiters: DcmItem::newDicomElement gives NULL
        raise CommandLineError(f"cannot create element for tag: ({group:04x},{element:04x})")
    return tag, entry.vr, value, f"({group:04x},{element:04x})"


def _move_element(tag: int, vr: str, value: str, label: str) -> "DataElement":
    """The rest of ``addOverrideKey``: the element and its value."""
    elem = new_element(tag, vr)
    if value:
        try:
            put_string(elem, value)
        except PutStringError:
            raise CommandLineError(f'cannot put tag value: {label}="{value}"') from None
    return elem


# ---------------------------------------------------------------------------
# getscu (DcmPathProcessor)


class PathError(Exception):
    """A path could not be applied; ``reason`` is DCMTK's condition text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_get_keys(ds: "Dataset", keys: list[str], logger: logging.Logger) -> None:
    """Apply getscu's ``-k`` paths in command-line order to *ds* in place.

    Bad keys are logged at ERROR as ``Bad override key/path: <key>: <reason>``;
    whatever they created before failing stays, as in DCMTK.
    """
    mark_in_memory(ds)
    for key in keys:
        try:
            apply_path_with_value(ds, key)
        except PathError as exc:
            logger.error("Bad override key/path: %s: %s", key, exc.reason)


def plain_get_keys(keys: list[str]) -> list[ident.Element] | None:
    """getscu's keys as plain elements (``plain_element``; rightmost wins,
    as ``apply_get_keys`` on an empty data set), or None when any key needs
    the pydicom data set: a path into a sequence, a private tag, another VR,
    a value put_string would change, a key ``apply_get_keys`` reports."""
    elements: dict[int, ident.Element] = {}
    no_item = cast("Dataset", {})  # only private tags look at the item
    for key in keys:
        if key == "":
            continue
        try:
            path, value = _split_key(key)
            tag, vr, rest = _parse_tag_from_path(path, no_item)
        except PathError:
            return None
        plain = plain_element(tag, vr, value) if rest == "" else None
        if plain is None:
            return None
        elements[tag] = plain
    return list(elements.values())


def _split_key(key: str) -> tuple[str, str]:
    """(path, value) of a non-empty key; PathError for an empty path or a wildcard."""
    eq = key.find("=")
    path, value = (key[:eq], key[eq + 1 :]) if eq >= 0 else (key, "")
    if path == "":
        raise PathError(ILLEGAL_PARAMETER)
    if "*" in path:
        raise PathError("Item wildcard '*' found in path but wildcards disabled")
    return path, value


def apply_path_with_value(ds: "Dataset", key: str) -> None:
    """DcmPathProcessor::applyPathWithValue (create if necessary, no wildcards)."""
    if key == "":
        return
    path, value = _split_key(key)
    target, target_item = _find_or_create_item_path(ds, path)
    from pydicom.dataset import Dataset

    if isinstance(target, Dataset) or dcmtk_vr(target) == "SQ":
        if value:
            raise PathError("Cannot insert value into path ending with item or sequence")
        return
    if value == "":
        clear_element(target)
        return
    try:
        put_string(target, value, target_item)
    except PutStringError as exc:
        raise PathError(exc.reason) from None


def _parse_tag_from_path(path: str, item: "Dataset") -> tuple[int, str, str]:
    """DcmPathProcessor::parseTagFromPath: returns (tag, VR, rest of path)."""
    if path.startswith("("):
        close = path.find(")")
        if close < 0:
            raise PathError("Unable to parse tag at beginning of path: " + path)
        tag_text, rest = path[1:close], path[close + 1 :]
    else:
        bracket = path.find("[")
        tag_text, rest = (path, "") if bracket < 0 else (path[:bracket], path[bracket:])
    parsed = _parse_tag_from_string(tag_text, item)
    if parsed is None:
        raise PathError("Unable to parse tag/dictionary name at beginning of path: " + path)
    return parsed[0], parsed[1], rest


def _parse_tag_from_string(text: str, item: "Dataset") -> tuple[int, str] | None:
    """DcmPath::parseTagFromString: ``%x,%x`` or a dictionary name."""
    dictionary = dicts.get_dictionary()
    first = scan_c_int(text, 0, 16)
    if first is not None and text[first[1] : first[1] + 1] == ",":
        second = scan_c_int(text, first[1] + 1, 16)
        if second is not None:
            tag = ((first[0] & 0xFFFF) << 16) | (second[0] & 0xFFFF)
            return tag, _vr_for_tag(tag, item, dictionary)
    entry = dictionary.find_name(text)
    if entry is None:
        return None
    # DcmTag(key): the VR comes from a fresh lookup of the tag, so a private
    # name resolves to its (gggg,00ee) key and gets that key's VR.
    return entry.tag, _vr_for_tag(entry.tag, item, dictionary)


def _vr_for_tag(tag: int, item: "Dataset", dictionary: dicts.DataDictionary) -> str:
    """DcmTag VR lookup; for a private data element the creator is taken from
    the current item (no reservation check, as getscu configures it)."""
    entry = dictionary.find_tag(tag, dicts.private_creator(tag, item))
    return entry.vr if entry is not None else "??"


def _find_or_create_item_path(item: "Dataset", path: str) -> tuple[Any, "Dataset | None"]:
    """DcmPathProcessor::findOrCreateItemPath; returns the last node and
    the item that holds it (None when the node is an item)."""
    tag, vr, rest = _parse_tag_from_path(path, item)
    created = False
    if tag not in item:
        if vr == "na":  # items and delimiters cannot be created as elements
            raise PathError(ILLEGAL_CALL)
        item[tag] = new_element(tag, vr)
        created = True
    elem = item[tag]
    try:
        if dcmtk_vr(elem) == "SQ":
            if rest == "":
                return elem, item
            return _find_or_create_sequence_path(elem, rest)
        if rest == "":
            return elem, item
        raise PathError("Invalid Path: Non-sequence tag found with rest path following")
    except PathError:
        if created:
            del item[tag]
        raise


def _find_or_create_sequence_path(seq_elem: "DataElement", path: str) -> tuple[Any, "Dataset | None"]:
    """DcmPathProcessor::findOrCreateSequencePath (no wildcards)."""
    from pydicom.dataset import Dataset

    number, rest = _parse_item_number(path)
    sequence = seq_elem.value
    appended = 0
    while len(sequence) < number + 1:
        sequence.append(Dataset())
        appended += 1
    item = sequence[number]
    if rest == "":
        return item, None
    try:
        return _find_or_create_item_path(item, rest)
    except PathError:
        for _ in range(appended):
            del sequence[len(sequence) - 1]
        raise


def _parse_item_number(path: str) -> tuple[int, str]:
    """DcmPathProcessor::parseItemNoFromPath: ``[%ld]``; one character after
    ``]`` (normally the ``.``) is cut off unchecked."""
    close = path.find("]")
    if close >= 0 and path.startswith("["):
        scanned = scan_c_int(path, 1, 10)
        if scanned is not None:
            value = scanned[0]
            if value >= 2**63:
                value -= 2**64
            if value < 0:
                raise PathError("Negative item number (not permitted) at beginning of path: " + path)
            if close + 1 < len(path):
                close += 1
            return value & 0xFFFFFFFF, path[close + 1 :]
    raise PathError("Unable to parse item number at beginning of path: " + path)
