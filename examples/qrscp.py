"""A small DICOM Query/Retrieve SCP for demos and tests: C-GET and C-MOVE.

Pure Python (pynetdicom + pydicom), no DCMTK.  It serves DICOM files (by
default pydicom's bundled sample files CT_small, MR_small and rtplan) to
``getscu`` (C-GET: the objects come back on the same association) and
``movescu`` (C-MOVE: it opens an association to the move destination, which
must be named in its destination table).

    python examples/qrscp.py --port 11112 --aetitle COMMON \\
        --dest MOVESCU=127.0.0.1:11113 [FILE_OR_DIR ...]

Matching (information models Patient Root, Study Root and Patient/Study
Only; levels PATIENT, STUDY, SERIES, IMAGE): the identifier's PatientID,
StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID are compared with
each object's; an absent or empty key matches everything, ``*`` and ``?``
are wildcards, ``\\`` separates a list of values.  Every request and result
is logged to stderr.  C-FIND is not offered (C-ECHO is).

``--ready-file F`` writes the PID to F once the port is bound, so a parent
process can wait for it; SIGTERM/SIGINT stop the server cleanly.  Point your
own tests at it the same way ``examples/demo.py`` does.
"""

from __future__ import annotations

import argparse
import fnmatch
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.presentation import AllStoragePresentationContexts, build_context
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

LOG = logging.getLogger("qrscp")

SAMPLE_FILES = ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")
RETRIEVE_MODELS = (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    PatientStudyOnlyQueryRetrieveInformationModelGet,
    PatientStudyOnlyQueryRetrieveInformationModelMove,
)
#: identifier key per level, from the top (a request matches on every key it gives)
LEVEL_KEYS = (
    ("PATIENT", "PatientID"),
    ("STUDY", "StudyInstanceUID"),
    ("SERIES", "SeriesInstanceUID"),
    ("IMAGE", "SOPInstanceUID"),
)
STATUS_UNKNOWN_DESTINATION = 0xA801
STATUS_IDENTIFIER_INVALID = 0xA900


class Archive:
    """The served objects: path plus the attributes requests match on."""

    def __init__(self, paths: list[Path]) -> None:
        self.objects: list[tuple[Path, dict[str, str], str, str]] = []
        for path in paths:
            ds = dcmread(path, stop_before_pixels=True)
            keys = {key: str(ds.get(key, "")) for _, key in LEVEL_KEYS}
            self.objects.append((path, keys, str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID)))
            LOG.info("serving %s (PatientID %s)", path.name, keys["PatientID"])

    def match(self, ident: Dataset) -> list[tuple[Path, dict[str, str], str, str]]:
        level = str(ident.get("QueryRetrieveLevel", "")).strip().upper()
        if level not in [name for name, _ in LEVEL_KEYS]:
            raise ValueError(f"bad QueryRetrieveLevel {level!r}")
        found = []
        for obj in self.objects:
            if all(_matches(str(ident.get(key, "") or ""), obj[1][key]) for _, key in LEVEL_KEYS):
                found.append(obj)
        return found


def _matches(wanted: str, value: str) -> bool:
    wanted = wanted.strip()
    if not wanted or wanted == "*":
        return True
    return any(fnmatch.fnmatchcase(value, item.strip()) for item in wanted.split("\\"))


def collect(names: list[str]) -> list[Path]:
    """Files named, files in directories named, or pydicom's samples."""
    if not names:
        return [Path(get_testdata_file(name)) for name in SAMPLE_FILES]
    paths: list[Path] = []
    for name in names:
        path = Path(name)
        paths += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return paths


def parse_destinations(items: list[str]) -> dict[str, tuple[str, int]]:
    table = {}
    for item in items:
        ae, _, address = item.partition("=")
        host, _, port = address.rpartition(":")
        if not ae or not host or not port.isdigit():
            raise SystemExit(f"qrscp: --dest wants AE=HOST:PORT, not {item!r}")
        table[ae.strip()] = (host, int(port))
    return table


