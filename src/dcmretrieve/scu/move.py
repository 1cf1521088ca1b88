"""movescu's network side: the C-MOVE association and the listening storage SCP.

WHY single-threaded: DCMTK's movescu services its sub-associations from inside
``DIMSE_moveUser`` -- it ``select()``s on the main association, the listen
socket and (at most) one sub-association, and handles *one* DIMSE message per
wake-up.  Doing the same here (on the shared blocking ``association`` layer)
reproduces DCMTK's ordering of log lines, its "one sub-association at a
time" rule and its timeout semantics (``-td`` counts silence on everything),
and it avoids thread hand-offs on the hot path: a C-STORE is read PDV by PDV
straight into memory (or, with ``+B``, into a temporary file) and answered at
once.  Received objects are never decoded with pydicom; ``encoding`` rewrites
the raw bytes with DCMTK's output rules.

With ``--parallel N`` > 1 (docs/batch.md) that model cannot hold: N C-MOVE
associations run in threads of ``batch``, and ``ConcurrentListener`` serves
the listen socket from a thread of its own, each sub-association in its own
thread; objects are attributed by Move Originator Message ID.
"""

from __future__ import annotations

import enum
import logging
import os
import select
import time
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .. import oflog
from ..dicom import sopclasses
from ..dicom.ident import Identifier
from ..dicom.uids import EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from ..errors import FatalError
from ..exitcodes import ExitCode
from ..net import hostsaccess
from ..net.conditions import (
    COND_BAD_DATA, COND_NO_DATA, COND_NO_VALID_PC, COND_PEER_ABORTED, COND_PEER_RELEASE, COND_RECEIVE_FAILED, COND_SEND_FAILED,
    COND_UNEXPECTED_PDV, AssociationError, AssociationFailure, Condition, DimseError, dul,
)
from ..net.dimse import C_ECHO_RQ, C_MOVE_RSP, C_STORE_RQ, Command, c_cancel_rq, c_echo_rsp, c_move_rq, c_store_rsp
from ..net.dimse import encode_identifier
from ..net.dumps import dump_associate_ac, dump_associate_rq, dump_command
from ..net.params import NegotiatedContext, ProposedContext, preference_negotiator
from ..net.status import dimse_status_text
from ..net.transport import (
    SOCKET_RECEIVE_TIMEOUT, Association, dimse_wait, nodelay_messages, receive_pdu_size, select_wait,
)
from ..settings import Settings
from ..store import encoding, pipeline
from ..store.pipeline import StoreOutcome
from . import batch, common
from .policy import acceptor_ts_list, movescu_contexts, write_options
from .summary import Recorder

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from .progress import Progress
    from ..dicom.keys import MoveKeys

COND_BAD_COMMAND = Condition(0x0006, 0x0203, "DIMSE Bad command type")
COND_COMMAND_PDV_EXPECTED = Condition(
    0x0006, 0x020D, "DIMSE Failed to receive message\n0006:020f DIMSE: Command PDV Expected"
)
COND_TCP_WRAPPER = "0006:0324 TCP wrapper: denied connection from {name} ({ip})"

STATUS_SUCCESS = 0x0000
STATUS_PENDING = 0xFF00
STATUS_CANCEL = 0xFE00
STATUS_WARNING = 0xB000
STORE_OUT_OF_RESOURCES = 0xA700
STORE_CANNOT_UNDERSTAND = 0xC000
STORE_DOES_NOT_MATCH = 0xA900


# ----------------------------------------------------------------- results --


#: +B: a write failed while the data set streamed in (disk full)
COND_WRITE_TO_FILE = dul(0x020A, pipeline.BIT_PRESERVING_WRITE_FAILED.split(" ", 1)[1])
#: what DCMTK 3.6.7 reads from a sub-association it aborted but kept (observed)
COND_READ_AFTER_ABORT = Condition(0x0006, 0x020D, "DIMSE Failed to receive message",
                                  Condition(0x0006, 0x020C, "DIMSE Read PDV failed", Condition(0, 0, "Normal")))


class StoreWriteFailed(DimseError):
    """+B: the data set could not be written while it streamed in; the
    C-STORE-RSP (0xA700) was sent, the rest of the data set is unread."""


class MoveFailure(Exception):
    """A C-MOVE ended with a DCMTK condition instead of a final response."""

    def __init__(self, condition: Condition) -> None:
        super().__init__(condition.dump())
        self.condition = condition


def status_text(status: int) -> str:
    """DU_cmoveStatusString (movescu.md §3.2)."""
    return dimse_status_text(status)


class FinalStatusEffect(enum.Enum):
    """How a final C-MOVE status changes the exit code."""

    OK = "ok"
    WARNING = "warning"  # exit 68 unless an error came first
    ERROR = "error"  # exit 69


def final_status_effect(status: int) -> FinalStatusEffect:
    """How the final C-MOVE ``status`` changes the exit code."""
    if status in (STATUS_SUCCESS, STATUS_CANCEL):
        return FinalStatusEffect.OK
    if status == STATUS_WARNING:
        return FinalStatusEffect.WARNING
    return FinalStatusEffect.ERROR


