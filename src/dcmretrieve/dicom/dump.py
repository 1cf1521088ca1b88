"""Data set dumps in DCMTK's ``DcmDataset::print`` format (dcmdump text).

WHY byte-exact: movescu ``-v`` prints every C-MOVE identifier this way
(``Request Identifiers:``) and getscu ``-d`` prints the C-GET identifier
inside the DIMSE dump; scripts grep these lines.

Line format (DcmObject::printInfoLine)::

    <2*level blanks>(gggg,eeee) VR <value padded to 40> # <len:3>,<vm:2> <name>

* movescu's ``Request Identifiers`` use the default flags: long values are
  printed in full (``shorten=False``).
* getscu's DIMSE dump uses ``PF_shortenLongTagValues``: values longer than
  70 characters are cut with ``...`` (``shorten=True``).

Lengths of sequences and items are DCMTK's *length field*: the value read
from the query file (``query.load_query_file`` records it in
``dcmtk_length``) or 0 for elements created in memory; ``u/l`` for
undefined length.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from . import dicts, uids
from .keys import SINGLE_STRING_VRS, STRING_VRS, WORD_VRS, dcmtk_vr

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

    from .ident import Element

#: DCM_OptPrintValueLength: values are padded to this width.
VALUE_WIDTH = 40
#: DCM_OptPrintLineLength: limit for shortened values.
LINE_LENGTH = 70
UNDEFINED_LENGTH = 0xFFFFFFFF

#: DcmXfer names for the ``# Used TransferSyntax:`` line.
TRANSFER_SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "Little Endian Implicit",
    "1.2.840.10008.1.2.1": "Little Endian Explicit",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Big Endian Explicit",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended, Process 2+4",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless, Non-hierarchical, Process 14",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless, Non-hierarchical, 1st Order Prediction",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Lossy (Near-lossless)",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 (Lossless only)",
    "1.2.840.10008.1.2.4.91": "JPEG 2000 (Lossless or Lossy)",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


_INT_FORMATS = {"US": "H", "xs": "H", "SS": "h", "UL": "L", "up": "L", "SL": "l",
                "UV": "Q", "SV": "q", "FL": "f", "FD": "d"}
_OTHER_NUMERIC = {"OF": "f", "OD": "d", "OL": "L", "OV": "Q"}
_NUMERIC_SIZE = {"H": 2, "h": 2, "L": 4, "l": 4, "Q": 8, "q": 8, "f": 4, "d": 8}


class _Lines(list):  # type: ignore[type-arg]
    """The dump's lines, remembering where the line of ``start`` begins."""

    def __init__(self, lines: list[str], start: "DataElement | None") -> None:
        super().__init__(lines)
        self.start = start
        self.mark = 0


def dump_dataset(ds: "Dataset", transfer_syntax_uid: str | None = None, *, shorten: bool = False,
                 start: "DataElement | None" = None) -> str:
    """Render *ds* like ``DcmDataset::print`` (no leading/trailing newline).

    The ``# Used TransferSyntax:`` line names the data set's *own* transfer
    syntax, as DCMTK's does: the one recorded by ``query.load_query_file`` or
    by the key functions (Little Endian Explicit for data sets built in
    memory) wins; ``transfer_syntax_uid`` is used for other data sets (e.g.
    received ones), else Little Endian Explicit.  movescu's ``Request Identifiers:`` block is
    ``"Request Identifiers:\\n\\n" + dump + "\\n"`` (DCMTK prints an empty
    line before and after the dump).

    With *start* (an element of *ds*), only the lines from that element's
    line on: what remains of a log message when DCMTK logs a warning while
    printing that element (see ``keys.repair_uids``).
    """
    uid = getattr(ds, "dcmtk_transfer_syntax", None) or transfer_syntax_uid or uids.EXPLICIT_LE
    name = TRANSFER_SYNTAX_NAMES.get(uid, "Unknown Transfer Syntax")
    lines = _Lines(["# Dicom-Data-Set", f"# Used TransferSyntax: {name}"], start)
    _dump_items(ds, 0, lines, shorten, uid, None)
    return "\n".join(lines[lines.mark :])


