"""Stage 1, snapshot: what one index generation holds, opened for reading.

Everything here is built once per generation and never changed afterwards: postings are
frozensets behind read-only mappings, arrays are flagged read-only, the caches of bigram
document sets and per-word score arrays hold immutable values. A query stage may combine
these into new sets and arrays; it can never alter one (numpy and frozenset raise), so one
query cannot change the answer of another.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh.reading import IndexReader
from whoosh.scoring import BM25F

from casebook.errors import SearchError
from search.analysis import normalize, words
from search.dates import is_dated
from search.fields import FACET_FIELDS, FILTERS
from search.grams import GramTable, has_table
from search.indexer import segment_leaves
from search.querylang import Text
from search.schema import searchable_text

TERM_SCORE_BYTES = 64 * 2**20   # per process, for the cached per-word score arrays
GRAM_CACHE_ENTRIES = 50_000


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


class Snapshot:
    """One index generation opened for reading, with what queries need held in memory."""

    def __init__(self, generation: Path, previous: Snapshot | None = None) -> None:
        self.generation = generation
        self.index = whoosh_index.open_dir(str(generation))
        self.searcher = self.index.searcher(weighting=BM25F())
        records: dict[int, dict] = {}
        texts: dict[int, str] = {}
        self.segments: dict[str, int] = {}      # segment id -> its first docnum
        self.gram_tables: list[tuple[GramTable, int]] = []
        for segment_id, leaf, offset in segment_leaves(self.searcher.reader()):
            self.segments[segment_id] = offset
            if not has_table(generation, segment_id):
                raise SearchError(f"segment {segment_id} of the index has no bigram table",
                                  source=str(generation), hint="run `casebook build` to rebuild the index")
            self.gram_tables.append((GramTable.load(generation, segment_id), offset))
            if previous is not None and self._reuse(previous, segment_id, leaf, offset, records, texts):
                continue
            for local, stored in leaf.iter_docs():
                records[offset + local] = stored["record"]
                texts[offset + local] = searchable_text(stored["record"])
        self.records: Mapping[int, dict] = MappingProxyType(records)
        self.texts: Mapping[int, str] = MappingProxyType(texts)
        self.titles: Mapping[int, str] = MappingProxyType({d: normalize(r["title"]) for d, r in records.items()})
        self.postings = _postings(records)
        self.all: frozenset[int] = frozenset(records)
        self.size = max(self.all, default=-1) + 1    # docnums run below this (deleted ones leave gaps)
        self.by_date = tuple(sorted(self.all, key=lambda d: (records[d]["date"], records[d]["slug"])))
        self.sorted_dates = tuple(records[d]["date"] for d in self.by_date)
        date_rank = np.zeros(max(self.size, 1), dtype=np.int64)
        date_rank[list(self.by_date)] = np.arange(len(self.by_date))
        self.date_rank = _frozen(date_rank)
        self.facet_tables = MappingProxyType({name: FacetTable.build(self, name) for name in FACET_FIELDS})
        self._lock = threading.Lock()
        self._gram_docs: dict[str, frozenset[int]] = {}
        self._term_scores: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = OrderedDict()

    @staticmethod
    def _reuse(previous: Snapshot, segment_id: str, leaf: IndexReader, offset: int,
               records: dict[int, dict], texts: dict[int, str]) -> bool:
        """Segment files never change: an unchanged segment's documents are the ones the
        previous snapshot already holds (unless some were deleted since)."""
        old_offset = previous.segments.get(segment_id)
        if old_offset is None:
            return False
        found: dict[int, dict] = {}
        for local in leaf.all_doc_ids():
            record = previous.records.get(old_offset + local)
            if record is None:
                return False
            found[local] = record
        for local, record in found.items():
            records[offset + local] = record
            texts[offset + local] = previous.texts[old_offset + local]
        return True

    def gram_docs(self, gram: str) -> frozenset[int]:
        """The live documents holding a bigram, cached: common bigrams recur in most queries."""
        docs = self._gram_docs.get(gram)
        if docs is None:
            found: set[int] = set()
            for table, offset in self.gram_tables:
                local = table.lookup(gram)
                found.update((local + offset).tolist() if offset else local.tolist())
            docs = frozenset(found) & self.all
            with self._lock:
                if len(self._gram_docs) > GRAM_CACHE_ENTRIES:
                    self._gram_docs.clear()
                self._gram_docs[gram] = docs
        return docs

    def term_scores(self, fieldname: str, token: str) -> tuple[np.ndarray, np.ndarray]:
        """BM25F scores of one word in one field for every document (dense, by docnum), and
        where it occurs. Computed once per generation by Whoosh's own matchers and scorer, then
        reused: common words (银行, 社区) recur in most queries and cost Whoosh tens of
        milliseconds each time; here a query adds a few arrays."""
        key = (fieldname, token)
        with self._lock:
            cached = self._term_scores.get(key)
            if cached is not None:
                self._term_scores.move_to_end(key)
                return cached
        scores = np.zeros(max(self.size, 1), dtype=np.float32)
        present = np.zeros(max(self.size, 1), dtype=bool)
        query = wq.Term(fieldname, token)
        with self._lock:   # one Whoosh searcher: its matchers are not shared between threads
            context = self.searcher.context()
            for subsearcher, offset in self.searcher.leaf_searchers():
                matcher = query.matcher(subsearcher, context)
                while matcher.is_active():
                    docnum = offset + matcher.id()
                    if docnum < len(scores):
                        scores[docnum] = matcher.score()
                        present[docnum] = True
                    matcher.next()
            entry = (_frozen(scores), _frozen(present))
            self._term_scores[key] = entry
            # A bounded memory: at 10,000 cases, 1,000 words take about 50 MB.
            while len(self._term_scores) * len(scores) * 5 > TERM_SCORE_BYTES:
                self._term_scores.popitem(last=False)
        return entry

    def word_scores(self, leaves: list[Text]) -> np.ndarray | None:
        """The whole-word relevance of every document: per text term and field, the sum of its
        words' scores where all of them occur; summed over terms and fields (as Whoosh scores
        Or(And(title words), And(body words), ...)). A new array: the cached ones are read-only."""
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

    def mask(self, docs: frozenset[int], array: np.ndarray | None = None) -> np.ndarray:
        """`docs` as a boolean array by docnum; `array`, when given, is `doc_array(docs)`."""
        out = np.zeros(max(self.size, 1), dtype=bool)
        if docs:
            out[doc_array(docs) if array is None else array] = True
        return out

    def close(self) -> None:
        self.searcher.close()


def doc_array(docs: frozenset[int]) -> np.ndarray:
    """The docnums of a set as an array (in the set's order)."""
    return np.fromiter(docs, dtype=np.int64, count=len(docs))


def _postings(records: dict[int, dict]) -> Mapping[str, Mapping[str, frozenset[int]]]:
    """field -> value -> the documents holding it, for every filter field (years from dates)."""
    building: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for docnum, record in records.items():
        for field in FILTERS:
            if field.match == "year":
                if is_dated(record["date"]):   # an undated draft has no year (not a facet "")
                    building[field.name][record["date"][:4]].add(docnum)
                continue
            value = record.get(field.name)
            for item in value if isinstance(value, list) else [value]:
                if item:
                    building[field.name][item].add(docnum)
    return MappingProxyType({name: MappingProxyType({v: frozenset(d) for v, d in values.items()})
                             for name, values in building.items()})


@dataclass(frozen=True)
class FacetTable:
    """One facet as (document, value) pairs, so counting over any set of documents is one
    numpy gather and bincount instead of a set intersection per value."""

    values: tuple[str, ...]
    pair_doc: np.ndarray
    pair_value: np.ndarray

    @classmethod
    def build(cls, snap: Snapshot, name: str) -> FacetTable:
        postings = snap.postings.get(name, {})
        values = tuple(sorted(postings))
        docs: list[int] = []
        ids: list[int] = []
        for number, value in enumerate(values):
            docs.extend(postings[value])
            ids.extend([number] * len(postings[value]))
        return cls(values, _frozen(np.asarray(docs, dtype=np.int64)), _frozen(np.asarray(ids, dtype=np.int64)))

    def ranked(self, mask: np.ndarray, *, by_value: bool, limit: int | None) -> list[tuple[str, int]]:
        """The values held by the documents in `mask`, with their counts: by value, last
        first (`by_value`), or most frequent first and then by value; at most `limit`.
        `values` are sorted, so a stable sort of the counts keeps ties in value order: the
        order of sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])), done in numpy."""
        if not len(self.pair_doc):
            return []
        counts = np.bincount(self.pair_value[mask[self.pair_doc]], minlength=len(self.values))
        present = np.flatnonzero(counts)
        order = present[::-1] if by_value else present[np.argsort(-counts[present], kind="stable")]
        chosen = order[:limit].tolist()
        return list(zip([self.values[i] for i in chosen], counts[chosen].tolist(), strict=True))
