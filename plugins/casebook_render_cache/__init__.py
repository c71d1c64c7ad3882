"""Skip re-rendering pages whose inputs did not change (a Pelican writer).

Pelican renders every page on every build; after an editor fixes a typo in one case of
10,000, that is ~12,000 template renders for one changed page. This writer gives each page
a fingerprint of what its template can show, and when the fingerprint is the one recorded
for the file already in the output folder, it leaves that file as it is instead of rendering
and writing it again.

What a page can show, and so its fingerprint:
- the site: a digest of the metadata of every case, draft and page (title, date, category,
  tags, banks, region, summary, ...), the settings, the data files of the build's data
  folder (slug table included), the slugs transliterated for this build, and the source of
  the theme, the plugins and the configuration. Lists, counts, related cases, previous/next links, facets
  and maps all derive from these, so any metadata edit renders everything again;
- the page: its template, its file name, and its own variables (`article`, `category`,
  `facet`, the paginated `articles_page`, ...), where the body of a case counts only for
  the case of the page (`article`, `page`) and the cases listed on this page
  (`*_page.object_list`) and the related cases of the page's case, whose summaries it
  shows. Elsewhere a case counts by identity.

Feeds get the same treatment: a feed's fingerprint is the site's and its cases' (bodies
included), so a body edit regenerates only the feeds that carry the case.

So a body edit renders the case's own page and the list pages that show it. The record
of fingerprints (`RenderRecord`, held by the build session) lives in the output folder it
describes (OUTPUT/.casebook/); it is removed when a build starts and written when it
finishes, so a build that dies half way leaves none and the next one renders everything.

The writer overrides only Pelican's public `write_file` and `write_feed`: a page whose
fingerprint is recorded for the file on disk is not rendered and not written at all.
Paginated lists are split into their pages here (with Pelican's own `Paginator`), so each
page of a list has its own fingerprint.

This needs the previous output: `casebook build` turns DELETE_OUTPUT_DIRECTORY off in the
settings when a record exists, and the session then deletes exactly the pages the previous
build wrote and this one did not (a removed case, a facet value no case has any more,
drafts left out of a public build). With no record Pelican empties the folder (keeping
.casebook/) and everything is rendered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pelican import Pelican, signals
from pelican.contents import Content
from pelican.paginator import Page, Paginator
from pelican.urlwrappers import URLWrapper
from pelican.utils import get_relative_path, path_to_url, sanitised_join
from pelican.writers import Writer

from casebook.app.session import SESSION_KEY, BuildSession, session_of, sources_digest
from casebook.files import atomic_write

log = logging.getLogger(__name__)
RECORD = "render-fingerprints.json"
BODY_KEYS = {"article", "page"}
# Settings no page shows: the session, and how the output folder is cleaned (which depends
# on whether a record exists, so it differs between a first build and the next).
UNSHOWN = {SESSION_KEY, "DELETE_OUTPUT_DIRECTORY", "OUTPUT_RETENTION", "CASEBOOK_REMOVE_STALE"}
PRIVATE_META = {"casebook_case", "casebook_dropped"}   # the reader's records for the session


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _plain(value: object) -> object:
    """A JSON-able stand-in for a metadata value."""
    if isinstance(value, URLWrapper):
        return f"{type(value).__name__}:{value.name}:{value.slug}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return type(value).__name__


def _json_default(value: object) -> object:
    """What the C JSON encoder cannot write itself, as `_plain` would write it."""
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    return _plain(value)


def site_digest(context: dict, settings: dict) -> str:
    session = session_of(settings)
    contents = [c for key in ("articles", "drafts", "pages", "hidden_pages", "draft_pages")
                for c in context.get(key) or [] if isinstance(c, Content)]
    # The C encoder with a fallback for dates and taxonomy objects: ~4x faster than turning
    # each metadata dict into plain values first, which at 10,000 cases was a second per build.
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_default).encode
    metadata = sorted((c.source_path or "", encode({k: v for k, v in c.metadata.items() if k not in PRIVATE_META}))
                      for c in contents)
    simple = json.dumps(_plain({k: v for k, v in settings.items() if not k.startswith("_") and k not in UNSHOWN}),
                        sort_keys=True)
    return _digest(sources_digest(Path(settings["THEME"]) if settings.get("THEME") else None), session.data_digest(),
                   json.dumps(session.slugs.slugs, sort_keys=True, ensure_ascii=False), simple,
                   json.dumps(metadata, ensure_ascii=False))


def _body_of(content: Content) -> str:
    """What decides a case's HTML: its Markdown body, as the reader parsed it into the session's
    `Case` (the rest — settings, reader, sanitizer, data files — is in the site's digest).
    Content not read by the case reader: its HTML."""
    case = content.metadata.get("casebook_case")
    return case.body if case is not None else content.content or ""


class _Fingerprints:
    """Per page variable, a digest; memoized by object identity (the same lists and cases
    recur on thousands of pages of one build)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, bool | None], str] = {}   # (id, body); None: the text alone
        self._keep: list[object] = []     # memoized objects stay alive, so ids stay unique

    def of(self, value: object, body: bool = False) -> str:
        key = (id(value), body)
        known = self._memo.get(key)
        if known is None:
            known = self._compute(value, body)
            self._memo[key] = known
            self._keep.append(value)
        return known

    def _body(self, content: Content) -> str:
        """A digest of one case's text (memoized: a case is related to many others)."""
        key = (id(content), None)
        known = self._memo.get(key)
        if known is None:
            known = _digest(f"{content.source_path}", _body_of(content))
            self._memo[key] = known
            self._keep.append(content)
        return known

    def _compute(self, value: object, body: bool) -> str:
        if isinstance(value, Content):
            identity = f"{type(value).__name__}:{value.source_path}:{getattr(value, 'save_as', '')}"
            if not body:
                return identity
            # A case page lists its related cases with their summaries (case_list.html); their
            # own related cases do not show, so one level (relations can be cycles).
            related = [self._body(other) for other in getattr(value, "related_cases", None) or []]
            return _digest(identity, _body_of(value), *related)
        if isinstance(value, Page):
            return _digest("page", str(value.number), str(value.paginator.num_pages),
                           *(self.of(item, body=True) for item in value.object_list))
        if isinstance(value, Paginator):
            return _digest("paginator", str(value.num_pages), str(value.count))
        if isinstance(value, URLWrapper):
            return f"{type(value).__name__}:{value.name}:{value.slug}"
        if isinstance(value, str | int | float | bool) or value is None:
            return repr(value)
        if isinstance(value, list | tuple | set | frozenset):
            return _digest(type(value).__name__, *(self.of(item) for item in value))
        if isinstance(value, dict):
            return _digest("dict", *(f"{k}={self.of(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))))
        if hasattr(value, "__dict__"):
            return _digest(type(value).__name__, *(f"{k}={self.of(v)}" for k, v in sorted(vars(value).items())))
        return _digest(type(value).__name__, repr(value))


class RenderRecord:
    """Which output file shows what: the fingerprints of the previous build (read, then
    removed, when the build starts) and of this one (written when it finishes)."""

    def __init__(self, output: Path, cache: Path | None, written: Callable[[str], None] | None = None) -> None:
        self.output = output
        self.written = written or (lambda _path: None)   # told of each file written here
        self.path = cache / RECORD if cache else None
        self.previous: dict[str, str] = {}
        if self.path and self.path.exists():
            try:
                self.previous = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError:
                self.previous = {}
            # Gone until this build finishes: a build that dies half way must not vouch for
            # files it may have left half-written.
            self.path.unlink(missing_ok=True)
        self.current: dict[str, str] = {}
        self.fingerprints = _Fingerprints()
        self.site: str | None = None
        self.rendered = self.reused = 0

    def know_site(self, context: dict, settings: dict) -> str:
        if self.site is None:
            self.site = site_digest(context, settings)
        return self.site

    def unchanged(self, name: str, fingerprint: str) -> bool:
        """Record the output's fingerprint; True when the file on disk already is that output
        (nothing to render, nothing to write), counted as reused, else counted as rendered."""
        self.current[name] = fingerprint
        if self.previous.get(name) == fingerprint and os.path.isfile(sanitised_join(str(self.output), name)):
            self.reused += 1
            return True
        self.rendered += 1
        return False

    def write_derived(self, name: str, context: dict, settings: dict, produce: Callable[[], str]) -> None:
        """A file derived from the site's metadata and settings alone (no case body shows in
        it): produced and written (atomically) only when those changed since the last build."""
        if not self.unchanged(name, _digest(self.know_site(context, settings), "derived", name)):
            path = Path(sanitised_join(str(self.output), name))
            atomic_write(path, produce())
            self.written(str(path))

    def page_fingerprint(self, template_name: str, localcontext: dict, page_keys: set[str]) -> str:
        paginated_lists = {key[:-5] for key in page_keys if key.endswith("_page") and key in localcontext}
        parts = [self.site or "", template_name, localcontext.get("output_file", ""),
                 str(localcontext.get("SITEURL")), str(localcontext.get("localsiteurl"))]
        for key in sorted(page_keys):
            if key not in localcontext or key in paginated_lists:
                continue     # a paginated list shows only its page (its length is site metadata)
            parts.append(f"{key}={self.fingerprints.of(localcontext[key], body=key in BODY_KEYS)}")
        return _digest(*parts)

    def save(self, remove_stale: bool) -> None:
        """The end of a build: the pages of the previous build this one did not write are
        deleted (when the settings ask for a clean output folder), then the record is kept."""
        if remove_stale:
            self._remove_stale_pages()
        if self.path is not None:
            atomic_write(self.path, json.dumps(self.current))
        log.info("pages rendered: %d, unchanged and reused: %d", self.rendered, self.reused)

    def _remove_stale_pages(self) -> None:
        root = self.output
        for name in set(self.previous) - set(self.current):
            path = Path(sanitised_join(str(root), name))
            path.unlink(missing_ok=True)
            for folder in path.parents:
                # A folder already gone (the output was emptied by hand) ends the walk too.
                if folder == root or not folder.is_relative_to(root) or not folder.is_dir() or any(folder.iterdir()):
                    break
                folder.rmdir()


class RenderCacheWriter(Writer):
    """Pelican's writer, which leaves a page alone when the session's record says the file on
    disk already is what it would render (public `write_file` and `write_feed` only)."""

    def write_file(self, name: str, template: Any, context: dict, relative_urls: bool = False,
                   paginated: dict | None = None, template_name: str | None = None, override_output: bool = False,
                   url: str | None = None, **kwargs: Any) -> None:
        if not name:
            return
        record = session_of(self.settings).render
        record.know_site(context, self.settings)
        if paginated is None:
            paginated = {key: val for key, val in kwargs.items() if key in {"articles", "dates"}}
        if paginated and template_name in self.settings["PAGINATED_TEMPLATES"]:
            pages = self._pages(name, url, paginated, template_name, kwargs)
        else:
            pages = [(name, kwargs)]
        page_keys = set(kwargs) | {f"{key}_{part}" for key in (paginated or {"articles": 0, "dates": 0})
                                   for part in ("page", "paginator", "previous_page", "next_page")}
        for save_as, page_kwargs in pages:
            local = self._local(context, save_as, page_kwargs, relative_urls)
            if record.unchanged(save_as, record.page_fingerprint(template.name or "", local, page_keys)):
                # The page is part of this build's output all the same: what listens for
                # written pages (the sitemap) hears of it.
                signals.content_written.send(sanitised_join(self.output_path, save_as), context=local)
                continue
            # One page, already paginated: Pelican renders and writes it as it is.
            super().write_file(save_as, template, context, relative_urls=relative_urls, paginated={},
                               template_name=None, override_output=override_output, url=url, **page_kwargs)

    def _pages(self, name: str, url: str | None, paginated: dict, template_name: str | None,
               kwargs: dict) -> list[tuple[str, dict]]:
        """A paginated list as its pages, each with the variables Pelican gives a page
        (`<list>_paginator`, `_page`, `_previous_page`, `_next_page`), made by Pelican's Paginator."""
        per_page = self.settings["PAGINATED_TEMPLATES"][template_name] or self.settings["DEFAULT_PAGINATION"]
        paginators = {key: Paginator(name, url, val, self.settings, per_page) for key, val in paginated.items()}
        pages = []
        for number in range(next(iter(paginators.values())).num_pages):
            page_kwargs = kwargs.copy()
            for key, paginator in paginators.items():
                page = paginator.page(number + 1)
                page_kwargs.update({
                    f"{key}_paginator": paginator, f"{key}_page": page,
                    f"{key}_previous_page": paginator.page(number) if number > 0 else None,
                    f"{key}_next_page": paginator.page(number + 2) if number + 1 < paginator.num_pages else None,
                })
            pages.append((page.save_as, page_kwargs))
        return pages

    @staticmethod
    def _local(context: dict, name: str, kwargs: dict, relative_urls: bool) -> dict:
        """The variables the page's template will see (as Pelican's write_file makes them)."""
        local = {**context, "localsiteurl": context.get("localsiteurl")}
        if relative_urls:
            local["SITEURL"] = local["localsiteurl"] = path_to_url(get_relative_path(name))
        local["output_file"] = name
        local.update(kwargs)
        return local

    def write_feed(self, elements: list, context: dict, path: str | None = None, url: str | None = None,
                   feed_type: str = "atom", override_output: bool = False, feed_title: str | None = None) -> Any:
        """A feed whose cases, settings and site did not change since the last build is the
        file already on disk: not generated again."""
        if path:
            record = session_of(self.settings).render
            items = elements[: self.settings.get("FEED_MAX_ITEMS")]
            fingerprint = _digest(record.know_site(context, self.settings), "feed", path, str(url), feed_type,
                                  str(feed_title), str(context.get("SITEURL")), str(context.get("FEED_DOMAIN")),
                                  *(record.fingerprints.of(item, body=True) for item in items))
            if record.unchanged(path, fingerprint):
                return None
        feed = super().write_feed(elements, context, path=path, url=url, feed_type=feed_type,
                                  override_output=override_output, feed_title=feed_title)
        if path:
            session_of(self.settings).written(sanitised_join(self.output_path, path))
        return feed


def get_writer(_pelican: object) -> type:
    return RenderCacheWriter


def save_record(pelican: Pelican) -> None:
    """The build finished: the session deletes what the last build wrote and this one did not
    (when the settings want a clean output folder, see casebook/app/build.py) and keeps
    the record."""
    settings = pelican.settings
    session_of(settings).render.save(remove_stale=bool(settings.get("CASEBOOK_REMOVE_STALE")))


def compress_written(path: str, context: dict | None = None) -> None:
    """A page was written (or found up to date): its .gz copy is made beside the rendering,
    in a `casebook build` (a plain `pelican` run makes none)."""
    session = (context or {}).get(SESSION_KEY)
    if isinstance(session, BuildSession):
        session.written(path)


def register() -> None:
    signals.get_writer.connect(get_writer)
    signals.content_written.connect(compress_written)
    signals.finalized.connect(save_record)
