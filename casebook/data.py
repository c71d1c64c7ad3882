"""Load the data files (taxonomy, banks, regions, sites, boilerplate, programmes) once.

Everything a rule needs is here as plain data structures; the stages never open
the files themselves.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from casebook.errors import SettingsError
from casebook.settings import ROOT

DEFAULT_DATA_DIR = ROOT / "scraper" / "data"
REGION_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "自治县",
                   "地区", "新区", "省", "市", "区", "县", "盟", "旗")


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str          # province | city | district
    parent: str
    lon: float | None
    lat: float | None

    @property
    def short(self) -> str:
        return short_region_name(self.name)


@cache
def short_region_name(name: str) -> str:
    """成都市 -> 成都, 桂东县 -> 桂东, 新疆维吾尔自治区 -> 新疆; never shorter than two characters."""
    for suffix in REGION_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            stem = name[: -len(suffix)]
            # 内蒙古自治区 -> 内蒙古, 广西壮族自治区 -> 广西 (strip the nationality too)
            stem = re.sub(r"(壮族|回族|维吾尔|藏族|彝族|苗族|土家族|蒙古族|朝鲜族|哈尼族|傣族|布依族|侗族|白族|黎族|羌族|满族)+$", "", stem)
            return stem if len(stem) >= 2 else name
    return name


@dataclass(eq=False)
class Gazetteer:
    regions: dict[str, Region]
    by_name: dict[str, list[Region]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for region in self.regions.values():
            self.by_name.setdefault(region.name, []).append(region)

    def parent(self, region: Region) -> Region | None:
        return self.regions.get(region.parent) if region.parent else None

    def province_of(self, region: Region) -> Region:
        while region.parent:
            region = self.regions[region.parent]
        return region

    def city_of(self, region: Region) -> Region | None:
        if region.level == "city":
            return region
        parent = self.parent(region)
        if parent is None:
            return None
        if parent.level == "city":
            return parent
        if parent.level == "province" and parent.code[:2] in MUNICIPALITY_PREFIXES:
            return parent  # 上海市 is its own city
        return None

    def provinces(self) -> list[Region]:
        return [r for r in self.regions.values() if r.level == "province"]


MUNICIPALITY_PREFIXES = {"11", "12", "31", "50"}


@dataclass(eq=False)
class Data:
    directory: Path
    taxonomy: dict
    banks: dict
    programs: dict
    sites: list[dict]
    image_proxies: list[str]
    boilerplate: dict
    textrules: dict
    gazetteer: Gazetteer
    digest: dict = field(default_factory=dict)   # structure rules of digest-shaped inputs
    dates: dict = field(default_factory=dict)   # dates.yaml: where pages state their date
    review: dict = field(default_factory=dict)  # review.yaml: draft reasons, the rejection list's name

    @property
    def category_names(self) -> list[str]:
        return [c["name"] for c in self.taxonomy["categories"]]

    @property
    def tag_names(self) -> list[str]:
        return [t["name"] for t in self.taxonomy["tags"]]


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when PyYAML has it: every command loads these


def _read_yaml(path: Path) -> dict[str, Any]:
    """A data file's top-level mapping; anything else (a list, a bare value, nothing) is refused."""
    try:
        with path.open(encoding="utf-8") as fh:
            value = yaml.load(fh, Loader=_YAML_LOADER)
    except FileNotFoundError as exc:
        raise SettingsError(f"data file {path} is missing", hint="restore it from git") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SettingsError(f"data file is not valid YAML: {getattr(exc, 'problem', exc)}", source=str(path),
                            line=mark.line + 1 if mark else None) from exc
    if not isinstance(value, dict):
        raise SettingsError(f"data file holds {type(value).__name__}, not a mapping of keys", source=str(path),
                            hint="restore it from git")
    return value


def _read_regions(*paths: Path) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            rows = csv.DictReader(line for line in fh if not line.startswith("#"))
            for row in rows:
                regions[row["adcode"]] = Region(
                    code=row["adcode"], name=row["name"], level=row["level"], parent=row["parent"],
                    lon=float(row["lon"]) if row["lon"] else None, lat=float(row["lat"]) if row["lat"] else None)
    return regions


@lru_cache(maxsize=4)
def load_data(directory: Path | None = None) -> Data:
    """Read and check every data file in `directory` (default scraper/data)."""
    directory = Path(directory or DEFAULT_DATA_DIR)
    taxonomy = _read_yaml(directory / "taxonomy.yaml")
    sites = _read_yaml(directory / "sites.yaml")
    data = Data(
        directory=directory,
        taxonomy=taxonomy,
        banks=_read_yaml(directory / "banks.yaml"),
        programs=_read_yaml(directory / "programs.yaml"),
        sites=sites["sites"],
        image_proxies=sites.get("image_proxies", []),
        boilerplate=_read_yaml(directory / "boilerplate.yaml"),
        textrules=_read_yaml(directory / "textrules.yaml"),
        gazetteer=Gazetteer(_read_regions(directory / "regions.csv", directory / "regions_extra.csv")),
        digest=_read_yaml(directory / "digest.yaml"),
        dates=_read_yaml(directory / "dates.yaml"),
        review=_read_yaml(directory / "review.yaml"),
    )
    _check(data)
    return data


def _check(data: Data) -> None:
    names = data.category_names
    if len(set(names)) != len(names):
        raise SettingsError("taxonomy.yaml lists a category twice", source=str(data.directory / "taxonomy.yaml"))
    for pattern in [*data.boilerplate.get("lines", []), *data.boilerplate.get("cut_after", []),
                    *data.boilerplate.get("short_lines", [])]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SettingsError(f"boilerplate pattern {pattern!r} is not a valid regex: {exc}",
                                source=str(data.directory / "boilerplate.yaml")) from exc
    _check_selectors(data)
    _check_digest(data)


def _check_digest(data: Data) -> None:
    """Every structure rule of digest.yaml compiles: segmentation never meets a broken one."""
    source = str(data.directory / "digest.yaml")
    for key, value in data.digest.items():
        for pattern in value if isinstance(value, list) else [value] if isinstance(value, str) else []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SettingsError(f"digest rule {key}: {pattern!r} is not a valid regex: {exc}",
                                    source=source) from exc


def _check_selectors(data: Data) -> None:
    """Every site selector, with the translator lxml's `cssselect()` uses: extraction then
    never meets one it cannot read."""
    from cssselect import HTMLTranslator, SelectorError

    translator = HTMLTranslator()
    for site in data.sites:
        for selector in [*site.get("content", []), *site.get("drop", [])]:
            try:
                translator.css_to_xpath(selector)
            except SelectorError as exc:
                raise SettingsError(f"site {site.get('name')!r}: {selector!r} is not a CSS selector: {exc}",
                                    source=str(data.directory / "sites.yaml"),
                                    hint="use CSS3 selectors (tag, .class, #id, [attr^=value], descendant)") from exc