# ---------------------------------------------------------- query requests --


def _dump_identifiers(ds: object, ts_uid: str) -> str:
    from ..dicom import dump

    return dump.dump_dataset(ds, ts_uid)  # type: ignore[arg-type]


# ------------------------------------------------------- storing (C-STORE) --


@dataclass
class StoreContext:
    """Per-run state of the storage SCP: the shared pipeline configured with
    movescu's naming rule, its output encoder and the RECV: progress."""

    settings: Settings
    logger: logging.Logger
    pipeline: pipeline.StorePipeline
    record: Recorder | None = None  # --strict-exit / --summary-json: objects received
    #: --parallel: objects belong to the request of their Move Originator Message ID
    by_originator: bool = False
    display: Progress | None = None  # --progress

    def recorded(self, result: pipeline.StoreResult, answered: int | None, req: Command | None = None) -> None:
        if self.record is not None:
            origin = None
            if self.by_originator and req is not None:
                value = req.get("move_originator_id")
                origin = -1 if value is None else int(value)  # type: ignore[call-overload]
            self.record.object(result, answered, self.settings.output_directory, origin)

    @classmethod
    def create(cls, settings: Settings, logger: logging.Logger, display: Progress | None = None) -> StoreContext:
        opts = write_options(settings)
        mode = common.store_mode(settings)

        def encoder(data: bytes, info: pipeline.ObjectInfo) -> list:
            # DcmFileFormat::saveFile with the +F/+t/+e/+g/+p/+u options; the
            # data set's UIDs are kept for the consistency check
            chunks, sop_class, sop_instance = encoding.encode(data, info.transfer_syntax, opts, info.elements)
            info.uids = (sop_class, sop_instance)  # type: ignore[attr-defined]
            return chunks

        def bp_header(info: pipeline.ObjectInfo) -> bytes:
            if not settings.write_file:
                return b""
            return encoding.meta_header(
                info.request_sop_class,
                info.request_sop_instance,
                info.transfer_syntax,
                encoding.BIT_PRESERVING_VERSION_NAME,
                info.calling_ae,
            )

        progress = _progress_printer(settings.parallel > 1) if oflog.progress_enabled() else None
        store = pipeline.StorePipeline(
            settings.output_directory,
            mode,
            logger,
            pipeline.movescu_name,
            encoder=encoder,
            bp_header=bp_header,
            progress=progress,
            overwrite_warning=True,
            layout=common.output_layout(settings),
            meter=display.bytes_in if display else None,
        )
        return cls(settings, logger, store, display=display)


def _progress_printer(whole_lines: bool = False) -> Callable[[str], None]:
    """DCMTK's storeSCPCallback progress: ``RECV: `` + one dot per PDV + newline,
    flushed after every character (stdout, not the logger).  ``whole_lines``
    (--parallel: several sub-associations at once): each line is written
    at its end, in one piece, so that lines never mix."""
    texts = {"start": "RECV: ", "chunk": ".", "end": "\n"}
    if whole_lines:
        local = threading.local()

        def progress_lines(event: str) -> None:
            if event == "start":
                local.parts = []
            parts = getattr(local, "parts", None)
            if parts is None:
                parts = local.parts = []
            parts.append(texts[event])
            if event == "end":
                text = "".join(parts)
                local.parts = None
                out = sys.stdout
                guard = oflog.console_guard()
                if guard is not None:  # --progress on the terminal: the line goes out above it
                    guard(out, lambda: (out.write(text), out.flush()))
                else:
                    out.write(text)
                    out.flush()

        return progress_lines
    line: list[str] = []

    def progress(event: str) -> None:
        out = sys.stdout
        guard = oflog.console_guard()
        if guard is not None:  # --progress on the terminal: the line goes out whole, above it
            line.append(texts[event])
            if event == "end":
                text = "".join(line)
                line.clear()
                guard(out, lambda: (out.write(text), out.flush()))
            return
        out.write(texts[event])
        out.flush()

    return progress


def store_status(ctx: StoreContext, result: pipeline.StoreResult) -> int:
    """The C-STORE-RSP status movescu answers (movescu.md §5.4), logging as DCMTK."""
    logger = ctx.logger
    kind = result.kind
    if kind is StoreOutcome.IGNORED:
        return STATUS_SUCCESS
    if kind in (StoreOutcome.WRITE_ERROR, StoreOutcome.CREATE_ERROR):
        if ctx.settings.bit_preserving:
            return STORE_OUT_OF_RESOURCES
        logger.error(f"cannot write DICOM file: {result.path}")
        return STORE_OUT_OF_RESOURCES
    if ctx.settings.bit_preserving:
        return STATUS_SUCCESS
    info = result.info
    uids = getattr(info, "uids", None)
    if uids is None:
        try:
            uids = encoding.find_uids(encoding.parse(info.data or b"", info.transfer_syntax))
        except encoding.EncodingError:
            uids = (None, None)
    sop_class, sop_instance = (encoding.strip_uid_padding(u) if ctx.settings.uid_padding else u for u in uids)
    if sop_class is None or sop_instance is None:
        name = pipeline.movescu_name(info) or ""
        logger.critical(f"bad DICOM file: {pipeline.safe_name(name)}")
        return STORE_CANNOT_UNDERSTAND
    if sop_class != info.request_sop_class or sop_instance != info.request_sop_instance:
        return STORE_DOES_NOT_MATCH
    return STATUS_SUCCESS


