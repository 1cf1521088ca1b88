"""movescu's output encodings: a received data set (raw bytes) → file bytes.

DCMTK's movescu parses every received object into memory and writes it again
with ``DcmFileFormat::saveFile(xfer, +e/-e, +g?, +p?, +F/-F)``.  Decoding the
object with pydicom would be slow (speed budget: 3x DCMTK) and would not give
DCMTK's encoding rules (pydicom cannot write explicit-length sequences, for
one), so this module has its own small element-level codec:

* ``parse()`` splits the received bytes into elements, sequences, items and
  encapsulated fragments *without decoding values* (values stay memoryviews
  into the received buffer, so a 0.5 MB pixel data element is never copied
  until it is written);
* ``Writer`` re-emits that tree in the target transfer syntax with DCMTK's
  sequence/item length rules (``+e`` explicit, ``-e`` undefined), group
  lengths (``+g=`` recalc, ``+g`` create, ``-g`` remove), trailing padding
  (``+p f i``), ``-u`` (new VRs written as OB) and byte swapping for Big
  Endian;
* ``encode()`` adds the meta header DCMTK creates for ``+F`` and deflates for
  ``+td`` / a deflated arrival with ``+t=``.

For the default options the output equals "meta + received bytes" whenever the
received data set has no undefined-length sequences/items, no stale group
lengths and no padding, which is the common case; the writer yields the
original memoryviews so no value is copied.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"

IMPLEMENTATION_CLASS_UID = "1.2.276.0.7230010.3.0.3.6.7"
IMPLEMENTATION_VERSION_NAME = "OFFIS_DCMTK_367"
BIT_PRESERVING_VERSION_NAME = "OFFIS_DCMBP_367"

#: ``+t?`` option value → transfer syntax UID (``None`` = same as received).
WRITE_XFER: dict[str, str | None] = {
    "write-xfer-same": None,
    "write-xfer-little": EXPLICIT_LE,
    "write-xfer-big": EXPLICIT_BE,
    "write-xfer-implicit": IMPLICIT_LE,
    "write-xfer-deflated": DEFLATED_LE,
}

#: explicit VRs with a 2-byte reserved field and a 4-byte length
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
#: VRs DCMTK writes as OB after ``-u`` (dcmDisableGenerationOfNewVRs)
NEW_VRS = frozenset({"UN", "UT", "UC", "UR", "OD", "OF", "OL", "OV", "SV", "UV"})
#: byte-swap unit per VR (Big Endian conversion)
SWAP_UNIT: dict[str, int] = {
    "US": 2, "SS": 2, "OW": 2, "AT": 2,
    "UL": 4, "SL": 4, "FL": 4, "OF": 4, "OL": 4,
    "FD": 8, "OD": 8, "SV": 8, "UV": 8, "OV": 8,
}

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_DELIM = 0xFFFEE00D
SEQ_DELIM = 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
PADDING = 0xFFFCFFFC
SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018


class EncodingError(ValueError):
    """The received data set cannot be parsed or written in the requested form.

    A ``ValueError`` because the pipeline treats an encoder's ``ValueError`` as
    a failed write: like DCMTK's failed ``saveFile`` it logs ``cannot write
    DICOM file``, answers 0xA700 and leaves no file behind, instead of ending
    the program."""


@dataclass(slots=True)
class Element:
    """One data element: ``value`` is raw bytes, a list of items (SQ) or a
    list of fragments (encapsulated pixel data)."""

    tag: int
    vr: str
    value: memoryview | bytes | list
    encapsulated: bool = False
    swapped: bool = False  # value bytes are in Big Endian order

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, list) and not self.encapsulated


@dataclass(frozen=True, slots=True)
class TSInfo:
    explicit: bool
    little: bool
    deflated: bool = False
    encapsulated: bool = False


def ts_info(ts_uid: str) -> TSInfo:
    """Encoding rules of a transfer syntax; unknown/compressed ones are
    Explicit VR Little Endian with encapsulated pixel data."""
    if ts_uid == IMPLICIT_LE:
        return TSInfo(False, True)
    if ts_uid == EXPLICIT_LE:
        return TSInfo(True, True)
    if ts_uid == EXPLICIT_BE:
        return TSInfo(True, False)
    if ts_uid == DEFLATED_LE:
        return TSInfo(True, True, deflated=True)
    return TSInfo(True, True, encapsulated=True)


# ---------------------------------------------------------------- parsing ---

_dictionary_vr_cache: dict[int, str] = {}


def _implicit_vr(tag: int) -> str:
    """VR of a tag read in Implicit VR (DCMTK's dictionary; pydicom's here)."""
    vr = _dictionary_vr_cache.get(tag)
    if vr is not None:
        return vr
    group, elem = tag >> 16, tag & 0xFFFF
    if elem == 0:
        vr = "UL"
    elif group & 1:
        vr = "LO" if 0x10 <= elem <= 0xFF else "UN"
    else:
        try:
            from pydicom.datadict import dictionary_VR

            vr = dictionary_VR(tag)
        except KeyError:
            vr = "UN"
        if vr == "US or SS":
            _XS_TAGS.add(tag)
        if " or " in vr:
            vr = {"OB or OW": "OW", "US or SS": "US", "US or OW": "US", "US or SS or OW": "US"}.get(vr, vr[:2])
    _dictionary_vr_cache[tag] = vr
    return vr


#: tags whose dictionary VR is "US or SS": DCMTK reads them as SS when the
#: data set's Pixel Representation is 1
_XS_TAGS: set[int] = set()


def _resolve_ambiguous(elems: list[Element]) -> None:
    """Implicit VR: apply DCMTK's Pixel Representation rule to US/SS tags."""
    signed = False
    for el in elems:
        if el.tag == 0x00280103 and not isinstance(el.value, list) and len(el.value) >= 2:
            signed = bytes(el.value[:2]) in (b"\x01\x00", b"\x00\x01")
            break
    if not signed:
        return
    for el in elems:
        if el.vr == "US" and el.tag in _XS_TAGS:
            el.vr = "SS"


