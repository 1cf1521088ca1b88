"""fakeqr: a small, scriptable Query/Retrieve SCP for provoking edge cases.

Why: real archives (dcmqrscp, Orthanc) never send warning statuses, data sets
on Pending responses, lying C-STORE requests, hostile SOP Instance UIDs, aborts
in the middle of a P-DATA stream or 1 GB objects on demand.  The spec's rig
used such a "fakeqr" (not shipped); this is ours.  It runs as its own process
(``python tests/support/fakeqr.py --port N``; ``servers.FakeQR`` starts it) so a test
can crash, stall or abort it without touching the test process.

It is built on pynetdicom, but the Q/R requests bypass pynetdicom's service
classes (``Association._serve_request`` is replaced for C-ECHO/FIND/GET/MOVE):
those compute counts and statuses themselves, while a fault injector must put
exact values on the wire.  C-STORE sub-operations are sent by our own loop,
which streams a data set from its file (bounded queue, so a 1 GB object never
sits in memory) and can put any Affected SOP Instance UID in the request.

Modes (``--mode``):

``qr`` (default)
    Patient Root and Study Root FIND/GET/MOVE, Verification, all storage SOP
    classes (with SCP/SCU role selection for C-GET).
``nofind``
    FIND models, Verification and storage (with role selection), but no
    GET/MOVE: getscu's association is accepted and it then reports "No
    adequate Presentation Contexts for sending C-GET"; movescu's is rejected.
``storeonly``
    Only Verification + storage; received objects go to ``--store-dir`` as
    ``<SOPInstanceUID>.dcm``.  A Q/R request finds no context.
``stalltcp``
    Accepts TCP connections and never answers (for ``-ta``/``-to`` tests).

By default one process serves every association (one thread each), so the
cross-association faults (``--refuse-first``, the ``*ONCE`` PatientIDs) see
each other.  ``--fork`` (benchmarks) serves each association in a forked child
process instead, like dcmqrscp's fork mode: a latency-bound PACS whose
associations do not share one interpreter lock.
``--pre-encode`` (benchmarks) writes each object served (built-in,
``--data``, ``--data-dir``) in the other uncompressed little-endian VR encoding at start-up, so a
C-STORE streams whichever the peer accepted from its file instead of
re-encoding the data set per sub-operation.

Behaviour of a C-GET/C-MOVE is chosen by the PatientID of the identifier (the
objects are pydicom's CT_small, MR_small, rtplan; ``--data`` adds files):

===========  ==============================================================
PatientID    behaviour
===========  ==============================================================
(other)      real matching on PatientID (``*``/``?`` wildcards),
             StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID; one Pending
             response after each sub-operation; final Success, or 0xB000 /
             0xA702 when some / all sub-operations failed (Failed SOP
             Instance UID List in the data set); honours C-CANCEL (0xFE00)
WARN         sends MR, then final 0xB000 (remaining 1, completed 1, failed 1)
A701 A702    final status 0xA701 / 0xA702 / 0xA801 / 0xC000 / 0xC123 at once,
A801 C000    with a data set (Failed SOP Instance UID List, empty)
C123
CANCEL       sends MR, then final 0xFE00 (remaining 1, completed 1)
PENDDS       sends MR and CT; every Pending response carries a data set
DELAY        stalls ``--delay`` s before the first response (a C-MOVE opens
             the sub-association first, then stalls), then behaves normally
             for MR
SLEEPFIRST   sleeps ``--sleep-first`` s, then sends MR (time for a C-ECHO to
             the listening movescu)
ABORT        sends MR, then A-ABORT instead of a response
ABORTONCE    the first time (per server process) as ABORT, later just MR
A702ONCE     the first time final 0xA702 at once, later just MR
RELEASE      sends MR, then A-RELEASE-RQ on the main association
MISMATCH     sends MR with Affected SOP Instance UID 1.2.3.4.5.6.7 in the
             C-STORE-RQ; the data set keeps its real SOP Instance UID
EVILUID      three C-STOREs of MR whose SOP Instance UID (request and data
             set) is ``../../x``, an absolute path (``--evil-abs``, default
             ``<workdir>/outside/evil-abs``; never a system file) and a
             300-character UID
ABORTMID     starts sending a ``--abortmid-size`` object (default 8 MiB) and
             sends A-ABORT after a quarter of its P-DATA
BIG          streams a ``--big-size`` object (default 1.1e9 bytes; a sparse
             file, Multi-frame Grayscale Word SC, generated once per workdir)
TWO          sends MR twice (second write overwrites the first)
BADCTX       C-MOVE: sub-association proposes only abstract syntax
             1.2.3.4.5.6; no usable context -> final 0xA801
TS[:file]    C-MOVE: sub-association proposes MR Image Storage (or the SOP
             class of the named pydicom test file) with 11 transfer syntaxes
             (J2K-LL, JPEG-LS-LL, RLE, JPEG-LL-SV1, J2K, JPEG-Baseline,
             JPEG-Ext, Deflated, Expl-BE, Expl-LE, Impl-LE) in one context
===========  ==============================================================

C-MOVE destinations come from ``--dest AE=port`` on ``--dest-host`` (default
127.0.0.1; given more than once, the sub-associations take them in turn, so
one run can reach a dual-stack listener over IPv4 and IPv6); unknown
destination -> 0xA801; a failed sub-association -> 0xA801.  C-FIND answers
with real matches (no faults except DELAY).  C-STORE message IDs start at the
request's Message ID + 1.  Every request and every status is logged to stderr.
"""

