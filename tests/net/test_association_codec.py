"""The association layer's codecs against pynetdicom's own.

Why: net.pdu encodes every PDU with pynetdicom's PDU classes, and
command sets with pynetdicom's command-set codec except for the per-object
retrieval messages, which have a hand-written fast path (numbers in the
``net.dimse`` docstring).  These tests pin the fast path to pynetdicom's codec:
C-STORE-RSP bytes equal those pynetdicom's ``C_STORE_RSP`` message produces
from the same primitive, and C-STORE-RQ / C-GET-RSP / C-MOVE-RSP decode to
the same values either way.  They also pin the one reserved-byte patch of
the A-ASSOCIATE-RQ and the lenient decoding of what DCMTK accepts.
"""

from __future__ import annotations

import struct
import warnings
from io import BytesIO

import pytest
from pynetdicom.dimse_messages import C_GET_RSP, C_MOVE_RSP, C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import decode, encode
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, A_RELEASE_RQ, P_DATA_TF

from dcmretrieve.net.conditions import COND_RECEIVE_FAILED, DimseError
from dcmretrieve.net import dimse
from dcmretrieve.net.dimse import C_FIND_RSP, Command, NO_DATASET, _FAST_DECODE, _fast_decode, _fast_encode, _pynetdicom_decode, _pynetdicom_encode, c_cancel_rq, c_get_rq, c_move_rq, c_store_rsp
from dcmretrieve.net.params import AssociationParams, ProposedContext
from dcmretrieve.net.pdu import (
    decode_p_data, encode_abort, encode_associate_ac, encode_associate_rq, encode_p_data, encode_simple,
    parse_associate,
)
from dcmretrieve.scu.policy import getscu_contexts

CT = "1.2.840.10008.5.1.4.1.1.2"
SOP_INSTANCE = "1.2.826.0.1.3680043.8.498.1234567890123456789012345678901"  # odd length: NUL padding


def _pynetdicom_bytes(message: object, primitive: object) -> bytes:
    """What pynetdicom puts on the wire for a command (DIMSEMessage.encode_msg)."""
    message.primitive_to_message(primitive)  # type: ignore[attr-defined]
    message._set_command_group_length()  # type: ignore[attr-defined]
    return encode(message.command_set, True, True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [0x0000, 0xB000, 0xA700, 0xC000])
def test_store_rsp_fast_path_equals_pynetdicom(status: int) -> None:
    request = Command(command_field=dimse.C_STORE_RQ, message_id=7, affected_sop_class_uid=CT,
                        affected_sop_instance_uid=SOP_INSTANCE, priority=0, data_set_type=1)
    ours = c_store_rsp(request, status)
    ours.values[0x00000800] = NO_DATASET  # what send_command sets for a response without data set
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = 7
    primitive.AffectedSOPClassUID = CT
    primitive.AffectedSOPInstanceUID = SOP_INSTANCE
    primitive.Status = status
    assert ours.encode() == _pynetdicom_bytes(C_STORE_RSP(), primitive)
    assert ours.encode() == _pynetdicom_encode(ours.values)


def _store_rq_bytes(originator: bool) -> bytes:
    primitive = C_STORE()
    primitive.MessageID = 3
    primitive.AffectedSOPClassUID = CT
    primitive.AffectedSOPInstanceUID = SOP_INSTANCE
    primitive.Priority = 2
    if originator:
        primitive.MoveOriginatorApplicationEntityTitle = "MOVESCU"
        primitive.MoveOriginatorMessageID = 5
    primitive.DataSet = BytesIO(b"\x08\x00\x16\x00")
    return _pynetdicom_bytes(C_STORE_RQ(), primitive)


def _retrieve_rsp_bytes(message: object, primitive: object, status: int, counters: bool) -> bytes:
    primitive.MessageIDBeingRespondedTo = 1  # type: ignore[attr-defined]
    primitive.AffectedSOPClassUID = "1.2.840.10008.5.1.4.1.2.2.3"  # type: ignore[attr-defined]
    primitive.Status = status  # type: ignore[attr-defined]
    if counters:
        primitive.NumberOfRemainingSuboperations = 1999  # type: ignore[attr-defined]
        primitive.NumberOfCompletedSuboperations = 1  # type: ignore[attr-defined]
        primitive.NumberOfFailedSuboperations = 0  # type: ignore[attr-defined]
        primitive.NumberOfWarningSuboperations = 0  # type: ignore[attr-defined]
    return _pynetdicom_bytes(message, primitive)


@pytest.mark.parametrize("raw", [
    _store_rq_bytes(False), _store_rq_bytes(True),
    _retrieve_rsp_bytes(C_GET_RSP(), C_GET(), 0xFF00, True),
    _retrieve_rsp_bytes(C_GET_RSP(), C_GET(), 0x0000, False),
    _retrieve_rsp_bytes(C_MOVE_RSP(), C_MOVE(), 0xFF00, True),
    _retrieve_rsp_bytes(C_MOVE_RSP(), C_MOVE(), 0xB000, True),
], ids=["store-rq", "store-rq-move-originator", "get-rsp-pending", "get-rsp-final",
        "move-rsp-pending", "move-rsp-warning"])
