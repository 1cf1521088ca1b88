"""Unit tests of the receive-and-write pipeline (no network).

getscu's re-encoding (``dicom.walker`` + ``store.encoding`` with
``GETSCU_OPTIONS``) is checked against pydicom (the re-encoded data set
must decode to the same elements) and against DCMTK's own rule (sequences
and items with undefined length, group lengths recalculated); the file
handling against deviations #2 and #5.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence

from support import sampledata
from dcmretrieve.dicom import walker
from dcmretrieve.net.conditions import COND_PEER_ABORTED, DimseError
from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLEMENTATION_CLASS_UID, IMPLICIT_LE
from dcmretrieve.store import encoding
from dcmretrieve.store import pipeline as P


def _encode(ds: Dataset, ts: str) -> bytes:
    buf = DicomBytesIO()
    buf.is_little_endian = ts != EXPLICIT_BE
    buf.is_implicit_VR = ts == IMPLICIT_LE
    write_dataset(buf, ds)
    return buf.getvalue()


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _reencode(data: bytes, ts: str) -> tuple[bytes, dict[int, str]]:
    """getscu's data set as written (without meta header) and the UIDs it
    names the file after."""
    elems = walker.parse(data, ts)
    opts = dataclasses.replace(encoding.GETSCU_OPTIONS, write_file=False)
    chunks, _c, _i = encoding.encode(data, ts, opts, elems)
    sop_class, sop_instance = walker.find_uids(elems, "\0 ")
    found = {tag: value for tag, value in ((0x00080016, sop_class), (0x00080018, sop_instance)) if value}
    return b"".join(bytes(c) for c in chunks), found


def _nested() -> Dataset:
    inner = Dataset()
    inner.CodeValue = "123"
    inner.CodingSchemeDesignator = "DCM"
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ConceptNameCodeSequence = Sequence([inner])
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Doe^John"
    ds.ReferencedStudySequence = Sequence([item, Dataset()])
    ds.StudyInstanceUID = "1.2.3"
    ds.SeriesNumber = 7
    return ds


def _with_group_length(ds: Dataset, ts: str) -> tuple[bytes, int]:
    """Encode ``ds`` with a wrong (0020,0000) spliced in (pydicom never writes
    group lengths); returns (bytes, the correct group length)."""
    import struct

    before = _encode(ds[:0x00200000], ts)
    group = _encode(ds[0x00200001:0x00210000], ts)
    after = _encode(ds[0x00210000:], ts)
    e = "<" if ts != EXPLICIT_BE else ">"
    if ts == IMPLICIT_LE:
        gl = struct.pack(e + "HHII", 0x0020, 0, 4, 0)
    else:
        gl = struct.pack(e + "HH2sHI", 0x0020, 0, b"UL", 4, 0)
    return before + gl + group + after, len(group)


@pytest.mark.parametrize("ts", [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_LE])
def test_walker_keeps_content_and_undefines_lengths(ts: str) -> None:
    plain_ts = EXPLICIT_LE if ts == DEFLATED_LE else ts
    original, group_length = _with_group_length(_nested(), plain_ts)
    if ts == DEFLATED_LE:
        original = _deflate(original)
    out, found = _reencode(original, ts)
    assert found == {0x00080016: "1.2.840.10008.5.1.4.1.1.7", 0x00080018: "1.2.3.4"}
    raw = zlib.decompress(out, -15) if ts == DEFLATED_LE else out
    from pydicom.filereader import read_dataset

    little = ts != EXPLICIT_BE
    back = read_dataset(BytesIO(raw), ts == IMPLICIT_LE, little)
    assert back.ReferencedStudySequence[0].ConceptNameCodeSequence[0].CodeValue == "123"
    assert len(back.ReferencedStudySequence) == 2
    assert back.PatientName == "Doe^John"
    assert back.SeriesNumber == 7
    # sequences and items now have undefined length, delimiters present
    assert back["ReferencedStudySequence"].is_undefined_length
    delim = (b"\xfe\xff\xdd\xe0" if little else b"\xff\xfe\xe0\xdd") + bytes(4)
    assert raw.count(delim) == 2
    # the wrong group length was recalculated
    assert back[0x00200000].value == group_length


def test_walker_identity_without_sequences() -> None:
    ds = dcmread(sampledata.MR.path)
    raw = _encode(ds, EXPLICIT_LE)
    out, found = _reencode(raw, EXPLICIT_LE)
    assert found[0x00080018] == sampledata.MR.sop_instance_uid
    assert out == raw


def test_walker_rejects_truncated() -> None:
    raw = _encode(_nested(), EXPLICIT_LE)
    # the last element's value is cut off (DCMTK: "Invalid stream"); a tail
    # shorter than an element header is left unread instead, as DCMTK does
    with pytest.raises(walker.MalformedDataset):
        _reencode(raw[:-2], EXPLICIT_LE)
    assert _reencode(raw + b"\x10\x00\x20\x00", EXPLICIT_LE)[0] == _reencode(raw, EXPLICIT_LE)[0]


@pytest.mark.parametrize("name,expected", [
    ("CT.1.2.840.113619.2.55", "CT.1.2.840.113619.2.55"),
    ("../../x", "_.._.._x"),
    ("/etc/passwd", "_etc_passwd"),
    ("a\\b", "a_b"),
    ("..", "_.."),
    (".hidden", "_.hidden"),
    ("x\x00y\x1fz\x7f", "x_y_z_"),
    ("", "_"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert P.safe_name(name) == expected


def test_safe_name_length() -> None:
    assert len(P.safe_name("1." * 200).encode()) == 255


@pytest.mark.parametrize("od,expected", [
    (".", "N"), ("./", "N"), (".//", "N"), ("fk", "fk/N"), ("./fk//", "./fk/N"), ("/abs/", "/abs/N"), ("/", "/N"),
])
def test_join_output_like_dcmtk(od: str, expected: str) -> None:
    assert P.join_output(od, "N") == expected


def test_file_meta_matches_dcmtk_layout() -> None:
    meta = encoding.meta_header("1.2.840.10008.5.1.4.1.1.2", "1.2.3", EXPLICIT_LE,
                                encoding.BIT_PRESERVING_VERSION_NAME, "GETSCU")
    assert meta[:128] == bytes(128) and meta[128:132] == b"DICM"
    ds = dcmread(BytesIO(meta + _encode(_nested(), EXPLICIT_LE)))
    fm = ds.file_meta
    assert fm.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"
    assert fm.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert fm.ImplementationVersionName == "OFFIS_DCMBP_367"
    assert fm.SourceApplicationEntityTitle == "GETSCU"
    assert fm.FileMetaInformationGroupLength == len(meta) - 132 - 12


class _FakeAssoc:
    """Stands in for net.transport.Association (a DatasetSource): feeds chunks, then fails as told."""

    calling_ae = "GETSCU"
    called_ae = "PEER"
    chatter = None

    def __init__(self, chunks: list[bytes], fail: BaseException | None = None) -> None:
        self.chunks = chunks
        self.fail = fail

    def receive_dataset(self, pc_id: int, sink, timeout="dimse") -> int:  # type: ignore[no-untyped-def]
        for chunk in self.chunks:
            if sink is not None:
                sink(memoryview(chunk))
        if self.fail is not None:
            raise self.fail
        return sum(map(len, self.chunks))


def _request(uid: str = "1.2.3.4") -> tuple[str, str]:
    """The Affected SOP Class/Instance UIDs of a C-STORE-RQ."""
    return "1.2.840.10008.5.1.4.1.1.7", uid


@pytest.mark.parametrize("mode", ["normal", "bit-preserving"])
@pytest.mark.parametrize("fail", [DimseError(COND_PEER_ABORTED), KeyboardInterrupt()])
def test_failed_object_leaves_nothing(tmp_path: Path, mode: str, fail: BaseException) -> None:
    """Deviation #5: abort or Ctrl-C mid-object -> no final file, no temporary file."""
    data = _encode(_nested(), EXPLICIT_LE)
    assoc = _FakeAssoc([data[:50], data[50:]], fail)
    rule = P.getscu_name if mode == "normal" else P.bit_preserving_name
    pipe = P.StorePipeline(str(tmp_path), P.StoreMode(mode), logging.getLogger("test"), rule)
    if isinstance(fail, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            pipe.receive(assoc, 1, *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
    else:
        result = pipe.receive(assoc, 1, *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
        assert result.kind is P.StoreOutcome.RECEIVE_ERROR
    assert os.listdir(tmp_path) == []


def test_stored_via_rename_and_hostile_name(tmp_path: Path) -> None:
    data = _encode(_nested(), EXPLICIT_LE)
    od = tmp_path / "od"
    od.mkdir()
    pipe = P.StorePipeline(str(od), P.StoreMode.BIT_PRESERVING, logging.getLogger("test"), P.bit_preserving_name)
    result = pipe.receive(_FakeAssoc([data]), 1, *_request("../../evil"), EXPLICIT_LE)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.STORED
    assert sorted(os.listdir(od)) == ["_.._.._evil"]
    assert sorted(os.listdir(tmp_path)) == ["od"]
    written = (od / "_.._.._evil").read_bytes()
    assert written.endswith(data) and written[128:132] == b"DICM"


def test_missing_uid_and_progress(tmp_path: Path) -> None:
    ds = _nested()
    del ds.SOPInstanceUID
    events: list[str] = []
    pipe = P.StorePipeline(str(tmp_path), P.StoreMode.NORMAL, logging.getLogger("test"), P.getscu_name,
                           progress=events.append)
    result = pipe.receive(_FakeAssoc([_encode(ds, EXPLICIT_LE)[:10], _encode(ds, EXPLICIT_LE)[10:]]), 1,
                          *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.MISSING_UID
    assert events == ["start", "chunk", "chunk", "end"]
    assert os.listdir(tmp_path) == []


def test_overwrite_warning_only_for_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _encode(_nested(), EXPLICIT_LE)
    logger = logging.getLogger("test.pipeline")
    pipe = P.StorePipeline(str(tmp_path), P.StoreMode.NORMAL, logger, P.getscu_name)
    (tmp_path / "SC.1.2.3.4").write_bytes(b"old")
    with caplog.at_level(logging.WARNING, logger="test.pipeline"):
        result = pipe.receive(_FakeAssoc([data]), 1, *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.STORED and result.path == str(tmp_path / "SC.1.2.3.4")
    assert caplog.messages == [f"DICOM file already exists, overwriting: {tmp_path}/SC.1.2.3.4"]
    assert (tmp_path / "SC.1.2.3.4").read_bytes() != b"old"


def test_encoder_failure_is_a_write_error(tmp_path: Path) -> None:
    """An object movescu's encoder cannot write (e.g. a representation it cannot
    change) is a failed write like DCMTK's saveFile failure: write-error
    (0xA700, "cannot write DICOM file"), no file, no temporary file, and the
    program goes on."""
    from dcmretrieve.store import encoding

    def encoder(data: bytes, info: P.ObjectInfo) -> bytes:
        raise encoding.EncodingError("cannot change representation")

    data = _encode(_nested(), EXPLICIT_LE)
    pipe = P.StorePipeline(str(tmp_path), P.StoreMode.NORMAL, logging.getLogger("test"), P.getscu_name, encoder=encoder)
    result = pipe.receive(_FakeAssoc([data]), 1, *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.WRITE_ERROR
    assert os.listdir(tmp_path) == []


def test_movescu_encoder_failure_answers_a700(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """movescu's own encoder on an unparsable data set: logged and answered like
    DCMTK's failed write, never an exception out of the storage SCP."""
    from dcmretrieve.scu import move as movescu_net
    from dcmretrieve.settings import Settings

    settings = Settings(tool="movescu", aetitle="MOVESCU", output_directory=str(tmp_path),
                        write_xfer="write-xfer-big")
    logger = logging.getLogger("dcmtk.apps.movescu.test")
    ctx = movescu_net.StoreContext.create(settings, logger)
    data = _encode(_nested(), EXPLICIT_LE)
    # received in RLE Lossless: the walk reads it, the encoder (asked to
    # re-encode in big endian, with no codec) cannot.  (A non-standard VR,
    # the trigger used before, is read as UN and written, as DCMTK does.)
    rle = "1.2.840.10008.1.2.5"
    result = ctx.pipeline.receive(_FakeAssoc([data]), 1, *_request(), rle)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.WRITE_ERROR
    with caplog.at_level(logging.ERROR, logger=logger.name):
        assert movescu_net.store_status(ctx, result) == movescu_net.STORE_OUT_OF_RESOURCES
    assert any("cannot write DICOM file" in r.getMessage() for r in caplog.records)
    assert [n for n in os.listdir(tmp_path)] == []


@pytest.mark.parametrize("read_on", [False, True], ids=["movescu-stops", "getscu-reads-on"])
def test_bit_preserving_write_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_on: bool) -> None:
    """+B, the disk fills while the data set streams in: WRITE_ERROR with DCMTK's
    receiveDataSetInFile condition, no file left; reading stops at the failed
    write (movescu) or goes on to the last fragment (getscu, ``bp_read_on``)."""
    data = _encode(_nested(), EXPLICIT_LE)
    chunks = [data[:40], data[40:80], data[80:]]
    seen: list[int] = []

    class Counting(_FakeAssoc):
        def receive_dataset(self, pc_id: int, sink, timeout="dimse") -> int:  # type: ignore[no-untyped-def]
            for chunk in self.chunks:
                seen.append(len(chunk))
                sink(memoryview(chunk))
            return sum(seen)

    writes = {"n": 0}
    real_write = P._TempFile.write

    def write(self, chunk) -> None:  # type: ignore[no-untyped-def]
        writes["n"] += 1
        if writes["n"] > 2:  # meta header and the first fragment fit
            raise OSError(28, "No space left on device")
        real_write(self, chunk)

    monkeypatch.setattr(P._TempFile, "write", write)
    pipe = P.StorePipeline(str(tmp_path), P.StoreMode.BIT_PRESERVING, logging.getLogger("test"),
                           P.bit_preserving_name, bp_read_on=read_on)
    result = pipe.receive(Counting(chunks), 1, *_request(), EXPLICIT_LE)  # type: ignore[arg-type]
    assert result.kind is P.StoreOutcome.WRITE_ERROR
    assert result.error == P.BIT_PRESERVING_WRITE_FAILED
    assert result.unread is not read_on
    assert len(seen) == (3 if read_on else 2)
    assert os.listdir(tmp_path) == []
