"""The data dictionary, as DCMTK 3.6.7 sees it (``DCMDICTPATH``, ``dicom.dic``).

WHY a dictionary of our own instead of just pydicom's: DCMTK's observable
behaviour depends on *its* dictionary — ``-k`` names are DCMTK names (retired
attributes carry a ``RETIRED_`` prefix, tags newer than 3.6.7 are unknown),
generic entries such as ``GenericGroupLength`` and ``PrivateCreator`` make
``(gggg,0000)`` and ``(odd,00xx)`` known, the dump shows DCMTK's pseudo VRs
(``xs``, ``ox``, ``lt`` ...), and ``DCMDICTPATH`` *replaces* the dictionary.

* ``DCMDICTPATH`` unset or empty: the built-in dictionary, derived from
  pydicom's tables and corrected to DCMTK 3.6.7's ``dicom.dic`` (see
  ``_builtin``).  It plays the role of DCMTK's default file list.
* ``DCMDICTPATH`` set: exactly the listed files, parsed like DCMTK's
  ``DcmDataDictionary::loadDictionary`` with the same error messages on the
  ``dcmtk.dcmdata`` logger.  Entries are also registered with pydicom so that
  it can encode/decode the new tags.

The dictionary is loaded on first use, as in DCMTK (its messages therefore
appear wherever the first lookup happens).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from dataclasses import dataclass

from .cscan import scan_c_int

#: DCMTK's logger for dcmdata messages.
_LOG = logging.getLogger("dcmtk.dcmdata")

#: The warning both tools log after the command line when no dictionary is loaded.
NO_DICTIONARY_WARNING = "no data dictionary loaded, check environment variable: DCMDICTPATH"

#: VR names accepted in the VR field (first two characters are compared).
VALID_VRS = frozenset(
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM "
    "UC UI UL UN UR US UT UV ox xs lt px up na".split()
)

EVEN, ODD, UNSPECIFIED = "e", "o", "u"

#: Name DCMTK prints for a tag it does not know.
UNKNOWN_NAME = "Unknown Tag & Data"


@dataclass(frozen=True)
class DictEntry:
    """One dictionary entry (an exact tag or a tag range)."""

    group: int
    element: int
    vr: str
    name: str
    vm: str = "1"
    standard: str = "DICOM"
    group_hi: int | None = None
    element_hi: int | None = None
    group_restriction: str = UNSPECIFIED
    element_restriction: str = UNSPECIFIED
    creator: str | None = None

    @property
    def upper_group(self) -> int:
        return self.group if self.group_hi is None else self.group_hi

    @property
    def upper_element(self) -> int:
        return self.element if self.element_hi is None else self.element_hi

    @property
    def is_repeating(self) -> bool:
        return self.upper_group != self.group or self.upper_element != self.element

    @property
    def tag(self) -> int:
        """The (lower) tag, which is what DCMTK uses for a name lookup."""
        return (self.group << 16) | self.element

    def _creator_match(self, creator: str | None) -> bool:
        return self.creator == creator

    def contains(self, group: int, element: int, creator: str | None) -> bool:
        """DcmDictEntry::contains(key, privCreator)."""
        if self.group_restriction == EVEN and group % 2 == 1:
            return False
        if self.group_restriction == ODD and group % 2 == 0:
            return False
        if self.element_restriction == EVEN and element % 2 == 1:
            return False
        if self.element_restriction == ODD and element % 2 == 0:
            return False
        if not self._creator_match(creator):
            return False
        group_ok = self.group <= group <= self.upper_group
        found = group_ok and self.element <= element <= self.upper_element
        if not found and group_ok and creator is not None:
            found = self.element <= (element & 0xFF) <= self.upper_element
        return found

    def subset(self, other: "DictEntry") -> bool:
        return (
            self.group >= other.group
            and self.upper_group <= other.upper_group
            and self.element >= other.element
            and self.upper_element <= other.upper_element
            and self._creator_match(other.creator)
        )

    def set_eq(self, other: "DictEntry") -> bool:
        return (
            self.group == other.group
            and self.upper_group == other.upper_group
            and self.element == other.element
            and self.upper_element == other.upper_element
            and self.group_restriction == other.group_restriction
            and self.element_restriction == other.element_restriction
            and self._creator_match(other.creator)
        )


class DataDictionary:
    """DCMTK's DcmDataDictionary: a hash of exact entries plus an ordered
    list of range entries, with DCMTK's insertion and lookup rules."""

    def __init__(self) -> None:
        self._exact: dict[tuple[int, str | None], DictEntry] = {}
        self._ranges: list[DictEntry] = []
        self._names: dict[str, list[DictEntry]] | None = None
        #: Fallback for private tags (pydicom's private tables), built-in dictionary only.
        self.private_fallback = False

    def add(self, entry: DictEntry) -> None:
        """DcmDataDictionary::addEntry: equal ranges replace each other, a
        sub-range goes before the first range containing it, others append."""
        self._names = None
        if entry.is_repeating:
            for i, old in enumerate(self._ranges):
                if entry.set_eq(old):
                    self._ranges[i] = entry
                    return
                if entry.subset(old):
                    self._ranges.insert(i, entry)
                    return
            self._ranges.append(entry)
        else:
            key = (entry.tag, entry.creator)
            self._exact.pop(key, None)  # a later file's entry moves to the end
            self._exact[key] = entry

    def __len__(self) -> int:
        return len(self._exact) + len(self._ranges)

    def find_tag(self, tag: int, creator: str | None = None) -> DictEntry | None:
        """DcmDataDictionary::findEntry(key, privCreator)."""
        group, element = tag >> 16, tag & 0xFFFF
        entry = self._exact.get((tag, creator))
        if entry is None and creator is not None:
            entry = self._exact.get(((group << 16) | (element & 0xFF), creator))
        if entry is None:
            for candidate in self._ranges:
                if candidate.contains(group, element, creator):
                    entry = candidate
                    break
        if entry is None and creator is not None and self.private_fallback:
            entry = _pydicom_private_entry(tag, creator)
        return entry

    def find_name(self, name: str) -> DictEntry | None:
        """DcmDataDictionary::findEntry(name): a public exact entry first, then
        range entries, then a private exact entry.  Exact, case-sensitive."""
        if self._names is None:
            names: dict[str, list[DictEntry]] = {}
            for entry in self._exact.values():
                names.setdefault(entry.name, []).append(entry)
            self._names = names
        private: DictEntry | None = None
        for entry in self._names.get(name, ()):
            if entry.group % 2 == 0:
                return entry
            if private is None:
                private = entry
        for entry in self._ranges:
            if entry.name == name:
                return entry
        return private

    def tag_name(self, tag: int, creator: str | None = None) -> str:
        entry = self.find_tag(tag, creator)
        return entry.name if entry is not None else UNKNOWN_NAME

    def entries(self) -> list[DictEntry]:
        return list(self._exact.values()) + list(self._ranges)


