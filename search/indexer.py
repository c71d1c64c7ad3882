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
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index

from casebook.errors import SearchError
from search.analysis import ensure_dictionary
from search.grams import GramTable, has_table, remove_stale_tables
from search.schema import SCHEMA_VERSION, IndexDoc, build_schema, searchable_text

log = logging.getLogger(__name__)
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 2


@dataclass
class BuildReport:
    generation: str
    added: int
    updated: int
    removed: int
    unchanged: int
    rebuilt: bool
    reason: str = ""


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


def _writer(ix, fresh_docs: int, procs: int):  # type: ignore[no-untyped-def]
    """A writer: for a large fresh build, one analysing process per core, each writing its
    own segment (Whoosh's MpWriter, multisegment: no merge pass); else a single writer."""
    if procs > 1 and fresh_docs >= 500:
        return ix.writer(procs=procs, limitmb=128, multisegment=True)
    return ix.writer(limitmb=256)


def segment_leaves(reader):  # type: ignore[no-untyped-def]
    """(segment id, leaf reader, first docnum) of every segment under a Whoosh reader."""
    leaves = reader.leaf_readers() if hasattr(reader, "leaf_readers") else [(reader, 0)]
    return [(leaf.segment().segment_id(), leaf, offset) for leaf, offset in leaves]


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


def build_index(docs: list[IndexDoc], index_dir: Path, *, full: bool = False, procs: int = 0) -> BuildReport:
    """Bring the index up to date with `docs` (all the cases to serve). `procs`: analysing
    processes for a large fresh build (0: one per core, up to four)."""
    ensure_dictionary()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    seen: dict[str, IndexDoc] = {}
    for doc in docs:
        if doc.slug in seen:
            raise SearchError(f"two cases share the slug {doc.slug!r}", source=doc.path,
                              hint=f"also used by {seen[doc.slug].path}; run casebook check")
        seen[doc.slug] = doc
    hashes = {slug: doc.content_hash() for slug, doc in seen.items()}
    current = current_generation(index_dir)
    old_manifest = read_manifest(current) if current else {}
    reason = ""
    if current and old_manifest.get("schema_version") != SCHEMA_VERSION:
        reason = (f"index schema {old_manifest.get('schema_version')} differs from {SCHEMA_VERSION}; "
                  "rebuilding from scratch")
        log.warning(reason)
    rebuild = full or not current or bool(reason)
    old_hashes: dict[str, str] = {} if rebuild else old_manifest.get("hashes", {})
    changed = [slug for slug, h in hashes.items() if old_hashes.get(slug) != h]
    removed = [slug for slug in old_hashes if slug not in hashes]
    if not rebuild and not changed and not removed:
        return BuildReport(current.name, 0, 0, 0, len(hashes), False)  # type: ignore[union-attr]

    name = _next_name(index_dir)
    building = index_dir / f".building-{name}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        if rebuild:
            building.mkdir(parents=True)
            ix = whoosh_index.create_in(str(building), build_schema())
        else:
            # Whoosh never rewrites a segment file (new segments and a new TOC are written
            # instead), so the new generation can share the old one's files: hard links make
            # the copy instant and take no space.
            shutil.copytree(current, building, copy_function=_link_or_copy)  # type: ignore[arg-type]
            (building / MANIFEST).unlink(missing_ok=True)
            ix = whoosh_index.open_dir(str(building))
        writer = _writer(ix, len(changed) if rebuild else 0, procs or min(4, os.cpu_count() or 1))
        try:
            for slug in removed:
                writer.delete_by_term("slug", slug)
            for slug in changed:
                fields = seen[slug].fields()
                if rebuild:
                    writer.add_document(**fields)
                else:
                    writer.update_document(**fields)
            # An update adds a small segment and leaves the others alone (no merge pass), so
            # it costs the same whatever the size of the collection; full builds are optimized.
            writer.commit(merge=rebuild)
        except BaseException:
            writer.cancel()
            raise
        write_gram_tables(building)
        manifest = {"schema_version": SCHEMA_VERSION, "hashes": hashes, "count": len(hashes)}
        (building / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
        os.replace(building, index_dir / name)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _swap(index_dir, name)
    _cleanup(index_dir, name)
    added = len([s for s in changed if s not in old_hashes])
    return BuildReport(name, added, len(changed) - added, len(removed), len(hashes) - len(changed), rebuild, reason)