from __future__ import annotations

import argparse
import fnmatch
import itertools
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import config as pydicom_config
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.acse import ACSE
from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_GET, C_MOVE, C_STORE
from pynetdicom.dsutils import decode, encode, split_dataset
from pynetdicom.presentation import (
    AllStoragePresentationContexts,
    PresentationContext,
    build_context,
)
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

LOG = logging.getLogger("fakeqr")

UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)
TS_MODE_SYNTAXES = (JPEG2000Lossless, JPEGLSLossless, RLELossless, JPEGLosslessSV1, JPEG2000,
                    JPEGBaseline8Bit, JPEGExtended12Bit, DeflatedExplicitVRLittleEndian,
                    ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian)
#: faults played only the first time (per server process), then MR is sent normally
ONCE = ("ABORTONCE", "A702ONCE")
IMMEDIATE_STATUS = {"A701": 0xA701, "A702": 0xA702, "A801": 0xA801, "C000": 0xC000,
                    "C123": 0xC123}
MULTIFRAME_WORD_SC = UID("1.2.840.10008.5.1.4.1.1.7.3")
FIND_MODELS = (PatientRootQueryRetrieveInformationModelFind,
               StudyRootQueryRetrieveInformationModelFind)
RETRIEVE_MODELS = (PatientRootQueryRetrieveInformationModelGet,
                   StudyRootQueryRetrieveInformationModelGet,
                   PatientRootQueryRetrieveInformationModelMove,
                   StudyRootQueryRetrieveInformationModelMove)
QUEUE_HIGH, QUEUE_LOW = 32, 8


@dataclass
class Obj:
    """One object the SCP can send: where its data set lives and what to claim."""

    path: Path
    sop_class: UID
    sop_instance: str          # Affected SOP Instance UID put into the C-STORE-RQ
    transfer_syntax: UID
    offset: int                # byte offset of the data set in the file
    patient_id: str = ""
    study_uid: str = ""
    series_uid: str = ""
    #: the same data set pre-encoded in other transfer syntaxes: TS -> (path, offset)
    alternates: dict[UID, tuple[Path, int]] = field(default_factory=dict)

    def encoded_as(self, ts: UID) -> tuple[Path, int] | None:
        if ts == self.transfer_syntax:
            return (self.path, self.offset)
        return self.alternates.get(ts)

    @classmethod
    def from_file(cls, path: Path) -> Obj:
        meta, offset = split_dataset(path)
        ds = dcmread(path, stop_before_pixels=True)
        return cls(path, UID(meta.MediaStorageSOPClassUID), str(meta.MediaStorageSOPInstanceUID),
                   UID(meta.TransferSyntaxUID), offset, str(ds.get("PatientID", "")),
                   str(ds.get("StudyInstanceUID", "")), str(ds.get("SeriesInstanceUID", "")))


class Aborted(Exception):
    """The association went away (we aborted, or the peer did)."""


# --------------------------------------------------------------------------
# data


