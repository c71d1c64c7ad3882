"""The one table of search fields (scraper/data/search_fields.yaml), read by the query
language, the API, its OpenAPI description, the search page and its script.

Loading it is cheap (no index, no segmenter), so pelicanconf.py can hand it to the theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import yaml

DATA_FILE = Path(__file__).resolve().parent.parent / "scraper" / "data" / "search_fields.yaml"
MATCH_KINDS = ("contains", "year")


@dataclass(frozen=True)
class FilterField:
    name: str                  # the indexed record's field
    param: str                 # the API parameter
    label: str                 # the search page's word for it
    aliases: tuple[str, ...]   # names accepted before a colon in a query
    facet: int | None          # position among the facets, None when not a facet
    match: str                 # "contains" or "year"


def _load(path: Path = DATA_FILE) -> tuple[tuple[FilterField, ...], dict[str, tuple[str, ...]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields = []
    for number, row in enumerate(data["filters"], 1):
        field = FilterField(name=row["name"], param=row["param"], label=row["label"],
                            aliases=tuple(row["aliases"]), facet=row.get("facet"), match=row["match"])
        if field.match not in MATCH_KINDS:
            raise ValueError(f"{path}: filter {number} ({field.name}): match must be one of {MATCH_KINDS}")
        fields.append(field)
    query_fields = {name: tuple(aliases) for name, aliases in data["query_fields"].items()}
    return tuple(fields), query_fields


FILTERS, QUERY_FIELDS = _load()
BY_NAME = MappingProxyType({f.name: f for f in FILTERS})
BY_PARAM = MappingProxyType({f.param: f for f in FILTERS})
FILTER_FIELDS = tuple(f.name for f in FILTERS)
FACET_FIELDS = tuple(f.name for f in sorted((f for f in FILTERS if f.facet), key=lambda f: f.facet or 0))


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for field in FILTERS:
        for alias in (*field.aliases, field.name, field.param):
            table[alias.lower()] = field.name
    for name, aliases in QUERY_FIELDS.items():
        for alias in (*aliases, name):
            table[alias.lower()] = name
    return table


# Query-language name (lower case) -> canonical field: "bank" -> "banks", "日期" -> "date".
ALIASES = MappingProxyType(_aliases())


def client_table() -> list[dict]:
    """The facets as the search page and its script need them, in display order."""
    return [{"name": f.name, "param": f.param, "label": f.label} for f in FILTERS if f.facet]
