"""The blocking association: sockets, timeouts, DCMTK's DUL states and
trace lines around the PDU codec (``pdu``) and the command sets (``dimse``).

WHY a synchronous layer of our own instead of pynetdicom's ``AE``:
DCMTK's tools are single-threaded and decide a lot of observable behaviour
by *when* they read what from the socket (e.g. getscu never reads a data set
attached to a C-GET-RSP, so a later A-RELEASE fails with "DUL P-Data PDU
arrived"; a C-STORE whose data set was not taken ends the session).  A
blocking, one-PDU-at-a-time DUL reproduces that naturally, lets data set
fragments be streamed straight into a file (memory stays flat for any object
size), and avoids pynetdicom's reactor thread, per-loop sleeps and
per-message logging, which cost far more than the 5x-of-DCMTK speed budget.

Association (a requestor or an acceptor; single-threaded, blocking):
  ``Association.request(params) -> Association``   connect, A-ASSOCIATE-RQ,
      wait (ACSE timeout) for AC/RJ.  Raises AssociationError.  An AC that
      accepts no context raises kind ``NO_CONTEXTS`` (the socket is aborted).
  ``Association.accept(sock, ae_title, max_pdu, acse_timeout, dimse_timeout,
      negotiate)`` read an A-ASSOCIATE-RQ from an accepted socket and answer
      it; ``negotiate(ProposedContext) -> (result, ts)``; see
      ``params.preference_negotiator(abstract_syntaxes, ts_preference)``.
  ``.contexts``: {id: NegotiatedContext}; ``.accepted_context(abstract_syntax)``
  ``.peer_max_pdu``, ``.max_send_pdv`` (peer max PDU - 12, as DCMTK logs it)
  ``.next_message_id()``   1, 2, 3 ... per association
  ``.send_command(pc_id, cmd, dataset=None)``  dataset: bytes / memoryview
      already encoded in the context's transfer syntax
  ``.receive_command(timeout=...) -> (pc_id, Command)``  the data set, if
      any, is NOT read: call ``receive_dataset`` (or don't, like DCMTK).  A
      C-STORE-RQ announcing no data set fails like in DCMTK (``DIMSE Warning:
      (<calling>,<called>): C-Store RQ: DataSetType == NULL`` on ``chatter``,
      then DimseError 0006:0203).
  ``.receive_dataset(pc_id, sink, timeout=...) -> int``  calls
      ``sink(memoryview)`` for every fragment (PDV) as it arrives; ``sink``
      None discards.  Returns the byte count.  An odd fragment length fails
      (0006:020d "DIMSE: Odd Fragment Length: n") unless ``sink`` is None,
      as in DCMTK.  The views are read-only views
      of immutable bytes (over TLS: of arena bytes never written again): a
      sink may keep them without copying.
  ``.release()`` A-RELEASE-RQ, wait for RP (ACSE timeout); raises DimseError
      e.g. 0006:0316 when a P-DATA PDU arrives instead.
  ``.acknowledge_release()`` answer a peer's A-RELEASE-RQ (acceptor side).
  ``.abort()`` send A-ABORT and close (never raises).
  ``.close()`` drop the connection without A-RELEASE/A-ABORT (never raises).
  ``.fileno()`` for select() (movescu waits on this and its listen socket);
      ``.has_buffered_data()`` tells whether bytes are already buffered.
  ``.next_pdv_is_command(timeout) -> bool``  look at the next PDV: a command
      fragment stays unread (for ``receive_command``), a data fragment is
      consumed as DCMTK's receiveCommand does (movescu -pi uses it).
Without a DIMSE timeout a read still gives up after DCMTK's 60 s socket
receive timeout (``SOCKET_RECEIVE_TIMEOUT``) and reports a peer abort.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import select
import socket
import struct
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

from .. import oflog
from .conditions import (
    COND_BAD_MESSAGE, COND_ILLEGAL_PDU, COND_NO_ACCEPTABLE_PC, COND_NO_DATA, COND_NO_VALID_PC,
    COND_PDATA_ARRIVED, COND_PEER_ABORTED, COND_PEER_RELEASE, COND_READ_TIMEOUT, COND_REJECTED,
    COND_SEND_FAILED, COND_SEND_ON_CLOSED, COND_UNEXPECTED_PDU, COND_UNEXPECTED_PDV,
    AssociationError, AssociationFailure, Condition, DimseError, dul, illegal_service_parameter,
    tcp_init_error,
)
from .dimse import C_STORE_RQ, DATASET_PRESENT, NO_DATASET, Command
from .dumps import pdu_dump
from .params import AssociationParams, NegotiatedContext, ProposedContext, tcp_nodelay_default
from .pdu import (
    A_ABORT, A_RELEASE_RP, A_RELEASE_RQ, AssocInfo, decode_p_data, decode_reject, encode_associate_ac,
    encode_associate_rq, p_data_header, parse_associate,
)

# ---------------------------------------------------------------------------
# DCMTK's arithmetic on timeouts, PDU sizes and peer addresses

#: DUL's DEFAULT_TIMEOUT: an ACSE timeout that is not positive (after the
#: cast to a C int) becomes 100 s (dul.cc createNetworkKey)
DEFAULT_ACSE_TIMEOUT = 100


def c_int(value: int) -> int:
    """``OFstatic_cast(int, value)`` of a C long: the low 32 bits, signed."""
    value = int(value) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def poll_wait(seconds: float) -> float:
    """How long DCMTK waits for ``seconds``: it calls ``poll(fd, 1, seconds*1000)``
    and the product reaches poll() as a C int, so it wraps; a negative value
    waits forever (``math.inf``).  E.g. -to 4294968 waits 0.704 s."""
    ms = c_int(int(seconds * 1000))
    return math.inf if ms < 0 else ms / 1000


def _c_seconds(value: float) -> float:
    """An option value as the C int DCMTK keeps (fractions, used by tests, stay)."""
    return c_int(value) if isinstance(value, int) else value


def acse_seconds(value: float | None) -> float | None:
    """-ta as DUL keeps it: cast to a C int, not positive -> 100 s (None: unlimited)."""
    if value is None:
        return None
    seconds = _c_seconds(value)
    return seconds if seconds > 0 else DEFAULT_ACSE_TIMEOUT


def dimse_wait(value: float | None) -> float | None:
    """How long a DIMSE read waits for -td ``value``: None without -td (a
    blocking read, which DCMTK's 60 s socket receive timeout still ends),
    else ``poll_wait`` of it (0: only what is already there, inf: forever)."""
    return None if value is None else poll_wait(_c_seconds(value))


def select_wait(value: float | None) -> float | None:
    """``dimse_wait`` for ``select.select`` (None = forever)."""
    wait = dimse_wait(value)
    return None if wait is None or math.isinf(wait) else wait


def receive_pdu_size(max_pdu: int, chatter: logging.Logger | None) -> int:
    """ASC_createAssociationParameters: an odd -pdu is warned about and made even."""
    if max_pdu % 2:
        if chatter is not None:
            chatter.warning("ASSOC: PDV receive length %d is odd (using %d)", max_pdu, max_pdu - 1)
        max_pdu -= 1
    return max_pdu


#: DUL_ASSOCIATESERVICEPARAMETERS.calledPresentationAddress is char[64]
_PRESENTATION_ADDRESS_SIZE = 64


def presentation_address(host: str, port: int) -> bytes:
    """``sprintf("%s:%d")`` copied with strlcpy into DCMTK's 64-byte field."""
    address = os.fsencode(host) + b":" + str(port).encode("ascii")
    return address[:_PRESENTATION_ADDRESS_SIZE - 1]


def _scan_int(text: bytes) -> int | None:
    """glibc ``sscanf("%d")``: blanks, sign, digits; strtol saturation, then
    the store into an int keeps the low 32 bits."""
    match = re.match(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    if match is None:
        return None
    value = max(min(int(match.group(1)), (1 << 63) - 1), -(1 << 63))
    return c_int(value)


def parse_presentation_address(address: bytes, last_colon: bool = False) -> tuple[bytes, int] | None:
    """requestAssociationTCP's split of ``address`` into (node, port as
    unsigned short), or None ("Illegal service parameter: <address>").

    DCMTK 3.6.7 scans ``sscanf(address, "%[^:]:%d", node, &port)`` (so "::1"
    gives no node); DCMTK 3.7.0 (``last_colon``) splits at the last colon
    and takes the port with ``atoi`` (so "::1:104" is node "::1")."""
    if last_colon:
        colon = address.rfind(b":")
        if colon < 0:
            return None
        port = _scan_int(address[colon + 1:]) or 0  # atoi: 0 when no digits
        return address[:colon][:_NODE_SIZE - 1], port & 0xFFFF
    match = re.match(rb"([^:]+):", address)
    if match is None:
        return None
    port = _scan_int(address[match.end():])
    if port is None:
        return None
    return match.group(1), port & 0xFFFF


#: requestAssociationTCP's ``char node[128]`` (DCMTK 3.7.0 copies with strlcpy)
_NODE_SIZE = 128

#: DCMTK 3.7.0's T_ASC_ProtocolFamily -> getaddrinfo's ai_family
#: (ASC_AF_Default, i.e. no option, is IPv4 as -i4)
_FAMILIES = {None: socket.AF_INET, "inet": socket.AF_INET, "inet6": socket.AF_INET6, "unspec": socket.AF_UNSPEC}


def _resolve(node: bytes, family: str | None = None) -> tuple[socket.AddressFamily, tuple] | None:
    """Where DCMTK connects for ``node`` (port 0): (address family, sockaddr).

    inet_addr() first, for every family (so "127.1" or "0x7f.1" work and
    255.255.255.255 counts as failed; an IPv4 address is used even with
    -i6), then the first result of getaddrinfo restricted to the family of
    -i4/-i6/-i0 (``family``; None and "inet" = AF_INET, "unspec" = what
    the resolver lists first), repeated on EAI_AGAIN up to 5 times."""
    try:
        packed = socket.inet_aton(node.decode("ascii"))
    except (OSError, UnicodeError, ValueError):
        packed = b"\xff\xff\xff\xff"
    if packed != b"\xff\xff\xff\xff":
        return socket.AF_INET, (socket.inet_ntoa(packed), 0)
    for _attempt in range(5):
        try:
            infos = socket.getaddrinfo(node, None, _FAMILIES[family])
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:
                continue
            return None
        except (OSError, UnicodeError, ValueError):
            return None
        return (infos[0][0], infos[0][4]) if infos else None
    return None


_FSM_EVENTS = {
    0: "A-ASSOCIATE request (local user)",
    1: "Transport conn confirmation (local)",
    16: "Transport connection closed",
    17: "ARTIM timer expired (rej/rel)",
}
_FSM_ACTIONS = {
    (1, 0): "AE 1 Transport Connect",
    (4, 1): "AE 2 Send Associate RQ PDU",
    (4, 16): "AA 4 Indicate AP Abort",
    (5, 16): "AA 4 Indicate AP Abort",
    (5, 17): "AA 2 Close Transport (Read Timeout)",
}


def _fsm_trace(chatter: logging.Logger, state: int, event: int) -> None:
    """PRV_StateMachine's TRACE lines for one transition."""
    chatter.log(oflog.TRACE, "DUL  FSM Table: State: %d Event: %d\nDUL  Event:  %s\nDUL  Action: %s",
                state, event, _FSM_EVENTS[event], _FSM_ACTIONS[(state, event)])


def _transport_connect(params: AssociationParams, chatter: logging.Logger | None) -> socket.socket:
    """requestAssociationTCP up to the connected socket; raises AssociationError.

    The peer is "host:port" in a 64-byte field scanned back with
    ``%[^:]:%d`` (so an empty host, "::1" or a cut-off address are "Illegal
    service parameter: <address>", and "a:5" is host "a" port 5); the host is
    resolved IPv4 only.  With DCMTK 3.7.0's -i4/-i6/-i0
    (``params.protocol_family``) the field is split at its last colon and
    the host resolved in that family (see ``_resolve``).
    ``connect_timeout`` is -to as DCMTK holds it: None or negative (as a C
    int) = a blocking connect, else a non-blocking one that poll()s that
    long (see ``poll_wait``)."""
    address = presentation_address(params.peer_host, params.peer_port)
    family = params.protocol_family
    parsed = parse_presentation_address(address, last_colon=family is not None)
    if parsed is None:
        # (kind "tcp": unlike the AE title checks, DCMTK logs no E: line for it)
        raise AssociationError(AssociationFailure.TCP, illegal_service_parameter(os.fsdecode(address)))
    node, port = parsed
    resolved = _resolve(node, family)
    if resolved is None:
        raise AssociationError(
            AssociationFailure.TCP, dul(0x0320, f"Attempt to connect to unknown host: {os.fsdecode(node)}"))
    af, sockaddr = resolved
    target = (sockaddr[0], port, *sockaddr[2:])
    connect_timeout = None if params.connect_timeout is None else c_int(params.connect_timeout)
    try:
        sock = socket.socket(af, socket.SOCK_STREAM)
    except OSError as exc:  # e.g. no IPv6 in this kernel
        raise AssociationError(AssociationFailure.TCP, tcp_init_error(exc)) from None
    try:
        if connect_timeout is None or connect_timeout < 0:
            err = sock.connect_ex(target)
        else:
            sock.setblocking(False)
            err = sock.connect_ex(target)
            if err == errno.EINPROGRESS:
                wait = poll_wait(connect_timeout)
                poller = select.poll()
                poller.register(sock, select.POLLOUT)
                ready = poller.poll(None if math.isinf(wait) else int(wait * 1000))
                if chatter is not None and chatter.isEnabledFor(logging.DEBUG):
                    chatter.log(oflog.TRACE, "Receiving data via select()" if ready
                                else "Timeout while waiting for incoming network data")
                if not ready:
                    raise AssociationError(AssociationFailure.TCP, dul(
                        0x031C, f"TCP Initialization Error: {os.strerror(errno.EINPROGRESS)} (Timeout)"))
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sock.setblocking(True)
        if err:
            raise AssociationError(AssociationFailure.TCP, tcp_init_error(OSError(err, os.strerror(err))))
    except BaseException:
        sock.close()
        raise
    return sock


def _socket_options(sock: socket.socket, tcp_nodelay: bool, chatter: logging.Logger | None) -> None:
    """requestAssociationTCP after connect(): TCP_BUFFER_LENGTH and TCP_NODELAY
    from the environment, with DCMTK's messages; TCP_NODELAY is on by
    default here (deviation #6, ``tcp_nodelay_default``)."""
    trace = chatter is not None and chatter.isEnabledFor(oflog.TRACE)
    if trace:
        chatter.log(oflog.TRACE, "checking whether environment variable TCP_BUFFER_LENGTH is set")  # type: ignore[union-attr]
    length = os.environ.get("TCP_BUFFER_LENGTH")
    if length is not None:
        value = _scan_int(os.fsencode(length))
        if value is None:
            if chatter is not None:
                chatter.warning("DULFSM: cannot parse environment variable TCP_BUFFER_LENGTH=%s", length)
        else:
            value = value or 65536
            if chatter is not None:
                chatter.debug("DULFSM: setting TCP buffer length to %d bytes", value)
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, value)
                except OSError:
                    pass
    elif trace:
        chatter.log(oflog.TRACE, "  environment variable TCP_BUFFER_LENGTH not set, using the system defaults")  # type: ignore[union-attr]
    if trace:
        chatter.log(oflog.TRACE, "checking whether environment variable TCP_NODELAY is set")  # type: ignore[union-attr]
    if os.environ.get("TCP_NODELAY") is None:
        if trace:
            chatter.log(oflog.TRACE, "  environment variable TCP_NODELAY not set, using the default value (0)")  # type: ignore[union-attr]
    else:
        nodelay_messages(chatter, "DULFSM")
    if tcp_nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def nodelay_messages(chatter: logging.Logger | None, prefix: str) -> None:
    """DCMTK's messages about the TCP_NODELAY variable when it is set: the
    requestor's (``DULFSM``) after connecting, movescu's listener (``DUL``)
    for each accepted connection, before "Association Received"."""
    nodelay = os.environ.get("TCP_NODELAY")
    if nodelay is None or chatter is None:
        return
    value = _scan_int(os.fsencode(nodelay))
    if value is None:
        chatter.warning("%s: cannot parse environment variable TCP_NODELAY=%s", prefix, nodelay)
    elif value:
        chatter.debug("%s: disabling Nagle algorithm as requested at runtime (TCP_NODELAY=%s)", prefix, nodelay)


def _is_tls(sock: object) -> bool:
    """An ``ssl.SSLSocket`` (``ssl`` is imported only when TLS is used)."""
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


class _Timeout(Exception):
    pass


class _Closed(Exception):
    pass


#: most bytes asked of one recv(): several PDUs of the biggest size a DCMTK
#: peer sends (its -pdu is at most 131072)
_RECV_CHUNK = 1 << 18
_PDU_HEADER = struct.Struct(">BBI")
#: a P-DATA-TF PDU header and its first PDV item header: type, reserved, PDU
#: length, PDV length, presentation context ID, message control header
_ONE_PDV_HEADER = struct.Struct(">BBIIBB").unpack_from

#: a data set at least this big makes ``_keep_freed_memory`` run (once)
_BIG_DATASET = 128 << 10
_allocator_tuned = False


def _keep_freed_memory() -> None:
    """Tell glibc's malloc to keep freed memory for reuse (once per process).

    WHY: every received object passes through fresh buffers (the bytes of
    each ``recv()``, up to 256 KiB, and the joined data set of a normal-mode
    object, up to 4 MiB).  With glibc's default, adaptive thresholds the
    freed memory at the top of the heap is handed back to the kernel after
    each object and faulted in again for the next one: a C-GET of 200 CT
    images of 0.5 MB took about 24,000 page faults against DCMTK's 1,400
    (about 0.1 ms of system time per object; figures in
    docs/performance.md).  Fixed thresholds (allocations below 8 MiB from the
    heap, up to 16 MiB of free heap kept) end that; what is kept stays far
    below the memory goal (64 MB for any object: bigger data sets are spooled
    to disk).  Only called once a data set of 128 KiB or more has arrived,
    so a retrieval of small objects does not even import ctypes; where the
    C library is not glibc nothing happens."""
    global _allocator_tuned
    _allocator_tuned = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
        mallopt(-3, 8 << 20)  # M_MMAP_THRESHOLD
        mallopt(-1, 16 << 20)  # M_TRIM_THRESHOLD
    except (ImportError, OSError, AttributeError):
        pass


#: TLS: the biggest PDU buffer allocated before its bytes arrive (see _read_pdu_tls)
_TLS_PIECE = 1 << 20
#: TLS: the block records are decrypted into (as big as a plain recv() chunk)
_TLS_ARENA = _RECV_CHUNK
#: TLS: used-up arenas kept for reuse once no view of them is left
_TLS_SPARES = 8

#: DCMTK's dcmSocketReceiveTimeout ("setting network receive timeout to 60
#: seconds"): without -td a DIMSE read gives up after 60 s of silence and the
#: tool reports "0006:0317 Peer aborted Association (or never connected)"
#: (observed with getscu 3.6.7 against a peer that stalls 70 s).
SOCKET_RECEIVE_TIMEOUT: float = 60.0


class Association:
    """A blocking DICOM association (see the module docstring for the API)."""

    def __init__(self, sock: socket.socket, calling_ae: str, called_ae: str, max_pdu: int,
                 dimse_timeout: float | None, acse_timeout: float | None) -> None:
        self.sock = sock
        self.calling_ae = calling_ae
        self.called_ae = called_ae
        self.max_pdu = max_pdu
        self.dimse_timeout = dimse_timeout  # DCMTK seconds (-td), None = blocking
        self.acse_timeout = acse_seconds(acse_timeout)  # DCMTK seconds (-ta), None = unlimited
        self.proposed: list[ProposedContext] = []
        self.contexts: dict[int, NegotiatedContext] = {}
        self.peer_max_pdu = 0
        self.peer_impl_class_uid = ""
        self.peer_impl_version = ""
        self.acceptor = False  # made by ``accept`` (movescu's sub-associations)
        self._message_id = 0
        # the bytes of the last recv(); _chunk[_chunk_pos:] are not consumed yet (see _read_pdu)
        self._chunk = b""
        self._chunk_pos = 0
        self._pdvs: list[tuple[int, int, memoryview]] = []  # pending PDVs of the current P-DATA
        self._pdv_index = 0
        self._raw_pdu = memoryview(b"")  # the last PDU read, header included
        self._current_timeout: object = "unset"
        self._kernel_timeout = 0.0  # SO_RCVTIMEO / SO_SNDTIMEO now set (0: none)
        self.closed = False
        self._tls = _is_tls(sock)  # an ssl.SSLSocket (DCMTK 3.7.0's TLS)
        # TLS: the arena records are decrypted into; [_tls_pos:_tls_end] not handed out yet
        self._tls_buf = bytearray()
        self._tls_view = memoryview(self._tls_buf)
        self._tls_pos = self._tls_end = 0
        self._tls_spares: list[bytearray] = []
        #: ``dcmtk.dcmnet`` logger for DIMSE-level warnings (set by request/accept)
        self.chatter: logging.Logger | None = None

    # ---- construction -------------------------------------------------------
    @classmethod
    def request(cls, params: AssociationParams, chatter: logging.Logger | None = None) -> "Association":
        """Connect and negotiate as requestor; raises AssociationError.

        ``chatter``: the ``dcmtk.dcmnet`` logger for DCMTK's DEBUG network
        lines (timeouts, "Constructing Associate RQ PDU", PDU hex dump).
        """
        debug = chatter is not None and chatter.isEnabledFor(logging.DEBUG)
        trace = chatter is not None and chatter.isEnabledFor(oflog.TRACE)
        # DUL_RequestAssociation: A-ASSOCIATE request -> AE 1 (transport
        # connect); a failure is followed by "transport connection closed"
        if trace:
            _fsm_trace(chatter, 1, 0)  # type: ignore[arg-type]
        try:
            sock = _transport_connect(params, chatter)
        except AssociationError:
            if trace:
                _fsm_trace(chatter, 4, 16)  # type: ignore[arg-type]
            raise
        if debug:
            # DcmTransportConnection's constructor (dcmSocketSend/ReceiveTimeout)
            chatter.debug("setting network send timeout to 60 seconds")  # type: ignore[union-attr]
            chatter.debug("setting network receive timeout to 60 seconds")  # type: ignore[union-attr]
        _socket_options(sock, params.tcp_nodelay, chatter)
        if params.tls is not None:  # DCMTK 3.7.0: clientSideHandshake (raises AssociationError)
            sock = params.tls.wrap_client(sock)  # type: ignore[attr-defined]
        if trace:
            _fsm_trace(chatter, 4, 1)  # type: ignore[arg-type]
        # AE 2: constructAssociatePDU checks the AE titles only now, after the
        # TCP connection was made (DCMTK then just drops the connection)
        for title, what in ((params.called_ae, "Called AP Title"), (params.calling_ae, "Calling AP Title")):
            if not title:
                sock.close()
                raise AssociationError(AssociationFailure.ILLEGAL_PARAMETER, illegal_service_parameter(what))
        assoc = cls(sock, params.calling_ae, params.called_ae, params.max_pdu,
                    params.dimse_timeout, params.acse_timeout)
        assoc.chatter = chatter
        assoc.proposed = list(params.contexts)
        acse = assoc.acse_timeout
        with assoc._acse_read_errors(trace):
            if debug:
                chatter.debug("Constructing Associate RQ PDU")  # type: ignore[union-attr]
            assoc._sendall(encode_associate_rq(params))
            if trace and acse is not None:
                chatter.log(oflog.TRACE, "setting timeout for first PDU to be read to %d seconds",  # type: ignore[union-attr]
                            acse)
            pdu_type, body = assoc._read_pdu(assoc._acse_wait())
            if debug and pdu_type == 0x02:
                chatter.debug("%s", pdu_dump(pdu_type, body))  # type: ignore[union-attr]
        if pdu_type == 0x03:  # A-ASSOCIATE-RJ
            assoc._close()
            result, source, reason = decode_reject(body)
            raise AssociationError(AssociationFailure.REJECTED, COND_REJECTED, result, source, reason)
        if pdu_type == 0x07:
            assoc._close()
            raise AssociationError(AssociationFailure.ABORTED, COND_PEER_ABORTED)
        if pdu_type != 0x02:
            assoc.abort()
            raise AssociationError(AssociationFailure.PROTOCOL, COND_UNEXPECTED_PDU)
        if debug:
            chatter.debug("Parsing an A-ASSOCIATE PDU")  # type: ignore[union-attr]
        info = assoc._parse_associate_or_abort(pdu_type, body)
        assoc.peer_max_pdu = info.max_pdu
        assoc.peer_impl_class_uid = info.impl_class_uid
        assoc.peer_impl_version = info.impl_version
        by_id = {ctx.id: ctx for ctx in params.contexts}
        for ctx_id, result, syntaxes in info.contexts:
            proposed = by_id.get(ctx_id)
            if proposed is None:
                continue
            role = info.roles.get(proposed.abstract_syntax)
            if proposed.scu_role is None and proposed.scp_role is None:
                scu, scp = None, None
            elif role is None:
                scu, scp = None, None  # no role item answered: default roles
            else:
                scu, scp = role
            ts = syntaxes[0] if syntaxes else ""
            assoc.contexts[ctx_id] = NegotiatedContext(ctx_id, proposed.abstract_syntax, result, ts,
                                                       scu, scp, proposed)
        if not any(c.accepted for c in assoc.contexts.values()):
            assoc.abort()
            raise AssociationError(AssociationFailure.NO_CONTEXTS, COND_NO_ACCEPTABLE_PC)
        return assoc

    @contextmanager
    def _acse_read_errors(self, trace: bool = False) -> Iterator[None]:
        """Waiting for the peer's A-ASSOCIATE PDU (requestor and acceptor):
        an ACSE timeout or a lost connection closes the socket and becomes
        DCMTK's AssociationError (0006:0317 / read timeout).  ``trace``: the
        requestor's DUL state machine lines (state 5, awaiting the AC)."""
        try:
            yield
        except _Timeout:
            self._close()
            if trace:
                _fsm_trace(self.chatter, 5, 17)  # type: ignore[arg-type]
            raise AssociationError(AssociationFailure.TIMEOUT, COND_READ_TIMEOUT) from None
        except (_Closed, OSError):
            self._close()
            if trace:
                _fsm_trace(self.chatter, 5, 16)  # type: ignore[arg-type]
            raise AssociationError(AssociationFailure.CLOSED, COND_PEER_ABORTED) from None

    def _parse_associate_or_abort(self, pdu_type: int, body: bytes | memoryview) -> AssocInfo:
        """Decode an A-ASSOCIATE-RQ/AC; an undecodable one aborts the
        association and becomes DCMTK's "Illegal PDU" AssociationError."""
        try:
            return parse_associate(pdu_type, bytes(body))
        except DimseError:
            self.abort()
            raise AssociationError(AssociationFailure.PROTOCOL, COND_ILLEGAL_PDU) from None

    @classmethod
    def accept(cls, sock: socket.socket, ae_title: str, max_pdu: int, acse_timeout: float | None,
               dimse_timeout: float | None, negotiate: Callable[[ProposedContext], tuple[int, str]],
               tcp_nodelay: bool | None = None, chatter: logging.Logger | None = None,
               received: Callable[["Association"], None] | None = None) -> "Association":
        """Read an A-ASSOCIATE-RQ from an accepted socket and answer it (acceptor side).

        Every called/calling AE title is accepted (movescu does no AE check);
        role selection is answered as Default (no role items in the AC).
        ``chatter``: the ``dcmtk.dcmnet`` logger for DCMTK's DEBUG lines (the
        RQ's hex dump, "Parsing an A-ASSOCIATE PDU", "Constructing Associate
        AC PDU"); ``received(assoc)``: called once the RQ is parsed and
        negotiated, before the AC is made (movescu logs the RQ there).
        """
        if tcp_nodelay if tcp_nodelay is not None else tcp_nodelay_default():
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assoc = cls(sock, "", ae_title, max_pdu, dimse_timeout, acse_timeout)
        assoc.acceptor = True
        assoc.chatter = chatter
        debug = chatter is not None and chatter.isEnabledFor(logging.DEBUG)
        with assoc._acse_read_errors():
            pdu_type, body = assoc._read_pdu(assoc._acse_wait())
        if debug and pdu_type == 0x01:
            chatter.debug("%s", pdu_dump(pdu_type, body))  # type: ignore[union-attr]
        if pdu_type != 0x01:
            assoc.abort()
            raise AssociationError(AssociationFailure.PROTOCOL, COND_UNEXPECTED_PDU)
        if debug:
            chatter.debug("Parsing an A-ASSOCIATE PDU")  # type: ignore[union-attr]
        info = assoc._parse_associate_or_abort(pdu_type, body)
        assoc.calling_ae = info.calling_ae
        assoc.called_ae = info.called_ae
        assoc.peer_max_pdu = info.max_pdu
        assoc.peer_impl_class_uid = info.impl_class_uid
        assoc.peer_impl_version = info.impl_version
        answers: list[tuple[int, int, str]] = []
        for ctx_id, _result, syntaxes in info.contexts:
            if not syntaxes:
                continue
            proposed = ProposedContext(ctx_id, syntaxes[0], syntaxes[1:])
            assoc.proposed.append(proposed)
            result, ts = negotiate(proposed)
            assoc.contexts[ctx_id] = NegotiatedContext(ctx_id, proposed.abstract_syntax, result, ts,
                                                       None, None, proposed)
            answers.append((ctx_id, result, ts if result == 0 else (proposed.transfer_syntaxes or [""])[0]))
        if received is not None:
            received(assoc)
        if debug:
            chatter.debug("Constructing Associate AC PDU")  # type: ignore[union-attr]
        try:
            assoc._sendall(encode_associate_ac(info.called_ae, info.calling_ae, max_pdu, answers))
        except OSError:
            assoc._close()
            raise AssociationError(AssociationFailure.CLOSED, COND_PEER_ABORTED) from None
        return assoc

    # ---- helpers --------------------------------------------------------------
    @property
    def max_send_pdv(self) -> int:
        """Max send PDV as DCMTK logs it (peer's max PDU - 12)."""
        return self.peer_max_pdu - 12 if self.peer_max_pdu else 0

    def accepted_context(self, abstract_syntax: str) -> NegotiatedContext | None:
        for ctx in sorted(self.contexts.values(), key=lambda c: c.id):
            if ctx.accepted and ctx.abstract_syntax == abstract_syntax:
                return ctx
        return None

    def next_message_id(self) -> int:
        self._message_id = (self._message_id % 0xFFFF) + 1
        return self._message_id

    def fileno(self) -> int:
        return self.sock.fileno()

    def has_buffered_data(self) -> bool:
        """Bytes already read but not consumed -- ours, or decrypted ones a
        TLS socket holds (``select()`` cannot see those)."""
        if self._pdv_index < len(self._pdvs) or len(self._chunk) > self._chunk_pos:
            return True
        if not self._tls or self.closed:
            return False
        return self._tls_end > self._tls_pos or self.sock.pending() > 0  # type: ignore[attr-defined]

    # ---- low-level I/O --------------------------------------------------------
    def _sendall(self, data: bytes | bytearray | memoryview) -> None:
        self.sock.sendall(data)

    def _acse_wait(self) -> float | None:
        return None if self.acse_timeout is None else poll_wait(self.acse_timeout)

    def _set_timeout(self, timeout: float | None, kernel: bool = False) -> None:
        """``timeout``: seconds, None or inf = no limit; 0 is handled by ``_recv``.

        ``kernel``: a blocking socket whose reads and writes give up after
        ``timeout`` through SO_RCVTIMEO / SO_SNDTIMEO, as DCMTK's
        dcmSocketReceiveTimeout does.  WHY: Python's own socket timeout
        costs a poll() before every recv() and send() (two extra system
        calls per object); the kernel timeout costs none.  Used for the
        default DIMSE read (no -td), the hot path.  Other timeouts keep
        Python's (a -td of 0 polls, see ``_recv``)."""
        if timeout is not None and (math.isinf(timeout) or timeout <= 0):
            timeout = None
        mode: object = ("kernel", timeout) if kernel and timeout is not None else timeout
        if mode == self._current_timeout:
            return
        if timeout is None or kernel:
            self._set_kernel_timeout(timeout or 0.0)
            self.sock.settimeout(None)
        else:
            self.sock.settimeout(timeout)
        self._current_timeout = mode

    def _set_kernel_timeout(self, seconds: float) -> None:
        if seconds != self._kernel_timeout:
            whole = int(seconds)
            value = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
            for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                self.sock.setsockopt(socket.SOL_SOCKET, option, value)
            self._kernel_timeout = seconds

    def _poll_now(self, timeout: float | None) -> None:
        """A timeout of 0 (or less) reads only what has already arrived
        (DCMTK's poll(0)); decrypted TLS bytes, which select() cannot see,
        count too."""
        if timeout is not None and timeout <= 0:
            sock = self.sock
            try:
                if not (self._tls and sock.pending()) and not select.select([sock], [], [], 0)[0]:  # type: ignore[attr-defined]
                    raise _Timeout()
            except (OSError, ValueError):
                raise _Closed() from None

    @staticmethod
    def _read_socket(read: Callable[[object], object], arg: object) -> object:
        """``read(arg)`` (``recv`` or ``recv_into``) with the socket's
        failures as ``_Timeout``/``_Closed``; nothing read is ``_Closed``."""
        while True:
            try:
                got = read(arg)
            except (socket.timeout, BlockingIOError):  # Python's timeout / SO_RCVTIMEO
                raise _Timeout() from None
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
            except OSError as exc:
                if type(exc).__name__ == "SSLWantReadError":  # TLS over SO_RCVTIMEO: the timeout
                    raise _Timeout() from None
                raise _Closed() from None
            if not got:
                raise _Closed()
            return got

    def _recv(self, timeout: float | None) -> bytes:
        """One recv() (the timeout already set by ``_set_timeout``)."""
        self._poll_now(timeout)
        return self._read_socket(self.sock.recv, _RECV_CHUNK)  # type: ignore[arg-type,return-value]

    def _recv_into_tls(self, view: memoryview, timeout: float | None) -> int:
        """TLS: one ``recv_into()`` (one SSL_read: at most one TLS record's
        data) straight into ``view``; the timeouts and failures of ``_recv``."""
        self._poll_now(timeout)
        return self._read_socket(self.sock.recv_into, view)  # type: ignore[arg-type,return-value]

    def _read_pdu_tls(self, timeout: float | None, kernel: bool) -> tuple[int, memoryview]:
        """``_read_pdu`` over TLS: records decrypted straight into an arena,
        PDUs handed out as read-only views of it.

        WHY: ``SSLSocket.recv()`` returns at most one TLS record (16 KiB) per
        call and a DCMTK peer writes every PDU as two records (headers, then
        data), so the chunk scheme of ``_read_pdu`` would see every PDU split
        and join it (one more copy of every byte), or has to ask select()
        after every record whether more have arrived (a system call per
        record).  Here every SSL_read (``recv_into``) decrypts the next record
        into the free end of a 256 KiB arena, and the PDUs in it are views:
        no copy beyond the cipher's, no select(), and memory comes in the
        same 256 KiB blocks as plain TCP's recv() chunks (a buffer per PDU
        made the allocator return and re-fault pages for every object:
        measured +0.5 ms per 0.5 MB object, docs/performance.md).  Bytes
        handed out are never written again (reads only go past them; a full
        arena is replaced, the PDU begun in it copied over), so the views
        stay valid like views of bytes.  A PDU length is never trusted for an
        allocation: a PDU over ``_TLS_PIECE`` is gathered piece by piece as
        its data arrives."""
        self._set_timeout(timeout, kernel)
        buf, view, pos, end = self._tls_buf, self._tls_view, self._tls_pos, self._tls_end
        while end - pos < 6:
            if len(buf) - pos < 6 or end == len(buf):
                buf, view, pos, end = self._tls_arena(buf, pos, end, 6)
            end += self._recv_into_tls(view[end:], timeout)
            self._tls_end = end
        pdu_type, _r, length = _PDU_HEADER.unpack_from(buf, pos)
        size = 6 + length
        if size > _TLS_PIECE:
            return self._read_big_pdu_tls(pdu_type, size, timeout)
        if len(buf) - pos < size:
            buf, view, pos, end = self._tls_arena(buf, pos, end, size)
        while end - pos < size:
            end += self._recv_into_tls(view[end:], timeout)
            self._tls_end = end
        raw = view[pos:pos + size].toreadonly()
        self._tls_pos = pos + size
        self._raw_pdu = raw
        return pdu_type, raw[6:]

    def _tls_arena(self, buf: bytearray, pos: int, end: int,
                   need: int) -> tuple[bytearray, memoryview, int, int]:
        """A new arena for ``need`` bytes from ``pos``: the bytes not handed
        out yet (``buf[pos:end]``, part of one PDU) move to its start.

        WHY the spares: a fresh 256 KiB block per arena costs page faults
        (the allocator gives freed blocks back to the system and faults them
        in again); an arena of which no view is left is reused instead.  A
        bytearray refuses to change size while any view of it exists
        (BufferError), which is the test -- no view handed out can ever see
        its bytes change."""
        spares = self._tls_spares
        new = None
        if need <= _TLS_ARENA:
            for index, spare in enumerate(spares):
                try:
                    del spare[-1]  # raises BufferError while a view exists
                except BufferError:
                    continue
                spare.append(0)  # back to its size, within its allocation
                new = spares.pop(index)
                break
        if new is None:
            new = bytearray(max(_TLS_ARENA, need))
        kept = end - pos
        if kept:
            new[:kept] = buf[pos:end]
        self._tls_view.release()  # our own view of the old arena (handed-out views keep theirs)
        if len(buf) == _TLS_ARENA:
            spares.append(buf)
            if len(spares) > _TLS_SPARES:
                del spares[0]
        view = memoryview(new)
        self._tls_buf, self._tls_view, self._tls_pos, self._tls_end = new, view, 0, kept
        return new, view, 0, kept

    def _read_big_pdu_tls(self, pdu_type: int, size: int, timeout: float | None) -> tuple[int, memoryview]:
        """A PDU over ``_TLS_PIECE``: pieces as the data arrives, joined once."""
        pos, end = self._tls_pos, self._tls_end
        parts: list[bytes | bytearray] = [bytes(self._tls_buf[pos:end])]
        have = end - pos
        self._tls_pos = self._tls_end = len(self._tls_buf)  # the arena is used up
        while have < size:
            piece = bytearray(min(size - have, _TLS_PIECE))
            view, got = memoryview(piece), 0
            while got < len(piece):
                got += self._recv_into_tls(view[got:], timeout)
            parts.append(piece)
            have += got
        raw = memoryview(b"".join(parts))
        self._raw_pdu = raw
        return pdu_type, raw[6:]

    def _read_pdu(self, timeout: float | None, kernel: bool = False) -> tuple[int, memoryview]:
        """The next PDU: (type, body), both parts of ``self._raw_pdu``.

        WHY this way: every recv() returns a new immutable bytes object, and a
        PDU that lies within one is handed out as a memoryview slice of it --
        no copy at all in user space; only a PDU split across recv()s is
        joined (one copy of that PDU).  The PDV views handed to sinks are
        read-only views of immutable bytes: they stay valid, callers may keep
        them without copying.  recv() asks for up to 256 KiB, and the
        kernel's answer is only as big as what had arrived, so a kept view
        never pins more memory than the bytes received with it.  TLS reads
        take ``_read_pdu_tls``."""
        if self._tls:
            return self._read_pdu_tls(timeout, kernel)
        chunk, pos = self._chunk, self._chunk_pos
        while True:
            avail = len(chunk) - pos
            if avail >= 6:
                pdu_type, _r, length = _PDU_HEADER.unpack_from(chunk, pos)
                end = pos + 6 + length
                if end <= len(chunk):  # the whole PDU in this chunk: a view of it
                    self._chunk_pos = end
                    self._raw_pdu = memoryview(chunk)[pos:end]
                    return pdu_type, self._raw_pdu[6:]
            if avail:
                break
            self._set_timeout(timeout, kernel)
            chunk, pos = self._recv(timeout), 0
            self._chunk, self._chunk_pos = chunk, 0
        # split across recv()s: gather the pieces (a PDU length is never
        # trusted for an allocation), join them once
        self._set_timeout(timeout, kernel)
        parts: list[bytes | memoryview] = [memoryview(chunk)[pos:]]
        have = avail
        size = 6 + length if avail >= 6 else 0
        while not size or have < size:
            new = self._recv(timeout)
            if not size and have + len(new) >= 6:
                header = (b"".join(parts) + new[:6])[:6]
                pdu_type, _r, length = _PDU_HEADER.unpack(header)
                size = 6 + length
            if size and have + len(new) >= size:
                take = size - have
                parts.append(memoryview(new)[:take])
                self._chunk, self._chunk_pos = new, take
                have = size
            else:
                parts.append(new)
                have += len(new)
                self._chunk, self._chunk_pos = b"", 0
        self._raw_pdu = memoryview(b"".join(parts))
        return pdu_type, self._raw_pdu[6:]

    def _next_pdv(self, timeout: float | None) -> tuple[int, int, memoryview]:
        """Next PDV (pc_id, control header, data); raises DimseError on non-P-DATA PDUs."""
        while self._pdv_index >= len(self._pdvs):
            try:
                # "blocking" DIMSE (no -td) still has DCMTK's 60 s socket receive
                # timeout (dcmSocketReceiveTimeout), which it reports as a peer abort
                if timeout is None:
                    pdu_type, _body = self._read_pdu(SOCKET_RECEIVE_TIMEOUT, kernel=True)
                else:
                    pdu_type, _body = self._read_pdu(timeout)
            except _Timeout:
                if timeout is None:
                    self._close()
                    raise DimseError(COND_PEER_ABORTED) from None
                raise DimseError(COND_NO_DATA) from None
            except _Closed:
                self._close()
                raise DimseError(COND_PEER_ABORTED) from None
            if pdu_type == 0x04:
                self._pdvs, self._pdv_index = decode_p_data(self._raw_pdu), 0
            elif pdu_type == 0x07:
                self._close()
                raise DimseError(COND_PEER_ABORTED)
            elif pdu_type == 0x05:
                raise DimseError(COND_PEER_RELEASE)
            else:
                self.abort()
                raise DimseError(COND_UNEXPECTED_PDU)
        pdv = self._pdvs[self._pdv_index]
        self._pdv_index += 1
        return pdv

    def next_pdv_is_command(self, timeout: float | None) -> bool:
        """Whether the next PDV is a command fragment (waiting up to *timeout*).

        WHY: movescu -pi leaves a Pending response's data set unread, and
        DCMTK's next receiveCommand then meets a data PDV and fails.  A
        command PDV is left in place for ``receive_command``; a data PDV is
        consumed, as DCMTK's read consumed it (a later ``release`` then finds
        nothing pending).  Raises DimseError like ``receive_command``."""
        _pc, control, _data = self._next_pdv(timeout)
        if control & 0x01:
            self._pdv_index -= 1
            return True
        return False

    def _send_pdvs(self, pc_id: int, data: bytes | memoryview, is_command: bool) -> None:
        max_chunk = (self.peer_max_pdu - 12) if self.peer_max_pdu >= 16 else (1 << 20)
        view = memoryview(data)
        total = len(view)
        offset = 0
        control_base = 0x01 if is_command else 0x00
        while True:
            chunk = view[offset:offset + max_chunk]
            offset += len(chunk)
            last = offset >= total
            control = control_base | (0x02 if last else 0x00)
            try:
                self._sendall(p_data_header(pc_id, control, len(chunk)) + chunk)
            except OSError:
                raise DimseError(COND_SEND_FAILED) from None
            if last:
                return

    # ---- DIMSE ------------------------------------------------------------------
    def send_command(self, pc_id: int, cmd: Command, dataset: bytes | memoryview | None = None) -> None:
        """Send a command (and its already-encoded data set) on context ``pc_id``."""
        if self.closed:
            raise DimseError(COND_SEND_ON_CLOSED)
        if dataset is not None and cmd.values.get(0x00000800, NO_DATASET) == NO_DATASET:
            cmd.values[0x00000800] = DATASET_PRESENT
        elif dataset is None:
            cmd.values[0x00000800] = NO_DATASET
        self._send_pdvs(pc_id, cmd.encode(), True)
        if dataset is not None:
            self._send_pdvs(pc_id, dataset, False)

    def receive_command(self, timeout: float | None | str = "dimse") -> tuple[int, Command]:
        """Read the next command set; ``timeout`` defaults to the DIMSE timeout."""
        limit = dimse_wait(self.dimse_timeout) if timeout == "dimse" else timeout  # type: ignore[assignment]
        if self.closed:
            raise DimseError(COND_PEER_ABORTED)
        parts: list[memoryview] = []
        pc_id = 0
        while True:
            pc, control, data = self._next_pdv(limit)  # type: ignore[arg-type]
            if not control & 0x01:
                raise DimseError(Condition(0x0006, 0x020D, "DIMSE Failed to receive message",
                                           dul(0x020F, "DIMSE: Command PDV Expected")))
            pc_id = pc
            parts.append(data)
            if control & 0x02:
                break
        cmd = Command.decode(parts[0].tobytes() if len(parts) == 1 else b"".join(parts))
        if cmd.command_field == C_STORE_RQ and not cmd.has_dataset:
            # DCMTK's DIMSE parser refuses a C-STORE-RQ without data set (observed)
            if self.chatter is not None:
                self.chatter.warning("DIMSE Warning: (%s,%s): C-Store RQ: DataSetType == NULL",
                                     self.calling_ae, self.called_ae)
            raise DimseError(COND_BAD_MESSAGE)
        return pc_id, cmd

    def receive_dataset(self, pc_id: int, sink: Callable[[memoryview], None] | None,
                        timeout: float | None | str = "dimse") -> int:
        """Stream the data set that follows a command into ``sink`` (None: discard)."""
        limit = dimse_wait(self.dimse_timeout) if timeout == "dimse" else timeout
        total = 0
        one_pdv = _ONE_PDV_HEADER
        while True:
            chunk, pos = self._chunk, self._chunk_pos
            if self._pdv_index >= len(self._pdvs) and len(chunk) - pos >= 12:
                # the usual PDU (a P-DATA-TF with one PDV, whole in the bytes of
                # the last recv()) read here at once: what _next_pdv would
                # return for it, without its calls (a 0.5 MB object is 30-40 PDUs)
                pdu_type, _r, length, pdv_length, pc, control = one_pdv(chunk, pos)
                end = pos + 6 + length
                if pdu_type == 0x04 and pdv_length == length - 4 and pdv_length >= 2 and end <= len(chunk):
                    self._chunk_pos = end
                    data = memoryview(chunk)[pos + 12:end]
                else:
                    pc, control, data = self._next_pdv(limit)  # type: ignore[arg-type]
            else:
                pc, control, data = self._next_pdv(limit)  # type: ignore[arg-type]
            if control & 0x01:
                raise DimseError(COND_UNEXPECTED_PDV)
            if pc != pc_id:
                raise DimseError(COND_NO_VALID_PC)
            total += len(data)
            if sink is not None:
                if len(data) % 2:
                    # DCMTK refuses odd fragments when it keeps the data (not when it
                    # ignores it, observed); PS3.7 Annex F requires even lengths
                    raise DimseError(dul(0x020D, f"DIMSE: Odd Fragment Length: {len(data)}"))
                sink(data)
            if control & 0x02:
                if total >= _BIG_DATASET and not _allocator_tuned:
                    _keep_freed_memory()
                return total

    # ---- end of association ---------------------------------------------------
    def release(self) -> None:
        """A-RELEASE-RQ and wait for the RP; raises DimseError (the caller then aborts)."""
        if self.closed:
            raise DimseError(COND_PEER_ABORTED)
        try:
            self._sendall(A_RELEASE_RQ)
        except OSError:
            raise DimseError(COND_PEER_ABORTED) from None
        if self._pdv_index < len(self._pdvs):
            raise DimseError(COND_PDATA_ARRIVED)
        try:
            pdu_type, _body = self._read_pdu(self._acse_wait())
        except _Timeout:
            raise DimseError(COND_READ_TIMEOUT) from None
        except _Closed:
            self._close()
            raise DimseError(COND_PEER_ABORTED) from None
        if pdu_type == 0x06:
            self._close()
            return
        if pdu_type == 0x04:
            raise DimseError(COND_PDATA_ARRIVED)
        if pdu_type == 0x07:
            self._close()
            raise DimseError(COND_PEER_ABORTED)
        raise DimseError(COND_UNEXPECTED_PDU)

    def acknowledge_release(self) -> None:
        """Answer a peer's A-RELEASE-RQ with A-RELEASE-RP and close."""
        try:
            self._sendall(A_RELEASE_RP)
        except OSError:
            pass
        self._close()

    def abort(self, close: bool = True) -> None:
        """Send A-ABORT (source: service user) and close; never raises.
        ``close=False`` keeps the connection open (DCMTK's Sta13, awaiting the
        transport close): ``drain`` then ends it."""
        if not self.closed:
            try:
                self._set_timeout(5)
                self._sendall(A_ABORT)
            except OSError:
                pass
        if close:
            self._close()

    def drain(self, timeout: float | None) -> None:
        """Read and discard whatever the peer still sends until it closes the
        connection (or ``timeout`` s pass), then close.  Closing a socket with
        unread data would reset the connection, and the peer would lose what
        it had not read yet (e.g. our last C-STORE-RSP)."""
        if not self.closed:
            try:
                self._set_timeout(timeout)
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass
        self._close()

    def close(self) -> None:
        """Drop the TCP connection without A-RELEASE or A-ABORT (what a DCMTK
        tool does when it exits in the middle of an association)."""
        self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass
