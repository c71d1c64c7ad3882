"""What a name an editor writes means: the canonical bank, region or programme behind a
short name or an alias (农行 -> 中国农业银行, 四川 -> 四川省, 成都 -> 成都市).

The registries are data (scraper/data/banks.yaml, regions.csv, programs.yaml); this module
only looks names up in them. A name is `canonical` (as the site lists it), an `alias` of
exactly one canonical name, `ambiguous` (a short name of several places: the candidates are
listed, never chosen), or `unknown` (with suggestions: names the value is a short form or
an alias of first, then names that are spelled alike).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from casebook.data import MUNICIPALITY_PREFIXES, Data, Region, short_region_name

LEVELS = ("province", "city", "district")


@dataclass(frozen=True)
class Resolution:
    value: str
    kind: str                      # canonical | alias | ambiguous | unknown
    canonical: str | None = None   # for an alias: the one name it stands for
    candidates: tuple[str, ...] = field(default_factory=tuple)   # ambiguous: "name (where)"; unknown: suggestions
    how: str = "a short name"      # for an alias: "a short name" or "an alias"


# --- banks ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _bank_names(data: Data) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
    """(every canonical bank name, the registry's own aliases and short names -> name, the
    names listed as aliases but not as short names)."""
    from scraper.entities import bank_index

    registry: dict[str, str] = {}
    only_alias: set[str] = set()
    for bank in data.banks["banks"]:
        for alias in [*bank.get("aliases", []), *bank.get("short", [])]:
            registry.setdefault(alias, bank["name"])
        only_alias |= set(bank.get("aliases", [])) - set(bank.get("short", []))
    return frozenset(bank_index(data).canonical.values()), registry, frozenset(only_alias)


def resolve_bank(value: str, data: Data) -> Resolution:
    from scraper.entities import bank_hits, bank_index

    known, _, only_alias = _bank_names(data)
    if value in known:
        return Resolution(value, "canonical", value)
    index = bank_index(data)
    if value in index.canonical:
        return Resolution(value, "alias", index.canonical[value], how="an alias" if value in only_alias
                          else "a short name")
    hits = bank_hits(value, data)
    # A family name the scraper generates from the gazetteer (成都农商行 -> 成都农商银行):
    # the value must be that one mention, nothing around it.
    if len(hits) == 1 and hits[0][0] == 0 and hits[0][1] == len(value):
        name = hits[0][2]
        return Resolution(value, "canonical" if name == value else "alias", name)
    return Resolution(value, "unknown", candidates=tuple(bank_suggestions(value, data)))


def bank_suggestions(value: str, data: Data, limit: int = 3) -> list[str]:
    """Banks whose short name or alias the value contains or is part of (农行 in 农行网点),
    then banks spelled alike."""
    known, registry, _ = _bank_names(data)
    related = sorted(((abs(len(alias) - len(value)), name) for alias, name in registry.items()
                      if alias in value or value in alias), key=lambda item: item[0])
    ranked = list(dict.fromkeys(name for _, name in related))
    ranked += [name for name in difflib.get_close_matches(value, sorted(known), n=limit, cutoff=0.4)
               if name not in ranked]
    return ranked[:limit]


# --- regions -------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _regions_by_level(data: Data) -> dict[str, dict[str, list[Region]]]:
    """level -> name or short name -> regions. Municipalities (北京市) are cities too."""
    levels: dict[str, dict[str, list[Region]]] = defaultdict(lambda: defaultdict(list))
    for region in data.gazetteer.regions.values():
        at = [region.level]
        if region.level == "province" and region.code[:2] in MUNICIPALITY_PREFIXES:
            at.append("city")
        for level in at:
            levels[level][region.name].append(region)
            short = short_region_name(region.name)
            if short != region.name:
                levels[level][short].append(region)
    return {level: dict(names) for level, names in levels.items()}


def region_names(level: str, data: Data) -> set[str]:
    """The canonical names of one level."""
    return {region.name for regions in _regions_by_level(data).get(level, {}).values() for region in regions}


def _within(region: Region, place: Mapping[str, str | None], data: Data) -> bool:
    """Whether `region` lies in the province and city the case names (when it names them)."""
    gaz = data.gazetteer
    province = gaz.province_of(region)
    if place.get("province") and place["province"] not in (province.name, short_region_name(province.name)):
        return False
    if region.level == "district" and place.get("city"):
        city = gaz.city_of(region)
        return city is None or place["city"] in (city.name, short_region_name(city.name))
    return True


def _where(region: Region, data: Data) -> str:
    gaz = data.gazetteer
    chain = []
    parent = gaz.parent(region)
    while parent is not None:
        chain.append(parent.name)
        parent = gaz.parent(parent)
    return f"{region.name} ({''.join(reversed(chain))})" if chain else region.name


def resolve_region(value: str, level: str, data: Data, place: Mapping[str, str | None] | None = None) -> Resolution:
    """`value` as a region of `level`; `place` (the case's province and city) narrows a short
    name that several places share."""
    names = _regions_by_level(data).get(level, {})
    regions = names.get(value, [])
    if any(region.name == value for region in regions):
        return Resolution(value, "canonical", value)
    if regions:
        near = [r for r in regions if _within(r, place or {}, data)] or regions
        distinct = list(dict.fromkeys(region.name for region in near))
        if len(distinct) == 1:
            return Resolution(value, "alias", distinct[0])
        return Resolution(value, "ambiguous", candidates=tuple(dict.fromkeys(_where(r, data) for r in near)))
    return Resolution(value, "unknown", candidates=tuple(region_suggestions(value, level, data)))


def region_suggestions(value: str, level: str, data: Data, limit: int = 3) -> list[str]:
    """Places whose name starts with the value (成都 for 成都市区), then places spelled alike."""
    canonical = sorted(region_names(level, data))
    ranked = [name for name in canonical if len(value) >= 2
              and (name.startswith(value) or value.startswith(short_region_name(name)))]
    ranked.sort(key=lambda name: abs(len(name) - len(value)))
    ranked += [name for name in difflib.get_close_matches(value, canonical, n=limit, cutoff=0.4) if name not in ranked]
    return ranked[:limit]


# --- programmes ----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _program_aliases(data: Data) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, others in (data.programs.get("aliases") or {}).items():
        for alias in others or []:
            aliases[str(alias)] = str(name)
    return aliases


def resolve_program(value: str, data: Data) -> Resolution:
    """Programme names are open (new brands appear in every report): only an alias listed in
    programs.yaml is resolved; any other name is taken as written."""
    canonical = _program_aliases(data).get(value)
    if canonical is not None and canonical != value:
        return Resolution(value, "alias", canonical, how="an alias")
    return Resolution(value, "canonical", value)
