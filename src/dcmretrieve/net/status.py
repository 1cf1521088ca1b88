"""DIMSE status texts and classes as DCMTK prints them.

``dimse_status_text(status)``: C-MOVE/C-GET response text (movescu.md §3.2);
``store_status_text(status)``: C-STORE response text (getscu.md §4);
``status_class(status) -> StatusClass``: how DcmSCU classifies a status;
``response_text`` / ``store_response_text``: the longer texts of DCMTK's
DIMSE message dumps.  Imports nothing.
"""

from __future__ import annotations

import enum

_RSP_TEXTS = {
    0x0000: "Success",
    0xFF00: "Pending",
    0xFE00: "Cancel: SubOperationsTerminatedDueToCancelIndication",
    0xB000: "Warning: SubOperationsCompleteOneOrMoreFailures",
    0xA701: "Refused: OutOfResourcesNumberOfMatches",
    0xA702: "Refused: OutOfResourcesSubOperations",
    0xA801: "Refused: MoveDestinationUnknown",
    0x0122: "Refused: SOPClassNotSupported",
    0xA900: "Error: DataSetDoesNotMatchSOPClass",
}


def dimse_status_text(status: int) -> str:
    """C-MOVE / C-GET response status text (movescu.md §3.2, getscu.md §3.2)."""
    text = _RSP_TEXTS.get(status)
    if text is not None:
        return text
    if status & 0xF000 == 0xC000:
        return "Failed: UnableToProcess"
    return f"Unknown Status: 0x{status:x}"


def store_status_text(status: int) -> str:
    """C-STORE response status text (getscu.md §4)."""
    if status == 0x0000:
        return "Success"
    if status == 0x0122:
        return "Refused: SOPClassNotSupported"
    if status == 0xB000:
        return "Warning: CoercionOfDataElements"
    if status == 0xB007:
        return "Warning: DataSetDoesNotMatchSOPClass"
    if status == 0xB006:
        return "Warning: ElementsDiscarded"
    if status & 0xFF00 == 0xA700:
        return "Refused: OutOfResources"
    if status & 0xFF00 == 0xA900:
        return "Error: DataSetDoesNotMatchSOPClass"
    if status & 0xF000 == 0xC000:
        return "Error: CannotUnderstand"
    return f"Unknown Status: 0x{status:x}"


class StatusClass(enum.Enum):
    """A DIMSE status class (``status_class``)."""

    PENDING = "pending"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


def status_class(status: int) -> StatusClass:
    """The class of ``status`` the way DcmSCU classifies it."""
    if status in (0xFF00, 0xFF01):
        return StatusClass.PENDING
    if status == 0x0000:
        return StatusClass.SUCCESS
    if status & 0xF000 == 0xB000 or status in (0x0001, 0x0107, 0x0116):
        return StatusClass.WARNING
    return StatusClass.FAILURE


_LONG_RSP_TEXTS = {
    0x0000: "Success: Sub-operations complete - No failures or warnings",
    0xFF00: "Pending: Sub-operations are continuing",
    0xFE00: "Cancel: Sub-operations terminated due to Cancel indication",
    0xB000: "Warning: Sub-operations complete - One or more failures or warnings",
    0xA701: "Refused: Out of resources - Unable to calculate number of matches",
    0xA702: "Refused: Out of resources - Unable to perform sub-operations",
    0xA801: "Refused: Move destination unknown",
    0xA900: "Error: Data set does not match SOP class",
}


#: C-STORE-RSP status texts of DCMTK's DIMSE dumps (exact codes, then classes)
_LONG_STORE_TEXTS = {
    0x0000: "Success",
    0xB000: "Warning: Coercion of data elements",
    0xB007: "Warning: Data set does not match SOP class",
    0xB006: "Warning: Elements discarded",
    0xA700: "Refused: Out of resources",
    0xA900: "Error: Data set does not match SOP class",
    0xC000: "Error: Cannot understand",
}


def response_text(status: int) -> str:
    """C-GET/C-MOVE-RSP status text of DCMTK's DIMSE dumps."""
    return _LONG_RSP_TEXTS.get(status, dimse_status_text(status))


def store_response_text(status: int) -> str:
    """C-STORE-RSP status text of DCMTK's DIMSE dumps (exact codes, then classes)."""
    return _LONG_STORE_TEXTS.get(status) or _LONG_STORE_TEXTS.get(status & 0xFF00) \
        or _LONG_STORE_TEXTS.get(status & 0xF000) or store_status_text(status)
