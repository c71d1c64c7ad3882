"""What each node of a query tree matches, stated once for every backend (no index here).

- a text term (`querylang.Text`) matches a case whose normalized title + "\n" + text
  (`schema.searchable_text`) holds it verbatim; the parts of a term written with spaces or
  punctuation (a phrase) may be separated by spaces or punctuation only (`text_pattern`);
- a filter (`querylang.Filter`) matches a case whose field equals the value or contains it,
  both folded by `fold_value`; a year filter the year of the date; a title filter text in
  the (normalized) title;
- a date range (`querylang.DateRange`) overlaps the case's date (`dates.matches`);
- NOT is the complement within all cases, AND the intersection, OR the union.

Facet counts ignore the top-level clauses (`conjuncts`) that filter on that same facet
(`facet_field`). Every step of a request runs under one `Deadline`.
"""

from __future__ import annotations

import re
import time

from casebook.errors import QueryTimeout
from search.analysis import normalize
from search.dates import matches as date_matches
from search.querylang import And, DateRange, Filter, Text

__all__ = ["Deadline", "conjuncts", "date_matches", "facet_field", "fold_value", "leaf_patterns", "plain_needle",
           "text_parts", "text_pattern"]


class Deadline:
    """One time budget for every step of a request (parse, evaluation, ranking, facets,
    suggestions, snippets, export)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def expired(self) -> bool:
        return time.perf_counter() > self.end

    def check(self) -> None:
        if self.expired():
            raise QueryTimeout(f"the query took more than {self.seconds:g} s", hint="use fewer terms or add a filter")


def text_parts(value: str) -> list[str]:
    """The runs of word characters of a normalized term (`_` separates, as punctuation)."""
    return [p for p in re.split(r"[\s\W_]+", normalize(value)) if p]


def fold_value(value: str) -> str:
    """A filter value as compared: normalized, without whitespace."""
    return "".join(normalize(value).split())


def plain_needle(leaf: Text) -> str | None:
    """The normalized term when it is one run of word characters (then `in` does the test)."""
    parts = text_parts(leaf.value)
    return parts[0] if len(parts) == 1 else None


def text_pattern(leaf: Text) -> re.Pattern[str] | None:
    """The exact-match test of a text term on normalized text. The parts of a phrase written
    with spaces may be separated by spaces or punctuation in the text, nothing else."""
    parts = text_parts(leaf.value)
    if not parts:
        return None
    return re.compile(r"[\W_]*".join(re.escape(p) for p in parts))


def leaf_patterns(leaves: list[Text]) -> list[re.Pattern[str]]:
    return [p for p in (text_pattern(leaf) for leaf in leaves) if p]


def conjuncts(node: object | None) -> tuple[object, ...]:
    """The top-level AND clauses of a tree (nested ANDs flattened)."""
    if node is None:
        return ()
    if isinstance(node, And):
        return tuple(c for child in node.children for c in conjuncts(child))
    return (node,)


def facet_field(node: object) -> str | None:
    """The facet a top-level clause filters on (a date range counts as `year`), else None."""
    if isinstance(node, Filter):
        return node.field
    if isinstance(node, DateRange):
        return "year"
    return None
