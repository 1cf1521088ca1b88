"""movescu's status tables and the C-STORE statuses it answers (no network).

The network tests cover these end to end where a peer can provoke them
(MISMATCH, write failure); the cases no test peer produces (a data set
without UIDs, ``-up``) are pinned here on the pipeline's result objects.
"""

from __future__ import annotations

import logging
import struct

import pytest

from dcmretrieve.dicom.uids import EXPLICIT_LE
from dcmretrieve.scu import move as movescu_net
from dcmretrieve.store import pipeline
from dcmretrieve.settings import Settings

CT = "1.2.840.10008.5.1.4.1.1.2"


def el(tag: int, vr: str, value: bytes) -> bytes:
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(value)) + value


def result(kind: str, data: bytes, instance: str = "1.2.3", path: str | None = "out/CT.1.2.3") -> pipeline.StoreResult:
    info = pipeline.ObjectInfo(1, EXPLICIT_LE, CT, instance, "COMMON", "MOVESCU", data=data)
    return pipeline.StoreResult(pipeline.StoreOutcome(kind), info, path=path)


def ctx(**kw) -> movescu_net.StoreContext:
    settings = Settings(tool="movescu", aetitle="MOVESCU", **kw)
    return movescu_net.StoreContext.create(settings, logging.getLogger("dcmtk.apps.movescu"))


@pytest.mark.parametrize("status,text,effect", [
    (0x0000, "Success", "ok"),
    (0xFE00, "Cancel: SubOperationsTerminatedDueToCancelIndication", "ok"),
    (0xB000, "Warning: SubOperationsCompleteOneOrMoreFailures", "warning"),
    (0xA701, "Refused: OutOfResourcesNumberOfMatches", "error"),
    (0xA702, "Refused: OutOfResourcesSubOperations", "error"),
    (0xA801, "Refused: MoveDestinationUnknown", "error"),
    (0x0122, "Refused: SOPClassNotSupported", "error"),
    (0xA900, "Error: DataSetDoesNotMatchSOPClass", "error"),
    (0xC123, "Failed: UnableToProcess", "error"),
    (0xB001, "Unknown Status: 0xb001", "error"),
    (0xFF01, "Unknown Status: 0xff01", "error"),
])
def test_final_status_texts_and_exit_effect(status, text, effect):
    assert movescu_net.status_text(status) == text
    assert movescu_net.final_status_effect(status) is movescu_net.FinalStatusEffect(effect)


def test_store_statuses(caplog):
    good = el(0x00080016, "UI", CT.encode() + b"\0") + el(0x00080018, "UI", b"1.2.3\0")
    c = ctx()
    assert movescu_net.store_status(c, result("stored", good)) == 0x0000
    assert movescu_net.store_status(c, result("stored", good, instance="9.9")) == 0xA900
    assert movescu_net.store_status(c, result("ignored", b"")) == 0x0000
    with caplog.at_level(logging.INFO, logger="dcmtk"):
        caplog.clear()
        assert movescu_net.store_status(c, result("stored", el(0x00100010, "PN", b"X "))) == 0xC000
        assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.CRITICAL, "bad DICOM file: CT.1.2.3")]
        caplog.clear()
        assert movescu_net.store_status(c, result("write-error", good)) == 0xA700
        assert [r.getMessage() for r in caplog.records] == ["cannot write DICOM file: out/CT.1.2.3"]


def test_uid_padding_option():
    padded = el(0x00080016, "UI", CT.encode() + b"\0") + el(0x00080018, "UI", b"1.2.3 ")
    assert movescu_net.store_status(ctx(), result("stored", padded)) == 0xA900
    assert movescu_net.store_status(ctx(uid_padding=True), result("stored", padded)) == 0x0000


def test_bit_preserving_statuses(caplog):
    c = ctx(bit_preserving=True)
    assert c.pipeline.mode is pipeline.StoreMode.BIT_PRESERVING
    assert movescu_net.store_status(c, result("stored", b"")) == 0x0000
    with caplog.at_level(logging.INFO, logger="dcmtk"):
        caplog.clear()
        assert movescu_net.store_status(c, result("create-error", b"")) == 0xA700
        assert caplog.records == []


def test_pipeline_modes_and_headers():
    assert ctx(ignore=True).pipeline.mode is pipeline.StoreMode.IGNORE
    assert ctx(ignore=True, bit_preserving=True).pipeline.mode is pipeline.StoreMode.IGNORE
    info = result("stored", b"").info
    header = ctx(bit_preserving=True).pipeline.bp_header(info)
    assert b"OFFIS_DCMBP_367" in header and b"COMMON" in header
    assert ctx(bit_preserving=True, write_file=False).pipeline.bp_header(info) == b""