def _pydicom_private_entry(tag: int, creator: str) -> DictEntry | None:
    """VR of a private tag from pydicom's private tables (DCMTK's private.dic
    plays this role); DCMTK's names for them are not available, so the name
    is pydicom's description in CamelCase (equal to DCMTK's for about three
    quarters of private.dic)."""
    from pydicom.datadict import private_dictionary_VR, private_dictionary_description

    try:
        vr = private_dictionary_VR(tag, creator)
        description = private_dictionary_description(tag, creator)
    except KeyError:
        return None
    vr = _PYDICOM_VR_TO_DCMTK.get(vr, vr)
    if vr not in VALID_VRS:
        return None
    # DCMTK's private.dic names are mostly the descriptions in CamelCase
    words = [w for w in re.split(r"[^0-9A-Za-z]+", description) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words) or UNKNOWN_NAME
    return DictEntry(tag >> 16, tag & 0xFF, vr, name, standard="PRIVATE", creator=creator)


# ---------------------------------------------------------------------------
# the built-in dictionary (DCMTK 3.6.7's dicom.dic, reconstructed)

_PYDICOM_VR_TO_DCMTK = {
    "US or SS": "xs",
    "US or SS or OW": "lt",
    "OB or OW": "ox",
    "US or OW": "lt",
    "NONE": "na",
}

#: Tags DCMTK 3.6.7 types as ``up`` (pydicom: UL).
_UP_TAGS = frozenset({0x00041200, 0x00041202, 0x00041400, 0x00041420, 0x00041504})

#: Retired in pydicom's (newer) tables but not yet in DCMTK 3.6.7.
_NOT_RETIRED_IN_367 = frozenset(
    {0x00380004, 0x00701807, 0x00701808, 0x30040010, 0x30040012, 0x30060085, 0x30060088,
     0x3008002B, 0x30100090}
)

