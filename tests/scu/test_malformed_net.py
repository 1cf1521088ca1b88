"""Malformed data sets in a C-STORE: getscu against DCMTK 3.6.7 (differential).

The evidence for docs/architecture.md, "Malformed data sets": what DCMTK's
``DcmDataset::read`` refuses (the C-STORE is answered 0xC000, nothing is
written) and what it reads anyway, and how (a non-standard VR becomes UN,
an Item Delimitation Item at the top level ends the data set, a tail shorter
than an element header is left unread, UN of undefined length is an
Implicit VR sequence).  Log, exit status and written files must be
identical.  ``dicom.walker`` makes the decision for both tools.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from .test_getscu_net import _SC, _get_rsp, _scripted_peer, _store_rq

pytestmark = pytest.mark.network


def _el(tag: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def _item(body: bytes, length: int | None = None) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(body) if length is None else length) + body


_UIDS = _el(0x00080016, b"UI", _SC.encode() + b"\0") + _el(0x00080018, b"UI", b"1.2.3.4\0")
_NAME = _el(0x00100010, b"PN", b"Doe^John")
_ITEM_DELIM = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQ_DELIM = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)

CASES = {
    # read anyway
    "nonstandard-vr-first": _el(0x00080005, b"zz", b"ISO_IR 100") + _UIDS + _NAME,
    "nonstandard-vr-lowercase": _UIDS + _el(0x00100010, b"pn", b"Doe^John"),
    "item-delimiter-at-top": _UIDS + _ITEM_DELIM + _NAME,
    "short-tail": _UIDS + _NAME + b"\x10\x00\x20\x00",
    "un-undefined-length": _UIDS + struct.pack("<HH2sHI", 0x0009, 0x1010, b"UN", 0, 0xFFFFFFFF)
    + _item(struct.pack("<HHI", 0x0008, 0x0100, 4) + b"ABCD", 0xFFFFFFFF) + _ITEM_DELIM + _SEQ_DELIM + _NAME,
    # refused
    "item-at-top": _UIDS + _item(b"") + _NAME,
    "sequence-delimiter-at-top": _UIDS + _SEQ_DELIM + _NAME,
    "value-cut-off": _UIDS + _NAME[:-2],
    "length-past-end": _UIDS + struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 100) + b"Doe^John",
    "ob-undefined-length": _UIDS + struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, 0xFFFFFFFF)
    + _item(b"abcd") + _SEQ_DELIM + _NAME,
    "sequence-delimiter-missing": _UIDS + struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, 0xFFFFFFFF)
    + _item(_el(0x00081150, b"UI", b"1.2\0")),
}


def _script(data: bytes):  # type: ignore[no-untyped-def]
    def script(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
        assoc.receive_command()
        assoc.receive_dataset(1, None)
        assoc.send_command(assoc.accepted_context(_SC).id, _store_rq(), data)
        assoc.receive_command()
        assoc.send_command(1, _get_rsp())
        assoc._read_pdu(20)
        assoc.acknowledge_release()

    return script


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_data_set_like_dcmtk(tmp_path: Path, case: str) -> None:
    data = CASES[case]
    results = {}
    for tool in ("dcmtk", "ours"):
        _pdus, err, rc = _scripted_peer(tool, tmp_path / tool, _script(data), ["-v"])
        results[tool] = (err, rc, {p.name: p.read_bytes() for p in (tmp_path / tool).iterdir()})
    assert results["ours"] == results["dcmtk"]
