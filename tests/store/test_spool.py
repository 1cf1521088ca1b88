"""The big-object path of the pipeline writes exactly what the in-memory path writes.

A normal-mode data set above ``StorePipeline(spool_threshold=...)`` is
spooled to a temporary file in the output directory, walked through a
mapping and written piece by piece (lazy byte swapping, streaming deflate
and inflate).  Every test here receives the same data set twice, once with
the default threshold (in memory) and once with threshold 0 (spooled), and
asserts the same outcome and the same file bytes, for every combination of
movescu's write options, getscu's encoding and malformed inputs.  The
piece sizes are made small so that a few hundred KiB go through many
pieces.
"""

from __future__ import annotations

import itertools
import logging
import os
import struct
import zlib
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from support import harness
from support import sampledata
from dcmretrieve.dicom import walker
from dcmretrieve.errors import ReceiveError
from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from dcmretrieve.store import encoding
from dcmretrieve.store import pipeline as P

JPEG_LOSSLESS = "1.2.840.10008.1.2.4.70"
SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"


class _Source:
    """A DatasetSource feeding fixed chunks (like net.transport.Association)."""

    calling_ae = "GETSCU"
    called_ae = "PEER"

    def __init__(self, data: bytes, piece: int = 16384) -> None:
        self.data = data
        self.piece = piece
        self.chatter = logging.getLogger("test.spool.chatter")

    def receive_dataset(self, pc_id: int, sink, timeout="dimse") -> int:  # type: ignore[no-untyped-def]
        for pos in range(0, len(self.data), self.piece):
            sink(memoryview(self.data[pos:pos + self.piece]))
        return len(self.data)


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encoding, "CHUNK", 4096)
    monkeypatch.setattr(encoding, "LAZY_SWAP_MIN", 1000)
    monkeypatch.setattr(P, "_DROP_PAGES_EVERY", 8192)


def _encode(ds: Dataset, ts: str) -> bytes:
    return sampledata.encode_dataset(ds, ts)


def _dataset(pixels: int = 200_000) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ImageComments = "x" * 3000  # a defined-length value bigger than a piece, inside an item
    item.ConceptNameCodeSequence = Sequence([Dataset()])
    ds = Dataset()
    ds.SOPClassUID = SOP_CLASS
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Doe^John"
    ds.ReferencedStudySequence = Sequence([item, Dataset()])
    ds.StudyInstanceUID = "1.2.3"
    ds.add_new(0x00091010, "UT", "private text " * 300)  # a new VR (-u writes OB)
    ds.add_new(0x00181000, "LO", "SERIAL")
    ds.Rows = 100
    ds.Columns = pixels // 200
    ds.BitsAllocated = 16
    ds.add_new(0x00431029, "FD", [float(i) for i in range(600)])  # 8-byte swap unit, lazy when big
    ds.add_new(0x7FE00010, "OW", bytes(range(256)) * (pixels // 256) + bytes(pixels % 256))
    return ds


def _with_group_length_and_padding(data: bytes, ts: str) -> bytes:
    """Splice a (wrong) (0008,0000) group length in front and a trailing
    padding element at the end, as a peer might send them."""
    little = ts != EXPLICIT_BE
    e = "<" if little else ">"
    if ts == IMPLICIT_LE:
        gl = struct.pack(e + "HHII", 0x0008, 0x0000, 4, 1234)
        pad = struct.pack(e + "HHI", 0xFFFC, 0xFFFC, 6) + bytes(6)
    else:
        gl = struct.pack(e + "HH2sHI", 0x0008, 0x0000, b"UL", 4, 1234)
        pad = struct.pack(e + "HH2sHI", 0xFFFC, 0xFFFC, b"OB", 0, 6) + bytes(6)
    return gl + data + pad


def _encapsulated() -> bytes:
    ds = Dataset()
    ds.SOPClassUID = SOP_CLASS
    ds.SOPInstanceUID = "1.2.3.5"
    raw = _encode(ds, EXPLICIT_LE)
    frags = [bytes([i]) * 5000 for i in range(1, 4)]
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(f)) + f for f in [b""] + frags)
    return raw + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + body + \
        struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _receive_both(tmp_path: Path, data: bytes, ts: str, make_pipeline) -> tuple:  # type: ignore[no-untyped-def]
    """(result, file bytes or None) in memory and spooled; nothing else left behind."""
    outcomes = []
    for name, threshold in (("memory", P.SPOOL_THRESHOLD), ("spooled", 0)):
        od = tmp_path / name
        od.mkdir(exist_ok=True)
        pipe = make_pipeline(str(od), threshold)
        result = pipe.receive(_Source(data), 1, SOP_CLASS, "1.2.3.4", ts)
        files = {p.name: p.read_bytes() for p in od.iterdir()}
        assert not [n for n in files if n.startswith(".")], files.keys()  # no spool or temporary file left
        for p in od.iterdir():
            p.unlink()
        outcomes.append((result.kind, result.path and os.path.basename(result.path),
                         str(result.error) if result.error else None, files))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