#: Attributes added to the standard after DCMTK 3.6.7's dictionary (2022a):
#: DCMTK 3.6.7 does not know them, so neither do we.
_NEWER_THAN_367 = frozenset(int(t, 16) for t in """
0008001C 00080202 00080400 00080401 00080402 00080403 00080404 00080405 00080406 00080407
00080408 00080409 0008040A 0008040B 0008040C 0008040D 0008040E 0008040F 00080410 00080411
00080412 00080413 00080414 00080415 00080416 00080417 00080418 00080419 0008041A 0008041B
0008041C 0008041D 0008041E 0008041F 00080420 00080421 00080422 00080423 00080424 00080425
00080426 00080427 00080428 00080429 00081112 0008119B 00102161 00120022 00120023 00120032
00120041 00120043 00120054 00120055 00120073 00140200 00140201 00140202 00140203 00140204
00140205 00140206 00140207 00180061 00181204 00181205 00189445 00189821 00189822 00189823
00189824 00189825 00189826 00189828 00189829 0018982A 0018982B 0018982C 0018982D 0018982E
0018982F 00189830 00189831 00189832 00189833 00189834 00189835 00189836 0022000F 00280020
00283001 003A0317 003A0318 003A0319 003A0320 003A0321 003A0322 003A0323 003A0324 003A0325
003A0326 003A0327 003A0328 003A0329 003A032A 003A032B 003A032C 003A032D 003A032E 00480114
00480115 00480116 00480117 00700315 04000315 30020100 30020101 30020102 30020103 30020104
30020105 30020106 30020107 30020108 30020109 3002010A 3002010B 3002010C 3002010D 3002010E
3002010F 30020110 30020111 30020112 30020113 30020114 30020115 30020116 30020117 30020118
30020119 3002011A 3002011B 3002011C 3002011D 3002011E 3002011F 30020120 30020121 30020122
30020123 30020124 30020125 30020126 30020127 30020128 30020129 3002012A 3002012B 3002012C
3002012D 3002012E 3002012F 30020130 30020131 30020132 30020133 30020134 30020135 3006002D
3006002E 3006004B 3006004C 3006004D 3006004E 3006004F 300800A1 300800A2 300800A3 300800A4
300A0054 300A068B 300A0782 300A079F 300A07A0 300A07A1 300C0129 301000A0 7FE00003
""".split())