def _private_vr(tag: int, elems: list[Element]) -> str:
    """VR of a private element read in Implicit VR: the private dictionary
    entry for its creator (DCMTK's private.dic; pydicom's here), else UN."""
    group, elem = tag >> 16, tag & 0xFFFF
    creator_tag = (group << 16) | (elem >> 8)
    creator = None
    for el in elems:
        if el.tag == creator_tag and not isinstance(el.value, list):
            creator = bytes(el.value).decode("latin-1").strip(" \0")
            break
    if not creator:
        return "UN"
    try:
        from pydicom.datadict import private_dictionary_VR

        vr = private_dictionary_VR(tag, creator)
    except KeyError:
        return "UN"
    if " or " in vr:
        vr = vr[:2]
    return vr if len(vr) == 2 else "UN"


class _Parser:
    def __init__(self, buf: memoryview, explicit: bool, little: bool) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        e = "<" if little else ">"
        self.u16 = struct.Struct(e + "H").unpack_from
        self.u32 = struct.Struct(e + "I").unpack_from
        self.tag_len = struct.Struct(e + "HHI").unpack_from
        self.tag_vr = struct.Struct(e + "HH2s").unpack_from

    def elements(self, pos: int, end: int, in_item: bool) -> tuple[list[Element], int]:
        """Parse elements in ``[pos, end)``; with an undefined-length item,
        stop after its Item Delimitation Item."""
        out: list[Element] = []
        buf = self.buf
        while pos < end:
            if end - pos < 8:
                raise EncodingError("premature end of stream")
            if self.explicit:
                group, elem, vrb = self.tag_vr(buf, pos)
                tag = (group << 16) | elem
                if group == 0xFFFE:
                    length = self.u32(buf, pos + 4)[0]
                    if tag == ITEM_DELIM and in_item:
                        return out, pos + 8
                    raise EncodingError("unexpected item tag")
                vr = vrb.decode("latin-1")
                if vr in LONG_VRS:
                    if end - pos < 12:
                        raise EncodingError("premature end of stream")
                    length = self.u32(buf, pos + 8)[0]
                    pos += 12
                else:
                    if not vr.isalpha() or not vr.isupper():
                        raise EncodingError("invalid VR")
                    length = self.u16(buf, pos + 6)[0]
                    pos += 8
            else:
                group, elem, length = self.tag_len(buf, pos)
                tag = (group << 16) | elem
                pos += 8
                if group == 0xFFFE:
                    if tag == ITEM_DELIM and in_item:
                        _resolve_ambiguous(out)
                        return out, pos
                    raise EncodingError("unexpected item tag")
                if group & 1 and elem >= 0x1000:
                    vr = _private_vr(tag, out)
                else:
                    vr = _implicit_vr(tag)
            if length == UNDEFINED:
                if tag == PIXEL_DATA or (vr in ("OB", "OW") and self.explicit):
                    frags, pos = self.fragments(pos, end)
                    out.append(Element(tag, vr, frags, encapsulated=True))
                else:
                    # SQ, or UN/implicit data of undefined length: a sequence
                    items, pos = self.sequence(pos, end, UNDEFINED, vr == "UN")
                    out.append(Element(tag, "SQ", items))
                continue
            if pos + length > end:
                raise EncodingError("premature end of stream")
            if vr == "SQ":
                items, _ = self.sequence(pos, pos + length, length, False)
                out.append(Element(tag, "SQ", items))
            else:
                out.append(Element(tag, vr, buf[pos : pos + length], swapped=not self.little))
            pos += length
        if in_item:
            raise EncodingError("premature end of stream")
        if not self.explicit:
            _resolve_ambiguous(out)
        return out, pos

    def sequence(self, pos: int, end: int, length: int, implicit_un: bool) -> tuple[list, int]:
        sub = self
        if implicit_un:
            sub = _Parser(self.buf, False, True)
        items: list[list[Element]] = []
        stop = end if length == UNDEFINED else pos + length
        while pos < stop:
            if stop - pos < 8:
                raise EncodingError("premature end of stream")
            group, elem, ilen = sub.tag_len(self.buf, pos)
            tag = (group << 16) | elem
            pos += 8
            if tag == SEQ_DELIM:
                return items, pos
            if tag != ITEM:
                raise EncodingError("item tag expected")
            if ilen == UNDEFINED:
                elems, pos = sub.elements(pos, stop, True)
            else:
                if pos + ilen > stop:
                    raise EncodingError("premature end of stream")
                elems, _ = sub.elements(pos, pos + ilen, False)
                pos += ilen
            items.append(elems)
        if length == UNDEFINED:
            raise EncodingError("premature end of stream")
        return items, pos

    def fragments(self, pos: int, end: int) -> tuple[list, int]:
        frags: list[memoryview] = []
        while pos + 8 <= end:
            group, elem, flen = self.tag_len(self.buf, pos)
            tag = (group << 16) | elem
            pos += 8
            if tag == SEQ_DELIM:
                return frags, pos
            if tag != ITEM or flen == UNDEFINED or pos + flen > end:
                raise EncodingError("bad pixel data fragment")
            frags.append(self.buf[pos : pos + flen])
            pos += flen
        raise EncodingError("premature end of stream")


