"""The narrow interface between Casebook and its search engine.

The site, the CLI and the HTTP API talk only to a `SearchBackend`: bring the index up to date
with the cases, answer a `SearchRequest` (filters, facets, highlights, paging, sorting),
export all matches, report health. `WhooshBackend` is the one that ships; a deployment that
outgrows one machine implements the same four methods over Elasticsearch or OpenSearch (with
the IK analyzer, and an `ngram` subfield for the fragment recall that the bigram field gives
here) or Meilisearch, and selects it with `CASEBOOK_SEARCH_BACKEND=module:Class`.
"""

from __future__ import annotations

import importlib
import operator
import os
from collections.abc import Iterable, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from casebook.errors import SettingsError
from casebook.settings import Settings
from search.request import SearchRequest, SearchResponse
from search.schema import BuildReport, IndexDoc

if TYPE_CHECKING:
    from search.query import SearchEngine
    from search.snapshot import Snapshot

# Below this many cases an update analyses in one process: beside a build, the build's own
# process keeps one core busy, and Whoosh's extra analysing processes would cost more CPU
# than they save. Above it the index would outlast the build on one core.
ONE_WRITER_BELOW = 3000


@runtime_checkable
class SearchBackend(Protocol):
    def update(self, docs: Iterable[IndexDoc], *, full: bool = False) -> BuildReport:
        """Make the index hold exactly `docs` (the published cases), then switch readers to
        it at once. `docs` is iterated once, possibly while it is still arriving."""

    def search(self, request: SearchRequest) -> SearchResponse:
        """One page of results with facets, highlights and the total."""

    def export(self, request: SearchRequest, fmt: str) -> tuple[str, str]:
        """Every match as CSV or JSON: (body, media type)."""

    def health(self) -> dict[str, Any]:
        """{"status": "ok", "cases": N, ...} or raise SearchError."""


class WhooshBackend:
    """Whoosh on local disk: generations swapped atomically, read-only engines per process."""

    def __init__(self, index_dir: Path, settings: Settings | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.settings = settings
        self._engine: SearchEngine | None = None

    @property
    def engine(self) -> SearchEngine:
        from search.query import SearchEngine  # Whoosh loads with the first query, not with this module

        if self._engine is None:
            s = self.settings
            self._engine = SearchEngine(self.index_dir) if s is None else SearchEngine(
                self.index_dir, max_query_chars=s.max_query_chars, max_page=s.max_page,
                max_page_size=s.max_page_size, time_limit=s.query_time_limit, cache_size=s.query_cache,
                data_dir=s.data_dir)
        return self._engine

    def warm(self) -> None:
        """Load the segmenter and its user dictionary (seconds) before the documents come."""
        from search.analysis import ensure_dictionary

        ensure_dictionary(self._data_dir())

    def _data_dir(self) -> Path | None:
        return self.settings.data_dir if self.settings else None

    def update(self, docs: Iterable[IndexDoc], *, full: bool = False, procs: int | None = None) -> BuildReport:
        """`procs`: analysing processes of a large fresh build; by default one below
        ONE_WRITER_BELOW documents (their number, or its hint when they are streamed), else
        one per core."""
        if procs is None:
            # The count, or a streamed update's guess of it (PEP 424's length hint; 0: unknown).
            expected = len(docs) if isinstance(docs, Sized) else operator.length_hint(docs, 0)
            procs = 1 if 0 < expected < ONE_WRITER_BELOW else 0
        from search.indexer import build_index

        return build_index(docs, self.index_dir, full=full, procs=procs, data_dir=self._data_dir())

    def search(self, request: SearchRequest) -> SearchResponse:
        return self.engine.search(request)

    def export(self, request: SearchRequest, fmt: str) -> tuple[str, str]:
        return self.engine.export(request, fmt)

    def health(self) -> dict[str, Any]:
        return _health(self.engine.snapshot())

    # --- answers that never block (optional: the service calls them on its event loop) -----

    def cached(self, request: SearchRequest) -> tuple[SearchResponse, float] | None:
        """The response cache's answer to a validated request, or None: no search, no file
        read, no lock waited for (`SearchEngine.cached`); None too while the engine is not open."""
        engine = self._engine
        return None if engine is None else engine.cached(request)

    def health_now(self) -> dict[str, Any] | None:
        """`health()` when the open generation was checked moments ago, else None."""
        engine = self._engine
        snapshot = None if engine is None else engine.current()
        return None if snapshot is None else _health(snapshot)


def _health(snapshot: Snapshot) -> dict[str, Any]:
    return {"status": "ok", "cases": len(snapshot.records), "index": snapshot.generation.name, "worker": os.getpid()}


def open_backend(settings: Settings, index_dir: Path | None = None, spec: str | None = None) -> SearchBackend:
    """The configured backend: `spec` ("module:Class") or Whoosh."""
    if not spec:
        return WhooshBackend(index_dir or settings.index_dir, settings)
    module_name, _, class_name = spec.partition(":")
    try:
        backend_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise SettingsError(f"search backend {spec!r} cannot be loaded: {exc}",
                            hint="write it as package.module:ClassName") from exc
    backend = backend_class(index_dir or settings.index_dir, settings)
    if not isinstance(backend, SearchBackend):
        raise SettingsError(f"{spec} does not implement update, search, export and health")
    return backend
