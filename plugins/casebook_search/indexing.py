"""Build the search index from the cases Pelican read (never from the output HTML).

A generator returned through `get_generators` runs after the articles generator, reads
`context["articles"]` (published cases only) and brings the Whoosh index up to date.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lxml.html
from pelican import signals

from search.indexer import build_index
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


class SearchIndexGenerator:
    def __init__(self, context, settings, path, theme, output_path, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.context = context
        self.settings = settings
        self.path = path

    def generate_output(self, writer) -> None:  # type: ignore[no-untyped-def]
        index_dir = self.settings.get("CASEBOOK_INDEX_DIR")
        if not index_dir:
            log.warning("CASEBOOK_INDEX_DIR is not set: no search index built")
            return
        docs = [index_doc(a, self.path) for a in self.context.get("articles", [])]
        report = build_index(docs, Path(index_dir))
        LAST_REPORT[:] = [report]
        log.info("search index %s: %d added, %d updated, %d removed, %d unchanged", report.generation,
                 report.added, report.updated, report.removed, report.unchanged)


def get_generators(pelican) -> type:  # type: ignore[no-untyped-def]
    return SearchIndexGenerator


def register() -> None:
    signals.get_generators.connect(get_generators)
