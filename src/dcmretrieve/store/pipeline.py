"""The one receive-and-write pipeline for objects arriving by C-STORE.

Both ``getscu`` (C-STORE on the C-GET association) and ``movescu`` (C-STORE
on a sub-association) hand every incoming C-STORE to ``StorePipeline.receive``
and answer with the status it decides; neither tool writes files itself.

WHY like this:
* DCMTK names files after UIDs a peer sends.  3.6.7 used them unchecked
  (path traversal, deviation #2) and could leave half-written files under
  their final name (deviation #5).  Every object therefore goes to a hidden
  temporary file *in the output directory* (``.<name>.part-XXXXXX``) and is
  renamed only when complete; on any failure, peer abort or
  KeyboardInterrupt the temporary file is removed.  Names are sanitised by
  ``safe_name`` (valid UIDs are unchanged, so normal names stay identical).
* Received objects are never decoded with pydicom: the data set bytes are
  either streamed straight to disk (``+B``: memory stays flat for any object
  size) or walked once at the byte level (normal mode) to find the SOP
  Class/Instance UIDs and to re-encode sequences with undefined length the
  way getscu writes them.

API (stable; movescu relies on it)
----------------------------------
``ObjectInfo``: what is known about one incoming object: ``pc_id``,
    ``transfer_syntax`` (accepted TS of the context), ``request`` (the
    C-STORE-RQ ``association.Command``), ``request_sop_class`` /
    ``request_sop_instance``, ``calling_ae`` / ``called_ae`` of the
    association, and after a normal-mode receive ``dataset_sop_class`` /
    ``dataset_sop_instance`` (None when absent) and ``data`` (the received
    data set bytes).
``StoreResult``: ``kind`` in {"stored", "ignored", "missing-uid",
    "write-error", "create-error", "receive-error"}, ``path`` (DCMTK's
    printed path ``od/NAME``), ``info``, ``error`` (``DimseError`` for
    "receive-error", condition text for "create-error").  The tool maps the
    kind to its status code and messages (getscu: 0xC000 and the session
    ends; movescu: 0xA700/0xC000/0xA900 ...).
``StorePipeline(output_dir, mode, logger, name_rule, encoder=None,
    bp_header=None, progress=None, overwrite_warning=True)``
    ``mode``: "normal" | "bit-preserving" | "ignore".
    ``logger``: receives ``W: DICOM file already exists, overwriting: <path>``
    (getscu: ``dcmtk.dcmnet``; movescu: ``dcmtk.apps.movescu``).
    ``name_rule(info) -> str | None``: the bare file name (e.g.
    ``getscu_name``, ``movescu_name``, ``bit_preserving_name``); None means
    "UIDs missing" (kind "missing-uid", nothing written).
    ``encoder(data, info) -> bytes-like | list of bytes-like``: the file
    content for normal mode (default ``getscu_file_bytes``: new meta header
    + data set in the received TS with undefined-length sequences).
    movescu passes its +F/-F/+t?/+e/+g/+p/+u encoder (encoding.py).  An
    encoder raises ``ValueError`` (``encoding.EncodingError`` is one) when
    the data cannot be written in the requested form: the result is a
    ``write-error``, as for a failing disk, and no file is left behind.
    ``bp_header(info) -> bytes``: what precedes the streamed bytes in
    ``+B`` mode (default ``bit_preserving_meta`` with the association's
    calling AE; movescu ``-F`` passes ``lambda info: b""``).
    ``progress(event)``: called with "start", "chunk" (per PDV) and "end"
    (movescu's ``RECV: ...`` dots).
    ``on_received(info)``: called once the whole data set has arrived,
    before naming/writing (getscu's ``Received dataset on presentation
    context`` debug line).
  ``.receive(assoc, pc_id, request, transfer_syntax) -> StoreResult``
    reads the data set from ``assoc`` (``association.Association``) and
    writes it.  Never raises for file-system problems; a DimseError while
    receiving is returned as kind "receive-error" (temporary file removed).
    KeyboardInterrupt propagates after the temporary file is removed.
``safe_name(name)``: deviation #2 sanitising.
``join_output(output_dir, name)``: DCMTK's ``od/name`` text (trailing
    slashes collapsed; for ``.`` just ``name``).
``scan_dataset(data, ts) -> (sop_class, sop_instance)``,
``reencode_undefined_length(data, ts) -> (bytes, found)`` and
``reencode_parts(data, ts) -> (parts, found)``: the byte-level walker.
``file_meta(sop_class, sop_instance, ts, version_name, source_ae=None) -> bytes``:
    preamble + ``DICM`` + DCMTK's meta header.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..dicom import sopclasses
from ..net.association import (
    DEFLATED_LE,
    EXPLICIT_BE,
    IMPLEMENTATION_CLASS_UID,
    IMPLICIT_LE,
    Association,
    Command,
    DimseError,
)

BP_VERSION_NAME = "OFFIS_DCMBP_367"
DCMTK_VERSION_NAME = "OFFIS_DCMTK_367"
MAX_NAME_BYTES = 255
_UNSAFE = re.compile("[/\\\\\x00-\x1f\x7f]")


# ---------------------------------------------------------------------------
# names


def safe_name(name: str) -> str:
    """Make ``name`` a plain file name inside the output directory (deviation #2).

    Path separators, NUL and other control characters become ``_``; a name
    consisting only of dots (``.``/``..``) or starting with a dot gets a
    leading ``_`` so it can neither climb out nor hide; over-long names are
    cut to 255 bytes.  A valid UID-based name is returned unchanged.
    """
    cleaned = _UNSAFE.sub("_", name)
    if not cleaned or cleaned.startswith("."):
        cleaned = "_" + cleaned
    encoded = cleaned.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_NAME_BYTES:
        cleaned = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return cleaned


def join_output(output_dir: str, name: str) -> str:
    """DCMTK's path text (OFStandard::combineDirAndFilename): trailing slashes
    collapsed (``fk//`` -> ``fk/NAME``), the current directory ``.`` omitted."""
    directory = output_dir.rstrip("/")
    if not directory:
        return ("/" if output_dir.startswith("/") else "") + name
    if directory == ".":
        return name
    return f"{directory}/{name}"


def getscu_name(info: "ObjectInfo") -> str | None:
    """getscu normal mode: ``<prefix>.<SOP Instance UID>`` from the data set (getscu.md §4.1)."""
    if not info.dataset_sop_class or not info.dataset_sop_instance:
        return None
    return f"{sopclasses.filename_prefix(info.dataset_sop_class)}.{info.dataset_sop_instance}"


def movescu_name(info: "ObjectInfo") -> str | None:
    """movescu: ``<prefix>.<Affected SOP Instance UID>`` from the C-STORE request."""
    prefix = sopclasses.filename_prefix(info.request_sop_class, "(null)")
    return f"{prefix}.{info.request_sop_instance}"


def bit_preserving_name(info: "ObjectInfo") -> str | None:
    """getscu ``+B``: the request's Affected SOP Instance UID, no prefix."""
    return info.request_sop_instance


# ---------------------------------------------------------------------------
# meta header


def _element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def _ui(uid: str) -> bytes:
    raw = uid.encode("ascii", "replace")
    return raw + b"\0" if len(raw) % 2 else raw


def _text(value: str) -> bytes:
    raw = value.encode("latin-1", "replace")
    return raw + b" " if len(raw) % 2 else raw


def file_meta(sop_class: str, sop_instance: str, ts: str, version_name: str,
              source_ae: str | None = None) -> bytes:
    """128-byte preamble, ``DICM`` and the meta header DCMTK writes."""
    body = _element(0x0002, 0x0001, b"OB", b"\x00\x01")
    body += _element(0x0002, 0x0002, b"UI", _ui(sop_class))
    body += _element(0x0002, 0x0003, b"UI", _ui(sop_instance))
    body += _element(0x0002, 0x0010, b"UI", _ui(ts))
    body += _element(0x0002, 0x0012, b"UI", _ui(IMPLEMENTATION_CLASS_UID))
    body += _element(0x0002, 0x0013, b"SH", _text(version_name))
    if source_ae is not None:
        body += _element(0x0002, 0x0016, b"AE", _text(source_ae))
    group_length = _element(0x0002, 0x0000, b"UL", struct.pack("<I", len(body)))
    return bytes(128) + b"DICM" + group_length + body


def bit_preserving_meta(info: "ObjectInfo") -> bytes:
    """getscu ``+B`` meta header: built from the request, (0002,0016) = calling AE."""
    return file_meta(info.request_sop_class, info.request_sop_instance, info.transfer_syntax,
                     BP_VERSION_NAME, info.calling_ae)


# ---------------------------------------------------------------------------
# byte-level data set walker

_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_DELIM, _SEQ_DELIM = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UR", b"UT", b"UN", b"SV", b"UV"}
_PIXEL_DATA = 0x7FE00010


class DatasetFormatError(Exception):
    """The received bytes are not a well-formed data set."""


class _Parts:
    """The walker's output: slices of the received bytes plus small new pieces
    (headers, delimiters, patched group lengths).  Written with writev, so the
    bulk of an object (pixel data) is never copied."""

    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes | bytearray | memoryview] = []
        self.size = 0

    def add(self, part: bytes | bytearray | memoryview) -> None:
        if len(part):
            self.parts.append(part)
            self.size += len(part)


class _Walker:
    """Copies a data set, re-encoding sequences/items with undefined length
    and recalculating existing group length elements (DCMTK's write defaults
    for getscu), while noting the top-level SOP Class/Instance UIDs."""

    def __init__(self, data: bytes, ts: str) -> None:
        self.src = memoryview(data)
        self.explicit = ts != IMPLICIT_LE
        self.little = ts != EXPLICIT_BE
        self.e = "<" if self.little else ">"
        self.out = _Parts()
        self.found: dict[int, str] = {}
        self._vr_cache: dict[int, bool] = {}

    # header: (tag, vr, length, header_length)
    def header(self, pos: int) -> tuple[int, bytes, int, int]:
        src = self.src
        if pos + 8 > len(src):
            raise DatasetFormatError("premature end")
        group, elem = struct.unpack_from(self.e + "HH", src, pos)
        tag = (group << 16) | elem
        if group == 0xFFFE or not self.explicit:
            (length,) = struct.unpack_from(self.e + "I", src, pos + 4)
            return tag, b"", length, 8
        vr = bytes(src[pos + 4:pos + 6])
        if vr in _LONG_VRS:
            if pos + 12 > len(src):
                raise DatasetFormatError("premature end")
            (length,) = struct.unpack_from(self.e + "I", src, pos + 8)
            return tag, vr, length, 12
        (length,) = struct.unpack_from(self.e + "H", src, pos + 6)
        return tag, vr, length, 8

    def is_sequence(self, tag: int, vr: bytes, length: int) -> bool:
        if tag == _PIXEL_DATA:
            return False
        if self.explicit:
            return vr == b"SQ"
        if length == _UNDEFINED:
            return True
        cached = self._vr_cache.get(tag)
        if cached is None:
            try:
                from pydicom.datadict import dictionary_VR

                cached = dictionary_VR(tag) == "SQ"
            except KeyError:
                cached = False
            self._vr_cache[tag] = cached
        return cached

    def put_header(self, tag: int, vr: bytes, length: int) -> None:
        e = self.e
        if (tag >> 16) == 0xFFFE or not self.explicit:
            self.out.add(struct.pack(e + "HHI", tag >> 16, tag & 0xFFFF, length))
        else:
            self.out.add(struct.pack(e + "HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack(e + "HI", 0, length))

    def dataset(self, pos: int, end: int, top: bool, until_delimiter: bool) -> int:
        """Copy one data set (or item body).  Unchanged elements are copied in
        runs (one slice per run), which keeps the walk cheap for big objects."""
        src = self.src
        size = len(src)
        e = self.e
        explicit = self.explicit
        tag_len = struct.Struct(e + "HHI")  # group, element, 32-bit length (implicit / items)
        tag_vr = struct.Struct(e + "HH2sH")  # group, element, VR, 16-bit length
        long_len = struct.Struct(e + "I")
        gl_value: bytearray | None = None  # pending group length value (patched in place)
        gl_start = 0
        gl_group = -1
        run = pos  # start of the not yet copied run of unchanged bytes
        found = self.found
        while pos < end:
            if pos + 8 > size:
                raise DatasetFormatError("premature end")
            if explicit:
                group, elem, vr, length = tag_vr.unpack_from(src, pos)
                if group == 0xFFFE:
                    length = long_len.unpack_from(src, pos + 4)[0]
                    vr, hlen = b"", 8
                elif vr in _LONG_VRS:
                    if pos + 12 > size:
                        raise DatasetFormatError("premature end")
                    length = long_len.unpack_from(src, pos + 8)[0]
                    hlen = 12
                else:
                    hlen = 8
            else:
                group, elem, length = tag_len.unpack_from(src, pos)
                vr, hlen = b"", 8
            tag = (group << 16) | elem
            if group == 0xFFFE and elem == 0xE00D:
                if not until_delimiter:
                    raise DatasetFormatError("unexpected item delimiter")
                self.out.add(src[run:pos])
                pos += hlen
                run = pos
                break
            if gl_value is not None and group != gl_group:
                self.out.add(src[run:pos])
                run = pos
                struct.pack_into(e + "I", gl_value, 0, self.out.size - gl_start)
                gl_value = None
            if elem == 0 and length == 4:
                self.out.add(src[run:pos + hlen])
                gl_value, gl_group = bytearray(src[pos + hlen:pos + hlen + 4]), group
                self.out.add(gl_value)
                gl_start = self.out.size
                pos += hlen + 4
                run = pos
                continue
            if (vr == b"SQ" if explicit else (tag != _PIXEL_DATA and self.is_sequence(tag, vr, length))):
                self.out.add(src[run:pos])
                self.put_header(tag, vr or b"SQ", _UNDEFINED)
                body = pos + hlen
                if length == _UNDEFINED:
                    pos = self.items(body, size, True)
                else:
                    if body + length > end:
                        raise DatasetFormatError("sequence overruns")
                    self.items(body, body + length, False)
                    pos = body + length
                self.put_header(_SEQ_DELIM, b"", 0)
                run = pos
                continue
            if length == _UNDEFINED:
                self.out.add(src[run:pos])
                pos = self.copy_encapsulated(pos, hlen)
                run = pos
                continue
            stop = pos + hlen + length
            if stop > size:
                raise DatasetFormatError("element overruns")
            if top and group == 0x0008 and elem in (0x0016, 0x0018):
                found[tag] = bytes(src[pos + hlen:stop]).decode("latin-1").rstrip("\0 ")
            pos = stop
        else:
            self.out.add(src[run:pos])
            run = pos
            if until_delimiter:
                raise DatasetFormatError("missing item delimiter")
        if gl_value is not None:
            struct.pack_into(e + "I", gl_value, 0, self.out.size - gl_start)
        return pos

    def items(self, pos: int, end: int, until_delimiter: bool) -> int:
        while pos < end:
            tag, _vr, length, hlen = self.header(pos)
            if tag == _SEQ_DELIM:
                return pos + hlen
            if tag != _ITEM:
                raise DatasetFormatError("expected item")
            self.put_header(_ITEM, b"", _UNDEFINED)
            body = pos + hlen
            if length == _UNDEFINED:
                pos = self.dataset(body, len(self.src), False, True)
            else:
                if body + length > end:
                    raise DatasetFormatError("item overruns")
                self.dataset(body, body + length, False, False)
                pos = body + length
            self.put_header(_ITEM_DELIM, b"", 0)
        if until_delimiter:
            raise DatasetFormatError("missing sequence delimiter")
        return pos

    def copy_encapsulated(self, pos: int, hlen: int) -> int:
        """Undefined-length non-SQ element (encapsulated pixel data): copy verbatim."""
        start = pos
        pos += hlen
        while True:
            tag, _vr, length, ihlen = self.header(pos)
            if tag == _SEQ_DELIM:
                pos += ihlen
                break
            if tag != _ITEM or length == _UNDEFINED:
                raise DatasetFormatError("bad fragment")
            pos += ihlen + length
            if pos > len(self.src):
                raise DatasetFormatError("fragment overruns")
        self.out.add(self.src[start:pos])
        return pos


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompress(data, -15)
    except zlib.error as exc:
        raise DatasetFormatError(str(exc)) from None


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def reencode_parts(data: bytes, ts: str) -> tuple[list[bytes | bytearray | memoryview], dict[int, str]]:
    """Like ``reencode_undefined_length`` but as a list of parts (views into
    ``data`` where nothing changed), ready for ``writev``."""
    raw = _inflate(data) if ts == DEFLATED_LE else data
    walker = _Walker(raw, ts)
    walker.dataset(0, len(raw), True, False)
    if ts == DEFLATED_LE:
        return [_deflate(b"".join(walker.out.parts))], walker.found
    return walker.out.parts, walker.found


def reencode_undefined_length(data: bytes, ts: str) -> tuple[bytes, dict[int, str]]:
    """(re-encoded data set, {tag: value} of top-level SOP Class/Instance UID)."""
    parts, found = reencode_parts(data, ts)
    return b"".join(parts), found


def scan_dataset(data: bytes, ts: str) -> tuple[str | None, str | None]:
    """Top-level (0008,0016) and (0008,0018) of an encoded data set."""
    _out, found = reencode_undefined_length(data, ts)
    return found.get(0x00080016), found.get(0x00080018)


# ---------------------------------------------------------------------------
# the pipeline


@dataclass
class ObjectInfo:
    """Everything known about one incoming object (see module docstring)."""

    pc_id: int
    transfer_syntax: str
    request: Command
    calling_ae: str = ""
    called_ae: str = ""
    dataset_sop_class: str | None = None
    dataset_sop_instance: str | None = None
    data: bytes | None = None
    encoded: list[bytes | bytearray | memoryview] | None = None  # getscu's re-encoded data set, as parts

    @property
    def request_sop_class(self) -> str:
        return self.request.affected_sop_class_uid

    @property
    def request_sop_instance(self) -> str:
        return self.request.affected_sop_instance_uid


@dataclass
class StoreResult:
    kind: str
    info: ObjectInfo
    path: str | None = None
    error: object = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kind in ("stored", "ignored")


def getscu_file_bytes(data: bytes, info: ObjectInfo) -> Sequence[bytes]:
    """getscu normal mode file: new meta header (no 0002,0016) + data set as received,
    sequences/items with undefined length, group lengths recalculated."""
    parts = info.encoded
    if parts is None:
        parts, _found = reencode_parts(data, info.transfer_syntax)
    meta = file_meta(info.dataset_sop_class or "", info.dataset_sop_instance or "",
                     info.transfer_syntax, DCMTK_VERSION_NAME)
    return [meta, *parts]


try:
    _IOV_MAX = max(16, min(1024, os.sysconf("SC_IOV_MAX")))
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _IOV_MAX = 16


class _TempFile:
    """A hidden temporary file next to the final one; renamed or removed, never left."""

    def __init__(self, directory: str, name: str) -> None:
        base = name[:200]
        while True:
            path = os.path.join(directory or ".", f".{base}.part-{secrets.token_hex(3)}")
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            break
        self.path = path
        self.open = True

    def write(self, data: bytes | memoryview) -> None:
        """Unbuffered: callers hand over PDV-sized or whole-object chunks, and a
        per-file buffer would cost an allocation per object (2000 tiny files)."""
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def write_parts(self, parts: Sequence[bytes | memoryview]) -> None:
        """All parts with one ``writev`` (one system call per small object)."""
        for start in range(0, len(parts), _IOV_MAX):
            views = [memoryview(part) for part in parts[start:start + _IOV_MAX]]
            total = sum(len(v) for v in views)
            written = os.writev(self.fd, views) if views else 0
            if written < total:  # partial write: finish part by part
                for view in views:
                    if written >= len(view):
                        written -= len(view)
                        continue
                    self.write(view[written:])
                    written = 0

    def _close(self) -> None:
        if self.open:
            self.open = False
            os.close(self.fd)

    def commit(self, final: str) -> None:
        self._close()
        os.rename(self.path, final)

    def discard(self) -> None:
        try:
            self._close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
        except OSError:
            pass


class StorePipeline:
    """Receive one C-STORE data set and write it (see module docstring)."""

    def __init__(self, output_dir: str, mode: str, logger: logging.Logger,
                 name_rule: Callable[[ObjectInfo], str | None],
                 encoder: Callable[[bytes, ObjectInfo], object] | None = None,
                 bp_header: Callable[[ObjectInfo], bytes] | None = None,
                 progress: Callable[[str], None] | None = None,
                 overwrite_warning: bool = True,
                 on_received: Callable[[ObjectInfo], None] | None = None) -> None:
        self.output_dir = output_dir
        self.mode = mode
        self.logger = logger
        self.name_rule = name_rule
        self.encoder = encoder or getscu_file_bytes
        self.bp_header = bp_header or bit_preserving_meta
        self.progress = progress
        self.overwrite_warning = overwrite_warning
        self.on_received = on_received

    def final_path(self, name: str) -> tuple[str, str]:
        """(path as DCMTK prints it, path used on disk) for a bare name."""
        clean = safe_name(name)
        return join_output(self.output_dir, clean), os.path.join(self.output_dir or ".", clean)

    def receive(self, assoc: Association, pc_id: int, request: Command, transfer_syntax: str) -> StoreResult:
        info = ObjectInfo(pc_id, transfer_syntax, request, assoc.calling_ae, assoc.called_ae)
        if self.progress:
            self.progress("start")
        try:
            if self.mode == "ignore":
                return self._receive_ignore(assoc, info)
            if self.mode == "bit-preserving":
                return self._receive_bit_preserving(assoc, info)
            return self._receive_normal(assoc, info)
        finally:
            if self.progress:
                self.progress("end")

    # ---- modes ------------------------------------------------------------------
    def _sink(self, target: Callable[[memoryview], object] | None) -> Callable[[memoryview], None] | None:
        progress = self.progress
        if progress is None:
            return target  # type: ignore[return-value]

        def sink(chunk: memoryview) -> None:
            progress("chunk")
            if target is not None:
                target(chunk)

        return sink

    def _receive_ignore(self, assoc: Association, info: ObjectInfo) -> StoreResult:
        try:
            assoc.receive_dataset(info.pc_id, self._sink(None))
        except DimseError as exc:
            return StoreResult("receive-error", info, error=exc)
        return StoreResult("ignored", info)

    def _receive_normal(self, assoc: Association, info: ObjectInfo) -> StoreResult:
        chunks: list[memoryview] = []
        try:
            assoc.receive_dataset(info.pc_id, self._sink(chunks.append))
        except DimseError as exc:
            return StoreResult("receive-error", info, error=exc)
        data = b"".join(chunks)
        del chunks
        info.data = data
        if self.on_received:
            self.on_received(info)
        try:
            info.encoded, found = reencode_parts(data, info.transfer_syntax)
        except DatasetFormatError as exc:
            return StoreResult("receive-error", info, error=exc)
        info.dataset_sop_class = found.get(0x00080016) or None
        info.dataset_sop_instance = found.get(0x00080018) or None
        name = self.name_rule(info)
        if name is None:
            return StoreResult("missing-uid", info)
        shown, path = self.final_path(name)
        if self.overwrite_warning and os.path.isfile(path):  # DCMTK: fileExists() (no directories)
            self.logger.warning("DICOM file already exists, overwriting: %s", shown)
        temp: _TempFile | None = None
        try:
            content = self.encoder(data, info)
            temp = _TempFile(os.path.dirname(path), os.path.basename(path))
            if isinstance(content, (bytes, bytearray, memoryview)):
                temp.write(content)
            else:
                temp.write_parts(list(content))  # type: ignore[arg-type]
            temp.commit(path)
        except (OSError, ValueError) as exc:
            if temp is not None:
                temp.discard()
            return StoreResult("write-error", info, path=shown, error=exc)
        except BaseException:
            if temp is not None:
                temp.discard()
            raise
        return StoreResult("stored", info, path=shown)

    def _receive_bit_preserving(self, assoc: Association, info: ObjectInfo) -> StoreResult:
        name = self.name_rule(info) or ""
        shown, path = self.final_path(name)
        try:
            if os.path.isdir(path):
                raise IsADirectoryError(path)
            temp = _TempFile(os.path.dirname(path), os.path.basename(path))
        except OSError:
            return StoreResult("create-error", info, path=shown,
                               error=f"0006:020a DIMSE createFilestream: cannot create file '{shown}'")
        try:
            temp.write(self.bp_header(info))
            assoc.receive_dataset(info.pc_id, self._sink(temp.write))
        except DimseError as exc:
            temp.discard()
            return StoreResult("receive-error", info, error=exc)
        except OSError as exc:
            temp.discard()
            return StoreResult("write-error", info, path=shown, error=exc)
        except BaseException:
            temp.discard()
            raise
        if self.on_received:
            self.on_received(info)
        try:
            temp.commit(path)
        except OSError as exc:
            temp.discard()
            return StoreResult("write-error", info, path=shown, error=exc)
        return StoreResult("stored", info, path=shown)
