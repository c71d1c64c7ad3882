"""Precompressed copies of the built site: `page.html` → `page.html.gz`, for nginx's
`gzip_static` (deploy/nginx/casebook.conf), so no text file is compressed per request.

- Incremental: a `.gz` whose recorded size and time match its source is kept without reading
  either; one that differs is decompressed and compared before anything is compressed again
  (inflating is an order of magnitude cheaper than deflating at level 9). A `.gz` whose
  source is gone (with its folder, if that leaves it empty), or that would not be smaller
  than it, is removed; other `.gz` files (an editor's archive.tar.gz) are left alone.
- Deterministic: level 9, no file name and time 0 in the gzip header, so the same page
  always gives the same bytes (and the same ETag behind a CDN or in a diff of two builds).
- Atomic: each copy is written beside its target and renamed over it, so nginx never
  serves half of one. The copy then takes its source's modification time, which is what
  nginx sends as Last-Modified for either variant.
- Dot folders (`.casebook/` caches, temporary files) and symbolic links are not followed:
  only what the build wrote is compressed.
- Beside the rendering: `BackgroundCompressor` makes the copy of each page as soon as Pelican
  has written it, on a thread of its own (zlib lets go of the interpreter lock while it
  deflates), so the build does not compress 1,500 pages after the last one is written.
  `precompress` at the end is still the whole truth: it finds those copies up to date by
  their stat alone and makes the rest (feeds, sitemap, datasets, static files).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from casebook.files import atomic_write_bytes

# Text formats the site serves; nginx's gzip_static answers for any URL that has a `.gz`
# beside it, so this list alone decides what is sent compressed. Images are compressed already.
COMPRESSED_SUFFIXES = frozenset({".html", ".css", ".js", ".xml", ".json", ".csv", ".svg", ".txt"})
LEVEL = 9
PARALLEL_FROM = 32        # copies to make before threads pay for themselves


@dataclass
class CompressReport:
    written: int = 0      # new or changed copies
    kept: int = 0         # copies whose source did not change
    removed: int = 0      # orphans and copies that would not save bytes
    skipped: int = 0      # files too small to gain from a copy
    bytes_in: int = 0     # size of the sources of written copies
    bytes_out: int = 0    # size of the written copies


def gzip_bytes(data: bytes) -> bytes:
    """The deterministic gzip form of `data` (no name, time 0)."""
    return gzip.compress(data, compresslevel=LEVEL, mtime=0)


def precompress(output: Path) -> CompressReport:
    """Bring every `.gz` copy under `output` up to date with its source; see the module doc."""
    report = CompressReport()
    root = os.path.abspath(output)
    pending: list[tuple[str, os.stat_result, bool]] = []
    for folder, entries in _walk(root):
        orphans = 0
        for name, entry in entries.items():
            if name.endswith(".gz"):
                # Only copies of the kinds made here: an editor's archive.tar.gz stays.
                source = name[:-3]
                if source not in entries and os.path.splitext(source)[1] in COMPRESSED_SUFFIXES:
                    os.unlink(entry.path)
                    orphans += 1
            elif os.path.splitext(name)[1] in COMPRESSED_SUFFIXES:
                copy, stat = entries.get(f"{name}.gz"), entry.stat(follow_symlinks=False)
                if copy is not None and _matches_by_stat(copy, stat):
                    report.kept += 1
                else:
                    pending.append((entry.path, stat, copy is not None))
        if orphans:
            report.removed += orphans
            _remove_if_emptied(folder, root)
    for outcome, size_in, size_out in _run(pending):
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.bytes_in += size_in
        report.bytes_out += size_out
    return report


def _run(pending: list[tuple[str, os.stat_result, bool]]) -> Iterator[tuple[str, int, int]]:
    """Refresh the copies, on every core the process may use when there are many (zlib lets
    go of the GIL while it deflates, so threads compress in parallel)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if len(pending) < PARALLEL_FROM or cores < 2:
        yield from (_refresh(*job) for job in pending)
        return
    with ThreadPoolExecutor(max_workers=min(cores, 8)) as pool:
        yield from pool.map(lambda job: _refresh(*job), pending)