def dump_plain(elements: Iterable["Element"], *, shorten: bool = False) -> str:
    """``dump_dataset`` of the data set plain ``-k`` elements make
    (``dicom.ident``), without building it: a data set built in memory
    (Little Endian Explicit, as ``keys.mark_in_memory`` says), top-level
    standard elements of character-string VRs whose text is the ASCII typed
    and whose stored length is ``put_string``'s (the value padded to even).
    WHY: movescu ``-v`` prints the identifier of every request, and building
    pydicom's data set for it costs the import of pydicom (about 100 ms)."""
    lines = ["# Dicom-Data-Set", f"# Used TransferSyntax: {TRANSFER_SYNTAX_NAMES[uids.EXPLICIT_LE]}"]
    dictionary = dicts.get_dictionary()
    for elem in sorted(elements, key=lambda e: e.tag):
        text = elem.value.decode("ascii").rstrip(" ")
        if elem.vr == "UI":
            text = text.rstrip("\0")
        given = len(elem.value)
        info, length, vm, printed = _string_info(text, lambda t: t.encode("ascii"), elem.vr,
                                                 given + (given & 1), shorten)
        lines.append(_line(0, elem.tag, elem.vr, info, length, vm, dictionary.tag_name(elem.tag), shorten, printed))
    return "\n".join(lines)


def _dump_items(ds: "Dataset", level: int, lines: list[str], shorten: bool, uid: str,
                encodings: list[str] | None) -> None:
    encodings = _encodings(ds, encodings)
    for tag in sorted(ds.keys()):
        elem = ds[tag]
        _dump_element(elem, ds, level, lines, shorten, uid, encodings)


