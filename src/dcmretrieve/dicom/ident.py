"""The query identifier of one C-GET/C-MOVE request, without pydicom when it can be.

WHY: importing pydicom costs about 100 ms CPU (``pydicom/__init__`` loads the
pixel machinery, urllib/http/ssl and tqdm), half of what DCMTK's getscu needs
for a whole C-GET of a CT study (issue 8).  The usual identifier is a handful
of ``-k`` keys such as ``QueryRetrieveLevel=STUDY`` and
``StudyInstanceUID=1.2.3``: top-level standard elements of character-string
VRs whose text DCMTK's ``putString`` stores as typed.  Such keys become
``Element``s (``keys.plain_get_keys``, ``keys.MoveKeys.plain_elements``, which
decide with ``keys.plain_element``), encoded here byte for byte as pydicom
encodes the same data set (``net.dimse.encode_identifier``; the tests compare
the two in every transfer syntax).

Everything else keeps today's pydicom ``Dataset`` (query files, sequence
paths, private tags, other VRs, values ``putString`` would change or warn
about): ``Identifier`` builds it at once then.  For plain keys it builds it
only when something needs it -- the ``--summary-json`` identifiers -- through
the same code (``keys.apply_get_keys``/``MoveKeys.apply``); the ``-d``/``-v``
dumps of plain keys are made from the elements (``dump.dump_plain``, tested
to give the data set's text).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from pydicom.dataelem import DataElement

#: Explicit VR: the VRs with two reserved bytes and a 4-byte length (PS3.5 7.1.2).
LONG_LENGTH_VRS = frozenset("OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())


@dataclass(frozen=True)
class Element:
    """A top-level element of a character-string VR: its text as the bytes
    typed (not padded)."""

    tag: int
    vr: str
    value: bytes


def encode(elements: Iterable[Element], implicit: bool, little: bool) -> bytes:
    """The elements in tag order, as pydicom's ``write_dataset`` writes them:
    values padded to even length with NUL (UI) or a blank (the others)."""
    order = "<" if little else ">"
    out = bytearray()
    for elem in sorted(elements, key=lambda e: e.tag):
        value = elem.value
        if len(value) % 2:
            value += b"\0" if elem.vr == "UI" else b" "
        group, number = elem.tag >> 16, elem.tag & 0xFFFF
        if implicit:
            out += struct.pack(order + "HHL", group, number, len(value))
        elif elem.vr in LONG_LENGTH_VRS:
            out += struct.pack(order + "HH2sHL", group, number, elem.vr.encode("ascii"), 0, len(value))
        else:
            out += struct.pack(order + "HH2sH", group, number, elem.vr.encode("ascii"), len(value))
        out += value
    return bytes(out)


class Identifier:
    """The identifier of one request.

    ``elements``: the plain elements, or None when the identifier needs
    pydicom.  ``dataset``: the pydicom data set, made by *build*: at once
    without plain elements (its messages -- bad keys, bad query files --
    come where they always did), else on first use.
    """

    def __init__(self, build: Callable[[], "Dataset"], elements: list[Element] | None = None) -> None:
        self.elements = elements
        self._build = build
        self._dataset: Dataset | None = None if elements is not None else build()

    @property
    def dataset(self) -> "Dataset":
        if self._dataset is None:
            self._dataset = self._build()
        return self._dataset

    def repair_uids(self) -> list[tuple[str, "DataElement"]]:
        """``keys.repair_uids``: nothing to repair in plain elements (a UI
        value with white space is not plain)."""
        if self.elements is not None:
            return []
        from .keys import repair_uids

        return repair_uids(self.dataset)

    def unconvertible(self, ts_uid: str) -> str | None:
        """``keys.unconvertible_identifier``: plain elements never hold
        Pixel Data, so they are always writable."""
        if self.elements is not None:
            return None
        from .keys import unconvertible_identifier

        return unconvertible_identifier(self.dataset, ts_uid)
