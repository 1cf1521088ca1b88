"""The one byte-level element walker for data sets received on the network.

Every received object (getscu and movescu, normal mode) is walked exactly
once, by ``parse``: the result is a light tree of ``Element`` objects whose
values are memoryviews into the received buffer (nothing is copied, a 0.5 MB
pixel data element stays where it arrived).  From that tree the pipeline
takes the SOP Class/Instance UIDs (``find_uids``) and the writer
(``store.encoding``) produces the file in whatever form the tool asks for:
getscu's re-encoding (undefined-length sequences, group lengths recalculated)
and movescu's ``+F/-F +t? +u/-u +g? +e/-e +p/-p +cl`` encodings.  The writer
copies runs of untouched elements as single slices of the received buffer
(``Element.start``/``end``), so the common case costs one ``writev`` of a few
slices.  The query-file loader (``dicom.query``) uses the same header decoder
(``HeaderReader``) and VR tables.

Malformed data sets (docs/architecture.md, "Malformed data sets"): ``parse``
refuses exactly what DCMTK 3.6.7's ``DcmDataset::read`` refuses when it
receives a data set (``MalformedDataset``, carrying DCMTK's condition text),
and accepts what DCMTK accepts, the way DCMTK reads it:

* a non-standard VR in explicit VR: 2-byte length, the element becomes UN
  (DCMTK warns ``DcmItem: Non-standard VR ...`` and writes it as UN);
* an Item Delimitation Item at the top level ends the data set (the rest is
  ignored), fewer than 8 bytes left at the top level are ignored;
* UN with undefined length is a sequence in Implicit VR Little Endian
  (CP-246, with DCMTK's warning).

Refused: an element, item or fragment running past the end of its
container, a missing item/sequence delimiter, an item or sequence delimiter
where an element is expected, a non-item inside a sequence, OB/OW of
undefined length other than Pixel Data, a deflated stream that does not
inflate.

API
---
``parse(data, ts_uid, inflated=False, streamed=False) -> Dataset`` (a list
of ``Element`` with ``buf``, ``ts_uid`` and ``streamed``; raises
``MalformedDataset``); ``inflate(data)`` and ``inflate_into(data, write)``
(the same, piece by piece, for data sets spooled to disk);
``find_uids(elems, strip="\\0") -> (sop_class, sop_instance)``;
``ts_info(ts_uid) -> TSInfo``; ``Element``; ``HeaderReader``;
``LONG_VRS``, ``STANDARD_VRS``, ``NEW_VRS`` and the special tags.
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from typing import Callable

from . import dicts
from .uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE

_LOG = logging.getLogger("dcmtk.dcmdata")

#: explicit VRs with a 2-byte reserved field and a 4-byte length
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
#: the VRs DCMTK 3.6.7 knows; any other pair of bytes is "non-standard"
STANDARD_VRS = frozenset(
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN "
    "UR US UT UV".split()
)
_VR_NAMES = {vr.encode(): vr for vr in STANDARD_VRS}
#: VRs DCMTK writes as OB after ``-u`` (dcmDisableGenerationOfNewVRs)
NEW_VRS = frozenset({"UN", "UT", "UC", "UR", "OD", "OF", "OL", "OV", "SV", "UV"})

UNDEFINED = 0xFFFFFFFF
ITEM = 0xFFFEE000
ITEM_DELIM = 0xFFFEE00D
SEQ_DELIM = 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
PADDING = 0xFFFCFFFC
SOP_CLASS_UID = 0x00080016
SOP_INSTANCE_UID = 0x00080018

#: DCMTK's condition texts for a data set it cannot read
PREMATURE_END = "I/O suspension or premature end of stream"
INVALID_STREAM = "Invalid stream"
INVALID_TAG = "Invalid tag"
ITEM_DELIM_MISSING = "Item Delimitation Item missing"
SEQ_DELIM_MISSING = "Sequence Delimitation Item missing"
UNDEFINED_OB_OW = "Illegal element with OB or OW Value Representation and undefined length encountered"


class MalformedDataset(Exception):
    """The received bytes are not a data set DCMTK would read; ``reason`` is
    DCMTK's condition text (``dset->read() Failed (<reason>)``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Element:
    """One data element: ``value`` is raw bytes, a list of items (SQ: each
    item a list of Elements) or a list of fragments (encapsulated pixel
    data).  ``start``/``end``: the element's encoded bytes in the walked
    buffer when they may be copied unchanged into output of the same
    encoding (-1 when not: sub-encodings, non-standard VRs, made-up
    elements)."""

    tag: int
    vr: str
    value: memoryview | bytes | list
    encapsulated: bool = False
    swapped: bool = False  # value bytes are in Big Endian order
    start: int = -1
    end: int = -1

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


