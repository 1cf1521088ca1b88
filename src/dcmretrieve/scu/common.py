"""What getscu and movescu share around the association layer: the store
mode, the association parameters, the end of an association, query loading
and DCMTK's "dump at debug, else a short line" logging of DIMSE messages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from ..net.conditions import DimseError
from ..net.dimse import Command
from ..net.dumps import dump_associate_ac, dump_associate_rq, dump_command
from ..net.params import AssociationParams, ProposedContext, truncate_ae
from ..net.transport import Association
from ..store.layout import Layout
from ..store.pipeline import StoreMode

if TYPE_CHECKING:  # pragma: no cover
    from .progress import Progress
    from pydicom import Dataset

    from ..settings import Settings


def store_mode(settings: "Settings") -> StoreMode:
    """--ignore wins over +B (both tools)."""
    if settings.ignore:
        return StoreMode.IGNORE
    if settings.bit_preserving:
        return StoreMode.BIT_PRESERVING
    return StoreMode.NORMAL


def tls_layer(settings: "Settings", exit_code: int) -> object | None:
    """DcmTLSOptions::createTransportLayer for ``settings`` (None without
    +tls/+tla); a failure is logged ``F: <000b:xxxx condition>`` and exits
    with ``exit_code`` (movescu 70, getscu 1; --strict-exit: 70)."""
    if settings.tls is None:
        return None
    from ..errors import FatalError
    from ..exitcodes import ExitCode
    from ..net import tls

    anonymous = settings.tls == "anonymous"
    key, cert = (None, None) if anonymous else settings.tls  # type: ignore[misc]
    write_seed = settings.tls_write_seed
    config = tls.TLSConfig(
        role="requestor" if settings.tool == "getscu" else "acceptor-requestor",
        authenticate=not anonymous, private_key=key, certificate=cert,
        password=settings.tls_password, der=settings.tls_der,
        cert_files=list(settings.tls_cert_files), cert_dirs=list(settings.tls_cert_dirs),
        crl_files=list(settings.tls_crl_files), crl_mode=settings.tls_crl, profile=settings.tls_profile,
        ciphers=list(settings.tls_ciphers), dhparam=settings.tls_dhparam,
        request_sni=settings.tls_request_sni, expect_sni=settings.tls_expect_sni, seed=settings.tls_seed,
        # getscu never writes the seed back (its +ws/+wf parse and do nothing)
        write_seed=None if settings.tool == "getscu" else (settings.tls_seed if write_seed is True else write_seed),
        verification=settings.tls_verify,
    )
    try:
        return tls.create_layer(config)
    except tls.TLSError as exc:
        raise FatalError(exc.condition.dump(), exit_code, strict_code=ExitCode.CANNOT_CREATE_TLS_LAYER) from None
def output_layout(settings: "Settings") -> Layout | None:
    """--output-layout's template, parsed (it was validated at start-up)."""
    if settings.output_layout is None:
        return None
    return Layout.parse(settings.output_layout)


def progress_display(settings: "Settings", requests: int) -> "Progress | None":
    """--progress: the live display (None without the option or when
    standard error is not a terminal); its module and tqdm are imported
    only here."""
    if not settings.progress:
        return None
    from . import progress

    return progress.create(requests)


def association_params(settings: "Settings", contexts: list[ProposedContext], max_pdu: int,
                       truncate_titles: bool, tls: object | None = None) -> AssociationParams:
    """The requestor's parameters from the command line.  ``max_pdu``: as
    ``transport.receive_pdu_size`` made it; ``truncate_titles``: getscu
    keeps the first 16 characters of the AE titles (movescu's are cut by
    the PDU encoder only, its dumps show them whole)."""
    calling, called = settings.aetitle, settings.call
    if truncate_titles:
        calling, called = truncate_ae(calling), truncate_ae(called)
    return AssociationParams(
        calling_ae=calling,
        called_ae=called,
        peer_host=settings.peer,
        peer_port=settings.port,
        max_pdu=max_pdu,
        contexts=contexts,
        connect_timeout=settings.timeout,
        acse_timeout=settings.acse_timeout,
        dimse_timeout=settings.dimse_timeout,
        tls=tls,
        protocol_family=settings.protocol_family,
    )


def request_association(params: AssociationParams, logger: logging.Logger, dump_level: int,
                        chatter: logging.Logger) -> Association:
    """``Request Parameters:`` (at ``dump_level``), ``Requesting Association``,
    then ``Association.request``; raises ``AssociationError``, which each
    tool reports its own way before ``association_accepted``."""
    if logger.isEnabledFor(dump_level):
        logger.log(dump_level, "Request Parameters:\n" + dump_associate_rq(params))
    logger.info("Requesting Association")
    return Association.request(params, chatter)


def association_accepted(assoc: Association, logger: logging.Logger, dump_level: int) -> None:
    """``Association Parameters Negotiated:`` (at ``dump_level``) and
    ``Association Accepted (Max Send PDV: n)``."""
    if logger.isEnabledFor(dump_level):
        logger.log(dump_level, "Association Parameters Negotiated:\n" + dump_associate_ac(assoc))
    logger.info(f"Association Accepted (Max Send PDV: {assoc.max_send_pdv})")


def end_association(assoc: Association, abort: bool, logger: logging.Logger) -> DimseError | None:
    """``--abort``: "Aborting Association" and A-ABORT; else "Releasing
    Association" and A-RELEASE.  A failed release is returned, the
    association not yet aborted (each tool reports it its own way)."""
    if abort:
        logger.info("Aborting Association")
        assoc.abort()
        return None
    logger.info("Releasing Association")
    try:
        assoc.release()
    except DimseError as exc:
        return exc
    return None


def load_query(path: str | None) -> tuple["Dataset", str]:
    """(identifier, its transfer syntax) of a query file, or an empty data
    set in Explicit VR LE without one; raises ``query.QueryFileError``."""
    from pydicom.dataset import Dataset

    from ..dicom import query
    from ..dicom.uids import EXPLICIT_LE

    if path is None:
        return Dataset(), EXPLICIT_LE
    ds = query.load_query_file(path)
    ts = EXPLICIT_LE
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        ts = str(meta.TransferSyntaxUID)
    return ds, ts


def log_message(logger: logging.Logger, text: str, detail: str, cmd: Command, outgoing: bool, pc_id: int,
                dataset_dump: Callable[[], str] | None = None, *,
                after_text: Callable[[], None] | None = None, dump_prefix: str = "") -> None:
    """DCMTK's pattern for a DIMSE message: at debug ``text`` (info) and the
    message dump (debug; with ``dataset_dump()`` after it), else ``text
    (detail)`` (info), e.g. ``Sending C-GET Request (MsgID 1)``.
    ``after_text()`` runs right after the info line (warnings DCMTK logs
    while it builds the dump); ``dump_prefix`` is text such a warning left
    in log4cplus' shared message buffer, in front of the dump."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.info(text)
        if after_text is not None:
            after_text()
        logger.debug(dump_prefix + dump_command(cmd, outgoing, pc_id, dataset_dump() if dataset_dump else None))
    else:
        if logger.isEnabledFor(logging.INFO):  # (per object: no text built when nobody reads it)
            logger.info("%s (%s)", text, detail)
        if after_text is not None:
            after_text()
