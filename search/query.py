"""The search engine behind the CLI and the HTTP API: one request through four stages.

1. snapshot (search/snapshot.py): the index generation in use, held in memory and immutable;
2. evaluate (search/evaluate.py): the query tree (search/querylang.py) plus the request's
   filters and dates to the exact set of matching cases — text terms from the bigram tables,
   verified against the normalized text (recall 100% against a substring oracle, phrase
   precision 100%), filters and dates from metadata held in memory;
3. rank (search/rank.py): BM25F on the word fields from cached per-word score arrays, or
   by date;
4. present (search/present.py): the page's rows with snippets, facet counts (one numpy
   bincount per facet), "did you mean", exports.

Every stage runs under one deadline per request (`Deadline`).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from pathlib import Path

from casebook.errors import SearchError
from search.analysis import ensure_dictionary
from search.evaluate import Deadline, Evaluator, leaf_patterns, plain_needle, text_pattern
from search.fields import FACET_FIELDS, FILTER_FIELDS
from search.indexer import current_generation, read_manifest
from search.present import (
    EXPORT_COLUMNS,
    FACET_VALUES,
    SNIPPET_CHARS,
    export_body,
    export_rows,
    facets,
    highlight,
    result_row,
    snippet,
    suggestions,
)
from search.rank import rank
from search.request import (
    MAX_FILTER_CHARS,
    MAX_FILTER_VALUES,
    SORTS,
    Plan,
    SearchRequest,
    SearchResponse,
    plan_request,
    request_dates,
    validate_export,
    validate_request,
)
from search.snapshot import Snapshot, doc_array

GENERATION_CHECK_S = 0.5   # how often a searcher looks whether a build swapped in a new generation
# The request records and their checks live in search/request.py (backend-neutral); they are
# re-exported here, where the CLI, the service and the tests have always taken them.
__all__ = ["EXPORT_COLUMNS", "FACET_FIELDS", "FACET_VALUES", "FILTER_FIELDS", "MAX_FILTER_CHARS",
           "MAX_FILTER_VALUES", "SNIPPET_CHARS", "SORTS", "Plan", "SearchEngine", "SearchRequest", "SearchResponse",
           "Snapshot", "highlight", "leaf_patterns", "plain_needle", "request_dates", "snippet", "text_pattern"]


class SearchEngine:
    """Read-only over the index: several processes can serve one index folder."""

    def __init__(self, index_dir: Path, *, max_query_chars: int = 200, max_page: int = 50,
                 max_page_size: int = 100, time_limit: float = 2.0, cache_size: int = 0,
                 data_dir: Path | None = None) -> None:
        ensure_dictionary(data_dir)
        self.index_dir = Path(index_dir)
        self.max_query_chars = max_query_chars
        self.max_page = max_page
        self.max_page_size = max_page_size
        self.time_limit = time_limit
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._checked = 0.0
        # Responses of the current generation, most recent last. A generation never changes,
        # so a cached answer is exact until the next build swaps CURRENT (which empties it).
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[object, ...], SearchResponse] = OrderedDict()
        self._open()

    def _open(self) -> None:
        generation = current_generation(self.index_dir)
        if generation is None:
            raise SearchError("no search index here", source=str(self.index_dir), hint="run `casebook build` first")
        manifest = read_manifest(generation)
        from search.schema import SCHEMA_VERSION

        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise SearchError(f"the index has schema version {manifest.get('schema_version')}, this Casebook "
                              f"reads {SCHEMA_VERSION}", source=str(generation), hint="run `casebook build` to rebuild it")
        old = self._snapshot
        self._snapshot = Snapshot(generation, previous=old)
        self._cache = OrderedDict()
        if old is not None:
            old.close()

    def snapshot(self) -> Snapshot:
        """The current generation, reopened when a build has swapped in a new one."""
        now = time.monotonic()
        if now - self._checked > GENERATION_CHECK_S:
            with self._lock:
                self._checked = now
                generation = current_generation(self.index_dir)
                if generation is not None and self._snapshot and generation != self._snapshot.generation:
                    self._open()
        assert self._snapshot is not None
        return self._snapshot

    def current(self) -> Snapshot | None:
        """What `snapshot()` would return, without reading a file or waiting for the lock:
        the snapshot in use while its generation was checked within GENERATION_CHECK_S,
        else None (then `snapshot()` must look). For callers that must never block."""
        snap = self._snapshot
        if snap is None or time.monotonic() - self._checked > GENERATION_CHECK_S:
            return None
        return snap

    # --- validation and planning -------------------------------------------------------

    def validate(self, request: SearchRequest) -> None:
        validate_request(request, max_query_chars=self.max_query_chars, max_page=self.max_page,
                         max_page_size=self.max_page_size)

    def plan(self, request: SearchRequest) -> Plan:
        return plan_request(request)

    # --- the public entry points ------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResponse:
        self.validate(request)
        if not self.cache_size:
            return self._search(request)
        started = time.perf_counter()
        key = (self.snapshot().generation.name, *request.key())
        with self._lock:
            cached = self._cache_get(key)
        if cached is not None:
            return dataclasses.replace(cached, took_ms=(time.perf_counter() - started) * 1000)
        response = self._search(request)
        with self._lock:
            self._cache[key] = response
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return response

    def cached(self, request: SearchRequest) -> tuple[SearchResponse, float] | None:
        """The cached answer to a valid request and the milliseconds it took to find, found
        without searching, reading a file or waiting for a lock; None when that cannot be
        told so cheaply (a miss, the cache off, the generation due for its check, the lock
        held), and then `search` answers. The response is the cache's own (`search` gives a
        copy with that took_ms): never change it. The service's event loop answers cache
        hits with it. The caller validates first."""
        if not self.cache_size:
            return None
        started = time.perf_counter()
        snap = self.current()
        if snap is None or not self._lock.acquire(blocking=False):
            return None
        try:
            # The check once more under the lock: a swap replaces the snapshot and the cache together.
            cached = self._cache_get((snap.generation.name, *request.key())) if snap is self._snapshot else None
        finally:
            self._lock.release()
        if cached is None:
            return None
        return cached, (time.perf_counter() - started) * 1000

    def _cache_get(self, key: tuple[object, ...]) -> SearchResponse | None:
        """A cached response, marked most recently used. The caller holds the lock."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
        return cached

    def _search(self, request: SearchRequest) -> SearchResponse:
        started = time.perf_counter()
        deadline = Deadline(self.time_limit)
        snap = self.snapshot()
        plan = self.plan(request)
        evaluator = Evaluator(snap, deadline)
        matched = evaluator.evaluate(plan.root)
        leaves = plan.leaves
        # The matches as an array once, for the ranking and the facet counts alike.
        docs = doc_array(matched) if request.facets else None
        ordered, scores = rank(snap, matched, leaves, request.sort, request.page * request.page_size, deadline, docs)
        start = (request.page - 1) * request.page_size
        patterns = leaf_patterns(leaves)
        results = []
        for docnum in ordered[start:start + request.page_size]:
            deadline.check()
            results.append(result_row(snap, docnum, patterns, scores.get(docnum, 0.0)))
        counts = facets(snap, evaluator, plan.root, matched, docs) if request.facets else {}
        hints = suggestions(snap, leaves, deadline) if not matched and leaves else []
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(request.q.strip(), len(matched), request.page, request.page_size, request.sort,
                              results, counts, took, plan.notice, hints)

    def matching(self, request: SearchRequest) -> frozenset[int]:
        """The docnums of every match (for tests and tools), unranked."""
        self.validate(request)
        snap = self.snapshot()
        return Evaluator(snap, Deadline(self.time_limit)).evaluate(self.plan(request).root)

    def export(self, request: SearchRequest, fmt: str) -> tuple[str, str]:
        """All matches (not one page) as CSV or JSON: (body, media type)."""
        validate_export(fmt)
        self.validate(request)
        deadline = Deadline(self.time_limit)
        snap = self.snapshot()
        plan = self.plan(request)
        matched = Evaluator(snap, deadline).evaluate(plan.root)
        ordered, _scores = rank(snap, matched, plan.leaves, request.sort, None, deadline)
        return export_body(export_rows(snap, ordered, deadline), fmt)
