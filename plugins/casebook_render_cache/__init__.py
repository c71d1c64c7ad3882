"""Skip re-rendering pages whose inputs did not change (a Pelican writer).

Pelican renders every page on every build; after an editor fixes a typo in one case of
10,000, that is ~12,000 template renders for one changed page. This writer gives each page
a fingerprint of what its template can show, and when the fingerprint is the one recorded
for the file already in the output folder, it leaves that file as it is instead of rendering
and writing it again.

What a page can show, and so its fingerprint:
- the site: a digest of the metadata of every case, draft and page (title, date, category,
  tags, banks, region, summary, ...), the settings, and the source of the theme, the
  plugins and the configuration. Lists, counts, related cases, previous/next links, facets
  and maps all derive from these, so any metadata edit renders everything again;
- the page: its template, its file name, and its own variables (`article`, `category`,
  `facet`, the paginated `articles_page`, ...), where the body of a case counts only for
  the case of the page (`article`, `page`) and the cases listed on this page
  (`*_page.object_list`) and the related cases of the page's case, whose summaries it
  shows. Elsewhere a case counts by identity.

Feeds get the same treatment: a feed's fingerprint is the site's and its cases' (bodies
included), so a body edit regenerates only the feeds that carry the case.

So a body edit renders the case's own page and the list pages that show it. The record
of fingerprints is removed when a build starts and written when it finishes, so a build
that dies half way leaves none and the next one renders everything.

This needs the previous output, so the plugin takes over DELETE_OUTPUT_DIRECTORY: with no
record it empties the output folder as Pelican would (a full render follows); with one, it
deletes exactly the pages the previous build wrote and this one did not (a removed case,
a facet value no case has any more, drafts left out of a public build).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pelican import signals
from pelican.contents import Content
from pelican.paginator import Page, Paginator
from pelican.urlwrappers import URLWrapper
from pelican.utils import clean_output_dir, sanitised_join
from pelican.writers import Writer

from casebook.files import atomic_write
from casebook.settings import ROOT

log = logging.getLogger(__name__)
RECORD = "render-fingerprints.json"
SOURCES = ("pelicanconf.py", "theme", "plugins", "casebook/model.py")
BODY_KEYS = {"article", "page"}


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


def _sources_digest() -> str:
    h = hashlib.blake2b(digest_size=16)
    for name in SOURCES:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            h.update(str(file.relative_to(ROOT)).encode())
            h.update(file.read_bytes())
    return h.hexdigest()


def _json_default(value: object) -> object:
    """What the C JSON encoder cannot write itself, as `_plain` would write it."""
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    return _plain(value)


def site_digest(context: dict, settings: dict) -> str:
    contents = [c for key in ("articles", "drafts", "pages", "hidden_pages", "draft_pages")
                for c in context.get(key) or [] if isinstance(c, Content)]
    # The C encoder with a fallback for dates and taxonomy objects: ~4x faster than turning
    # each metadata dict into plain values first, which at 10,000 cases was a second per build.
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_default).encode
    metadata = sorted((c.source_path or "", encode(c.metadata)) for c in contents)
    simple = json.dumps(_plain({k: v for k, v in settings.items() if not k.startswith("_")}), sort_keys=True)
    return _digest(_sources_digest(), simple, json.dumps(metadata, ensure_ascii=False))


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
            known = _digest(f"{content.source_path}", content._content or "")
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
            return _digest(identity, value._content or "", *related)
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


class _RememberingTemplate:
    """The template of one write_file call: renders, or hands back the previous output."""

    def __init__(self, writer: RenderCacheWriter, template, page_keys: set[str]) -> None:  # type: ignore[no-untyped-def]
        self.writer = writer
        self.template = template
        self.page_keys = page_keys

    def render(self, localcontext: dict) -> str:
        return self.writer.render(self.template, localcontext, self.page_keys)


class RenderCacheWriter(Writer):
    def __init__(self, output_path, settings=None):  # type: ignore[no-untyped-def]
        super().__init__(output_path, settings=settings)
        self.record_path = Path(settings["CACHE_PATH"]) / RECORD if settings and settings.get("CACHE_PATH") else None
        self.previous: dict[str, str] = {}
        if self.record_path and self.record_path.exists():
            try:
                self.previous = json.loads(self.record_path.read_text(encoding="utf-8"))
            except ValueError:
                self.previous = {}
            # Gone until this build finishes: a build that dies half way must not vouch for
            # files it may have left half-written.
            self.record_path.unlink(missing_ok=True)
        clean = (settings or {}).get("_CASEBOOK_CLEAN_OUTPUT")
        if clean is not None and not self.previous:
            clean_output_dir(output_path, clean)
        self.current: dict[str, str] = {}
        self.fingerprints = _Fingerprints()
        self.site: str | None = None
        self.rendered = self.reused = 0
        self.unchanged_paths: set[str] = set()
        _WRITERS.append(self)     # saved when the build finishes (`save_fingerprints`)

    def write_file(self, name, template, context, relative_urls=False, paginated=None, template_name=None,  # type: ignore[no-untyped-def,override]
                   override_output=False, url=None, **kwargs):
        self._know_site(context)
        page_keys = set(kwargs) | {f"{key}_{part}" for key in (paginated or {"articles": 0, "dates": 0})
                                   for part in ("page", "paginator", "previous_page", "next_page")}
        return super().write_file(name, _RememberingTemplate(self, template, page_keys), context,
                                  relative_urls=relative_urls, paginated=paginated, template_name=template_name,
                                  override_output=override_output, url=url, **kwargs)

    def write_feed(self, elements, context, path=None, url=None, feed_type="atom", override_output=False,  # type: ignore[no-untyped-def,override]
                   feed_title=None):
        """A feed whose cases, settings and site did not change since the last build is the
        file already on disk: not generated again."""
        if path:
            items = elements[: self.settings.get("FEED_MAX_ITEMS")]
            fingerprint = _digest(self._know_site(context), "feed", path, str(url), feed_type, str(feed_title),
                                  str(context.get("SITEURL")), str(context.get("FEED_DOMAIN")),
                                  *(self.fingerprints.of(item, body=True) for item in items))
            if self._unchanged(path, fingerprint):
                return None
        return super().write_feed(elements, context, path=path, url=url, feed_type=feed_type,
                                  override_output=override_output, feed_title=feed_title)

    def write_derived(self, name: str, context: dict, produce: Callable[[], str]) -> None:
        """A file derived from the site's metadata and settings alone (no case body shows in
        it): produced and written (atomically) only when those changed since the last build."""
        if not self._unchanged(name, _digest(self._know_site(context), "derived", name)):
            atomic_write(Path(sanitised_join(self.output_path, name)), produce())

    def _know_site(self, context: dict) -> str:
        if self.site is None:
            self.site = site_digest(context, self.settings)
        return self.site

    def _unchanged(self, name: str, fingerprint: str) -> bool:
        """Record the output's fingerprint; True when the file on disk already is that output
        (nothing to render, nothing to write), counted as reused, else counted as rendered."""
        self.current[name] = fingerprint
        if self.previous.get(name) == fingerprint and os.path.isfile(sanitised_join(self.output_path, name)):
            self.reused += 1
            return True
        self.rendered += 1
        return False

    def _page_fingerprint(self, template, localcontext: dict, page_keys: set[str]) -> str:  # type: ignore[no-untyped-def]
        paginated_lists = {key[:-5] for key in page_keys if key.endswith("_page") and key in localcontext}
        parts = [self.site or "", template.name or "", localcontext.get("output_file", ""),
                 str(localcontext.get("SITEURL")), str(localcontext.get("localsiteurl"))]
        for key in sorted(page_keys):
            if key not in localcontext or key in paginated_lists:
                continue     # a paginated list shows only its page (its length is site metadata)
            parts.append(f"{key}={self.fingerprints.of(localcontext[key], body=key in BODY_KEYS)}")
        return _digest(*parts)

    def render(self, template, localcontext: dict, page_keys: set[str]) -> str:  # type: ignore[no-untyped-def]
        name = localcontext.get("output_file", "")
        if self._unchanged(name, self._page_fingerprint(template, localcontext, page_keys)):
            # Pelican still opens the file to write what this returns: `_open_w` gives it devnull.
            self.unchanged_paths.add(sanitised_join(self.output_path, name))
            return ""
        return template.render(localcontext)

    def _open_w(self, filename, encoding, override=False):  # type: ignore[no-untyped-def]
        if filename in self.unchanged_paths and filename not in self._written_files:
            self.unchanged_paths.discard(filename)
            self._written_files.add(filename)
            if override:
                self._overridden_files.add(filename)
            return open(os.devnull, "w", encoding=encoding)
        return super()._open_w(filename, encoding, override)

    def save(self) -> None:
        if self.settings.get("_CASEBOOK_CLEAN_OUTPUT") is not None:
            self._remove_stale_pages()
        if not self.record_path:
            return
        atomic_write(self.record_path, json.dumps(self.current))
        log.info("pages rendered: %d, unchanged and reused: %d", self.rendered, self.reused)


    def _remove_stale_pages(self) -> None:
        root = Path(self.output_path)
        for name in set(self.previous) - set(self.current):
            path = root / name
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == root or not folder.is_relative_to(root) or any(folder.iterdir()):
                    break
                folder.rmdir()


_WRITERS: list[RenderCacheWriter] = []


def take_over_output_cleaning(pelican) -> None:  # type: ignore[no-untyped-def]
    """Pelican would empty the output folder before writing; the writer needs the previous
    pages, so it does the cleaning itself (see the module's docstring)."""
    inside = os.path.commonpath([os.path.realpath(pelican.output_path)]) == os.path.commonpath(
        [os.path.realpath(pelican.output_path), os.path.realpath(pelican.path)])
    if pelican.delete_outputdir and not inside:
        pelican.delete_outputdir = False
        pelican.settings["_CASEBOOK_CLEAN_OUTPUT"] = list(pelican.output_retention)


def get_writer(pelican) -> type:  # type: ignore[no-untyped-def]
    return RenderCacheWriter


LAST_STATS: dict[str, int] = {}


def save_fingerprints(pelican) -> None:  # type: ignore[no-untyped-def]
    while _WRITERS:
        writer = _WRITERS.pop()
        writer.save()
        LAST_STATS.update(rendered=writer.rendered, reused=writer.reused)


def register() -> None:
    signals.initialized.connect(take_over_output_cleaning)
    signals.get_writer.connect(get_writer)
    signals.finalized.connect(save_fingerprints)
