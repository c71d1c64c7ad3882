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
from dataclasses import dataclass, field
from pathlib import Path

from casebook.errors import QueryError, SearchError
from search import querylang
from search.analysis import ensure_dictionary
from search.dates import check_order, parse_date, parse_range
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
from search.querylang import And, DateRange, QuerySyntaxError
from search.rank import SORTS, rank
from search.snapshot import Snapshot

__all__ = ["EXPORT_COLUMNS", "FACET_FIELDS", "FACET_VALUES", "FILTER_FIELDS", "SNIPPET_CHARS", "SORTS",
           "SearchEngine", "SearchRequest", "SearchResponse", "Snapshot", "highlight", "leaf_patterns",
           "plain_needle", "snippet", "text_pattern"]
MAX_FILTER_CHARS = 100
MAX_FILTER_VALUES = 20


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10
    facets: bool = True
    date: str = ""          # a date or range as people write it: 2021-3..2021-6
    date_from: str = ""     # on or after this date
    date_to: str = ""       # on or before this date

    def key(self) -> tuple:
        return (self.q.strip(), tuple(sorted((k, tuple(v)) for k, v in self.filters.items())), self.sort,
                self.page, self.page_size, self.facets, self.date, self.date_from, self.date_to)


@dataclass
class SearchResponse:
    query: str
    total: int
    page: int
    page_size: int
    sort: str
    results: list[dict]
    facets: dict[str, list[dict]]
    took_ms: float
    notice: str | None = None
    did_you_mean: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"query": self.query, "total": self.total, "page": self.page, "page_size": self.page_size,
                "sort": self.sort, "took_ms": round(self.took_ms, 2), "notice": self.notice,
                "did_you_mean": self.did_you_mean, "results": self.results, "facets": self.facets}


@dataclass(frozen=True)
class Plan:
    """A request made ready to evaluate: the parsed query, the whole tree with the request's
    filters and dates, and a notice for the reader."""

    tree: object | None
    root: object | None
    notice: str | None

    @property
    def leaves(self) -> list[querylang.Text]:
        return querylang.text_leaves(self.tree) if self.tree is not None else []


class SearchEngine:
    """Read-only over the index: several processes can serve one index folder."""

    def __init__(self, index_dir: Path, *, max_query_chars: int = 200, max_page: int = 50,
                 max_page_size: int = 100, time_limit: float = 2.0, cache_size: int = 0) -> None:
        ensure_dictionary()
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
        self._cache: OrderedDict[tuple, SearchResponse] = OrderedDict()
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
        if now - self._checked > 0.5:
            with self._lock:
                self._checked = now
                generation = current_generation(self.index_dir)
                if generation is not None and self._snapshot and generation != self._snapshot.generation:
                    self._open()
        assert self._snapshot is not None
        return self._snapshot

    # --- validation and planning -------------------------------------------------------

    def validate(self, request: SearchRequest) -> None:
        if len(request.q) > self.max_query_chars:
            raise QueryError(f"the query is {len(request.q)} characters long; the maximum is {self.max_query_chars}")
        if request.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
        if not 1 <= request.page <= self.max_page:
            raise QueryError(f"page must be between 1 and {self.max_page} (the maximum), not {request.page}")
        if not 1 <= request.page_size <= self.max_page_size:
            raise QueryError(f"limit must be between 1 and {self.max_page_size} (the maximum page size), "
                             f"not {request.page_size}")
        for name, values in request.filters.items():
            if name not in FILTER_FIELDS:
                raise QueryError(f"unknown filter {name!r}; filters are {', '.join(FILTER_FIELDS)}")
            if len(values) > MAX_FILTER_VALUES:
                raise QueryError(f"at most {MAX_FILTER_VALUES} values of the {name} filter, not {len(values)}")
            if any(len(v) > MAX_FILTER_CHARS for v in values):
                raise QueryError(f"a {name} filter value is longer than {MAX_FILTER_CHARS} characters")
        for name in ("date", "date_from", "date_to"):
            if len(getattr(request, name)) > MAX_FILTER_CHARS:
                raise QueryError(f"{name} is longer than {MAX_FILTER_CHARS} characters")

    def plan(self, request: SearchRequest) -> Plan:
        """The query parsed (falling back to plain text with a notice when it does not parse;
        a bad date is an error, never a silent empty answer) and ANDed with the filters."""
        notice = None
        query_text = request.q.strip()
        try:
            tree = querylang.parse(query_text) if query_text else None
        except QuerySyntaxError as exc:
            try:
                tree = querylang.plain_fallback(query_text)
                notice = f"查询语法有误（{exc}），已按普通文本检索。"
            except QuerySyntaxError:
                tree, notice = None, "查询中没有可检索的文字，显示全部案例。"
        clauses: list[object] = [tree] if tree is not None else []
        clauses += [querylang.filter_node(name, value) for name, values in request.filters.items()
                    for value in values if value]
        dates = request_dates(request)
        if dates is not None:
            clauses.append(dates)
        root = And(tuple(clauses)) if len(clauses) > 1 else (clauses[0] if clauses else None)
        return Plan(tree, root, notice)

    # --- the public entry points ------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResponse:
        self.validate(request)
        if not self.cache_size:
            return self._search(request)
        started = time.perf_counter()
        key = (self.snapshot().generation.name, *request.key())
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is not None:
            return dataclasses.replace(cached, took_ms=(time.perf_counter() - started) * 1000)
        response = self._search(request)
        with self._lock:
            self._cache[key] = response
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return response

    def _search(self, request: SearchRequest) -> SearchResponse:
        started = time.perf_counter()
        deadline = Deadline(self.time_limit)
        snap = self.snapshot()
        plan = self.plan(request)
        evaluator = Evaluator(snap, deadline)
        matched = evaluator.evaluate(plan.root)
        leaves = plan.leaves
        ordered, scores = rank(snap, matched, leaves, request.sort, request.page * request.page_size, deadline)
        start = (request.page - 1) * request.page_size
        patterns = leaf_patterns(leaves)
        results = []
        for docnum in ordered[start:start + request.page_size]:
            deadline.check()
            results.append(result_row(snap, docnum, patterns, scores.get(docnum, 0.0)))
        counts = facets(snap, evaluator, plan.root, matched) if request.facets else {}
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
        if fmt not in ("csv", "json"):
            raise QueryError(f"export format must be csv or json, not {fmt!r}")
        self.validate(request)
        deadline = Deadline(self.time_limit)
        snap = self.snapshot()
        plan = self.plan(request)
        matched = Evaluator(snap, deadline).evaluate(plan.root)
        ordered, _scores = rank(snap, matched, plan.leaves, request.sort, None, deadline)
        return export_body(export_rows(snap, ordered, deadline), fmt)


def request_dates(request: SearchRequest) -> DateRange | None:
    """The request's date parameters as one range: `date` (a date or range as people write
    it) and `date_from` / `date_to` (one date each), combined."""
    start: str | None = None
    end: str | None = None
    if request.date.strip():
        start, end = parse_range(request.date)
    if request.date_from.strip():
        low = parse_date(request.date_from)
        start = max(start, low) if start else low
    if request.date_to.strip():
        high = parse_date(request.date_to)
        # An end bound covers everything it is a prefix of: 2021 ends after 2021-03.
        end = min(end, high, key=lambda e: e + "\U0010ffff") if end else high
    if start is None and end is None:
        return None
    written = " .. ".join(v for v in (request.date, request.date_from, request.date_to) if v.strip())
    check_order(start, end, written)
    return DateRange(start, end)