class Store:
    """The objects served, and the fault objects generated on demand."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.objects = [Obj.from_file(testfile(n)) for n in ("CT_small.dcm", "MR_small.dcm",
                                                              "rtplan.dcm")]
        self.objects += [Obj.from_file(Path(p)) for p in args.data]
        for directory in args.data_dir:
            self.objects += [Obj.from_file(p) for p in sorted(Path(directory).glob("*.dcm"))]
        self._lock = threading.Lock()
        if args.pre_encode:
            for i, obj in enumerate(self.objects):
                self.pre_encode(obj, self.workdir / "pre-encoded" / f"{i}")

    @staticmethod
    def pre_encode(obj: Obj, stem: Path) -> None:
        """--pre-encode: write an uncompressed little-endian object in the other
        VR encoding too, so either is streamed from its file as it is (the
        default re-encodes it per C-STORE: CPU a real archive does not spend
        on every sub-operation)."""
        pair = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        if obj.transfer_syntax not in pair:
            return
        stem.parent.mkdir(parents=True, exist_ok=True)
        for ts in pair:
            if ts == obj.transfer_syntax:
                continue
            ds = dcmread(obj.path)
            ds.file_meta.TransferSyntaxUID = ts
            path = stem.with_name(f"{stem.name}-{'ex' if ts == ExplicitVRLittleEndian else 'im'}.dcm")
            ds.save_as(path, enforce_file_format=True)
            obj.alternates[ts] = (path, split_dataset(path)[1])

    @property
    def ct(self) -> Obj:
        return self.objects[0]

    @property
    def mr(self) -> Obj:
        return self.objects[1]

    def match(self, ident: Dataset) -> list[Obj]:
        def ok(value: str, key: str) -> bool:
            want = str(ident.get(key, "") or "")
            if not want or want == "*":
                return True
            if key == "PatientID":
                return fnmatch.fnmatchcase(value, want)
            return value in want.split("\\")

        return [o for o in self.objects
                if ok(o.patient_id, "PatientID") and ok(o.study_uid, "StudyInstanceUID")
                and ok(o.series_uid, "SeriesInstanceUID")
                and ok(o.sop_instance, "SOPInstanceUID")]

    def mismatch(self) -> Obj:
        mr = self.mr
        return Obj(mr.path, mr.sop_class, "1.2.3.4.5.6.7", mr.transfer_syntax, mr.offset)

    def evil(self) -> list[Obj]:
        abs_uid = self.args.evil_abs or str(self.workdir / "outside" / "evil-abs")
        uids = ["../../x", abs_uid, "1.2." + "3" * 296]
        out = []
        with self._lock:
            for i, uid in enumerate(uids):
                path = self.workdir / f"evil{i}.dcm"
                if not path.exists():
                    ds = dcmread(self.mr.path)
                    ds.SOPInstanceUID = uid
                    ds.file_meta.MediaStorageSOPInstanceUID = uid
                    ds.save_as(path, enforce_file_format=True)
                out.append(Obj(path, self.mr.sop_class, uid, self.mr.transfer_syntax,
                               split_dataset(path)[1]))
        return out

    def big(self, size: int, name: str) -> Obj:
        """A Multi-frame Grayscale Word SC of at least ``size`` bytes of pixel data.

        The pixel data is a hole in a sparse file: nothing is ever built in
        memory and the file costs no disk space on the sending side.  It is
        written in Explicit and Implicit VR Little Endian, so whichever the
        peer accepts can be streamed without re-encoding.
        """
        rows = cols = 512
        frame = rows * cols * 2
        frames = max(1, math.ceil(size / frame))
        length = frames * frame
        uid = f"1.2.826.0.1.3680043.10.1234.{length}.{1 if name == 'big' else 2}"
        paths = {}
        for ts in (ExplicitVRLittleEndian, ImplicitVRLittleEndian):
            path = self.workdir / f"{name}-{length}-{'ex' if ts == ExplicitVRLittleEndian else 'im'}.dcm"
            with self._lock:
                if not path.exists():
                    self._write_big(path, uid, ts, frames, rows, cols, length, name)
            paths[ts] = (path, split_dataset(path)[1])
        main_path, offset = paths[ExplicitVRLittleEndian]
        return Obj(main_path, MULTIFRAME_WORD_SC, uid, ExplicitVRLittleEndian, offset,
                   alternates={ImplicitVRLittleEndian: paths[ImplicitVRLittleEndian]})

    @staticmethod
    def _write_big(path: Path, uid: str, ts: UID, frames: int, rows: int, cols: int,
                   length: int, name: str) -> None:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MULTIFRAME_WORD_SC
        meta.MediaStorageSOPInstanceUID = uid
        meta.TransferSyntaxUID = ts
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = MULTIFRAME_WORD_SC
        ds.SOPInstanceUID = uid
        ds.PatientID = name.upper()
        ds.StudyInstanceUID = uid + ".1"
        ds.SeriesInstanceUID = uid + ".2"
        ds.Modality = "OT"
        ds.NumberOfFrames = frames
        ds.Rows = rows
        ds.Columns = cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        tmp = path.with_suffix(".part")
        implicit = ts == ImplicitVRLittleEndian
        ds.save_as(tmp, implicit_vr=implicit, little_endian=True, enforce_file_format=True)
        with open(tmp, "r+b") as f:
            f.seek(0, 2)
            # (7FE0,0010): implicit = tag + 4-byte length; explicit OW = tag, VR, 2 reserved, length
            header = b"\xe0\x7f\x10\x00" + (b"" if implicit else b"OW\x00\x00")
            f.write(header + length.to_bytes(4, "little"))
            f.truncate(f.tell() + length)
        tmp.rename(path)


def testfile(name: str) -> Path:
    path = get_testdata_file(name)
    if path is None:
        raise SystemExit(f"fakeqr: pydicom test file {name} not available")
    return Path(str(path))


# --------------------------------------------------------------------------
# sending


class Paused:
    """Pause an association's reactor while we use its DIMSE queue directly.

    The acceptor's reactor is already paused while it serves a request (we
    run inside it); a requestor's (C-MOVE sub-association) must be paused, as
    pynetdicom's own ``send_c_store`` does.
    """

    def __init__(self, assoc: Association) -> None:
        self.assoc = assoc

    def __enter__(self) -> None:
        self.assoc._reactor_checkpoint.clear()
        deadline = time.monotonic() + 5
        while not self.assoc._is_paused and time.monotonic() < deadline:
            time.sleep(0.0001)

    def __exit__(self, *exc: object) -> None:
        self.assoc._reactor_checkpoint.set()


def pick_context(assoc: Association, obj: Obj) -> PresentationContext | None:
    """An accepted context usable for sending ``obj`` (exact TS preferred)."""
    usable = [cx for cx in assoc.accepted_contexts
              if cx.abstract_syntax == obj.sop_class and cx.as_scu]
    for cx in usable:
        if obj.encoded_as(UID(cx.transfer_syntax[0])) is not None:
            return cx
    if obj.transfer_syntax in UNCOMPRESSED:
        for cx in usable:
            if cx.transfer_syntax[0] in UNCOMPRESSED:
                return cx
    return None


def send_pdus(assoc: Association, msg: C_STORE_RQ, cx_id: int,
              abort_fraction: float | None = None) -> None:
    """Queue the message's P-DATA PDUs with back-pressure (bounded memory).

    With ``abort_fraction`` the association is aborted after that fraction of
    the data set's PDUs has gone out.
    """
    max_pdu = assoc.dimse.maximum_pdu_size
    total = None
    if abort_fraction is not None:
        if msg._data_set_path is not None:
            path, offset = msg._data_set_path
            size = path.stat().st_size - offset
        else:
            size = len(msg.data_set.getvalue())
        total = max(1, size // max(1, max_pdu - 6)) if max_pdu else 1
    queue = assoc.dul.to_provider_queue
    for i, pdata in enumerate(msg.encode_msg(cx_id, max_pdu)):
        if not assoc.is_established:
            raise Aborted("association gone while sending")
        assoc.dul.send_pdu(pdata)
        if queue.qsize() > QUEUE_HIGH:
            while queue.qsize() > QUEUE_LOW and assoc.dul.is_alive():
                time.sleep(0.0005)
        if total is not None and i >= total * abort_fraction:
            while queue.qsize() > 0 and assoc.dul.is_alive():
                time.sleep(0.001)
            LOG.info("ABORTMID: aborting after %d of ~%d P-DATA PDUs", i + 1, total)
            assoc.abort()
            raise Aborted("aborted mid-stream")


def send_store(assoc: Association, obj: Obj, msg_id: int, move_origin: tuple[str, int] | None,
               abort_fraction: float | None = None) -> int | None:
    """Send one C-STORE-RQ for ``obj``; return the response status.

    None means no usable presentation context (a failed sub-operation).
    Raises Aborted if the association is lost.
    """
    cx = pick_context(assoc, obj)
    if cx is None:
        LOG.info("C-STORE %s: no presentation context for %s / %s", obj.sop_instance,
                 obj.sop_class, obj.transfer_syntax)
        return None
    req = C_STORE()
    req.MessageID = msg_id
    req.Priority = 0
    req.AffectedSOPClassUID = obj.sop_class
    # Bypass pynetdicom's UID validation: hostile UIDs are the point.
    req._affected_sop_instance_uid = UID(obj.sop_instance)
    if move_origin is not None:
        req.MoveOriginatorApplicationEntityTitle = move_origin[0]
        req.MoveOriginatorMessageID = move_origin[1]
    ts = UID(cx.transfer_syntax[0])
    encoded = obj.encoded_as(ts)
    if encoded is not None:
        req._dataset_path = encoded
    else:
        data = encode(dcmread(obj.path), ts.is_implicit_VR, ts.is_little_endian, ts.is_deflated)
        if data is None:
            return None
        req.DataSet = BytesIO(data)
    msg = C_STORE_RQ()
    msg.primitive_to_message(req)
    msg.context_id = cx.context_id
    LOG.info("C-STORE-RQ MsgID %d %s (%s) on context %d", msg_id, obj.sop_instance[:80], ts.name,
             cx.context_id)
    send_pdus(assoc, msg, int(cx.context_id), abort_fraction)
    _cx, rsp = assoc.dimse.get_msg(block=True)
    if rsp is None:
        if assoc.is_established:
            assoc.abort()
        raise Aborted("no C-STORE response")
    status = int(getattr(rsp, "Status", 0xC000))
    LOG.info("C-STORE-RSP status 0x%04X", status)
    return status


# --------------------------------------------------------------------------
# Q/R service


def identifier_bytes(ds: Dataset, ts: UID) -> BytesIO:
    data = encode(ds, ts.is_implicit_VR, ts.is_little_endian, ts.is_deflated)
    return BytesIO(data or b"")


class Exchange:
    """One C-GET or C-MOVE request being served."""

    def __init__(self, server: FakeQR, assoc: Association, req: C_GET | C_MOVE, cx_id: int) -> None:
        self.server = server
        self.args = server.args
        self.assoc = assoc
        self.req = req
        self.cx_id = cx_id
        self.ts = UID(assoc._accepted_cx[cx_id].transfer_syntax[0])
        self.is_move = isinstance(req, C_MOVE)
        self.completed = self.failed = self.warning = 0
        self.failed_uids: list[str] = []
        self.next_msg_id = int(req.MessageID or 0) + 1
        self.store_assoc: Association | None = None

    # responses on the main association

    def respond(self, status: int, remaining: int | None = None, ident: Dataset | None = None,
                counts: tuple[int, int, int] | None = None) -> None:
        rsp: C_GET | C_MOVE = C_MOVE() if self.is_move else C_GET()
        rsp.MessageIDBeingRespondedTo = self.req.MessageID
        rsp.AffectedSOPClassUID = self.req.AffectedSOPClassUID
        rsp.Status = status
        completed, failed, warning = counts or (self.completed, self.failed, self.warning)
        if remaining is not None:
            rsp.NumberOfRemainingSuboperations = remaining
        rsp.NumberOfCompletedSuboperations = completed
        rsp.NumberOfFailedSuboperations = failed
        rsp.NumberOfWarningSuboperations = warning
        if ident is not None:
            rsp.Identifier = identifier_bytes(ident, self.ts)
        if not self.assoc.is_established:
            raise Aborted("main association gone")
        LOG.info("%s-RSP status 0x%04X remaining=%s completed=%d failed=%d warning=%d%s",
                 "C-MOVE" if self.is_move else "C-GET", status, remaining, completed, failed,
                 warning, " +data set" if ident is not None else "")
        self.assoc.dimse.send_msg(rsp, self.cx_id)

    def failed_list(self) -> Dataset:
        ds = Dataset()
        ds.FailedSOPInstanceUIDList = self.failed_uids
        return ds

    def final(self, cancelled: bool = False) -> None:
        if cancelled:
            self.respond(0xFE00, ident=self.failed_list())
        elif self.failed == 0 and self.warning == 0:
            self.respond(0x0000)
        elif self.completed == 0 and self.warning == 0:
            self.respond(0xA702, ident=self.failed_list())
        else:
            self.respond(0xB000, ident=self.failed_list())

    # sub-operations

    def open_destination(self, contexts: list[PresentationContext] | None = None,
                         objs: list[Obj] = ()) -> bool:
        """C-MOVE: associate with the move destination; False -> 0xA801 sent."""
        dest = str(self.req.MoveDestination or "").strip()
        port = self.server.destinations.get(dest)
        if port is None:
            LOG.info("C-MOVE destination %r unknown", dest)
            self.respond(0xA801, ident=self.failed_list())
            return False
        ae = AE(ae_title=self.args.aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
        if contexts is None:
            contexts = []
            for obj in objs:
                syntaxes = [obj.transfer_syntax] if obj.transfer_syntax not in UNCOMPRESSED else []
                for ts_list in ([*syntaxes], [ExplicitVRLittleEndian, ImplicitVRLittleEndian]):
                    if ts_list and not any(c.abstract_syntax == obj.sop_class and
                                           c.transfer_syntax == ts_list for c in contexts):
                        contexts.append(build_context(obj.sop_class, ts_list))
        host = next(self.server.dest_hosts)
        LOG.info("C-MOVE sub-association to %s at %s port %d", dest, host, port)
        bind = (self.args.dest_bind, 0) if self.args.dest_bind else None
        assoc = ae.associate(host, port, contexts=contexts[:128], ae_title=dest, bind_address=bind)
        if not assoc.is_established or not assoc.accepted_contexts:
            LOG.info("C-MOVE sub-association to %s:%d failed (established=%s)", dest, port,
                     assoc.is_established)
            if assoc.is_established:
                assoc.abort()
            self.respond(0xA801, ident=self.failed_list())
            return False
        self.store_assoc = assoc
        return True

    def close_destination(self) -> None:
        if self.store_assoc is not None and self.store_assoc.is_established:
            self.store_assoc.release()
        self.store_assoc = None

    def store(self, obj: Obj, abort_fraction: float | None = None) -> None:
        target = self.store_assoc if self.is_move else self.assoc
        assert target is not None
        origin = (self.req_calling_aet(), int(self.req.MessageID or 0)) if self.is_move else None
        msg_id = self.next_msg_id
        self.next_msg_id += 1
        if self.args.store_delay > 0:  # a PACS fetching each object from its archive
            time.sleep(self.args.store_delay)
        if self.is_move:
            with Paused(target):
                status = send_store(target, obj, msg_id, origin, abort_fraction)
        else:
            status = send_store(target, obj, msg_id, origin, abort_fraction)
        if status is None or (status & 0xF000) in (0xA000, 0xC000) or status == 0x0122:
            self.failed += 1
            self.failed_uids.append(obj.sop_instance)
        elif status == 0x0000:
            self.completed += 1
        else:
            self.warning += 1

    def req_calling_aet(self) -> str:
        return str(self.assoc.requestor.ae_title).strip()

    def cancelled(self) -> bool:
        return int(self.req.MessageID or 0) in self.assoc.dimse.cancel_req

    def run_subops(self, objs: list[Obj], pending_ident: Dataset | None = None) -> bool:
        """Send objs with a Pending response after each (as dcmqrscp does, the
        last one included); return True if a C-CANCEL arrived."""
        total = len(objs)
        for i, obj in enumerate(objs):
            if self.cancelled():
                return True
            self.store(obj)
            self.respond(0xFF00, remaining=total - i - 1, ident=pending_ident)
        return self.cancelled()

    # behaviours

    def run(self, ident: Dataset) -> None:
        pid = str(ident.get("PatientID", "") or "")
        store = self.server.store
        LOG.info("%s-RQ MsgID %s from %s, PatientID=%r, destination=%r",
                 "C-MOVE" if self.is_move else "C-GET", self.req.MessageID,
                 self.req_calling_aet(), pid,
                 str(self.req.MoveDestination or "") if self.is_move else None)
        if pid in ONCE:
            first = self.server.first_time(pid)
            LOG.info("%s: %s time", pid, "first" if first else "a later")
            if first and pid == "A702ONCE":
                self.respond(0xA702, ident=self.failed_list(), counts=(0, 0, 0))
                return
            pid = "ABORT" if first and pid == "ABORTONCE" else "ONCE-OK"
        if pid in IMMEDIATE_STATUS:
            self.respond(IMMEDIATE_STATUS[pid], ident=self.failed_list(), counts=(0, 0, 0))
            return
        if pid == "BADCTX":
            if self.is_move:
                self.open_destination([build_context("1.2.3.4.5.6")])
                self.close_destination()
            else:
                self.respond(0xA702, ident=self.failed_list())
            return
        if pid.startswith("TS"):
            name = pid[3:] if pid.startswith("TS:") else ""
            obj = Obj.from_file(testfile(name)) if name else store.mr
            contexts = [build_context(obj.sop_class, list(TS_MODE_SYNTAXES))]
            if self.is_move and not self.open_destination(contexts):
                return
            self.run_subops([obj])
            self.close_destination()
            self.final()
            return

        plan: list[Obj]
        before_first: str | None = None
        if pid == "WARN":
            plan = [store.mr]
        elif pid == "CANCEL":
            plan = [store.mr]
        elif pid == "PENDDS":
            plan = [store.mr, store.ct]
        elif pid in ("DELAY", "SLEEPFIRST", "ABORT", "RELEASE"):
            plan = [store.mr]
            before_first = pid
        elif pid == "MISMATCH":
            plan = [store.mismatch()]
        elif pid == "EVILUID":
            plan = store.evil()
        elif pid == "ABORTMID":
            plan = [store.big(self.args.abortmid_size, "abortmid")]
        elif pid == "BIG":
            plan = [store.big(self.args.big_size, "big")]
        elif pid == "TWO":
            plan = [store.mr, store.mr]
        elif pid == "ONCE-OK":
            plan = [store.mr]
        else:
            plan = store.match(ident)

        if pid == "SLEEPFIRST":
            time.sleep(self.args.sleep_first)
        if self.is_move and plan and not self.open_destination(objs=plan):
            return
        if pid == "DELAY":
            LOG.info("DELAY: stalling %.1f s", self.args.delay)
            time.sleep(self.args.delay)
        try:
            if pid == "ABORTMID":
                self.store(plan[0], abort_fraction=0.25)
                return
            if pid in ("ABORT", "RELEASE"):
                self.store(plan[0])
                if pid == "ABORT":
                    LOG.info("ABORT: sending A-ABORT")
                    self.assoc.abort()
                else:
                    self.peer_release()
                return
            if pid == "WARN":
                self.store(plan[0])
                self.respond(0xFF00, remaining=0)
                self.respond(0xB000, remaining=1, ident=self.failed_list(), counts=(1, 1, 0))
                return
            if pid == "CANCEL":
                self.store(plan[0])
                self.respond(0xFF00, remaining=1)
                self.respond(0xFE00, remaining=1, ident=self.failed_list(), counts=(1, 0, 0))
                return
            pending_ident = None
            if pid == "PENDDS":
                pending_ident = Dataset()
                pending_ident.QueryRetrieveLevel = str(ident.get("QueryRetrieveLevel", "PATIENT"))
                pending_ident.PatientID = pid
            cancelled = self.run_subops(plan, pending_ident)
            self.final(cancelled)
        finally:
            self.close_destination()

    def peer_release(self) -> None:
        """Send A-RELEASE-RQ ourselves and wait (bounded) for the peer's answer."""
        LOG.info("RELEASE: sending A-RELEASE-RQ")
        self.assoc.acse.send_release(is_response=False)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.assoc.dul.is_alive():
            primitive = self.assoc.dul.receive_pdu(wait=True, timeout=0.5)
            if primitive is not None:
                LOG.info("RELEASE: peer answered %s", type(primitive).__name__)
                break
        self.assoc.abort()


