"""``--output-layout TEMPLATE``: where under ``-od`` a received object goes.

A template is a relative path whose components may hold fields in braces:
``{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{name}``.  ``{name}``
is the file name the tool would use without a layout (DCMTK's name); any
other field is a data dictionary keyword (``dicts.get_dictionary``, then
pydicom's dictionary for keywords DCMTK's does not know).  ``{{``/``}}``
are literal braces.  Without ``--output-layout`` nothing here is used and
files are named exactly as before.

WHY like this:
* The values come from the *received* data set, never from the request:
  in normal mode from the top-level elements the pipeline's walk already
  produced; in ``+B`` mode (bytes streamed to a temporary file, nothing
  walked) from the head of that temporary file once it is complete
  (``read_head``): element headers are read one by one, values that are
  not needed are skipped with ``seek`` (inflated and dropped chunk by chunk
  for Deflated), and reading stops after the highest needed tag.  Memory
  stays flat whatever the object's size; the cost is a few reads of the
  file's first pages, which are still in the page cache.
* A missing or empty value becomes ``UNKNOWN``.  Each rendered component is
  sanitised like the file names (``safe_name``: no separators, no control
  characters, no leading dot so no ``..``, at most 255 bytes), so a
  component can never climb out of ``-od``; the pipeline also checks the
  resolved directory (a symbolic link inside ``-od`` pointing elsewhere is
  refused).
* The template is checked at start-up (``Layout.parse`` raises
  ``LayoutError``; ``app`` reports it as DCMTK reports a bad option value,
  exit 1): unknown keywords, sequences and binary attributes, empty
  components and unbalanced braces are refused before anything is sent.

API
---
``Layout.parse(template) -> Layout`` (``LayoutError``); ``layout.tags``:
the tags it needs (with Specific Character Set); ``layout.render(values,
name) -> list[str]``: the sanitised path components, the last one the file
name; ``values_from_elements(elements, tags)`` (normal mode) and
``read_head(path, offset, ts_uid, tags)`` (``+B``) give the ``values``.
``safe_name(name)``: the one sanitiser (also used for plain file names).
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from ..dicom import dicts, walker

MAX_NAME_BYTES = 255
UNKNOWN = "UNKNOWN"
NAME_FIELD = "name"
SPECIFIC_CHARACTER_SET = 0x00080005
#: at most this many bytes of a needed value are read (names are <= 255 bytes)
VALUE_CAP = 4096
UNDEFINED = 0xFFFFFFFF

_UNSAFE = re.compile("[/\\\\\x00-\x1f\x7f]")
#: VRs whose values are not text or numbers: refused in a template
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN", "SQ", "ox", "px", "lt", "na", "up"})
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "SV": "q", "UV": "Q",
                   "xs": "H"}
#: VRs whose text may use the data set's Specific Character Set
_CHARSET_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC"})


class LayoutError(ValueError):
    """A template that cannot be used; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def safe_name(name: str) -> str:
    """Make ``name`` a plain file name inside the output directory (deviation #2).

    Path separators, NUL and other control characters become ``_``; a name
    consisting only of dots (``.``/``..``) or starting with a dot gets a
    leading ``_`` so it can neither climb out nor hide; over-long names are
    cut to 255 bytes.  A valid UID-based name is returned unchanged.
    """
    cleaned = _UNSAFE.sub("_", name)
    if not cleaned or cleaned.startswith("."):
        cleaned = "_" + cleaned
    encoded = cleaned.encode("utf-8", "surrogateescape")
    if len(encoded) > MAX_NAME_BYTES:
        cleaned = encoded[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    return cleaned


@dataclass(frozen=True)
class Field:
    keyword: str
    tag: int  # -1 for {name}
    vr: str


def _lookup(keyword: str) -> Field:
    entry = dicts.get_dictionary().find_name(keyword)
    if entry is not None and not entry.is_repeating:
        tag, vr = entry.tag, entry.vr
    else:
        try:
            from pydicom.datadict import dictionary_VR, keyword_dict
        except ImportError:  # pragma: no cover - pydicom is a dependency
            keyword_dict, dictionary_VR = {}, None
        tag_ = keyword_dict.get(keyword)
        if tag_ is None or dictionary_VR is None:
            raise LayoutError(f"unknown keyword: {keyword}")
        tag, vr = int(tag_), dictionary_VR(tag_)
    vr = vr.split(" or ")[0]
    if vr in _BINARY_VRS:
        raise LayoutError(f"not a text or number attribute: {keyword}")
    return Field(keyword, tag, vr)


class Layout:
    """A parsed template (see module docstring)."""

    def __init__(self, template: str, components: list[list[str | Field]]) -> None:
        self.template = template
        self.components = components
        fields = [part for component in components for part in component if isinstance(part, Field)]
        self.fields = [f for f in fields if f.tag >= 0]
        tags = {f.tag for f in self.fields}
        if tags:
            tags.add(SPECIFIC_CHARACTER_SET)
        self.tags = frozenset(tags)

    @classmethod
    def parse(cls, template: str) -> "Layout":
        if not template:
            raise LayoutError("empty template")
        if template.startswith("/"):
            raise LayoutError("not a relative path")
        components: list[list[str | Field]] = []
        for text in template.split("/"):
            if not text:
                raise LayoutError("empty path component")
            components.append(_parse_component(text))
        return cls(template, components)

    def render(self, values: dict[int, str | None], name: str) -> list[str]:
        """The path components (sanitised) for an object with these values."""
        out = []
        for component in self.components:
            pieces = []
            for part in component:
                if isinstance(part, str):
                    pieces.append(part)
                elif part.tag < 0:
                    pieces.append(name)
                else:
                    pieces.append(values.get(part.tag) or UNKNOWN)
            out.append(safe_name("".join(pieces)))
        return out

    def values(self, raw: dict[int, tuple[str | None, bytes, bool]]) -> dict[int, str | None]:
        """Text of each field from raw ``{tag: (vr or None, bytes, big endian)}``."""
        charset = raw.get(SPECIFIC_CHARACTER_SET)
        encoding = _python_encoding(charset[1] if charset else b"")
        result: dict[int, str | None] = {}
        for f in self.fields:
            item = raw.get(f.tag)
            if item is None:
                continue
            vr = item[0] if item[0] and item[0] not in _BINARY_VRS else f.vr
            result[f.tag] = value_text(vr, item[1], item[2], encoding)
        return result


def _parse_component(text: str) -> list[str | Field]:
    parts: list[str | Field] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            literal.append("{")
            i += 2
        elif c == "}" and text.startswith("}}", i):
            literal.append("}")
            i += 2
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise LayoutError("unbalanced braces")
            keyword = text[i + 1:end]
            if not keyword:
                raise LayoutError("empty field {}")
            if "{" in keyword:
                raise LayoutError("unbalanced braces")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(Field(NAME_FIELD, -1, "") if keyword == NAME_FIELD else _lookup(keyword))
            i = end + 1
        elif c == "}":
            raise LayoutError("unbalanced braces")
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _python_encoding(charset: bytes) -> str:
    """Python codec for the first value of Specific Character Set (default
    repertoire and unknown terms: Latin-1, which maps every byte)."""
    term = bytes(charset).split(b"\\")[0].strip(b" \0").decode("ascii", "replace")
    if not term:
        return "latin-1"
    try:
        from pydicom.charset import python_encoding

        return python_encoding.get(term, "latin-1")
    except ImportError:  # pragma: no cover
        return "utf-8" if term == "ISO_IR 192" else "latin-1"


def value_text(vr: str, data: bytes, big: bool, encoding: str = "latin-1") -> str | None:
    """A value as it appears in a path: the first number of a binary
    number, text without padding (multiple values keep their backslash,
    which ``safe_name`` turns into ``_``); None when empty."""
    data = bytes(data)
    fmt = _NUMBER_FORMATS.get(vr)
    if fmt is not None:
        size = struct.calcsize(fmt)
        if len(data) < size:
            return None
        number = struct.unpack((">" if big else "<") + fmt, data[:size])[0]
        return str(number)
    if vr == "AT":
        if len(data) < 4:
            return None
        group, element = struct.unpack((">" if big else "<") + "HH", data[:4])
        return f"({group:04x},{element:04x})"
    text = data.decode(encoding if vr in _CHARSET_VRS else "latin-1", "replace")
    text = text.strip(" \0")
    return text or None


def values_from_elements(elements: list[walker.Element], tags: frozenset[int]) -> dict[int, tuple[str | None, bytes, bool]]:
    """``{tag: (vr, value bytes, big endian)}`` of the needed top-level
    elements of a walked data set (the first of a repeated tag)."""
    found: dict[int, tuple[str | None, bytes, bool]] = {}
    groups = {tag >> 16 for tag in tags}
    source = walker.ts_info(getattr(elements, "ts_uid", "") or "")
    for el in elements:
        if el.vr is walker.RUN:  # plain elements of one group kept as one slice
            if el.tag >> 16 not in groups:
                continue
            inner = walker.expand_runs([el], walker.TSInfo(source.explicit, source.little))
        else:
            inner = [el]
        for item in inner:
            if item.tag in tags and item.tag not in found and not isinstance(item.value, list):
                found[item.tag] = (item.vr, bytes(item.value[:VALUE_CAP]), item.swapped)
    return found


# ---------------------------------------------------------------------------
# +B: the head of the received data set, read back from the temporary file


class _EndOfData(Exception):
    pass


class _Reader:
    """Sequential reads and skips over the data set in an open file (inflated
    on the way for Deflated), never holding more than one chunk."""

    CHUNK = 1 << 16

    def __init__(self, f, deflated: bool) -> None:  # type: ignore[no-untyped-def]
        self.f = f
        self.z = zlib.decompressobj(-15) if deflated else None
        self.buf = b""

    def _fill(self, n: int) -> None:
        z = self.z
        assert z is not None
        while len(self.buf) < n:
            if z.eof:
                raise _EndOfData
            src = z.unconsumed_tail or self.f.read(self.CHUNK)
            if not src:
                raise _EndOfData
            try:
                self.buf += z.decompress(src, self.CHUNK)
            except zlib.error:
                raise _EndOfData from None

    def read(self, n: int) -> bytes:
        if self.z is None:
            data = self.f.read(n)
            if len(data) < n:
                raise _EndOfData
            return data
        self._fill(n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def skip(self, n: int) -> None:
        if self.z is None:
            self.f.seek(n, 1)
            return
        while n > 0:
            step = min(n, self.CHUNK)
            self.read(step)
            n -= step


def _header(reader: _Reader, explicit: bool, endian: str) -> tuple[int, str | None, int]:
    head = reader.read(8)
    group, element = struct.unpack(endian + "HH", head[:4])
    tag = (group << 16) | element
    if not explicit or group == 0xFFFE:
        return tag, None, struct.unpack(endian + "I", head[4:])[0]
    vr = head[4:6].decode("latin-1")
    if vr in walker.LONG_VRS:
        return tag, vr, struct.unpack(endian + "I", reader.read(4))[0]
    return tag, vr, struct.unpack(endian + "H", head[6:])[0]


def _skip_undefined(reader: _Reader, explicit: bool, endian: str, depth: int = 0) -> None:
    """Skip the items of an undefined-length value up to its delimiter."""
    if depth > 64:
        raise _EndOfData
    while True:
        tag, _vr, length = _header(reader, False, endian)
        if tag == 0xFFFEE0DD:
            return
        if tag != 0xFFFEE000:
            raise _EndOfData
        if length != UNDEFINED:
            reader.skip(length)
            continue
        while True:  # the elements of an undefined-length item
            tag, vr, length = _header(reader, explicit, endian)
            if tag == 0xFFFEE00D:
                break
            if length == UNDEFINED:
                _skip_undefined(reader, explicit and vr != "UN", endian, depth + 1)
            else:
                reader.skip(length)


def read_head(path: str, offset: int, ts_uid: str, tags: frozenset[int]) -> dict[int, tuple[str | None, bytes, bool]]:
    """``{tag: (vr or None, value bytes, big endian)}`` of the needed
    top-level elements of the data set stored in ``path`` from ``offset``
    on; reading stops after the highest needed tag.  What cannot be read
    (a malformed or short data set) is simply not found."""
    found: dict[int, tuple[str | None, bytes, bool]] = {}
    if not tags:
        return found
    info = walker.ts_info(ts_uid)
    endian = "<" if info.little else ">"
    last = max(tags)
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            reader = _Reader(f, info.deflated)
            while len(found) < len(tags):
                tag, vr, length = _header(reader, info.explicit, endian)
                if tag > last or tag >> 16 == 0xFFFE:
                    break
                if length == UNDEFINED:
                    _skip_undefined(reader, info.explicit and vr != "UN", endian)
                elif tag in tags and tag not in found:
                    take = min(length, VALUE_CAP)
                    found[tag] = (vr, reader.read(take), not info.little)
                    reader.skip(length - take)
                else:
                    reader.skip(length)
    except (_EndOfData, OSError, struct.error):
        pass
    return found
