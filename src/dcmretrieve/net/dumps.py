"""DCMTK's dump texts of the network layer: DIMSE messages
(``dump_command``), association parameters (``ASC_dumpParameters``:
``dump_associate_rq`` / ``dump_associate_ac``) and received PDUs
(``pdu_dump``).  Each returns one string of several lines (the log
formatter prefixes every line).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Iterable

from ..dicom import uidnames
from ..dicom.uids import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from .dimse import (
    C_CANCEL_RQ, C_ECHO_RQ, C_FIND_RQ, C_GET_RQ, C_GET_RSP, C_MOVE_RQ, C_MOVE_RSP, C_STORE_RQ, C_STORE_RSP,
    MESSAGE_TYPE_NAMES, Command,
)
from .params import APPLICATION_CONTEXT, AssociationParams, NegotiatedContext, ProposedContext
from .status import response_text, store_response_text

if TYPE_CHECKING:  # pragma: no cover
    from .transport import Association


def _uid_name(uid: str) -> str:
    name = uidnames.UID_NAMES.get(uid)
    return f"={name}" if name else uid


def dump_command(cmd: Command, outgoing: bool, pc_id: int, dataset_dump: str | None = None) -> str:
    """DCMTK's DIMSE message dump (logging.md §4.5 item 5)."""
    def line(label: str, value: object) -> str:
        return f"{label:<30}: {value}"

    field_ = cmd.command_field
    is_rsp = bool(field_ & 0x8000)
    lines = [
        "===================== OUTGOING DIMSE MESSAGE ====================" if outgoing
        else "===================== INCOMING DIMSE MESSAGE ====================",
        line("Message Type", MESSAGE_TYPE_NAMES.get(field_, f"0x{field_:04x}")),
    ]
    if pc_id > 0:  # DIMSE_dumpMessage: movescu dumps its C-MOVE-RSPs without one
        lines.append(line("Presentation Context ID", pc_id))
    if is_rsp or field_ == C_CANCEL_RQ:
        lines.append(line("Message ID Being Responded To", cmd.get("message_id_being_responded_to", 0)))
    else:
        lines.append(line("Message ID", cmd.message_id))
    if cmd.affected_sop_class_uid and field_ != C_ECHO_RQ:  # DCMTK's C-ECHO-RQ dump omits it (observed)
        uid = cmd.affected_sop_class_uid
        name = uidnames.UID_NAMES.get(uid)
        lines.append(line("Affected SOP Class UID", name or uid))
    if cmd.affected_sop_instance_uid:
        lines.append(line("Affected SOP Instance UID", cmd.affected_sop_instance_uid))
    if field_ in (C_GET_RSP, C_MOVE_RSP):
        for label, name in (("Remaining Suboperations", "remaining"), ("Completed Suboperations", "completed"),
                            ("Failed Suboperations", "failed"), ("Warning Suboperations", "warning")):
            value = cmd.counter(name)
            lines.append(line(label, "none" if value is None else value))
    lines.append(line("Data Set", "present" if cmd.has_dataset else "none"))
    if field_ in (C_STORE_RQ, C_FIND_RQ, C_GET_RQ, C_MOVE_RQ):
        lines.append(line("Priority", {0: "medium", 1: "high", 2: "low"}.get(int(cmd.get("priority", 0)), "medium")))  # type: ignore[arg-type]
    if field_ == C_MOVE_RQ:
        lines.append(line("Move Destination", cmd.get("move_destination", "")))
    if field_ == C_STORE_RQ:
        if cmd.get("move_originator_ae") is not None:
            lines.append(line("Move Originator AE Title", cmd.get("move_originator_ae")))
        if cmd.get("move_originator_id") is not None:
            lines.append(line("Move Originator ID", cmd.get("move_originator_id")))
    if is_rsp:
        status = cmd.status
        if field_ in (C_GET_RSP, C_MOVE_RSP):
            text = response_text(status)
        elif field_ == C_STORE_RSP:
            text = store_response_text(status)
        else:
            text = "Success" if status == 0 else f"Unknown Status: 0x{status:x}"
        lines.append(line("DIMSE Status", f"0x{status:04x}: {text}"))
    if dataset_dump is not None:
        lines.append("-" * 65)
        lines.append(dataset_dump)
    lines.append("======================= END DIMSE MESSAGE =======================")
    return "\n".join(lines)



def _role_text(scu: bool | None, scp: bool | None) -> str:
    if scu is None and scp is None:
        return "Default"
    if scu and scp:
        return "SCP/SCU"
    if scp:
        return "SCP"
    if scu:
        return "SCU"
    return "Default"


_PC_RESULT_TEXT = {
    0: "Accepted", 1: "User Rejection", 2: "No Reason",
    3: "Abstract Syntax Not Supported", 4: "Transfer Syntaxes Not Supported",
}


