"""The outcome of one run: what ``--strict-exit`` decides on and what
``--summary-json`` writes (docs/ci.md, docs/summary-schema.json).

``Recorder`` collects, while the tool runs, every request (query file,
identifier sent, ``--repeat`` round, final status, sub-operation counts,
Failed SOP Instance UID List) and every object received (UIDs, transfer
syntax, file, size, the C-STORE status we answered).  The network modules
call its ``begin_request``/``final_response``/``request_error``/``object``
hooks; ``cli.app`` creates it, asks it for the ``--strict-exit`` status and
has it written once the run has ended, whatever the outcome.

Nothing here changes what a DCMTK command line does: without the two
options the recorder is inactive (its hooks return at once) and nothing of it
is used.
"""

from __future__ import annotations

import enum
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import DCMTK_VERSION, __version__
from ..exitcodes import EndReason, ExitCode
from ..net.status import StatusClass, dimse_status_text, status_class, store_status_text
from ..store.pipeline import StoreOutcome

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

    from ..dicom.ident import Identifier
    from ..settings import Settings
    from ..store.pipeline import StoreResult

SCHEMA = "dcmretrieve-summary/2"
#: earlier schemas ``--resume`` still reads (/1 has no request keys: nothing matches)
READABLE_SCHEMAS = ("dcmretrieve-summary/1", SCHEMA)
#: seconds between two journal writes of the summary file while a batch runs
JOURNAL_INTERVAL = 1.0

STATUS_SUCCESS = 0x0000
STATUS_CANCEL = 0xFE00
#: C-MOVE/C-GET statuses PS3.4 C.4.2.1.5 / C.4.3.1.4 call "Refused"
_REFUSED = frozenset({0xA701, 0xA702, 0xA801, 0x0122})