def _encodings(ds: "Dataset", inherited: list[str] | None) -> list[str] | None:
    """Python codecs of the item's Specific Character Set (or the parent's):
    DCMTK prints and counts the bytes as stored, so lengths follow them."""
    if 0x00080005 not in ds:
        return inherited
    try:
        import warnings

        from pydicom.charset import convert_encodings

        value = ds[0x00080005].value
        terms = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about unknown terms (DCMTK's dump does not)
            return convert_encodings([str(t) for t in terms if t is not None] or [""])
    except Exception:  # noqa: BLE001 - unknown terms: DCMTK counts the raw bytes anyway
        return inherited


def _line(level: int, tag: int, vr: str, info: str, length: int, vm: int, name: str,
          shorten: bool, printed: int | None = None) -> str:
    """DcmObject::printInfoLine / printInfoLineEnd."""
    if printed is None:
        # DCMTK counts bytes (UTF-8 from the command line counts per byte)
        raw = info.encode("utf-8", "surrogateescape") if not info.isascii() else None
        size = len(raw) if raw is not None else len(info)
        if shorten and size > LINE_LENGTH:
            if raw is not None:
                info = raw[: LINE_LENGTH - 3].decode("utf-8", "surrogateescape") + "..."
            else:
                info = info[: LINE_LENGTH - 3] + "..."
            size = LINE_LENGTH
        printed = size
    pad = " " * (VALUE_WIDTH - printed) if printed < VALUE_WIDTH else ""
    length_text = "u/l" if length == UNDEFINED_LENGTH else f"{length:3d}"
    return (
        f"{'  ' * level}({tag >> 16:04x},{tag & 0xFFFF:04x}) {vr} {info}{pad} "
        f"# {length_text},{vm:2d} {name}"
    )


def _tag_name(tag: int, item: "Dataset") -> str:
    return dicts.get_dictionary().tag_name(tag, dicts.private_creator(tag, item))


def _dump_element(elem: "DataElement", item: "Dataset", level: int, lines: list[str],
                  shorten: bool, uid: str, encodings: list[str] | None) -> None:
    tag = elem.tag
    vr = dcmtk_vr(elem)
    name = _tag_name(tag, item)
    if vr == "SQ":
        _dump_sequence(elem, level, lines, shorten, uid, name, encodings)
        return
    if getattr(elem, "is_undefined_length", False) and isinstance(elem.value, bytes) and vr in ("OB", "OW", "ox", "px"):
        _dump_pixel_sequence(elem, vr, level, lines, shorten, name)
        return
    info, length, vm, printed = _value_info(elem, vr, shorten, uid, encodings)
    if isinstance(lines, _Lines) and elem is lines.start:
        lines.mark = len(lines)
    lines.append(_line(level, tag, vr, info, length, vm, name, shorten, printed))


def _dump_pixel_sequence(elem: "DataElement", vr: str, level: int, lines: list[str],
                         shorten: bool, name: str) -> None:
    """Encapsulated pixel data (DcmPixelSequence::print): one ``pi`` line per
    fragment; pydicom keeps the fragments with their item headers."""
    data = elem.value
    fragments: list[bytes] = []
    pos = 0
    while pos + 8 <= len(data):
        tag_group, tag_element, length = struct.unpack_from("<HHL", data, pos)
        pos += 8
        if (tag_group, tag_element) != (0xFFFE, 0xE000):
            break
        fragments.append(data[pos : pos + length])
        pos += length
    lines.append(_line(level, elem.tag, "OB", f"(PixelSequence #={len(fragments)})", UNDEFINED_LENGTH, 1, name, shorten))
    for fragment in fragments:
        if fragment:
            texts = [f"{b:02x}" for b in fragment]
            count = len(texts)
            expected = count * 3 - 1
            print_count = (LINE_LENGTH - 3 + 1) // 3 if (shorten and expected > LINE_LENGTH) else count
            info = "\\".join(texts[:print_count])
            printed = print_count * 3 - 1
            if print_count < count:
                info += "..."
                printed += 3
        else:
            info, printed = "(no value available)", None
        lines.append(_line(level + 1, 0xFFFEE000, "pi", info, len(fragment), 1, "Item", shorten, printed))
    lines.append(_line(level, 0xFFFEE0DD, "na", "(SequenceDelimitationItem)", 0, 0,
                       "SequenceDelimitationItem", shorten))


def _dump_sequence(elem: "DataElement", level: int, lines: list[str], shorten: bool,
                   uid: str, name: str, encodings: list[str] | None) -> None:
    items = list(elem.value or [])
    undefined = bool(getattr(elem, "is_undefined_length", False)) and hasattr(elem, "dcmtk_length")
    length = getattr(elem, "dcmtk_length", 0)
    kind = "undefined" if undefined else "explicit"
    lines.append(_line(level, elem.tag, "SQ", f"(Sequence with {kind} length #={len(items)})",
                       UNDEFINED_LENGTH if undefined else length, 1, name, shorten))
    for item in items:
        item_undefined = bool(getattr(item, "is_undefined_length_sequence_item", False)) and hasattr(
            item, "dcmtk_length"
        )
        item_length = getattr(item, "dcmtk_length", 0)
        item_kind = "undefined" if item_undefined else "explicit"
        lines.append(_line(level + 1, 0xFFFEE000, "na",
                           f"(Item with {item_kind} length #={len(item)})",
                           UNDEFINED_LENGTH if item_undefined else item_length, 1, "Item", shorten))
        _dump_items(item, level + 2, lines, shorten, uid, encodings)
        text = "(ItemDelimitationItem)" if item_undefined else "(ItemDelimitationItem for re-encoding)"
        lines.append(_line(level + 1, 0xFFFEE00D, "na", text, 0, 0, "ItemDelimitationItem", shorten))
    text = "(SequenceDelimitationItem)" if undefined else "(SequenceDelimitationItem for re-encod.)"
    lines.append(_line(level, 0xFFFEE0DD, "na", text, 0, 0, "SequenceDelimitationItem", shorten))


def _string_value(elem: "DataElement") -> str:
    """The element's string as DCMTK holds it.  Raw bytes (``-k`` values with
    non-ASCII characters are kept as the bytes typed) are shown as UTF-8,
    which is what a terminal shows for DCMTK's raw output."""
    value = elem.value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(_one_string(v) for v in value)
    return _one_string(value)


def _one_string(value: Any) -> str:
    typed = getattr(value, "dcmtk_bytes", None)  # keys.RawString
    if isinstance(typed, bytes):
        return typed.decode("utf-8", "surrogateescape")
    original = getattr(value, "original_string", None)
    if isinstance(original, str):
        return original
    if isinstance(original, bytes):
        return original.decode("utf-8", "surrogateescape")
    return str(value)


def _encode(text: str, elem: "DataElement", encodings: list[str] | None) -> bytes:
    """Bytes of *text* as stored: raw command-line bytes are UTF-8/undecoded;
    values read by pydicom are re-encoded with their character set."""
    if text.isascii():
        return text.encode("ascii")
    raw_value = elem.value
    if (isinstance(raw_value, bytes) or isinstance(getattr(raw_value, "original_string", None), bytes)
            or isinstance(getattr(raw_value, "dcmtk_bytes", None), bytes)):
        return text.encode("utf-8", "surrogateescape")
    if encodings:
        try:
            from pydicom.charset import encode_string

            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return encode_string(text, encodings)
        except Exception:  # noqa: BLE001
            pass
    return text.encode("utf-8", "surrogateescape")


def _value_info(elem: "DataElement", vr: str, shorten: bool, uid: str,
                encodings: list[str] | None = None) -> tuple[str, int, int, int | None]:
    """(info text, length field, VM, printed length or None)."""
    if vr in STRING_VRS:
        text = _string_value(elem).rstrip(" ")
        if vr == "UI":
            text = text.rstrip("\0")
        # the length field as read or as put (even), before DCMTK strips
        # the padding or a UID's white space; else the value's length
        stored = getattr(elem, "dcmtk_length", None)
        return _string_info(text, lambda t: _encode(t, elem, encodings), vr, stored, shorten)
    if vr in _INT_FORMATS or vr == "AT":
        values = _numbers(elem)
        if not values:
            return "(no value available)", 0, 0, None
        if vr == "AT":
            texts = [f"({v >> 16:04x},{v & 0xFFFF:04x})" for v in values]
            size = 4
        else:
            code = _INT_FORMATS[vr]
            texts = [format_number(v, code) for v in values]
            size = _NUMERIC_SIZE[code]
        info, printed = _join_limited(texts, shorten)
        return info, size * len(values), len(values), printed
    if vr in _OTHER_NUMERIC:
        data = _bytes(elem)
        if not data:
            return "(no value available)", 0, 1, None
        code = _OTHER_NUMERIC[vr]
        count = len(data) // _NUMERIC_SIZE[code]
        values = struct.unpack(f"<{count}{code}", data[: count * _NUMERIC_SIZE[code]])
        info, printed = _join_limited([format_number(v, code) for v in values], shorten)
        return info, len(data), 1, printed
    # OB / OW / UN / ox / lt / ?? and anything unknown: hex dump
    data = _bytes(elem)
    if len(data) % 2:
        data += b"\0"
    if not data:
        return "(no value available)", 0, 1, None
    if vr in WORD_VRS:
        count = len(data) // 2
        words = struct.unpack(f"<{count}H", data)
        texts = [f"{w:04x}" for w in words]
        width = 4
    else:
        texts = [f"{b:02x}" for b in data]
        width = 2
    expected = len(texts) * (width + 1) - 1
    count = len(texts)
    print_count = (LINE_LENGTH - 3 + 1) // (width + 1) if (shorten and expected > LINE_LENGTH) else count
    info = "\\".join(texts[:print_count])
    printed = print_count * (width + 1) - 1
    if print_count < count:
        info += "..."
        printed += 3
    return info, len(data), 1, printed


def _string_info(text: str, encoded: Callable[[str], bytes], vr: str, stored: int | None,
                 shorten: bool) -> tuple[str, int, int, int | None]:
    """``_value_info`` of a character-string element: ``text`` without its
    padding, ``encoded(text)`` its stored bytes, ``stored`` the length field
    (None: the bytes' length made even)."""
    if text == "":
        return "(no value available)", stored or 0, 0, None
    raw = encoded(text)
    length = len(raw) + (len(raw) & 1) if stored is None else stored
    vm = 1 if vr in SINGLE_STRING_VRS else text.count("\\") + 1
    if vr == "UI":
        from .uidnames import UID_NAMES

        symbol = UID_NAMES.get(text)  # dcmFindNameOfUID
        if symbol:
            return "=" + symbol, length, vm, None
    printed = len(raw) + 2
    # DCMTK prints the stored bytes; decoding them with surrogateescape
    # lets the log stream write exactly those bytes again.
    if shorten and printed > LINE_LENGTH:
        # "[" + the first 66 stored bytes + "..." (cut even inside a character)
        cut = raw[: LINE_LENGTH - 4].decode("utf-8", "surrogateescape")
        return "[" + cut + "...", length, vm, LINE_LENGTH
    return "[" + raw.decode("utf-8", "surrogateescape") + "]", length, vm, printed


def _join_limited(texts: list[str], shorten: bool) -> tuple[str, int]:
    """The value loop of DcmUnsignedShort::print & co. with the line limit."""
    limit = LINE_LENGTH if shorten else 1 << 62
    out = ""
    for i, text in enumerate(texts):
        piece = text if i == 0 else "\\" + text
        new_length = len(out) + len(piece)
        if new_length <= limit and (i + 1 == len(texts) or new_length + 3 <= limit):
            out += piece
        else:
            if i + 1 < len(texts):
                out += "..."
            break
    return out, len(out)


def _numbers(elem: "DataElement") -> list[Any]:
    value = elem.value
    if value is None or value == "" or value == b"":
        return []
    if isinstance(value, bytes):
        vr = dcmtk_vr(elem)
        code = "L" if vr == "AT" else _INT_FORMATS.get(vr, "H")
        size = 4 if vr == "AT" else _NUMERIC_SIZE[code]
        count = len(value) // size
        return list(struct.unpack(f"<{count}{code}", value[: count * size]))
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [int(v) if not isinstance(v, float) else v for v in value]
    return [value]


def _bytes(elem: "DataElement") -> bytes:
    value = elem.value
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    # any other value (an element decoded under another VR): its encoding
    try:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_data_element

        fp = DicomBytesIO()
        fp.is_little_endian, fp.is_implicit_VR = True, True
        write_data_element(fp, elem)
        return fp.getvalue()[8:]
    except Exception:  # noqa: BLE001 - a dump never fails
        return b""


def format_number(value: Any, code: str) -> str:
    """DCMTK's number formatting: integers in decimal, FL/OF with
    ``ftoa(prec=9)``, FD/OD with ``ftoa(prec=17)``."""
    if code == "f":
        return dcmtk_ftoa(float(value), 9)
    if code == "d":
        return dcmtk_ftoa(float(value), 17)
    return str(int(value))


def dcmtk_ftoa(val: float, prec: int) -> str:
    """DCMTK's ``OFStandard::ftoa`` in its ``%g`` mode: a BSD-style digit
    generator working in double arithmetic (repeated ``modf`` by 10), which
    is why DCMTK prints e.g. ``1e300`` as ``1.0000000000000007e+300`` and
    keeps leading fraction zeros out of the precision count
    (``3.0000000000000004440892098500626``).  FD uses 17, FL 9 digits."""
    if math.isnan(val):
        return "nan"
    if math.isinf(val):
        return "-inf" if val < 0 else "inf"
    sign = ""
    if val < 0:
        sign = "-"
        val = -val
    fract, integer = math.modf(val)
    int_digits: list[str] = []
    while integer:
        tmp, integer = math.modf(integer / 10)
        int_digits.append(chr(int((tmp + 0.01) * 10) + 48))
    int_digits.reverse()
    expcnt = len(int_digits)
    if not prec:
        prec = 1
    out: list[str] = []  # the digits and '.', rounding may prepend

    def round_up(fraction: float, next_digit: str | None, exponent: list[int] | None) -> None:
        nonlocal sign
        if fraction:
            tmp = math.modf(fraction * 10)[1]
        else:
            tmp = ord(next_digit) - 48 if next_digit else 0
        if tmp > 4:
            i = len(out) - 1
            while True:
                if out[i] == ".":
                    i -= 1
                if out[i] < "9":
                    out[i] = chr(ord(out[i]) + 1)
                    break
                out[i] = "0"
                if i == 0:
                    if exponent is not None:
                        out[0] = "1"
                        exponent[0] += 1
                    else:
                        out.insert(0, "1")
                    break
                i -= 1
        elif sign == "-":
            if all(c in "0." for c in out):
                sign = ""

    if expcnt > prec or (not expcnt and fract and fract < 0.0001):
        prec -= 1  # e-style ("g" counts the digit before the point)
        exponent = [expcnt]
        if expcnt:
            out.append(int_digits[0])
            if prec:
                out.append(".")
            i = 1
            while prec and i < len(int_digits):
                out.append(int_digits[i])
                i += 1
                prec -= 1
            if not prec and i < len(int_digits):
                fract = 0.0
                round_up(0.0, int_digits[i], exponent)
            exponent[0] -= 1
        elif fract:
            exponent[0] = -1
            while True:
                fract, tmp = math.modf(fract * 10)
                if tmp:
                    break
                exponent[0] -= 1
            out.append(chr(int(tmp) + 48))
            if prec:
                out.append(".")
        else:
            out.append("0")
            if prec:
                out.append(".")
        if fract:
            if prec:
                while True:
                    fract, tmp = math.modf(fract * 10)
                    out.append(chr(int(tmp) + 48))
                    prec -= 1
                    if not (prec and fract):
                        break
            if fract:
                round_up(fract, None, exponent)
        while out and out[-1] == "0":
            out.pop()
        if out and out[-1] == ".":
            out.pop()
        e = exponent[0]
        text = "".join(out) + "e" + ("-" if e < 0 else "+") + (f"{abs(e):02d}")
        return sign + text
    if expcnt:
        out.extend(int_digits)
        prec -= len(int_digits)
    else:
        out.append("0")
    dotrim = bool(prec)
    if prec:
        out.append(".")
    if fract:
        if prec:
            while True:
                fract, tmp = math.modf(fract * 10)
                out.append(chr(int(tmp) + 48))
                if tmp:
                    break
            prec -= 1
            while prec and fract:
                fract, tmp = math.modf(fract * 10)
                out.append(chr(int(tmp) + 48))
                prec -= 1
        if fract:
            round_up(fract, None, None)
    if dotrim:
        while out and out[-1] == "0":
            out.pop()
        if out and out[-1] == ".":
            out.pop()
    return sign + "".join(out)