# ------------------------------------------------------- implicit VR lookup ---

#: tag -> VR (pydicom's dictionary, which ``dicts`` extends from DCMDICTPATH);
#: cleared whenever ``dicts`` loads or forgets a dictionary
_vr_cache: dict[int, str] = {}
#: tags whose dictionary VR is "US or SS": DCMTK reads them as SS when the
#: data set's Pixel Representation is 1
_xs_tags: set[int] = set()
_cache_generation = -1


def _check_cache() -> None:
    global _cache_generation
    if _cache_generation != dicts.generation:
        _vr_cache.clear()
        _xs_tags.clear()
        _cache_generation = dicts.generation


def _implicit_vr(tag: int) -> str:
    """VR of a (public) tag read in Implicit VR."""
    vr = _vr_cache.get(tag)
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
            _xs_tags.add(tag)
        if " or " in vr:
            vr = {"OB or OW": "OW", "US or SS": "US", "US or OW": "US", "US or SS or OW": "US"}.get(vr, vr[:2])
    _vr_cache[tag] = vr
    return vr


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
        if el.vr == "US" and el.tag in _xs_tags:
            el.vr = "SS"


def _private_vr(tag: int, elems: list[Element]) -> str:
    """VR of a private element read in Implicit VR: the private dictionary
    entry for its creator, else UN."""
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


# ----------------------------------------------------------------- walking ---


class HeaderReader:
    """Decodes element headers of one encoding (explicit/implicit VR, byte
    order): ``header(pos, end) -> (tag, vr or None, length, header size)``.
    Item tags always have an 8-byte header.  ``short()`` is called when the
    header does not fit before ``end``."""

    def __init__(self, buf: memoryview | bytes, explicit: bool, little: bool) -> None:
        self.buf = buf
        self.explicit = explicit
        self.little = little
        e = "<" if little else ">"
        self.u16 = struct.Struct(e + "H").unpack_from
        self.u32 = struct.Struct(e + "I").unpack_from
        self.tag_len = struct.Struct(e + "HHI").unpack_from
        self.tag_vr = struct.Struct(e + "HH2s").unpack_from

    def short(self) -> None:
        raise MalformedDataset(PREMATURE_END)

    def header(self, pos: int, end: int) -> tuple[int, str | None, int, int]:
        if end - pos < 8:
            self.short()
        group, elem, length = self.tag_len(self.buf, pos)
        tag = (group << 16) | elem
        if not self.explicit or group == 0xFFFE:
            return tag, None, length, 8
        vr = bytes(self.buf[pos + 4:pos + 6]).decode("latin-1")
        if vr in LONG_VRS:
            if end - pos < 12:
                self.short()
            return tag, vr, self.u32(self.buf, pos + 8)[0], 12
        return tag, vr, self.u16(self.buf, pos + 6)[0], 8


def _name(tag: int) -> str:
    return dicts.get_dictionary().tag_name(tag)


def _bad_item_tag(tag: int) -> None:
    """An item or sequence delimiter where an element is expected (DCMTK's texts)."""
    if tag == ITEM:
        _LOG.warning("DcmItem: Parse error while parsing element (fffe,e000)")
        raise MalformedDataset(INVALID_TAG)
    _LOG.error("DcmItem: Parse error in sequence item, found (%04x,%04x) instead of item delimiter (fffe,e00d)",
               tag >> 16, tag & 0xFFFF)
    raise MalformedDataset(ITEM_DELIM_MISSING)


def _nonstandard_vr(vrb: bytes, tag: int) -> None:
    shown = "".join(chr(b) if 0x20 < b < 0x7F else " " for b in vrb)
    _LOG.warning(
        "DcmItem: Non-standard VR '%s' (%02x\\%02x) encountered while parsing element (%04x,%04x), "
        "assuming 2 byte length field", shown, vrb[0], vrb[1], tag >> 16, tag & 0xFFFF)


#: VR of a run: consecutive ordinary elements of one group (defined length,
#: no sequence, nothing a reader or writer looks at), kept as one slice;
#: ``expand_runs`` turns it into its elements when they must be re-encoded
RUN = ""


def expand_runs(elems: list[Element], source: TSInfo) -> list[Element]:
    """``elems`` with every run replaced by its elements (walked again)."""
    if not any(el.vr is RUN for el in elems):
        return elems
    out: list[Element] = []
    for el in elems:
        if el.vr is RUN:
            value = memoryview(el.value)
            part, _ = _Parser(value, source.explicit, source.little, False).elements(0, len(value), False)
            out.extend(part)
        else:
            out.append(el)
    if not source.explicit:
        _resolve_ambiguous(out)
    return out