#: dicom.dic lines of DCMTK 3.6.7 that pydicom's tables do not provide
#: (range entries, generic entries, a few retired tags), in file order.
_BUILTIN_EXTRA = """\
(0006,0001)\tSQ\tCurrentFrameFunctionalGroupsSequence\t1\tDICOM
(0028,0410)\tUS\tRETIRED_RowsForNthOrderCoefficients\t1\tDICOM/retired
(0028,0411)\tUS\tRETIRED_ColumnsForNthOrderCoefficients\t1\tDICOM/retired
(0028,0412)\tLO\tRETIRED_CoefficientCoding\t1-n\tDICOM/retired
(0028,0413)\tAT\tRETIRED_CoefficientCodingPointers\t1-n\tDICOM/retired
(0028,0800)\tCS\tRETIRED_CodeLabel\t1-n\tDICOM/retired
(0028,0802)\tUS\tRETIRED_NumberOfTables\t1\tDICOM/retired
(0028,0803)\tAT\tRETIRED_CodeTableLocation\t1-n\tDICOM/retired
(0028,0804)\tUS\tRETIRED_BitsForCodeWord\t1\tDICOM/retired
(0028,0808)\tAT\tRETIRED_ImageDataLocation\t1-n\tDICOM/retired
(1000,0010)\tUS\tRETIRED_EscapeTriplet\t3\tDICOM/retired
(1000,0011)\tUS\tRETIRED_RunLengthTriplet\t3\tDICOM/retired
(1000,0012)\tUS\tRETIRED_HuffmanTableSize\t1\tDICOM/retired
(1000,0013)\tUS\tRETIRED_HuffmanTableTriplet\t3\tDICOM/retired
(1000,0014)\tUS\tRETIRED_ShiftTableSize\t1\tDICOM/retired
(1000,0015)\tUS\tRETIRED_ShiftTableTriplet\t3\tDICOM/retired
(1010,0004)\tUS\tRETIRED_ZonalMap\t1-n\tDICOM/retired
(6000-60FF,0010)\tUS\tOverlayRows\t1\tDICOM
(6000-60FF,0011)\tUS\tOverlayColumns\t1\tDICOM
(6000-60FF,0015)\tIS\tNumberOfFramesInOverlay\t1\tDICOM
(6000-60FF,0022)\tLO\tOverlayDescription\t1\tDICOM
(6000-60FF,0040)\tCS\tOverlayType\t1\tDICOM
(6000-60FF,0045)\tLO\tOverlaySubtype\t1\tDICOM
(6000-60FF,0050)\tSS\tOverlayOrigin\t2\tDICOM
(6000-60FF,0051)\tUS\tImageFrameOrigin\t1\tDICOM
(6000-60FF,0100)\tUS\tOverlayBitsAllocated\t1\tDICOM
(6000-60FF,0102)\tUS\tOverlayBitPosition\t1\tDICOM
(6000-60FF,1001)\tCS\tOverlayActivationLayer\t1\tDICOM
(6000-60FF,1301)\tIS\tROIArea\t1\tDICOM
(6000-60FF,1302)\tDS\tROIMean\t1\tDICOM
(6000-60FF,1303)\tDS\tROIStandardDeviation\t1\tDICOM
(6000-60FF,1500)\tLO\tOverlayLabel\t1\tDICOM
(6000-60FF,3000)\tox\tOverlayData\t1\tDICOM
(0020,3100-31FF)\tCS\tRETIRED_SourceImageIDs\t1-n\tDICOM/retired
(5000-50FF,0005)\tUS\tRETIRED_CurveDimensions\t1\tDICOM/retired
(5000-50FF,0010)\tUS\tRETIRED_NumberOfPoints\t1\tDICOM/retired
(5000-50FF,0020)\tCS\tRETIRED_TypeOfData\t1\tDICOM/retired
(5000-50FF,0022)\tLO\tRETIRED_CurveDescription\t1\tDICOM/retired
(5000-50FF,0030)\tSH\tRETIRED_AxisUnits\t1-n\tDICOM/retired
(5000-50FF,0040)\tSH\tRETIRED_AxisLabels\t1-n\tDICOM/retired
(5000-50FF,0103)\tUS\tRETIRED_DataValueRepresentation\t1\tDICOM/retired
(5000-50FF,0104)\tUS\tRETIRED_MinimumCoordinateValue\t1-n\tDICOM/retired
(5000-50FF,0105)\tUS\tRETIRED_MaximumCoordinateValue\t1-n\tDICOM/retired
(5000-50FF,0106)\tSH\tRETIRED_CurveRange\t1-n\tDICOM/retired
(5000-50FF,0110)\tUS\tRETIRED_CurveDataDescriptor\t1-n\tDICOM/retired
(5000-50FF,0112)\tUS\tRETIRED_CoordinateStartValue\t1-n\tDICOM/retired
(5000-50FF,0114)\tUS\tRETIRED_CoordinateStepValue\t1-n\tDICOM/retired
(5000-50FF,1001)\tCS\tRETIRED_CurveActivationLayer\t1\tDICOM/retired
(5000-50FF,2000)\tUS\tRETIRED_AudioType\t1\tDICOM/retired
(5000-50FF,2002)\tUS\tRETIRED_AudioSampleFormat\t1\tDICOM/retired
(5000-50FF,2004)\tUS\tRETIRED_NumberOfChannels\t1\tDICOM/retired
(5000-50FF,2006)\tUL\tRETIRED_NumberOfSamples\t1\tDICOM/retired
(5000-50FF,2008)\tUL\tRETIRED_SampleRate\t1\tDICOM/retired
(5000-50FF,200A)\tUL\tRETIRED_TotalTime\t1\tDICOM/retired
(5000-50FF,200C)\tox\tRETIRED_AudioSampleData\t1\tDICOM/retired
(5000-50FF,200E)\tLT\tRETIRED_AudioComments\t1\tDICOM/retired
(5000-50FF,2500)\tLO\tRETIRED_CurveLabel\t1\tDICOM/retired
(5000-50FF,2600)\tSQ\tRETIRED_CurveReferencedOverlaySequence\t1\tDICOM/retired
(5000-50FF,2610)\tUS\tRETIRED_CurveReferencedOverlayGroup\t1\tDICOM/retired
(5000-50FF,3000)\tox\tRETIRED_CurveData\t1\tDICOM/retired
(6000-60FF,0012)\tUS\tRETIRED_OverlayPlanes\t1\tDICOM/retired
(6000-60FF,0052)\tUS\tRETIRED_OverlayPlaneOrigin\t1\tDICOM/retired
(6000-60FF,0060)\tCS\tRETIRED_OverlayCompressionCode\t1\tDICOM/retired
(6000-60FF,0061)\tSH\tRETIRED_OverlayCompressionOriginator\t1\tDICOM/retired
(6000-60FF,0062)\tSH\tRETIRED_OverlayCompressionLabel\t1\tDICOM/retired
(6000-60FF,0063)\tCS\tRETIRED_OverlayCompressionDescription\t1\tDICOM/retired
(6000-60FF,0066)\tAT\tRETIRED_OverlayCompressionStepPointers\t1-n\tDICOM/retired
(6000-60FF,0068)\tUS\tRETIRED_OverlayRepeatInterval\t1\tDICOM/retired
(6000-60FF,0069)\tUS\tRETIRED_OverlayBitsGrouped\t1\tDICOM/retired
(6000-60FF,0110)\tCS\tRETIRED_OverlayFormat\t1\tDICOM/retired
(6000-60FF,0200)\tUS\tRETIRED_OverlayLocation\t1\tDICOM/retired
(6000-60FF,0800)\tCS\tRETIRED_OverlayCodeLabel\t1-n\tDICOM/retired
(6000-60FF,0802)\tUS\tRETIRED_OverlayNumberOfTables\t1\tDICOM/retired
(6000-60FF,0803)\tAT\tRETIRED_OverlayCodeTableLocation\t1-n\tDICOM/retired
(6000-60FF,0804)\tUS\tRETIRED_OverlayBitsForCodeWord\t1\tDICOM/retired
(6000-60FF,1100)\tUS\tRETIRED_OverlayDescriptorGray\t1\tDICOM/retired
(6000-60FF,1101)\tUS\tRETIRED_OverlayDescriptorRed\t1\tDICOM/retired
(6000-60FF,1102)\tUS\tRETIRED_OverlayDescriptorGreen\t1\tDICOM/retired
(6000-60FF,1103)\tUS\tRETIRED_OverlayDescriptorBlue\t1\tDICOM/retired
(6000-60FF,1200)\tUS\tRETIRED_OverlaysGray\t1-n\tDICOM/retired
(6000-60FF,1201)\tUS\tRETIRED_OverlaysRed\t1-n\tDICOM/retired
(6000-60FF,1202)\tUS\tRETIRED_OverlaysGreen\t1-n\tDICOM/retired
(6000-60FF,1203)\tUS\tRETIRED_OverlaysBlue\t1-n\tDICOM/retired
(6000-60FF,4000)\tLT\tRETIRED_OverlayComments\t1\tDICOM/retired
(7F00-7FFF,0010)\tox\tRETIRED_VariablePixelData\t1\tDICOM/retired
(7F00-7FFF,0011)\tUS\tRETIRED_VariableNextDataGroup\t1\tDICOM/retired
(7F00-7FFF,0020)\tOW\tRETIRED_VariableCoefficientsSDVN\t1\tDICOM/retired
(7F00-7FFF,0030)\tOW\tRETIRED_VariableCoefficientsSDHN\t1\tDICOM/retired
(7F00-7FFF,0040)\tOW\tRETIRED_VariableCoefficientsSDDN\t1\tDICOM/retired
(0009-o-FFFF,0000)\tUL\tPrivateGroupLength\t1\tPRIVATE
(0009-o-FFFF,0010-u-00FF)\tLO\tPrivateCreator\t1\tPRIVATE
(0001-o-0007,0000)\tUL\tIllegalGroupLength\t1\tILLEGAL
(0001-o-0007,0010-u-00FF)\tLO\tIllegalPrivateCreator\t1\tILLEGAL
(0000-u-FFFF,0000)\tUL\tGenericGroupLength\t1\tGENERIC
"""