class FakeQR:
    """The server: AE setup per mode, request dispatch, C-FIND matching."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.store = Store(args)
        self.destinations: dict[str, int] = {}
        self.refused = 0  # --refuse-first: associations rejected so far
        self.once: set[str] = set()  # ABORTONCE/A702ONCE faults already played
        self.lock = threading.Lock()
        for item in args.dest:
            ae, _, port = item.partition("=")
            self.destinations[ae.strip()] = int(port)
        self.dest_hosts = itertools.cycle(args.dest_host or ["127.0.0.1"])

    def build_ae(self) -> AE:
        ae = AE(ae_title=self.args.aet)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 60
        ae.maximum_associations = 16
        ae.add_supported_context(Verification, ALL_TRANSFER_SYNTAXES)
        mode = self.args.mode
        if mode in ("qr", "nofind"):
            for model in FIND_MODELS:
                ae.add_supported_context(model, ALL_TRANSFER_SYNTAXES)
        if mode == "qr":
            for model in RETRIEVE_MODELS:
                ae.add_supported_context(model, ALL_TRANSFER_SYNTAXES)
        if mode in ("qr", "nofind"):
            for cx in AllStoragePresentationContexts:
                ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES,
                                         scu_role=True, scp_role=True)
        if mode == "storeonly":
            for cx in AllStoragePresentationContexts:
                ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        return ae

    def serve(self, assoc: Association, msg: Any, cx_id: int) -> None:
        ts = UID(assoc._accepted_cx[cx_id].transfer_syntax[0])
        try:
            if isinstance(msg, C_ECHO):
                rsp = C_ECHO()
                rsp.MessageIDBeingRespondedTo = msg.MessageID
                rsp.AffectedSOPClassUID = msg.AffectedSOPClassUID
                rsp.Status = 0x0000
                LOG.info("C-ECHO-RQ MsgID %s -> 0x0000", msg.MessageID)
                assoc.dimse.send_msg(rsp, cx_id)
                return
            ident = decode(msg.Identifier, ts.is_implicit_VR, ts.is_little_endian,
                           ts.is_deflated) if msg.Identifier else Dataset()
            if isinstance(msg, C_FIND):
                self.find(assoc, msg, cx_id, ts, ident)
            else:
                Exchange(self, assoc, msg, cx_id).run(ident)
        except Aborted as exc:
            LOG.info("association ended: %s", exc)
        except Exception:  # a fault injector must survive its own faults
            LOG.exception("error while serving %s", type(msg).__name__)
            if assoc.is_established:
                assoc.abort()

    def first_time(self, name: str) -> bool:
        with self.lock:
            if name in self.once:
                return False
            self.once.add(name)
            return True

    def refuse_now(self) -> bool:
        """--refuse-first N: the first N association requests are rejected
        (rejected-transient, service provider, local limit exceeded)."""
        with self.lock:
            if self.refused >= self.args.refuse_first:
                return False
            self.refused += 1
            return True

    def find(self, assoc: Association, req: C_FIND, cx_id: int, ts: UID,
             ident: Dataset) -> None:
        LOG.info("C-FIND-RQ MsgID %s PatientID=%r", req.MessageID, ident.get("PatientID"))
        if str(ident.get("PatientID", "")) == "DELAY":
            time.sleep(self.args.delay)
        level = str(ident.get("QueryRetrieveLevel", "PATIENT"))
        seen: set[str] = set()
        for obj in self.store.match(ident):
            full = dcmread(obj.path, stop_before_pixels=True)
            key = {"PATIENT": obj.patient_id, "STUDY": obj.study_uid,
                   "SERIES": obj.series_uid}.get(level, obj.sop_instance)
            if key in seen:
                continue
            seen.add(key)
            answer = Dataset()
            for elem in ident:
                answer.add_new(elem.tag, elem.VR, full[elem.tag].value if elem.tag in full
                               else elem.value)
            answer.QueryRetrieveLevel = level
            rsp = C_FIND()
            rsp.MessageIDBeingRespondedTo = req.MessageID
            rsp.AffectedSOPClassUID = req.AffectedSOPClassUID
            rsp.Status = 0xFF00
            rsp.Identifier = identifier_bytes(answer, ts)
            assoc.dimse.send_msg(rsp, cx_id)
            if int(req.MessageID or 0) in assoc.dimse.cancel_req:
                rsp.Status, rsp.Identifier = 0xFE00, None
                assoc.dimse.send_msg(rsp, cx_id)
                return
        rsp = C_FIND()
        rsp.MessageIDBeingRespondedTo = req.MessageID
        rsp.AffectedSOPClassUID = req.AffectedSOPClassUID
        rsp.Status = 0x0000
        LOG.info("C-FIND-RSP final 0x0000 after %d matches", len(seen))
        assoc.dimse.send_msg(rsp, cx_id)

    def on_store(self, event: evt.Event) -> int:
        """storeonly mode: keep what arrives (named by SOP Instance UID, sanitised)."""
        ds = event.dataset
        ds.file_meta = event.file_meta
        name = "".join(c if c.isalnum() or c == "." else "_" for c in str(ds.SOPInstanceUID))
        out = Path(self.args.store_dir)
        out.mkdir(parents=True, exist_ok=True)
        ds.save_as(out / f"{name[:200]}.dcm", enforce_file_format=True)
        LOG.info("stored %s", name)
        return 0x0000

    def install(self) -> None:
        original = Association._serve_request
        server = self

        def serve_request(assoc: Association, msg: Any, context_id: int) -> None:
            if isinstance(msg, (C_ECHO, C_FIND, C_GET, C_MOVE)) and msg.is_valid_request:
                assoc._is_paused = True
                try:
                    server.serve(assoc, msg, context_id)
                finally:
                    assoc._is_paused = False
                    assoc.dimse.cancel_req = {}
                return
            original(assoc, msg, context_id)

        Association._serve_request = serve_request  # type: ignore[method-assign]

        negotiate = ACSE._negotiate_as_acceptor

        def negotiate_as_acceptor(acse: ACSE) -> None:
            if server.refuse_now():
                LOG.info("--refuse-first: rejecting association (transient, local limit exceeded)")
                acse.send_reject(0x02, 0x03, 0x02)
                acse.assoc.kill()
                return
            negotiate(acse)

        ACSE._negotiate_as_acceptor = negotiate_as_acceptor  # type: ignore[method-assign]
        if self.args.nodelay:
            self.install_nodelay()

    @staticmethod
    def install_nodelay() -> None:
        """--nodelay: TCP_NODELAY on every socket (accepted and C-MOVE
        sub-associations).  pynetdicom writes a C-STORE's command and data
        set PDUs one after the other; with Nagle's algorithm the second
        waits for the peer's delayed ACK (about 40 ms on Linux), which
        would add latency of its own to --store-delay's."""
        from pynetdicom import transport

        def nodelay(sock: socket.socket) -> socket.socket:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            return sock

        get_request = transport.AssociationServer.get_request
        create = transport.AssociationSocket._create_socket

        def get_request_nodelay(server):  # type: ignore[no-untyped-def]
            sock, address = get_request(server)
            return nodelay(sock), address

        def create_nodelay(assoc_sock, address):  # type: ignore[no-untyped-def]
            return nodelay(create(assoc_sock, address))

        transport.AssociationServer.get_request = get_request_nodelay  # type: ignore[method-assign]
        transport.AssociationSocket._create_socket = create_nodelay  # type: ignore[method-assign]

    def run(self) -> None:
        if self.args.mode == "stalltcp":
            stall_tcp(self.args.port, self.args.ready_file, self.args.host)
            return
        self.install()
        ae = self.build_ae()
        handlers = [(evt.EVT_C_STORE, self.on_store)] if self.args.mode == "storeonly" else []
        server = ae.start_server((self.args.host, self.args.port), block=False,
                                 evt_handlers=handlers)
        children: set[int] = set()
        if self.args.fork:
            self.install_fork(server, children)
        LOG.info("fakeqr %s listening on %s port %d as %s (destinations %s)", self.args.mode,
                 self.args.host, self.args.port, self.args.aet, self.destinations)
        mark_ready(self.args.ready_file)
        try:
            while True:
                time.sleep(1 if self.args.fork else 3600)
                reap(children)
        finally:
            server.shutdown()

    @staticmethod
    def install_fork(server: Any, children: set[int]) -> None:
        """--fork: serve each association in a child process of its own
        (as dcmqrscp's fork mode does), so associations in parallel do not
        share one interpreter's lock and the SCP's CPU spreads over the cores.

        The server thread accepts; the child (only that thread survives the
        fork) closes the listening socket, runs the association and exits.
        State that lives across associations (--refuse-first's count, the
        ONCE faults) is per child, so those faults need the default mode.
        SIGTERM to the parent ends its children too (by their PIDs).
        """
        def process_request(request: socket.socket, client_address: Any) -> None:
            reap(children)
            pid = os.fork()
            if pid:
                children.add(pid)
                server.close_request(request)  # close only: the child owns the connection
                return
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                server.socket.close()
                server.finish_request(request, client_address)
                for thread in threading.enumerate():
                    if isinstance(thread, Association):
                        thread.join()
            except BaseException:  # noqa: BLE001 - a child must never return into the server loop
                LOG.exception("forked association failed")
                code = 1
            finally:
                os._exit(code)

        server.process_request = process_request

        def terminate(*_: object) -> None:
            reap(children)
            for pid in children:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            os._exit(0)

        signal.signal(signal.SIGTERM, terminate)