def _movescu_pipeline(opts: encoding.WriteOptions):  # type: ignore[no-untyped-def]
    def make(od: str, threshold: int) -> P.StorePipeline:
        def encoder(data: bytes, info: P.ObjectInfo) -> list:
            chunks, _c, _i = encoding.encode(data, info.transfer_syntax, opts, info.elements)
            return chunks

        return P.StorePipeline(od, P.StoreMode.NORMAL, logging.getLogger("test.spool"), P.movescu_name,
                               encoder=encoder, spool_threshold=threshold)

    return make


def _getscu_pipeline(od: str, threshold: int) -> P.StorePipeline:
    return P.StorePipeline(od, P.StoreMode.NORMAL, logging.getLogger("test.spool"), P.getscu_name,
                           spool_threshold=threshold)


_RECEIVED = [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE]
_SAMPLES = {ts: _with_group_length_and_padding(_encode(_dataset(), ts), ts) if ts != DEFLATED_LE
            else _encode(_dataset(), ts) for ts in _RECEIVED}

_OPTION_SETS = [
    encoding.WriteOptions(write_file=wf, write_xfer=xfer, enable_new_vr=nvr, group_length=gl,
                          length_explicit=le, padding=pad)
    for xfer, gl, le, pad, nvr, wf in itertools.product(
        [None, EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE], list(encoding.GroupLength), [True, False],
        [None, (256, 64)], [True, False], [True, False])
    # +F/-F and +u/-u only with the default encoding (they are independent of the rest)
    if (nvr and wf) or (xfer is None and le and gl is encoding.GroupLength.RECALC)
]


@pytest.mark.parametrize("received", _RECEIVED, ids=["ele", "ile", "ebe", "deflated"])
def test_movescu_options_spooled_equals_memory(tmp_path: Path, received: str) -> None:
    """Every movescu write option combination: same file from both paths."""
    data = _SAMPLES[received]
    for opts in _OPTION_SETS:
        kind, name, _err, files = _receive_both(tmp_path, data, received, _movescu_pipeline(opts))
        assert kind is P.StoreOutcome.STORED, opts
        assert list(files) == [name], opts
        deflated = (opts.write_xfer or received) == DEFLATED_LE
        assert len(files[name]) > (2000 if deflated else 200_000), opts


def test_compression_level_spooled_equals_memory(tmp_path: Path) -> None:
    for level in (0, 1, 9):  # 0: stored blocks, compressed in one call on both paths
        opts = encoding.WriteOptions(write_xfer=DEFLATED_LE, compression_level=level)
        kind, _name, _err, _files = _receive_both(tmp_path, _SAMPLES[EXPLICIT_LE], EXPLICIT_LE,
                                                  _movescu_pipeline(opts))
        assert kind is P.StoreOutcome.STORED


@pytest.mark.parametrize("received", _RECEIVED + [JPEG_LOSSLESS], ids=["ele", "ile", "ebe", "deflated", "jpeg"])
def test_getscu_spooled_equals_memory(tmp_path: Path, received: str) -> None:
    data = _encapsulated() if received == JPEG_LOSSLESS else _SAMPLES[received]
    kind, name, _err, files = _receive_both(tmp_path, data, received, _getscu_pipeline)
    assert kind is P.StoreOutcome.STORED and list(files) == [name]


def test_encapsulated_conversion_refused_on_both_paths(tmp_path: Path) -> None:
    opts = encoding.WriteOptions(write_xfer=EXPLICIT_BE)
    kind, _name, err, files = _receive_both(tmp_path, _encapsulated(), JPEG_LOSSLESS, _movescu_pipeline(opts))
    assert kind is P.StoreOutcome.WRITE_ERROR and err == "cannot change representation" and files == {}