#: DcmDataDictionary's skeleton: what DCMTK knows before (and whatever) it
#: loads from DCMDICTPATH: the command and meta group lengths, item and
#: delimitation tags, and the group length of every group (with a missing
#: or broken dictionary ``-k 0008,0000=1`` is still accepted, while
#: ``(fffe,e000)`` is known but cannot be created and ``(0009,0010)`` is
#: unknown).
_SKELETON = """\
(0000,0000)\tUL\tCommandGroupLength\t1\tdicom98
(0002,0000)\tUL\tMetaElementGroupLength\t1\tdicom98
(FFFE,E000)\tna\tItem\t1\tdicom98
(FFFE,E00D)\tna\tItemDelimitationItem\t1\tdicom98
(FFFE,E0DD)\tna\tSequenceDelimitationItem\t1\tdicom98
(0000-u-FFFF,0000)\tUL\tGenericGroupLength\t1\tGENERIC
"""


def pydicom_table() -> dict[int, tuple[str, str, str, str, str]]:
    """pydicom's public data dictionary (``pydicom/_dicom_dict.py``) without
    importing the ``pydicom`` package.

    WHY: ``import pydicom`` runs ``pydicom/__init__``, which loads the pixel
    machinery, ``pydicom.data.download`` (urllib, http, ssl, email) and
    tqdm: about 100 ms CPU, more than half of DCMTK's whole C-GET of a CT
    study (issue 8).  The table is a module of plain data, so it is executed
    on its own from its file (through the normal byte-code cache), under a
    private name: pydicom's own import state is left alone.  When pydicom is
    imported already, its copy is used (the same object pydicom reads)."""
    loaded = sys.modules.get("pydicom._dicom_dict")
    if loaded is None:
        path = _table_file()
        if path is None:  # not installed as plain files (a zip, say): the normal import
            import pydicom._dicom_dict as loaded
        else:
            import importlib.util

            spec = importlib.util.spec_from_file_location("dcmretrieve._pydicom_dicom_dict", path)
            assert spec is not None and spec.loader is not None
            loaded = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded)
    return loaded.DicomDictionary  # type: ignore[no-any-return]