def parse(data: bytes | memoryview, ts_uid: str) -> list[Element]:
    """Parse a received data set (as it arrived in ``ts_uid``)."""
    info = ts_info(ts_uid)
    buf = memoryview(data)
    if info.deflated:
        try:
            buf = memoryview(zlib.decompress(bytes(buf), -15))
        except zlib.error as exc:
            raise EncodingError(str(exc)) from exc
    elems, _ = _Parser(buf, info.explicit, info.little).elements(0, len(buf), False)
    return elems


def find_uids(elems: list[Element], strip_one_space: bool = False) -> tuple[str | None, str | None]:
    """SOP Class / Instance UID of a parsed data set (``None`` if absent or
    empty), as DU_findSOPClassAndInstanceInDataSet reads them (trailing NULs
    removed; with ``-up`` one trailing space removed too)."""

    def value(tag: int) -> str | None:
        for el in elems:
            if el.tag == tag and not isinstance(el.value, list):
                text = bytes(el.value).decode("latin-1").rstrip("\0")
                if strip_one_space and text.endswith(" "):
                    text = text[:-1]
                return text or None
            if el.tag > tag:
                break
        return None

    return value(SOP_CLASS_UID), value(SOP_INSTANCE_UID)


_LE_TAG_VR = struct.Struct("<HH2sH")
_LE_U32 = struct.Struct("<I")
_LE_TAG_LEN = struct.Struct("<HHI")


