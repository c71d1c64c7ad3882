"""The query language: free text, "phrases", AND / OR / NOT / -term, parentheses,
field filters (the names in scraper/data/search_fields.yaml: bank:, province:, city:,
district:, category:, tag:, program:, source:, year:, title:) and dates or date ranges as
people write them (date:2021, date:2021-3..2021-6, date:2021年3月5日, date:..2022).

`parse` returns a small tree of frozen (hashable) nodes; a malformed query raises
`QuerySyntaxError`, and the caller falls back to a plain-text search with a notice. A date
that cannot be read, or a range whose start is after its end, raises `DateRangeError` (a
`QueryError`: the caller answers 400 with the message, never a silent empty result).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from search import dates
from search.analysis import normalize
from search.fields import ALIASES, BY_NAME

FIELD_ALIASES = ALIASES   # from the one table of fields (search/fields.py)
SPACED_SEPARATOR_RE = re.compile(r"\s+(?P<sep>\.\.|~|至|到)")
SPACED_END_RE = re.compile(r"\s*(?P<end>[^\s()]+)")
TOKEN_RE = re.compile(r'''\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<field>[A-Za-z\u4e00-\u9fff]+)[:：](?P<fv>"[^"]*"|“[^”]*”|[^\s()]*)'''
                      r'''|(?P<phrase>"[^"]*"|“[^”]*”)|(?P<neg>-)(?=\S)|(?P<word>[^\s()"“”]+))''')


class QuerySyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Text:
    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Filter:
    field: str
    value: str


@dataclass(frozen=True)
class DateRange:
    start: str | None
    end: str | None


@dataclass(frozen=True)
class Not:
    child: object


@dataclass(frozen=True)
class And:
    children: tuple


@dataclass(frozen=True)
class Or:
    children: tuple


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in "\"“" and value[-1] in "\"”":
        return value[1:-1]
    return value


def _spaced_range(query: str, value: str, position: int) -> tuple[str, int]:
    """A date range written with spaces, as one value: date:2021-3 至 2021-6, date:2021 ..
    2022, date:.. 2021, date:2021.. 2022, date:2021 .. (open). The end is taken only when it
    reads as a date, so `date:2021 .. 银行` is 2021.. AND 银行; a separator left behind would
    be dropped as a term without words and silently change the range."""
    _start, end, ranged = dates.split_range(value)
    if ranged and end:
        return value, position
    if not ranged:
        spaced = SPACED_SEPARATOR_RE.match(query, position)
        if spaced is None:
            return value, position
        following = SPACED_END_RE.match(query, spaced.end())
        if following and _reads_as_date(following["end"]):
            return f"{value}{spaced['sep']}{following['end']}", following.end()
        if not re.match(r"\s|\)|$", query[spaced.end():]):
            return value, position       # 至 glued to words: not a separator
        return f"{value}{spaced['sep']}", spaced.end()
    following = SPACED_END_RE.match(query, position)
    if following and _reads_as_date(following["end"]):
        return f"{value}{following['end']}", following.end()
    return value, position


def _reads_as_date(text: str) -> bool:
    try:
        dates.parse_date(text)
    except dates.DateRangeError:
        return text in dates.OPEN_END_WORDS
    return True


def tokenize(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    # Full-width forms, as Chinese keyboards type them, are the syntax they look like:
    # （银行 OR 社区） groups, －银行 negates, ｂａｎｋ：工商 filters. (Text is NFKC-normalized when
    # matched anyway, so this changes no term's meaning.)
    query = unicodedata.normalize("NFKC", query).strip()
    while position < len(query):
        match = TOKEN_RE.match(query, position)
        if not match or match.end() == position:
            if query[position:].strip().startswith(("\"", "“")):
                raise QuerySyntaxError("a quotation mark is not closed")
            raise QuerySyntaxError(f"cannot read the query from {query[position:position + 10]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind == "fv":
            name = match.group("field")
            value = _unquote(match.group("fv"))
            canonical = FIELD_ALIASES.get(name.lower())
            if canonical is None:
                tokens.append(("word", f"{name}:{value}"))  # not a field: plain text with a colon
            else:
                if canonical == "date":
                    value, position = _spaced_range(query, value, position)
                tokens.append(("field", f"{canonical}\x00{value}"))
        elif kind == "phrase":
            tokens.append(("phrase", _unquote(match.group("phrase"))))
        elif kind == "word":
            word = match.group("word")
            tokens.append(("op", word.upper()) if word in ("AND", "OR", "NOT", "and", "or", "not", "&&", "||")
                          else ("word", word))
        elif kind:
            tokens.append((kind, match.group(kind)))
        if query[position:].startswith(("\"", "“")) and not TOKEN_RE.match(query, position):
            raise QuerySyntaxError("a quotation mark is not closed")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> object:
        if not self.tokens:
            raise QuerySyntaxError("the query is empty")
        node = self.or_expr()
        if self.peek() is not None:
            raise QuerySyntaxError("a closing parenthesis has no opening one")
        return node

    def or_expr(self) -> object:
        children = [self.and_expr()]
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in ("OR", "||"):
            self.take()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> object:
        children = [self.unary()]
        while (tok := self.peek()) and not (tok[0] == "op" and tok[1] in ("OR", "||")) and tok[0] != "rp":
            if tok[0] == "op" and tok[1] in ("AND", "&&"):
                self.take()
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> object:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError("the query ends with an operator")
        if tok[0] == "neg" or (tok[0] == "op" and tok[1] == "NOT"):
            self.take()
            return Not(self.unary())
        if tok[0] == "op":
            raise QuerySyntaxError(f"{tok[1]} needs a term on both sides")
        return self.atom()

    def atom(self) -> object:
        kind, value = self.take()
        if kind == "lp":
            following = self.peek()
            if following is not None and following[0] == "rp":
                raise QuerySyntaxError("empty parentheses")
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing[0] != "rp":
                raise QuerySyntaxError("a parenthesis is not closed")
            self.take()
            return node
        if kind == "rp":
            raise QuerySyntaxError("a closing parenthesis has no opening one")
        if kind == "phrase":
            if not value.strip():
                raise QuerySyntaxError("an empty phrase")
            return Text(value.strip(), phrase=True)
        if kind == "field":
            name, _, raw = value.partition("\x00")
            if not raw:
                raise QuerySyntaxError(f"{name}: needs a value")
            if name == "date":
                return parse_date_range(raw)
            return filter_node(name, raw)
        return Text(value)


def parse_date_range(raw: str) -> DateRange:
    start, end = dates.parse_range(raw)
    return DateRange(start, end)


def filter_node(name: str, value: str) -> Filter | DateRange:
    """A filter on one field (from the query or from the API), its value checked: a year
    filter takes a year as people write it (2021, 2021年), or a range of years (2019..2021,
    2019-2021, 2019至今: the date range of those whole years)."""
    field = BY_NAME.get(name)
    if field is not None and field.match == "year":
        years = _year_range(value)
        if years is not None:
            return years
        try:
            year = dates.parse_date(value)
        except dates.DateRangeError:
            year = ""
        if len(year) != 4:
            raise dates.DateRangeError(f"年份“{value}”无效：只写年，如 2021 或 2021年；按月或按日筛选请用 date:")
        return Filter(name, year)
    return Filter(name, value)


def _year_range(value: str) -> DateRange | None:
    """A range of years written in a year filter, None when the value is not a range."""
    start, _end, ranged = dates.split_range(value)
    if not ranged:
        ranged = dates.dash_range(start)[2]
    if not ranged:
        return None
    bounds = dates.parse_range(value)
    if any(b is not None and len(b) != 4 for b in bounds):
        raise dates.DateRangeError(f"年份范围“{value}”只写年，如 2019..2021；按月或按日筛选请用 date:")
    return DateRange(*bounds)


def parse(query: str) -> object:
    tree = prune(_Parser(tokenize(query)).parse())
    if tree is None:
        raise QuerySyntaxError("the query has no words to search for")
    return tree


def has_words(value: str) -> bool:
    """Whether a term holds something to search for (`..`, `-` or `!!` alone do not)."""
    return any(p for p in re.split(r"[\s\W_]+", normalize(value)))


def prune(node: object) -> object | None:
    """The tree without terms that hold no word character: they would match nothing and
    silently empty an AND; a reader who typed `银行 ...` means 银行."""
    if isinstance(node, Text):
        return node if has_words(node.value) else None
    if isinstance(node, Not):
        child = prune(node.child)
        return None if child is None else Not(child)
    if isinstance(node, And | Or):
        children = tuple(c for c in (prune(child) for child in node.children) if c is not None)
        if not children:
            return None
        return children[0] if len(children) == 1 else type(node)(children)
    return node


def plain_fallback(query: str) -> object:
    """Every run of word characters of a query that did not parse, ANDed as plain text."""
    parts = [p for p in re.findall(r"[\w]+", query) if p and p.upper() not in ("AND", "OR", "NOT")]
    if not parts:
        raise QuerySyntaxError("the query has no words to search for")
    nodes = tuple(Text(p) for p in parts)
    return nodes[0] if len(nodes) == 1 else And(nodes)


def text_leaves(node: object, negated: bool = False) -> list[Text]:
    """The positive text terms of a query (for ranking, snippets and highlights)."""
    if isinstance(node, Text):
        return [] if negated else [node]
    if isinstance(node, Not):
        return text_leaves(node.child, not negated)
    if isinstance(node, And | Or):
        return [leaf for child in node.children for leaf in text_leaves(child, negated)]
    return []