#: the fast path of ``_Parser.elements``: an Explicit VR Little Endian
#: header as (group, element, VR bytes, 2-byte length), and the VRs whose
#: defined-length elements may join a run (True: a 4-byte length)
_EXPLICIT_LE_HEADER = struct.Struct("<HH2sH").unpack_from
_U32LE = struct.Struct("<I").unpack_from
_RUN_VRS = {vr.encode(): vr in LONG_VRS for vr in STANDARD_VRS if vr != "SQ"}

#: how far a walk goes between two calls of its ``watch`` (``parse``)
WATCH_EVERY = 8 << 20


class _Parser(HeaderReader):
    """Builds the element tree (see module docstring for the rules)."""

    def __init__(self, buf: memoryview, explicit: bool, little: bool, copyable: bool = True,
                 watch: Callable[[], object] | None = None) -> None:
        """``copyable``: elements may be copied from ``buf`` unchanged (and so
        be kept as runs).  ``watch``: called whenever the walk has gone
        another ``WATCH_EVERY`` bytes (see ``parse``)."""
        super().__init__(buf, explicit, little)
        self.copyable = copyable
        self.watch = watch
        self.mark = WATCH_EVERY

    def _watch(self, pos: int) -> None:
        if pos >= self.mark:
            self.mark = pos + WATCH_EVERY
            self.watch()  # type: ignore[misc]

    def elements(self, pos: int, end: int, in_item: bool, top: bool = False) -> tuple[list[Element], int]:
        """Parse elements in ``[pos, end)``; with an undefined-length item,
        stop after its Item Delimitation Item.

        WHY two paths: most elements of a received data set are ordinary
        ones in Explicit VR Little Endian that only extend the current run.
        The first branch of the loop recognises them with one header unpack
        and one table lookup and keeps the pending run in local variables
        (it costs about a third of the general path per element, which was
        a good part of a C-GET's CPU time per object).  Everything else --
        other encodings, group lengths, the SOP UIDs, sequences, undefined
        lengths, items, non-standard VRs, short or overlong elements -- goes
        through the general path below, which decides exactly as before."""
        out: list[Element] = []
        buf = self.buf
        explicit = self.explicit
        copyable = self.copyable
        watch = self.watch
        fast = explicit and copyable and self.little
        header_le = _EXPLICIT_LE_HEADER
        vr_kinds = _RUN_VRS
        # the pending run: consecutive ordinary elements of one group, kept
        # as one slice [run_start, run_end) named after its first tag
        run_tag = -1
        run_start = run_end = 0
        while pos < end:
            if watch is not None:
                self._watch(pos)
            if fast and end - pos >= 8:
                group, elem, vrb, length = header_le(buf, pos)
                kind = vr_kinds.get(vrb)
                if kind is not None and elem and group < 0xFFFC:
                    if kind:  # a 4-byte length (never undefined here)
                        if end - pos >= 12:
                            length = _U32LE(buf, pos + 8)[0]
                            stop = pos + 12 + length
                        else:
                            stop = UNDEFINED
                    else:
                        stop = pos + 8 + length
                    if stop <= end and (group != 0x0008 or (elem != 0x0016 and elem != 0x0018)):
                        if run_tag >= 0 and run_end == pos and run_tag >> 16 == group:
                            run_end = stop
                        else:
                            if run_tag >= 0:
                                out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False,
                                                   run_start, run_end))
                            run_tag, run_start, run_end = (group << 16) | elem, pos, stop
                        pos = stop
                        continue
            # ---- the general path: one element, decided in full
            if end - pos < 8:
                if top:
                    break  # DCMTK leaves a short tail unread
                raise MalformedDataset(PREMATURE_END)
            start = pos
            if explicit:
                group, elem, vrb = self.tag_vr(buf, pos)
                tag = (group << 16) | elem
                if group == 0xFFFE:
                    if tag == ITEM_DELIM and (in_item or top):
                        if run_tag >= 0:
                            out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False,
                                               run_start, run_end))
                        return self._done(out), pos + 8 if in_item else end
                    _bad_item_tag(tag)
                vr = _VR_NAMES.get(vrb) or vrb.decode("latin-1")
                if vr in LONG_VRS:
                    if end - pos < 12:
                        raise MalformedDataset(PREMATURE_END)
                    length = self.u32(buf, pos + 8)[0]
                    pos += 12
                    raw_ok = copyable
                else:
                    length = self.u16(buf, pos + 6)[0]
                    pos += 8
                    raw_ok = copyable
                    if vr not in STANDARD_VRS:
                        _nonstandard_vr(vrb, tag)
                        vr, raw_ok = "UN", False
            else:
                group, elem, length = self.tag_len(buf, pos)
                tag = (group << 16) | elem
                pos += 8
                if group == 0xFFFE:
                    if tag == ITEM_DELIM and (in_item or top):
                        if run_tag >= 0:
                            out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False,
                                               run_start, run_end))
                        return self._done(out), pos if in_item else end
                    _bad_item_tag(tag)
                if group & 1 and elem >= 0x1000:
                    if run_tag >= 0:  # the creator may be in the pending run
                        out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False,
                                           run_start, run_end))
                        run_tag = -1
                    vr = _private_vr(tag, out)
                else:
                    vr = _implicit_vr(tag)
                raw_ok = copyable
            if length == UNDEFINED:
                if run_tag >= 0:
                    out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False, run_start, run_end))
                    run_tag = -1
                if tag == PIXEL_DATA or (explicit and vr in ("OB", "OW")):
                    if tag != PIXEL_DATA:
                        _LOG.error("DcmItem: Parse error in (%04x,%04x): %s", group, elem, UNDEFINED_OB_OW)
                        raise MalformedDataset(UNDEFINED_OB_OW)
                    frags, pos = self.fragments(pos, end)
                    out.append(Element(tag, vr, frags, True, False, start if raw_ok else -1, pos))
                else:
                    # SQ, or UN/implicit data of undefined length: a sequence
                    if vr == "UN" and explicit:
                        _LOG.warning(
                            "Found element (%04x,%04x) with VR UN and undefined length, reading a sequence "
                            "with transfer syntax LittleEndianImplicit (CP-246)", group, elem)
                    items, pos = self.sequence(pos, end, UNDEFINED, vr == "UN" and explicit, tag)
                    out.append(Element(tag, "SQ", items))
                continue
            stop = pos + length
            if stop > end:
                _LOG.error("DcmElement: %s (%04x,%04x) larger (%d) than remaining bytes (%d) in file, "
                           "premature end of stream", _name(tag), group, elem, length, end - pos)
                raise MalformedDataset(INVALID_STREAM)
            if vr == "SQ":
                if run_tag >= 0:
                    out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False, run_start, run_end))
                    run_tag = -1
                items, _ = self.sequence(pos, stop, length, False, tag)
                out.append(Element(tag, "SQ", items))
            elif (raw_ok and elem and group < 0xFFFC and tag != SOP_CLASS_UID and tag != SOP_INSTANCE_UID
                  and (explicit or not (group & 1 or tag in _xs_tags or tag == 0x00280103))):
                if run_tag >= 0 and run_end == start and run_tag >> 16 == group:
                    run_end = stop
                else:
                    if run_tag >= 0:
                        out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False,
                                           run_start, run_end))
                    run_tag, run_start, run_end = tag, start, stop
            else:
                if run_tag >= 0:
                    out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False, run_start, run_end))
                    run_tag = -1
                out.append(Element(tag, vr, buf[pos:stop], False, not self.little, start if raw_ok else -1, stop))
            pos = stop
        if in_item:
            raise MalformedDataset(ITEM_DELIM_MISSING)
        if run_tag >= 0:
            out.append(Element(run_tag, RUN, buf[run_start:run_end], False, False, run_start, run_end))
        return self._done(out), pos

    def _done(self, out: list[Element]) -> list[Element]:
        if not self.explicit:
            _resolve_ambiguous(out)
        return out

    def sequence(self, pos: int, end: int, length: int, implicit_un: bool, seq_tag: int) -> tuple[list, int]:
        sub = _Parser(self.buf, False, True, False, self.watch) if implicit_un else self
        items: list[list[Element]] = []
        stop = end if length == UNDEFINED else pos + length
        while pos < stop:
            if stop - pos < 8:
                raise MalformedDataset(PREMATURE_END)
            group, elem, ilen = sub.tag_len(self.buf, pos)
            tag = (group << 16) | elem
            pos += 8
            if tag == SEQ_DELIM:
                return items, pos
            if tag != ITEM:
                _LOG.error("DcmSequenceOfItems: Parse error in sequence (%04x,%04x), found (%04x,%04x) instead of "
                           "sequence delimiter (fffe,e0dd)", seq_tag >> 16, seq_tag & 0xFFFF, group, elem)
                raise MalformedDataset(SEQ_DELIM_MISSING)
            if ilen == UNDEFINED:
                elems, pos = sub.elements(pos, stop, True)
            else:
                if pos + ilen > stop:
                    raise MalformedDataset(INVALID_STREAM)
                elems, _ = sub.elements(pos, pos + ilen, False)
                pos += ilen
            items.append(elems)
        if length == UNDEFINED:
            _LOG.warning("DcmSequenceOfItems: Reached end of stream before the end of sequence %s (%04x,%04x)",
                         _name(seq_tag), seq_tag >> 16, seq_tag & 0xFFFF)
            raise MalformedDataset(SEQ_DELIM_MISSING)
        return items, pos

    def fragments(self, pos: int, end: int) -> tuple[list, int]:
        frags: list[memoryview] = []
        watch = self.watch
        while pos + 8 <= end:
            if watch is not None:
                self._watch(pos)
            group, elem, flen = self.tag_len(self.buf, pos)
            tag = (group << 16) | elem
            pos += 8
            if tag == SEQ_DELIM:
                return frags, pos
            if tag != ITEM or flen == UNDEFINED or pos + flen > end:
                raise MalformedDataset(INVALID_STREAM)
            frags.append(self.buf[pos:pos + flen])
            pos += flen
        raise MalformedDataset(SEQ_DELIM_MISSING)


