"""One query module behind the CLI and the HTTP API.

How a query runs (designed for pure-Python Whoosh, measured in bench/):
1. every text term gives candidates from the cheapest structure: the documents holding
   all its character bigrams (the bigram tables of `search.grams`, memory-mapped; an
   intersection of cached sets, no scoring);
2. candidates are verified against the normalized text held in memory, so a term matches
   exactly where it occurs verbatim (recall 100% against a substring oracle, phrase
   precision 100%), whatever the segmentation did;
3. filters and date ranges are set lookups on metadata held in memory;
4. ranking: BM25F on the word fields, so whole-word matches rank above fragment matches;
   each word's scores are computed once per index generation by Whoosh's matchers and
   kept as an array, so a query adds arrays and picks its top page with numpy; facet
   counts are one numpy bincount per facet and never re-score.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import heapq
import html
import io
import json
import re
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.scoring import BM25F

from casebook.errors import QueryError, QueryTimeout, SearchError
from search import querylang
from search.analysis import ensure_dictionary, normalize, query_grams, words
from search.grams import GramTable, has_table
from search.indexer import current_generation, read_manifest, segment_leaves
from search.querylang import And, DateRange, Filter, Not, Or, QuerySyntaxError, Text
from search.schema import searchable_text

FACET_FIELDS = ("category", "banks", "province", "year", "tags")
FACET_VALUES = 50   # the most frequent values of each facet (all years); the page shows 12
FILTER_FIELDS = ("banks", "province", "city", "district", "category", "tags", "programs", "source", "year")
SORTS = ("relevance", "date", "date_asc")
SNIPPET_CHARS = 120
TERM_SCORE_BYTES = 64 * 2**20   # per process, for the cached per-word score arrays
EXPORT_COLUMNS = ["slug", "title", "date", "category", "tags", "banks", "programs", "province", "city",
                  "district", "source", "via", "url", "path", "summary"]


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10
    facets: bool = True


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


class _Snapshot:
    """One index generation opened for reading, with what queries need held in memory."""

    def __init__(self, generation: Path, previous: _Snapshot | None = None) -> None:
        self.generation = generation
        self.index = whoosh_index.open_dir(str(generation))
        self.searcher = self.index.searcher(weighting=BM25F())
        self.records: dict[int, dict] = {}
        self.texts: dict[int, str] = {}
        self.postings: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.segments: dict[str, int] = {}      # segment id -> its first docnum
        self.gram_tables: list[tuple[GramTable, int]] = []
        for segment_id, leaf, offset in segment_leaves(self.searcher.reader()):
            self.segments[segment_id] = offset
            if not has_table(generation, segment_id):
                raise SearchError(f"segment {segment_id} has no bigram table", source=str(generation),
                                  hint="run `casebook build` to rebuild the index")
            self.gram_tables.append((GramTable.load(generation, segment_id), offset))
            old_offset = previous.segments.get(segment_id) if previous else None
            if old_offset is not None:
                # Segment files never change: an unchanged segment's documents are the ones the
                # previous snapshot already holds (minus any deleted since).
                for local in leaf.all_doc_ids():
                    record = previous.records.get(old_offset + local)  # type: ignore[union-attr]
                    if record is None:
                        break
                    self._add(offset + local, record, previous.texts[old_offset + local])  # type: ignore[union-attr]
                else:
                    continue
            for local, stored in leaf.iter_docs():
                self._add(offset + local, stored["record"], None)
        self.all = set(self.records)
        self.size = max(self.all, default=-1) + 1    # docnums run below this (deleted ones leave gaps)
        self._gram_docs: dict[str, frozenset[int]] = {}
        self._term_scores: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.by_date = sorted(self.all, key=lambda d: (self.records[d]["date"], self.records[d]["slug"]))
        self.sorted_dates = [self.records[d]["date"] for d in self.by_date]
        self.date_rank = np.zeros(max(self.size, 1), dtype=np.int64)
        self.date_rank[self.by_date] = np.arange(len(self.by_date))
        self.facet_tables = {name: _FacetTable.build(self, name) for name in FACET_FIELDS}

    def _add(self, docnum: int, record: dict, text: str | None) -> None:
        self.records[docnum] = record
        self.texts[docnum] = text if text is not None else searchable_text(record)
        for name in ("category", "province", "city", "district", "source"):
            if record.get(name):
                self.postings[name][record[name]].add(docnum)
        for name in ("banks", "tags", "programs"):
            for value in record.get(name) or []:
                self.postings[name][value].add(docnum)
        self.postings["year"][record["date"][:4]].add(docnum)

    def gram_docs(self, gram: str) -> frozenset[int]:
        """The live documents holding a bigram, cached: common bigrams recur in most queries."""
        docs = self._gram_docs.get(gram)
        if docs is None:
            found: set[int] = set()
            for table, offset in self.gram_tables:
                local = table.lookup(gram)
                found.update((local + offset).tolist() if offset else local.tolist())
            docs = frozenset(found & self.all)
            if len(self._gram_docs) > 50_000:
                self._gram_docs.clear()
            self._gram_docs[gram] = docs
        return docs

    def term_scores(self, fieldname: str, token: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25F scores of one word in one field for every document (dense, by docnum), and
        where it occurs. Computed once per generation by Whoosh's own matchers and scorer, then
        reused: common words (银行, 社区) recur in most queries and cost Whoosh tens of
        milliseconds each time; here a query adds a few arrays."""
        key = (fieldname, token)
        cached = self._term_scores.get(key)
        if cached is not None:
            self._term_scores.move_to_end(key)
            return cached
        scores = np.zeros(max(self.size, 1), dtype=np.float32)
        present = np.zeros(max(self.size, 1), dtype=bool)
        query = wq.Term(fieldname, token)
        context = self.searcher.context()
        for subsearcher, offset in self.searcher.leaf_searchers():
            matcher = query.matcher(subsearcher, context)
            while matcher.is_active():
                docnum = offset + matcher.id()
                if docnum < len(scores):
                    scores[docnum] = matcher.score()
                    present[docnum] = True
                matcher.next()
        self._term_scores[key] = (scores, present)
        # A bounded memory: at 10,000 cases, 1,000 words take about 50 MB.
        while len(self._term_scores) * len(scores) * 5 > TERM_SCORE_BYTES:
            self._term_scores.popitem(last=False)
        return scores, present

    def word_scores(self, leaves: list[Text]) -> np.ndarray | None:
        """The whole-word relevance of every document: per text term and field, the sum of its
        words' scores where all of them occur; summed over terms and fields (as Whoosh scores
        Or(And(title words), And(body words), ...))."""
        total: np.ndarray | None = None
        for leaf in leaves:
            tokens = list(dict.fromkeys(w for w, _, _ in words(normalize(leaf.value))))
            if not tokens:
                continue
            for fieldname in ("title", "words"):
                parts = [self.term_scores(fieldname, token) for token in tokens]
                clause = parts[0][0] if len(parts) == 1 else np.where(
                    np.logical_and.reduce([present for _, present in parts]), sum(s for s, _ in parts), 0)
                total = clause.copy() if total is None else total + clause
        return total

    def mask(self, docs: set[int] | frozenset[int]) -> np.ndarray:
        out = np.zeros(max(self.size, 1), dtype=bool)
        if docs:
            out[np.fromiter(docs, dtype=np.int64, count=len(docs))] = True
        return out

    def close(self) -> None:
        self.searcher.close()