class Server:
    def __init__(self, args: argparse.Namespace) -> None:
        self.archive = Archive(collect(args.files))
        self.destinations = parse_destinations(args.dest)
        self.ae = AE(ae_title=args.aetitle)
        self.ae.maximum_associations = 8
        self.ae.acse_timeout = self.ae.dimse_timeout = self.ae.network_timeout = 60
        self.ae.add_supported_context(Verification)
        for model in RETRIEVE_MODELS:
            self.ae.add_supported_context(model, ALL_TRANSFER_SYNTAXES)
        # C-GET: the SCU proposes storage contexts in which we play the SCU role
        for cx in AllStoragePresentationContexts:
            self.ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES,
                                          scu_role=False, scp_role=True)

    def _ident(self, event: evt.Event, kind: str):  # -> list or None
        ident = event.identifier
        LOG.info("%s-RQ from %s: level %s, PatientID %r, StudyInstanceUID %r", kind,
                 event.assoc.requestor.ae_title, ident.get("QueryRetrieveLevel"),
                 ident.get("PatientID"), ident.get("StudyInstanceUID"))
        try:
            return self.archive.match(ident)
        except ValueError as exc:
            LOG.info("%s: %s -> 0x%04X", kind, exc, STATUS_IDENTIFIER_INVALID)
            return None

    @staticmethod
    def _objects(event: evt.Event, matches):
        """The sub-operation count, then each matching object (C-GET and C-MOVE alike)."""
        yield len(matches)
        for path, _, _, _ in matches:
            if event.is_cancelled:
                yield 0xFE00, None
                return
            yield 0xFF00, dcmread(path)

    def on_get(self, event: evt.Event):
        matches = self._ident(event, "C-GET")
        if matches is None:
            yield STATUS_IDENTIFIER_INVALID, None
            return
        LOG.info("C-GET: %d match(es)", len(matches))
        yield from self._objects(event, matches)

    def on_move(self, event: evt.Event):
        matches = self._ident(event, "C-MOVE")
        destination = str(event.move_destination or "").strip()
        address = self.destinations.get(destination)
        if address is None:
            LOG.info("C-MOVE: unknown destination %r -> 0x%04X", destination, STATUS_UNKNOWN_DESTINATION)
            yield None, None
            return
        if matches is None:
            yield STATUS_IDENTIFIER_INVALID, None
            return
        # the sub-association proposes what the matching objects need
        contexts, seen = [], set()
        for _, _, sop_class, ts in matches:
            if (sop_class, ts) not in seen:
                seen.add((sop_class, ts))
                syntaxes = list(dict.fromkeys([ts, ExplicitVRLittleEndian, ImplicitVRLittleEndian]))
                contexts.append(build_context(sop_class, syntaxes))
        LOG.info("C-MOVE: %d match(es) to %s at %s:%d", len(matches), destination, *address)
        yield address[0], address[1], {"contexts": contexts}
        yield from self._objects(event, matches)

    def run(self, host: str, port: int, ready_file: str) -> None:
        handlers = [(evt.EVT_C_GET, self.on_get), (evt.EVT_C_MOVE, self.on_move)]
        server = self.ae.start_server((host, port), block=False, evt_handlers=handlers)
        LOG.info("qrscp listening on %s:%d as %s; move destinations %s", host, port,
                 self.ae.ae_title, self.destinations or "none")
        if ready_file:
            Path(ready_file).write_text(str(os.getpid()))
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        stop.wait()
        LOG.info("qrscp stopping")
        server.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="DICOM files or directories (default: pydicom's samples)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=11112, help="port to listen on (default 11112)")
    parser.add_argument("--aetitle", default="QRSCP", help="our AE title (default QRSCP)")
    parser.add_argument("--dest", action="append", default=[], metavar="AE=HOST:PORT",
                        help="a C-MOVE destination (repeatable)")
    parser.add_argument("--ready-file", default="", help="write our PID here once listening")
    parser.add_argument("-q", "--quiet", action="store_true", help="log nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="qrscp: %(message)s", stream=sys.stderr)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    Server(args).run(args.host, args.port, args.ready_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