def _table_file() -> str | None:
    """The path of ``pydicom/_dicom_dict.py``, found without importing
    pydicom; None when pydicom is not installed as plain files."""
    import importlib.util

    package = importlib.util.find_spec("pydicom")
    for location in (package.submodule_search_locations or ()) if package is not None else ():
        path = os.path.join(location, "_dicom_dict.py")
        if os.path.isfile(path):
            return path
    return None


def _builtin() -> DataDictionary:
    """pydicom's public table, renamed and retyped like DCMTK 3.6.7's dicom.dic."""
    dictionary = DataDictionary()
    # each table entry is an exact public tag met once: it goes straight into
    # the exact-entry table, which is all ``add`` does for it (without its
    # checks: about 6 ms less start-up for 5000 entries, issue 8)
    exact = dictionary._exact
    for tag, (vr, vm, _desc, retired, keyword) in pydicom_table().items():
        if tag in _NEWER_THAN_367 or not keyword:
            continue
        if tag in _UP_TAGS:
            vr = "up"
        elif tag == 0x7FE00010:
            vr = "px"
        else:
            vr = _PYDICOM_VR_TO_DCMTK.get(vr, vr)
        name = keyword
        if retired == "Retired" and tag not in _NOT_RETIRED_IN_367:
            name = "RETIRED_" + keyword
        exact[(tag, None)] = DictEntry(tag >> 16, tag & 0xFFFF, vr, name, vm)
    _parse_lines(_BUILTIN_EXTRA.splitlines(), "<built-in>", dictionary)
    dictionary.private_fallback = True
    return dictionary


# ---------------------------------------------------------------------------
# dicom.dic parsing (DcmDataDictionary::loadDictionary)


def _parse_tag_part(part: str) -> tuple[int, int, str] | None:
    """parseTagPart: ``lo``, ``lo-hi`` (even), ``lo-[oeu]-hi``."""
    first = scan_c_int(part, 0, 16, wrap=False)
    if first is None:
        return None
    low, pos = first
    if part[pos : pos + 1] == "-":
        # "%x-%c-%x" (three conversions), else "%x-%x", else "%x"
        if pos + 2 < len(part) and part[pos + 2] == "-":
            restrictor = part[pos + 1]
            high = scan_c_int(part, pos + 3, 16, wrap=False)
            if high is not None:
                if restrictor in "oO":
                    return low & 0xFFFF, high[0] & 0xFFFF, ODD
                if restrictor in "eE":
                    return low & 0xFFFF, high[0] & 0xFFFF, EVEN
                if restrictor in "uU":
                    return low & 0xFFFF, high[0] & 0xFFFF, UNSPECIFIED
                _LOG.error("DcmDataDictionary: Unknown range restrictor: %s", restrictor)
                return None
        high = scan_c_int(part, pos + 1, 16, wrap=False)
        if high is not None:
            return low & 0xFFFF, high[0] & 0xFFFF, EVEN
    return low & 0xFFFF, low & 0xFFFF, UNSPECIFIED


_PLAIN_TAG = re.compile(r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)")


def parse_tag_field(field: str) -> tuple[tuple[int, int, str], tuple[int, int, str], str | None] | None:
    """parseWholeTagField: ``(gggg,eeee)``, ranges, ``(gggg,"CREATOR",ee)``."""
    s = field.strip()
    plain = _PLAIN_TAG.fullmatch(s)
    if plain:  # the common case, same result as the general parser below
        group, element = int(plain.group(1), 16), int(plain.group(2), 16)
        return (group, group, UNSPECIFIED), (element, element, UNSPECIFIED), None
    if not s or s[0] != "(" or s[-1] != ")" or "," not in s:
        return None
    comma = s.find(",", 1)
    group_text = s[1:comma]
    rest = s[comma + 1 :].lstrip()
    creator = None
    if rest.startswith('"'):
        close = rest.find('"', 1)
        if close < 0:
            return None
        creator = rest[1:close]
        rest = rest[close + 1 :].lstrip()
        if not rest.startswith(","):
            return None
        rest = rest[1:]
    close = rest.find(")")
    if close < 0:
        return None
    group = _parse_tag_part(group_text.strip())
    if group is None:
        return None
    element = _parse_tag_part(rest[:close].strip())
    if element is None:
        return None
    return group, element, (creator if creator else None)


@functools.lru_cache(maxsize=256)
def parse_vm_field(field: str) -> bool:
    """parseVMField: the same cascade of ``sscanf`` patterns as DCMTK
    (``%d-%d%c``, ``%d-%d``, ``%d-%c``, ``%d%c``, ``%d``, ``%c``) on the
    field with all whitespace removed; only ``n``/``N`` may follow."""
    vm = "".join(field.split())
    first = scan_c_int(vm, 0, 10, wrap=False)
    if first is None:
        return vm[:1] in ("n", "N")
    _, pos = first
    if vm[pos : pos + 1] == "-":
        second = scan_c_int(vm, pos + 1, 10, wrap=False)
        if second is not None:
            tail = vm[second[1] :]
            return tail == "" or tail[0] in "nN"
        tail = vm[pos + 1 :]
        if tail:
            return tail[0] in "nN"
        return False  # "%d-" → "%d%c" reads '-'
    tail = vm[pos:]
    return tail == "" or tail[0] in "nN"