class BackgroundCompressor:
    """The copies of the pages a build writes, made while it renders the next ones, on one
    thread (the build's other core belongs to the index process). Whatever this misses or
    gets wrong (a page rewritten meanwhile, a failure) the final `precompress` walk redoes:
    a copy whose stat does not match its source is made again there."""

    def __init__(self, output: Path) -> None:
        self.root = os.path.join(os.path.abspath(output), "")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casebook-gzip")

    def written(self, path: str) -> None:
        """Pelican wrote `path` (an output file): its copy is made soon."""
        path = os.path.abspath(path)
        if (path.startswith(self.root) and os.path.splitext(path)[1] in COMPRESSED_SUFFIXES
                and not any(part.startswith(".") for part in path[len(self.root):].split(os.sep))):
            self._pool.submit(_refresh_written, path)

    def close(self) -> None:
        """Wait for the copies under way (idempotent)."""
        self._pool.shutdown(wait=True)


def _refresh_written(path: str) -> None:
    try:
        stat = os.stat(path, follow_symlinks=False)
        if not S_ISREG(stat.st_mode):
            return
        copy = f"{path}.gz"
        has_copy = os.path.lexists(copy)
        if has_copy and _copy_matches(copy, stat):
            return
        _refresh(path, stat, has_copy)
    except OSError:
        return   # gone or unreadable now: the final walk decides


def _remove_if_emptied(folder: str, root: str) -> None:
    """The build removed a page it no longer makes (cases/<slug>/index.html) and could not
    remove its folder while the copy was there: the folder goes with the copy, as do parents
    left empty, up to the output folder."""
    while folder != root and not os.listdir(folder):
        os.rmdir(folder)
        folder = os.path.dirname(folder)


def _walk(root: str) -> Iterator[tuple[str, dict[str, os.DirEntry]]]:
    """Each folder under root with its regular files by name, skipping dot entries and
    symbolic links. os.scandir, not os.walk and pathlib: at 1,500 files the walk is most
    of the cost of a rebuild that changed nothing."""
    folders = [root]
    while folders:
        folder = folders.pop()
        files: dict[str, os.DirEntry] = {}
        with os.scandir(folder) as listing:
            for entry in listing:
                if entry.name.startswith(".") or entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    files[entry.name] = entry
        yield folder, files


def _refresh(source: str, stat: os.stat_result, has_copy: bool) -> tuple[str, int, int]:
    """Make `source`.gz match `source`: (what was done, bytes read, bytes written), what being
    a CompressReport counter."""
    target = Path(f"{source}.gz")
    data = Path(source).read_bytes()
    if has_copy and _same_content(target, data):
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        return "kept", 0, 0
    packed = gzip_bytes(data)
    if len(packed) >= len(data):
        # Too small to gain anything: nginx then sends the file itself.
        if has_copy:
            target.unlink(missing_ok=True)
            return "removed", 0, 0
        return "skipped", 0, 0
    atomic_write_bytes(target, packed, durable=False)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return "written", len(data), len(packed)


def _matches_by_stat(copy: os.DirEntry, source: os.stat_result) -> bool:
    """Same modification time as the source and the same uncompressed size (the gzip
    trailer's ISIZE): the copy was made from this very file. A torn or foreign copy fails
    the size check."""
    try:
        return _copy_matches(copy.path, source, copy.stat(follow_symlinks=False))
    except OSError:
        return False


def _copy_matches(copy: str, source: os.stat_result, stat: os.stat_result | None = None) -> bool:
    try:
        stat = stat or os.stat(copy, follow_symlinks=False)
        if not S_ISREG(stat.st_mode) or stat.st_mtime_ns != source.st_mtime_ns or stat.st_size < 18:   # 18: header and trailer
            return False
        fd = os.open(copy, os.O_RDONLY)
        try:
            trailer = os.pread(fd, 4, stat.st_size - 4)
        finally:
            os.close(fd)
    except OSError:
        return False
    return len(trailer) == 4 and struct.unpack("<I", trailer)[0] == source.st_size % 2**32


def _same_content(target: Path, data: bytes) -> bool:
    """The copy inflates to exactly `data`; inflating stops one byte past its size, so a
    copy that is not ours (a gzip bomb included) costs no more memory than the page."""
    try:
        inflater = zlib.decompressobj(wbits=31)   # 31: the gzip format
        inflated = inflater.decompress(target.read_bytes(), len(data) + 1)
    except (OSError, zlib.error):
        return False
    return inflated == data and inflater.eof and not inflater.unused_data
