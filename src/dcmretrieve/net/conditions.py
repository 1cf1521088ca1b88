"""DCMTK's conditions (OFCondition) of the network layer and the two failures
the association layer raises.

``Condition(module, code, text)``: ``str()`` / ``dump()`` ->
``"0006:031c TCP Initialization Error: Connection refused"``.

``AssociationError`` is raised by ``Association.request``/``accept``:
``kind`` (``AssociationFailure``); ``condition``; for a rejection also
``result``, ``source``, ``reason`` (ints) and ``reject_lines()`` giving
DCMTK's texts ``("Rejected Permanent", "Service User", "Called AE Title Not
Recognized")``.  getscu prints ``F: Could not negotiate association:
<condition.text>``; movescu prints its three F: lines or ``Association
Request Failed:`` + ``condition.dump()``.

``DimseError(condition)`` is raised by every send/receive after
association: peer abort (0006:0317), peer release request (0006:0319),
timeout (0006:0207), P-DATA where a release answer was expected
(0006:0316) ...  It is an ``errors.ReceiveError``, the failure the storage
pipeline knows without knowing the network layer.

Imports nothing heavy.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass

from ..errors import ReceiveError


@dataclass(frozen=True)
class Condition:
    """A DCMTK OFCondition: module, code, text (``dump()`` is ``mmmm:cccc text``)."""

    module: int
    code: int
    text: str
    sub: "Condition | None" = None  # DCMTK's compound conditions dump one line each

    def dump(self) -> str:
        own = f"{self.module:04x}:{self.code:04x} {self.text}"
        return own if self.sub is None else own + "\n" + self.sub.dump()

    def __str__(self) -> str:
        return self.dump()


def dul(code: int, text: str) -> Condition:
    """A condition of DCMTK's dcmnet module (0006)."""
    return Condition(0x0006, code, text)


COND_NO_DATA = dul(0x0207, "DIMSE No data available (timeout in non-blocking mode)")
COND_NO_VALID_PC = dul(0x0208, "DIMSE No valid Presentation Context ID")
COND_BAD_DATA = dul(0x0202, "DIMSE Inappropriate data for message")
COND_BAD_MESSAGE = dul(0x0203, "DIMSE Badly formed message")
COND_RECEIVE_FAILED = dul(0x020D, "DIMSE Failed to receive message")
COND_SEND_FAILED = dul(0x020E, "DIMSE Failed to send message")
COND_UNEXPECTED_PDV = dul(0x020F, "DIMSE Unexpected PDV type")
COND_REJECTED = dul(0x0301, "DUL Association Rejected")
COND_ILLEGAL_PDU = dul(0x0307, "DUL Illegal or ill-formed PDU")
COND_NETWORK_CLOSED = dul(0x0310, "DUL network closed")
COND_PDATA_ARRIVED = dul(0x0316, "DUL P-Data PDU arrived")
COND_PEER_ABORTED = dul(0x0317, "Peer aborted Association (or never connected)")
COND_PEER_RELEASE = dul(0x0319, "DUL Peer Requested Release")
COND_READ_TIMEOUT = dul(0x031A, "DUL network read timeout")
COND_UNEXPECTED_PDU = dul(0x031F, "Received unexpected PDU")
#: what DCMTK reports when sending on an association the peer has already aborted
COND_SEND_ON_CLOSED = Condition(0x0006, 0x020E, "DIMSE Failed to send message",
                                dul(0x0303, "DUL Finite State Machine Error: No action defined, state 1 event 8"))
COND_NO_ACCEPTABLE_PC = Condition(0x0006, 0x0322, "No acceptable Presentation Contexts")


def illegal_service_parameter(what: str) -> Condition:
    return dul(0x030C, f"Illegal service parameter: {what}")


def tcp_init_error(err: OSError) -> Condition:
    text = os.strerror(err.errno) if err.errno else str(err)
    return dul(0x031C, f"TCP Initialization Error: {text}")


_REJECT_RESULTS = {1: "Rejected Permanent", 2: "Rejected Transient"}
_REJECT_SOURCES = {
    1: "Service User",
    2: "Service Provider (ACSE Related)",
    3: "Service Provider (Presentation Related)",
}
_REJECT_REASONS = {
    (1, 1): "No Reason",
    (1, 2): "App Context Name Not Supported",
    (1, 3): "Calling AE Title Not Recognized",
    (1, 7): "Called AE Title Not Recognized",
    (2, 1): "No Reason",
    (2, 2): "Protocol Version Not Supported",
    (3, 1): "Temporary Congestion",
    (3, 2): "Local Limit Exceeded",
}


class AssociationFailure(enum.Enum):
    """Why an association could not be established (``AssociationError.kind``)."""

    ILLEGAL_PARAMETER = "illegal-parameter"  # an empty AE title (after the TCP connect)
    TCP = "tcp"  # address, host name or connect
    TIMEOUT = "timeout"  # ACSE timeout waiting for the answer
    REJECTED = "rejected"  # A-ASSOCIATE-RJ
    ABORTED = "aborted"  # A-ABORT instead of the answer
    CLOSED = "closed"  # connection lost
    NO_CONTEXTS = "no-contexts"  # accepted, but no presentation context
    PROTOCOL = "protocol"  # an unexpected or undecodable PDU
    TLS = "tls"  # the TLS handshake failed (DCMTK 3.7.0; condition 000b:xxxx)


class AssociationError(Exception):
    """The association could not be established; structured for each tool's messages."""

    def __init__(self, kind: AssociationFailure, condition: Condition, result: int = 0, source: int = 0,
                 reason: int = 0) -> None:
        super().__init__(condition.dump())
        self.kind = kind
        self.condition = condition
        self.result = result
        self.source = source
        self.reason = reason

    def reject_lines(self) -> tuple[str, str, str]:
        """(result, source, reason) texts as DCMTK prints them (``UNKNOWN`` otherwise)."""
        return (
            _REJECT_RESULTS.get(self.result, "UNKNOWN"),
            _REJECT_SOURCES.get(self.source, "UNKNOWN"),
            _REJECT_REASONS.get((self.source, self.reason), "UNKNOWN"),
        )


class DimseError(ReceiveError):
    """A failure after the association was established (DCMTK condition inside)."""

    def __init__(self, condition: Condition) -> None:
        super().__init__(condition.dump())
        self.condition = condition


