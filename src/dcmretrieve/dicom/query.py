"""Loading query files the way DCMTK 3.6.7's movescu/getscu do.

A query file is any DICOM file (preamble + ``DICM`` + meta header, the meta
header is ignored) or a bare data set without preamble, whose transfer syntax
is guessed like ``DcmItem::checkTransferSyntax`` (explicit if bytes 4-5 are a
VR name; byte order from which reading gives a known tag).

WHY our own structural walk before pydicom: DCMTK rejects truncated or
garbage input with specific condition texts that both tools print
(movescu: ``E: bad DICOM file: <path>: <reason>``; getscu:
``F: <code> <reason>``), and it logs a few parser diagnostics on the way.
pydicom with ``force=True`` would accept far more, so the walk decides
acceptance and pydicom only builds the data set.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

from . import dicts, uids, walker

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

_LOG = logging.getLogger("dcmtk.dcmdata")

#: DCMTK condition texts (module 0001 = dcmdata) and their codes.
END_OF_STREAM = "End of stream"
PREMATURE_END = "I/O suspension or premature end of stream"
INVALID_STREAM = "Invalid stream"
_CODES = {END_OF_STREAM: "0001:0005", PREMATURE_END: "0001:000a", INVALID_STREAM: "0001:0004"}
#: DCMTK loads values up to this size at once; longer ones are skipped and
#: read on demand, which changes the diagnostics for a truncated file.
MAX_READ_LENGTH = 4096

#: string VRs: the dump shows their length field as read (``_normalize``)
_STRING_VRS = frozenset("AE AS CS DA DS DT IS LO LT PN SH ST TM UC UI UR UT".split())


class QueryFileError(Exception):
    """The query file is not acceptable; ``reason`` is DCMTK's condition
    text, ``code`` its ``mmmm:cccc`` (getscu prints ``F: <code> <reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = _CODES.get(reason, "0001:000a")

    @property
    def dump(self) -> str:
        """``<code> <reason>`` as DCMTK's ``OFCondition`` dump."""
        return f"{self.code} {self.reason}"


def load_query_file(path: str) -> "Dataset":
    """Read *path* as DCMTK does; raise ``QueryFileError`` if DCMTK would.

    The returned data set carries ``dcmtk_transfer_syntax`` (for the dump's
    ``# Used TransferSyntax:`` line) and, on sequences and items,
    ``dcmtk_length`` (DCMTK's length field as read).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise QueryFileError(PREMATURE_END) from None
    except OSError:
        raise QueryFileError(PREMATURE_END) from None
    if not data:
        raise QueryFileError(END_OF_STREAM)
    offset = 0
    if len(data) >= 132 and data[128:132] == b"DICM":
        offset, uid = _skip_meta(data, 132)
    elif data[:4] == b"DICM":
        offset, uid = _skip_meta(data, 4)
    elif len(data) >= 6 and data[:2] == b"\x02\x00" and data[4:6].decode("latin-1") in walker.STANDARD_VRS:
        offset, uid = _skip_meta(data, 0)  # meta header without preamble
    else:
        uid = _guess_transfer_syntax(data)
    body = data[offset:]
    if uid == uids.DEFLATED_LE:
        import zlib

        try:
            body = zlib.decompress(body, -zlib.MAX_WBITS)
        except zlib.error:
            raise QueryFileError(PREMATURE_END) from None
        walk_uid = uids.EXPLICIT_LE
    else:
        walk_uid = uid
    implicit = walk_uid == uids.IMPLICIT_LE
    little = walk_uid != uids.EXPLICIT_BE
    scan = _Walker(body, implicit, little)
    scan.walk_items(0, len(body), top=True)
    for start, end in reversed(scan.duplicates):  # keep the first occurrence, as DCMTK
        body = body[:start] + body[end:]
    ds = _build_dataset(body, implicit, little)
    _normalize(ds, implicit, little)
    ds.dcmtk_transfer_syntax = uid
    record_lengths(ds, implicit, little)
    return ds


def _skip_meta(data: bytes, offset: int) -> tuple[int, str]:
    """Walk the (explicit little endian) group 0002 elements; return the
    offset of the data set and its transfer syntax."""
    uid = uids.EXPLICIT_LE
    end = len(data)
    pos = offset
    seen_meta = False
    while pos < end:
        if end - pos < 8:
            raise QueryFileError(PREMATURE_END)
        group, element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6].decode("latin-1")
        if vr in walker.LONG_VRS:
            if end - pos < 12:
                raise QueryFileError(PREMATURE_END)
            length = struct.unpack_from("<L", data, pos + 8)[0]
            header = 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            header = 8
        _check_value((group << 16) | element, length, end - pos - header, not seen_meta)
        value = data[pos + header : pos + header + length]
        if element == 0x0010:
            uid = value.decode("latin-1").rstrip("\0 ")
        pos += header + length
        seen_meta = True
    if not seen_meta:
        raise QueryFileError(PREMATURE_END)
    if pos >= end:
        raise QueryFileError(PREMATURE_END)
    return pos, uid


def _known(tag: int) -> bool:
    return dicts.get_dictionary().find_tag(tag) is not None


def _guess_transfer_syntax(data: bytes) -> str:
    """DcmItem::checkTransferSyntax on the first six bytes."""
    if len(data) < 6:
        return uids.IMPLICIT_LE
    little_tag = struct.unpack_from("<HH", data, 0)
    big_tag = struct.unpack_from(">HH", data, 0)
    t_little = (little_tag[0] << 16) | little_tag[1]
    t_big = (big_tag[0] << 16) | big_tag[1]
    explicit = data[4:6].decode("latin-1") in walker.STANDARD_VRS
    little_ok, big_ok = _known(t_little), _known(t_big)
    if little_ok and not big_ok:
        big = False
    elif big_ok and not little_ok:
        big = True
    elif not little_ok and not big_ok:
        big = False
    else:
        big = little_tag[0] > 0xFF and big_tag[0] <= 0xFF
    if explicit:
        return uids.EXPLICIT_BE if big else uids.EXPLICIT_LE
    return uids.IMPLICIT_LE  # big endian implicit is not a DICOM transfer syntax


def _check_value(tag: int, length: int, remaining: int, first: bool) -> None:
    """DCMTK's reaction to a value longer than the rest of the file
    (observed with 3.6.7): nothing left after the header → "premature end"
    (logged unless it is the first element of its item); part of a small
    value present → "Invalid stream"; a large value (read on demand) →
    "premature end"."""
    if first and remaining == 0 and length not in (0, walker.UNDEFINED):
        raise QueryFileError(PREMATURE_END)  # DCMTK stops before any diagnostic
    if length & 1 and length != walker.UNDEFINED and tag >> 16 != 0xFFFE:
        _LOG.warning("DcmItem: Length of element (%04x,%04x) is odd", tag >> 16, tag & 0xFFFF)
    if length == walker.UNDEFINED or length <= remaining:
        return
    name = dicts.get_dictionary().tag_name(tag)
    where = f"DcmElement: {name} ({tag >> 16:04x},{tag & 0xFFFF:04x}) larger ({length})"
    if remaining == 0:
        _LOG.error("%s than remaining bytes in file", where)
        raise QueryFileError(PREMATURE_END)
    if length > MAX_READ_LENGTH:
        _LOG.error("%s than remaining bytes in file", where)
        raise QueryFileError(PREMATURE_END)
    _LOG.error("%s than remaining bytes (%d) in file, premature end of stream", where, remaining)
    raise QueryFileError(INVALID_STREAM)


class _Walker(walker.HeaderReader):
    """Structural check of an encoded data set (lengths within the data,
    items and delimiters well formed), with DCMTK's parser diagnostics for
    files; element headers are decoded by the one walker's ``HeaderReader``."""

    def __init__(self, data: bytes, implicit: bool, little: bool) -> None:
        super().__init__(data, not implicit, little)
        self.data = data
        self.duplicates: list[tuple[int, int]] = []

    def short(self) -> None:
        raise QueryFileError(PREMATURE_END)

    def walk_items(self, pos: int, end: int, top: bool = False, delimited: bool = False) -> int:
        """Walk elements from *pos*; stop at *end* or an item delimiter.
        Returns the position after the last consumed byte.  Repeated tags of
        the top-level data set are recorded in ``duplicates`` (DCMTK keeps
        the first, pydicom the last occurrence)."""
        seen: set[int] = set()
        highest = -1
        while pos < end:
            start = pos
            tag, vr, length, size = self.header(pos, end)
            if tag == 0xFFFEE00D:  # item delimitation
                return pos + size
            duplicate = tag in seen
            first = not seen
            seen.add(tag)
            pos += size
            if length == walker.UNDEFINED:
                if tag == 0x7FE00010 or vr in ("OB", "OW"):
                    pos = self.walk_fragments(pos, end)  # encapsulated pixel data
                else:
                    pos = self.walk_sequence(pos, end, delimited=True)
            else:
                _check_value(tag, length, end - pos, first)
                if vr == "SQ" or (vr is None and _is_sequence(tag)):
                    self.walk_sequence(pos, pos + length, delimited=False)
                pos += length
            # DcmItem::readSubElement inserts the element after reading its
            # value (nested items first): DcmItem::insert's diagnostics
            if duplicate:
                _LOG.warning(
                    "DcmItem: Element (%04x,%04x) found twice in one data set or item, "
                    "ignoring second entry", tag >> 16, tag & 0xFFFF,
                )
            elif tag < highest:
                _LOG.warning("DcmItem: Dataset not in ascending tag order, at element (%04x,%04x)",
                             tag >> 16, tag & 0xFFFF)
            highest = max(highest, tag)
            if duplicate and top:
                self.duplicates.append((start, pos))
        if delimited:
            raise QueryFileError(PREMATURE_END)  # undefined length item without delimiter
        return pos

    def walk_fragments(self, pos: int, end: int) -> int:
        """Items of encapsulated pixel data hold bytes, not data sets."""
        while pos < end:
            tag, _vr, length, _size = self.header(pos, end)
            pos += 8
            if tag == 0xFFFEE0DD:
                return pos
            if tag != 0xFFFEE000 or length == walker.UNDEFINED or length > end - pos:
                raise QueryFileError(PREMATURE_END)
            pos += length
        raise QueryFileError(PREMATURE_END)

    def walk_sequence(self, pos: int, end: int, delimited: bool) -> int:
        """Items of a sequence up to *end* (defined length) or up to its
        sequence delimiter (*delimited*: undefined length)."""
        while pos < end:
            tag, _vr, length, _size = self.header(pos, end)
            pos += 8
            if tag == 0xFFFEE0DD:
                return pos
            if tag != 0xFFFEE000:
                raise QueryFileError(PREMATURE_END)
            if length == walker.UNDEFINED:
                pos = self.walk_items(pos, end, delimited=True)
                continue
            if length > end - pos:
                raise QueryFileError(PREMATURE_END)
            self.walk_items(pos, pos + length)
            pos += length
        if delimited:
            raise QueryFileError(PREMATURE_END)  # undefined length without delimiter
        return pos


def _is_sequence(tag: int) -> bool:
    entry = dicts.get_dictionary().find_tag(tag)
    return entry is not None and entry.vr == "SQ"


def _convert_all(ds: "Dataset") -> None:
    """Convert every raw element (recursively), recording the string lengths."""
    lengths = _raw_lengths(ds)
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _convert_all(item)
    _record_string_lengths(ds, lengths)


def _raw_lengths(ds: "Dataset") -> dict[int, int]:
    """The length fields of the elements of *ds* not decoded yet."""
    from pydicom.dataelem import RawDataElement

    return {tag: raw.length for tag, raw in ds._dict.items()
            if isinstance(raw, RawDataElement) and raw.length != walker.UNDEFINED}


def _record_string_lengths(ds: "Dataset", lengths: dict[int, int]) -> None:
    """String elements keep the length field as read in ``dcmtk_length``
    (made even, as DcmByteString::postLoadValue does): pydicom strips the
    padding that DCMTK's dump still counts."""
    for tag, length in lengths.items():
        elem = ds[tag]
        if elem.VR in _STRING_VRS:
            elem.dcmtk_length = length + (length & 1)


def _build_dataset(body: bytes, implicit: bool, little: bool) -> "Dataset":
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import read_dataset

    import warnings

    from pydicom import config

    fp = DicomBytesIO(body)
    fp.is_little_endian = little
    fp.is_implicit_VR = implicit
    # DCMTK does not validate values when reading; pydicom would warn on
    # stderr (and through its logger) about e.g. over-long UIDs.
    saved = config.settings.reading_validation_mode
    saved_un = config.replace_un_with_known_vr
    config.settings.reading_validation_mode = config.IGNORE
    config.replace_un_with_known_vr = False  # DCMTK keeps an explicit UN as UN
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_dataset(fp, implicit, little)
            if implicit:
                _keep_unknown_raw(ds)
            _convert_all(ds)  # now: failures are bad files
    except Exception:  # noqa: BLE001 - any pydicom failure is a bad file for DCMTK
        raise QueryFileError(PREMATURE_END) from None
    finally:
        config.settings.reading_validation_mode = saved
        config.replace_un_with_known_vr = saved_un
    return ds


def _keep_unknown_raw(ds: "Dataset") -> None:
    """Implicit VR: tags DCMTK's dictionary does not know stay raw bytes
    (DCMTK shows them as ``??`` hex), even when pydicom's newer dictionary
    could decode them; recurses into the items of known sequences."""
    from pydicom import config
    from pydicom.dataelem import DataElement, RawDataElement

    dictionary = dicts.get_dictionary()
    raw_elements = ds._dict  # pydicom keeps undecoded RawDataElements here
    lengths = _raw_lengths(ds)
    for tag in list(raw_elements):
        raw = raw_elements[tag]
        if not isinstance(raw, RawDataElement) or raw.length == walker.UNDEFINED:
            continue
        group, element = tag >> 16, tag & 0xFFFF
        creator = None
        if group % 2 == 1 and element >= 0x1000:
            creator_raw = raw_elements.get((group << 16) | (element >> 8))
            value = getattr(creator_raw, "value", None)
            if isinstance(value, bytes):
                creator = value.decode("latin-1").rstrip(" \0") or None
            elif isinstance(value, str):
                creator = value.rstrip(" ") or None
        if dictionary.find_tag(tag, creator) is None:
            raw_elements[tag] = DataElement(tag, "UN", raw.value or b"", validation_mode=config.IGNORE)
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _keep_unknown_raw(item)
    _record_string_lengths(ds, lengths)


#: DICOMDIR offsets, typed ``up`` in DCMTK's dictionary.
_UP_TAGS = frozenset({0x00041200, 0x00041202, 0x00041400, 0x00041420, 0x00041504})

#: Word sizes of the "other" VRs whose bytes pydicom keeps as read.
_SWAP_SIZES = {"OW": 2, "US or OW": 2, "OB or OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _normalize(ds: "Dataset", implicit: bool, little: bool) -> None:
    """Make the in-memory data set look like DCMTK's: byte values of
    big endian files swapped to little endian (the dump and pynetdicom's
    encoder treat raw words as little endian), and, for implicit VR, the
    dictionary VR (``xs``, ``??`` ...) recorded for the dump."""
    dictionary = dicts.get_dictionary()
    for elem in list(ds):
        if elem.VR == "SQ":
            for item in elem.value:
                _normalize(item, implicit, little)
            continue
        if not little and isinstance(elem.value, bytes) and elem.VR in _SWAP_SIZES:
            size = _SWAP_SIZES[elem.VR]
            data = elem.value
            count = len(data) // size
            swapped = b"".join(data[i * size : (i + 1) * size][::-1] for i in range(count))
            elem._value = swapped + data[count * size :]
        if not implicit and elem.VR == "UL" and elem.tag in _UP_TAGS:
            elem.dcmtk_vr = "up"  # DCMTK keeps the dictionary's "up" for UL offsets
        if implicit:
            entry = dictionary.find_tag(elem.tag, dicts.private_creator(elem.tag, ds))
            if entry is not None and entry.vr == "xs" and 0x00280103 in ds:
                # DCMTK's checkAndUpdateVR: PixelRepresentation decides US/SS
                representation = ds[0x00280103].value
                elem.dcmtk_vr = "SS" if representation == 1 else "US"
            elif entry is None:
                elem.dcmtk_vr = "??"
            elif entry.vr in ("ox", "px") and (elem.tag == 0x7FE00010 or (elem.tag & 0xFF00FFFF) == 0x60003000):
                elem.dcmtk_vr = "OW"
            else:
                elem.dcmtk_vr = entry.vr


def record_lengths(ds: "Dataset", implicit: bool, little: bool) -> None:
    """Store DCMTK's length fields (as read) on every sequence and item."""
    for elem in ds:
        if elem.VR == "SQ":
            total = 0
            for item in elem.value:
                record_lengths(item, implicit, little)
                item_length = _encoded_item_length(item, implicit, little)
                item.dcmtk_length = item_length
                total += 8 + item_length
                if getattr(item, "is_undefined_length_sequence_item", False):
                    total += 8
            elem.dcmtk_length = total


def _encoded_item_length(item: "Dataset", implicit: bool, little: bool) -> int:
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    fp = DicomBytesIO()
    fp.is_little_endian = little
    fp.is_implicit_VR = implicit
    write_dataset(fp, item)
    return len(fp.getvalue())
