"""Choosing how to decode a prospect or suppression file from its first bytes.

A BOM picks UTF-8/16/32; UTF-16 without BOM is spotted by its NUL pattern; anything else is read as
UTF-8 where each invalid byte is decoded as cp1252 instead, so Latin-1/cp1252 files and UTF-8 files
with a few stray bytes both read sensibly, streaming, with no second pass.
"""

from __future__ import annotations

import codecs

_CP1252 = [bytes([i]).decode("cp1252", errors="ignore") or chr(i) for i in range(256)]
_FALLBACK = "outbound-cp1252-fallback"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_CP1252[b] for b in bad), exc.end


codecs.register_error(_FALLBACK, _cp1252_fallback)

MAGIC = {  # file signatures that mean someone picked the wrong file
    b"PK\x03\x04": "a ZIP archive or Excel workbook (.xlsx); save it as CSV",
    b"\xd0\xcf\x11\xe0": "an old Excel workbook (.xls); save it as CSV",
    b"%PDF": "a PDF document",
}


def detect_encoding(head: bytes) -> str:
    """The codec for a file starting with ``head`` (see the module docstring)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[:4096]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.3 * len(odd) and even.count(0) < 0.05 * len(even):
            return "utf-16-le"
        if even.count(0) > 0.3 * len(even) and odd.count(0) < 0.05 * len(odd):
            return "utf-16-be"
    return "utf-8"


def decoding_errors(encoding: str) -> str:
    """The ``errors`` handler to decode with: the cp1252 fallback for UTF-8, replacement otherwise."""
    return _FALLBACK if encoding.startswith("utf-8") else "replace"
