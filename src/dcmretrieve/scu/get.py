"""getscu's network part: one association, C-GET requests, C-STOREs answered on it.

``run(settings) -> int`` is called by ``app`` after the command line and the
output-directory checks passed.  It follows DCMTK 3.6.7's DcmSCU-based
getscu step by step (getscu.md §2-§5, logging.md §4.2), so that messages,
their loggers and levels, and the exit status match:

* almost every runtime failure exits 1; C-GET statuses never change the exit
  status (0 even after a failed C-GET);
* a DIMSE failure during a C-GET session exits 1 at once (no release/abort);
* a C-STORE that cannot be stored is answered 0xC000 and ends the session,
  leaving the peer's further messages unread, so the following A-RELEASE
  fails with "DUL P-Data PDU arrived" and the association is aborted -- the
  same happens after a C-GET-RSP that carries a data set, which getscu never
  reads (kept, documented in docs/deviations.md);
* deviations: every query file is processed (#1), ``+xi``/``-xi`` propose
  Implicit VR LE (#4), file names sanitised and written via temporary files
  (#2, #5), TCP_NODELAY on by default (#6).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from .. import oflog
from ..dicom import dicts, sopclasses
from ..dicom.uids import IMPLICIT_LE
from ..errors import FatalError
from ..exitcodes import GETSCU_FAILURE, ExitCode
from ..net.conditions import COND_BAD_DATA, Condition, COND_RECEIVE_FAILED, COND_SEND_FAILED, AssociationError, AssociationFailure, DimseError
from ..net.dimse import C_GET_RSP, C_STORE_RQ, Command, c_get_rq, c_store_rsp, encode_identifier
from ..net.dumps import dump_command
from ..net.params import AssociationParams, NegotiatedContext
from ..net.status import StatusClass, dimse_status_text, status_class, store_status_text
from ..net.transport import Association, receive_pdu_size
from ..store.pipeline import (
    BIT_PRESERVING_WRITE_FAILED, ObjectInfo, StoreMode, StoreOutcome, StorePipeline, bit_preserving_name, getscu_name,
)
from . import batch, common
from .policy import getscu_contexts
from .summary import Recorder

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

    from ..dicom.ident import Identifier
    from .progress import Progress

    from ..settings import Settings

MAX_PEER_HOST = 57


def _session_failed() -> FatalError:
    """A DIMSE-level failure of a C-GET session, already logged: getscu
    drops the connection and exits 1 at once."""
    return FatalError(exit_code=GETSCU_FAILURE, logged=True)


class GetSCU:
    """State of one getscu run (one association).  ``record`` collects the
    outcome for --strict-exit and --summary-json (``summary.Recorder``)."""

    def __init__(self, settings: "Settings", record: Recorder | None = None,
                 display: "Progress | None" = None) -> None:
        self.settings = settings
        self.record = record if record is not None else Recorder(settings)
        self.app = oflog.app_logger("getscu")
        self.net = logging.getLogger(oflog.NET)
        self.assoc: Association | None = None
        self.tls: object | None = None  # the TLS layer (+tls/+tla), set by run()
        self.get_pc: NegotiatedContext | None = None
        self.last_response: Command | None = None
        #: where message IDs come from (--parallel: unique across associations)
        self.message_ids: "Callable[[], int] | None" = None
        #: what made the last failure (--retry decides on it)
        self.association_error: AssociationError | None = None
        self.failed_condition: "Condition | None" = None
        mode = common.store_mode(settings)
        self.display = display  # --progress (shared by the associations of a batch)
        rule = bit_preserving_name if mode is StoreMode.BIT_PRESERVING else getscu_name
        self.pipeline = StorePipeline(settings.output_directory, mode, self.net, rule,
                                      overwrite_warning=mode is StoreMode.NORMAL, on_received=self._received,
                                      bp_read_on=True,  # DcmSCU reads a data set to its end
                                      layout=common.output_layout(settings),
                                      meter=self.display.bytes_in if self.display else None)

    def _received(self, info: "ObjectInfo") -> None:
        self.net.debug("Received dataset on presentation context %d", info.pc_id)

    # ---- association ----------------------------------------------------------
    def params(self, max_pdu: int) -> AssociationParams:
        s = self.settings
        return common.association_params(s, getscu_contexts(s.model, s.propose_xfer, s.prefer_xfer), max_pdu,
                                         truncate_titles=True, tls=self.tls)

    def negotiate(self) -> None:
        """Establish the association; raises FatalError on failure."""
        s = self.settings
        max_pdu = receive_pdu_size(s.max_pdu, self.net)  # ASC_createAssociationParameters
        if len(s.peer) > MAX_PEER_HOST:
            self.net.error("Maximum length of peer host name '%s' is longer than maximum of %d characters",
                           s.peer, MAX_PEER_HOST)
            self.record.association_failed()
            raise FatalError("0001:0007 Illegal call, perhaps wrong parameters", GETSCU_FAILURE,
                             strict_code=ExitCode.CANNOT_NEGOTIATE_ASSOCIATION)
        params = self.params(max_pdu)
        self.net.log(oflog.TRACE, "Configured 0 presentation contexts from config file")
        self.net.log(oflog.TRACE, "Adding another %d presentation contexts configured for SCU", len(params.contexts))
        self.net.debug("Configured a total of %d presentation contexts for SCU", len(params.contexts))
        dump_level = oflog.INFO if s.verbose_pc else oflog.DEBUG
        try:
            self.assoc = common.request_association(params, self.net, dump_level, self.net)
        except AssociationError as exc:
            self.association_error = exc
            if exc.kind is AssociationFailure.REJECTED:
                result, source, reason = exc.reject_lines()
                self.net.debug("Association Rejected:\nResult: %s, Source: %s\nReason: %s", result, source, reason)
            elif exc.kind is AssociationFailure.NO_CONTEXTS:
                self.net.error("No Acceptable Presentation Contexts")
            else:
                if exc.kind is AssociationFailure.ILLEGAL_PARAMETER:
                    self.net.error("%s", exc.condition.text)
                self.net.debug("Association Request Failed: %s", exc.condition.dump())
            self.record.association_failed()
            strict = ExitCode.NO_PRESENTATION_CONTEXT if exc.kind is AssociationFailure.NO_CONTEXTS \
                else ExitCode.CANNOT_NEGOTIATE_ASSOCIATION
            raise FatalError(f"Could not negotiate association: {exc.condition.text}", GETSCU_FAILURE,
                             strict_code=strict) from None
        assoc = self.assoc
        self.record.association_accepted()
        common.association_accepted(assoc, self.net, dump_level)
        get_class = sopclasses.QR_MODELS[s.model][2]
        self.get_pc = assoc.accepted_context(get_class)
        if self.get_pc is None:
            assoc.close()  # getscu exit()s here: no A-RELEASE, no A-ABORT
            raise FatalError("No adequate Presentation Contexts for sending C-GET", GETSCU_FAILURE,
                             strict_code=ExitCode.NO_PRESENTATION_CONTEXT)

    # ---- requests -----------------------------------------------------------------
    def load_query(self, path: str | None) -> "Dataset":
        from ..dicom.query import QueryFileError

        try:
            return common.load_query(path)[0]
        except QueryFileError as exc:
            text = _condition_dump(exc)
            self.record.request_error(text)
            raise FatalError(text, GETSCU_FAILURE) from None

    def perform(self, request: batch.Request) -> int | None:
        """One request of the loop of getscu.md §3.1 (all query files
        processed: deviation #1; ``batch`` runs the loop); the final status.
        The last query file of a round prints the round's final report."""
        from ..dicom.ident import Identifier
        from ..dicom.keys import apply_get_keys, plain_get_keys

        s = self.settings
        files: list[str | None] = list(s.query_files) or [None]
        if request.source == files[0] and request.index % len(files) == 0:
            self.last_response = None  # a new round
        self.failed_condition = None
        if self.display:
            self.display.begin_request()
        source = request.source

        def build() -> "Dataset":
            ds = self.load_query(source)
            apply_get_keys(ds, s.keys, self.app)
            return ds

        # no query file and plain keys: no pydicom unless a dump or summary wants it
        self.c_get(Identifier(build, plain_get_keys(s.keys) if source is None else None))
        last = self.last_response
        if request.index % len(files) == len(files) - 1 and last is not None:
            self.final_report(last)
        return None if last is None else last.status

    def c_get(self, ident: "Identifier") -> None:
        from ..dicom.keys import log_repairs

        assoc, ctx = self.assoc, self.get_pc
        assert assoc is not None and ctx is not None
        msg_id = assoc.next_message_id() if self.message_ids is None else self.message_ids()
        cmd = c_get_rq(msg_id, ctx.abstract_syntax)
        # UIDs read with white space: corrected now, warned about where DCMTK
        # prints or writes them (after "Sending C-GET Request", keys.md)
        repairs = ident.repair_uids()
        self.record.identifier(ident, msg_id)
        try:
            data = encode_identifier(ident, ctx.transfer_syntax)
        except Exception:  # noqa: BLE001 - a value pydicom cannot encode: DCMTK's "bad data"
            self.net.error("Failed sending C-GET request: %s", COND_BAD_DATA.dump())
            self.record.request_error(f"Failed sending C-GET request: {COND_BAD_DATA.dump()}")
            raise _session_failed() from None
        common.log_message(self.net, "Sending C-GET Request", f"MsgID {msg_id}", cmd, True, ctx.id,
                           lambda: _dump_identifier(ident, ctx.transfer_syntax),
                           after_text=lambda: log_repairs(repairs),
                           # a warning logged while the message is built stays in front of it
                           dump_prefix=repairs[-1][0] if repairs else "")
        problem = dicts.dimse_request_problem()
        if problem is not None:
            # DCMTK builds the command set with its data dictionary: without one
            # (or without the command group) every request fails here, after the
            # request was logged, and getscu exits 1 without A-RELEASE (observed)
            self.net.error("Failed sending C-GET request: %s", problem)
            self.record.request_error(f"Failed sending C-GET request: {problem}")
            raise _session_failed()
        try:
            unconvertible = ident.unconvertible(ctx.transfer_syntax)
            if unconvertible is not None:  # DIMSE's check before sending (keys.md)
                self.net.warning("DIMSE Warning: (%s,%s): sendMessage: %s", assoc.calling_ae, assoc.called_ae,
                                 unconvertible)
                raise DimseError(COND_SEND_FAILED)
            assoc.send_command(ctx.id, cmd, data)
        except DimseError as exc:
            self.failed_condition = exc.condition
            self.net.error("Failed sending C-GET request: %s", exc.condition.dump())
            self.record.request_error(f"Failed sending C-GET request: {exc.condition.dump()}")
            raise _session_failed() from None
        self.session()

    def session(self) -> None:
        """Read C-GET-RSPs and C-STORE-RQs until the final response (getscu.md §3.2)."""
        assoc = self.assoc
        assert assoc is not None
        while True:
            try:
                pc_id, cmd = assoc.receive_command()
            except DimseError as exc:
                self.failed_condition = exc.condition
                self.net.error("Failed receiving DIMSE command: %s", exc.condition.dump())
                self.record.request_error(f"Failed receiving DIMSE command: {exc.condition.dump()}")
                raise _session_failed() from None
            field = cmd.command_field
            if field == C_GET_RSP:
                common.log_message(self.net, "Received C-GET Response", dimse_status_text(cmd.status), cmd, False,
                                   pc_id)
                self.net.debug("Handling C-GET Response")
                self.last_response = cmd
                if self.display:
                    self.display.response(cmd)
                kind = status_class(cmd.status)
                if kind is StatusClass.PENDING:
                    self.net.debug("DIMSE status is: Pending")
                    continue
                if kind is StatusClass.SUCCESS:
                    self.net.debug("DIMSE status is: Success")
                elif kind is StatusClass.WARNING:
                    self.net.warning("DIMSE status is: %s", dimse_status_text(cmd.status))
                else:
                    self.net.error("DIMSE status is: %s", dimse_status_text(cmd.status))
                # getscu never reads a C-GET-RSP's data set (DCMTK does not):
                # no Failed SOP Instance UID List
                self.record.final_response(cmd.status, cmd.counter)
                return
            if field == C_STORE_RQ:
                if not self.store(pc_id, cmd):
                    self.record.request_error("a C-STORE sub-operation failed (answered with an error status); "
                                              "the C-GET session ended there")
                    return
                continue
            self.net.error("Expected C-GET response or C-STORE request but received DIMSE command 0x%04x", field)
            self.net.debug("%s", dump_command(cmd, False, pc_id))
            self.record.request_error(f"Expected C-GET response or C-STORE request but received DIMSE "
                                      f"command 0x{field:04x}")
            raise _session_failed()

    def store(self, pc_id: int, cmd: Command) -> bool:
        """Handle one C-STORE-RQ; False when the session ends (getscu.md §4)."""
        assoc = self.assoc
        assert assoc is not None
        common.log_message(self.net, "Received C-STORE Request", f"MsgID {cmd.message_id}", cmd, False, pc_id)
        # (a C-STORE-RQ announcing no data set never gets here: like DCMTK's DIMSE
        # layer, Association.receive_command refuses it, so DcmSCU's "Incoming
        # C-STORE with no dataset" warning is unreachable in 3.6.7 too)
        ctx = assoc.contexts.get(pc_id)
        ts = ctx.transfer_syntax if ctx is not None else IMPLICIT_LE
        mode = self.pipeline.mode
        if mode is StoreMode.IGNORE:
            self.net.debug("Ignoring incoming C-STORE dataset on presentation context %d with Affected SOP "
                           "Instance UID: %s", pc_id, cmd.affected_sop_instance_uid)
        result = self.pipeline.receive(assoc, pc_id, cmd.affected_sop_class_uid, cmd.affected_sop_instance_uid, ts)
        if self.display:
            self.display.object_done()
        status, keep_going = 0x0000, True
        if result.ok:
            if result.kind is StoreOutcome.STORED:
                info = result.info
                normal = mode is StoreMode.NORMAL
                sop_class = info.dataset_sop_class if normal else info.request_sop_class
                sop_inst = info.dataset_sop_instance if normal else info.request_sop_instance
                self.net.debug("Stored instance to disk:\n  Filename: %s\n  SOP Class UID: %s\n"
                               "  SOP Instance UID: %s", result.path, sop_class, sop_inst)
        elif result.kind is StoreOutcome.RECEIVE_ERROR:
            # DCMTK (observed): normal mode names the failure, +B and --ignore say
            # nothing; the 0xC000 answer then fails if the peer has gone (exit 1 below)
            if mode is StoreMode.BIT_PRESERVING:
                self.net.debug("Received dataset on presentation context %d", pc_id)
            elif mode is StoreMode.NORMAL:
                error = result.error
                dump = error.condition.dump() if isinstance(error, DimseError) else COND_RECEIVE_FAILED.dump()
                self.net.error("Unable to receive dataset on presentation context %d: %s", pc_id, dump)
            status, keep_going = 0xC000, False
        elif result.kind is StoreOutcome.MISSING_UID:
            self.net.error("Cannot store received object: either SOP Instance or SOP Class UID not present")
            status, keep_going = 0xC000, False
        elif result.kind is StoreOutcome.CREATE_ERROR:
            self.net.error("Unable to receive and store dataset on presentation context %d: %s",
                           pc_id, result.error)
            status, keep_going = 0xC000, False
        else:  # write-error
            if mode is StoreMode.NORMAL:
                self.net.error("cannot write DICOM file: %s", result.path)
            elif result.error == BIT_PRESERVING_WRITE_FAILED:
                # +B, a write failed while streaming (disk full): DCMTK
                # (observed) reads the data set to its end, says nothing but
                # the debug line, answers 0xC000 and ends the session; the
                # C-GET-RSP then fails the A-RELEASE ("DUL P-Data PDU arrived")
                self.net.debug("Received dataset on presentation context %d", pc_id)
            else:
                self.net.error("Unable to receive and store dataset on presentation context %d: %s",
                               pc_id, f"0006:020a DIMSE createFilestream: cannot create file '{result.path}'")
            status, keep_going = 0xC000, False
        self.record.object(result, status, self.settings.output_directory)
        rsp = c_store_rsp(cmd, status)
        common.log_message(self.net, "Sending C-STORE Response", store_status_text(status), rsp, True, pc_id)
        try:
            assoc.send_command(pc_id, rsp)
        except DimseError as exc:
            self.failed_condition = exc.condition
            self.net.error("Failed sending C-STORE response: %s", exc.condition.dump())
            self.record.request_error(f"Failed sending C-STORE response: {exc.condition.dump()}")
            raise _session_failed() from None
        return keep_going

    def final_report(self, rsp: Command) -> None:
        def n(name: str) -> int:
            value = rsp.counter(name)
            return 0 if value is None else value

        self.app.info("Final status report from last C-GET message:")
        self.net.info("  Number of Remaining Suboperations : %d", n("remaining"))
        self.net.info("  Number of Completed Suboperations : %d", n("completed"))
        self.net.info("  Number of Failed Suboperations    : %d", n("failed"))
        self.net.info("  Number of Warning Suboperations   : %d", n("warning"))

    def finish(self) -> None:
        assoc = self.assoc
        assert assoc is not None
        failed = common.end_association(assoc, self.settings.abort, self.net)
        if failed is not None:
            self.record.release_failed = True
            self.net.error("Association Release Failed: %s", failed.condition.dump())
            self.net.info("Aborting Association")
            assoc.abort()
        self.net.debug("Cleaning up internal association and network structures")

    def close(self) -> None:
        """Drop the connection without A-RELEASE/A-ABORT (DCMTK just exits)."""
        if self.assoc is not None:
            self.assoc.close()


def _dump_identifier(ident: "Identifier", ts_uid: str) -> str:
    from ..dicom import dump  # only at debug level

    if ident.elements is not None:  # plain -k keys: no pydicom for the dump either
        return dump.dump_plain(ident.elements)
    return dump.dump_dataset(ident.dataset, ts_uid)


def _condition_dump(exc: Exception) -> str:
    """``mmmm:cccc text`` of a query file error (getscu prints the full dump)."""
    for attr in ("dump", "condition"):
        value = getattr(exc, attr, None)
        if callable(value):
            value = value()
        if isinstance(value, str) and value[:4].isalnum() and value[4:5] == ":":
            return value
    reason = str(getattr(exc, "reason", "") or exc)
    if reason[:4].isalnum() and reason[4:5] == ":":
        return reason
    code = _DCMDATA_CODES.get(reason)
    return f"0001:{code:04x} {reason}" if code is not None else reason


#: dcmdata condition codes (module 0001) for texts a query file load can produce.
_DCMDATA_CODES = {
    "Invalid stream": 0x0004,
    "Invalid tag": 0x0001,
    "Tag not found": 0x0002,
    "Invalid VR": 0x0003,
    "Illegal call, perhaps wrong parameters": 0x0007,
    "I/O suspension or premature end of stream": 0x000A,
    "Read after end of stream": 0x0018,
    "No such file or directory": 0x0000,  # DCMTK wraps errno texts; code unknown
}


class GetWorker:
    """getscu's ``batch.Worker``: one ``GetSCU``, i.e. one association."""

    def __init__(self, settings: "Settings", record: Recorder, message_ids: "Callable[[], int] | None" = None,
                 tls: object | None = None, display: "Progress | None" = None) -> None:
        self.scu = GetSCU(settings, record, display)
        self.scu.message_ids = message_ids
        self.scu.tls = tls

    def open(self) -> None:
        self.scu.negotiate()

    def perform(self, request: batch.Request) -> int | None:
        return self.scu.perform(request)

    def transient(self, exc: BaseException) -> str | None:
        if not isinstance(exc, FatalError):
            return None
        scu = self.scu
        if scu.assoc is None and scu.association_error is not None:
            return batch.transient_association(scu.association_error)
        return batch.transient_condition(scu.failed_condition)

    def retry_status(self) -> None:
        pass  # a C-GET status never changes getscu's exit status

    def drop(self) -> None:
        if self.scu.assoc is not None:
            self.scu.assoc.abort()

    def fail(self, exc: BaseException) -> None:
        self.scu.close()  # DCMTK exit()s: no A-RELEASE, no A-ABORT
        raise exc

    def finish(self) -> None:
        self.scu.finish()

    def abort(self) -> None:
        if self.scu.assoc is not None:
            self.scu.assoc.abort()  # nothing sent once the connection was dropped


def run(settings: "Settings", record: Recorder | None = None) -> int:
    """getscu's whole network part; returns the exit code (0: C-GET statuses
    never change it), raises ``FatalError`` (exit 1) on failures.  ``record``
    collects the outcome (--strict-exit, --summary-json).  The requests run
    through ``batch`` (--parallel, --retry, --resume; without them: one
    association, one request after the other, as DCMTK)."""
    record = record if record is not None else Recorder(settings)
    # DCMTK 3.7.0: the TLS layer is created before the network (failure: exit 1)
    layer = common.tls_layer(settings, GETSCU_FAILURE)
    done = batch.resume_keys(settings, GETSCU_FAILURE)
    ids = batch.MessageIds() if settings.parallel > 1 else None
    # --progress: one display for the whole batch, whatever the associations
    display = common.progress_display(settings, max(1, settings.repeat) * max(1, len(settings.query_files)))
    runner = batch.Runner(settings, record, lambda: GetWorker(settings, record, ids, layer, display),
                          logging.getLogger(oflog.NET), done=done)
    try:
        if settings.parallel > 1:
            runner.run_parallel(settings.parallel)
            if runner.failures:
                raise runner.failures[0][1]
            return ExitCode.NO_ERROR
        worker = runner.run_sequential()
        if worker is not None:
            worker.finish()
        return ExitCode.NO_ERROR
    except BaseException:
        for each in runner.workers:
            each.abort()  # type: ignore[attr-defined]
        raise
    finally:
        if display:
            display.close()
