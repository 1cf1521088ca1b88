"""Command-line policy of the network requests: which transfer syntaxes and
presentation contexts the options (``-x?``, ``+x?``, the Q/R model) stand
for.  The network layer receives only transfer syntax UIDs and contexts.

``query_ts_list(option)``    -x= / -xe / -xb / -xd / -xi  -> TS UIDs
``storage_ts_list(option)``  getscu +x? -> TS UIDs proposed for storage contexts
``acceptor_ts_list(option)`` movescu +x? -> acceptor preference list
``getscu_contexts(model, propose_xfer, prefer_xfer)`` the 121 contexts
``movescu_contexts(model, propose_xfer)`` the FIND and MOVE contexts
"""

from __future__ import annotations

from ..dicom import sopclasses
from ..dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from ..net.params import ProposedContext
from ..settings import Settings
from ..store.encoding import GroupLength, WriteOptions

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"

#: +x? option (long name without dashes) -> compressed TS proposed/preferred first
COMPRESSED_PREFERENCE: dict[str, str] = {
    "prefer-lossless": "1.2.840.10008.1.2.4.70",
    "prefer-jpeg8": "1.2.840.10008.1.2.4.50",
    "prefer-jpeg12": "1.2.840.10008.1.2.4.51",
    "prefer-j2k-lossless": "1.2.840.10008.1.2.4.90",
    "prefer-j2k-lossy": "1.2.840.10008.1.2.4.91",
    "prefer-jls-lossless": "1.2.840.10008.1.2.4.80",
    "prefer-jls-lossy": "1.2.840.10008.1.2.4.81",
    "prefer-mpeg2": "1.2.840.10008.1.2.4.100",
    "prefer-mpeg2-high": "1.2.840.10008.1.2.4.101",
    "prefer-mpeg4": "1.2.840.10008.1.2.4.102",
    "prefer-mpeg4-bd": "1.2.840.10008.1.2.4.103",
    "prefer-mpeg4-2-2d": "1.2.840.10008.1.2.4.104",
    "prefer-mpeg4-2-3d": "1.2.840.10008.1.2.4.105",
    "prefer-mpeg4-2-st": "1.2.840.10008.1.2.4.106",
    "prefer-hevc": "1.2.840.10008.1.2.4.107",
    "prefer-hevc10": "1.2.840.10008.1.2.4.108",
    "prefer-rle": "1.2.840.10008.1.2.5",
    "prefer-deflated": DEFLATED_LE,
}

#: movescu +xa: DCMTK's acceptor order for "accept all"
ACCEPT_ALL = (
    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.103",
    "1.2.840.10008.1.2.4.104", "1.2.840.10008.1.2.4.105", "1.2.840.10008.1.2.4.106",
    "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108", DEFLATED_LE,
    EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE,
)



def query_ts_list(option: str) -> list[str]:
    """TS proposed for Q/R contexts per ``-x?`` (settings.propose_xfer).

    ``propose-implicit`` proposes Implicit VR LE only, in both tools (for
    getscu this fixes the 3.6.7 bug, deviation #4).
    """
    if option == "propose-big":
        return [EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE]
    if option == "propose-deflated":
        return [DEFLATED_LE, EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]
    if option == "propose-implicit":
        return [IMPLICIT_LE]
    return [EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]


def storage_ts_list(option: str) -> list[str]:
    """TS getscu proposes for every storage context per ``+x?`` (settings.prefer_xfer)."""
    if option == "prefer-big":
        return [EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE]
    if option == "implicit":
        return [IMPLICIT_LE]  # deviation #4 (3.6.7 proposed Explicit LE)
    if option in COMPRESSED_PREFERENCE:
        return [COMPRESSED_PREFERENCE[option], EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]
    return [EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]


def acceptor_ts_list(option: str) -> list[str]:
    """movescu's acceptor preference list per ``+x?`` (movescu.md §4.1)."""
    if option == "accept-all":
        return list(ACCEPT_ALL)
    return storage_ts_list(option)



def getscu_contexts(model: str, propose_xfer: str, prefer_xfer: str) -> list[ProposedContext]:
    """getscu's 121 contexts: ID 1 = GET model, then 120 storage contexts with SCP role."""
    contexts = [ProposedContext(1, sopclasses.QR_MODELS[model][2], query_ts_list(propose_xfer))]
    storage_ts = storage_ts_list(prefer_xfer)
    for index, (uid, _name) in enumerate(sopclasses.GETSCU_PROPOSED_STORAGE):
        contexts.append(ProposedContext(3 + 2 * index, uid, list(storage_ts), False, True))
    return contexts



def movescu_contexts(model: str, propose_xfer: str) -> list[ProposedContext]:
    """movescu's two contexts: ID 1 = the model's FIND, ID 3 = its MOVE class."""
    ts_list = query_ts_list(propose_xfer)
    uids = sopclasses.QR_MODELS[model]
    return [ProposedContext(1, uids[0], list(ts_list)), ProposedContext(3, uids[1], list(ts_list))]


#: ``+t?`` → the transfer syntax to write (None: as received)
_WRITE_XFER: dict[str, str | None] = {
    "write-xfer-same": None,
    "write-xfer-little": EXPLICIT_LE,
    "write-xfer-big": EXPLICIT_BE,
    "write-xfer-implicit": IMPLICIT_LE,
    "write-xfer-deflated": DEFLATED_LE,
}
#: ``+g?`` → what happens to group lengths
_GROUP_LENGTH = {
    "group-length-recalc": GroupLength.RECALC,
    "group-length-create": GroupLength.CREATE,
    "group-length-remove": GroupLength.REMOVE,
}


def write_options(settings: Settings) -> WriteOptions:
    """movescu's output options (``+F/-F +t? +u/-u +g? +e/-e +p +cl``) as
    the writer's ``WriteOptions``."""
    return WriteOptions(
        write_file=settings.write_file,
        write_xfer=_WRITE_XFER[settings.write_xfer],
        enable_new_vr=settings.enable_new_vr,
        group_length=_GROUP_LENGTH[settings.group_length],
        length_explicit=settings.length_explicit,
        padding=settings.padding,
        compression_level=settings.compression_level,
    )