@dataclass
class _FacetTable:
    """One facet as (document, value) pairs, so counting over any set of documents is one
    numpy gather and bincount instead of a set intersection per value."""

    values: list[str]
    pair_doc: np.ndarray
    pair_value: np.ndarray

    @classmethod
    def build(cls, snap: _Snapshot, name: str) -> _FacetTable:
        postings = snap.postings.get(name, {})
        values = sorted(postings)
        docs: list[int] = []
        ids: list[int] = []
        for number, value in enumerate(values):
            docs.extend(postings[value])
            ids.extend([number] * len(postings[value]))
        return cls(values, np.asarray(docs, dtype=np.int64), np.asarray(ids, dtype=np.int64))

    def count(self, mask: np.ndarray) -> dict[str, int]:
        if not len(self.pair_doc):
            return {}
        counts = np.bincount(self.pair_value[mask[self.pair_doc]], minlength=len(self.values))
        return {self.values[i]: int(counts[i]) for i in np.flatnonzero(counts)}


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
        self._snapshot: _Snapshot | None = None
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
        self._snapshot = _Snapshot(generation, previous=old)
        self._cache = OrderedDict()
        if old is not None:
            old.close()

    def snapshot(self) -> _Snapshot:
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

    # --- validation -------------------------------------------------------------------

    def validate(self, request: SearchRequest) -> None:
        if len(request.q) > self.max_query_chars:
            raise QueryError(f"the query is {len(request.q)} characters long; the limit is {self.max_query_chars}")
        if request.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
        if not 1 <= request.page <= self.max_page:
            raise QueryError(f"page must be between 1 and {self.max_page}")
        if not 1 <= request.page_size <= self.max_page_size:
            raise QueryError(f"limit must be between 1 and {self.max_page_size}")
        for name, values in request.filters.items():
            if name not in FILTER_FIELDS:
                raise QueryError(f"unknown filter {name!r}; filters are {', '.join(FILTER_FIELDS)}")
            if any(len(v) > 100 for v in values):
                raise QueryError(f"a {name} filter value is too long")

    # --- evaluation ---------------------------------------------------------------------

    def _text_matches(self, snap: _Snapshot, leaf: Text, cache: dict) -> set[int]:
        key = ("text", leaf.value, leaf.phrase)
        if key in cache:
            return cache[key]
        pattern = text_pattern(leaf)
        if pattern is None:
            cache[key] = set()
            return cache[key]
        grams = sorted(query_grams(leaf.value), key=lambda g: len(snap.gram_docs(g)))
        if grams:
            candidates = set(snap.gram_docs(grams[0]))
            for gram in grams[1:]:
                candidates &= snap.gram_docs(gram)
                if not candidates:
                    break
        else:
            candidates = snap.all  # one character: scan the text in memory
        needle = plain_needle(leaf)
        if needle is not None and len(needle) == 2 and grams == [needle]:
            matched = set(candidates)   # the bigram itself: its table entry is exact
        elif needle is not None:   # a plain substring test is several times faster than a regex
            texts = snap.texts
            matched = {d for d in candidates if needle in texts[d]}
        else:
            matched = {d for d in candidates if pattern.search(snap.texts[d])}
        cache[key] = matched
        return matched

    def _filter_matches(self, snap: _Snapshot, leaf: Filter) -> set[int]:
        if leaf.field == "title":
            pattern = text_pattern(Text(leaf.value))
            return {d for d in snap.all if pattern and pattern.search(normalize(snap.records[d]["title"]))}
        values = snap.postings.get(leaf.field, {})
        wanted = leaf.value
        if wanted in values:
            return set(values[wanted])
        # Forgiving: 上海 finds 上海市, 建行 finds 中国建设银行山西省分行 (normalized containment).
        folded = normalize(wanted)
        out: set[int] = set()
        for value, docs in values.items():
            if folded and folded in normalize(value):
                out |= docs
        return out

    def _date_matches(self, snap: _Snapshot, leaf: DateRange) -> set[int]:
        # On dates sorted as strings, "the first len(start) characters >= start" is "the date
        # >= start", and "the first len(end) characters <= end" is "the date < end + U+10FFFF".
        low = bisect.bisect_left(snap.sorted_dates, leaf.start or "0000")
        high = bisect.bisect_right(snap.sorted_dates, (leaf.end or "9999") + "\U0010ffff")
        return set(snap.by_date[low:high])

    def evaluate(self, snap: _Snapshot, node: object, cache: dict, skip_field: str | None = None) -> set[int]:
        deadline = cache.setdefault("deadline", time.perf_counter() + self.time_limit)
        if time.perf_counter() > deadline:
            raise QueryTimeout(f"the query took more than {self.time_limit:g} s",
                               hint="use fewer terms or add a filter")
        if isinstance(node, Text):
            return self._text_matches(snap, node, cache)
        if isinstance(node, Filter):
            if node.field == skip_field:
                return set(snap.all)
            return self._filter_matches(snap, node)
        if isinstance(node, DateRange):
            return set(snap.all) if skip_field == "year" else self._date_matches(snap, node)
        if isinstance(node, Not):
            return snap.all - self.evaluate(snap, node.child, cache, skip_field)
        if isinstance(node, And):
            result: set[int] | None = None
            for child in sorted(node.children, key=lambda c: isinstance(c, Not)):
                if isinstance(child, Not) and result is not None:
                    result -= self.evaluate(snap, child.child, cache, skip_field)
                else:
                    part = self.evaluate(snap, child, cache, skip_field)
                    result = part if result is None else result & part
                if not result:
                    return set()
            return result or set()
        if isinstance(node, Or):
            out: set[int] = set()
            for child in node.children:
                out |= self.evaluate(snap, child, cache, skip_field)
            return out
        raise SearchError(f"unknown query node {node!r}")

    # --- the public entry point -------------------------------------------------------

    def _plan(self, request: SearchRequest) -> tuple[object | None, object | None, str | None]:
        """(the parsed query, the whole tree with filters, a notice for the user)."""
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
        filters = [Filter(name, value) for name, values in request.filters.items() for value in values]
        clauses = ([tree] if tree is not None else []) + filters
        root = And(tuple(clauses)) if len(clauses) > 1 else (clauses[0] if clauses else None)
        return tree, root, notice

    def _matching(self, request: SearchRequest, *, export: bool = False) -> tuple[
            _Snapshot, set[int], list[int], dict[int, float], object | None, list[Text], dict, str | None]:
        self.validate(request)
        snap = self.snapshot()
        tree, root, notice = self._plan(request)
        cache: dict = {}
        matched = self.evaluate(snap, root, cache) if root is not None else set(snap.all)
        leaves = querylang.text_leaves(tree) if tree is not None else []
        need = None if export else request.page * request.page_size
        ordered, scores = self._rank(snap, matched, leaves, request, need)
        return snap, matched, ordered, scores, root, leaves, cache, notice

    def search(self, request: SearchRequest) -> SearchResponse:
        if not self.cache_size:
            return self._search(request)
        self.validate(request)
        snapshot = self.snapshot()
        key = (snapshot.generation.name, request.q.strip(), tuple(sorted((k, tuple(v)) for k, v in request.filters.items())),
               request.sort, request.page, request.page_size, request.facets)
        started = time.perf_counter()
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
        snap, matched, ordered, scores, root, leaves, cache, notice = self._matching(request)
        total = len(matched)
        start = (request.page - 1) * request.page_size
        patterns = leaf_patterns(leaves)
        results = [self._result(snap, d, patterns, scores.get(d, 0.0)) for d in ordered[start:start + request.page_size]]
        facets = self._facets(snap, root, cache, matched) if request.facets else {}
        suggestions = self._did_you_mean(snap, leaves) if not total and leaves else []
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(request.q.strip(), total, request.page, request.page_size, request.sort,
                              results, facets, took, notice, suggestions)

    def _rank(self, snap: _Snapshot, matched: set[int], leaves: list[Text], request: SearchRequest,
              need: int | None = None) -> tuple[list[int], dict[int, float]]:
        """The first `need` matched documents in order (all when None), with relevance scores.

        Whole-word matches first, by BM25F on the word fields (ties: newer first); then
        fragment-only matches, by how often the fragment occurs when there are few of them,
        else by date."""
        need = len(matched) if need is None else min(need, len(matched))
        newest_first = snap.date_rank.__getitem__
        if request.sort == "date":
            return heapq.nlargest(need, matched, key=newest_first), {}
        if request.sort == "date_asc":
            return heapq.nsmallest(need, matched, key=newest_first), {}
        if not leaves:
            return heapq.nlargest(need, matched, key=newest_first), {}
        ordered: list[int] = []
        scores: dict[int, float] = {}
        total = snap.word_scores(leaves) if matched and need else None
        if total is not None:
            docs = np.fromiter(matched, dtype=np.int64, count=len(matched))
            values = total[docs]
            scored = values > 0
            docs, values = docs[scored], values[scored]
            if len(docs) > need:   # the top `need` scores, ties at the cut included
                cut = np.partition(values, len(values) - need)[len(values) - need]
                docs, values = docs[values >= cut], values[values >= cut]
            order = np.lexsort((snap.date_rank[docs], values))[::-1][:need]
            ordered = docs[order].tolist()
            scores = dict(zip(ordered, values[order].astype(float).tolist(), strict=True))
        if len(ordered) < need:
            rest = matched.difference(ordered)
            if len(rest) <= 2000:
                patterns = leaf_patterns(leaves)
                counts = {d: sum(len(p.findall(snap.texts[d])) for p in patterns) for d in rest}
                for d, count in counts.items():
                    scores[d] = count * 0.01
                ordered += heapq.nlargest(need - len(ordered), rest, key=lambda d: (counts[d], snap.date_rank[d]))
            else:
                ordered += heapq.nlargest(need - len(ordered), rest, key=newest_first)
        return ordered[:need], scores

    def _result(self, snap: _Snapshot, docnum: int, patterns: list[re.Pattern[str]], score: float) -> dict:
        record = snap.records[docnum]
        body_start = len(record["title"]) + 1     # where the body begins in searchable_text
        return {
            "slug": record["slug"], "path": record["path"], "url": record["url"], "title": record["title"],
            "date": record["date"], "category": record["category"], "banks": record["banks"],
            "province": record["province"], "city": record["city"], "district": record["district"],
            "tags": record["tags"], "programs": record["programs"], "source": record["source"],
            "score": round(score, 4),
            "snippet": snippet(record["text"], patterns, record.get("summary") or "",
                               normalized=snap.texts[docnum], offset=body_start),
            "title_html": highlight(record["title"], patterns),
        }

    def _facets(self, snap: _Snapshot, root: object, cache: dict, matched: set[int]) -> dict[str, list[dict]]:
        facets: dict[str, list[dict]] = {}
        filtered = _filter_fields(root)
        matched_mask = snap.mask(snap.all if root is None else matched)
        for name in FACET_FIELDS:
            # A facet's counts ignore the filters on that same facet, so a user sees
            # how many cases each other value would give.
            if root is not None and name in filtered:
                base = snap.mask(self.evaluate(snap, root, cache, skip_field=name))
            else:
                base = matched_mask
            counts = snap.facet_tables[name].count(base)
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if name != "year" else \
                sorted(counts.items(), reverse=True)
            kept = ordered if name == "year" else ordered[:FACET_VALUES]
            facets[name] = [{"value": v, "count": c} for v, c in kept]
        return facets

    def _did_you_mean(self, snap: _Snapshot, leaves: list[Text]) -> list[str]:
        import difflib

        vocabulary: set[str] = set()
        for name in ("banks", "programs", "tags", "category", "province", "city"):
            vocabulary.update(snap.postings.get(name, {}).keys())
        out: list[str] = []
        for leaf in leaves:
            for candidate in difflib.get_close_matches(leaf.value, sorted(vocabulary), n=3, cutoff=0.5):
                if candidate not in out:
                    out.append(candidate)
            # A shorter fragment that does occur (网点进小区 -> 网点).
            value = normalize(leaf.value)
            for size in range(len(value) - 1, 1, -1):
                fragments = [value[i:i + size] for i in range(len(value) - size + 1)]
                hits = [f for f in fragments if any(f in t for t in snap.texts.values())]
                if hits:
                    out.extend(h for h in hits[:2] if h not in out)
                    break
        return out[:5]

    def export(self, request: SearchRequest, fmt: str) -> tuple[str, str]:
        """All matches (not one page) as CSV or JSON: (body, media type)."""
        if fmt not in ("csv", "json"):
            raise QueryError(f"export format must be csv or json, not {fmt!r}")
        snap, _total, ordered, _scores, _root, _leaves, _cache, _notice = self._matching(request, export=True)
        rows = []
        for docnum in ordered:
            record = dict(snap.records[docnum])
            record.pop("text", None)
            rows.append(record)
        if fmt == "json":
            return json.dumps(rows, ensure_ascii=False, indent=1), "application/json; charset=utf-8"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
        # A BOM, so that spreadsheet programs open the Chinese text as UTF-8.
        return "\ufeff" + buffer.getvalue(), "text/csv; charset=utf-8"