def _parse_lines(lines: list[str], filename: str, dictionary: DataDictionary) -> int:
    """Parse dicom.dic lines into *dictionary*; returns the number of bad lines."""
    errors = 0
    prefix = f"DcmDataDictionary: {filename}: "
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t", 5)
        bad = False
        count = len(fields)
        if count < 3:
            _LOG.error("%stoo few fields (line %d)", prefix, number)
            bad = True
        elif count > 5:
            _LOG.error("%stoo many fields (line %d): ", prefix, number)
            bad = True
        else:
            standard = "".join(fields[4].split()) if count == 5 else "DICOM"
            vm = "".join(fields[3].split()) if count >= 4 else "1"
            if count >= 4 and not parse_vm_field(fields[3]):
                _LOG.error("%sbad VM field (line %d): %s", prefix, number, vm)
                bad = True
            tag = parse_tag_field(fields[0])
            if tag is None:
                _LOG.error("%sbad Tag field (line %d): %s", prefix, number, fields[0])
                bad = True
            else:
                vr = "".join(fields[1].split())
                name = "".join(fields[2].split())
        if not bad:
            vr_key = vr[:2]
            if vr_key not in VALID_VRS:
                _LOG.error("%sbad VR field (line %d): %s", prefix, number, vr)
                bad = True
        if bad:
            errors += 1
            continue
        (glo, ghi, grestr), (elo, ehi, erestr), creator = tag
        dictionary.add(
            DictEntry(
                glo, elo, vr_key, name, vm, standard,
                group_hi=ghi, element_hi=ehi,
                group_restriction=grestr, element_restriction=erestr,
                creator=creator,
            )
        )
    return errors


# ---------------------------------------------------------------------------
# the global dictionary (DCMTK's dcmDataDict)

_dictionary: DataDictionary | None = None
_loaded = False


def dictionary_paths() -> list[str] | None:
    """The files DCMDICTPATH names (empty entries skipped), or None if the
    built-in dictionary is used (variable unset or empty)."""
    value = os.environ.get("DCMDICTPATH", "")
    if not value:
        return None
    return [p for p in value.split(":") if p]


def load_data_dictionaries() -> bool:
    """Load the dictionary once (later calls return the cached result).

    Returns DCMTK's "dictionary loaded" flag: set by every file that could be
    opened and parsed without error, cleared by an openable file with a bad
    line, untouched by files that cannot be opened; so it reflects the last
    openable file.  Messages go to the ``dcmtk.dcmdata`` logger exactly as
    DCMTK writes them.
    """
    global _dictionary, _loaded, generation
    if _dictionary is not None:
        return _loaded
    paths = dictionary_paths()
    if paths is None:
        _dictionary = _builtin()
        _loaded = True
        return _loaded
    dictionary = DataDictionary()
    _parse_lines(_SKELETON.splitlines(), "<skeleton>", dictionary)
    loaded = False
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            _LOG.error("DcmDataDictionary: Cannot open file: %s", path)
            continue
        _LOG.debug("DcmDataDictionary: Loading file: %s", path)
        text = data.decode("latin-1")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        loaded = _parse_lines(lines, path, dictionary) == 0
    _dictionary = dictionary
    _loaded = loaded
    _register_with_pydicom(dictionary)
    generation += 1
    return _loaded


def dictionary_loaded() -> bool:
    """DCMTK's ``dcmDataDict.isDictionaryLoaded()`` (loads on first use)."""
    return load_data_dictionaries()


#: Command elements DCMTK adds (in this order) when it builds a C-GET-RQ or
#: C-MOVE-RQ, with the dimcmd function that fails when the tag is unknown.
#: (AffectedSOPClassUID is added even when unknown, as observed.)
_COMMAND_ELEMENTS = (
    (0x00000100, "dimcmd:addUS: Cannot add Uint16"),
    (0x00000110, "dimcmd:addUS: Cannot add Uint16"),
    (0x00000800, "dimcmd:addUS: Cannot add Uint16"),
    (0x00000700, "dimcmd:addUS: Cannot add Uint16"),
)
_MOVE_DESTINATION = (0x00000600, "dimcmd:addString: Cannot add string")


