"""encoding.py: DCMTK's movescu output encodings on raw data sets (no network).

The byte-exact comparison with DCMTK's own files is in test_movescu_net.py;
these tests pin the rules themselves on small hand-made data sets.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from dcmretrieve.store import encoding as enc

ELE = enc.EXPLICIT_LE
ILE = enc.IMPLICIT_LE
EBE = enc.EXPLICIT_BE


def el(tag: int, vr: str, value: bytes, big: bool = False) -> bytes:
    e = ">" if big else "<"
    if vr in enc.LONG_VRS:
        return struct.pack(e + "HH2sHI", tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(value)) + value
    return struct.pack(e + "HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(value)) + value


def iel(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


UIDS = el(0x00080016, "UI", b"1.2.840.10008.5.1.4.1.1.7\0") + el(0x00080018, "UI", b"1.2.3.4")
NAME = el(0x00100010, "PN", b"Doe^John")


def seq_undefined(items: list[bytes]) -> bytes:
    body = b""
    for item in items:
        body += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    head = struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, 0xFFFFFFFF)
    return head + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def seq_explicit(items: list[bytes]) -> bytes:
    body = b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(i)) + i for i in items)
    return struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, len(body)) + body


def dataset_only(opts: enc.WriteOptions, data: bytes, ts: str = ELE) -> bytes:
    chunks, _c, _i = enc.encode(data, ts, opts)
    return b"".join(bytes(c) for c in chunks)


NO_META = enc.WriteOptions(write_file=False)


def test_default_output_is_meta_plus_received_bytes():
    data = UIDS + NAME
    out = dataset_only(enc.WriteOptions(), data)
    meta = enc.meta_header("1.2.840.10008.5.1.4.1.1.7", "1.2.3.4", ELE)
    assert out == meta + data
    assert out[128:132] == b"DICM"
    assert b"OFFIS_DCMTK_367" in meta and b"\x02\x00\x16\x00" not in meta  # no Source AE in normal mode


def test_bit_preserving_meta_has_source_ae():
    meta = enc.meta_header("1.2.3", "4.5.6", ELE, enc.BIT_PRESERVING_VERSION_NAME, "COMMON")
    assert b"OFFIS_DCMBP_367" in meta
    assert el(0x00020016, "AE", b"COMMON") in meta
    (group_length,) = struct.unpack_from("<I", meta, 140)
    assert len(meta) == 144 + group_length


def test_explicit_length_rewrites_undefined_sequences():
    item = el(0x00081150, "UI", b"1.2.3\0") + el(0x00081155, "UI", b"4.5.6\0")
    data = UIDS + seq_undefined([item]) + NAME
    assert dataset_only(NO_META, data) == UIDS + seq_explicit([item]) + NAME
    # -e keeps/creates undefined lengths
    assert dataset_only(enc.WriteOptions(write_file=False, length_explicit=False), data) == data


def test_group_length_recalc_create_remove():
    stale = el(0x00080000, "UL", struct.pack("<I", 999))
    data = stale + UIDS + NAME
    recalc = dataset_only(NO_META, data)
    assert recalc == el(0x00080000, "UL", struct.pack("<I", len(UIDS))) + UIDS + NAME
    removed = dataset_only(enc.WriteOptions(write_file=False, group_length=enc.GroupLength.REMOVE), data)
    assert removed == UIDS + NAME
    created = dataset_only(enc.WriteOptions(write_file=False, group_length=enc.GroupLength.CREATE), UIDS + NAME)
    assert created == (el(0x00080000, "UL", struct.pack("<I", len(UIDS))) + UIDS
                       + el(0x00100000, "UL", struct.pack("<I", len(NAME))) + NAME)


def test_trailing_padding_removed_and_created():
    padded = UIDS + NAME + el(0xFFFCFFFC, "OB", bytes(6))
    assert dataset_only(NO_META, padded) == UIDS + NAME
    out = dataset_only(enc.WriteOptions(padding=(16, 8)), UIDS + NAME)
    assert len(out) % 16 == 0
    assert b"\xfc\xff\xfc\xffOB" in out


def test_implicit_and_big_endian_conversion():
    rows = el(0x00280010, "US", struct.pack("<H", 512))
    data = UIDS + rows
    implicit = dataset_only(enc.WriteOptions(write_file=False, write_xfer=ILE), data)
    assert implicit == (iel(0x00080016, b"1.2.840.10008.5.1.4.1.1.7\0") + iel(0x00080018, b"1.2.3.4")
                        + iel(0x00280010, struct.pack("<H", 512)))
    back = dataset_only(enc.WriteOptions(write_file=False, write_xfer=ELE), implicit, ILE)
    assert back == data
    big = dataset_only(enc.WriteOptions(write_file=False, write_xfer=EBE), data)
    assert big.endswith(el(0x00280010, "US", struct.pack(">H", 512), big=True))
    assert dataset_only(enc.WriteOptions(write_file=False, write_xfer=ELE), big, EBE) == data


def test_disable_new_vr_writes_ob():
    data = UIDS + el(0x00181030, "UT", b"long text ")
    out = dataset_only(enc.WriteOptions(write_file=False, enable_new_vr=False), data)
    assert out == UIDS + el(0x00181030, "OB", b"long text ")


def test_deflated_output_and_level():
    data = UIDS + NAME * 1
    for level in (0, 6, 9):
        out = dataset_only(enc.WriteOptions(write_file=False, write_xfer=enc.DEFLATED_LE, compression_level=level), data)
        assert zlib.decompress(out, -15) == data
        comp = zlib.compressobj(level, zlib.DEFLATED, -15)
        assert out == comp.compress(data) + comp.flush()


def test_compressed_cannot_be_converted():
    frag = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF)
    frag += struct.pack("<HHI", 0xFFFE, 0xE000, 0) + struct.pack("<HHI", 0xFFFE, 0xE000, 4) + b"abcd"
    frag += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    rle = "1.2.840.10008.1.2.5"
    same = dataset_only(NO_META, UIDS + frag, rle)
    assert same == UIDS + frag
    with pytest.raises(enc.EncodingError):
        dataset_only(enc.WriteOptions(write_xfer=ELE), UIDS + frag, rle)


def test_find_uids_and_uid_padding():
    data = el(0x00080016, "UI", b"1.2\0") + el(0x00080018, "UI", b"1.2.3 ")
    elems = enc.parse(data, ELE)
    assert enc.find_uids(elems) == ("1.2", "1.2.3 ")
    assert enc.find_uids(elems, strip_one_space=True) == ("1.2", "1.2.3")
    assert enc.find_uids(enc.parse(NAME, ELE)) == (None, None)


def test_truncated_data_set_is_an_error():
    with pytest.raises(enc.EncodingError):
        enc.parse((UIDS + NAME)[:-3], ELE)


def _slices_vs_per_element(data: bytes, opts: enc.WriteOptions) -> tuple[bytes, bytes, int]:
    """(output copying runs of the received buffer, output re-emitting every
    element, number of chunks of the first)."""
    chunks = enc.encode(data, ELE, opts)[0]
    per_element = enc.encode(data, ELE, opts, list(enc.parse(data, ELE)))[0]  # no buffer: no runs
    return b"".join(bytes(c) for c in chunks), b"".join(bytes(c) for c in per_element), len(chunks)


def test_copied_runs_equal_full_codec():
    """Copying unchanged elements as slices must give exactly what the
    element-by-element writer gives (this was the "fast path" before)."""
    item = el(0x00081150, "UI", b"1.2.3\0")
    cases = [
        UIDS + NAME,
        UIDS + seq_explicit([item]) + NAME,
        UIDS + NAME + el(0xFFFCFFFC, "OB", bytes(4)),  # trailing padding dropped
        UIDS + seq_undefined([item]),
        el(0x00080000, "UL", struct.pack("<I", 1)) + UIDS,  # group length recalculated
        UIDS + el(0x00181030, "UT", b"ab"),
    ]
    for data in cases:
        for opts in (enc.WriteOptions(), enc.WriteOptions(write_file=False),
                     enc.WriteOptions(enable_new_vr=False), enc.GETSCU_OPTIONS):
            fast, full, _n = _slices_vs_per_element(data, opts)
            assert fast == full
    fast, _full, n = _slices_vs_per_element(UIDS + NAME, enc.WriteOptions(write_file=False))
    assert n == 1 and fast == UIDS + NAME  # one slice of the received buffer


def test_fast_path_nested_sequences():
    inner = seq_undefined([el(0x00081150, "UI", b"1.2\0")])
    nested_item = el(0x00080100, "SH", b"AB") + inner
    data = UIDS + seq_undefined([nested_item, el(0x00081155, "UI", b"4.5\0")]) + NAME
    for opts in (enc.WriteOptions(), enc.WriteOptions(write_file=False)):
        fast, full, _n = _slices_vs_per_element(data, opts)
        assert fast == full
        assert b"\xfe\xff\x0d\xe0" not in fast and b"\xfe\xff\xdd\xe0" not in fast
