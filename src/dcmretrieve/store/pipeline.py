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
  size) or walked once at the byte level (normal mode, ``dicom.walker``):
  the walk gives the SOP Class/Instance UIDs and the element tree the
  encoder writes from (getscu: undefined-length sequences; movescu: its
  output options).  A data set the walk refuses (docs/architecture.md,
  "Malformed data sets") is a "receive-error", like DCMTK's failing
  ``dset->read()``.
* Memory stays flat in normal mode too (docs/architecture.md, "Memory for
  big objects"): a data set above ``spool_threshold`` bytes is spooled to a
  hidden temporary file in the output directory, walked through a mapping
  and written piece by piece (``encoding.iter_bytes``); smaller ones stay
  in memory, the fast path.

API (stable; movescu relies on it)
----------------------------------
``ObjectInfo``: what is known about one incoming object: ``pc_id``,
    ``transfer_syntax`` (accepted TS of the context), ``request_sop_class`` /
    ``request_sop_instance`` (Affected SOP Class/Instance UIDs of the
    C-STORE-RQ), ``calling_ae`` / ``called_ae`` of the
    association, and after a normal-mode receive ``dataset_sop_class`` /
    ``dataset_sop_instance`` (None when absent), ``data`` (the received
    data set bytes) and ``elements`` (``walker.parse`` of them); for a
    spooled object these two are views into the spool while it is walked
    and written and None afterwards.
``StoreResult``: ``kind`` (``StoreOutcome``: STORED, IGNORED, MISSING_UID,
    WRITE_ERROR, CREATE_ERROR, RECEIVE_ERROR), ``path`` (DCMTK's
    printed path ``od/NAME``), ``info``, ``error`` (the ``ReceiveError`` or
    ``walker.MalformedDataset`` for RECEIVE_ERROR, condition text for
    CREATE_ERROR; for a ``+B`` WRITE_ERROR while streaming,
    ``BIT_PRESERVING_WRITE_FAILED``, and ``unread`` is True when the rest of
    the data set was left on the association, see ``bp_read_on``).  The tool maps the
    kind to its status code and messages (getscu: 0xC000 and the session
    ends; movescu: 0xA700/0xC000/0xA900 ...).
``StorePipeline(output_dir, mode, logger, name_rule, encoder=None,
    bp_header=None, progress=None, overwrite_warning=True, on_received=None,
    bp_read_on=False, spool_threshold=SPOOL_THRESHOLD, layout=None, meter=None)``
    ``mode``: ``StoreMode`` NORMAL | BIT_PRESERVING | IGNORE.
    ``logger``: receives ``W: DICOM file already exists, overwriting: <path>``
    (getscu: ``dcmtk.dcmnet``; movescu: ``dcmtk.apps.movescu``).
    ``name_rule(info) -> str | None``: the bare file name (e.g.
    ``getscu_name``, ``movescu_name``, ``bit_preserving_name``); None means
    "UIDs missing" (MISSING_UID, nothing written).
    ``encoder(data, info) -> bytes-like | list of parts``: the file
    content for normal mode, from ``info.elements`` (parts: bytes-likes, and
    for a spooled object ``encoding.Swapped``/``encoding.Deflate``; default
    ``getscu_file_bytes``: new meta header + data set in the received TS
    with undefined-length sequences).  movescu passes its
    +F/-F/+t?/+e/+g/+p/+u encoder (encoding.py).  An
    encoder raises ``ValueError`` (``encoding.EncodingError`` is one) when
    the data cannot be written in the requested form: the result is a
    WRITE_ERROR, as for a failing disk, and no file is left behind.
    ``bp_header(info) -> bytes``: what precedes the streamed bytes in
    ``+B`` mode (default ``bit_preserving_meta`` with the association's
    calling AE; movescu ``-F`` passes ``lambda info: b""``).
    ``progress(event)``: called with "start", "chunk" (per PDV) and "end"
    (movescu's ``RECV: ...`` dots).
    ``bp_read_on``: in ``+B`` mode, keep reading (and dropping) the data
    set after a failed write instead of stopping there (getscu: True,
    DcmSCU reads to the last fragment; movescu: False, as DCMTK's
    ``receiveDataSetInFile``).  Either way the result is a WRITE_ERROR with
    ``error`` ``BIT_PRESERVING_WRITE_FAILED`` and the temporary file removed.
    ``on_received(info)``: called once the whole data set has arrived,
    before naming/writing (getscu's ``Received dataset on presentation
    context`` debug line).
    ``spool_threshold``: normal mode keeps data sets of up to this many
    bytes in memory and spools bigger ones (default 4 MiB; the tests set 0
    to send everything through the spool).
    ``layout``: a ``layout.Layout`` (``--output-layout``): files go to the
    path it renders from the received data set's values (normal mode: from
    the walk; ``+B``: received into a temporary file in the output
    directory, values read back from its head, then renamed into place);
    directories are created inside the output directory only.
    ``meter(n)``: called with the size of every received PDV (``--progress``).
  ``.receive(source, pc_id, sop_class, sop_instance, transfer_syntax) -> StoreResult``
    reads the data set from ``source`` (a ``DatasetSource``: ``calling_ae``,
    ``called_ae``, ``chatter`` and ``receive_dataset(pc_id, sink)``, e.g.
    ``net.transport.Association``; the pipeline does not import the network
    layer) and writes it.  Never raises for file-system problems; a
    ``errors.ReceiveError`` while receiving is returned as RECEIVE_ERROR
    (temporary file removed).
    KeyboardInterrupt propagates after the temporary file is removed.
``safe_name(name)``: deviation #2 sanitising (defined in ``layout``).
``join_output(output_dir, name)``: DCMTK's ``od/name`` text (trailing
    slashes collapsed; for ``.`` just ``name``).