def _filter_fields(node: object) -> set[str]:
    """The fields a query filters on (a date range counts as `year`)."""
    if isinstance(node, Filter):
        return {node.field}
    if isinstance(node, DateRange):
        return {"year"}
    if isinstance(node, Not):
        return _filter_fields(node.child)
    if isinstance(node, And | Or):
        return set().union(*(_filter_fields(c) for c in node.children))
    return set()


def plain_needle(leaf: Text) -> str | None:
    """The normalized term when it is one run of word characters (then `in` does the test)."""
    parts = [p for p in re.split(r"[\s\W_]+", normalize(leaf.value)) if p]
    return parts[0] if len(parts) == 1 else None


def text_pattern(leaf: Text) -> re.Pattern[str] | None:
    """The exact-match test of a text term on normalized text. The parts of a phrase written
    with spaces may be separated by spaces or punctuation in the text, nothing else."""
    parts = [p for p in re.split(r"[\s\W_]+", normalize(leaf.value)) if p]
    if not parts:
        return None
    return re.compile(r"[\W_]*".join(re.escape(p) for p in parts))


def leaf_patterns(leaves: list[Text]) -> list[re.Pattern[str]]:
    return [p for p in (text_pattern(leaf) for leaf in leaves) if p]


def highlight(text: str, patterns: list[re.Pattern[str]]) -> str:
    """HTML-escaped text with <mark> around every match of the query's terms."""
    if not patterns:
        return html.escape(text)
    norm = normalize(text)
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        spans.extend(m.span() for m in pattern.finditer(norm) if m.end() > m.start())
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, position = [], 0
    for start, end in merged:
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def snippet(text: str, patterns: list[re.Pattern[str]], fallback: str = "", *, normalized: str | None = None,
            offset: int = 0) -> str:
    """A window of the text around the first match, highlighted; the summary when none.
    `normalized[offset:]`, when given, is `text` already normalized (the engine holds it), so
    the first match is found without folding the whole text again."""
    if normalized is None:
        normalized, offset = normalize(text), 0
    first = min((m.start() - offset for p in patterns if (m := p.search(normalized, offset))), default=None)
    if first is None:
        base = re.sub(r"\s+", " ", (fallback or text)[:SNIPPET_CHARS * 2]).strip()
        return html.escape(base[:SNIPPET_CHARS] + ("…" if len(base) > SNIPPET_CHARS or
                                                   len(fallback or text) > SNIPPET_CHARS * 2 else ""))
    start = max(0, first - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    window = re.sub(r"\s+", " ", text[start:end])
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return html.escape(prefix) + highlight(window, patterns) + html.escape(suffix)