def inflate(data: bytes | memoryview) -> memoryview:
    """The raw data set of a Deflated Explicit VR Little Endian stream."""
    try:
        return memoryview(zlib.decompress(data, -15))
    except zlib.error:
        raise MalformedDataset(PREMATURE_END) from None


def inflate_into(data: memoryview, write: Callable[[bytes], object], chunk: int = 1 << 20) -> None:
    """``inflate`` piece by piece: the raw data set goes to ``write`` in pieces
    of at most ``chunk`` bytes, so neither side is ever held whole.  Accepts
    and refuses exactly what ``inflate`` does (bytes after the end of the
    deflate stream are ignored, a stream that does not end is malformed)."""
    inflater = zlib.decompressobj(-15)
    try:
        for pos in range(0, len(data), chunk):
            pending: bytes | memoryview = data[pos:pos + chunk]
            while pending and not inflater.eof:
                out = inflater.decompress(pending, chunk)
                if out:
                    write(out)
                pending = inflater.unconsumed_tail
            if inflater.eof:
                return
        while not inflater.eof:  # the input is all in, output may still be pending
            out = inflater.decompress(b"", chunk)
            if not out:
                break
            write(out)
    except zlib.error:
        raise MalformedDataset(PREMATURE_END) from None
    if not inflater.eof:
        raise MalformedDataset(PREMATURE_END)


