"""Batch retrieval (docs/batch.md): the list of requests, ``--resume``,
``--retry``/``--retry-wait`` and ``--parallel``.

A run's requests are the query files times the ``--repeat`` rounds, in the
tool's order (getscu: round by round; movescu: file by file).  ``run``
carries them out with a tool's ``Worker`` (one association each):

* ``--parallel 1`` (the default): in the calling thread, on one association,
  one request after the other -- exactly the DCMTK loop; a failure that is
  not retried ends the batch the tool's own way (``Worker.fail``).
* ``--parallel N``: N threads, each with its own worker and association,
  each taking the next request from one shared iterator (the requests are
  made as they are consumed: `--repeat` may be any 64-bit number).  A failure that is not
  retried stops the batch as with one association: no further request is
  started, those in flight finish, then the first failure is reported.
  Log lines written on behalf of a request start with ``[n] `` (its
  1-based number in the batch).
* ``--retry N``: a request that fails transiently (``transient_*``, the
  table in docs/batch.md) is tried again up to N times, after
  ``--retry-wait`` seconds, doubled for each further retry; a failed
  association is dropped and a new one opened.  Every retry is a ``W:``.
* ``--resume FILE``: requests whose key (``request_key``) ended in Success
  in FILE (an earlier ``--summary-json``) are skipped and recorded so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..net.conditions import (
    COND_NETWORK_CLOSED, COND_NO_DATA, COND_PEER_ABORTED, COND_READ_TIMEOUT, COND_RECEIVE_FAILED, COND_SEND_FAILED,
    COND_SEND_ON_CLOSED, AssociationError, AssociationFailure, Condition,
)
from ..errors import FatalError
from .summary import READABLE_SCHEMAS, Recorder

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings

#: A-ASSOCIATE-RJ result "rejected-transient"
REJECTED_TRANSIENT = 2


@dataclass(frozen=True)
class Request:
    """One request of the batch."""

    index: int  # 0-based position in the batch
    source: str | None  # query file; None: -k keys only
    round: int  # 1-based --repeat round
    key: str  # request_key(...)


def request_key(content: bytes | None, keys: Sequence[str], round_: int) -> str:
    """What ``--resume`` matches: a SHA-256 over the query file's bytes, the
    ``-k`` keys and the round (``sha256:<hex>``)."""
    import hashlib  # only with --resume or --summary-json (OpenSSL's loading is start-up time)

    digest = hashlib.sha256()
    digest.update(b"F" + content if content is not None else b"N")
    for key in keys:
        digest.update(b"\0K" + key.encode("utf-8", "surrogateescape"))
    digest.update(b"\0R%d" % round_)
    return "sha256:" + digest.hexdigest()


def requests_of(settings: "Settings") -> Iterator[Request]:
    """The batch in the tool's order (getscu: rounds outside, movescu: files
    outside), made as it is consumed: ``--repeat`` takes any 64-bit number,
    as DCMTK's does, and a run that fails at its first request must not
    first build a list of them."""
    files: list[str | None] = list(settings.query_files) or [None]
    repeat = max(1, settings.repeat)
    if settings.tool == "getscu":
        order = ((source, round_) for round_ in range(1, repeat + 1) for source in files)
    else:
        order = ((source, round_) for source in files for round_ in range(1, repeat + 1))
    keyed = bool(settings.resume or settings.summary_json)  # else nothing reads the keys
    contents: dict[str | None, bytes | None] = {}
    for source in files if keyed else ():
        if source in contents:
            continue
        content: bytes | None = None
        if source is not None:
            try:
                with open(source, "rb") as handle:
                    content = handle.read()
            except OSError:
                content = b"\0unreadable:" + source.encode("utf-8", "surrogateescape")
        contents[source] = content
    for i, (source, round_) in enumerate(order):
        yield Request(i, source, round_, request_key(contents[source], settings.keys, round_) if keyed else "")


def resume_keys(settings: "Settings", exit_code: int) -> set[str]:
    """The keys --resume skips (empty without it); a summary that cannot be
    read is a ``FatalError`` with ``exit_code``."""
    if not settings.resume:
        return set()
    try:
        return load_resume(settings.resume)
    except ResumeError as exc:
        raise FatalError(str(exc), exit_code) from None


class ResumeError(Exception):
    """The --resume file is not a summary we can read."""


def load_resume(path: str) -> set[str]:
    """Keys of the requests that ended in Success in summary ``path``.  A
    file that does not exist yet is an empty set (the first run of a batch
    that always says ``--resume s.json --summary-json s.json``)."""
    try:
        import json

        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as exc:
        raise ResumeError(f"cannot read summary file {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") not in READABLE_SCHEMAS:
        raise ResumeError(f"cannot read summary file {path}: not a dcmretrieve summary")
    done: set[str] = set()
    for request in document.get("requests") or []:
        if isinstance(request, dict) and request.get("outcome") == "success" and isinstance(request.get("key"), str):
            done.add(request["key"])
    return done


# ------------------------------------------------------------ transient? --


#: DIMSE-level conditions retried: the association went away or went silent
TRANSIENT_CONDITIONS = (COND_PEER_ABORTED, COND_NETWORK_CLOSED, COND_NO_DATA, COND_READ_TIMEOUT,
                        COND_RECEIVE_FAILED, COND_SEND_FAILED, COND_SEND_ON_CLOSED)


def transient_association(exc: AssociationError) -> str | None:
    """Why an association failure is worth a retry, or None (docs/batch.md)."""
    kind = exc.kind
    if kind is AssociationFailure.REJECTED:
        return "association rejected (transient)" if exc.result == REJECTED_TRANSIENT else None
    if kind is AssociationFailure.TCP:
        return "association refused (TCP)"
    if kind is AssociationFailure.TIMEOUT:
        return "association timed out"
    if kind in (AssociationFailure.ABORTED, AssociationFailure.CLOSED):
        return "association aborted"
    return None


def transient_condition(condition: Condition | None) -> str | None:
    """Why a DIMSE failure is worth a retry, or None."""
    if condition is None:
        return None
    for known in TRANSIENT_CONDITIONS:
        if condition == known or condition.dump().startswith(known.dump().split("\n")[0]):
            if known in (COND_NO_DATA, COND_READ_TIMEOUT):
                return "timed out"
            return "association aborted or lost"
    return None


def transient_status(status: int | None) -> str | None:
    """A final C-GET/C-MOVE status worth a retry: 0xA7xx, Out of Resources."""
    if status is not None and status & 0xFF00 == 0xA700:
        return f"final status 0x{status:04x} (Out of Resources)"
    return None


# ------------------------------------------------------------------ runner --


class Worker(Protocol):
    """One association of a tool and the requests on it."""

    def open(self) -> None:
        """Establish the association; raises on failure (``transient`` tells)."""

    def perform(self, request: Request) -> int | None:
        """One request; the final status (None: none); raises on a failure."""

    def transient(self, exc: BaseException) -> str | None:
        """Why ``exc`` (from open/perform) is transient, or None."""

    def retry_status(self) -> None:
        """A transient final status is retried: undo its effect on the exit status."""

    def drop(self) -> None:
        """Give up the association after a transient failure (before a retry)."""

    def fail(self, exc: BaseException) -> None:
        """A failure that is not retried: end the association the tool's
        way; may raise (getscu: the FatalError)."""

    def finish(self) -> None:
        """All requests done: release (or --abort) the association."""


class BatchAborted(Exception):
    """A worker failed for good (--parallel): no new requests are started."""


class Runner:
    """Runs a batch with workers made by ``make_worker`` (module docstring)."""

    def __init__(self, settings: "Settings", record: Recorder, make_worker: Callable[[], Worker],
                 logger: logging.Logger, requests: Iterable[Request] | None = None,
                 done: set[str] | None = None) -> None:
        self.settings = settings
        self.record = record
        self.make_worker = make_worker
        self.logger = logger
        self.requests = requests_of(settings) if requests is None else requests
        self.done = done or set()
        self.workers: list[Worker] = []
        self.failures: list[tuple[int, BaseException]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def pending(self) -> Iterator[Request]:
        """The requests to send, as they are needed; the ones --resume skips
        are recorded (and logged) when they come up."""
        for request in self.requests:
            if request.key in self.done:
                self.record.skipped(request.source, request.round, request.index, request.key)
                self.logger.info("skipping request %d (%s, round %d): Success in %s", request.index + 1,
                                 request.source or "-k keys", request.round, self.settings.resume)
            else:
                yield request

    # ---- one request, with retries ------------------------------------------------
    def attempt(self, worker: Worker | None, request: Request) -> Worker | None:
        """Carry out ``request``, retrying transient failures; returns the
        worker to go on with.  A failure that is not retried is handed to
        ``fail`` (which may raise) and re-raised as BatchAborted."""
        settings = self.settings
        tries = 0
        while True:
            opening = False
            try:
                if worker is None:
                    worker = self.make_worker()
                    with self.lock:
                        self.workers.append(worker)
                    opening = True
                    worker.open()
                    opening = False
                self.record.begin_request(request.source, request.round, request.index, request.key)
                status = worker.perform(request)
                self.record.journal()
                reason = transient_status(status)
                if reason is None or tries >= settings.retry or self.stop.is_set():
                    return worker
                tries += 1
                wait = self._retry(request, tries, reason)
                worker.retry_status()
                time.sleep(wait)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - classified, then re-raised or retried
                if worker is None:
                    raise
                reason = worker.transient(exc)
                if reason is None or tries >= settings.retry or self.stop.is_set():
                    with self.lock:
                        self.failures.append((request.index, exc))
                    self.stop.set()
                    if opening:
                        if tries:  # the retries go into the summary with the request
                            self.record.begin_request(request.source, request.round, request.index, request.key)
                            self.record.request_error(f"no association after {tries} retries"
                                                      + (f": {reason}" if reason else ""))
                        raise  # the association itself failed for good (already reported)
                    worker.fail(exc)
                    raise BatchAborted() from exc
                tries += 1
                wait = self._retry(request, tries, reason)
                worker.drop()
                worker = None
                time.sleep(wait)

    def _retry(self, request: Request, attempt: int, reason: str) -> float:
        wait = self.settings.retry_wait * (2 ** (attempt - 1))
        self.logger.warning("retrying request %d (%s, round %d) in %g s, retry %d of %d: %s",
                            request.index + 1, request.source or "-k keys", request.round,
                            wait, attempt, self.settings.retry, reason)
        self.record.retrying(request.index, attempt, reason, wait)
        return wait

    # ---- the whole batch ----------------------------------------------------------------
    def run_sequential(self) -> Worker | None:
        """--parallel 1: in this thread, one association; returns the worker
        still open (None when nothing was sent).  A failure for good raises
        (BatchAborted after ``fail``, or the tool's own exception)."""
        worker: Worker | None = None
        for request in self.pending():
            worker = self.attempt(worker, request)
        return worker

    def run_parallel(self, count: int) -> None:
        """--parallel N: N threads taking the next request from one shared
        iterator; returns when all are done.  Failures are in
        ``self.failures`` (request index, exception), first one first.  A
        thread that finds nothing left ends without opening an association."""
        todo = self.pending()
        total = max(1, self.settings.repeat) * max(1, len(self.settings.query_files))
        take = threading.Lock()
        threads = [threading.Thread(target=self._thread, args=(todo, take), name=f"batch-{n + 1}", daemon=True)
                   for n in range(min(count, total))]
        install_tags()
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)  # (bounded: Ctrl-C reaches the main thread)
        except BaseException:
            self.stop.set()  # Ctrl-C: no new request, no retry
            raise
        self.failures.sort(key=lambda item: item[0])

    def _thread(self, todo: Iterator[Request], take: threading.Lock) -> None:
        worker: Worker | None = None
        try:
            while not self.stop.is_set():
                with take:
                    request = next(todo, None)
                if request is None:
                    break
                _TAGS.text = _tag_text(request)
                try:
                    worker = self.attempt(worker, request)
                finally:
                    _TAGS.text = None
            if worker is not None:
                worker.finish()
        except BatchAborted:
            pass
        except BaseException as exc:  # noqa: BLE001 - kept for the main thread
            with self.lock:
                if not any(e is exc for _, e in self.failures):
                    self.failures.append((1 << 30, exc))
            self.stop.set()


# ------------------------------------------------------------ log tags --

_TAGS = threading.local()
_installed = False


def _tag_text(request: Request) -> str:
    return f"[{request.index + 1}] "


def install_tags() -> None:
    """--parallel N > 1: every log record made while a thread works on a
    request starts with ``[n] `` (the request's 1-based number)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):  # type: ignore[no-untyped-def]
        record = previous(*args, **kwargs)
        text = getattr(_TAGS, "text", None)
        if text:
            record.msg = text + (record.msg if isinstance(record.msg, str) else str(record.msg))
        return record

    logging.setLogRecordFactory(factory)


class MessageIds:
    """Message IDs unique across the associations of one run (--parallel:
    movescu attributes received objects by Move Originator Message ID)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def __call__(self) -> int:
        with self._lock:
            self._last = self._last % 0xFFFF + 1
            return self._last
