"""Data set encodings: a walked data set → the bytes of the file DCMTK writes.

DCMTK parses every received object into memory and writes it again with
``DcmFileFormat::saveFile``: getscu with undefined-length sequences and
recalculated group lengths, movescu with its options ``+F/-F +t? +u/-u +g?
+e/-e +p/-p +cl``.  Decoding with pydicom would be slow and would not give
DCMTK's encoding rules (pydicom cannot write explicit-length sequences, for
one), so the tree of ``dicom.walker`` (one walk per object, values are
views into the received buffer) is written by ``Writer`` here:

* sequence/item lengths: ``+e`` explicit, ``-e`` undefined; group lengths
  (``+g=`` recalc, ``+g`` create, ``-g`` remove); trailing padding
  (``+p f i``; movescu drops existing padding, getscu keeps it); ``-u`` (new
  VRs written as OB); byte swapping for Big Endian;
* runs of elements that are written unchanged (same encoding, VR kept) are
  emitted as one slice of the received buffer each, so an ordinary object
  becomes a handful of slices and no value is copied;
* ``encode()`` adds the meta header (``meta_header``, the one meta-header
  writer of both tools, also used for ``+B``) and deflates for ``+td`` / a
  deflated arrival;
* for a data set the pipeline spooled to disk (``walker.Dataset.streamed``)
  nothing of the object's size is built: big byte-swapped values become
  ``Swapped`` parts and a deflated output one ``Deflate`` part, and
  ``iter_bytes`` produces the bytes piece by piece while the pipeline
  writes them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterable, Iterator

from ..dicom import walker
from ..dicom.uids import (
    BIT_PRESERVING_VERSION_NAME,
    DEFLATED_LE,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    IMPLICIT_LE,
)
from ..dicom.walker import (  # noqa: F401 - re-exported for movescu and the tests
    LONG_VRS,
    NEW_VRS,
    PADDING,
    UNDEFINED,
    Element,
    TSInfo,
    ts_info,
)

__all__ = ["BIT_PRESERVING_VERSION_NAME", "DEFLATED_LE", "EXPLICIT_BE", "EXPLICIT_LE", "IMPLICIT_LE",
           "IMPLEMENTATION_VERSION_NAME"]

#: byte-swap unit per VR (Big Endian conversion)
SWAP_UNIT: dict[str, int] = {
    "US": 2, "SS": 2, "OW": 2, "AT": 2,
    "UL": 4, "SL": 4, "FL": 4, "OF": 4, "OL": 4,
    "FD": 8, "OD": 8, "SV": 8, "UV": 8, "OV": 8,
}


#: values longer than this are byte-swapped lazily, chunk by chunk, when the
#: data set was spooled to disk (``walker.Dataset.streamed``)
LAZY_SWAP_MIN = 1 << 20
#: the size of the pieces ``iter_bytes`` cuts big parts into
CHUNK = 1 << 20


class Swapped:
    """A value to be written byte-swapped (Big Endian conversion), swapped
    ``CHUNK`` bytes at a time when written instead of all at once."""

    __slots__ = ("view", "unit")

    def __init__(self, view: memoryview, unit: int) -> None:
        self.view = view
        self.unit = unit

    def __len__(self) -> int:
        return len(self.view)


class Deflate:
    """The parts of a data set to be written through one raw deflate stream
    (``+td`` / a Deflated arrival), compressed piece by piece when written."""

    __slots__ = ("parts", "level")

    def __init__(self, parts: list, level: int) -> None:
        self.parts = parts
        self.level = level


def iter_bytes(parts: list, consumed: Callable[[int], None] | None = None) -> Iterator[bytes | memoryview]:
    """The bytes of ``parts`` (bytes-likes, ``Swapped`` and ``Deflate``) in
    pieces of at most ``CHUNK`` bytes for big values; ``consumed(n)`` is told
    after every piece of ``n`` source bytes was handed on (the pipeline drops
    the pages of its spooled data set that way)."""
    for part in parts:
        if type(part) is Swapped:
            view, unit = part.view, part.unit
            for pos in range(0, len(view), CHUNK):
                piece = view[pos:pos + CHUNK]
                yield _swap(piece, unit)
                if consumed is not None:
                    consumed(len(piece))
        elif type(part) is Deflate:
            yield from deflated(iter_bytes(part.parts, consumed), part.level)
        elif len(part) > CHUNK:
            view = memoryview(part)
            for pos in range(0, len(view), CHUNK):
                yield view[pos:pos + CHUNK]
                if consumed is not None:
                    consumed(min(CHUNK, len(view) - pos))
        else:
            yield part
            if consumed is not None:
                consumed(len(part))


#: how DCMTK's zlib output filter hands the data set to deflate: the first
#: 64 KiB at once, then 32 KiB at a time
_DCMTK_FIRST_PIECE = 1 << 16
_DCMTK_PIECE = 1 << 15


def _dcmtk_pieces(pieces: Iterable[bytes | memoryview]) -> Iterator[bytes | memoryview]:
    """``pieces`` cut again the way DCMTK feeds deflate (64 KiB, then 32 KiB each)."""
    want = _DCMTK_FIRST_PIECE
    held = bytearray()
    for piece in pieces:
        view = memoryview(piece)
        while view:
            if not held and len(view) >= want:
                yield view[:want]
                view = view[want:]
            else:
                take = min(want - len(held), len(view))
                held += view[:take]
                view = view[take:]
                if len(held) < want:
                    continue
                yield bytes(held)
                held.clear()
            want = _DCMTK_PIECE
    if held:
        yield bytes(held)


def deflated(pieces: Iterable[bytes | memoryview], level: int) -> Iterator[bytes]:
    """The raw deflate stream (no zlib header, no padding) of the data set
    given in ``pieces``, compressed piece by piece.  zlib's output depends
    on how its input is cut only at level 0 (stored blocks, whose sizes
    follow the input): there the pieces are cut as DCMTK cuts them, which
    gives DCMTK's bytes (``tests/store/test_spool.py`` checks against
    ``dcmconv``)."""
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    for piece in (_dcmtk_pieces(pieces) if level == 0 else pieces):
        out = comp.compress(piece)
        if out:
            yield out
    yield comp.flush()


class EncodingError(ValueError):
    """The received data set cannot be parsed or written in the requested form.

    A ``ValueError`` because the pipeline treats an encoder's ``ValueError`` as
    a failed write: like DCMTK's failed ``saveFile`` it logs ``cannot write
    DICOM file``, answers 0xA700 and leaves no file behind, instead of ending
    the program."""


def parse(data: bytes | memoryview, ts_uid: str) -> walker.Dataset:
    """``walker.parse``, with a malformed data set reported as ``EncodingError``."""
    try:
        return walker.parse(data, ts_uid)
    except walker.MalformedDataset as exc:
        raise EncodingError(exc.reason) from None


def find_uids(elems: list[Element], strip_one_space: bool = False) -> tuple[str | None, str | None]:
    """SOP Class / Instance UID as movescu's DU_findSOPClassAndInstanceInDataSet
    reads them (trailing NULs removed; with ``-up`` one trailing space too)."""
    uids = walker.find_uids(elems)
    if strip_one_space:
        return strip_uid_padding(uids[0]), strip_uid_padding(uids[1])
    return uids


def strip_uid_padding(uid: str | None) -> str | None:
    """``-up``: remove one trailing space from a UID read from a data set."""
    if uid and uid.endswith(" "):
        uid = uid[:-1]
    return uid or None


# ---------------------------------------------------------------- writing ---


class GroupLength(Enum):
    """What happens to group length elements (movescu ``+g=`` / ``+g`` / ``-g``)."""

    RECALC = "recalc"  # recalculated where present
    CREATE = "create"  # always written
    REMOVE = "remove"  # never written


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """The output options that shape the written bytes (transfer syntax UIDs
    and enums; the command line's option names stop at ``scu.policy``)."""

    write_file: bool = True  # +F / -F
    write_xfer: str | None = None  # transfer syntax UID; None = +t= (same as received)
    enable_new_vr: bool = True  # +u / -u
    group_length: GroupLength = GroupLength.RECALC  # +g= / +g / -g
    length_explicit: bool = True  # +e / -e
    padding: tuple[int, int] | None = None  # +p f i
    compression_level: int = 6  # +cl
    keep_padding: bool = False  # existing (FFFC,FFFC) kept (getscu) or dropped (movescu)


GETSCU_OPTIONS = WriteOptions(length_explicit=False, keep_padding=True)


class Writer:
    """Emits a walked element tree in one target encoding, DCMTK style.

    ``source``: the walked buffer and its encoding; elements with a
    ``start``/``end`` range are copied from it (consecutive ones as one
    slice) when the target encoding is the same."""

    def __init__(self, info: TSInfo, opts: WriteOptions, source_info: TSInfo | None = None,
                 source: memoryview | None = None, lazy: bool = False) -> None:
        self.lazy = lazy  # big byte-swapped values become ``Swapped`` parts
        self.explicit = info.explicit
        self.little = info.little
        self.opts = opts
        e = "<" if info.little else ">"
        self.tag_len = struct.Struct(e + "HHI").pack
        self.tag_vr16 = struct.Struct(e + "HH2sH").pack
        self.tag_vr32 = struct.Struct(e + "HH2sHI").pack
        self.pack_u32 = struct.Struct(e + "I").pack
        self.explicit_len = opts.length_explicit
        self.src: memoryview | None = None
        self.new_vr_ok = opts.enable_new_vr
        self.source_info = source_info or info
        same = self.source_info.explicit == info.explicit and self.source_info.little == info.little
        if source is not None and same:
            self.src = source
        # runs (walker.RUN) are copied as they are, or walked into elements
        self.expand = self.src is None or not self.new_vr_ok

    # -- preparation: group lengths and padding (DcmItem::computeGroupLengthAndPadding)
    def out_vr(self, el: Element) -> str:
        vr = el.vr
        if not self.opts.enable_new_vr and vr in NEW_VRS:
            return "OB"
        return vr

    def header_len(self, el: Element) -> int:
        if el.vr is walker.RUN:
            return 0
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
        if self.expand:
            elems = walker.expand_runs(elems, self.source_info)
        out: list[Element] = []
        recalc = glmode is GroupLength.RECALC
        keep_padding = self.opts.keep_padding
        has_gl = False
        for el in elems:
            tag = el.tag
            if not tag & 0xFFFF:
                has_gl = True
            if type(el.value) is not list:  # noqa: E721 - the common case, kept cheap
                if (tag == PADDING and not keep_padding) or (not recalc and not tag & 0xFFFF):
                    continue
                out.append(el)
                continue
            if el.is_sequence:
                seq_base = instance_len + self.header_len(el)
                el = Element(
                    el.tag,
                    el.vr,
                    [self.prepare(item, subpad, subpad, seq_base, False) for item in el.value],
                )
            # movescu always writes with EPD_withoutPadding (-p) or EPD_withPadding
            # (+p): both drop existing Data Set Trailing Padding elements
            if (glmode is not GroupLength.RECALC and el.tag & 0xFFFF == 0) or (
                    el.tag == PADDING and not self.opts.keep_padding):
                continue
            out.append(el)
        if glmode is GroupLength.CREATE or (recalc and has_gl):
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
                elif glmode is GroupLength.CREATE:
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
        little = self.little
        src = self.src
        run_start = run_end = -1  # pending slice of unchanged elements
        for el in elems:
            if src is not None and el.start >= 0 and (self.new_vr_ok or el.vr not in NEW_VRS):
                if el.start != run_end:
                    if run_end > run_start:
                        out.append(src[run_start:run_end])
                    run_start = el.start
                run_end = el.end
                continue
            if run_end > run_start:
                out.append(src[run_start:run_end])
                run_start = run_end = -1
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
                    value = Swapped(value, unit) if self.lazy and len(value) > LAZY_SWAP_MIN else _swap(value, unit)
                self._header(out, tag_g, tag_e, vr, len(value))
                out.append(value)
        if run_end > run_start:
            out.append(src[run_start:run_end])  # type: ignore[index]

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
    raw = text.encode("latin-1", "replace")
    return raw + pad if len(raw) % 2 else raw


_PREAMBLE = bytes(128) + b"DICM"
_META_VERSION = _meta_element(0x00020001, "OB", b"\x00\x01")
_META_IMPLEMENTATION = _meta_element(0x00020012, "UI", _pad(IMPLEMENTATION_CLASS_UID, b"\0"))


def meta_header(
    sop_class: str,
    sop_instance: str,
    ts_uid: str,
    version_name: str = IMPLEMENTATION_VERSION_NAME,
    source_ae: str | None = None,
) -> bytes:
    """128-byte preamble, ``DICM`` and the group 0002 DCMTK writes (Explicit
    VR LE): version 00\\01, the SOP Class/Instance UIDs, transfer syntax,
    implementation class UID and version name, and (0002,0016) Source
    Application Entity Title only when ``source_ae`` is given (``+B``)."""
    body = b"".join(
        [
            _META_VERSION,
            _meta_element(0x00020002, "UI", _pad(sop_class, b"\0")),
            _meta_element(0x00020003, "UI", _pad(sop_instance, b"\0")),
            _meta_element(0x00020010, "UI", _pad(ts_uid, b"\0")),
            _META_IMPLEMENTATION,
            _meta_element(0x00020013, "SH", _pad(version_name, b" ")),
        ]
        + ([_meta_element(0x00020016, "AE", _pad(source_ae, b" "))] if source_ae is not None else [])
    )
    return _PREAMBLE + struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body


def encode(
    data: bytes | memoryview,
    ts_uid: str,
    opts: WriteOptions,
    elems: list[Element] | None = None,
    meta_uids: tuple[str, str] | None = None,
    version_name: str = IMPLEMENTATION_VERSION_NAME,
) -> tuple[list, str | None, str | None]:
    """Turn a received data set into the chunks of the file DCMTK writes.

    The chunks are bytes-likes, except for a data set spooled to disk
    (``elems.streamed``): there big byte-swapped values are ``Swapped`` and a
    deflated data set is one ``Deflate``, so that nothing of the size of the
    object is built in memory; ``iter_bytes`` turns either into bytes.

    Returns ``(chunks, sop_class_uid, sop_instance_uid)``; the UIDs are read
    from the data set (movescu's consistency check) and, unless
    ``meta_uids`` is given, written to the meta header.  ``elems``: the
    tree ``walker.parse`` made of ``data`` (walked here if None; a
    malformed data set then raises ``EncodingError``).  Raises
    ``EncodingError`` if the data set cannot be converted.
    """
    if elems is None:
        elems = parse(data, ts_uid)
    target = opts.write_xfer or ts_uid
    src, dst = ts_info(ts_uid), ts_info(target)
    if target != ts_uid and (src.encapsulated or dst.encapsulated):
        # DCMTK's movescu registers no codecs: no conversion from/to compressed
        raise EncodingError("cannot change representation")
    sop_class, sop_instance = find_uids(elems)
    lazy = getattr(elems, "streamed", False)
    writer = Writer(dst, opts, src, getattr(elems, "buf", None), lazy)
    meta = b""
    if opts.write_file:
        meta_class, meta_instance = meta_uids or (sop_class or "", sop_instance or "")
        meta = meta_header(meta_class, meta_instance, target, version_name)
    padlen, subpad = opts.padding or (0, 0)
    prepared = writer.prepare(elems, padlen, subpad, len(meta), True)
    chunks: list = []
    writer.emit(prepared, chunks)
    if dst.deflated:
        if lazy:
            chunks = [Deflate(chunks, opts.compression_level)]
        else:
            chunks = [b"".join(deflated([b"".join(chunks)], opts.compression_level))]
    if meta:
        chunks.insert(0, meta)
    return chunks, sop_class, sop_instance
