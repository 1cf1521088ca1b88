"""C ``sscanf`` integer conversions (``%d``/``%u``/``%ld``/``%lu``/``%x``).

DCMTK reads numbers with ``sscanf`` in three places we mirror: command-line
option values (cmdline), override keys ``-k gggg,eeee=`` (keys) and
``dicom.dic`` tag/VM fields (dicts).  They all share one scanner so the C
rules — leading blanks, optional sign, ``0x`` prefix only for hex, trailing
garbage ignored — live in one place.  Pure Python with no imports, because
cmdline must stay free of pydicom on the ``--help`` path.
"""

from __future__ import annotations

#: The characters C's ``isspace`` accepts in the "C" locale.
C_SPACE = " \t\n\v\f\r"

_HEX_DIGITS = "0123456789abcdefABCDEF"

#: strtoul's range on LP64 (unsigned long is 64 bits).
_ULONG_LIMIT = 2**64


def scan_c_int(text: str, pos: int = 0, base: int = 10, *, wrap: bool = True) -> tuple[int, int] | None:
    """One ``sscanf`` integer conversion at *pos* (*base* 10, 16, or 0 for
    ``%i``: ``0x`` prefix hexadecimal, leading ``0`` octal, else decimal).

    Returns ``(value, new position)`` or None when no digit was found.  With
    *wrap* (default) the value is what ``strtoul`` stores: the magnitude
    saturated at ULONG_MAX, a negative number wrapped modulo 2**64.  With
    ``wrap=False`` it is the exact signed number, for callers that apply
    their own range rule (``%ld`` saturation, masking to 16 bits)."""
    n = len(text)
    while pos < n and text[pos] in C_SPACE:
        pos += 1
    negative = False
    if pos < n and text[pos] in "+-":
        negative = text[pos] == "-"
        pos += 1
    if base == 0:
        if text[pos : pos + 2] in ("0x", "0X") and pos + 2 < n and text[pos + 2] in _HEX_DIGITS:
            base = 16
        elif text[pos : pos + 1] == "0":
            base = 8
        else:
            base = 10
    digits = _HEX_DIGITS if base == 16 else "01234567" if base == 8 else "0123456789"
    if base == 16 and text[pos : pos + 2] in ("0x", "0X") and pos + 2 < n and text[pos + 2] in digits:
        pos += 2
    start = pos
    while pos < n and text[pos] in digits:
        pos += 1
    if pos == start:
        return None
    value = int(text[start:pos], base)
    if not wrap:
        return (-value if negative else value), pos
    value = min(value, _ULONG_LIMIT - 1)  # strtoul saturates
    if negative:
        value = (-value) % _ULONG_LIMIT
    return value, pos