class Category(enum.Enum):
    """The class of a final C-MOVE/C-GET status."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    REFUSED = "refused"
    CANCEL = "cancel"
    UNKNOWN = "unknown"


def categorize(status: int) -> Category:
    """Success, Warning (DcmSCU's warning class), Cancel, Refused, Failure
    (0xA900, 0xCxxx, DCMTK's "Failed"/"Error" texts) or an unknown status."""
    if status == STATUS_SUCCESS:
        return Category.SUCCESS
    if status == STATUS_CANCEL:
        return Category.CANCEL
    if status_class(status) is StatusClass.WARNING:
        return Category.WARNING
    if status in _REFUSED:
        return Category.REFUSED
    if status == 0xA900 or status & 0xF000 == 0xC000:
        return Category.FAILURE
    return Category.UNKNOWN


class Outcome(enum.Enum):
    """The worst thing that happened to the retrieval (``--strict-exit``)."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"

    @property
    def exit_code(self) -> ExitCode:
        return _OUTCOME_EXIT[self]


_OUTCOME_EXIT = {
    Outcome.SUCCESS: ExitCode.NO_ERROR,
    Outcome.WARNING: ExitCode.CMOVE_WARNING,
    Outcome.FAILURE: ExitCode.CMOVE_ERROR,
}


class AssociationState(enum.Enum):
    NOT_REQUESTED = "not-requested"
    ACCEPTED = "accepted"
    FAILED = "failed"  # rejected, refused, no acceptable presentation context ...


class Basis(enum.Enum):
    """What "objects retrieved" counts (docs/ci.md)."""

    OBJECTS_RECEIVED = "objects-received"  # getscu; movescu receiving its own move
    COMPLETED_SUB_OPERATIONS = "completed-sub-operations"  # movescu moving to another AE


#: the sub-operation counters of a C-MOVE/C-GET response, in DCMTK's order
COUNTERS = ("remaining", "completed", "failed", "warning")


@dataclass
class ObjectRecord:
    """One object received over a C-STORE sub-operation."""

    sop_class: str
    sop_instance: str
    transfer_syntax: str
    kind: StoreOutcome
    path: str | None  # relative to the output directory; None when nothing was written
    size: int | None  # bytes of the file written
    answered: int | None  # the C-STORE-RSP status we sent; None when none was sent

    @property
    def ok(self) -> bool:
        """Stored (or, with --ignore, deliberately dropped) and answered Success."""
        return self.kind in (StoreOutcome.STORED, StoreOutcome.IGNORED) and self.answered == STATUS_SUCCESS

    def to_json(self) -> dict[str, Any]:
        return {
            "sop_class_uid": self.sop_class,
            "sop_instance_uid": self.sop_instance,
            "transfer_syntax_uid": self.transfer_syntax,
            "outcome": self.kind.value,
            "path": self.path,
            "bytes": self.size,
            "answered_status": None if self.answered is None else _store_status_json(self.answered),
        }


@dataclass
class RequestRecord:
    """One C-MOVE or C-GET request."""

    query_file: str | None
    round: int
    index: int = 0  # position in the batch (query files x rounds, the tool's order)
    key: str | None = None  # batch.request_key: what --resume matches
    skipped: bool = False  # --resume: ended in Success in the earlier run, not sent again
    retries: list[dict[str, Any]] = field(default_factory=list)  # --retry: the failed attempts
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    message_id: int | None = None
    identifier: dict[str, Any] | None = None
    status: int | None = None
    counts: dict[str, int | None] | None = None
    failed_uids: list[str] | None = None
    error: str | None = None
    objects: list[ObjectRecord] = field(default_factory=list)

    @property
    def category(self) -> Category | None:
        return None if self.status is None else categorize(self.status)

    def outcome(self) -> Outcome:
        if self.skipped:
            return Outcome.SUCCESS
        category = self.category
        if category is None or category not in (Category.SUCCESS, Category.WARNING):
            return Outcome.FAILURE
        if any(not o.ok for o in self.objects):
            return Outcome.FAILURE
        counts = self.counts or {}
        if category is Category.WARNING or (counts.get("failed") or 0) > 0 or (counts.get("warning") or 0) > 0:
            return Outcome.WARNING
        return Outcome.SUCCESS

    def to_json(self) -> dict[str, Any]:
        status = self.status
        return {
            "query_file": self.query_file,
            "round": self.round,
            "key": self.key,
            "skipped": self.skipped,
            "outcome": None if self.ended is None and not self.skipped else self.outcome().value,
            "retries": list(self.retries),
            "message_id": self.message_id,
            "identifier": self.identifier,
            "status": None if status is None else {
                "code": status,
                "hex": f"0x{status:04x}",
                "text": dimse_status_text(status),
                "category": categorize(status).value,
            },
            "sub_operations": self.counts,
            "failed_sop_instance_uids": self.failed_uids,
            "error": self.error,
            "seconds": round(((self.ended or time.monotonic()) - self.started), 6),
            "objects": [o.to_json() for o in self.objects],
        }


def _store_status_json(status: int) -> dict[str, Any]:
    return {"code": status, "hex": f"0x{status:04x}", "text": store_status_text(status)}


def _utc(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1e6):06d}Z"


class Recorder:
    """Everything ``--strict-exit`` and ``--summary-json`` need (module docstring)."""

    def __init__(self, settings: "Settings", wall_start: float | None = None,
                 mono_start: float | None = None) -> None:
        self.settings = settings
        self.wall_start = time.time() if wall_start is None else wall_start
        self.mono_start = time.monotonic() if mono_start is None else mono_start
        #: identifiers in the DICOM JSON model are only made for a summary
        self.want_identifiers = bool(settings.summary_json)
        #: without either option nothing is recorded: a DCMTK command line
        #: pays nothing per object
        self.active = bool(settings.strict_exit or settings.summary_json)
        self.association = AssociationState.NOT_REQUESTED
        self.release_failed = False
        self.requests: list[RequestRecord] = []
        self._local = threading.local()  # the request each thread works on (--parallel)
        self.lock = threading.RLock()
        #: message ID of a request -> its record (movescu --parallel: Move Originator Message ID)
        self.by_message_id: dict[int, RequestRecord] = {}
        self.unattributed: list[ObjectRecord] = []
        self._journal_written = 0.0
        self._early_retries: dict[int, list[dict[str, Any]]] = {}
        #: the arguments after @file expansion, as typed (``cli.app`` sets
        #: them); None: the long-name form of ``settings.expanded_args``
        self.args: list[str] | None = None

    @property
    def current(self) -> RequestRecord | None:
        return getattr(self._local, "current", None)

    @current.setter
    def current(self, record: RequestRecord | None) -> None:
        self._local.current = record

    # ---- hooks for the network modules ------------------------------------------
    def association_accepted(self) -> None:
        self.association = AssociationState.ACCEPTED

    def association_failed(self) -> None:
        """(An association of a batch that failed after another one was
        accepted -- --parallel, --retry -- leaves the state accepted.)"""
        with self.lock:
            if self.association is not AssociationState.ACCEPTED:
                self.association = AssociationState.FAILED

    def begin_request(self, query_file: str | None, round_: int, index: int | None = None,
                      key: str | None = None) -> None:
        if not self.active:
            return
        self.end_request()
        with self.lock:
            record = None
            if index is not None:  # a retry goes on in the request's record
                record = next((r for r in self.requests if r.index == index and not r.skipped), None)
            if record is None:
                record = RequestRecord(query_file, round_, len(self.requests) if index is None else index, key)
                record.retries.extend(self._early_retries.pop(record.index, []))
                self.requests.append(record)
            else:
                record.started = time.monotonic()
        self.current = record

    def skipped(self, query_file: str | None, round_: int, index: int, key: str) -> None:
        """--resume: the request succeeded in the earlier run and is not sent."""
        if not self.active:
            return
        with self.lock:
            record = RequestRecord(query_file, round_, index, key, skipped=True)
            record.ended = record.started
            self.requests.append(record)

    def retrying(self, index: int, attempt: int, reason: str, wait: float) -> None:
        """--retry: attempt ``attempt`` of request ``index`` failed transiently
        and is tried again: what it got is kept in ``retries``, the record
        starts afresh for the next attempt (a request whose association
        could not even be opened gets its record with the next attempt)."""
        if not self.active:
            return
        with self.lock:
            record = next((r for r in self.requests if r.index == index and not r.skipped), None)
            entry = {
                "attempt": attempt,
                "reason": reason,
                "status": None if record is None or record.status is None else f"0x{record.status:04x}",
                "error": None if record is None else record.error,
                "objects": 0 if record is None else len(record.objects),
                "wait_seconds": round(wait, 3),
            }
            if record is None:
                self._early_retries.setdefault(index, []).append(entry)
                return
            record.retries.append(entry)
            record.status = record.counts = record.failed_uids = record.error = None
            record.message_id = None
            record.objects = []
            record.ended = None
        if self.current is record:
            self.current = None

    def identifier(self, ident: "Identifier", message_id: int) -> None:
        """The identifier as sent (after -k and UID repairs), DICOM JSON model
        (its pydicom data set is made only then, ``dicom.ident``)."""
        record = self.current
        if record is None:
            return
        record.message_id = message_id
        with self.lock:
            self.by_message_id[message_id] = record
        if self.want_identifiers:
            record.identifier = identifier_json(ident.dataset)

    def final_response(self, status: int, counter: Any, failed_uids: list[str] | None = None) -> None:
        """``counter(name)`` gives a sub-operation counter or None (``Command.counter``)."""
        record = self.current
        if record is None:
            return
        record.status = status
        record.counts = {name: counter(name) for name in COUNTERS}
        record.failed_uids = failed_uids
        self.end_request()

    def request_error(self, text: str) -> None:
        """The current request ended without a final response."""
        record = self.current
        if record is None:
            return
        if record.error is None:
            record.error = text
        self.end_request()

    def end_request(self) -> None:
        if self.current is not None and self.current.ended is None:
            self.current.ended = time.monotonic()
        self.current = None

    def journal(self, force: bool = False) -> None:
        """While a batch runs, rewrite the --summary-json file (atomically, at
        most once a second unless ``force``) so that a killed batch leaves a
        summary --resume can read.  Its ``end_reason`` is ``running``."""
        target = self.settings.summary_json
        if not self.active or not target or target == "-":
            return
        now = time.monotonic()
        with self.lock:
            if not force and now - self._journal_written < JOURNAL_INTERVAL:
                return
            self._journal_written = now
            document = self.document(None, None, None)
        try:
            write(document, target)
        except OSError:
            pass  # the final write reports the problem

    def object(self, result: "StoreResult", answered: int | None, output_dir: str,
               message_id: int | None = None) -> None:
        """One received object, ``answered`` with that C-STORE status (None:
        no answer).  ``message_id``: the C-STORE's Move Originator Message ID
        (movescu --parallel): the object belongs to that request."""
        if not self.active:
            return
        info = result.info
        path: str | None = None
        size: int | None = None
        if result.kind is StoreOutcome.STORED and result.path is not None:
            path = os.path.relpath(result.path, output_dir or ".")
            try:
                size = os.stat(result.path).st_size
            except OSError:
                size = None
        record = ObjectRecord(info.request_sop_class, info.request_sop_instance, info.transfer_syntax,
                              result.kind, path, size, answered)
        with self.lock:
            if message_id is not None:
                target = self.by_message_id.get(message_id)
            else:
                target = self.current or (self.requests[-1] if self.requests else None)
            (target.objects if target is not None else self.unattributed).append(record)

    # ---- evaluation ---------------------------------------------------------------
    def objects(self) -> list[ObjectRecord]:
        return [o for r in sorted(self.requests, key=lambda r: r.index) for o in r.objects] + self.unattributed

    @property
    def basis(self) -> Basis:
        """movescu counts objects it received itself only when it is the
        move destination (listening, ``-aem`` = its own AE title)."""
        s = self.settings
        if s.tool == "movescu" and (s.listen_port <= 0 or s.move_destination != s.aetitle):
            return Basis.COMPLETED_SUB_OPERATIONS
        return Basis.OBJECTS_RECEIVED

    def retrieved(self) -> int:
        if self.basis is Basis.OBJECTS_RECEIVED:
            return len(self.objects())
        return sum((r.counts or {}).get("completed") or 0 for r in self.requests)

    def outcome(self) -> Outcome:
        """The worst of all requests and objects; nothing retrieved is a
        failure unless ``--allow-empty``."""
        worst = Outcome.SUCCESS
        if self.requests and all(r.skipped for r in self.requests):
            return Outcome.SUCCESS if not self.unattributed else Outcome.FAILURE  # all done earlier
        for record in self.requests:
            result = record.outcome()
            if result is Outcome.FAILURE:
                return Outcome.FAILURE
            if result is Outcome.WARNING:
                worst = Outcome.WARNING
        if not self.requests or any(not o.ok for o in self.unattributed):
            return Outcome.FAILURE
        if self.retrieved() == 0 and not self.settings.allow_empty:
            return Outcome.FAILURE
        return worst

    def strict_exit_code(self, dcmtk_code: int, end: EndReason, setup_code: int | None = None) -> int:
        """The ``--strict-exit`` status (docs/ci.md): association and setup
        failures keep movescu's codes (``setup_code``: the one a getscu
        failure maps to); once the association was accepted the outcome's
        68/69, else 67 when the release failed, else 0.  Ctrl-C, an internal
        error and a closed standard output keep DCMTK's status."""
        if setup_code is not None:
            return int(setup_code)
        if end in (EndReason.INTERRUPTED, EndReason.INTERNAL_ERROR, EndReason.BROKEN_PIPE):
            return int(dcmtk_code)
        if self.association is not AssociationState.ACCEPTED:
            return int(dcmtk_code)
        outcome = self.outcome()
        if outcome is not Outcome.SUCCESS:
            # what went wrong with the data first: a release that fails
            # after it (getscu: typically a C-GET-RSP data set left unread)
            # does not hide a warning or failure
            return int(outcome.exit_code)
        if self.release_failed:
            return int(ExitCode.CANNOT_CLOSE_ASSOCIATION)
        if dcmtk_code not in (ExitCode.NO_ERROR, ExitCode.COMMANDLINE_SYNTAX_ERROR,
                              ExitCode.CMOVE_WARNING, ExitCode.CMOVE_ERROR):
            return int(dcmtk_code)
        return int(outcome.exit_code)

    # ---- the document -------------------------------------------------------------
    def document(self, exit_status: int | None, dcmtk_exit_status: int | None, end: EndReason | None,
                 error: str | None = None) -> dict[str, Any]:
        """The summary; ``end`` None: a journal written while the run goes on."""
        with self.lock:
            if end is not None:
                self.end_request()
            return self._document(exit_status, dcmtk_exit_status, end, error)

    def _document(self, exit_status: int | None, dcmtk_exit_status: int | None, end: EndReason | None,
                  error: str | None) -> dict[str, Any]:
        s = self.settings
        wall_end = time.time()
        seconds = max(0.0, time.monotonic() - self.mono_start)
        objects = self.objects()
        total_bytes = sum(o.size or 0 for o in objects)
        is_move = s.tool == "movescu"
        return {
            "schema": SCHEMA,
            "tool": s.tool,
            "version": __version__,
            "dcmtk_version": DCMTK_VERSION,
            "argv": [s.argv0, *(s.expanded_args if self.args is None else self.args)],
            "peer": {"host": s.peer, "port": s.port},
            "calling_ae_title": s.aetitle,
            "called_ae_title": s.call,
            "move_destination": s.move_destination if is_move else None,
            "listen_port": (s.listen_port or None) if is_move else None,
            "output_directory": s.output_directory,
            "strict_exit": bool(s.strict_exit),
            "allow_empty": bool(s.allow_empty),
            "start": _utc(self.wall_start),
            "end": _utc(wall_end),
            "duration_seconds": round(seconds, 6),
            "exit_status": None if exit_status is None else int(exit_status),
            "dcmtk_exit_status": None if dcmtk_exit_status is None else int(dcmtk_exit_status),
            "end_reason": "running" if end is None else end.value,
            "parallel": s.parallel,
            "retry": s.retry,
            "resume": s.resume,
            "error": error,
            "association": self.association.value,
            "release_failed": self.release_failed,
            "outcome": self.outcome().value,
            "requests": [r.to_json() for r in sorted(self.requests, key=lambda r: r.index)],
            "unattributed_objects": [o.to_json() for o in self.unattributed],
            "totals": {
                "requests": len(self.requests),
                "requests_skipped": sum(1 for r in self.requests if r.skipped),
                "retries": sum(len(r.retries) for r in self.requests),
                "objects": len(objects),
                "objects_stored": sum(1 for o in objects if o.kind is StoreOutcome.STORED and o.ok),
                "objects_failed": sum(1 for o in objects if not o.ok),
                "retrieved": self.retrieved(),
                "retrieved_basis": self.basis.value,
                "bytes": total_bytes,
                "seconds": round(seconds, 6),
                "bytes_per_second": round(total_bytes / seconds, 3) if seconds > 0 else None,
                "objects_per_second": round(len(objects) / seconds, 3) if seconds > 0 else None,
            },
        }


def identifier_json(ds: "Dataset") -> dict[str, Any]:
    """``ds`` in the DICOM JSON model (PS3.18 F.2; pydicom's ``to_json_dict``),
    bulk data inline as Base64.  A value pydicom cannot convert becomes an
    entry with only its VR, so that the summary is still written."""
    try:
        return ds.to_json_dict(bulk_data_threshold=2**62, bulk_data_element_handler=None)
    except Exception:  # noqa: BLE001 - a hostile identifier must not lose the summary
        result: dict[str, Any] = {}
        for elem in ds:
            tag = f"{elem.tag:08X}"
            try:
                result[tag] = elem.to_json_dict(None, 2**62)
            except Exception:  # noqa: BLE001
                result[tag] = {"vr": str(elem.VR)}
        return result


def _utf8_json(document: dict[str, Any]) -> bytes:
    """The document as UTF-8 JSON.  Arguments that were not valid in the
    locale's encoding reach Python as lone surrogates; JSON escapes them
    (``\\udcxx``) so that the file stays valid UTF-8 and loses nothing."""
    import json  # only when a summary is written

    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(document, indent=2) + "\n").encode("ascii")


def write(document: dict[str, Any], target: str) -> None:
    """Write ``document``: ``-`` to standard output, else atomically (a
    temporary file in the target's directory renamed over it).  Raises OSError."""
    data = _utf8_json(document)
    if target == "-":
        out = sys.stdout
        if out is not None:
            out.flush()
            buffer = getattr(out, "buffer", None)
            if buffer is not None:
                buffer.write(data)
                buffer.flush()
            else:
                out.write(data.decode("utf-8"))
                out.flush()
        return
    import tempfile

    directory = os.path.dirname(target) or "."
    fd, temp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