class _NotSimple(Exception):
    """The data set needs the full codec (group lengths, padding, -u, odd data)."""


def fast_rewrite(
    data: bytes | memoryview, ts_uid: str, new_vr_ok: bool
) -> tuple[list | None, str | None, str | None]:
    """DCMTK's default rewrite (+e, +g=, -p; +u, or -u without new VRs) of an
    Explicit VR Little Endian data set, done on the raw bytes.

    Runs of ordinary elements are copied as slices of the received buffer;
    only sequences are re-framed: undefined-length sequences and items get
    explicit lengths (delimiters dropped), a final (FFFC,FFFC) padding
    element is cut off.  Returns ``(chunks, raw SOP Class UID, raw SOP
    Instance UID)`` (UIDs with trailing NULs removed, None if absent/empty),
    or ``(None, None, None)`` when the data set contains anything the full
    codec must handle (group lengths, other padding, new VRs with ``-u``,
    undefined-length UN ...).

    Why: parsing and re-emitting every element costs milliseconds per object
    in Python; this walk reads only tags and lengths, which keeps the
    per-object overhead of thousands of small objects within the speed budget.
    """
    if ts_uid != EXPLICIT_LE:
        return None, None, None
    buf = memoryview(data)
    uids: dict[int, str] = {}

    def walk(pos: int, end: int, top: bool, in_item: bool) -> tuple[list, int, int]:
        """Rewrite elements in [pos, end); returns (chunks, new length, end pos)."""
        chunks: list = []
        total = 0
        run = pos
        while pos < end:
            if end - pos < 8:
                raise _NotSimple
            group, elem, vrb, short_len = _LE_TAG_VR.unpack_from(buf, pos)
            if group == 0xFFFE:
                if in_item and elem == 0xE00D:
                    if pos > run:
                        chunks.append(buf[run:pos])
                        total += pos - run
                    return chunks, total, pos + 8
                raise _NotSimple
            if top and group == 0xFFFC and elem == 0xFFFC and vrb == b"OB" and end - pos >= 12:
                (length,) = _LE_U32.unpack_from(buf, pos + 8)
                if pos + 12 + length != end:
                    raise _NotSimple
                break  # a final Data Set Trailing Padding element is dropped by -p
            if elem == 0 or group == 0xFFFC:
                raise _NotSimple
            vr = vrb.decode("latin-1")
            if vr in LONG_VRS:
                if end - pos < 12:
                    raise _NotSimple
                (length,) = _LE_U32.unpack_from(buf, pos + 8)
                if not new_vr_ok and vr in NEW_VRS:
                    raise _NotSimple
                if vr == "SQ":
                    if pos > run:
                        chunks.append(buf[run:pos])
                        total += pos - run
                    items, seq_len, pos = sequence(pos + 12, end, length)
                    chunks.append(struct.pack("<HH2sHI", group, elem, b"SQ", 0, seq_len))
                    chunks.extend(items)
                    total += 12 + seq_len
                    run = pos
                    continue
                pos += 12
                if length == UNDEFINED:
                    if (group << 16) | elem != PIXEL_DATA:
                        raise _NotSimple
                    while True:  # encapsulated pixel data: written as received
                        if pos + 8 > end:
                            raise _NotSimple
                        g, e, flen = _LE_TAG_LEN.unpack_from(buf, pos)
                        pos += 8
                        if g == 0xFFFE and e == 0xE0DD:
                            break
                        if g != 0xFFFE or e != 0xE000 or flen == UNDEFINED or pos + flen > end:
                            raise _NotSimple
                        pos += flen
                    continue
            else:
                if not (vrb[0:1].isalpha() and vrb[1:2].isalpha()):
                    raise _NotSimple
                length = short_len
                pos += 8
                if top and group == 0x0008 and elem in (0x0016, 0x0018) and pos + length <= end:
                    uids[elem] = bytes(buf[pos : pos + length]).decode("latin-1").rstrip("\0")
            if pos + length > end:
                raise _NotSimple
            pos += length
        if in_item:
            raise _NotSimple
        if pos > run:
            chunks.append(buf[run:pos])
            total += pos - run
        return chunks, total, end

    def sequence(pos: int, end: int, length: int) -> tuple[list, int, int]:
        stop = end if length == UNDEFINED else pos + length
        if stop > end:
            raise _NotSimple
        chunks: list = []
        total = 0
        while pos < stop:
            if pos + 8 > stop:
                raise _NotSimple
            g, e, ilen = _LE_TAG_LEN.unpack_from(buf, pos)
            pos += 8
            if g == 0xFFFE and e == 0xE0DD and length == UNDEFINED:
                return chunks, total, pos
            if g != 0xFFFE or e != 0xE000:
                raise _NotSimple
            if ilen == UNDEFINED:
                sub, sub_len, pos = walk(pos, stop, False, True)
            else:
                if pos + ilen > stop:
                    raise _NotSimple
                sub, sub_len, _ = walk(pos, pos + ilen, False, False)
                pos += ilen
            chunks.append(struct.pack("<HHI", 0xFFFE, 0xE000, sub_len))
            chunks.extend(sub)
            total += 8 + sub_len
        if length == UNDEFINED:
            raise _NotSimple
        return chunks, total, pos

    try:
        chunks, _total, _pos = walk(0, len(buf), True, False)
    except _NotSimple:
        return None, None, None
    return chunks, uids.get(0x0016) or None, uids.get(0x0018) or None


