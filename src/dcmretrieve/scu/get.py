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
from typing import TYPE_CHECKING

from ..net import association as A
from ..dicom import dicts
from .. import oflog
from ..dicom import sopclasses
from ..store.pipeline import ObjectInfo, StorePipeline, bit_preserving_name, getscu_name

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

    from ..settings import Settings

MAX_PEER_HOST = 57
FAILURE = 1


class _SessionFailed(Exception):
    """A DIMSE-level failure of a C-GET session: getscu exits 1 immediately."""


class GetSCU:
    """State of one getscu run (one association)."""

    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.app = oflog.app_logger("getscu")
        self.net = logging.getLogger(oflog.NET)
        self.assoc: A.Association | None = None
        self.get_pc: A.NegotiatedContext | None = None
        self.last_response: A.Command | None = None
        if settings.ignore:
            mode, rule = "ignore", getscu_name
        elif settings.bit_preserving:
            mode, rule = "bit-preserving", bit_preserving_name
        else:
            mode, rule = "normal", getscu_name
        self.pipeline = StorePipeline(settings.output_directory, mode, self.net, rule,
                                      overwrite_warning=mode == "normal", on_received=self._received)

    def _received(self, info: "ObjectInfo") -> None:
        self.net.debug("Received dataset on presentation context %d", info.pc_id)

    # ---- association ----------------------------------------------------------
    def params(self) -> A.AssociationParams:
        s = self.settings
        return A.AssociationParams(
            calling_ae=A.truncate_ae(s.aetitle),
            called_ae=A.truncate_ae(s.call),
            peer_host=s.peer,
            peer_port=s.port,
            max_pdu=s.max_pdu,
            contexts=A.getscu_contexts(s.model, s.propose_xfer, s.prefer_xfer),
            connect_timeout=s.timeout,
            acse_timeout=s.acse_timeout,
            dimse_timeout=s.dimse_timeout,
        )

    def negotiate(self) -> int | None:
        """Establish the association; returns an exit code on failure."""
        s = self.settings
        max_pdu = A.receive_pdu_size(s.max_pdu, self.net)  # ASC_createAssociationParameters
        if len(s.peer) > MAX_PEER_HOST:
            self.net.error("Maximum length of peer host name '%s' is longer than maximum of %d characters",
                           s.peer, MAX_PEER_HOST)
            self.app.fatal("0001:0007 Illegal call, perhaps wrong parameters")
            return FAILURE
        params = self.params()
        params.max_pdu = max_pdu
        self.net.log(oflog.TRACE, "Configured 0 presentation contexts from config file")
        self.net.log(oflog.TRACE, "Adding another %d presentation contexts configured for SCU", len(params.contexts))
        self.net.debug("Configured a total of %d presentation contexts for SCU", len(params.contexts))
        dump_level = oflog.INFO if s.verbose_pc else oflog.DEBUG
        if self.net.isEnabledFor(dump_level):
            self.net.log(dump_level, "Request Parameters:\n%s", A.dump_associate_rq(params))
        self.net.info("Requesting Association")
        try:
            self.assoc = A.Association.request(params, self.net)
        except A.AssociationError as exc:
            if exc.kind == "rejected":
                result, source, reason = exc.reject_lines()
                self.net.debug("Association Rejected:\nResult: %s, Source: %s\nReason: %s", result, source, reason)
            elif exc.kind == "no-contexts":
                self.net.error("No Acceptable Presentation Contexts")
            else:
                if exc.kind == "illegal-parameter":
                    self.net.error("%s", exc.condition.text)
                self.net.debug("Association Request Failed: %s", exc.condition.dump())
            self.app.fatal("Could not negotiate association: %s", exc.condition.text)
            return FAILURE
        assoc = self.assoc
        if self.net.isEnabledFor(dump_level):
            self.net.log(dump_level, "Association Parameters Negotiated:\n%s", A.dump_associate_ac(assoc))
        self.net.info("Association Accepted (Max Send PDV: %d)", assoc.max_send_pdv)
        get_class = sopclasses.QR_MODELS[s.model][2]
        self.get_pc = assoc.accepted_context(get_class)
        if self.get_pc is None:
            self.app.fatal("No adequate Presentation Contexts for sending C-GET")
            assoc.close()  # getscu exit()s here: no A-RELEASE, no A-ABORT
            return FAILURE
        return None

    # ---- requests -----------------------------------------------------------------
    def load_query(self, path: str) -> "Dataset":
        from ..dicom.query import QueryFileError, load_query_file

        try:
            return load_query_file(path)
        except QueryFileError as exc:
            self.app.fatal("%s", _condition_dump(exc))
            raise _SessionFailed() from None

    def run_requests(self) -> None:
        """The loop of getscu.md §3.1 (all query files processed: deviation #1)."""
        from pydicom import Dataset

        from ..dicom.keys import apply_get_keys

        s = self.settings
        files = list(s.query_files)
        for _repeat in range(max(1, s.repeat)):
            self.last_response = None
            sources: list[str | None] = list(files) if files else [None]
            for source in sources:
                ds = self.load_query(source) if source is not None else Dataset()
                apply_get_keys(ds, s.keys, self.app)
                self.c_get(ds)
            if self.last_response is not None:
                self.final_report(self.last_response)

    def c_get(self, ds: "Dataset") -> None:
        from ..dicom.keys import log_repairs, repair_uids, unconvertible_identifier

        assoc, ctx = self.assoc, self.get_pc
        assert assoc is not None and ctx is not None
        msg_id = assoc.next_message_id()
        cmd = A.c_get_rq(msg_id, ctx.abstract_syntax)
        # UIDs read with white space: corrected now, warned about where DCMTK
        # prints or writes them (after "Sending C-GET Request", keys.md)
        repairs = repair_uids(ds)
        try:
            data = A.encode_identifier(ds, ctx.transfer_syntax)
        except Exception:  # noqa: BLE001 - a value pydicom cannot encode: DCMTK's "bad data"
            self.net.error("Failed sending C-GET request: %s", A.COND_BAD_DATA.dump())
            raise _SessionFailed() from None
        if self.net.isEnabledFor(oflog.DEBUG):
            from ..dicom.dump import dump_dataset

            self.net.info("Sending C-GET Request")
            log_repairs(repairs)
            # a warning logged while the message is built stays in front of it
            clobbered = repairs[-1][0] if repairs else ""
            self.net.debug("%s", clobbered + A.dump_command(cmd, True, ctx.id, dump_dataset(ds, ctx.transfer_syntax)))
        else:
            self.net.info("Sending C-GET Request (MsgID %d)", msg_id)
            log_repairs(repairs)
        problem = dicts.dimse_request_problem()
        if problem is not None:
            # DCMTK builds the command set with its data dictionary: without one
            # (or without the command group) every request fails here, after the
            # request was logged, and getscu exits 1 without A-RELEASE (observed)
            self.net.error("Failed sending C-GET request: %s", problem)
            raise _SessionFailed()
        try:
            unconvertible = unconvertible_identifier(ds, ctx.transfer_syntax)
            if unconvertible is not None:  # DIMSE's check before sending (keys.md)
                self.net.warning("DIMSE Warning: (%s,%s): sendMessage: %s", assoc.calling_ae, assoc.called_ae,
                                 unconvertible)
                raise A.DimseError(A.COND_SEND_FAILED)
            assoc.send_command(ctx.id, cmd, data)
        except A.DimseError as exc:
            self.net.error("Failed sending C-GET request: %s", exc.condition.dump())
            raise _SessionFailed() from None
        self.session()

    def session(self) -> None:
        """Read C-GET-RSPs and C-STORE-RQs until the final response (getscu.md §3.2)."""
        assoc = self.assoc
        assert assoc is not None
        debug = self.net.isEnabledFor(oflog.DEBUG)
        while True:
            try:
                pc_id, cmd = assoc.receive_command()
            except A.DimseError as exc:
                self.net.error("Failed receiving DIMSE command: %s", exc.condition.dump())
                raise _SessionFailed() from None
            field = cmd.command_field
            if field == A.C_GET_RSP:
                if debug:
                    self.net.info("Received C-GET Response")
                    self.net.debug("%s", A.dump_command(cmd, False, pc_id))
                    self.net.debug("Handling C-GET Response")
                else:
                    self.net.info("Received C-GET Response (%s)", A.dimse_status_text(cmd.status))
                self.last_response = cmd
                kind = A.status_class(cmd.status)
                if kind == "pending":
                    self.net.debug("DIMSE status is: Pending")
                    continue
                if kind == "success":
                    self.net.debug("DIMSE status is: Success")
                elif kind == "warning":
                    self.net.warning("DIMSE status is: %s", A.dimse_status_text(cmd.status))
                else:
                    self.net.error("DIMSE status is: %s", A.dimse_status_text(cmd.status))
                return
            if field == A.C_STORE_RQ:
                if not self.store(pc_id, cmd, debug):
                    return
                continue
            self.net.error("Expected C-GET response or C-STORE request but received DIMSE command 0x%04x", field)
            self.net.debug("%s", A.dump_command(cmd, False, pc_id))
            raise _SessionFailed()

    def store(self, pc_id: int, cmd: A.Command, debug: bool) -> bool:
        """Handle one C-STORE-RQ; False when the session ends (getscu.md §4)."""
        assoc = self.assoc
        assert assoc is not None
        if debug:
            self.net.info("Received C-STORE Request")
            self.net.debug("%s", A.dump_command(cmd, False, pc_id))
        else:
            self.net.info("Received C-STORE Request (MsgID %d)", cmd.message_id)
        # (a C-STORE-RQ announcing no data set never gets here: like DCMTK's DIMSE
        # layer, Association.receive_command refuses it, so DcmSCU's "Incoming
        # C-STORE with no dataset" warning is unreachable in 3.6.7 too)
        ctx = assoc.contexts.get(pc_id)
        ts = ctx.transfer_syntax if ctx is not None else A.IMPLICIT_LE
        if self.pipeline.mode == "ignore":
            self.net.debug("Ignoring incoming C-STORE dataset on presentation context %d with Affected SOP "
                           "Instance UID: %s", pc_id, cmd.affected_sop_instance_uid)
        result = self.pipeline.receive(assoc, pc_id, cmd, ts)
        status, keep_going = 0x0000, True
        if result.kind in ("stored", "ignored"):
            if result.kind == "stored":
                info = result.info
                sop_class = info.dataset_sop_class if self.pipeline.mode == "normal" else info.request_sop_class
                sop_inst = info.dataset_sop_instance if self.pipeline.mode == "normal" else info.request_sop_instance
                self.net.debug("Stored instance to disk:\n  Filename: %s\n  SOP Class UID: %s\n"
                               "  SOP Instance UID: %s", result.path, sop_class, sop_inst)
        elif result.kind == "receive-error":
            # DCMTK (observed): normal mode names the failure, +B and --ignore say
            # nothing; the 0xC000 answer then fails if the peer has gone (exit 1 below)
            if self.pipeline.mode == "bit-preserving":
                self.net.debug("Received dataset on presentation context %d", pc_id)
            elif self.pipeline.mode == "normal":
                error = result.error
                dump = error.condition.dump() if isinstance(error, A.DimseError) else A.COND_RECEIVE_FAILED.dump()
                self.net.error("Unable to receive dataset on presentation context %d: %s", pc_id, dump)
            status, keep_going = 0xC000, False
        elif result.kind == "missing-uid":
            self.net.error("Cannot store received object: either SOP Instance or SOP Class UID not present")
            status, keep_going = 0xC000, False
        elif result.kind == "create-error":
            self.net.error("Unable to receive and store dataset on presentation context %d: %s",
                           pc_id, result.error)
            status, keep_going = 0xC000, False
        else:  # write-error
            if self.pipeline.mode == "normal":
                self.net.error("cannot write DICOM file: %s", result.path)
            else:
                self.net.error("Unable to receive and store dataset on presentation context %d: %s",
                               pc_id, f"0006:020a DIMSE createFilestream: cannot create file '{result.path}'")
            status, keep_going = 0xC000, False
        rsp = A.c_store_rsp(cmd, status)
        if debug:
            self.net.info("Sending C-STORE Response")
            self.net.debug("%s", A.dump_command(rsp, True, pc_id))
        else:
            self.net.info("Sending C-STORE Response (%s)", A.store_status_text(status))
        try:
            assoc.send_command(pc_id, rsp)
        except A.DimseError as exc:
            self.net.error("Failed sending C-STORE response: %s", exc.condition.dump())
            raise _SessionFailed() from None
        return keep_going

    def final_report(self, rsp: A.Command) -> None:
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
        if self.settings.abort:
            self.net.info("Aborting Association")
            assoc.abort()
        else:
            self.net.info("Releasing Association")
            try:
                assoc.release()
            except A.DimseError as exc:
                self.net.error("Association Release Failed: %s", exc.condition.dump())
                self.net.info("Aborting Association")
                assoc.abort()
        self.net.debug("Cleaning up internal association and network structures")

    def close(self) -> None:
        """Drop the connection without A-RELEASE/A-ABORT (DCMTK just exits)."""
        if self.assoc is not None:
            self.assoc.close()


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


def run(settings: "Settings") -> int:
    """getscu's whole network part; returns the exit code."""
    scu = GetSCU(settings)
    try:
        failed = scu.negotiate()
        if failed is not None:
            return failed
        try:
            scu.run_requests()
        except _SessionFailed:
            scu.close()
            return FAILURE
        scu.finish()
        return 0
    except BaseException:
        if scu.assoc is not None:
            scu.assoc.abort()
        raise