``bit_preserving_meta(info) -> bytes``: getscu's ``+B`` meta header
    (``encoding.meta_header``, the one meta-header writer).
"""

from __future__ import annotations

import enum
import errno
import itertools
import logging
import mmap
import os
import zlib
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from ..dicom import sopclasses, walker
from ..dicom.uids import BIT_PRESERVING_VERSION_NAME
from ..errors import ReceiveError
from . import encoding
from .layout import MAX_NAME_BYTES, Layout, read_head, safe_name, values_from_elements  # noqa: F401

#: DCMTK's condition when a ``+B`` write fails while the data set streams in
BIT_PRESERVING_WRITE_FAILED = "0006:020a DIMSE receiveDataSetInFile: Cannot write to file"


# ---------------------------------------------------------------------------
# names


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
# meta header (+B)


def bit_preserving_meta(info: "ObjectInfo") -> bytes:
    """getscu ``+B`` meta header: built from the request, (0002,0016) = calling AE."""
    return encoding.meta_header(info.request_sop_class, info.request_sop_instance, info.transfer_syntax,
                                BIT_PRESERVING_VERSION_NAME, info.calling_ae)


# ---------------------------------------------------------------------------
# the pipeline


class StoreMode(enum.Enum):
    """How received objects are kept."""

    NORMAL = "normal"  # walked, re-encoded by the tool's encoder
    BIT_PRESERVING = "bit-preserving"  # +B: streamed to disk as received
    IGNORE = "ignore"  # --ignore: read and dropped


class StoreOutcome(enum.Enum):
    """What became of one received object (``StoreResult.kind``)."""

    STORED = "stored"
    IGNORED = "ignored"
    MISSING_UID = "missing-uid"
    WRITE_ERROR = "write-error"
    CREATE_ERROR = "create-error"
    RECEIVE_ERROR = "receive-error"


class DatasetSource(Protocol):
    """What the pipeline needs of an association (``net.transport.Association``
    is one): who talks, and a way to read the data set that follows a
    C-STORE-RQ fragment by fragment (raising ``errors.ReceiveError``)."""

    calling_ae: str
    called_ae: str
    chatter: logging.Logger | None

    def receive_dataset(self, pc_id: int, sink: Callable[[memoryview], None] | None) -> int: ...


@dataclass
class ObjectInfo:
    """Everything known about one incoming object (see module docstring)."""

    pc_id: int
    transfer_syntax: str
    request_sop_class: str  # Affected SOP Class UID of the C-STORE-RQ
    request_sop_instance: str  # Affected SOP Instance UID of the C-STORE-RQ
    calling_ae: str = ""
    called_ae: str = ""
    dataset_sop_class: str | None = None
    dataset_sop_instance: str | None = None
    data: bytes | None = None
    elements: walker.Dataset | None = None  # the walked data set (normal mode)


@dataclass
class StoreResult:
    kind: StoreOutcome
    info: ObjectInfo
    path: str | None = None
    error: object = None
    warnings: list[str] = field(default_factory=list)
    unread: bool = False  # +B write failure: the rest of the data set was not read

    @property
    def ok(self) -> bool:
        return self.kind in (StoreOutcome.STORED, StoreOutcome.IGNORED)


def getscu_file_bytes(data: bytes, info: ObjectInfo) -> Sequence[bytes]:
    """getscu normal mode file: new meta header (no 0002,0016) + data set as received,
    sequences/items with undefined length, group lengths recalculated."""
    chunks, _c, _i = encoding.encode(data, info.transfer_syntax, encoding.GETSCU_OPTIONS, info.elements,
                                     (info.dataset_sop_class or "", info.dataset_sop_instance or ""))
    return chunks


try:
    _IOV_MAX = max(16, min(1024, os.sysconf("SC_IOV_MAX")))
except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
    _IOV_MAX = 16


#: the suffixes of temporary names: random once per process, then counted
#: (no system call per object; O_EXCL settles any clash with another process)
_TEMP_SUFFIXES = itertools.count(int.from_bytes(os.urandom(3), "big"))


class _TempFile:
    """A hidden temporary file next to the final one; renamed or removed, never left."""

    def __init__(self, directory: str, name: str, read: bool = False) -> None:
        """``read``: also readable (a spool that is mapped once written)."""
        base = name[:200]
        flags = (os.O_RDWR if read else os.O_WRONLY) | os.O_CREAT | os.O_EXCL
        while True:
            path = os.path.join(directory or ".", f".{base}.part-{next(_TEMP_SUFFIXES) & 0xFFFFFF:06x}")
            try:
                self.fd = os.open(path, flags, 0o666)
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

    def write_stream(self, parts: list, consumed: Callable[[int], None] | None = None) -> None:
        """Write ``parts`` (``encoding.encode`` chunks, lazy ones included)
        piece by piece: small pieces are gathered into one ``writev``, big
        values go in ``encoding.CHUNK`` pieces; ``consumed`` as for
        ``encoding.iter_bytes``."""
        batch: list = []
        size = 0
        for piece in encoding.iter_bytes(parts, consumed):
            batch.append(piece)
            size += len(piece)
            if size >= encoding.CHUNK or len(batch) >= _IOV_MAX:
                self.write_parts(batch)
                batch = []
                size = 0
        self.write_parts(batch)

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


#: normal mode keeps a data set of up to this many bytes in memory; a bigger
#: one is spooled to a temporary file in the output directory
SPOOL_THRESHOLD = 4 << 20
#: a mapped spool gives its pages back after this many bytes were read
_DROP_PAGES_EVERY = 8 << 20


def _inflates_beyond(data: bytes, limit: float) -> bool:
    """A Deflated data set that inflates to more than ``limit`` bytes (one
    that does not inflate is left to the walk to refuse)."""
    if limit == float("inf"):
        return False
    try:
        return len(zlib.decompressobj(-15).decompress(data, int(limit) + 1)) > limit
    except zlib.error:
        return False


def _advise(mapped: mmap.mmap, advice: int) -> None:
    """``madvise``, where the system takes it (the pages are only a matter of memory)."""
    try:
        mapped.madvise(advice)
    except OSError:
        pass


class _Spool:
    """A received normal-mode data set: in memory (``chunks``) while it is
    small; past ``threshold`` bytes in a hidden temporary file in the output
    directory (``temp``), walked through a read-only mapping whose pages are
    dropped as the writer goes (``consumed``), so resident memory does not
    grow with the object.  A spool that cannot be created or written (no
    output directory, disk full) falls back to memory: the object then meets
    the same fate as before (the final write fails the same way)."""

    def __init__(self, directory: str, threshold: int) -> None:
        self.directory = directory
        self.threshold = threshold
        self.chunks: list = []
        self.size = 0
        self.temp: _TempFile | None = None
        self.maps: list[mmap.mmap] = []
        self.extra: list[_TempFile] = []  # the inflated data set of a Deflated one
        self.touched = 0
        self.view: memoryview | None = None

    def append(self, chunk: memoryview) -> None:
        self.size += len(chunk)
        if self.temp is None:
            self.chunks.append(chunk)
            if self.size > self.threshold:
                self._to_disk()
            return
        try:
            self.temp.write(chunk)
        except OSError:
            self._to_memory(chunk)

    def spill(self) -> bool:
        """Spool what was received so far (a small Deflated data set that
        inflates to a big one); False if the spool failed (still in memory)."""
        self._to_disk()
        return self.temp is not None

    def _to_disk(self) -> None:
        try:
            self.temp = _TempFile(self.directory, "received", read=True)
        except OSError:
            self.threshold = float("inf")  # type: ignore[assignment]
            return
        try:
            self.temp.write_parts(self.chunks)
        except OSError:
            self._to_memory(None)
            return
        self.chunks = []

    def _to_memory(self, chunk: memoryview | None) -> None:
        """The spool failed: back to memory, with what it already held."""
        temp = self.temp
        assert temp is not None
        if not self.chunks:
            held = self.size - (len(chunk) if chunk is not None else 0)
            data = bytearray(held)
            got = os.preadv(temp.fd, [data], 0)
            self.chunks = [memoryview(data)[:got]]
        if chunk is not None:
            self.chunks.append(chunk)
        temp.discard()
        self.temp = None
        self.threshold = float("inf")  # type: ignore[assignment]

    def _map(self, temp: _TempFile) -> memoryview:
        size = os.fstat(temp.fd).st_size
        if size == 0:
            return memoryview(b"")
        try:
            mapped = mmap.mmap(temp.fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file system that cannot map: read it (memory grows)
            data = bytearray(size)
            got = os.preadv(temp.fd, [data], 0)
            return memoryview(data)[:got]
        self.maps.append(mapped)
        # the walk touches element and fragment headers here and there: no
        # read-ahead (the walk also drops the pages every few MiB, ``watch``)
        _advise(mapped, mmap.MADV_RANDOM)
        return memoryview(mapped)

    def mapped(self) -> memoryview:
        """The received data set, mapped."""
        assert self.temp is not None
        if self.view is None:
            self.view = self._map(self.temp)
        return self.view

    def walk(self, ts_uid: str) -> walker.Dataset:
        """``walker.parse`` of the spooled data set (a Deflated one inflated
        into a second spool first)."""
        data = self.mapped()
        try:
            if not walker.ts_info(ts_uid).deflated:
                return walker.parse(data, ts_uid, streamed=True, watch=self.drop_pages)
            try:
                raw = _TempFile(self.directory, "inflated", read=True)
            except OSError:  # no room for it: inflated in memory, as before
                return walker.parse(data, ts_uid, streamed=True, watch=self.drop_pages)
            self.extra.append(raw)

            def write(piece: bytes) -> None:
                raw.write(piece)
                self.consumed(len(piece))

            try:
                walker.inflate_into(data, write)
            except OSError:
                return walker.parse(data, ts_uid, streamed=True, watch=self.drop_pages)
            return walker.parse(self._map(raw), ts_uid, inflated=True, streamed=True, watch=self.drop_pages)
        finally:
            self.drop_pages()
            for mapped in self.maps:  # the writer reads on in order
                _advise(mapped, mmap.MADV_NORMAL)

    def consumed(self, n: int) -> None:
        """``n`` more bytes of the mapping were read: every few MiB its pages
        are given back (they stay in the page cache, not in this process)."""
        self.touched += n
        if self.touched >= _DROP_PAGES_EVERY:
            self.drop_pages()

    def drop_pages(self) -> None:
        self.touched = 0
        for mapped in self.maps:
            _advise(mapped, mmap.MADV_DONTNEED)

    def discard(self) -> None:
        """Unmap (where nothing points into a mapping any more) and remove the spool files."""
        self.chunks = []
        self.view = None
        for mapped in self.maps:
            try:
                mapped.close()
            except BufferError:  # still referenced: closed when the last view goes
                pass
        self.maps = []
        for temp in [self.temp, *self.extra]:
            if temp is not None:
                temp.discard()
        self.temp = None
        self.extra = []


class StorePipeline:
    """Receive one C-STORE data set and write it (see module docstring)."""

    def __init__(self, output_dir: str, mode: StoreMode, logger: logging.Logger,
                 name_rule: Callable[[ObjectInfo], str | None],
                 encoder: Callable[[bytes, ObjectInfo], object] | None = None,
                 bp_header: Callable[[ObjectInfo], bytes] | None = None,
                 progress: Callable[[str], None] | None = None,
                 overwrite_warning: bool = True,
                 on_received: Callable[[ObjectInfo], None] | None = None,
                 bp_read_on: bool = False, spool_threshold: int = SPOOL_THRESHOLD,
                 layout: Layout | None = None, meter: Callable[[int], None] | None = None) -> None:
        self.output_dir = output_dir
        self.mode = mode
        self.logger = logger
        self.name_rule = name_rule
        self.encoder = encoder or getscu_file_bytes
        self.bp_header = bp_header or bit_preserving_meta
        self.progress = progress
        self.overwrite_warning = overwrite_warning
        self.on_received = on_received
        self.bp_read_on = bp_read_on
        self.spool_threshold = spool_threshold
        self.layout = layout
        self.meter = meter
        self._root: str | None = None  # the resolved output directory (layout)

    def final_path(self, name: str, raw: dict | None = None) -> tuple[str, str]:
        """(path as DCMTK prints it, path used on disk) for a bare name; with
        a layout, placed by the values ``raw`` (``layout.values_from_elements``
        or ``layout.read_head``) of the received data set."""
        if self.layout is None:
            clean = safe_name(name)
            return join_output(self.output_dir, clean), os.path.join(self.output_dir or ".", clean)
        parts = self.layout.render(self.layout.values(raw or {}), name)
        return join_output(self.output_dir, "/".join(parts)), os.path.join(self.output_dir or ".", *parts)

    def _make_dirs(self, path: str) -> None:
        """--output-layout: create the directories of ``path``, which must
        resolve to a place inside the output directory (a symbolic link
        leading out is refused)."""
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        root = self._root
        if root is None:
            root = self._root = os.path.realpath(self.output_dir or ".")
        real = os.path.realpath(directory)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise PermissionError(errno.EACCES, "outside the output directory", directory)

    def receive(self, assoc: DatasetSource, pc_id: int, sop_class: str, sop_instance: str,
                transfer_syntax: str) -> StoreResult:
        """Read the data set announced by a C-STORE-RQ (its Affected SOP
        Class/Instance UIDs given) from ``assoc`` and write it."""
        info = ObjectInfo(pc_id, transfer_syntax, sop_class, sop_instance, assoc.calling_ae, assoc.called_ae)
        if self.progress:
            self.progress("start")
        try:
            if self.mode is StoreMode.IGNORE:
                return self._receive_ignore(assoc, info)
            if self.mode is StoreMode.BIT_PRESERVING:
                return self._receive_bit_preserving(assoc, info)
            return self._receive_normal(assoc, info)
        finally:
            if self.progress:
                self.progress("end")

    # ---- modes ------------------------------------------------------------------
    def _sink(self, target: Callable[[memoryview], object] | None) -> Callable[[memoryview], None] | None:
        progress, meter = self.progress, self.meter
        if progress is None and meter is None:
            return target  # type: ignore[return-value]

        def sink(chunk: memoryview) -> None:
            if progress is not None:
                progress("chunk")
            if meter is not None:
                meter(len(chunk))
            if target is not None:
                target(chunk)

        return sink

    def _receive_ignore(self, assoc: DatasetSource, info: ObjectInfo) -> StoreResult:
        try:
            assoc.receive_dataset(info.pc_id, self._sink(None))
        except ReceiveError as exc:
            return StoreResult(StoreOutcome.RECEIVE_ERROR, info, error=exc)
        return StoreResult(StoreOutcome.IGNORED, info)

    def _receive_normal(self, assoc: DatasetSource, info: ObjectInfo) -> StoreResult:
        spool = _Spool(self.output_dir, self.spool_threshold)
        try:
            assoc.receive_dataset(info.pc_id, self._sink(spool.append))
        except ReceiveError as exc:
            spool.discard()
            return StoreResult(StoreOutcome.RECEIVE_ERROR, info, error=exc)
        except BaseException:
            spool.discard()
            raise
        if spool.temp is None:  # the common case: a small object, in memory
            data = b"".join(spool.chunks)
            if not (walker.ts_info(info.transfer_syntax).deflated and _inflates_beyond(data, spool.threshold)):
                del spool
                return self._store_normal(assoc, info, data, None)
            # small on the wire, big once inflated: spooled after all
            if not spool.spill():  # the spool failed: in memory, as before
                return self._store_normal(assoc, info, data, None)
            del data
        try:
            return self._store_normal(assoc, info, spool.mapped(), spool)
        finally:
            # the big path keeps nothing that points into the mapped spool
            info.data = None
            info.elements = None
            spool.discard()

    def _store_normal(self, assoc: DatasetSource, info: ObjectInfo, data: bytes | memoryview,
                      spool: _Spool | None) -> StoreResult:
        """Walk and write a received data set: ``data`` in memory, or the
        mapped ``spool`` of a big one (then written piece by piece)."""
        info.data = data  # type: ignore[assignment]
        if self.on_received:
            self.on_received(info)
        try:
            if spool is None:
                info.elements = walker.parse(data, info.transfer_syntax)
            else:
                info.elements = spool.walk(info.transfer_syntax)
        except walker.MalformedDataset as exc:
            chatter = assoc.chatter
            if chatter is not None:
                chatter.warning("DIMSE Warning: (%s,%s): DIMSE receiveDataSetInMemory: dset->read() Failed (%s)",
                                assoc.calling_ae, assoc.called_ae, exc.reason)
            return StoreResult(StoreOutcome.RECEIVE_ERROR, info, error=exc)
        # getscu names files after these (NULs and spaces removed)
        info.dataset_sop_class, info.dataset_sop_instance = walker.find_uids(info.elements, "\0 ")
        name = self.name_rule(info)
        if name is None:
            return StoreResult(StoreOutcome.MISSING_UID, info)
        raw = values_from_elements(info.elements, self.layout.tags) if self.layout is not None else None
        shown, path = self.final_path(name, raw)
        if self.overwrite_warning and os.path.isfile(path):  # DCMTK: fileExists() (no directories)
            self.logger.warning("DICOM file already exists, overwriting: %s", shown)
        temp: _TempFile | None = None
        try:
            if self.layout is not None:
                self._make_dirs(path)
            content = self.encoder(data, info)
            temp = _TempFile(os.path.dirname(path), os.path.basename(path))
            if isinstance(content, (bytes, bytearray, memoryview)):
                temp.write(content)
            elif spool is None:
                temp.write_parts(list(content))  # type: ignore[arg-type]
            else:
                temp.write_stream(list(content), spool.consumed)  # type: ignore[arg-type]
            del content
            temp.commit(path)
        except (OSError, ValueError) as exc:
            if temp is not None:
                temp.discard()
            return StoreResult(StoreOutcome.WRITE_ERROR, info, path=shown, error=exc)
        except BaseException:
            if temp is not None:
                temp.discard()
            raise
        return StoreResult(StoreOutcome.STORED, info, path=shown)

    def _receive_bit_preserving(self, assoc: DatasetSource, info: ObjectInfo) -> StoreResult:
        name = self.name_rule(info) or ""
        layout = self.layout
        shown, path = self.final_path(name)
        try:
            if layout is not None:  # placed once the data set is in: a temporary file in -od
                temp = _TempFile(self.output_dir or ".", safe_name(name))
            elif os.path.isdir(path):
                raise IsADirectoryError(path)
            else:
                temp = _TempFile(os.path.dirname(path), os.path.basename(path))
        except OSError:
            return StoreResult(StoreOutcome.CREATE_ERROR, info, path=shown,
                               error=f"0006:020a DIMSE createFilestream: cannot create file '{shown}'")
        failed: list[OSError] = []

        def write_on(chunk: memoryview) -> None:
            """bp_read_on: after a failed write, keep reading, write nothing."""
            if not failed:
                try:
                    temp.write(chunk)
                except OSError as exc:
                    failed.append(exc)

        target: Callable[[memoryview], object] = write_on if self.bp_read_on else temp.write
        header = self.bp_header(info)
        try:
            target(memoryview(header))
            assoc.receive_dataset(info.pc_id, self._sink(target))
            if failed:
                raise failed[0]
        except ReceiveError as exc:
            temp.discard()
            return StoreResult(StoreOutcome.RECEIVE_ERROR, info, error=exc)
        except OSError:
            # a write failed (disk full ...): DCMTK's receiveDataSetInFile
            # (movescu) stops reading there, the rest of the data set stays
            # unread; getscu's DcmSCU reads on to the end (bp_read_on)
            temp.discard()
            return StoreResult(StoreOutcome.WRITE_ERROR, info, path=shown, error=BIT_PRESERVING_WRITE_FAILED,
                               unread=not failed)
        except BaseException:
            temp.discard()
            raise
        if self.on_received:
            self.on_received(info)
        if layout is not None:
            raw = read_head(temp.path, len(header), info.transfer_syntax, layout.tags)
            shown, path = self.final_path(name, raw)
            try:
                self._make_dirs(path)
                if os.path.isdir(path):
                    raise IsADirectoryError(path)
            except OSError as exc:
                temp.discard()
                return StoreResult(StoreOutcome.WRITE_ERROR, info, path=shown, error=exc)
        try:
            temp.commit(path)
        except OSError as exc:
            temp.discard()
            return StoreResult(StoreOutcome.WRITE_ERROR, info, path=shown, error=exc)
        return StoreResult(StoreOutcome.STORED, info, path=shown)
