"""Stage 2, evaluate: a query tree to the exact set of matching cases.

Every answer is a frozenset built here from the snapshot's immutable structures; nothing
that evaluation did not create is ever changed (the bug this replaces subtracted from a
cached set, so one branch of `(银行 -社区) OR 银行` changed the other). Results are memoized
per request by node (nodes are frozen dataclasses), so a subtree that recurs, or the base
sets of the facet counts, are evaluated once.

Semantics: search/matching.py (the differential test's oracle in tests/test_search_oracle.py
states the same).
"""

from __future__ import annotations

import bisect

from search.fields import BY_NAME
from search.matching import (
    Deadline,
    conjuncts,
    facet_field,
    fold_value,
    leaf_patterns,
    plain_needle,
    text_parts,
    text_pattern,
)
from search.querylang import And, DateRange, Filter, Not, Or, Text
from search.snapshot import Snapshot

__all__ = ["Deadline", "Evaluator", "conjuncts", "facet_field", "fold_value", "leaf_patterns", "plain_needle",
           "text_parts", "text_pattern"]
Node = object


class Evaluator:
    """Evaluates the nodes of one request against one snapshot, memoized by node."""

    def __init__(self, snap: Snapshot, deadline: Deadline) -> None:
        self.snap = snap
        self.deadline = deadline
        self._memo: dict[Node, frozenset[int]] = {}

    def evaluate(self, node: Node | None) -> frozenset[int]:
        if node is None:
            return self.snap.all
        found = self._memo.get(node)
        if found is None:
            self.deadline.check()
            found = self._evaluate(node)
            self._memo[node] = found
        return found

    def _evaluate(self, node: Node) -> frozenset[int]:
        if isinstance(node, Text):
            return self.text(node)
        if isinstance(node, Filter):
            return self.filter(node)
        if isinstance(node, DateRange):
            return self.dates(node)
        if isinstance(node, Not):
            return self.snap.all - self.evaluate(node.child)
        if isinstance(node, And):
            return self._and(node.children)
        if isinstance(node, Or):
            out: frozenset[int] = frozenset()
            for child in node.children:
                out = out | self.evaluate(child)
            return out
        raise TypeError(f"unknown query node {node!r}")

    def _and(self, children: tuple[Node, ...]) -> frozenset[int]:
        positive = [c for c in children if not isinstance(c, Not)]
        negative = [c.child for c in children if isinstance(c, Not)]
        result = self.snap.all if not positive else None
        for child in positive:
            part = self.evaluate(child)
            result = part if result is None else result & part
            if not result:
                return frozenset()
        assert result is not None
        for child in negative:
            result = result - self.evaluate(child)
            if not result:
                return frozenset()
        return result

    def text(self, leaf: Text) -> frozenset[int]:
        snap = self.snap
        parts = text_parts(leaf.value)
        if not parts:
            return frozenset()
        pattern = text_pattern(leaf)
        assert pattern is not None
        # The bigrams of each part (not of the term as written: `a_b` matches `a b`, which
        # has no bigram `a_`).
        needed = dict.fromkeys(p[i:i + 2] for p in parts for i in range(len(p) - 1))
        grams = sorted(needed, key=lambda g: len(snap.gram_docs(g)))
        # The rarest bigram's (live) documents, narrowed by the others; with no bigram (one
        # character) every case, its text scanned in memory. Not `all & ...`: that
        # intersection copies thousands of entries for every common word.
        candidates = snap.gram_docs(grams[0]) if grams else snap.all
        for gram in grams[1:]:
            candidates = candidates & snap.gram_docs(gram)
            if not candidates:
                return frozenset()
        if not candidates:
            return frozenset()
        needle = plain_needle(leaf)
        texts = snap.texts
        if needle is not None and len(needle) == 2 and grams == [needle]:
            return candidates    # the bigram itself: its table entry is exact
        if needle is not None:   # a plain substring test is several times faster than a regex
            return frozenset(d for d in candidates if needle in texts[d])
        return frozenset(d for d in candidates if pattern.search(texts[d]))

    def filter(self, leaf: Filter) -> frozenset[int]:
        snap = self.snap
        if leaf.field == "title":
            pattern = text_pattern(Text(leaf.value))
            if pattern is None:
                return frozenset()
            return frozenset(d for d, title in snap.titles.items() if pattern.search(title))
        values = snap.postings.get(leaf.field, {})
        wanted = leaf.value
        exact = values.get(wanted, frozenset())
        field = BY_NAME.get(leaf.field)
        if field is not None and field.match == "year":
            return exact
        # Forgiving: 上海 finds 上海市, 建行 finds 中国建设银行山西省分行 (normalized containment,
        # spaces ignored: bank:"中国 工商银行" is 中国工商银行, as a reader copying a name writes it).
        folded = fold_value(wanted)
        out = exact
        if folded:
            for value, docs in values.items():
                if folded in fold_value(value):
                    out = out | docs
        return out

    def dates(self, leaf: DateRange) -> frozenset[int]:
        """The cases whose date overlaps the range (search.dates.matches), from the sorted
        dates: a few bisections, however many cases there are."""
        snap = self.snap
        dated = snap.sorted_dates
        low = bisect.bisect_right(dated, "")    # undated cases ("") sort first: never in a range
        high = len(dated)
        if leaf.end:
            # On dates sorted as strings, "the first len(end) characters <= end" is "the date
            # < end + U+10FFFF" (a case dated 2021 or 2021-10 is a prefix of 2021-10-20: in).
            high = bisect.bisect_right(dated, leaf.end + "\U0010ffff")
        out: list[int] = []
        if leaf.start:
            # A case dated only to the year or the month of the start (2021, 2021-10 for
            # 2021-10-05) overlaps it but sorts before it: those few are taken by value.
            for coarse in {leaf.start[:4], leaf.start[:7]} - {leaf.start}:
                first, last = bisect.bisect_left(dated, coarse), bisect.bisect_right(dated, coarse)
                out.extend(snap.by_date[max(first, low):min(last, high)])
            low = max(low, bisect.bisect_left(dated, leaf.start))
        out.extend(snap.by_date[low:high])
        return frozenset(out)