def _dump_parameters(kind: str, calling: str, called: str, our_max: int, their_max: int,
                     their_impl: str, their_version: str,
                     contexts: Iterable[tuple[ProposedContext, NegotiatedContext | None]],
                     responding: str | None = None) -> str:
    """``responding``: the Responding Application Name (default: ``called``;
    an acceptor's is empty: DCMTK fills it from the A-ASSOCIATE-AC it reads)."""
    lines = [
        f"====================== BEGIN A-ASSOCIATE-{kind} =====================",
        f"Our Implementation Class UID:      {IMPLEMENTATION_CLASS_UID}",
        f"Our Implementation Version Name:   {IMPLEMENTATION_VERSION_NAME}",
        f"Their Implementation Class UID:    {their_impl}",
        f"Their Implementation Version Name: {their_version}",
        f"Application Context Name:    {APPLICATION_CONTEXT}",
        f"Calling Application Name:    {calling}",
        f"Called Application Name:     {called}",
        f"Responding Application Name: {called if responding is None else responding}",
        f"Our Max PDU Receive Size:    {our_max}",
        f"Their Max PDU Receive Size:  {their_max}",
        "Presentation Contexts:",
    ]
    for proposed, negotiated in contexts:
        if negotiated is None:
            status = "Proposed"
        else:
            status = _PC_RESULT_TEXT.get(negotiated.result, "Proposed")
        lines.append(f"  Context ID:        {proposed.id} ({status})")
        lines.append(f"    Abstract Syntax: {_uid_name(proposed.abstract_syntax)}")
        lines.append(f"    Proposed SCP/SCU Role: {_role_text(proposed.scu_role, proposed.scp_role)}")
        if negotiated is None:
            lines.append("    Proposed Transfer Syntax(es):")
            lines.extend(f"      {_uid_name(ts)}" for ts in proposed.transfer_syntaxes)
        else:
            lines.append(f"    Accepted SCP/SCU Role: {_role_text(negotiated.scu_role, negotiated.scp_role)}")
            if negotiated.accepted:
                lines.append(f"    Accepted Transfer Syntax: {_uid_name(negotiated.transfer_syntax)}")
    lines += [
        "Requested Extended Negotiation: none",
        "Accepted Extended Negotiation:  none",
        "Requested User Identity Negotiation: none",
        "User Identity Negotiation Response:  none",
        f"======================= END A-ASSOCIATE-{kind} ======================",
    ]
    return "\n".join(lines)


def dump_associate_rq(params: "AssociationParams | Association") -> str:
    """A-ASSOCIATE-RQ block of ``ASC_dumpParameters``.

    With ``AssociationParams``: the ``Request Parameters:`` block a requestor
    prints before ``Requesting Association`` (nothing known of the peer yet).
    With an accepted ``Association``: the RQ as received (movescu's
    sub-association ``Parameters:`` block), with the peer's max PDU and
    implementation identifiers."""
    if isinstance(params, AssociationParams):
        return _dump_parameters("RQ", params.calling_ae, params.called_ae, params.max_pdu, 0, "", "",
                                ((ctx, None) for ctx in params.contexts))
    return _dump_parameters("RQ", params.calling_ae, params.called_ae, params.max_pdu, params.peer_max_pdu,
                            params.peer_impl_class_uid, params.peer_impl_version,
                            ((ctx, None) for ctx in params.proposed), responding="")


def dump_associate_ac(assoc: "Association") -> str:
    """``Association Parameters Negotiated:`` block."""
    pairs = []
    for ctx in assoc.proposed:
        pairs.append((ctx, assoc.contexts.get(ctx.id) or NegotiatedContext(ctx.id, ctx.abstract_syntax, 2)))
    return _dump_parameters("AC", assoc.calling_ae, assoc.called_ae, assoc.max_pdu, assoc.peer_max_pdu,
                            assoc.peer_impl_class_uid, assoc.peer_impl_version, pairs,
                            responding="" if assoc.acceptor else None)



_PDU_NAMES = {
    0x01: "Associate Request", 0x02: "Associate Accept", 0x03: "Associate Reject",
    0x04: "Data", 0x05: "Release Request", 0x06: "Release Reply", 0x07: "Abort",
}


def pdu_dump(pdu_type: int, body: memoryview | bytes) -> str:
    """DCMTK's DEBUG dump of a received association PDU (at most 512 bytes)."""
    header = struct.pack(">BBI", pdu_type, 0, len(body))
    raw = header + bytes(body[:506])
    lines = [f"PDU Type: {_PDU_NAMES.get(pdu_type, 'Unknown')}, PDU Length: {len(body)} + 6 bytes PDU header"]
    if len(body) + 6 > 512:
        lines.append("Only dumping 512 bytes.")
    raw = raw[:512]
    for offset in range(0, len(raw), 16):
        lines.append("".join(f"  {b:02x}" for b in raw[offset:offset + 16]))
    # DCMTK ends every full row of 16 with a newline: an empty last line after a full row
    return "\n".join(lines) + ("\n" if len(raw) % 16 == 0 else "")

