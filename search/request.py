"""What a search asks and what it answers, whatever the backend: the request and response
records, their checks, and the request made into one query tree (`plan_request`).

Backend-neutral (no Whoosh, no index): an outside `SearchBackend` imports this, and
`search.querylang`, `search.matching` and `search.present` for the shared semantics
(docs/search-backend.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from casebook.errors import QueryError
from search import querylang
from search.dates import check_order, parse_date, parse_range
from search.fields import FILTER_FIELDS
from search.querylang import And, DateRange, QuerySyntaxError

SORTS = ("relevance", "date", "date_asc")
EXPORT_FORMATS = ("csv", "json")
MAX_FILTER_CHARS = 100
MAX_FILTER_VALUES = 20


@dataclass
class SearchRequest:
    q: str = ""
    filters: dict[str, list[str]] = field(default_factory=dict)   # record field -> values (ANDed)
    sort: str = "relevance"
    page: int = 1
    page_size: int = 10
    facets: bool = True
    date: str = ""          # a date or range as people write it: 2021-3..2021-6
    date_from: str = ""     # on or after this date
    date_to: str = ""       # on or before this date

    def key(self) -> tuple[Any, ...]:
        return (self.q.strip(), tuple(sorted((k, tuple(v)) for k, v in self.filters.items())), self.sort,
                self.page, self.page_size, self.facets, self.date, self.date_from, self.date_to)


@dataclass
class SearchResponse:
    query: str
    total: int
    page: int
    page_size: int
    sort: str
    results: list[dict[str, Any]]
    facets: dict[str, list[dict[str, Any]]]
    took_ms: float
    notice: str | None = None
    did_you_mean: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
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
        """The positive text terms (ranking, snippets, highlights)."""
        return querylang.text_leaves(self.tree) if self.tree is not None else []


def validate_request(request: SearchRequest, *, max_query_chars: int = 200, max_page: int = 50,
                     max_page_size: int = 100) -> None:
    """Refuse a request no backend should run, with a QueryError saying why (HTTP 400)."""
    if len(request.q) > max_query_chars:
        raise QueryError(f"the query is {len(request.q)} characters long; the maximum is {max_query_chars}")
    if request.sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {request.sort!r}")
    if not 1 <= request.page <= max_page:
        raise QueryError(f"page must be between 1 and {max_page} (the maximum), not {request.page}")
    if not 1 <= request.page_size <= max_page_size:
        raise QueryError(f"limit must be between 1 and {max_page_size} (the maximum page size), "
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


def validate_export(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise QueryError(f"export format must be csv or json, not {fmt!r}")


def plan_request(request: SearchRequest) -> Plan:
    """The query parsed (falling back to plain text with a notice when it does not parse;
    a bad date is a QueryError, never a silent empty answer) and ANDed with the filters."""
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
