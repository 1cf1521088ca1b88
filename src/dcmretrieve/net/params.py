"""What an association is made of: proposed and negotiated presentation
contexts, a requestor's parameters, AE titles, the acceptor's negotiation
policy.  Plain data; imports nothing heavy.

``ProposedContext(id, abstract_syntax, transfer_syntaxes, scu_role, scp_role)``
    ``scu_role/scp_role`` None = no role selection item ("Default").
``NegotiatedContext(id, abstract_syntax, result, transfer_syntax, scu_role, scp_role, proposed)``
    ``result`` 0 = acceptance, 1 user-rejection, 2 no-reason,
    3 abstract syntax not supported, 4 transfer syntaxes not supported.
``AssociationParams(calling_ae, called_ae, peer_host, peer_port, max_pdu,
    contexts, connect_timeout, acse_timeout, dimse_timeout, tcp_nodelay, tls)``
    Timeouts in seconds, ``None`` = unlimited (DCMTK's defaults: -to none,
    -ta 30, -td none).  ``tcp_nodelay`` defaults to ``tcp_nodelay_default()``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"


def tcp_nodelay_default() -> bool:
    """TCP_NODELAY is on unless the environment says ``TCP_NODELAY=0``.

    DCMTK only sets it when the variable is set to a non-zero value; we turn
    it on by default (deviation #6: Nagle costs ~40 ms per small object) but
    still honour an explicit ``0``.
    """
    value = os.environ.get("TCP_NODELAY")
    if value is None:
        return True
    try:
        return int(value.strip() or "0") != 0
    except ValueError:
        return True



def truncate_ae(title: str) -> str:
    """DCMTK silently keeps the first 16 characters of an AE title."""
    return title[:16]


@dataclass
class ProposedContext:
    """One presentation context of an A-ASSOCIATE-RQ."""

    id: int
    abstract_syntax: str
    transfer_syntaxes: list[str]
    scu_role: bool | None = None  # None: no role selection item
    scp_role: bool | None = None


@dataclass
class NegotiatedContext:
    """A context after negotiation (result 0 = accepted)."""

    id: int
    abstract_syntax: str
    result: int
    transfer_syntax: str = ""
    scu_role: bool | None = None
    scp_role: bool | None = None
    proposed: ProposedContext | None = None

    @property
    def accepted(self) -> bool:
        return self.result == 0


@dataclass
class AssociationParams:
    """What a requestor needs; timeouts in seconds, None = unlimited."""

    calling_ae: str
    called_ae: str
    peer_host: str
    peer_port: int
    max_pdu: int = 16384
    contexts: list[ProposedContext] = field(default_factory=list)
    connect_timeout: float | None = None
    acse_timeout: float | None = 30
    dimse_timeout: float | None = None
    tcp_nodelay: bool = field(default_factory=tcp_nodelay_default)
    #: TLS (``tls.TLSLayer``): ``wrap_client(sock)`` does the handshake on
    #: the connected socket, raising AssociationError; None = plain TCP
    tls: object | None = None
    # DCMTK 3.7.0's ASC_setProtocolFamily (-i4/-i6/-i0): "inet" | "inet6" |
    # "unspec"; None = DCMTK 3.6.7's requestAssociationTCP (IPv4 only)
    protocol_family: str | None = None


def preference_negotiator(abstract_syntaxes: Iterable[str], ts_preference: list[str]
                          ) -> Callable[[ProposedContext], tuple[int, str]]:
    """Acceptor policy: first TS of *our* preference list that the peer proposed."""
    accepted = set(abstract_syntaxes)

    def negotiate(ctx: ProposedContext) -> tuple[int, str]:
        if ctx.abstract_syntax not in accepted:
            return 3, ""
        for ts in ts_preference:
            if ts in ctx.transfer_syntaxes:
                return 0, ts
        return 4, ""

    return negotiate