def handle_store(ctx: StoreContext, sub: Association, pc_id: int, req: Command) -> None:
    """Receive one C-STORE (request already read) and answer it (DCMTK's storeSCP)."""
    logger = ctx.logger
    prefix = sopclasses.FILENAME_PREFIX.get(req.affected_sop_class_uid, "OT")
    common.log_message(logger, "Received Store Request", f"MsgID {req.message_id}, {prefix}", req, False, pc_id)
    negotiated = sub.contexts.get(pc_id)
    ts_uid = negotiated.transfer_syntax if negotiated else EXPLICIT_LE
    result = ctx.pipeline.receive(sub, pc_id, req.affected_sop_class_uid, req.affected_sop_instance_uid, ts_uid)
    if ctx.display:
        ctx.display.object_done()
    if result.kind is StoreOutcome.RECEIVE_ERROR:
        ctx.recorded(result, None, req)
        error = result.error
        cond = error.condition if isinstance(error, DimseError) else COND_RECEIVE_FAILED
        raise DimseError(cond)
    if result.kind is StoreOutcome.WRITE_ERROR and result.unread:
        # DCMTK 3.6.7 (observed, +B, disk full): DIMSE_storeProvider answers
        # 0xA700 (no response dump: the callback is not called), then returns
        # receiveDataSetInFile's condition: "Store SCP Failed", the
        # sub-association is aborted
        ctx.recorded(result, STORE_OUT_OF_RESOURCES, req)
        try:
            sub.send_command(pc_id, c_store_rsp(req, STORE_OUT_OF_RESOURCES))
        except DimseError:
            pass
        raise StoreWriteFailed(COND_WRITE_TO_FILE)
    status = store_status(ctx, result)
    ctx.recorded(result, status, req)
    # DIMSE_storeProvider sends the response without a dump (DCMTK 3.6.7)
    sub.send_command(pc_id, c_store_rsp(req, status))


# ------------------------------------------------------- the listening SCP --