def test_hot_decode_fast_path_equals_pynetdicom(raw: bytes) -> None:
    fast = _fast_decode(raw)
    assert fast[0x00000100] in _FAST_DECODE
    assert fast == _pynetdicom_decode(raw)
    assert Command.decode(raw).values == fast
    # and the values are pynetdicom's
    ds = decode(BytesIO(raw), True, True)
    assert fast[0x00000100] == ds.CommandField and fast[0x00000800] == ds.CommandDataSetType
    if "AffectedSOPInstanceUID" in ds:
        assert fast[0x00001000] == ds.AffectedSOPInstanceUID


def test_other_commands_use_pynetdicom_codec_and_keep_wire_format() -> None:
    for cmd in (c_get_rq(1, "1.2.840.10008.5.1.4.1.2.2.3"), c_move_rq(2, CT, "DEST"), c_cancel_rq(2),
                Command(command_field=C_FIND_RSP, message_id_being_responded_to=9, status=0xC000,
                          error_comment="odd", data_set_type=NO_DATASET)):
        encoded = cmd.encode()
        assert encoded == _fast_encode(cmd.values)  # same bytes as DCMTK's layout
        ds = decode(BytesIO(encoded), True, True)
        assert ds.CommandGroupLength == len(encoded) - 12
        assert Command.decode(encoded).values == _fast_decode(encoded)


def test_truncated_command_fails_like_before() -> None:
    raw = c_get_rq(1, "1.2.840.10008.5.1.4.1.2.2.3").encode()
    for codec in (_fast_decode, _pynetdicom_decode):
        with pytest.raises(DimseError) as info:
            codec(raw[:-1])
        assert info.value.condition is COND_RECEIVE_FAILED


def test_associate_rq_reserved_byte_is_the_only_patch() -> None:
    """DCMTK writes 0xff in the reserved byte 6 of each RQ presentation context item;
    pynetdicom 0x00.  Everything else is pynetdicom's encoding, unchanged."""
    params = AssociationParams("GETSCU", "COMMON", "127.0.0.1", 104, 16384,
                                 getscu_contexts("study", "propose-uncompr", "prefer-uncompr"))
    ours = encode_associate_rq(params)
    pdu = A_ASSOCIATE_RQ()
    pdu.decode(ours)
    plain = bytearray(pdu.encode())
    assert len(plain) == len(ours)
    diffs = [i for i in range(len(ours)) if ours[i] != plain[i]]
    assert len(diffs) == 121 and all(ours[i] == 0xFF and plain[i] == 0 for i in diffs)
    for i in diffs:  # each one is offset 6 of a presentation context item (type 0x20)
        assert plain[i - 6] == 0x20


def test_lenient_titles_and_uids_like_dcmtk() -> None:
    """Titles and UIDs pynetdicom's validators refuse travel and decode unchanged."""
    ctx = [ProposedContext(1, "1.2.3.x ", ["1.2.840.10008.1.2"], True, False)]
    raw = encode_associate_rq(AssociationParams("A\\B", "   ", "127.0.0.1", 104, 0, ctx))
    assert raw[10:42] == b" " * 16 + b"A\\B".ljust(16)
    assert b"1.2.3.x " in raw  # sent as given, like DCMTK (pydicom's UID() would strip it)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may reach stderr as a Python warning
        info = parse_associate(0x01, raw[6:])
    assert (info.called_ae, info.calling_ae) == ("", "A\\B")
    assert info.contexts == [(1, 0xFF, ["1.2.3.x", "1.2.840.10008.1.2"])]
    assert info.roles == {"1.2.3.x": (True, False)}
    ac = encode_associate_ac("   ", "A\\B", 8192, [(1, 0, "1.2.840.10008.1.2")])
    decoded = A_ASSOCIATE_AC()
    decoded.decode(ac)
    assert ac[26:42] == b"A\\B".ljust(16) and decoded.user_information.maximum_length == 8192


def test_release_abort_and_p_data_are_pynetdicoms() -> None:
    assert encode_simple(A_RELEASE_RQ) == bytes((5, 0, 0, 0, 0, 4, 0, 0, 0, 0))
    assert encode_abort() == bytes((7, 0, 0, 0, 0, 4, 0, 0, 0, 0))
    raw = encode_p_data(3, 0x03, memoryview(b"\x01\x02"))
    p_data = P_DATA_TF()
    p_data.decode(raw)
    (item,) = p_data.presentation_data_value_items
    assert item.presentation_context_id == 3 and item.presentation_data_value == b"\x03\x01\x02"
    two = raw + raw[6:]
    two = two[:2] + struct.pack(">I", len(two) - 6) + two[6:]
    pdvs = decode_p_data(memoryview(two))
    assert [(pc, ctl, bytes(data)) for pc, ctl, data in pdvs] == [(3, 3, b"\x01\x02")] * 2
    with pytest.raises(DimseError):
        decode_p_data(memoryview(two[:-1]))