def reap(children: set[int]) -> None:
    """Collect --fork's children that have ended (no zombies, no stale PIDs)."""
    for pid in list(children):
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            children.discard(pid)


def mark_ready(path: str) -> None:
    """Tell the parent the port is bound by us (see servers.launch)."""
    if path:
        Path(path).write_text(str(os.getpid()))


def stall_tcp(port: int, ready_file: str = "", host: str = "127.0.0.1") -> None:
    """Accept connections and never answer; keep them open until killed."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    LOG.info("fakeqr stalltcp listening on %s port %d", host, port)
    mark_ready(ready_file)
    held: list[socket.socket] = []
    while True:
        conn, peer = listener.accept()
        LOG.info("stalltcp: holding connection from %s", peer)
        held.append(conn)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="fault-injecting Q/R SCP for tests (see docstring)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", help="listen address (::1 for IPv6)")
    p.add_argument("--aet", default="ANY-SCP")
    p.add_argument("--mode", choices=["qr", "nofind", "storeonly", "stalltcp"], default="qr")
    p.add_argument("--dest", action="append", default=[], metavar="AE=PORT",
                   help="C-MOVE destination on --dest-host (repeatable)")
    p.add_argument("--dest-host", action="append", default=[], metavar="ADDRESS",
                   help="host of the C-MOVE destinations (default 127.0.0.1; repeated: taken in turn)")
    p.add_argument("--dest-bind", default="", metavar="ADDRESS",
                   help="source address of the C-MOVE sub-associations (e.g. 127.0.0.2)")
    p.add_argument("--data", action="append", default=[], help="extra DICOM file to serve")
    p.add_argument("--data-dir", action="append", default=[], help="serve every *.dcm file in this directory too")
    p.add_argument("--store-delay", type=float, default=0.0,
                   help="seconds to wait before each C-STORE sub-operation (a latency-bound PACS)")
    p.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on all sockets (benchmarks)")
    p.add_argument("--pre-encode", action="store_true",
                   help="keep every object served in Explicit and Implicit VR Little Endian (benchmarks)")
    p.add_argument("--fork", action="store_true",
                   help="serve each association in a forked child process (benchmarks; like dcmqrscp)")
    p.add_argument("--refuse-first", type=int, default=0,
                   help="reject the first N association requests (rejected-transient)")
    p.add_argument("--workdir", default=".", help="where generated objects are written")
    p.add_argument("--store-dir", default="stored", help="storeonly: received objects")
    p.add_argument("--delay", type=float, default=5.0, help="DELAY stall in seconds")
    p.add_argument("--sleep-first", type=float, default=2.0, help="SLEEPFIRST pause in seconds")
    p.add_argument("--big-size", type=int, default=1_100_000_000, help="BIG pixel data bytes")
    p.add_argument("--abortmid-size", type=int, default=8 * 1024 * 1024,
                   help="ABORTMID object pixel data bytes")
    p.add_argument("--evil-abs", default="", help="absolute-path UID sent by EVILUID")
    p.add_argument("--ready-file", default="", help="written once the port is bound")
    p.add_argument("--debug", action="store_true", help="pynetdicom debug logging")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pid = " [%(process)d]" if args.fork else ""  # --fork: which child served the line
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s %(name)s{pid} %(levelname)s: %(message)s")
    logging.getLogger("pynetdicom").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    pydicom_config.settings.writing_validation_mode = pydicom_config.IGNORE
    pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        FakeQR(args).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