@dataclass
class Listener:
    """The listen socket plus (at most) one active sub-association."""

    sock: socket.socket
    settings: Settings
    store: StoreContext
    sub: Association | None = None
    negotiate: Callable[[ProposedContext], tuple[int, str]] | None = None
    tls: object | None = None  # the TLS layer (DCMTK 3.7.0): incoming sub-associations over TLS

    @classmethod
    def open(cls, settings: Settings, store: StoreContext) -> Listener:
        """Bind all interfaces on --port (raises OSError).

        DCMTK 3.7.0's -i6 listens on an IPv6-only socket, -i0 on an IPv6
        socket with IPV6_V6ONLY off (dual stack: IPv4 peers arrive as
        ::ffff:a.b.c.d); no option and -i4 listen on IPv4."""
        family = settings.protocol_family
        af = socket.AF_INET6 if family in ("inet6", "unspec") else socket.AF_INET
        sock = socket.socket(af, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if af == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if family == "unspec" else 1)
                sock.bind(("::", settings.listen_port))
            else:
                sock.bind(("", settings.listen_port))
            sock.listen(64)
        except OSError:
            sock.close()
            raise
        listener = cls(sock, settings, store)
        abstract = [sopclasses.VERIFICATION] + [uid for uid, _ in sopclasses.MOVESCU_ACCEPTED_STORAGE]
        listener.negotiate = preference_negotiator(abstract, acceptor_ts_list(settings.prefer_xfer))
        return listener

    def close(self) -> None:
        if self.sub is not None:
            self.sub.abort()
            self.sub = None
        self.sock.close()

    def wait_fds(self) -> list:
        return [self.sub] if self.sub is not None else [self.sock]

    def has_buffered(self) -> bool:
        return self.sub is not None and self.sub.has_buffered_data()

    def service(self) -> None:
        """One unit of work: accept a connection or handle one message."""
        if self.sub is None:
            self._accept()
        else:
            self._handle_message()

    def _accept(self) -> None:
        settings, logger = self.settings, self.store.logger
        net = logging.getLogger(oflog.NET)
        # ASC_receiveAssociation creates its parameters (odd -pdu warning) first
        max_pdu = receive_pdu_size(settings.max_pdu, net)
        try:
            conn, peer = self.sock.accept()
        except OSError:
            return
        ip = peer[0]  # getnameinfo(NI_NUMERICHOST): "127.0.0.1", "::1", "::ffff:127.0.0.1"
        nodelay_messages(net, "DUL")
        name: str | None = None
        if settings.access_control or net.isEnabledFor(logging.DEBUG):
            # DUL_ReceiveAssociationRQ: the name from getnameinfo() (the
            # numeric address when unknown, "" = -dhl or failure), shown up
            # to its first dot; "unknown" for the TCP wrapper when empty
            dns_name = "" if settings.disable_host_lookup else _name_info(peer)
            name = dns_name or "unknown"
            if net.isEnabledFor(logging.DEBUG):
                net.debug(f"Association Received: {_first_label(dns_name) if dns_name else ip}")
                # the transport connection's socket timeouts (DcmTCPConnection)
                net.debug("setting network send timeout to 60 seconds")
                net.debug("setting network receive timeout to 60 seconds")
        if settings.access_control and not hostsaccess.allowed("movescu", name or "unknown", ip):
            logger.error(COND_TCP_WRAPPER.format(name=name or "unknown", ip=ip))
            conn.close()
            return
        if self.tls is not None:
            from ..net import tls

            try:  # serverSideHandshake: a failure drops this sub-association only
                conn = self.tls.wrap_server(conn)  # type: ignore[attr-defined]
            except tls.TLSError as exc:
                logger.error(exc.condition.dump())
                return
        try:
            sub = Association.accept(
                conn,
                settings.aetitle,
                max_pdu,
                settings.acse_timeout,
                settings.dimse_timeout,
                self.negotiate,  # type: ignore[arg-type]
                chatter=net,
                received=self._received,
            )
        except AssociationError as exc:
            logger.error(exc.condition.dump())
            return
        except OSError:
            # the peer vanished between accept() and negotiation (reset socket)
            logger.error(COND_PEER_ABORTED.dump())
            conn.close()
            return
        logger.info(f"Sub-Association Acknowledged (Max Send PDV: {sub.max_send_pdv})")
        if not any(c.accepted for c in sub.contexts.values()):
            logger.info("    (but no valid presentation contexts)")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(dump_associate_ac(sub))
        self.sub = sub

    def _received(self, sub: Association) -> None:
        """The sub-association's A-ASSOCIATE-RQ is in, the AC not yet made."""
        logger = self.store.logger
        logger.info("Sub-Association Received")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("Parameters:\n" + dump_associate_rq(sub))

    def _handle_message(self) -> None:
        sub = self.sub
        assert sub is not None
        logger = self.store.logger
        try:
            pc_id, cmd = sub.receive_command()
            field_ = cmd.command_field
            if field_ == C_STORE_RQ:
                try:
                    handle_store(self.store, sub, pc_id, cmd)
                except DimseError as exc:
                    logger.error(f"Store SCP Failed: {exc.condition.dump()}")
                    raise
            elif field_ == C_ECHO_RQ:
                common.log_message(logger, "Received Echo Request", f"MsgID {cmd.message_id}", cmd, False, pc_id)
                try:
                    sub.send_command(pc_id, c_echo_rsp(cmd, STATUS_SUCCESS))
                except DimseError as exc:
                    logger.error(f"Echo SCP Failed: {exc.condition.dump()}")
                    raise
            else:
                logger.error(f"Expected C-ECHO or C-STORE request but received DIMSE command 0x{field_:04x}")
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(dump_command(cmd, False, pc_id))
                raise DimseError(COND_BAD_COMMAND)
        except DimseError as exc:
            cond = exc.condition
            if cond == COND_PEER_RELEASE:
                sub.acknowledge_release()
            elif cond == COND_PEER_ABORTED:
                sub.abort()
            else:
                logger.error(f"DIMSE failure (aborting sub-association): {cond.dump()}")
                if isinstance(exc, StoreWriteFailed):
                    # DCMTK's subOpSCP keeps a sub-association it aborted
                    # successfully; the rest of the data set is still coming,
                    # so the next poll (usually before the peer answers on the
                    # main association) reads on, ignoring P-DATA, until the
                    # peer closes, and fails once more
                    sub.abort(close=False)
                    sub.drain(SOCKET_RECEIVE_TIMEOUT)
                    logger.error(f"DIMSE failure (aborting sub-association): {COND_READ_AFTER_ABORT.dump()}")
                else:
                    sub.abort()
            self.sub = None


