"""The one table of the UIDs and names dcmretrieve writes or compares
(transfer syntaxes, DCMTK 3.6.7's implementation class UID and version
names).  Every module imports them from here."""

from __future__ import annotations

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
#: the uncompressed transfer syntaxes, in DCMTK's default proposal order
UNCOMPRESSED = (EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE)

#: DCMTK 3.6.7 (OFFIS_DCMTK_367): A-ASSOCIATE and (0002,0012)/(0002,0013)
IMPLEMENTATION_CLASS_UID = "1.2.276.0.7230010.3.0.3.6.7"
IMPLEMENTATION_VERSION_NAME = "OFFIS_DCMTK_367"
#: (0002,0013) of files written in bit-preserving mode (``+B``)
BIT_PRESERVING_VERSION_NAME = "OFFIS_DCMBP_367"
