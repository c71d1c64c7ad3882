"""Build the search index from the cases Pelican read (never from the output HTML).

A generator returned through `get_generators` runs after the articles generator, reads
`context["articles"]` (published cases only) and brings the Whoosh index up to date.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from pathlib import Path

import lxml.html
from pelican import signals

from casebook.errors import SearchError
from search.schema import IndexDoc

log = logging.getLogger(__name__)
LAST_REPORT: list = []


def article_text(html: str) -> str:
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for node in root.iter("p", "h1", "h2", "h3", "h4", "li", "tr", "br"):
        node.tail = ("\n" + node.tail) if node.tail else "\n"
    return "\n".join(line.strip() for line in root.text_content().split("\n") if line.strip())


def index_doc(article, content_root: str) -> IndexDoc:  # type: ignore[no-untyped-def]
    meta = article.metadata
    return IndexDoc(
        slug=article.slug, path=os.path.relpath(article.source_path, content_root), url="/" + article.url,
        title=article.title, date=meta.get("date_iso", article.date.isoformat()),
        category=article.category.name if getattr(article, "category", None) else "",
        tags=[t.name for t in getattr(article, "tags", [])], banks=list(meta.get("banks") or []),
        programs=list(meta.get("programs") or []), province=meta.get("province") or "",
        city=meta.get("city") or "", district=meta.get("district") or "", source=meta.get("source") or "",
        via=meta.get("via") or "", summary=meta.get("summary") or "", text=article_text(article._content),
    )


def _build_in_child(articles: list, content_root: str, index_dir: str, conn) -> None:  # type: ignore[no-untyped-def,type-arg]
    try:
        # This process is a fork of Pelican's, with its whole heap (every article, page and
        # template). Left to the garbage collector, each full collection would walk, and
        # copy on write, millions of inherited objects that indexing never frees: frozen,
        # they are out of its sight.
        gc.freeze()
        # Imported here: the segmenter, OpenCC and numpy load in the child, off the build's path.
        from search.backend import WhooshBackend

        # The articles came with the fork; turning them into index documents here keeps that
        # work (an HTML parse per case) off the build's own path.
        docs = [index_doc(article, content_root) for article in articles]
        # One analysing process per core for a fresh build, although Pelican is rendering
        # on one of them: the index is the longer task, and when rendering ends first (it
        # does from ~1,000 cases on) both cores finish the index. Measured at 10,000 cases on
        # 2 cores: 116 s for the whole build, against 139 s with one analysing process.
        report = WhooshBackend(Path(index_dir)).update(docs, procs=0)
        conn.send(("ok", report))
    except BaseException as exc:
        conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
    finally:
        conn.close()


class SearchIndexGenerator:
    """Starts indexing as soon as the articles are read, in a forked process, so that the index
    is built on the second core while Pelican renders the pages on the first; joins it at the
    end of the output phase. The index swap itself is atomic (search/indexer.py)."""

    def __init__(self, context, settings, path, theme, output_path, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.context = context
        self.settings = settings
        self.path = path
        self._process = None
        self._conn = None

    def generate_context(self) -> None:
        index_dir = self.settings.get("CASEBOOK_INDEX_DIR")
        if not index_dir:
            log.warning("CASEBOOK_INDEX_DIR is not set: no search index built")
            return
        articles = list(self.context.get("articles", []))
        context = multiprocessing.get_context("fork")
        parent, child = context.Pipe(duplex=False)
        self._process = context.Process(target=_build_in_child, args=(articles, self.path, index_dir, child),
                                        daemon=False)
        self._process.start()
        child.close()
        self._conn = parent

    def generate_output(self, writer) -> None:  # type: ignore[no-untyped-def]
        if self._process is None:
            return
        try:
            status, payload = self._conn.recv()  # type: ignore[union-attr]
        except EOFError:
            status, payload = "error", "the indexing process died"
        self._process.join()
        if status != "ok":
            raise SearchError(f"the search index was not built: {payload}",
                              source=self.settings.get("CASEBOOK_INDEX_DIR"),
                              hint="the previous index is still serving; fix the cause and build again")
        LAST_REPORT[:] = [payload]
        log.info("search index %s: %d added, %d updated, %d removed, %d unchanged", payload.generation,
                 payload.added, payload.updated, payload.removed, payload.unchanged)


def get_generators(pelican) -> type:  # type: ignore[no-untyped-def]
    return SearchIndexGenerator


def register() -> None:
    signals.get_generators.connect(get_generators)
