"""Stage 3, rank: the matched cases in the order asked for, and their relevance scores.

Relevance: whole-word matches first, by BM25F on the word fields (the snapshot's cached
per-word score arrays; ties: newer first); then fragment-only matches, by how often the
fragment occurs when there are few of them, else by date. Only the first `need` cases are
ordered (a page needs page × page_size of them).
"""

from __future__ import annotations

import heapq

import numpy as np

from search.matching import Deadline, leaf_patterns
from search.querylang import Text
from search.request import SORTS
from search.snapshot import Snapshot, doc_array

__all__ = ["SORTS", "rank"]
FRAGMENT_COUNTING_LIMIT = 2000   # above this many fragment-only matches, order them by date


def rank(snap: Snapshot, matched: frozenset[int], leaves: list[Text], sort: str, need: int | None,
         deadline: Deadline, docs: np.ndarray | None = None) -> tuple[list[int], dict[int, float]]:
    """The first `need` matched documents in order (all when None), with relevance scores.
    `docs`, when given, is `doc_array(matched)` (made once for the ranking and the facets)."""
    need = len(matched) if need is None else min(need, len(matched))
    newest_first = snap.date_rank.__getitem__
    if sort == "date" or (sort == "relevance" and not leaves):
        return heapq.nlargest(need, matched, key=newest_first), {}
    if sort == "date_asc":
        return heapq.nsmallest(need, matched, key=newest_first), {}
    ordered, scores = _by_words(snap, matched, leaves, need, docs)
    deadline.check()
    if len(ordered) < need:
        rest = matched.difference(ordered)
        if len(rest) <= FRAGMENT_COUNTING_LIMIT:
            patterns = leaf_patterns(leaves)
            counts = {d: sum(len(p.findall(snap.texts[d])) for p in patterns) for d in rest}
            scores.update({d: count * 0.01 for d, count in counts.items()})
            ordered += heapq.nlargest(need - len(ordered), rest, key=lambda d: (counts[d], snap.date_rank[d]))
        else:
            ordered += heapq.nlargest(need - len(ordered), rest, key=newest_first)
    return ordered[:need], scores


def _by_words(snap: Snapshot, matched: frozenset[int], leaves: list[Text], need: int,
              docs: np.ndarray | None = None) -> tuple[list[int], dict[int, float]]:
    """The matched documents with a whole-word score, best first (at most `need`, ties at
    the cut included before the final cut)."""
    total = snap.word_scores(leaves) if matched and need else None
    if total is None:
        return [], {}
    if docs is None:
        docs = doc_array(matched)
    values = total[docs]
    scored = values > 0
    docs, values = docs[scored], values[scored]
    if len(docs) > need:
        cut = np.partition(values, len(values) - need)[len(values) - need]
        docs, values = docs[values >= cut], values[values >= cut]
    order = np.lexsort((snap.date_rank[docs], values))[::-1][:need]
    ordered = docs[order].tolist()
    return ordered, dict(zip(ordered, values[order].astype(float).tolist(), strict=True))
