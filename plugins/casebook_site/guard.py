"""What the build publishes stays inside the content folder, and no case takes another
page's place.

- Pelican walks the content folder following symbolic links (`os.walk(followlinks=True)`),
  so a link in content/cases or content/images to /etc, or to a folder holding the whole
  disk, would be read or copied into output/. Each generator's file listing is replaced
  by one that never enters or lists a link leaving the content folder (nor a folder it has
  seen, so a link loop ends) and reports each as a failed case.
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
from types import MethodType

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


class SortedFiles(set):
    """A set of paths that iterates in path order: Pelican reads the files in this order, so
    which of two cases with one slug comes first (and is kept) never depends on hashing."""

    def __iter__(self):
        return iter(sorted(set.__iter__(self)))


def get_files(self, paths, exclude=None, extensions=None) -> set[str]:
    """Pelican's Generator.get_files, with links leaving the content folder (and link loops)
    refused. Same arguments, same answer for a folder without such links."""
    if isinstance(paths, str):
        paths = [paths]
    exclusions: dict[str, set[str]] = {}
    for excluded in exclude or []:
        parent, name = os.path.split(os.path.join(self.path, excluded))
        exclusions.setdefault(parent, set()).add(name)
    ignores = self.settings["IGNORE_FILES"]
    content = os.path.realpath(self.path)
    files: set[str] = SortedFiles()
    for path in paths:
        start = os.path.join(self.path, path) if path else self.path
        if os.path.isdir(start):
            if not _inside(start, content):
                _failed(self.settings, _link_note(start))
                continue
            seen = {os.path.realpath(start)}
            for folder, dirs, names in os.walk(start, topdown=True, followlinks=True):
                keep = []
                for name in dirs:
                    full = os.path.join(folder, name)
                    if name in exclusions.get(folder, ()) or any(fnmatch.fnmatch(name, i) for i in ignores):
                        continue
                    real = os.path.realpath(full)
                    if not _inside(full, content):
                        _failed(self.settings, _link_note(full))
                    elif real not in seen:
                        seen.add(real)
                        keep.append(name)
                dirs[:] = keep
                relative = os.path.relpath(folder, self.path)
                for name in names:
                    candidate = os.path.join(relative, name)
                    if not self._include_path(candidate, extensions):
                        continue
                    if _inside(os.path.join(folder, name), content):
                        files.add(candidate)
                    else:
                        _failed(self.settings, _link_note(os.path.join(folder, name)))
        elif os.path.exists(start) and self._include_path(path, extensions):
            if _inside(start, content):
                files.add(path)
            else:
                _failed(self.settings, _link_note(start))
    return files


def guard_listing(generator) -> None:
    generator.get_files = MethodType(get_files, generator)


def drop_outside_static(generator) -> None:
    """Static files (found, or linked from a body with {static}/{attach}) must lie inside
    the content folder; the theme's own files are copied separately."""
    from casebook.check import field_rules

    content = os.path.realpath(generator.path)
    suffixes = field_rules(Path(session_of(generator.settings).data.directory)).static_suffixes
    kept = []
    for static in generator.staticfiles:
        if not _inside(static.source_path, content):
            _failed(generator.settings, f"{static.source_path}:1: a file outside the content folder — not published")
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


def drop_duplicate_articles(generator) -> None:
    for name in ("articles", "drafts", "hidden_articles"):
        if hasattr(generator, name):
            setattr(generator, name, _unique(generator.settings, getattr(generator, name), "the case"))


def drop_duplicate_pages(generator) -> None:
    for name in ("pages", "hidden_pages", "draft_pages"):
        if hasattr(generator, name):
            unique = _unique(generator.settings, getattr(generator, name), "the page")
            setattr(generator, name, unique)
            generator.context[name] = unique


def register_guards(signals) -> None:
    for init in (signals.article_generator_init, signals.page_generator_init, signals.static_generator_init):
        init.connect(guard_listing)
    signals.static_generator_finalized.connect(drop_outside_static)
    signals.article_generator_pretaxonomy.connect(drop_duplicate_articles)
    signals.page_generator_finalized.connect(drop_duplicate_pages)
