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

import random
import struct
import warnings
from io import BytesIO

import pytest
from pynetdicom.dimse_messages import C_GET_RSP, C_MOVE_RSP, C_STORE_RQ, C_STORE_RSP
from pynetdicom.dimse_primitives import C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import decode, encode
from pynetdicom import pdu as pynetdicom_pdu
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, P_DATA_TF
from pynetdicom.pdu_items import PresentationDataValueItem

from dcmretrieve.net.conditions import COND_ILLEGAL_PDU, COND_RECEIVE_FAILED, DimseError
from dcmretrieve.net import dimse
from dcmretrieve.net.dimse import C_FIND_RSP, Command, NO_DATASET, _FAST_DECODE, _fast_decode, _fast_encode, _pynetdicom_decode, _pynetdicom_encode, c_cancel_rq, c_get_rq, c_move_rq, c_store_rsp
from dcmretrieve.net.params import AssociationParams, ProposedContext
from dcmretrieve.net.pdu import (
    A_ABORT, A_RELEASE_RP, A_RELEASE_RQ, _pynetdicom_associate_ac, _pynetdicom_associate_rq, _pynetdicom_reject,
    decode_p_data, decode_reject, encode_associate_ac, encode_associate_rq, encode_p_data, p_data_header,
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


@pytest.mark.parametrize("cmd", [
    c_get_rq(1, "1.2.840.10008.5.1.4.1.2.2.3"), c_get_rq(0xFFFF, "1.2.840.10008.5.1.4.1.2.1.3"),
    c_move_rq(2, CT, "DEST"), c_move_rq(3, CT, "ODD"), c_move_rq(4, CT, ""), c_move_rq(5, CT, " A B "),
    c_move_rq(6, "1.2.3.", "X" * 16), c_cancel_rq(2), c_cancel_rq(0xFFFF),
    c_store_rsp(Command(message_id=7, affected_sop_class_uid=CT, affected_sop_instance_uid=SOP_INSTANCE), 0xB000),
    c_store_rsp(Command(message_id=8), 0xC000),
    dimse.c_echo_rsp(Command(message_id=9, affected_sop_class_uid="1.2.840.10008.1.1")),
])
def test_sent_commands_fast_path_equals_pynetdicom(cmd: Command) -> None:
    """Every command our tools send is encoded by hand, byte for byte as
    pynetdicom's codec does it (so a retrieval never imports it)."""
    cmd.values.setdefault(0x00000800, NO_DATASET)
    assert dimse._fast_encodable(cmd.values)
    assert cmd.encode() == _fast_encode(cmd.values) == _pynetdicom_encode(cmd.values)


@pytest.mark.parametrize("values", [
    {0x00000100: C_FIND_RSP, 0x00000120: 1, 0x00000800: NO_DATASET},     # not a command we send
    {0x00000100: dimse.C_MOVE_RQ, 0x00000600: "A\\B"},                     # backslash: pydicom splits values
    {0x00000100: dimse.C_MOVE_RQ, 0x00000600: "D\u00c9ST"},                 # not ASCII
    {0x00000100: dimse.C_MOVE_RQ, 0x00000600: "D\tST"},                     # not printable
    {0x00000100: dimse.C_GET_RQ, 0x00000110: 0x10000},                    # out of range for US
    {0x00000100: dimse.C_GET_RQ, 0x00000110: True},                       # not a plain int
    {0x00000100: dimse.C_GET_RQ, 0x00000002: b"1.2"},                     # raw bytes
    {0x00000100: dimse.C_GET_RQ, 0x00091000: "x"},                        # unknown element
])
def test_unusual_values_take_pynetdicoms_codec(values: dict[int, object]) -> None:
    assert not dimse._fast_encodable(values)

    def outcome(encode):  # type: ignore[no-untyped-def]
        try:
            return encode()
        except Exception as exc:  # noqa: BLE001 - the same failure either way
            return type(exc)

    assert outcome(lambda: Command(values).encode()) == outcome(lambda: _pynetdicom_encode(values))


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


def test_release_abort_and_p_data_equal_pynetdicoms() -> None:
    """The hand-written hot-path PDUs are byte for byte pynetdicom's."""
    assert A_RELEASE_RQ == pynetdicom_pdu.A_RELEASE_RQ().encode()
    assert A_RELEASE_RP == pynetdicom_pdu.A_RELEASE_RP().encode()
    abort = pynetdicom_pdu.A_ABORT_RQ()
    abort.source, abort.reason_diagnostic = 0, 0
    assert A_ABORT == abort.encode() == bytes((7, 0, 0, 0, 0, 4, 0, 0, 0, 0))
    for pc_id, control, fragment in ((3, 0x03, b"\x01\x02"), (1, 0x00, b""), (255, 0x02, bytes(range(256)) * 70)):
        item = PresentationDataValueItem()
        item.presentation_context_id = pc_id
        item.presentation_data_value = bytes((control,)) + fragment
        expected = P_DATA_TF()
        expected.presentation_data_value_items = [item]
        assert encode_p_data(pc_id, control, memoryview(fragment)) == expected.encode()
        assert p_data_header(pc_id, control, len(fragment)) + fragment == expected.encode()
    raw = encode_p_data(3, 0x03, memoryview(b"\x01\x02"))
    two = raw + raw[6:]
    two = two[:2] + struct.pack(">I", len(two) - 6) + two[6:]
    pdvs = decode_p_data(memoryview(two))
    assert [(pc, ctl, bytes(data)) for pc, ctl, data in pdvs] == [(3, 3, b"\x01\x02")] * 2
    with pytest.raises(DimseError):
        decode_p_data(memoryview(two[:-1]))


def _pynetdicom_pdvs(raw: bytes) -> list[tuple[int, int, bytes]] | None:
    """pynetdicom's reading of a P-DATA-TF (None: it fails, or a PDV without
    control header, which the association layer refuses)."""
    p_data = P_DATA_TF()
    try:
        p_data.decode(raw)
    except (AssertionError, IndexError, struct.error):
        return None
    pdvs = []
    for item in p_data.presentation_data_value_items:
        value = item.presentation_data_value
        if not value:
            return None
        pdvs.append((item.presentation_context_id, value[0], bytes(value[1:])))
    return pdvs


def _p_data_variants() -> list[bytes]:
    """Well-formed P-DATA-TFs and every kind of damage to their PDV items."""
    rng = random.Random(8)
    items = [struct.pack(">IBB", 2 + len(f), pc, ctl) + f
             for pc, ctl, f in ((1, 0, b""), (3, 1, b"\x00" * 7), (5, 2, bytes(range(200))), (255, 3, b"ab"))]
    variants = []
    for count in range(4):
        for combo in (items[:count], items[count:], items[::-1][:count + 1]):
            body = b"".join(combo)
            variants.append(struct.pack(">BBI", 4, 0, len(body)) + body)
    for base in list(variants):
        variants.append(base[:-1])                                   # truncated item
        variants.append(base + b"\x00")                              # trailing bytes
        variants.append(base + b"\x00\x00\x00\x01\x07")              # PDV without control header
        variants.append(base + b"\x00\x00\x00\x00")                  # item length 0
        variants.append(base + b"\x00\x00\x00\x09\x01\x02")          # item longer than the PDU
        variants.append(base[:2] + b"\xff\xff\xff\xff" + base[6:])  # PDU length not looked at
        for _ in range(20):                                          # random byte damage
            raw = bytearray(base)
            if len(raw) > 6:
                raw[rng.randrange(6, len(raw))] = rng.randrange(256)
            variants.append(bytes(raw))
    return variants


def test_decode_p_data_reads_like_pynetdicom() -> None:
    """In-place PDV decoding: same PDVs as pynetdicom's P_DATA_TF, and an
    Illegal PDU exactly where pynetdicom's decoding fails."""
    variants = _p_data_variants()
    assert len(variants) > 300
    failures = 0
    for raw in variants:
        expected = _pynetdicom_pdvs(raw)
        if expected is None:
            failures += 1
            with pytest.raises(DimseError) as info:
                decode_p_data(memoryview(raw))
            assert info.value.condition is COND_ILLEGAL_PDU
            continue
        ours = decode_p_data(memoryview(raw))
        assert [(pc, ctl, bytes(data)) for pc, ctl, data in ours] == expected
        assert all(isinstance(data, memoryview) and data.obj is raw for _pc, _ctl, data in ours)  # zero-copy
    assert 0 < failures < len(variants)


# ---- A-ASSOCIATE PDUs by hand, pinned to pynetdicom's codec ------------------

def _rq_params() -> list[AssociationParams]:
    """A-ASSOCIATE-RQs as both tools build them, and unusual titles and UIDs."""
    from dcmretrieve.scu.policy import movescu_contexts

    params = []
    for model in ("patient", "study", "psonly"):
        for propose in ("propose-uncompr", "propose-big", "propose-implicit", "propose-deflated"):
            params.append(AssociationParams("MOVESCU", "ANY-SCP", "127.0.0.1", 104, 16384,
                                            movescu_contexts(model, propose)))
        for prefer in ("prefer-uncompr", "prefer-lossless", "prefer-big", "implicit"):
            params.append(AssociationParams("GETSCU", "ANY-SCP", "127.0.0.1", 104, 131072,
                                            getscu_contexts(model, "propose-uncompr", prefer)))
    odd = [ProposedContext(1, "1.2.3.x ", ["1.2.840.10008.1.2", "9"], True, False),
           ProposedContext(3, "1.2.\u00e9", [], False, True), ProposedContext(255, "", ["1.2"], None, None)]
    for called, calling in (("   ", "A\\B"), ("X" * 20, "\u00c9T\u00c9"), ("", " LEAD"), ("A", "B" * 16)):
        params.append(AssociationParams(calling, called, "127.0.0.1", 104, 4096, odd))
    params.append(AssociationParams("A", "B", "127.0.0.1", 104, 0, []))
    return params


def test_associate_rq_by_hand_equals_pynetdicom() -> None:
    for params in _rq_params():
        assert encode_associate_rq(params) == _pynetdicom_associate_rq(params)


@pytest.mark.parametrize("contexts", [
    [], [(1, 0, "1.2.840.10008.1.2")], [(1, 3, ""), (3, 0, "1.2.840.10008.1.2.1"), (255, 4, "1.2.\u00e9 ")],
])
@pytest.mark.parametrize("titles", [("ANY-SCP", "GETSCU"), ("   ", "A\\B"), ("X" * 17, "")])
def test_associate_ac_by_hand_equals_pynetdicom(contexts: list[tuple[int, int, str]],
                                                titles: tuple[str, str]) -> None:
    for max_pdu in (0, 16384, 131072, 0xFFFFFFFF):
        assert encode_associate_ac(*titles, max_pdu, contexts) == _pynetdicom_associate_ac(*titles, max_pdu, contexts)


def test_reject_read_like_pynetdicom() -> None:
    rng = random.Random(3)
    for length in (0, 1, 3, 4, 5, 9):
        for _ in range(20):
            body = bytes(rng.randrange(256) for _ in range(length))
            assert decode_reject(body) == _pynetdicom_reject(body)


def _associate_variants() -> list[tuple[int, bytes]]:
    """Real A-ASSOCIATE-RQ/ACs of both tools, the usual extras of other
    implementations (asynchronous operations, user identity, extended
    negotiation, NUL-padded UIDs), and damaged copies of all of them."""
    rng = random.Random(11)
    pdus = [encode_associate_rq(p) for p in _rq_params()[::3]]
    pdus += [encode_associate_ac("ANY-SCP", "GETSCU", 16384, [(1, 0, "1.2.840.10008.1.2.1"), (3, 3, ""),
                                                              (5, 0, "1.2.840.10008.1.2")])]
    base = encode_associate_ac("A", "B", 16384, [(1, 0, "1.2.840.10008.1.2")])
    extras = [b"\x53\x00\x00\x04\x00\x01\x00\x01",                                  # async operations window
              b"\x58\x00\x00\x0a\x01\x00\x00\x04user\x00\x00",                      # user identity
              b"\x56\x00\x00\x08\x00\x03\x31\x2e\x32\x00\x00\x01"[:10],            # extended negotiation (short)
              b"\x52\x00\x00\x06\x31\x2e\x32\x2e\x33\x00",                          # class UID with NUL padding
              b"\x54\x00\x00\x08\x00\x04\x31\x2e\x32\x00\x01\x00"]                 # role, NUL-padded UID
    for extra in extras:
        raw = bytearray(base)
        pos = raw.index(b"\x50\x00") if b"\x50\x00" in raw[74:] else len(raw)
        user_at = 74 + bytes(raw[74:]).index(b"\x50\x00")
        (ulen,) = struct.unpack_from(">H", raw, user_at + 2)
        raw[user_at + 4 + ulen:user_at + 4 + ulen] = extra
        struct.pack_into(">H", raw, user_at + 2, ulen + len(extra))
        struct.pack_into(">I", raw, 2, len(raw) - 6)
        del pos
        pdus.append(bytes(raw))
    variants = []
    for raw in pdus:
        variants.append((raw[0], raw))
        for _ in range(60):
            damaged = bytearray(raw)
            for _hit in range(rng.choice((1, 1, 2, 3))):
                damaged[rng.randrange(74, len(damaged))] = rng.choice((0, 1, 0x20, 0x2E, 0x50, 0xFF, rng.randrange(256)))
            variants.append((raw[0], bytes(damaged)))
        variants.append((raw[0], raw[:rng.randrange(74, len(raw))]))  # truncated
    return variants


def _outcome(parse, pdu_type: int, body: bytes):  # type: ignore[no-untyped-def]
    try:
        return vars(parse(pdu_type, body))
    except DimseError as exc:
        return exc.condition
    except Exception as exc:  # noqa: BLE001 - whatever pynetdicom's path does, the same
        return repr(exc)


def test_associate_parsed_like_pynetdicom() -> None:
    """What the hand-written A-ASSOCIATE parser accepts, it reads exactly as
    pynetdicom does; what it leaves alone goes to pynetdicom's parser."""
    from dcmretrieve.net import pdu as codec

    fast = 0
    for pdu_type, raw in _associate_variants():
        body = raw[6:]
        expected = _outcome(codec._pynetdicom_parse_associate, pdu_type, body)
        assert _outcome(parse_associate, pdu_type, body) == expected
        try:
            codec._fast_parse_associate(pdu_type, body)
            fast += 1
        except codec._NotPlain:
            pass
    assert fast > 20  # the usual PDUs do take the fast path