class Dataset(list):
    """The top-level elements of a walked data set; ``buf`` is the buffer
    their ``start``/``end`` offsets refer to (the inflated stream for
    Deflated), ``ts_uid`` the transfer syntax it arrived in."""

    __slots__ = ("buf", "ts_uid", "streamed")


def parse(data: bytes | memoryview, ts_uid: str, inflated: bool = False, streamed: bool = False,
          watch: Callable[[], object] | None = None) -> Dataset:
    """Walk a received data set (as it arrived in ``ts_uid``) into elements.

    ``inflated``: a Deflated data set was already inflated (``inflate_into``).
    ``streamed``: ``data`` is a mapped file (the pipeline's spool of a big
    object): the writer then keeps big values out of memory
    (``Dataset.streamed``).  ``watch()``: called each time the walk has gone
    about ``WATCH_EVERY`` bytes further (the pipeline drops the pages of its
    mapping there: every element or fragment header read maps a page)."""
    _check_cache()
    info = ts_info(ts_uid)
    buf = inflate(data) if info.deflated and not inflated else memoryview(data)
    elems, _ = _Parser(buf, info.explicit, info.little, True, watch).elements(0, len(buf), False, True)
    result = Dataset(elems)
    result.buf = buf
    result.ts_uid = ts_uid
    result.streamed = streamed
    return result


def find_uids(elems: list[Element], strip: str = "\0") -> tuple[str | None, str | None]:
    """SOP Class / Instance UID of a parsed data set (``None`` if absent or
    empty; the first occurrence at the top level, as DCMTK keeps the first of
    a repeated tag) with the characters ``strip`` removed from the end (movescu's
    DU_findSOPClassAndInstanceInDataSet: NULs; getscu's names: NULs and
    spaces)."""

    found: dict[int, str | None] = {}
    for el in elems:
        tag = el.tag
        if (tag == SOP_CLASS_UID or tag == SOP_INSTANCE_UID) and tag not in found and not isinstance(el.value, list):
            found[tag] = bytes(el.value).decode("latin-1").rstrip(strip) or None
            if len(found) == 2:
                break
    return found.get(SOP_CLASS_UID), found.get(SOP_INSTANCE_UID)
