"""Bytes to text: BOMs, declared charsets that lie, GBK/GB18030, Big5, binary refusal.

A label of gb2312 or gbk always means the gb18030 decoder (a superset that real
pages need). A declared charset is trusted only when the bytes decode cleanly
under it; otherwise strict UTF-8 is tried (pages often say gb2312 over UTF-8
bytes), then charset-normalizer's guess.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache

from charset_normalizer import from_bytes

from casebook.errors import InputError
from casebook.model import CONTROL_RE

ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
           "big5": "big5hkscs", "utf8": "utf-8", "unicode": "utf-8"}
# [^<>]: an attempt stops at the next tag, so a page of unclosed "<meta" is read once.
META_CHARSET_RE = re.compile(rb"""<meta[^<>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
XML_ENCODING_RE = re.compile(rb"""<\?xml[^<>]+encoding\s*=\s*["']([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def canonical_codec(label: str) -> str | None:
    label = label.strip().lower()
    label = ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charsets(raw: bytes, http_charset: str | None = None) -> list[str]:
    """Charsets the document claims, most specific last (inner page after a wrapper's)."""
    labels = []
    if http_charset:
        labels.append(http_charset)
    head = raw[:200_000]
    labels += [m.decode("ascii", "ignore") for m in XML_ENCODING_RE.findall(head[:500])]
    labels += [m.decode("ascii", "ignore") for m in META_CHARSET_RE.findall(head)]
    seen = []
    for label in labels:
        codec = canonical_codec(label)
        if codec and codec not in seen:
            seen.append(codec)
    return seen


# Signatures of file formats that are never a page, whatever the file is called: a PDF's
# first kilobytes are plain ASCII and passed as text (then "irrelevant", titled "%PDF-1.4").
# File-format facts, not editorial rules.
BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"\x89PNG", b"GIF87a", b"GIF89a",
                b"\xff\xd8\xff", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\xd0\xcf\x11\xe0", b"{\\rtf",
                b"BZh", b"\xfd7zXZ\x00", b"OggS", b"ID3", b"\x7fELF", b"RIFF", b"wOFF", b"wOF2", b"\x00asm")
UTF32_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"))


def looks_binary(raw: bytes) -> bool:
    sample = raw[:8192]
    if sample.lstrip(b"\t\n\r ").startswith(BINARY_MAGIC):
        return True
    if b"\x00" in sample:
        # UTF-16 text has NULs too; it announces itself with a BOM.
        return not sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control > len(sample) * 0.05


def bomless_utf16_32(raw: bytes) -> tuple[str, str] | None:
    """Text saved as UTF-16 or UTF-32 without a BOM (a Windows "Unicode" save), or None.
    Such text has a NUL in a fixed byte of every code unit of ASCII markup; binary data has
    NULs anywhere, which makes U+0000 or a code point that does not exist. The text must
    also hold no controls, unassigned or private-use characters."""
    sample = raw[:8192]
    if sample.count(0) < 8:
        return None
    for codec, unit in (("utf-32-le", 4), ("utf-32-be", 4), ("utf-16-le", 2), ("utf-16-be", 2)):
        if len(raw) % unit:
            continue
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        head = text[:4096]
        if "\x00" in text or not head.strip():
            continue
        odd = sum(1 for c in head if c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cn", "Co", "Cs"))
        if odd <= len(head) * 0.01:
            return text, codec.removesuffix("-le").removesuffix("-be")
    return None


def decode(raw: bytes, *, source: str, http_charset: str | None = None) -> tuple[str, str]:
    """(text without control characters, codec name). Raises InputError for empty or binary input."""
    text, codec = _decode(raw, source=source, http_charset=http_charset)
    # Control characters are invisible in a page, and lxml refuses them wherever a tree's text
    # is set: the ones a case file never keeps go at once.
    return CONTROL_RE.sub("", text), codec


HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\ue000-\uf8ff]")


@lru_cache(maxsize=65536)
def _common_han(char: str) -> bool:
    """A character of everyday text: in GB2312 (common Simplified) or in Big5's level 1 (lead
    bytes A4–C6, the 5,401 common Traditional characters). A misread page's characters fall
    anywhere in the other codec's table: rare characters and private-use code points."""
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        pass
    try:
        return 0xA4 <= char.encode("big5")[0] <= 0xC6
    except UnicodeEncodeError:
        return False


def common_han_share(text: str) -> float:
    han = HAN_RE.findall(text[:40_000])
    return sum(map(_common_han, han)) / len(han) if han else 0.0


def _decode(raw: bytes, *, source: str, http_charset: str | None) -> tuple[str, str]:
    if not raw.strip():
        raise InputError("the input is empty", source=source, hint="nothing to extract; check the file was saved whole")
    # UTF-32's little-endian BOM starts with UTF-16's: it is tested first.
    for bom, codec in (*UTF32_BOMS, (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace").lstrip("\ufeff"), codec
    if b"\x00" in raw[:8192] and (unicode := bomless_utf16_32(raw)) is not None:
        return unicode
    if looks_binary(raw):
        raise InputError("the input is binary, not text or HTML", source=source,
                         hint="save the page as HTML or text, not as an image, PDF or archive")
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Wayback copies wrap a GBK page in a UTF-8 shell: the inner (last) declaration wins.
    for codec in reversed(declared_charsets(raw, http_charset)):
        if codec == "utf-8":
            continue
        try:
            return raw.decode(codec), codec
        except UnicodeDecodeError:
            continue
    readings = []
    for codec in ("gb18030", "big5hkscs"):
        try:
            readings.append((raw.decode(codec), codec))
        except UnicodeDecodeError:
            continue
    if readings:
        # Big5 bytes are mostly valid GB18030 too (and the reverse, less often): the reading
        # whose Han characters are common ones is the right one; GB18030 wins a tie.
        return max(readings, key=lambda reading: common_han_share(reading[0]))
    best = from_bytes(raw).best()
    if best is None or best.encoding is None:
        raise InputError("the text encoding cannot be recognised", source=source,
                         hint="re-save the file as UTF-8")
    codec = canonical_codec(best.encoding) or best.encoding
    return raw.decode(codec, errors="replace"), codec
