"""`casebook check`: validate case files against the content model, with file:line and a hint.

The same rules guard the Pelican reader, so a file that passes here builds.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import yaml

from casebook.model import (
    FIELD_ORDER,
    LIST_FIELDS,
    OPTIONAL_FOR_DRAFTS,
    REQUIRED,
    SLUG_RE,
    STATUSES,
    Problem,
    key_lines,
    load_yaml,
    normalize_date,
    split_front_matter,
    yaml_error_line,
)
from scraper.data import Data, load_data
from scraper.entities import bank_index


def _nearest(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.4)
    return f"did you mean {', '.join(close)}?" if close else "known values are listed in the data files"


@lru_cache(maxsize=4)
def _known_banks(data: Data) -> frozenset[str]:
    return frozenset(bank_index(data).canonical.values())


@lru_cache(maxsize=4)
def _known_regions(data: Data) -> dict[str, set[str]]:
    levels: dict[str, set[str]] = defaultdict(set)
    for region in data.gazetteer.regions.values():
        levels[region.level].add(region.name)
    levels["city"] |= {r.name for r in data.gazetteer.regions.values()
                       if r.level == "province" and r.code[:2] in ("11", "12", "31", "50")}
    return levels


def check_text(text: str, path: str, data: Data) -> tuple[list[Problem], dict | None]:
    """Problems of one case file, and its metadata when it parsed."""
    problems: list[Problem] = []
    parts = split_front_matter(text)
    if parts is None:
        return [Problem(path, 1, "no YAML front matter", "start the file with --- , the fields, then ---")], None
    meta_text, body, body_line = parts
    try:
        meta = load_yaml(meta_text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc) or 1
        return [Problem(path, line, f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}",
                        "check quotes and colons; a value with a colon needs quotes")], None
    if not isinstance(meta, dict):
        return [Problem(path, 2, "front matter is not a mapping of fields", "write one `field: value` per line")], None
    lines = key_lines(meta_text)

    def at(name: str) -> int:
        return lines.get(name, 1)

    draft = str(meta.get("status") or "") == "draft"
    for name in REQUIRED:
        if meta.get(name) in (None, "", []) and draft and name in OPTIONAL_FOR_DRAFTS:
            problems.append(Problem(path, at(name) if name in meta else 1, f"draft without `{name}`",
                                    f"find the day the report was published and write it as `{name}: YYYY-MM-DD` "
                                    "before setting `status: published`", severity="warning"))
        elif meta.get(name) in (None, "", []) and name in OPTIONAL_FOR_DRAFTS:
            problems.append(Problem(path, at(name) if name in meta else 1, f"missing required field `{name}`",
                                    f"write the publication day as `{name}: YYYY-MM-DD`, or set `status: draft` "
                                    "while it is unknown"))
        elif meta.get(name) in (None, "", []):
            problems.append(Problem(path, at(name) if name in meta else 1, f"missing required field `{name}`",
                                    "see docs/content-model.md"))
    for name in meta:
        if name not in FIELD_ORDER:
            problems.append(Problem(path, at(name), f"unknown field `{name}`", _nearest(name, FIELD_ORDER),
                                    severity="warning"))
    if "date" in meta and meta["date"] not in (None, "") and normalize_date(meta["date"]) is None:
        problems.append(Problem(path, at("date"), f"`date` {meta['date']!r} is not a date",
                                "write 2022-02-24, 2022-02-24T15:09:08+08:00 or 2021-10"))
    slug = meta.get("slug")
    if slug and not SLUG_RE.match(str(slug)):
        problems.append(Problem(path, at("slug"), f"`slug` {slug!r} is not lowercase ASCII words joined by -",
                                "e.g. 2022-02-24-chengdu-bailianchi"))
    if meta.get("status") and meta["status"] not in STATUSES:
        problems.append(Problem(path, at("status"), f"`status` must be published or draft, not {meta['status']!r}"))
    category = meta.get("category")
    if category and category not in data.category_names:
        problems.append(Problem(path, at("category"), f"unknown category {category!r}",
                                _nearest(str(category), data.category_names)))
    for name in LIST_FIELDS:
        if name in meta and meta[name] is not None and not isinstance(meta[name], list):
            problems.append(Problem(path, at(name), f"`{name}` must be a list", f"write {name}: [{meta[name]}]"))
    for tag in meta.get("tags") or []:
        if tag not in data.tag_names:
            problems.append(Problem(path, at("tags"), f"unknown tag {tag!r}", _nearest(str(tag), data.tag_names)))
    known_banks = _known_banks(data)
    for bank in meta.get("banks") or []:
        from scraper.entities import find_banks

        if bank not in known_banks and list(find_banks(str(bank), data)) != [bank]:
            problems.append(Problem(path, at("banks"), f"unknown bank {bank!r}",
                                    _nearest(str(bank), sorted(known_banks)) + " (or add it to scraper/data/banks.yaml)",
                                    severity="warning"))
    regions = _known_regions(data)
    for level in ("province", "city", "district"):
        value = meta.get(level)
        if value and value not in regions[level]:
            problems.append(Problem(path, at(level), f"unknown {level} {value!r}",
                                    _nearest(str(value), sorted(regions[level]))))
    if not body.strip():
        problems.append(Problem(path, body_line, "the case has no body text", "write the report below the front matter"))
    return problems, meta


def check_paths(paths: list[Path], data: Data | None = None) -> list[Problem]:
    data = data or load_data()
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    problems: list[Problem] = []
    slugs: dict[str, str] = {}
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, f"cannot read the file: {exc}", "save it as UTF-8"))
            continue
        found, meta = check_text(text, str(file), data)
        problems.extend(found)
        if meta and meta.get("slug"):
            slug = str(meta["slug"])
            if slug in slugs:
                line = key_lines(split_front_matter(text)[0]).get("slug", 1)  # type: ignore[index]
                problems.append(Problem(str(file), line, f"duplicate slug {slug!r}", f"also used by {slugs[slug]}"))
            else:
                slugs[slug] = str(file)
    return problems