def dimse_request_problem(move: bool = False) -> str | None:
    """Why DCMTK cannot send a C-GET/C-MOVE request with this dictionary, as
    its condition dump (``mmmm:cccc text``), or None.

    Observed with 3.6.7: no dictionary loaded → ``0006:0213 Data dictionary
    missing``; a dictionary without the command group (e.g. DCMDICTPATH
    naming only a private file) → ``0006:0204 DIMSE: Command Build Failed:
    dimcmd:addUS: Cannot add Uint16: Element: (0000,0100) Unknown Tag & Data``.
    """
    if not load_data_dictionaries():
        return "0006:0213 Data dictionary missing"
    dictionary = get_dictionary()
    checks = _COMMAND_ELEMENTS + ((_MOVE_DESTINATION,) if move else ())
    for tag, what in checks:
        if dictionary.find_tag(tag) is None:
            return (
                f"0006:0204 DIMSE: Command Build Failed: {what}: Element: "
                f"({tag >> 16:04x},{tag & 0xFFFF:04x}) {UNKNOWN_NAME}"
            )
    return None


def get_dictionary() -> DataDictionary:
    """The global dictionary, loading it on first use."""
    load_data_dictionaries()
    assert _dictionary is not None
    return _dictionary


#: pydicom entries replaced or added by ``_register_with_pydicom``:
#: (table, key, previous value or None) — undone by ``reset_for_tests``.
_pydicom_changes: list[tuple[dict, object, object]] = []


#: bumped whenever the dictionary (and pydicom's view of it) changes, so
#: caches of dictionary lookups (``walker``) know to start again
generation = 0


def reset_for_tests() -> None:
    """Forget the loaded dictionary and undo its pydicom registrations
    (tests change DCMDICTPATH within one process; a program never does)."""
    global _dictionary, _loaded, generation
    generation += 1
    _dictionary = None
    _loaded = False
    while _pydicom_changes:
        table, key, previous = _pydicom_changes.pop()
        if previous is None:
            table.pop(key, None)
        else:
            table[key] = previous


_DCMTK_VR_TO_PYDICOM = {"xs": "US or SS", "ox": "OB or OW", "px": "OB or OW", "lt": "US or OW",
                        "up": "UL", "na": "NONE"}


def private_creator(tag: int, item: "object") -> str | None:
    """The creator DCMTK looks a private data element ``(odd,xxyy)`` up with:
    the value of ``(odd,00xx)`` in the same item (a pydicom Dataset), blanks
    at the end removed; None for standard tags, private creator elements
    themselves, or a missing/empty creator (no reservation check, as the
    tools configure dcmdata)."""
    group, element = tag >> 16, tag & 0xFFFF
    if group % 2 == 0 or element < 0x1000:
        return None
    creator_tag = (group << 16) | (element >> 8)
    if creator_tag not in item:  # type: ignore[operator]
        return None
    value = item[creator_tag].value  # type: ignore[index]
    return value.rstrip(" ") or None if isinstance(value, str) else None


def pydicom_vr(vr: str) -> str:
    """The VR pydicom uses for a DCMTK dictionary VR."""
    return _DCMTK_VR_TO_PYDICOM.get(vr, vr)


def _register_with_pydicom(dictionary: DataDictionary) -> None:
    """Make tags from DCMDICTPATH files known to pydicom (encoding, implicit
    VR decoding); tags pydicom already knows keep pydicom's definition."""
    from pydicom.datadict import DicomDictionary, add_dict_entries, add_private_dict_entries

    public: dict[int, tuple[str, str, str, str, str]] = {}
    private: dict[str, dict[int, tuple[str, str, str, str]]] = {}
    for entry in dictionary.entries():
        if entry.is_repeating or entry.vr == "na":
            continue
        vr = pydicom_vr(entry.vr)
        if entry.creator is not None:
            private.setdefault(entry.creator, {})[entry.tag] = (vr, entry.vm, entry.name, "")
        elif entry.group % 2 == 0 and entry.tag not in DicomDictionary:
            public[entry.tag] = (vr, entry.vm, entry.name, "", entry.name)
    from pydicom.datadict import keyword_dict, private_dictionaries

    if public:
        for tag, value in public.items():
            _pydicom_changes.append((DicomDictionary, tag, DicomDictionary.get(tag)))
            _pydicom_changes.append((keyword_dict, value[4], keyword_dict.get(value[4])))
        add_dict_entries(public)
    for creator, entries in private.items():
        if creator not in private_dictionaries:
            _pydicom_changes.append((private_dictionaries, creator, None))
            private_dictionaries[creator] = {}
        table = private_dictionaries[creator]
        for tag in entries:
            key = f"{tag >> 16:04X}xx{tag & 0xFF:02X}"
            _pydicom_changes.append((table, key, table.get(key)))
        add_private_dict_entries(creator, entries)