def _fast_path(opts: WriteOptions, ts_uid: str) -> bool:
    """Options under which a canonical data set is written unchanged."""
    return (
        (opts.write_xfer is None or opts.write_xfer == ts_uid)
        and ts_uid == EXPLICIT_LE
        and opts.length_explicit
        and opts.group_length == "group-length-recalc"
        and opts.padding is None
    )


def strip_uid_padding(uid: str | None) -> str | None:
    """``-up``: remove one trailing space from a UID read from a data set."""
    if uid and uid.endswith(" "):
        uid = uid[:-1]
    return uid or None


# ---------------------------------------------------------------- writing ---


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """The movescu output options that shape the written bytes."""

    write_file: bool = True  # +F / -F
    write_xfer: str | None = None  # None = +t= (same as received)
    enable_new_vr: bool = True  # +u / -u
    group_length: str = "group-length-recalc"  # +g= / +g / -g
    length_explicit: bool = True  # +e / -e
    padding: tuple[int, int] | None = None  # +p f i
    compression_level: int = 6  # +cl

    @classmethod
    def from_settings(cls, settings: object) -> WriteOptions:
        return cls(
            write_file=getattr(settings, "write_file", True),
            write_xfer=WRITE_XFER.get(getattr(settings, "write_xfer", "write-xfer-same")),
            enable_new_vr=getattr(settings, "enable_new_vr", True),
            group_length=getattr(settings, "group_length", "group-length-recalc"),
            length_explicit=getattr(settings, "length_explicit", True),
            padding=getattr(settings, "padding", None),
            compression_level=getattr(settings, "compression_level", 6),
        )


