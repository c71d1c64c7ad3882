"""What the build publishes stays inside the content folder, and no case takes another
page's place.

- Pelican walks the content folder following symbolic links (`os.walk(followlinks=True)`),
  so a link in content/cases or content/images to /etc, or to a folder holding the whole
  disk, would be read or copied into output/. Before Pelican lists any file, the folders
  it will walk are walked here the same way: a link to a folder outside the content folder
  (or to a folder this walk has seen, so a link loop ends) is added to the generator's
  *_EXCLUDES setting, a content path leaving the folder is taken out of its *_PATHS
  setting, and each link leaving the content folder is reported as a failed case. (A file
  link leaving it is refused by the reader or dropped with the static files below.)
- A case body may link a static file (`{static}../../secret`): Pelican then copies it.
  Static files whose real path leaves the content folder are dropped before output.
- Only image types are copied from content/ (an .html or .svg there would run script on
  the site's origin).
- Two cases with one slug would both be written to cases/<slug>/ (Pelican stops the whole
  build there): the first by file name is kept, the others are failed cases.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from pathlib import Path
from typing import Any

from pelican import Pelican
from pelican.generators import ArticlesGenerator, PagesGenerator, StaticGenerator

from casebook.app.session import session_of

log = logging.getLogger(__name__)


def _failed(settings: dict, message: str) -> None:
    session_of(settings).fail(message)
    log.error("%s", message)


def _inside(path: str, root: str) -> bool:
    real = os.path.realpath(path)
    return os.path.commonpath([real, root]) == root


def _link_note(path: str) -> str:
    return (f"{path}:1: symbolic link to {os.path.realpath(path)}, outside the content folder — not published "
            "(copy the file into content/ instead)")


# The content folders Pelican walks, and the setting that excludes folders from each walk.
WALKS = (("ARTICLE_PATHS", "ARTICLE_EXCLUDES"), ("PAGE_PATHS", "PAGE_EXCLUDES"), ("STATIC_PATHS", "STATIC_EXCLUDES"))


def _walk_refusing_links(root: str, start: str, content: str, ignores: list[str]) -> tuple[list[str], list[str]]:
    """Walk `start` as Pelican will (following links). Returns the folders to exclude
    (relative to `root`: links leaving `content`, and links to a folder already walked)
    and the notes of every link leaving it."""
    excluded: list[str] = []
    notes: list[str] = []
    seen = {os.path.realpath(start)}
    for folder, dirs, names in os.walk(start, topdown=True, followlinks=True):
        keep = []
        for name in dirs:
            full = os.path.join(folder, name)
            if any(fnmatch.fnmatch(name, i) for i in ignores):
                continue
            real = os.path.realpath(full)
            if not _inside(full, content):
                notes.append(_link_note(full))
                excluded.append(os.path.relpath(full, root))
            elif real in seen:
                excluded.append(os.path.relpath(full, root))
            else:
                seen.add(real)
                keep.append(name)
        dirs[:] = keep
        notes.extend(_link_note(os.path.join(folder, name)) for name in names
                     if not any(fnmatch.fnmatch(name, i) for i in ignores)
                     and not _inside(os.path.join(folder, name), content))
    return excluded, notes


def refuse_links_leaving_content(pelican: Pelican) -> None:
    """At Pelican's start, before any generator lists its files (see the module's docstring)."""
    settings = pelican.settings
    root = settings["PATH"]
    content = os.path.realpath(root)
    for paths_key, excludes_key in WALKS:
        kept, excluded = [], list(settings.get(excludes_key) or [])
        for path in settings.get(paths_key) or []:
            start = os.path.join(root, path) if path else root
            if os.path.lexists(start) and not _inside(start, content):
                _failed(settings, _link_note(start))
                continue
            kept.append(path)
            if os.path.isdir(start):
                links, notes = _walk_refusing_links(root, start, content, settings.get("IGNORE_FILES") or [])
                excluded += links
                for note in notes:
                    _failed(settings, note)
        settings[paths_key] = kept
        settings[excludes_key] = excluded


def drop_outside_static(generator: StaticGenerator) -> None:
    """Static files (found, or linked from a body with {static}/{attach}) must lie inside
    the content folder; the theme's own files are copied separately."""
    from casebook.check import field_rules

    content = os.path.realpath(generator.path)
    suffixes = field_rules(Path(session_of(generator.settings).data.directory)).static_suffixes
    kept = []
    for static in generator.staticfiles:
        if not _inside(static.source_path, content):
            _failed(generator.settings, _link_note(static.source_path) if os.path.islink(static.source_path)
                    else f"{static.source_path}:1: a file outside the content folder — not published")
        elif not os.path.isfile(static.source_path):   # a FIFO would block the copy forever
            _failed(generator.settings, f"{static.source_path}:1: not a regular file — not published")
        elif not static.source_path.lower().endswith(suffixes):
            _failed(generator.settings, f"{static.source_path}:1: not an image ({', '.join(suffixes)}) — not published")
        else:
            kept.append(static)
    generator.staticfiles[:] = kept


def _unique(settings: dict, contents: list, kind: str) -> list:
    """The contents of `kind` with one file per output path: the first by source path wins."""
    owners: dict[str, str] = {}
    kept = []
    for content in sorted(contents, key=lambda c: c.source_path or ""):
        target = content.save_as
        if target and target in owners:   # "": not written (a draft in a public build)
            _failed(settings, f"{content.source_path}:1: {kind} writes {target}, as {owners[target]} does — skipped "
                    "(give each case its own slug)")
            continue
        owners[target] = content.source_path
        kept.append(content)
    order = {id(c): n for n, c in enumerate(contents)}
    return sorted(kept, key=lambda c: order[id(c)])


def drop_duplicate_articles(generator: ArticlesGenerator) -> None:
    for name in ("articles", "drafts", "hidden_articles"):
        if hasattr(generator, name):
            setattr(generator, name, _unique(generator.settings, getattr(generator, name), "the case"))


def drop_duplicate_pages(generator: PagesGenerator) -> None:
    for name in ("pages", "hidden_pages", "draft_pages"):
        if hasattr(generator, name):
            unique = _unique(generator.settings, getattr(generator, name), "the page")
            setattr(generator, name, unique)
            generator.context[name] = unique


def register_guards(signals: Any) -> None:
    signals.initialized.connect(refuse_links_leaving_content)
    signals.static_generator_finalized.connect(drop_outside_static)
    signals.article_generator_pretaxonomy.connect(drop_duplicate_articles)
    signals.page_generator_finalized.connect(drop_duplicate_pages)
