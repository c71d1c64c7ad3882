"""Precompressed copies of the built site: `page.html` → `page.html.gz`, for nginx's
`gzip_static` (deploy/nginx/casebook.conf), so no text file is compressed per request.

- Incremental: a `.gz` whose recorded size and time match its source is kept without reading
  either; one that differs is decompressed and compared before anything is compressed again
  (inflating is an order of magnitude cheaper than deflating at level 9). A `.gz` whose
  source is gone, or that would not be smaller than it, is removed.
- Deterministic: level 9, no file name and time 0 in the gzip header, so the same page
  always gives the same bytes (and the same ETag behind a CDN or in a diff of two builds).
- Atomic: each copy is written beside its target and renamed over it, so nginx never
  serves half of one. The copy then takes its source's modification time, which is what
  nginx sends as Last-Modified for either variant.
- Dot folders (`.casebook/` caches, temporary files) and symbolic links are not followed:
  only what the build wrote is compressed.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from casebook.files import atomic_write_bytes

# Text formats the site serves; nginx's gzip_static answers for any URL that has a `.gz`
# beside it, so this list alone decides what is sent compressed. Images are compressed already.
COMPRESSED_SUFFIXES = frozenset({".html", ".css", ".js", ".xml", ".json", ".csv", ".svg", ".txt"})
LEVEL = 9


@dataclass
class CompressReport:
    written: int = 0      # new or changed copies
    kept: int = 0         # copies whose source did not change
    removed: int = 0      # orphans and copies that would not save bytes
    bytes_in: int = 0     # size of the sources of written copies
    bytes_out: int = 0    # size of the written copies


def gzip_bytes(data: bytes) -> bytes:
    """The deterministic gzip form of `data` (no name, time 0)."""
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


def precompress(output: Path) -> CompressReport:
    """Bring every `.gz` copy under `output` up to date with its source; see the module doc."""
    report = CompressReport()
    for folder, names in _walk(Path(output)):
        present = set(names)
        for name in names:
            path = folder / name
            if name.endswith(".gz"):
                # Only copies of the kinds made here: an editor's archive.tar.gz stays.
                source = name[:-3]
                if source not in present and Path(source).suffix in COMPRESSED_SUFFIXES:
                    path.unlink(missing_ok=True)
                    report.removed += 1
            elif Path(name).suffix in COMPRESSED_SUFFIXES:
                _update(path, folder / f"{name}.gz", f"{name}.gz" in present, report)
    return report


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, regular file names) under root, skipping dot entries and symbolic links."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(folder, d))]
        yield Path(folder), [f for f in files if not f.startswith(".") and not os.path.islink(os.path.join(folder, f))]


def _update(source: Path, target: Path, exists: bool, report: CompressReport) -> None:
    stat = source.stat()
    if exists and _matches_by_stat(target, stat):
        report.kept += 1
        return
    data = source.read_bytes()
    if exists and _same_content(target, data):
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        report.kept += 1
        return
    packed = gzip_bytes(data)
    if len(packed) >= len(data):
        # Too small to gain anything: nginx then sends the file itself.
        if exists:
            target.unlink(missing_ok=True)
            report.removed += 1
        return
    atomic_write_bytes(target, packed, durable=False)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report.written += 1
    report.bytes_in += len(data)
    report.bytes_out += len(packed)


def _matches_by_stat(target: Path, source: os.stat_result) -> bool:
    """Same modification time as the source and the same uncompressed size (the gzip
    trailer's ISIZE): the copy was made from this very file. A torn or foreign copy fails
    the size check."""
    try:
        if target.stat().st_mtime_ns != source.st_mtime_ns:
            return False
        with target.open("rb") as fh:
            fh.seek(-4, os.SEEK_END)
            (size,) = struct.unpack("<I", fh.read(4))
    except OSError:
        return False
    return size == source.st_size % 2**32


def _same_content(target: Path, data: bytes) -> bool:
    """The copy inflates to exactly `data`; inflating stops one byte past its size, so a
    copy that is not ours (a gzip bomb included) costs no more memory than the page."""
    try:
        inflater = zlib.decompressobj(wbits=31)   # 31: the gzip format
        inflated = inflater.decompress(target.read_bytes(), len(data) + 1)
    except (OSError, zlib.error):
        return False
    return inflated == data and inflater.eof and not inflater.unused_data
