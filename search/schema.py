"""The index schema and the document that goes into it.

`SCHEMA_VERSION` changes whenever the schema or the analysis changes; an index built
with another version is rebuilt from scratch, with a message saying why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from whoosh.fields import Schema

    from casebook.model import Case

SCHEMA_VERSION = 7


def build_schema() -> Schema:
    # Whoosh and the segmenter load only where an index is built or read, not in the build
    # process that makes the documents, nor in another backend.
    from whoosh.analysis import Analyzer
    from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

    from search.tokenizer import word_analyzer

    # A lone tokenizer is a complete analyzer to Whoosh (callable and composable alike; its
    # own fields use them so), though TEXT's annotation names the Analyzer class.
    return Schema(
        slug=ID(stored=True, unique=True),
        # No positions: exact adjacency is verified against the text, so the word fields only
        # rank (BM25F), and postings without positions are much cheaper to write and read.
        title=TEXT(analyzer=cast(Analyzer, word_analyzer()), phrase=False, field_boost=3.0),
        words=TEXT(analyzer=cast(Analyzer, word_analyzer()), phrase=False),
        date=DATETIME(stored=False, sortable=True),
        year=NUMERIC(stored=False),
        category=ID(), province=ID(), city=ID(), district=ID(), source=ID(),
        banks=KEYWORD(commas=True, lowercase=False), tags=KEYWORD(commas=True, lowercase=False),
        programs=KEYWORD(commas=True, lowercase=False),
        record=STORED(),
    )


def searchable_text(record: dict) -> str:
    """What exact-fragment search looks in: the normalized title, a newline, the normalized
    body. The bigram tables are built from it and queries are verified against it; the body
    starts at len(title) + 1 (normalizing keeps every offset)."""
    from search.analysis import normalize

    return normalize(f"{record['title']}\n{record['text']}")


@dataclass
class IndexDoc:
    """What the index knows of a case: everything a result or a facet needs, and the text."""

    slug: str
    path: str
    url: str
    title: str
    date: str                      # ISO 8601 as in the case
    category: str = ""
    tags: list[str] = field(default_factory=list)
    banks: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    province: str = ""
    city: str = ""
    district: str = ""
    source: str = ""
    via: str = ""
    summary: str = ""
    text: str = ""                 # the body as plain text

    @classmethod
    def from_case(cls, case: Case, *, path: str, url: str) -> IndexDoc:
        """The one way to make an index document: from a parsed case (its Markdown body made
        plain text by `search.mdtext`, never through rendered HTML). `path` is the case file
        relative to the content folder, `url` the case page's site-relative URL."""
        from search.mdtext import markdown_text

        return cls(slug=case.slug, path=path, url=url, title=_text(case.title), date=_text(case.date),
                   category=_text(case.category), tags=_texts(case.tags), banks=_texts(case.banks),
                   programs=_texts(case.programs), province=_text(case.province), city=_text(case.city),
                   district=_text(case.district), source=_text(case.source), via=_text(case.via),
                   summary=_text(case.summary), text=markdown_text(case.body))

    def to_record(self) -> dict[str, Any]:
        """The document as JSON-ready data (what the index stores, and what IndexJob sends):
        `dataclasses.asdict` without its deep copy of each value (the fields are strings and
        lists of strings; the lists are copied)."""
        return {name: list(value) if isinstance(value := getattr(self, name), list) else value
                for name in _FIELD_ORDER}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> IndexDoc:
        """A document back from `to_record` (not a constructor of new documents: see
        `from_case`); unknown keys are refused, so a record of another schema fails loudly."""
        unknown = set(record) - _FIELD_NAMES
        if unknown:
            raise ValueError(f"an index document has no field {sorted(unknown)[0]!r}")
        return cls(**record)

    @property
    def year(self) -> int:
        return int(self.date[:4]) if self.date[:4].isdigit() else 0

    def datetime(self) -> dt.datetime:
        from casebook.model import date_to_datetime

        try:
            return date_to_datetime(self.date).astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            return dt.datetime(1970, 1, 1)

    def content_hash(self) -> str:
        payload = json.dumps(self.to_record(), ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(f"{SCHEMA_VERSION}:{payload}".encode()).hexdigest()

    def fields(self) -> dict:
        return {
            "slug": self.slug, "title": self.title, "words": self.text,
            "date": self.datetime(), "year": self.year, "category": self.category,
            "province": self.province, "city": self.city, "district": self.district, "source": self.source,
            "banks": ",".join(self.banks), "tags": ",".join(self.tags), "programs": ",".join(self.programs),
            "record": self.to_record(),
        }


_FIELD_ORDER = tuple(f.name for f in fields(IndexDoc))
_FIELD_NAMES = frozenset(_FIELD_ORDER)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _texts(values: list[str] | None) -> list[str]:
    return [str(v) for v in values or [] if v is not None and str(v)]


@dataclass
class BuildReport:
    """What an index build did. (Here, not in the indexer: the build process receives it and
    should not have to load the segmenter to read it.)"""

    generation: str
    added: int
    updated: int
    removed: int
    unchanged: int
    rebuilt: bool
    reason: str = ""
