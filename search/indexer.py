"""Building the index: incremental, atomic, versioned.

Layout of the index folder:
    CURRENT          the name of the generation readers use (replaced atomically)
    gen-000007/      a complete Whoosh index plus manifest.json (schema version,
                     content hash of every case)
A build copies the current generation aside, updates only the cases whose content
hash changed (or removes the ones that are gone), commits, and then swaps CURRENT.
Readers never see a half-built index; a build that fails leaves the old one serving.
An index of another schema version is rebuilt from scratch.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.index import Index
from whoosh.reading import IndexReader
from whoosh.writing import IndexWriter

from casebook.errors import SearchError
from search.analysis import ensure_dictionary
from search.grams import GramTable, has_table, remove_stale_tables
from search.schema import SCHEMA_VERSION, BuildReport, IndexDoc, build_schema, searchable_text

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 2
STREAM_FROM = 500    # cases: a fresh build this large is written while the cases are still coming
POSTING_POOL_MB = 512   # per analysing process (see `_writer`)


def current_generation(index_dir: Path) -> Path | None:
    marker = Path(index_dir) / CURRENT
    if not marker.exists():
        return None
    path = Path(index_dir) / marker.read_text(encoding="utf-8").strip()
    return path if path.is_dir() else None


def read_manifest(generation: Path) -> dict:
    try:
        return json.loads((generation / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _next_name(index_dir: Path) -> str:
    numbers = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _swap(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{CURRENT}.tmp"
    tmp.write_text(name + "\n", encoding="utf-8")
    os.replace(tmp, index_dir / CURRENT)


def _cleanup(index_dir: Path, keep: str) -> None:
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    old = [p for p in generations if p.name != keep][:-(KEEP_GENERATIONS - 1) or None]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(".building-*"):
        shutil.rmtree(path, ignore_errors=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _writer(ix: Index, fresh_docs: int, procs: int, threshold: int = STREAM_FROM) -> IndexWriter:
    """A writer: for a large fresh build, one analysing process per core, each writing its
    own segment (Whoosh's MpWriter, multisegment: no merge pass); else a single writer.
    (The processes cost CPU of their own, ~1.5 CPU-seconds more than one writer at 1,000
    cases: worth it when the index is what the caller waits for, not beside a busy build.)

    The posting pool of each analysing process holds 5,000 cases: past its limit Whoosh
    sorts runs out to disk and merges them back, and with the limit at 128 or 256 MB an
    index of 10,000 cases on 2 cores took 42 s instead of 24 s. (The pool's accounting
    overstates its use: ~540 MB resident per process at 5,000 cases, at 512 or 1024 MB.)"""
    if procs > 1 and fresh_docs >= threshold:
        return ix.writer(procs=procs, limitmb=POSTING_POOL_MB, multisegment=True)
    return ix.writer(limitmb=POSTING_POOL_MB)


def segment_leaves(reader: IndexReader) -> list[tuple[str, IndexReader, int]]:
    """(segment id, leaf reader, first docnum) of every segment under a Whoosh reader."""
    leaves = reader.leaf_readers() if hasattr(reader, "leaf_readers") else [(reader, 0)]
    out = []
    for leaf, offset in leaves:
        segment = leaf.segment()
        assert segment is not None   # a leaf reads one segment; only a multi-reader has none
        out.append((segment.segment_id(), leaf, offset))
    return out


def _write_segment_table(folder: str, segment_id: str) -> None:
    reader = whoosh_index.open_dir(folder).reader()
    try:
        for found, leaf, _offset in segment_leaves(reader):
            if found == segment_id:
                texts = ((docnum, searchable_text(stored["record"])) for docnum, stored in leaf.iter_docs())
                GramTable.build(texts).save(Path(folder), segment_id)
    finally:
        reader.close()


def write_gram_tables(folder: Path) -> None:
    """A bigram table beside every segment that has none yet (new segments only: tables of
    unchanged segments came with the hard-linked copy), and none for merged-away ones. The
    segments of a fresh multi-process build get theirs in parallel, one process each."""
    reader = whoosh_index.open_dir(str(folder)).reader()
    live = {segment_id for segment_id, _leaf, _offset in segment_leaves(reader)}
    reader.close()
    missing = [segment_id for segment_id in sorted(live) if not has_table(folder, segment_id)]
    workers = min(len(missing), os.cpu_count() or 1)
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.starmap(_write_segment_table, [(str(folder), segment_id) for segment_id in missing])
    else:
        for segment_id in missing:
            _write_segment_table(str(folder), segment_id)
    remove_stale_tables(folder, live)


def build_index(docs: Iterable[IndexDoc], index_dir: Path, *, full: bool = False, procs: int = 0,
                data_dir: Path | None = None) -> BuildReport:
    """Bring the index up to date with `docs` (all the cases to serve). `procs`: analysing
    processes for a large fresh build (0: one per core, up to four). `data_dir`: the data
    files the segmenter learns the domain's words from (default scraper/data)."""
    builder = IndexBuilder(index_dir, full=full, procs=procs, data_dir=data_dir)
    try:
        for doc in docs:
            builder.add(doc)
        return builder.finish()
    except BaseException:
        builder.cancel()
        raise


def _warm(data_dir: Path | None) -> None:
    try:
        ensure_dictionary(data_dir)
    except Exception as exc:   # `_open` meets the same problem and raises it where it matters
        log.debug("loading the segmenter's words: %s", exc)


def _cancel_writer(writer: IndexWriter) -> None:
    # Whoosh's MpWriter.cancel only flags its copies of the analysing processes; the
    # processes themselves would wait for work forever.
    for task in getattr(writer, "tasks", []):
        if task.is_alive():
            task.terminate()
        task.join()
    try:
        writer.cancel()
    except Exception as exc:  # a writer process may already be gone; the folder goes anyway
        log.debug("cancelling the index writer: %s", exc)


class IndexBuilder:
    """Brings the index up to date with cases given one at a time, as they are read.

    A fresh build (no index yet, another schema version, or `full`) feeds Whoosh's writer as
    the cases come, so analysis runs while the caller is still reading; an update keeps the
    changed cases and writes them at `finish`, which also removes the cases that are gone.
    Nothing is visible to readers before `finish` swaps the new generation in."""

    def __init__(self, index_dir: Path, *, full: bool = False, procs: int = 0, stream_from: int = STREAM_FROM,
                 data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        # The segmenter's words load beside the cases' arrival; `_open` waits for them, so an
        # update that finds every case unchanged never does.
        threading.Thread(target=_warm, args=(data_dir,), name="index-warm", daemon=True).start()
        self.stream_from = stream_from
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.procs = procs or min(4, os.cpu_count() or 1)
        self.current = current_generation(self.index_dir)
        old_manifest = read_manifest(self.current) if self.current else {}
        self.reason = ""
        if self.current and old_manifest.get("schema_version") != SCHEMA_VERSION:
            self.reason = (f"index schema {old_manifest.get('schema_version')} differs from {SCHEMA_VERSION}; "
                           "rebuilding from scratch")
            log.warning(self.reason)
        self.rebuild = full or not self.current or bool(self.reason)
        self.old_hashes: dict[str, str] = {} if self.rebuild else old_manifest.get("hashes", {})
        self.docs: dict[str, IndexDoc] = {}
        self.hashes: dict[str, str] = {}
        self.streamed: set[str] = set()    # slugs already handed to the writer
        self.name = _next_name(self.index_dir)
        self.building = self.index_dir / f".building-{self.name}"
        self.writer: IndexWriter | None = None

    def add(self, doc: IndexDoc) -> None:
        if doc.slug in self.docs:
            raise SearchError(f"two cases share the slug {doc.slug!r}", source=doc.path,
                              hint=f"also used by {self.docs[doc.slug].path}; run casebook check")
        self.docs[doc.slug] = doc
        self.hashes[doc.slug] = doc.content_hash()
        if not self.rebuild:
            return
        # A fresh build starts writing once it is clearly large (one analysing process per
        # core pays off from a few hundred cases); a small one is written at `finish`.
        if self.writer is None and len(self.docs) >= self.stream_from:
            self._open(len(self.docs))
            for slug in self.docs:
                self._stream(slug)
        elif self.writer is not None:
            self._stream(doc.slug)

    def finish(self, keep: set[str] | None = None) -> BuildReport:
        """Commit and swap in the new generation. `keep`: the slugs to serve when they are
        fewer than the cases added (a case dropped after it was read)."""
        if keep is not None:
            unknown = keep - self.docs.keys()
            if unknown:
                raise SearchError(f"{len(unknown)} case(s) to keep were never added, e.g. {sorted(unknown)[0]!r}")
            for slug in [s for s in self.docs if s not in keep]:
                del self.docs[slug], self.hashes[slug]
        changed = [slug for slug, h in self.hashes.items() if self.old_hashes.get(slug) != h]
        removed = [slug for slug in self.old_hashes if slug not in self.hashes]
        if not self.rebuild and not changed and not removed:
            assert self.current is not None   # not rebuilding: there is a serving generation
            return BuildReport(self.current.name, 0, 0, 0, len(self.hashes), False)
        try:
            if self.writer is None:
                self._open(len(changed) if self.rebuild else 0)
            writer, self.writer = self.writer, None
            assert writer is not None   # `_open` made it
            try:
                for slug in removed:
                    writer.delete_by_term("slug", slug)
                for slug in changed:
                    if slug in self.streamed:
                        continue
                    fields = self.docs[slug].fields()
                    if self.rebuild:
                        writer.add_document(**fields)
                    else:
                        writer.update_document(**fields)
                # An update adds a small segment and leaves the others alone (no merge pass), so
                # it costs the same whatever the size of the collection; full builds are optimized.
                writer.commit(merge=self.rebuild)
            except BaseException:
                _cancel_writer(writer)
                raise
            self._drop_streamed_strays()
            write_gram_tables(self.building)
            manifest = {"schema_version": SCHEMA_VERSION, "hashes": self.hashes, "count": len(self.hashes)}
            (self.building / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
            os.replace(self.building, self.index_dir / self.name)
        except BaseException:
            shutil.rmtree(self.building, ignore_errors=True)
            raise
        _swap(self.index_dir, self.name)
        _cleanup(self.index_dir, self.name)
        added = len([s for s in changed if s not in self.old_hashes])
        return BuildReport(self.name, added, len(changed) - added, len(removed), len(self.hashes) - len(changed),
                           self.rebuild, self.reason)

    def cancel(self) -> None:
        """Give up: the generation being built is removed, the serving one is untouched."""
        writer, self.writer = self.writer, None
        if writer is not None:
            _cancel_writer(writer)
        shutil.rmtree(self.building, ignore_errors=True)

    def _open(self, fresh_docs: int) -> None:
        # The segmenter's words load only once something is to be analysed: an update that
        # finds every case unchanged never needs them.
        ensure_dictionary()
        shutil.rmtree(self.building, ignore_errors=True)
        if self.rebuild:
            self.building.mkdir(parents=True)
            ix = whoosh_index.create_in(str(self.building), build_schema())
        else:
            # Whoosh never rewrites a segment file (new segments and a new TOC are written
            # instead), so the new generation can share the old one's files: hard links make
            # the copy instant and take no space.
            assert self.current is not None   # an update copies the serving generation
            shutil.copytree(self.current, self.building, copy_function=_link_or_copy)
            (self.building / MANIFEST).unlink(missing_ok=True)
            ix = whoosh_index.open_dir(str(self.building))
        self.writer = _writer(ix, fresh_docs, self.procs, self.stream_from)

    def _stream(self, slug: str) -> None:
        assert self.writer is not None   # streaming starts by opening the writer
        self.writer.add_document(**self.docs[slug].fields())
        self.streamed.add(slug)

    def _drop_streamed_strays(self) -> None:
        """Cases written while streaming and dropped before `finish` (rare: Pelican can still
        set a case aside after reading it) are deleted from the committed segments."""
        strays = [slug for slug in self.streamed if slug not in self.docs]
        if not strays:
            return
        writer = whoosh_index.open_dir(str(self.building)).writer()
        for slug in strays:
            writer.delete_by_term("slug", slug)
        writer.commit(merge=False)