class Writer:
    """Emits a parsed element tree in one target encoding, DCMTK style."""

    def __init__(self, info: TSInfo, opts: WriteOptions) -> None:
        self.explicit = info.explicit
        self.little = info.little
        self.opts = opts
        e = "<" if info.little else ">"
        self.tag_len = struct.Struct(e + "HHI").pack
        self.tag_vr16 = struct.Struct(e + "HH2sH").pack
        self.tag_vr32 = struct.Struct(e + "HH2sHI").pack
        self.pack_u32 = struct.Struct(e + "I").pack
        self.explicit_len = opts.length_explicit

    # -- preparation: group lengths and padding (DcmItem::computeGroupLengthAndPadding)
    def out_vr(self, el: Element) -> str:
        vr = el.vr
        if not self.opts.enable_new_vr and vr in NEW_VRS:
            return "OB"
        return vr

    def header_len(self, el: Element) -> int:
        if not self.explicit:
            return 8
        return 12 if self.out_vr(el) in LONG_VRS else 8

    def value_len(self, el: Element) -> int:
        if el.encapsulated:
            return sum(8 + len(f) for f in el.value) + 8
        if isinstance(el.value, list):
            total = sum(self.item_len(item) for item in el.value)
            return total if self.explicit_len else total + 8
        return len(el.value)

    def item_len(self, item: list[Element]) -> int:
        content = self.content_len(item)
        return 8 + content + (0 if self.explicit_len else 8)

    def element_len(self, el: Element) -> int:
        return self.header_len(el) + self.value_len(el)

    def content_len(self, elems: list[Element]) -> int:
        return sum(self.element_len(el) for el in elems)

    def prepare(self, elems: list[Element], padlen: int, subpad: int, instance_len: int, dataset: bool) -> list[Element]:
        """Return a new element list with group lengths/padding applied."""
        glmode = self.opts.group_length
        padding = self.opts.padding is not None
        out: list[Element] = []
        for el in elems:
            if el.is_sequence:
                seq_base = instance_len + self.header_len(el)
                el = Element(
                    el.tag,
                    el.vr,
                    [self.prepare(item, subpad, subpad, seq_base, False) for item in el.value],
                )
            # movescu always writes with EPD_withoutPadding (-p) or EPD_withPadding
            # (+p): both drop existing Data Set Trailing Padding elements
            if (glmode != "group-length-recalc" and el.tag & 0xFFFF == 0) or el.tag == PADDING:
                continue
            out.append(el)
        if glmode in ("group-length-recalc", "group-length-create"):
            result: list[Element] = []
            i = 0
            while i < len(out):
                group = out[i].tag >> 16
                j = i
                while j < len(out) and out[j].tag >> 16 == group:
                    j += 1
                members = out[i:j]
                if members[0].tag & 0xFFFF == 0:
                    rest = members[1:]
                    gl = Element(group << 16, "UL", b"", swapped=False)
                    gl.value = self._u32_value(self.content_len(rest))
                    result.append(gl)
                    result.extend(rest)
                elif glmode == "group-length-create":
                    gl = Element(group << 16, "UL", self._u32_value(self.content_len(members)))
                    result.append(gl)
                    result.extend(members)
                else:
                    result.extend(members)
                i = j
            out = result
        if padding and padlen:
            if dataset:
                total = instance_len + self.content_len(out)
            else:
                total = self.content_len(out)
            pad = padlen - (total % padlen)
            if pad != padlen:
                header = 12 if self.explicit else 8
                while header > pad:
                    pad += padlen
                out.append(Element(PADDING, "OB", bytes(pad - header)))
        return out

    def _u32_value(self, n: int) -> bytes:
        # stored in the writer's byte order already; mark as not swapped for LE,
        # swapped for BE so that emit() leaves it alone.
        return struct.pack("<I", n)

    # -- emission
    def emit(self, elems: list[Element], out: list) -> None:
        explicit, little = self.explicit, self.little
        for el in elems:
            vr = self.out_vr(el)
            tag_g, tag_e = el.tag >> 16, el.tag & 0xFFFF
            if el.encapsulated:
                self._header(out, tag_g, tag_e, vr, UNDEFINED)
                for frag in el.value:
                    out.append(self.tag_len(0xFFFE, 0xE000, len(frag)))
                    out.append(frag)
                out.append(self.tag_len(0xFFFE, 0xE0DD, 0))
            elif isinstance(el.value, list):
                if self.explicit_len:
                    self._header(out, tag_g, tag_e, "SQ", self.value_len(el))
                    for item in el.value:
                        out.append(self.tag_len(0xFFFE, 0xE000, self.content_len(item)))
                        self.emit(item, out)
                else:
                    self._header(out, tag_g, tag_e, "SQ", UNDEFINED)
                    for item in el.value:
                        out.append(self.tag_len(0xFFFE, 0xE000, UNDEFINED))
                        self.emit(item, out)
                        out.append(self.tag_len(0xFFFE, 0xE00D, 0))
                    out.append(self.tag_len(0xFFFE, 0xE0DD, 0))
            else:
                value = el.value
                unit = SWAP_UNIT.get(el.vr)
                if el.tag & 0xFFFF == 0 and el.vr == "UL" and len(value) == 4 and isinstance(value, bytes):
                    unit = 4
                    src_big = False
                else:
                    src_big = el.swapped
                if unit and src_big == little and len(value) % unit == 0 and len(value):
                    value = _swap(value, unit)
                self._header(out, tag_g, tag_e, vr, len(value))
                out.append(value)
        del explicit

    def _header(self, out: list, group: int, elem: int, vr: str, length: int) -> None:
        if not self.explicit:
            out.append(self.tag_len(group, elem, length))
        elif vr in LONG_VRS:
            out.append(self.tag_vr32(group, elem, vr.encode("latin-1"), 0, length))
        else:
            out.append(self.tag_vr16(group, elem, vr.encode("latin-1"), length))