def _malformed() -> dict[str, tuple[bytes, str]]:
    good = _encode(_dataset(20_000), EXPLICIT_LE)
    deflated = _encode(_dataset(20_000), DEFLATED_LE)
    unclosed = good + struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF) + \
        struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + good[:16]
    return {
        "truncated": (good[:-7], EXPLICIT_LE),
        "deflate-truncated": (deflated[: len(deflated) // 2], DEFLATED_LE),
        "deflate-garbage": (b"\xff" * 5000, DEFLATED_LE),
        "item-delimiter-missing": (unclosed, EXPLICIT_LE),
        "undefined-ob": (good + struct.pack("<HH2sHI", 0x0009, 0x1011, b"OB", 0, 0xFFFFFFFF) + bytes(8), EXPLICIT_LE),
    }


@pytest.mark.parametrize("case", list(_malformed()))
def test_malformed_same_outcome_and_messages(tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture) -> None:
    data, ts = _malformed()[case]
    logs = []
    for threshold in (P.SPOOL_THRESHOLD, 0):
        od = tmp_path / str(threshold)
        od.mkdir()
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            result = _getscu_pipeline(str(od), threshold).receive(_Source(data), 1, SOP_CLASS, "1.2.3.4", ts)
        assert result.kind is P.StoreOutcome.RECEIVE_ERROR
        assert isinstance(result.error, walker.MalformedDataset)
        assert os.listdir(od) == []
        logs.append([(r.name, r.levelname, r.getMessage()) for r in caplog.records])
    assert logs[0] == logs[1] and any("dset->read() Failed" in m for _n, _l, m in logs[0])


def test_spool_failure_falls_back_to_memory(tmp_path: Path) -> None:
    """No output directory: the spool cannot be created, the object is received
    in memory and fails at the final write exactly as before."""
    missing = tmp_path / "missing"
    results = [_getscu_pipeline(str(missing), t).receive(_Source(_SAMPLES[EXPLICIT_LE]), 1, SOP_CLASS, "1.2.3.4",
                                                         EXPLICIT_LE) for t in (P.SPOOL_THRESHOLD, 0)]
    assert [r.kind for r in results] == [P.StoreOutcome.WRITE_ERROR] * 2
    assert results[0].path == results[1].path
    assert not missing.exists()


def test_spool_write_failure_mid_object_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills while spooling: what was spooled is read back and the
    object completes in memory; the file written is the same."""
    data = _SAMPLES[IMPLICIT_LE]
    reference = _getscu_pipeline(str(tmp_path / "a"), P.SPOOL_THRESHOLD)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert reference.receive(_Source(data), 1, SOP_CLASS, "1.2.3.4", IMPLICIT_LE).kind is P.StoreOutcome.STORED
    real_write = P._TempFile.write
    calls = {"n": 0}

    def write(self, chunk) -> None:  # type: ignore[no-untyped-def]
        if ".received." in self.path:
            calls["n"] += 1
            if calls["n"] == 5:
                real_write(self, memoryview(chunk)[:100])  # a partial write, then the disk is full
                raise OSError(28, "No space left on device")
        real_write(self, chunk)

    monkeypatch.setattr(P._TempFile, "write", write)
    result = _getscu_pipeline(str(tmp_path / "b"), 0).receive(_Source(data), 1, SOP_CLASS, "1.2.3.4", IMPLICIT_LE)
    assert result.kind is P.StoreOutcome.STORED and calls["n"] == 5
    assert os.listdir(tmp_path / "b") == os.listdir(tmp_path / "a")
    name = os.listdir(tmp_path / "a")[0]
    assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def test_big_values_at_real_piece_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default piece sizes (1 MiB) with a 5 MB value, Big Endian and Deflated output."""
    monkeypatch.undo()
    assert encoding.CHUNK == 1 << 20
    data = _encode(_dataset(5_000_000), EXPLICIT_LE)
    assert len(data) > P.SPOOL_THRESHOLD
    for xfer in (EXPLICIT_BE, DEFLATED_LE):
        kind, name, _err, files = _receive_both(tmp_path, data, EXPLICIT_LE,
                                                _movescu_pipeline(encoding.WriteOptions(write_xfer=xfer)))
        assert kind is P.StoreOutcome.STORED and list(files) == [name]


def test_inflate_into_matches_inflate() -> None:
    raw = bytes(range(256)) * 10000 + bytes(3_000_000)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = comp.compress(raw) + comp.flush()
    pieces: list[bytes] = []
    walker.inflate_into(memoryview(stream + b"trailing"), pieces.append, chunk=65536)
    assert b"".join(pieces) == raw == bytes(walker.inflate(stream + b"trailing"))
    assert max(map(len, pieces)) <= 65536
    for bad in (stream[:-3], b"\xff" * 100, b""):
        with pytest.raises(walker.MalformedDataset):
            walker.inflate(bad)
        with pytest.raises(walker.MalformedDataset):
            walker.inflate_into(memoryview(bad), pieces.append)


# ------------------------------------------------------ flat memory, in-process --

_CHILD = r"""
import logging, os, struct, sys, zlib
from dcmretrieve.store import encoding, pipeline as P

kind, od, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
PIECE = 1 << 16


def header() -> bytes:
    return (struct.pack("<HH2sH", 0x0008, 0x0016, b"UI", 26) + b"1.2.840.10008.5.1.4.1.1.7\0"
            + struct.pack("<HH2sH", 0x0008, 0x0018, b"UI", 8) + b"1.2.3.4\0")


def native():
    yield header() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, size)
    piece = bytes(range(256)) * (PIECE // 256)
    for _ in range(size // PIECE):
        yield piece


def fragments():
    yield header() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + struct.pack("<HHI", 0xFFFE, 0xE000, 0)
    flen = 500_000
    frag = b"\x01" * flen
    for _ in range(size // flen):
        yield struct.pack("<HHI", 0xFFFE, 0xE000, flen) + frag
    yield struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def deflated():
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    for piece in native():
        out = comp.compress(piece)
        if out:
            yield out
    yield comp.flush()


class Source:
    calling_ae, called_ae, chatter = "A", "B", None

    def __init__(self, pieces):
        self.pieces = pieces

    def receive_dataset(self, pc_id, sink, timeout="dimse"):
        n = 0
        for piece in self.pieces:
            sink(memoryview(piece))
            n += len(piece)
        return n


ts, pieces, opts = {
    "native-bigendian": ("1.2.840.10008.1.2.1", native, encoding.WriteOptions(write_xfer="1.2.840.10008.1.2.2")),
    "fragments": ("1.2.840.10008.1.2.4.70", fragments, encoding.WriteOptions()),
    "deflated": ("1.2.840.10008.1.2.1.99", deflated, encoding.WriteOptions()),
}[kind]


def encoder(data, info):
    return encoding.encode(data, info.transfer_syntax, opts, info.elements)[0]


def hwm() -> int:
    # VmHWM, not ru_maxrss: ru_maxrss survives fork and exec (pytest's own size)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


base = hwm()
pipe = P.StorePipeline(od, P.StoreMode.NORMAL, logging.getLogger("x"), P.movescu_name, encoder=encoder)
result = pipe.receive(Source(pieces()), 1, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4", ts)
assert result.kind is P.StoreOutcome.STORED, (result.kind, result.error)
print(base, hwm())
"""


@pytest.mark.parametrize("kind", ["native-bigendian", "fragments", "deflated"])
def test_spooled_receive_memory_is_flat(tmp_path: Path, kind: str) -> None:
    """300 MiB through the spooled path in a child process: its peak RSS grows
    by far less than the object (byte-swapped in pieces; 600 fragments whose
    headers the walk touches; a Deflated data set of 1 MB that inflates to
    300 MiB, inflated and deflated in pieces)."""
    import subprocess
    import sys

    size = 300 << 20
    proc = subprocess.run([sys.executable, "-c", _CHILD, kind, str(tmp_path), str(size)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    base_kib, peak_kib = map(int, proc.stdout.split()[-2:])
    (written,) = list(tmp_path.iterdir())
    assert not written.name.startswith(".")
    if kind != "deflated":
        assert written.stat().st_size > size - 500_000
    print(f"{kind}: peak RSS {peak_kib} KiB, {base_kib} KiB after imports, for {size} bytes")
    assert peak_kib - base_kib < 40 * 1024 and peak_kib < 100 * 1024, (base_kib, peak_kib)


class _Failing(_Source):
    """Feeds half of the data set, then fails as told."""

    def __init__(self, data: bytes, fail: BaseException) -> None:
        super().__init__(data)
        self.fail = fail

    def receive_dataset(self, pc_id: int, sink, timeout="dimse") -> int:  # type: ignore[no-untyped-def]
        half = self.data[: len(self.data) // 2]
        for pos in range(0, len(half), self.piece):
            sink(memoryview(half[pos:pos + self.piece]))
        raise self.fail


@pytest.mark.parametrize("fail", [ReceiveError("peer aborted"), KeyboardInterrupt()], ids=["abort", "ctrl-c"])
def test_spool_removed_when_receiving_fails(tmp_path: Path, fail: BaseException) -> None:
    pipe = _getscu_pipeline(str(tmp_path), 0)
    if isinstance(fail, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            pipe.receive(_Failing(_SAMPLES[EXPLICIT_LE], fail), 1, SOP_CLASS, "1.2.3.4", EXPLICIT_LE)
    else:
        result = pipe.receive(_Failing(_SAMPLES[EXPLICIT_LE], fail), 1, SOP_CLASS, "1.2.3.4", EXPLICIT_LE)
        assert result.kind is P.StoreOutcome.RECEIVE_ERROR and result.error is fail
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("fail", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "ctrl-c"])
def test_spool_and_temporary_file_removed_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             fail: BaseException) -> None:
    """A failure while the spooled object is written (disk full: WRITE_ERROR;
    Ctrl-C: propagates) leaves neither the output file nor a spool file."""
    real = P._TempFile.write_parts
    calls = {"n": 0}

    def write_parts(self, parts) -> None:  # type: ignore[no-untyped-def]
        if ".received." not in self.path:
            calls["n"] += 1
            if calls["n"] == 3:
                raise fail
        real(self, parts)

    monkeypatch.setattr(P._TempFile, "write_parts", write_parts)
    pipe = _getscu_pipeline(str(tmp_path), 0)
    source = _Source(_SAMPLES[EXPLICIT_BE])
    if isinstance(fail, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            pipe.receive(source, 1, SOP_CLASS, "1.2.3.4", EXPLICIT_BE)
    else:
        result = pipe.receive(source, 1, SOP_CLASS, "1.2.3.4", EXPLICIT_BE)
        assert result.kind is P.StoreOutcome.WRITE_ERROR and result.error is fail
        assert result.info.data is None and result.info.elements is None
    assert calls["n"] == 3
    assert os.listdir(tmp_path) == []


def test_spool_that_cannot_be_mapped_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file system without mmap: the spool is read into memory, same file."""
    def no_mmap(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(19, "No such device")

    data = _SAMPLES[EXPLICIT_BE]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _getscu_pipeline(str(tmp_path / "a"), P.SPOOL_THRESHOLD).receive(
        _Source(data), 1, SOP_CLASS, "1.2.3.4", EXPLICIT_BE).kind is P.StoreOutcome.STORED
    monkeypatch.setattr(P.mmap, "mmap", no_mmap)
    assert _getscu_pipeline(str(tmp_path / "b"), 0).receive(
        _Source(data), 1, SOP_CLASS, "1.2.3.4", EXPLICIT_BE).kind is P.StoreOutcome.STORED
    (name,) = os.listdir(tmp_path / "a")
    assert os.listdir(tmp_path / "b") == [name]
    assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()


def _dcmconv_deflated(tmp_path: Path, pixels: int, level: int) -> bytes:
    """The deflate stream DCMTK's writer makes (``dcmconv +td +cl level``) of a
    data set with ``pixels`` bytes of half random, half zero pixel data."""
    import subprocess

    from pydicom.dataset import FileMetaDataset

    ds = _dataset(200)
    ds.PixelData = os.urandom(pixels // 4) + bytes(pixels - pixels // 4)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SOP_CLASS
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = EXPLICIT_LE
    source, target = tmp_path / "in.dcm", tmp_path / "out.dcm"
    ds.save_as(source, enforce_file_format=True)
    subprocess.run([harness.dcmtk_path("dcmconv"), "+td", "+cl", str(level), str(source), str(target)],
                   check=True, timeout=60)
    data = target.read_bytes()
    meta_length = struct.unpack_from("<I", data, 140)[0]
    return data[144 + meta_length:]


@pytest.mark.dcmtk("dcmconv")
@pytest.mark.parametrize("pixels", [1000, 60_000, 70_001, 200_000, 1_234_567])
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_deflate_stream_like_dcmtk(tmp_path: Path, pixels: int, level: int) -> None:
    """``encoding.deflated`` gives DCMTK's bytes however its input is cut; at
    level 0 (stored blocks, whose sizes follow the input) only because it
    cuts the input DCMTK's way, which a one-call compression does not."""
    expected = _dcmconv_deflated(tmp_path, pixels, level)
    raw = zlib.decompress(expected, -15)
    for cut in (len(raw), 777, 4096, 1 << 20, 12345):
        pieces = [raw[i:i + cut] for i in range(0, len(raw), cut)]
        assert b"".join(encoding.deflated(pieces, level)) == expected, cut