class ConcurrentListener:
    """--parallel: the one listen socket served by its own thread, each
    sub-association in a thread of its own (the C-MOVE associations run in
    other threads and never service the listener themselves)."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, name="listener", daemon=True)
        self.subs: list[threading.Thread] = []

    def start(self) -> None:
        self.thread.start()

    def _accept_loop(self) -> None:
        listener = self.listener
        while not self.stop.is_set():
            if not _readable(listener.sock, 0.1):
                continue
            listener.service()  # accept and negotiate: sets listener.sub
            sub, listener.sub = listener.sub, None
            if sub is None:
                continue
            handler = Listener(listener.sock, listener.settings, listener.store, sub, listener.negotiate)
            thread = threading.Thread(target=self._serve, args=(handler,), name="sub-association", daemon=True)
            self.subs.append(thread)
            thread.start()

    @staticmethod
    def _serve(handler: Listener) -> None:
        try:
            while handler.sub is not None:
                handler.service()
        except Exception:  # noqa: BLE001 - the peer vanished: nothing more to serve
            if handler.sub is not None:
                handler.sub.abort()
                handler.sub = None

    def close(self, wait: float) -> None:
        """Stop accepting; give running sub-associations ``wait`` seconds to end."""
        self.stop.set()
        self.thread.join(1.0)
        deadline = time.monotonic() + wait
        for thread in self.subs:
            thread.join(max(0.0, deadline - time.monotonic()))


def _readable(sock: socket.socket, timeout: float = 0) -> bool:
    try:
        return bool(select.select([sock], [], [], timeout)[0])
    except (OSError, ValueError):
        return False


def _name_info(peer: tuple) -> str:
    """DCMTK's getHostnameByAddress (3.6.7 and 3.7.0): getnameinfo() without
    NI_NAMEREQD (the numeric address when the name is unknown), retried on
    EAI_AGAIN; "" when it fails."""
    for _attempt in range(5):
        try:
            return socket.getnameinfo(peer, 0)[0]
        except socket.gaierror as exc:
            if exc.errno != socket.EAI_AGAIN:
                return ""
        except OSError:
            return ""
    return ""


def _first_label(name: str) -> str:
    """``sscanf(name, "%[^.]", node)`` (no DUL_FULLDOMAINNAME): up to the
    first dot, "" when the name starts with one."""
    return name.partition(".")[0]


# -------------------------------------------------------------- C-MOVE SCU --


class MoveSCU:
    """One main association and the C-MOVE requests on it (DCMTK's moveSCU)."""

    def __init__(self, settings: Settings, assoc: Association, listener: Listener | None,
                 record: Recorder | None = None) -> None:
        self.settings = settings
        self.assoc = assoc
        self.listener = listener
        self.record = record if record is not None else Recorder(settings)
        self.final_identifier: bytes | None = None  # data set of the last final response
        self.logger = oflog.app_logger("movescu")
        self.net = logging.getLogger(oflog.NET)
        self.exit_code = ExitCode.NO_ERROR
        #: where message IDs come from (--parallel: unique across associations)
        self.message_ids: Callable[[], int] | None = None
        self.display: Progress | None = None  # --progress (set by _run_association)
        # -k was parsed and validated by app at start-up (PHASE_KEYS, keys.md
        # §1), before anything touched the network; None without -k
        self.keys = cast("MoveKeys | None", settings.move_keys)

    def _load_query(self, path: str | None) -> tuple[object, str]:
        from ..dicom import query

        try:
            return common.load_query(path)
        except query.QueryFileError as exc:
            self.logger.error(f"bad DICOM file: {path}: {exc.reason}")
            raise MoveFailure(COND_BAD_DATA) from None

    def _identifier(self, path: str | None) -> tuple[Identifier, str]:
        """The request's identifier and the transfer syntax its dump names.
        Without a query file and with plain keys, no pydicom until a dump or
        a summary wants the data set (``dicom.ident``)."""
        if path is None and self.keys is not None:
            plain = self.keys.plain_elements()
            if plain is not None:
                return Identifier(lambda: self._keyed_query(None)[0], plain), EXPLICIT_LE
        ds, file_ts = self._keyed_query(path)
        return Identifier(lambda: ds), file_ts

    def _keyed_query(self, path: str | None) -> tuple["Dataset", str]:
        ds, file_ts = self._load_query(path)
        if self.keys is not None:
            self.keys.apply(ds)
        return ds, file_ts

    def move(self, path: str | None) -> int:
        """One C-MOVE; the final status; raises MoveFailure (logged as DCMTK does)."""
        from ..dicom import dump
        from ..dicom.keys import log_repairs

        settings, logger = self.settings, self.logger
        msg_id = self.assoc.next_message_id() if self.message_ids is None else self.message_ids()
        ident, file_ts = self._identifier(path)
        move_uid = sopclasses.QR_MODELS[settings.model][1]
        ctx = self.assoc.accepted_context(move_uid)
        if ctx is None:
            raise MoveFailure(COND_NO_VALID_PC)
        req = c_move_rq(msg_id, move_uid, settings.move_destination)
        common.log_message(logger, "Sending Move Request", f"MsgID {msg_id}", req, True, ctx.id)
        # UIDs read with white space are corrected (and warned about) while
        # DCMTK prints or writes them; a warning logged while the message is
        # built leaves only its own text and the rest of the dump (keys.md)
        repairs = ident.repair_uids()
        log_repairs(repairs)
        self.record.identifier(ident, msg_id)
        if logger.isEnabledFor(logging.INFO):
            if repairs:
                text, elem = repairs[-1]
                logger.info(text + dump.dump_dataset(ident.dataset, file_ts, start=elem) + "\n")
            else:
                shown = (dump.dump_plain(ident.elements) if ident.elements is not None  # no pydicom for -v
                         else _dump_identifiers(ident.dataset, file_ts))
                logger.info("Request Identifiers:\n\n" + shown + "\n")
        try:
            problem = ident.unconvertible(ctx.transfer_syntax)
            if problem is not None:
                self.net.warning(f"DIMSE Warning: ({self.assoc.calling_ae},{self.assoc.called_ae}): sendMessage: {problem}")
                raise DimseError(COND_SEND_FAILED)
            self.assoc.send_command(ctx.id, req, encode_identifier(ident, ctx.transfer_syntax, pad_deflated=True))
        except DimseError as exc:
            logger.error(f"Move Request Failed: {exc.condition.dump()}")
            raise MoveFailure(exc.condition) from None
        try:
            final = self._responses(ctx, msg_id)
        except DimseError as exc:
            logger.error(f"Move Request Failed: {exc.condition.dump()}")
            raise MoveFailure(exc.condition) from None
        status = final.status
        self.record.final_response(status, final.counter, self._failed_uids(ctx.transfer_syntax))
        effect = final_status_effect(status)
        if effect is FinalStatusEffect.WARNING:
            if self.exit_code == ExitCode.NO_ERROR:
                self.exit_code = ExitCode.CMOVE_WARNING
            logger.warning(f"Move response with warning status ({status_text(status)})")
        elif effect is FinalStatusEffect.ERROR:
            self.exit_code = ExitCode.CMOVE_ERROR
            logger.warning(f"Move response with error status ({status_text(status)})")
        common.log_message(logger, "Received Final Move Response", status_text(status), final, False, 0)
        return status

    def _wait_main(self) -> None:
        """Service the listener until the main association is readable
        (DIMSE_moveUser's select loop); raises DimseError on a -td timeout."""
        assoc, listener = self.assoc, self.listener
        timeout = select_wait(self.settings.dimse_timeout)
        while True:
            # selectReadable(): a waiting connection request is looked at
            # first, then the main association wins over the sub-association
            if listener is not None and listener.sub is None and _readable(listener.sock):
                listener.service()
                continue
            if assoc.has_buffered_data():
                return
            if listener is not None and listener.has_buffered():
                listener.service()
                continue
            fds: list = [assoc] + (listener.wait_fds() if listener is not None else [])
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                return
            if not ready:
                raise DimseError(COND_NO_DATA)
            if assoc in ready:
                return
            if listener is not None:
                listener.service()

    def _responses(self, ctx: NegotiatedContext, msg_id: int) -> Command:
        settings, logger, net = self.settings, self.logger, self.net
        count = 0
        pending_without_read = False
        while True:
            self._wait_main()
            if pending_without_read:
                pending_without_read = False
                self._check_unread_dataset()
            pc_id, rsp = self.assoc.receive_command()
            if rsp.command_field != C_MOVE_RSP or rsp.get("message_id_being_responded_to") != msg_id:
                raise DimseError(COND_UNEXPECTED_PDV)
            status = rsp.status
            if self.display:
                self.display.response(rsp)
            if status != STATUS_PENDING:
                self.final_identifier = None
                if rsp.has_dataset:
                    ids: list[bytes] = []
                    self.assoc.receive_dataset(pc_id, lambda d: ids.append(bytes(d)))
                    self.final_identifier = b"".join(ids)
                    if logger.isEnabledFor(logging.DEBUG):
                        self._debug_identifiers(self.final_identifier, ctx.transfer_syntax)
                self._finish_sub_association()
                return rsp
            count += 1
            if rsp.has_dataset:
                who = f"({self.assoc.calling_ae},{self.assoc.called_ae})"
                net.warning(f"DIMSE Warning: {who}: moveUser: Status Pending, but DataSetType!=NULL")
                if settings.pending_read:
                    net.warning(f"DIMSE Warning: {who}: Reading but ignoring response identifier set")
                    self.assoc.receive_dataset(pc_id, None)
                else:
                    net.warning(f"DIMSE Warning: {who}: Assuming NO response identifiers are present")
                    pending_without_read = True
            if rsp.values.get(0x00000902) is not None or rsp.values.get(0x00000901) is not None:
                net.warning(f"DIMSE Warning: ({self.assoc.calling_ae},{self.assoc.called_ae}): "
                            "moveUser: Pending with statusDetail, ignoring detail")
            # (moveCallback dumps the response without its presentation context)
            common.log_message(logger, f"Received Move Response {count}", status_text(status), rsp, False, 0)
            if settings.cancel == count:
                logger.info(f"Sending Cancel Request (MsgID {msg_id}, PresID {ctx.id})")
                try:
                    self.assoc.send_command(ctx.id, c_cancel_rq(msg_id))
                except DimseError as exc:
                    logger.error(f"Cancel Request Failed: {exc.condition.dump()}")

    def _finish_sub_association(self) -> None:
        """DIMSE_moveUser's epilogue: after the final response, keep serving
        the current sub-association until the peer releases or aborts it (a
        Move SCP may send its final response before it releases).  With -td
        a silent sub-association is given up after that timeout instead of
        being waited for forever."""
        listener = self.listener
        while listener is not None and listener.sub is not None:
            if not listener.has_buffered():
                try:
                    ready = select.select([listener.sub], [], [], select_wait(self.settings.dimse_timeout))[0]
                except (OSError, ValueError):
                    ready = []
                if not ready:
                    return
            listener.service()

    def _check_unread_dataset(self) -> None:
        """-pi: the data set of a Pending response is not read, so DCMTK's
        next receiveCommand meets a data PDV and fails (observed 3.6.7 text)."""
        if self.assoc.next_pdv_is_command(dimse_wait(self.settings.dimse_timeout)):
            return  # a command after all: read it normally
        raise DimseError(COND_COMMAND_PDV_EXPECTED)

    def _failed_uids(self, ts_uid: str) -> list[str] | None:
        """Failed SOP Instance UID List (0008,0058) of the final response's
        data set, for --summary-json only; None without one."""
        data = self.final_identifier
        if data is None or not self.record.want_identifiers:
            return None
        try:
            from pydicom.filebase import DicomBytesIO
            from pydicom.filereader import read_dataset

            ds = read_dataset(DicomBytesIO(data), ts_uid == IMPLICIT_LE, ts_uid != EXPLICIT_BE)
            elem = ds.get((0x0008, 0x0058))
            if elem is None or elem.value in (None, ""):
                return []
            values = elem.value if elem.VM > 1 else [elem.value]
            return [str(v).rstrip("\0 ") for v in values]
        except Exception:  # noqa: BLE001 - a malformed data set: no list
            return None

    def _debug_identifiers(self, data: bytes, ts_uid: str) -> None:
        try:
            from pydicom.filebase import DicomBytesIO
            from pydicom.filereader import read_dataset

            fp = DicomBytesIO(data)
            ds = read_dataset(fp, ts_uid == IMPLICIT_LE, ts_uid != EXPLICIT_BE)
            self.logger.debug("Response Identifiers:\n" + _dump_identifiers(ds, ts_uid) + "\n")
        except Exception:  # pragma: no cover - debug output only
            pass


# ------------------------------------------------------------------- run --


def _log_lines(logger: logging.Logger, level: int, *lines: str) -> None:
    for line in lines:
        logger.log(level, line)


def run(settings: Settings, record: Recorder | None = None) -> int:
    """The network part of movescu (after all command-line checks): returns
    the exit code of a completed run (0, 68, 69), raises ``FatalError``
    with DCMTK's exit code when the run fails.  ``record`` collects the
    outcome (--strict-exit, --summary-json)."""
    logger = oflog.app_logger("movescu")
    record = record if record is not None else Recorder(settings)
    display = common.progress_display(settings, len(settings.query_files or [None]) * settings.repeat)
    store = StoreContext.create(settings, logger, display)
    store.record = record
    listener: Listener | None = None
    if settings.listen_port > 0:
        try:
            listener = Listener.open(settings, store)
        except OSError as exc:
            text = os.strerror(exc.errno) if exc.errno else str(exc)
            raise FatalError(f"cannot create network: 0006:031c TCP Initialization Error: {text}",
                             ExitCode.CANNOT_INITIALIZE_NETWORK) from None
    net = logging.getLogger(oflog.NET)
    try:
        max_pdu = receive_pdu_size(settings.max_pdu, net)  # ASC_createAssociationParameters
        # DCMTK 3.7.0: the TLS layer for both directions (failure: exit 70)
        layer = common.tls_layer(settings, ExitCode.CANNOT_CREATE_TLS_LAYER)
        if listener is not None:
            listener.tls = layer
        code = _run_association(settings, logger, listener, record, max_pdu, layer, display)
    finally:
        if display:
            display.close()
        if listener is not None:
            listener.close()
    if layer is not None:  # writeRandomSeed: a failure is a warning only
        from ..net import tls

        try:
            layer.write_seed()  # type: ignore[attr-defined]
        except tls.TLSError as exc:
            logger.warning(exc.condition.dump())
    return code


def _request_association(settings: Settings, logger: logging.Logger, record: Recorder,
                         worker: "MoveWorker", max_pdu: int, layer: object | None) -> Association:
    net = logging.getLogger(oflog.NET)
    params = common.association_params(settings, movescu_contexts(settings.model, settings.propose_xfer), max_pdu,
                                       truncate_titles=False, tls=layer)
    try:
        assoc = common.request_association(params, logger, logging.DEBUG, net)
    except AssociationError as exc:
        worker.association_error = exc
        record.association_failed()
        if exc.kind is AssociationFailure.REJECTED:
            result, source, reason = exc.reject_lines()
            _log_lines(logger, logging.CRITICAL, "Association Rejected:",
                       f"Result: {result}, Source: {source}", f"Reason: {reason}")
            raise FatalError(exit_code=ExitCode.CANNOT_NEGOTIATE_ASSOCIATION, logged=True) from None
        if exc.kind is AssociationFailure.NO_CONTEXTS:
            raise FatalError("No Acceptable Presentation Contexts", ExitCode.NO_PRESENTATION_CONTEXT) from None
        if exc.kind is AssociationFailure.ILLEGAL_PARAMETER:
            logging.getLogger(oflog.NET).error(exc.condition.text)
        _log_lines(logger, logging.CRITICAL, "Association Request Failed:", exc.condition.dump())
        raise FatalError(exit_code=ExitCode.CANNOT_NEGOTIATE_ASSOCIATION, logged=True) from None
    common.association_accepted(assoc, logger, logging.DEBUG)
    record.association_accepted()
    return assoc


class MoveWorker:
    """movescu's ``batch.Worker``: one main association and its ``MoveSCU``."""

    def __init__(self, settings: Settings, logger: logging.Logger, listener: Listener | None, record: Recorder,
                 max_pdu: int, layer: object | None, display: Progress | None = None,
                 message_ids: Callable[[], int] | None = None) -> None:
        self.settings = settings
        self.max_pdu = max_pdu
        self.layer = layer  # the TLS layer (+tls/+tla) or None
        self.display = display
        self.logger = logger
        self.listener = listener
        self.record = record
        self.message_ids = message_ids
        self.association_error: AssociationError | None = None
        self.scu: MoveSCU | None = None
        self.exit_before = ExitCode.NO_ERROR

    @property
    def exit_code(self) -> int:
        return int(self.scu.exit_code) if self.scu is not None else int(ExitCode.NO_ERROR)

    def open(self) -> None:
        assoc = _request_association(self.settings, self.logger, self.record, self, self.max_pdu, self.layer)
        self.scu = MoveSCU(self.settings, assoc, self.listener, self.record)
        self.scu.message_ids = self.message_ids
        self.scu.display = self.display

    def perform(self, request: batch.Request) -> int | None:
        scu = self.scu
        assert scu is not None
        self.exit_before = scu.exit_code
        if self.display:
            self.display.begin_request()
        try:
            return scu.move(request.source)
        except MoveFailure as exc:
            self.record.request_error(exc.condition.dump())
            raise

    def transient(self, exc: BaseException) -> str | None:
        if isinstance(exc, FatalError) and self.scu is None and self.association_error is not None:
            return batch.transient_association(self.association_error)
        if isinstance(exc, MoveFailure):
            return batch.transient_condition(exc.condition)
        return None

    def retry_status(self) -> None:
        if self.scu is not None:  # the retried request decides again
            self.scu.exit_code = self.exit_before

    def drop(self) -> None:
        if self.scu is not None:
            self.scu.assoc.abort()

    def fail(self, exc: BaseException) -> None:
        """A C-MOVE failed for good: DCMTK's ending (no further requests)."""
        if not isinstance(exc, MoveFailure) or self.scu is None:
            raise exc
        logger, assoc = self.logger, self.scu.assoc
        if exc.condition == COND_PEER_RELEASE:
            logger.error("Protocol Error: Peer requested release (Aborting)")
            logger.info("Aborting Association")
        elif exc.condition == COND_PEER_ABORTED:
            logger.info("Peer Aborted Association")
        else:
            logger.error(f"Move SCU Failed: {exc.condition.dump()}")
            logger.info("Aborting Association")
        assoc.abort()

    def finish(self) -> None:
        if self.scu is None:
            return
        assoc = self.scu.assoc
        failed = common.end_association(assoc, self.settings.abort, self.logger)
        if failed is not None:
            self.record.release_failed = True
            _log_lines(self.logger, logging.CRITICAL, "Association Release Failed:", failed.condition.dump())
            assoc.abort()
            raise FatalError(exit_code=ExitCode.CANNOT_CLOSE_ASSOCIATION, logged=True)

    def abort(self) -> None:
        if self.scu is not None:
            self.scu.assoc.abort()


def _combined_exit(workers: list[MoveWorker]) -> int:
    """The exit status of several associations: 69 before 68 before 0."""
    codes = {w.exit_code for w in workers}
    for code in (ExitCode.CMOVE_ERROR, ExitCode.CMOVE_WARNING):
        if int(code) in codes:
            return int(code)
    return int(ExitCode.NO_ERROR)


def _run_association(settings: Settings, logger: logging.Logger, listener: Listener | None,
                     record: Recorder, max_pdu: int, layer: object | None,
                     display: Progress | None = None) -> int:
    """The requests through ``batch`` (--parallel, --retry, --resume;
    without them: one association, one C-MOVE after the other, as DCMTK)."""
    done = batch.resume_keys(settings, ExitCode.COMMANDLINE_SYNTAX_ERROR)
    workers: list[MoveWorker] = []
    if settings.parallel <= 1:
        def make() -> MoveWorker:
            worker = MoveWorker(settings, logger, listener, record, max_pdu, layer, display)
            workers.append(worker)
            return worker

        runner = batch.Runner(settings, record, make, logger, done=done)
        try:
            last = runner.run_sequential()
        except batch.BatchAborted:
            return _combined_exit(workers)
        except BaseException:
            for each in workers:
                each.abort()
            raise
        if last is not None:
            last.finish()
        return _combined_exit(workers)

    served: ConcurrentListener | None = None
    if listener is not None:
        listener.store.by_originator = True
        served = ConcurrentListener(listener)
        served.start()
    ids = batch.MessageIds()

    def make_parallel() -> MoveWorker:
        worker = MoveWorker(settings, logger, None, record, max_pdu, layer, display, ids)
        workers.append(worker)
        return worker

    runner = batch.Runner(settings, record, make_parallel, logger, done=done)
    try:
        runner.run_parallel(settings.parallel)
    except BaseException:
        for each in workers:
            each.abort()
        raise
    finally:
        if served is not None:
            served.close(select_wait(settings.dimse_timeout) or 5.0)
    for _, exc in runner.failures:
        if isinstance(exc, FatalError):
            raise exc
    return _combined_exit(workers)


__all__ = ["run", "status_text", "final_status_effect", "MoveSCU", "MoveWorker", "Listener", "handle_store"]