def _swap(value: bytes | memoryview, unit: int) -> bytes:
    import array

    code = {2: "H", 4: "I", 8: "Q"}[unit]
    arr = array.array(code)
    arr.frombytes(bytes(value))
    arr.byteswap()
    return arr.tobytes()


def _meta_element(tag: int, vr: str, value: bytes) -> bytes:
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(value)) + value


def _pad(text: str, pad: bytes) -> bytes:
    raw = text.encode("latin-1")
    return raw + pad if len(raw) % 2 else raw


def meta_header(
    sop_class: str,
    sop_instance: str,
    ts_uid: str,
    version_name: str = IMPLEMENTATION_VERSION_NAME,
    source_ae: str | None = None,
) -> bytes:
    """Preamble, ``DICM`` and the group 0002 DCMTK creates (Explicit VR LE)."""
    body = b"".join(
        [
            _meta_element(0x00020001, "OB", b"\x00\x01"),
            _meta_element(0x00020002, "UI", _pad(sop_class, b"\0")),
            _meta_element(0x00020003, "UI", _pad(sop_instance, b"\0")),
            _meta_element(0x00020010, "UI", _pad(ts_uid, b"\0")),
            _meta_element(0x00020012, "UI", _pad(IMPLEMENTATION_CLASS_UID, b"\0")),
            _meta_element(0x00020013, "SH", _pad(version_name, b" ")),
        ]
        + ([_meta_element(0x00020016, "AE", _pad(source_ae, b" "))] if source_ae is not None else [])
    )
    return bytes(128) + b"DICM" + _meta_element(0x00020000, "UL", struct.pack("<I", len(body))) + body


def encode(
    data: bytes | memoryview, ts_uid: str, opts: WriteOptions, elems: list[Element] | None = None
) -> tuple[list, str | None, str | None]:
    """Turn a received data set into the chunks of the file DCMTK writes.

    Returns ``(chunks, sop_class_uid, sop_instance_uid)``; the UIDs are read
    from the data set (for the meta header and the consistency check).
    Raises ``EncodingError`` if the data set cannot be parsed or converted.
    ``elems`` is the already parsed tree of ``data``, if the caller has it.
    """
    if elems is None and _fast_path(opts, ts_uid):
        chunks, sop_class, sop_instance = fast_rewrite(data, ts_uid, opts.enable_new_vr)
        if chunks is not None:
            if opts.write_file:
                chunks.insert(0, meta_header(sop_class or "", sop_instance or "", ts_uid))
            return chunks, sop_class, sop_instance
    if elems is None:
        elems = parse(data, ts_uid)
    target = opts.write_xfer or ts_uid
    src, dst = ts_info(ts_uid), ts_info(target)
    if target != ts_uid and (src.encapsulated or dst.encapsulated):
        # DCMTK's movescu registers no codecs: no conversion from/to compressed
        raise EncodingError("cannot change representation")
    sop_class, sop_instance = find_uids(elems)
    writer = Writer(dst, opts)
    meta = b""
    if opts.write_file:
        meta = meta_header(sop_class or "", sop_instance or "", target)
    padlen, subpad = opts.padding or (0, 0)
    prepared = writer.prepare(elems, padlen, subpad, len(meta), True)
    chunks: list = []
    writer.emit(prepared, chunks)
    if dst.deflated:
        comp = zlib.compressobj(opts.compression_level, zlib.DEFLATED, -15)
        parts = [comp.compress(c) for c in chunks]
        parts.append(comp.flush())
        chunks = [b"".join(parts)]  # DCMTK does not pad the deflated stream
    if meta:
        chunks.insert(0, meta)
    return chunks, sop_class, sop_instance


def total_length(chunks: Iterable) -> int:
    return sum(len(c) for c in chunks)
