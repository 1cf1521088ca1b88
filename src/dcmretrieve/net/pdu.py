"""PDU codec: A-ASSOCIATE-RQ/AC/RJ on pynetdicom's PDU classes
(``pynetdicom.pdu`` with the ``pynetdicom.pdu_items`` items); P-DATA-TF,
A-RELEASE and A-ABORT, the PDUs of the per-object hot path, by hand.

WHY by hand: a retrieval exchanges 3 P-DATA-TF PDUs per object (thousands
per run) and pynetdicom builds a PDU object and one item object per PDV for
each; ``decode_p_data`` reads the PDV item headers in place from the
received PDU and returns memoryview slices of it (no per-PDU objects,
no copies).  The fixed 10-byte release and abort PDUs are constants.
tests/net/test_association_codec.py pins all of them, byte for byte and
error for error, to pynetdicom's classes.  pynetdicom itself is imported
only when an A-ASSOCIATE PDU is encoded or decoded.

For the A-ASSOCIATE PDUs our code only builds the PDU objects and reads their fields.  Fields are set
directly (``item._abstract_syntax_name = ...``) rather than through
pynetdicom's primitives, whose validators refuse AE titles and UIDs that
DCMTK sends and accepts; for decoding, the documented hook
``pynetdicom._config.VALIDATORS`` is made as lenient as DCMTK
(``_install_dcmtk_validators``, done when the codec is first used, never on
import).  The only change to pynetdicom's bytes: DCMTK's 0xff in a reserved
byte of each RQ presentation context item (``_dcmtk_reserved_bytes``), for
wire identity.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from ..dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from .conditions import COND_ILLEGAL_PDU, DimseError
from .params import APPLICATION_CONTEXT, AssociationParams

if TYPE_CHECKING:  # pragma: no cover
    from pynetdicom import pdu_items



def _dcmtk_accepts(_value: object) -> tuple[bool, str]:
    """DCMTK checks neither AE titles nor UIDs it receives."""
    return True, ""


_validators_installed = False


def _install_dcmtk_validators() -> None:
    """pynetdicom's decoders run its AE/UI validators and raise ValueError
    for values DCMTK takes as they are (e.g. a UID with a trailing space or
    longer than 64 characters): this process uses pynetdicom's PDU classes
    only through this module, so the documented hook is set once, when the
    A-ASSOCIATE codec is first used (not on import: nothing changes
    pynetdicom's configuration before an association is made)."""
    global _validators_installed
    if not _validators_installed:
        from pynetdicom import _config

        _config.VALIDATORS["AE"] = _dcmtk_accepts
        _config.VALIDATORS["UI"] = _dcmtk_accepts
        _validators_installed = True




def _ascii(text: str) -> str:
    """pynetdicom encodes titles and UIDs as strict ASCII: anything else becomes '?'."""
    return text.encode("ascii", "replace").decode("ascii")


def _uid(text: str) -> str:
    """A UID field value as sent: a plain ``str``, because pydicom's ``UID()``
    strips spaces and warns (on stderr) about values DCMTK sends unchanged."""
    return _ascii(text)


def _ts_item(uid: str) -> "pdu_items.TransferSyntaxSubItem":
    from pynetdicom import pdu_items

    item = pdu_items.TransferSyntaxSubItem()
    item._transfer_syntax_name = _uid(uid)
    return item


def _application_context() -> "pdu_items.ApplicationContextItem":
    from pydicom.uid import UID
    from pynetdicom import pdu_items

    item = pdu_items.ApplicationContextItem()
    item._application_context_name = UID(APPLICATION_CONTEXT)
    return item


def _user_information(max_pdu: int, roles: Iterable[tuple[str, bool, bool]] = ()
                      ) -> "pdu_items.UserInformationItem":
    """User Information in DCMTK's sub-item order: max length, class UID, roles, version name."""
    from pydicom.uid import UID
    from pynetdicom import pdu_items

    max_length = pdu_items.MaximumLengthSubItem()
    max_length.maximum_length_received = max_pdu
    class_uid = pdu_items.ImplementationClassUIDSubItem()
    class_uid._implementation_class_uid = UID(IMPLEMENTATION_CLASS_UID)
    user_data: list[object] = [max_length, class_uid]
    for uid, scu, scp in roles:
        role = pdu_items.SCP_SCU_RoleSelectionSubItem()
        role._sop_class_uid = _uid(uid)
        role._scu_role, role._scp_role = int(scu), int(scp)
        user_data.append(role)
    version = pdu_items.ImplementationVersionNameSubItem()
    version._implementation_version_name = IMPLEMENTATION_VERSION_NAME
    user_data.append(version)
    user = pdu_items.UserInformationItem()
    user.user_data = user_data  # type: ignore[assignment]
    return user


def _dcmtk_reserved_bytes(encoded: bytes) -> bytes:
    """The ONE place where pynetdicom's encoding is patched for wire identity
    with DCMTK, and only in a reserved field: DCMTK writes 0xff into the
    reserved "result" byte (item offset 6) of every A-ASSOCIATE-RQ
    presentation context item, pynetdicom 0x00 (PS3.8 9.3.2.2: not tested by
    the receiver)."""
    out = bytearray(encoded)
    pos, end = 74, len(out)
    while pos + 4 <= end:
        (length,) = struct.unpack_from(">H", out, pos + 2)
        if out[pos] == 0x20 and length >= 4:
            out[pos + 6] = 0xFF
        pos += 4 + length
    return bytes(out)


def _pynetdicom_associate_rq(params: AssociationParams) -> bytes:
    """A-ASSOCIATE-RQ PDU in DCMTK's item order (pynetdicom's ``A_ASSOCIATE_RQ``):
    the reference ``encode_associate_rq`` is tested against."""
    from pynetdicom import pdu, pdu_items

    _install_dcmtk_validators()
    rq = pdu.A_ASSOCIATE_RQ()
    rq._called_aet = _ascii(params.called_ae)[:16]
    rq._calling_aet = _ascii(params.calling_ae)[:16]
    items: list[object] = [_application_context()]
    for ctx in params.contexts:
        item = pdu_items.PresentationContextItemRQ()
        item.presentation_context_id = ctx.id
        abstract = pdu_items.AbstractSyntaxSubItem()
        abstract._abstract_syntax_name = _uid(ctx.abstract_syntax)
        item.abstract_transfer_syntax_sub_items = [abstract]
        item.abstract_transfer_syntax_sub_items += [_ts_item(ts) for ts in ctx.transfer_syntaxes]
        items.append(item)
    roles = [(ctx.abstract_syntax, bool(ctx.scu_role), bool(ctx.scp_role)) for ctx in params.contexts
             if ctx.scu_role is not None or ctx.scp_role is not None]
    items.append(_user_information(params.max_pdu, roles))
    rq.variable_items = items  # type: ignore[assignment]
    return _dcmtk_reserved_bytes(rq.encode())


def _pynetdicom_associate_ac(called_ae: str, calling_ae: str, max_pdu: int,
                             contexts: Iterable[tuple[int, int, str]]) -> bytes:
    """A-ASSOCIATE-AC (pynetdicom's ``A_ASSOCIATE_AC``); ``contexts``: (id, result, ts):
    the reference ``encode_associate_ac`` is tested against.

    The AC repeats the RQ's titles in its reserved title fields, as DCMTK does."""
    from pynetdicom import pdu, pdu_items

    _install_dcmtk_validators()
    ac = pdu.A_ASSOCIATE_AC()
    ac.reserved_aet = _ascii(called_ae)[:16].ljust(16).encode("ascii")
    ac.reserved_aec = _ascii(calling_ae)[:16].ljust(16).encode("ascii")
    items: list[object] = [_application_context()]
    for ctx_id, result, ts in contexts:
        item = pdu_items.PresentationContextItemAC()
        item.presentation_context_id = ctx_id
        item.result_reason = result
        item.transfer_syntax_sub_item = [_ts_item(ts)]
        items.append(item)
    items.append(_user_information(max_pdu))
    ac.variable_items = items  # type: ignore[assignment]
    return ac.encode()


def _item(item_type: int, value: bytes) -> bytes:
    return struct.pack(">BBH", item_type, 0, len(value)) + value


def _text(value: str) -> bytes:
    return _ascii(value).encode("ascii")


def _user_information_bytes(max_pdu: int, roles: Iterable[tuple[str, bool, bool]] = ()) -> bytes:
    sub = [_item(0x51, struct.pack(">I", max_pdu)), _item(0x52, _text(IMPLEMENTATION_CLASS_UID))]
    for uid, scu, scp in roles:
        raw = _text(uid)
        sub.append(_item(0x54, struct.pack(">H", len(raw)) + raw + bytes((int(scu), int(scp)))))
    sub.append(_item(0x55, _text(IMPLEMENTATION_VERSION_NAME)))
    return _item(0x50, b"".join(sub))


def _associate(pdu_type: int, called: bytes, calling: bytes, items: list[bytes]) -> bytes:
    body = struct.pack(">HH", 1, 0) + called + calling + bytes(32) + b"".join(items)
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def encode_associate_rq(params: AssociationParams) -> bytes:
    """A-ASSOCIATE-RQ PDU in DCMTK's item order, DCMTK's bytes (0xff in the
    reserved byte of each presentation context item, see
    ``_dcmtk_reserved_bytes``).  Written by hand: importing pynetdicom costs
    more than DCMTK's whole retrieval of a small study;
    tests/net/test_association_codec.py pins it to pynetdicom's encoding."""
    items = [_item(0x10, _text(APPLICATION_CONTEXT))]
    for ctx in params.contexts:
        sub = [_item(0x30, _text(ctx.abstract_syntax))] + [_item(0x40, _text(ts)) for ts in ctx.transfer_syntaxes]
        items.append(_item(0x20, bytes((ctx.id, 0, 0xFF, 0)) + b"".join(sub)))
    roles = [(ctx.abstract_syntax, bool(ctx.scu_role), bool(ctx.scp_role)) for ctx in params.contexts
             if ctx.scu_role is not None or ctx.scp_role is not None]
    items.append(_user_information_bytes(params.max_pdu, roles))
    return _associate(0x01, _ascii(params.called_ae)[:16].ljust(16).encode("ascii"),
                      _ascii(params.calling_ae)[:16].ljust(16).encode("ascii"), items)


def encode_associate_ac(called_ae: str, calling_ae: str, max_pdu: int,
                        contexts: Iterable[tuple[int, int, str]]) -> bytes:
    """A-ASSOCIATE-AC; ``contexts``: (id, result, ts).  By hand, pinned to
    pynetdicom's ``A_ASSOCIATE_AC`` in the tests (``_pynetdicom_associate_ac``).

    The AC repeats the RQ's titles in its reserved title fields, as DCMTK does."""
    items = [_item(0x10, _text(APPLICATION_CONTEXT))]
    for ctx_id, result, ts in contexts:
        items.append(_item(0x21, bytes((ctx_id, 0, result, 0)) + _item(0x40, _text(ts))))
    items.append(_user_information_bytes(max_pdu))
    return _associate(0x02, _ascii(called_ae)[:16].ljust(16).encode("ascii"),
                      _ascii(calling_ae)[:16].ljust(16).encode("ascii"), items)


#: A-RELEASE-RQ / A-RELEASE-RP: PDU type, reserved, length 4, 4 reserved bytes
A_RELEASE_RQ = b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"
A_RELEASE_RP = b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"
#: A-ABORT-RQ, source service user (0), no reason (DCMTK's ASC_abortAssociation)
A_ABORT = b"\x07\x00\x00\x00\x00\x04\x00\x00\x00\x00"


def decode_reject(body: bytes | memoryview) -> tuple[int, int, int]:
    """(result, source, reason) of an A-ASSOCIATE-RJ body: bytes 2-4 after the
    reserved one, as pynetdicom's ``A_ASSOCIATE_RJ`` reads them (pinned in tests)."""
    if len(body) < 4:
        return 0, 0, 0
    return body[1], body[2], body[3]


def _pynetdicom_reject(body: bytes | memoryview) -> tuple[int, int, int]:
    """pynetdicom's reading of an A-ASSOCIATE-RJ body (the tests' reference)."""
    if len(body) < 4:
        return 0, 0, 0
    from pynetdicom import pdu

    reject = pdu.A_ASSOCIATE_RJ()
    reject.decode(struct.pack(">BBI", 0x03, 0, len(body)) + bytes(body))
    return int(reject.result or 0), int(reject.source or 0), int(reject.reason_diagnostic or 0)


@dataclass
class AssocInfo:
    """What we use of a decoded A-ASSOCIATE-RQ or -AC."""

    called_ae: str = ""
    calling_ae: str = ""
    app_context: str = ""
    max_pdu: int = 0
    impl_class_uid: str = ""
    impl_version: str = ""
    contexts: list[tuple[int, int, list[str]]] = field(default_factory=list)  # id, result, [as?] + ts
    roles: dict[str, tuple[bool, bool]] = field(default_factory=dict)


def _name(value: object) -> str:
    return str(value or "").rstrip("\0 ")


#: characters of the values the hand-written A-ASSOCIATE parser takes as
#: they are (UIDs, implementation version names); anything else goes to pynetdicom
_PLAIN = frozenset(b"0123456789.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-")
_ITEM_HEADER = struct.Struct(">BBH")


class _NotPlain(Exception):
    """The fast A-ASSOCIATE parser leaves this PDU to pynetdicom's."""


def _plain(value: bytes, pad: bool) -> str:
    """A value as ``parse_associate`` reports it; UIDs (``pad``) may end in NUL padding."""
    text = value.rstrip(b"\0") if pad else value
    if not text or not _PLAIN.issuperset(text):
        raise _NotPlain()
    return text.decode("ascii")


def _sub_items(data: bytes) -> Iterator[tuple[int, bytes]]:
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise _NotPlain()
        item_type, _r, length = _ITEM_HEADER.unpack_from(data, pos)
        stop = pos + 4 + length
        if stop > end:
            raise _NotPlain()
        yield item_type, data[pos + 4:stop]
        pos = stop


def _fast_parse_associate(pdu_type: int, body: bytes) -> AssocInfo:
    """The usual A-ASSOCIATE-RQ/AC (known items and sub-items, consistent
    lengths, plain UIDs) decoded by hand; raises _NotPlain for anything
    else.  What it accepts it reads exactly as pynetdicom's decoding does
    (tests/net/test_association_codec.py checks that on real and damaged PDUs)."""
    info = AssocInfo()
    context_type = 0x20 if pdu_type == 0x01 else 0x21
    for item_type, value in _sub_items(body[68:]):
        if item_type == 0x10:
            info.app_context = _plain(value, True)
        elif item_type == context_type:
            if len(value) < 4:
                raise _NotPlain()
            syntaxes = []
            for sub_type, sub in _sub_items(value[4:]):
                if sub_type != 0x40 and (sub_type != 0x30 or context_type != 0x20):
                    raise _NotPlain()
                syntaxes.append(_plain(sub, True))
            info.contexts.append((value[0], 0xFF if context_type == 0x20 else value[2], syntaxes))
        elif item_type == 0x50:
            for sub_type, sub in _sub_items(value):
                if sub_type == 0x51 and len(sub) == 4:
                    info.max_pdu = struct.unpack(">I", sub)[0]
                elif sub_type == 0x52:
                    info.impl_class_uid = _plain(sub, True)
                elif sub_type == 0x55:
                    info.impl_version = _plain(sub, False)
                elif sub_type == 0x54 and len(sub) >= 4 and struct.unpack_from(">H", sub)[0] == len(sub) - 4 \
                        and sub[-2] in (0, 1) and sub[-1] in (0, 1):
                    info.roles[_plain(sub[2:-2], True)] = (bool(sub[-2]), bool(sub[-1]))
                else:
                    raise _NotPlain()
        else:
            raise _NotPlain()
    return info


def parse_associate(pdu_type: int, body: bytes) -> AssocInfo:
    """Decode an A-ASSOCIATE-RQ (type 1) or -AC (type 2) PDU body.

    The usual PDU is read by hand (``_fast_parse_associate``), anything
    unusual by pynetdicom (``_pynetdicom_parse_associate``), which decides
    what is an Illegal PDU."""
    if len(body) < 68:
        raise DimseError(COND_ILLEGAL_PDU)
    try:
        info = _fast_parse_associate(pdu_type, body)
    except _NotPlain:
        return _pynetdicom_parse_associate(pdu_type, body)
    info.called_ae = body[4:20].decode("latin-1").strip(" ")
    info.calling_ae = body[20:36].decode("latin-1").strip(" ")
    return info


def _pynetdicom_parse_associate(pdu_type: int, body: bytes) -> AssocInfo:
    """Decode an A-ASSOCIATE-RQ (type 1) or -AC (type 2) PDU body with pynetdicom.

    The fixed-width title fields are read here (pynetdicom's RQ title setter
    refuses all-space titles); every variable item is pynetdicom's."""
    if len(body) < 68:
        raise DimseError(COND_ILLEGAL_PDU)
    from pynetdicom import pdu, pdu_items

    _install_dcmtk_validators()
    raw = struct.pack(">BBI", pdu_type, 0, len(body)) + bytes(body)
    decoded = pdu.A_ASSOCIATE_RQ() if pdu_type == 0x01 else pdu.A_ASSOCIATE_AC()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's UID() warns about UIDs DCMTK takes as they are
            decoded.variable_items = decoded._wrap_generate_items(raw[74:])
    except (ValueError, KeyError, IndexError, TypeError, AssertionError, struct.error):
        raise DimseError(COND_ILLEGAL_PDU) from None
    info = AssocInfo()
    info.called_ae = body[4:20].decode("latin-1").strip(" ")
    info.calling_ae = body[20:36].decode("latin-1").strip(" ")
    for item in decoded.variable_items:
        if isinstance(item, pdu_items.ApplicationContextItem):
            info.app_context = _name(item.application_context_name)
        elif isinstance(item, pdu_items.PresentationContextItemRQ):
            syntaxes = [_name(sub.abstract_syntax_name if isinstance(sub, pdu_items.AbstractSyntaxSubItem)
                              else sub.transfer_syntax_name)
                        for sub in item.abstract_transfer_syntax_sub_items]
            info.contexts.append((int(item.presentation_context_id or 0), 0xFF, syntaxes))
        elif isinstance(item, pdu_items.PresentationContextItemAC):
            syntaxes = [_name(sub.transfer_syntax_name) for sub in item.transfer_syntax_sub_item]
            info.contexts.append((int(item.presentation_context_id or 0), int(item.result_reason or 0),
                                  syntaxes))
        elif isinstance(item, pdu_items.UserInformationItem):
            for sub in item.user_data:
                if isinstance(sub, pdu_items.MaximumLengthSubItem):
                    info.max_pdu = int(sub.maximum_length_received or 0)
                elif isinstance(sub, pdu_items.ImplementationClassUIDSubItem):
                    info.impl_class_uid = _name(sub.implementation_class_uid)
                elif isinstance(sub, pdu_items.ImplementationVersionNameSubItem):
                    info.impl_version = str(sub.implementation_version_name or "")
                elif isinstance(sub, pdu_items.SCP_SCU_RoleSelectionSubItem):
                    info.roles[_name(sub.sop_class_uid)] = (bool(sub.scu_role), bool(sub.scp_role))
    return info


_PDV_HEADER = struct.Struct(">IBB")  # item length, presentation context ID, message control header
_P_DATA_HEADER = struct.Struct(">BBIIBB")  # PDU type, reserved, PDU length + one PDV item header


def decode_p_data(raw_pdu: memoryview) -> list[tuple[int, int, memoryview]]:
    """The PDVs of a whole P-DATA-TF PDU (header included) as (pc_id,
    control header, fragment), the fragments memoryview slices of
    ``raw_pdu``.  Raises DimseError (Illegal PDU) where pynetdicom's
    ``P_DATA_TF.decode`` fails, and for a PDV without control header; like
    it, reads the items to the end of ``raw_pdu`` (the PDU length field is
    not looked at)."""
    pdvs = []
    pos, end = 6, len(raw_pdu)
    unpack = _PDV_HEADER.unpack_from
    while pos < end:
        if end - pos < 6:  # (pynetdicom: struct.error, or an item without control header)
            raise DimseError(COND_ILLEGAL_PDU)
        length, pc_id, control = unpack(raw_pdu, pos)
        stop = pos + 4 + length
        if length < 2 or stop > end:  # empty PDV (no control header) or truncated item
            raise DimseError(COND_ILLEGAL_PDU)
        pdvs.append((pc_id, control, raw_pdu[pos + 6:stop]))
        pos = stop
    return pdvs


def p_data_header(pc_id: int, control: int, fragment_length: int) -> bytes:
    """The 12 bytes in front of a fragment in a P-DATA-TF with one PDV (DCMTK
    sends one PDV per PDU): PDU header and PDV item header."""
    return _P_DATA_HEADER.pack(0x04, 0, fragment_length + 6, fragment_length + 2, pc_id, control)


def encode_p_data(pc_id: int, control: int, fragment: bytes | memoryview) -> bytes:
    """One P-DATA-TF with one PDV."""
    return p_data_header(pc_id, control, len(fragment)) + fragment
