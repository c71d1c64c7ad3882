"""`casebook check`: validate case files against the content model, with file:line and a hint.

The same rules guard the Pelican reader, so a file that passes here builds, and a file that
does not is skipped by the build with the same message. The field types and bounds are data
(`scraper/data/case_fields.yaml`); `site_metadata` is what the reader hands to Pelican: only
the known fields, every string without invisible characters, every URL safe.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from casebook.data import Data
from casebook.model import (
    FIELD_ORDER,
    OPTIONAL_FOR_DRAFTS,
    REQUIRED,
    SLUG_RE,
    STATUSES,
    Problem,
    load_yaml,
    normalize_date,
    split_front_matter,
    yaml_error_line,
)
from casebook.names import LEVELS, Resolution, resolve_bank, resolve_program, resolve_region
from casebook.safety import safe_url, strip_invisible

RULES_FILE = "case_fields.yaml"
CASE_SUFFIXES = (".md", ".markdown")   # what the site's reader reads (plugins/casebook_reader)
# Link targets and tags in a summary: Markdown links ("](target"), autolinks ("<scheme:"),
# and raw HTML. Linear: each pattern is a literal start and one negated class.
SUMMARY_LINK_RE = re.compile(r"\]\(\s*<?([^)\s>]*)|<([A-Za-z][A-Za-z0-9+.\-]*:[^>\s]*)>")
SUMMARY_TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z!?]")


@dataclass
class Dropped(Problem):
    """An error the build repairs by dropping the value (an unsafe URL, markup in a summary):
    the case is published without it, `check` and `build --strict` still fail."""


@dataclass
class Alias(Problem):
    """A name written as a short name or an alias of a canonical one (农行 for 中国农业银行):
    a warning `casebook check --fix` repairs by writing `new` for `old` in `field`
    (at list position `index`)."""

    field: str = ""
    index: int | None = None
    old: str = ""
    new: str = ""


@dataclass(frozen=True)
class FieldRules:
    fields: dict[str, dict[str, Any]]
    repost_keys: dict[str, dict[str, Any]]
    reserved: frozenset[str]
    reserved_prefixes: tuple[str, ...]
    max_file_bytes: int
    min_year: int
    max_year: int
    static_suffixes: tuple[str, ...]
    syntax_chars: str
    max_syntax: int
    max_link_scan: int
    render_seconds: float

    def is_reserved(self, key: str) -> bool:
        return key.lower() in self.reserved or key.lower().startswith(self.reserved_prefixes)


@lru_cache(maxsize=4)
def field_rules(directory: Path) -> FieldRules:
    raw = yaml.safe_load((directory / RULES_FILE).read_text(encoding="utf-8"))
    return FieldRules(raw["fields"], raw["repost_keys"], frozenset(raw["reserved_keys"]),
                      tuple(raw["reserved_prefixes"]), int(raw["max_file_bytes"]), int(raw["min_year"]),
                      int(raw["max_year"]), tuple(f".{s.lower()}" for s in raw["image_types"]),
                      raw["markdown_syntax_chars"], int(raw["max_syntax_per_paragraph"]), int(raw["max_link_scan"]),
                      float(raw["max_render_seconds"]))


def rules_of(data: Data) -> FieldRules:
    return field_rules(data.directory)


def _nearest(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.4)
    return f"did you mean {', '.join(close)}?" if close else "known values are listed in the data files"


def _kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping",
             str: "text", type(None): "empty"}
    return names.get(type(value), type(value).__name__)


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


@lru_cache(maxsize=4)
def _shipped_names(data_dir: Path) -> dict[str, str]:
    """The slug table shipped with the data files (names of banks and programmes)."""
    try:
        return json.loads((data_dir / "slugs.json").read_text(encoding="utf-8")).get("names", {})
    except (OSError, ValueError, AttributeError):
        return {}


@lru_cache(maxsize=4096)
def facet_slug(name: str, data_dir: Path | None = None) -> str:
    """The slug the site gives a bank's or programme's page (plugins/casebook_site): the
    shipped table's, else the transliteration (which loads pypinyin: only for new names)."""
    from pelican.settings import DEFAULT_CONFIG

    from plugins.casebook_site.generator import ascii_slug

    shipped = _shipped_names(data_dir) if data_dir else {}
    return shipped.get(name) or ascii_slug(name, {"SLUG_REGEX_SUBSTITUTIONS": DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"]})


class _Lines:
    """File lines of the front matter's keys and list items, from the YAML node tree (the
    front matter starts on line 2, after the opening ---)."""

    def __init__(self, meta_text: str) -> None:
        self.meta_text = meta_text
        self.keys: dict[str, int] = {}
        self.items: dict[str, list[int]] = {}
        self.composed = False

    def _compose(self) -> None:
        """Parsed on the first problem only: a file without problems costs no second parse."""
        self.composed = True
        try:
            root = yaml.compose(self.meta_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            return
        if not isinstance(root, yaml.MappingNode):
            return
        for key, value in root.value:
            name = str(key.value)
            self.keys.setdefault(name, key.start_mark.line + 2)
            if isinstance(value, yaml.SequenceNode):
                self.items.setdefault(name, [item.start_mark.line + 2 for item in value.value])

    def at(self, name: str, index: int | None = None) -> int:
        if not self.composed:
            self._compose()
        if index is not None and index < len(self.items.get(name, [])):
            return self.items[name][index]
        return self.keys.get(name, 1)


class _Checker:
    """The problems of one parsed front matter."""

    def __init__(self, meta: dict, lines: _Lines, path: str, data: Data) -> None:
        self.meta, self.lines, self.path, self.data = meta, lines, path, data
        self.rules = rules_of(data)
        self.problems: list[Problem] = []
        self.bad: set[str] = set()     # fields of the wrong shape: no further checks on them

    def add(self, name: str, message: str, hint: str = "", *, index: int | None = None,
            severity: str = "error", dropped: bool = False) -> None:
        kind = Dropped if dropped else Problem
        self.problems.append(kind(self.path, self.lines.at(name, index), message, hint, severity=severity))

    # --- shapes -----------------------------------------------------------------------

    def keys(self) -> None:
        for key in self.meta:
            if not isinstance(key, str):
                self.add(str(key), f"field name {_short(key)} is not text", "field names are words like title:")
                continue
            if self.rules.is_reserved(key):
                self.add(key, f"field `{key}` is not allowed in a case file",
                         "the site decides where each case is written and how it looks: remove this line")
            elif key not in self.rules.fields:
                self.add(key, f"unknown field `{key}` (left out of the site)", _nearest(key, FIELD_ORDER),
                         severity="warning")

    def shapes(self) -> None:
        for name, rule in self.rules.fields.items():
            if name in self.meta and self.meta[name] is not None:
                kind = rule["type"]
                if kind in ("text_list", "url_list", "reposts"):
                    self._list(name, rule)
                elif kind != "date":
                    self._scalar(name, self.meta[name], rule)

    def _scalar(self, name: str, value: object, rule: dict, index: int | None = None, label: str = "") -> bool:
        label = label or f"`{name}`"
        if not isinstance(value, str):
            self.bad.add(name)
            self.add(name, f"{label} must be text, not {_kind(value)} {_short(value)}",
                     "write one value; put quotes around numbers, dates and yes/no: 'value'", index=index)
            return False
        limit = rule.get("max_chars")
        if limit and len(value) > limit:
            self.bad.add(name)
            self.add(name, f"{label} has {len(value):,} characters; at most {limit:,} are allowed",
                     "shorten it", index=index)
            return False
        if rule["type"] == "url" and value.strip() and safe_url(value) is None:
            self.add(name, f"{label} {_short(value)} is not an http(s), mailto or site-relative address",
                     "the site leaves it out; write the page's https:// address or remove it",
                     index=index, dropped=True)
        elif rule["type"] != "url" and strip_invisible(value).strip() == "" and value != "":
            self.bad.add(name)
            self.add(name, f"{label} holds only invisible characters", "write the value or remove the line",
                     index=index)
        return True

    def _list(self, name: str, rule: dict) -> None:
        values = self.meta[name]
        if not isinstance(values, list):
            self.bad.add(name)
            self.add(name, f"`{name}` must be a list, not {_kind(values)}",
                     f"write {name}: [{_short(values, 40)}]" if isinstance(values, str) else f"write {name}: [a, b]")
            return
        limit = rule.get("max_items")
        if limit and len(values) > limit:
            self.bad.add(name)
            self.add(name, f"`{name}` has {len(values):,} entries; at most {limit:,} are allowed",
                     "keep the ones that matter")
            return
        item_rule = {**rule, "type": "url" if rule["type"] == "url_list" else "text"}
        for index, value in enumerate(values):
            if rule["type"] == "reposts":
                self._repost(name, value, index)
            else:
                self._scalar(name, value, item_rule, index, f"entry {index + 1} of `{name}`")

    def _repost(self, name: str, value: object, index: int) -> None:
        if not isinstance(value, dict):
            self.bad.add(name)
            self.add(name, f"entry {index + 1} of `{name}` must be a mapping, not {_kind(value)}",
                     "write - {source: 媒体名, url: https://...}", index=index)
            return
        for key, item in value.items():
            rule = self.rules.repost_keys.get(key) if isinstance(key, str) else None
            if rule is None:
                self.bad.add(name)
                self.add(name, f"entry {index + 1} of `{name}` has an unknown key {_short(key)}",
                         f"use {', '.join(self.rules.repost_keys)}", index=index)
            elif item is not None:
                self._scalar(name, item, rule, index, f"`{key}` of entry {index + 1} of `{name}`")

    # --- values ---------------------------------------------------------------------------

    def values(self) -> None:
        meta, ok = self.meta, lambda name: name in meta and meta[name] not in (None, "") and name not in self.bad
        draft = meta.get("status") == "draft"
        for name in REQUIRED:
            if meta.get(name) not in (None, "", []):
                continue
            if name in OPTIONAL_FOR_DRAFTS and draft:
                # An undated draft is allowed: ingest never invents a date it could not find.
                self.add(name, f"draft without `{name}`",
                         f"find the day the report was published and write it as `{name}: YYYY-MM-DD` "
                         "before setting `status: published`", severity="warning")
            elif name in OPTIONAL_FOR_DRAFTS:
                self.add(name, f"missing required field `{name}`",
                         f"write the publication day as `{name}: YYYY-MM-DD`, or set `status: draft` "
                         "while it is unknown")
            else:
                self.add(name, f"missing required field `{name}`", "see docs/content-model.md")
        if ok("date"):
            self._date(meta["date"])
        if ok("slug") and not SLUG_RE.match(meta["slug"]):
            self.add("slug", f"`slug` {meta['slug']!r} is not lowercase ASCII words joined by -",
                     "e.g. 2022-02-24-chengdu-bailianchi")
        if ok("status") and meta["status"] not in STATUSES:
            self.add("status", f"`status` must be published or draft, not {meta['status']!r}")
        if ok("category") and meta["category"] not in self.data.category_names:
            self.add("category", f"unknown category {meta['category']!r}",
                     _nearest(meta["category"], self.data.category_names))
        if ok("tags"):
            for index, tag in enumerate(meta["tags"]):
                if tag not in self.data.tag_names:
                    self.add("tags", f"unknown tag {tag!r}", _nearest(tag, self.data.tag_names), index=index)
        if ok("banks"):
            self._banks(meta["banks"])
        if ok("programs"):
            self._programs(meta["programs"])
        for level in LEVELS:
            if ok(level):
                self._region(level, meta[level])
        if ok("summary"):
            self._summary(meta["summary"])
        if ok("draft_reasons"):
            self._draft_reasons(meta["draft_reasons"], draft)

    def _draft_reasons(self, codes: list[str], draft: bool) -> None:
        known = self.data.review.get("reasons", {})
        if codes and not draft:
            self.add("draft_reasons", "a published case keeps `draft_reasons` (the site leaves them out)",
                     "remove the line, or publish with `casebook review --accept SLUG`", severity="warning")
        for index, code in enumerate(codes):
            if code not in known:
                self.add("draft_reasons", f"unknown draft reason {code!r}", _nearest(code, list(known))
                         + " (the codes are in scraper/data/review.yaml)", index=index, severity="warning")

    def _date(self, value: object) -> None:
        iso = normalize_date(value) if isinstance(value, str | int) or hasattr(value, "isoformat") else None
        if iso is None:
            self.add("date", f"`date` {_short(value)} is not a date",
                     "write 2022-02-24, 2022-02-24T15:09:08+08:00 or 2021-10")
        elif not self.rules.min_year <= int(iso[:4]) <= self.rules.max_year:
            self.add("date", f"`date` {iso} is outside {self.rules.min_year}–{self.rules.max_year}",
                     "write the date the report was published")

    def _banks(self, banks: list[str]) -> None:
        for index, bank in enumerate(banks):
            found = resolve_bank(bank, self.data)
            if found.kind == "unknown":
                hint = (f"did you mean {', '.join(found.candidates)}?" if found.candidates
                        else "known banks are listed in scraper/data/banks.yaml")
                self.add("banks", f"unknown bank {bank!r}", hint + " (or add it to scraper/data/banks.yaml)",
                         index=index, severity="warning")
            else:
                self._alias("banks", found, "bank", index)
        self._slugs("banks", banks, "bank")

    def _programs(self, programs: list[str]) -> None:
        for index, program in enumerate(programs):
            self._alias("programs", resolve_program(program, self.data), "programme", index)
        self._slugs("programs", programs, "programme")

    def _region(self, level: str, value: str) -> None:
        place = {"province": None, "city": None}
        if level != "province":   # the case's own province (and city) narrow a shared short name
            place["province"] = self.meta.get("province") if isinstance(self.meta.get("province"), str) else None
        if level == "district":
            place["city"] = self.meta.get("city") if isinstance(self.meta.get("city"), str) else None
        found = resolve_region(value, level, self.data, place)
        if found.kind == "unknown":
            hint = f"did you mean {', '.join(found.candidates)}?" if found.candidates else \
                "known places are listed in scraper/data/regions.csv"
            self.add(level, f"unknown {level} {value!r}", hint)
        elif found.kind == "ambiguous":
            self.add(level, f"{level} {value!r} is a short name of {len(found.candidates)} places: "
                     f"{', '.join(found.candidates)}", f"write the full name as `{level}: 全称`",
                     severity="warning")
        else:
            self._alias(level, found, level, None)

    def _alias(self, name: str, found: Resolution, label: str, index: int | None) -> None:
        """A short name or an alias: a warning that names the canonical name, fixable."""
        if found.kind != "alias" or found.canonical is None:
            return
        line = self.lines.at(name, index)
        self.problems.append(Alias(self.path, line, f"{label} {found.value!r} is {found.how} of {found.canonical}",
                                   f"write {found.canonical}; `casebook check --fix` rewrites it",
                                   severity="warning", field=name, index=index, old=found.value,
                                   new=found.canonical))

    def _slugs(self, name: str, values: list[str], label: str) -> None:
        for index, value in enumerate(values):
            if not facet_slug(value, self.data.directory):
                self.add(name, f"{label} {value!r} gives an empty page address",
                         "write the name in Chinese characters or letters", index=index)

    def _summary(self, summary: str) -> None:
        for match in SUMMARY_LINK_RE.finditer(summary):
            target = match.group(1) if match.group(1) is not None else match.group(2)
            if target and safe_url(target) is None:
                self.add("summary", f"a link in `summary` goes to {_short(target)}",
                         "only http(s), mailto and site-relative links are kept; the site drops this one",
                         dropped=True)
        if SUMMARY_TAG_RE.search(summary):
            self.add("summary", "`summary` holds HTML markup", "write plain text; the site removes the markup",
                     dropped=True)


def check_text(text: str, path: str, data: Data) -> tuple[list[Problem], dict | None]:
    """Problems of one case file, and its metadata when it parsed."""
    limit = rules_of(data).max_file_bytes
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:
        return [Problem(path, 1, f"the file is larger than {limit:,} bytes",
                        "a case is one report: split it or shorten it")], None
    parts = split_front_matter(text)
    if parts is None:
        return [Problem(path, 1, "no YAML front matter", "start the file with --- , the fields, then ---")], None
    meta_text, body, body_line = parts
    try:
        meta = load_yaml(meta_text)
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc) or 1
        return [Problem(path, line, f"front matter is not valid YAML: {getattr(exc, 'problem', None) or exc}",
                        "check quotes and colons; a value with a colon needs quotes")], None
    except (ValueError, TypeError, RecursionError) as exc:   # a constructor's own error (e.g. a bad !!binary)
        return [Problem(path, 2, f"front matter cannot be read: {exc}", "write plain values")], None
    if not isinstance(meta, dict):
        return [Problem(path, 2, "front matter is not a mapping of fields", "write one `field: value` per line")], None
    checker = _Checker(meta, _Lines(meta_text), path, data)
    checker.keys()
    checker.shapes()
    checker.values()
    problems = checker.problems
    if not body.strip():
        problems.append(Problem(path, body_line, "the case has no body text", "write the report below the front matter"))
    dense = dense_paragraph(body, checker.rules)
    if dense is not None:
        problems.append(Problem(path, body_line + dense[0], dense[1],
                                "split it into paragraphs or remove the run of symbols"))
    if isinstance(meta.get("summary"), str) and "summary" not in checker.bad:
        dense = dense_paragraph(meta["summary"].replace("\n", " "), checker.rules)
        if dense is not None:
            problems.append(Problem(path, checker.lines.at("summary"), f"`summary`: {dense[1]}",
                                    "write the summary as plain text"))
    return problems, meta


BRACKET_RE = re.compile(r"[\[\]]")


def link_scan(paragraph: str) -> int:
    """How many characters Python-Markdown's link pattern scans in a paragraph: from each "["
    to its matching "]", or to the paragraph's end when none matches. Linear in the brackets."""
    opened: list[int] = []
    total = 0
    for match in BRACKET_RE.finditer(paragraph):
        if match.group() == "[":
            opened.append(match.start())
        elif opened:
            total += match.start() - opened.pop()
    return total + sum(len(paragraph) - start for start in opened)


def dense_paragraph(body: str, rules: FieldRules) -> tuple[int, str] | None:
    """(line offset, problem) of the first paragraph that Python-Markdown would take too long
    to render, or None. Linear: str.count per character, one pass over the brackets."""
    total = sum(body.count(c) for c in rules.syntax_chars)
    if total <= rules.max_syntax and body.count("[") * len(body) <= rules.max_link_scan:
        return None   # the common case: no paragraph can exceed either bound
    offset = 0
    for paragraph in re.split(r"(\n[ \t]*\n)", body):
        start = offset + len(paragraph) - len(paragraph.lstrip("\n"))
        count = sum(paragraph.count(c) for c in rules.syntax_chars)
        if count > rules.max_syntax:
            return start, (f"a paragraph holds {count:,} Markdown syntax characters ({rules.syntax_chars}); "
                           f"at most {rules.max_syntax:,} are rendered")
        scan = link_scan(paragraph) if "[" in paragraph else 0
        if scan > rules.max_link_scan:
            return start, (f"a paragraph's '[' are far from their ']' or have none: rendering would scan "
                           f"{scan:,} characters for links (at most {rules.max_link_scan:,})")
        offset += paragraph.count("\n")
    return None


def fatal(problems: list[Problem]) -> list[Problem]:
    """The errors that keep a case off the site (a dropped value does not)."""
    return [p for p in problems if p.severity == "error" and not isinstance(p, Dropped)]


def _clean(value: Any, kind: str) -> Any:
    if kind == "url":
        return safe_url(value) if isinstance(value, str) else None
    if isinstance(value, str):
        return strip_invisible(value)
    if isinstance(value, list):
        return [_clean(v, kind) for v in value]
    return value


def site_metadata(meta: dict, data: Data) -> dict:
    """What the site may show of a checked front matter: only the fields of the content model
    (never a key Pelican would obey), strings without invisible characters, unsafe URLs
    dropped (from lists too, and from reposts)."""
    rules = rules_of(data)
    out: dict[str, Any] = {}
    for name, rule in rules.fields.items():
        if name not in meta:
            continue
        value, kind = meta[name], rule["type"]
        if kind == "url_list":
            out[name] = [url for url in (_clean(v, "url") for v in value or []) if url]
        elif kind == "reposts":
            out[name] = [{key: _clean(item, rules.repost_keys[key]["type"]) for key, item in entry.items()
                          if key in rules.repost_keys} for entry in value or [] if isinstance(entry, dict)]
        elif kind == "text_list":
            out[name] = _clean(value or [], kind)
        else:
            out[name] = _clean(value, kind)
    if out.get("status") != "draft":
        out.pop("draft_reasons", None)   # why a draft was a draft never shows on a published case
    return canonical_names(out, data)


def canonical_names(meta: dict, data: Data) -> dict:
    """`meta` with short names and aliases of banks, programmes and places replaced by the
    names they stand for (`check` warns about them): the site has one page per bank and
    place, whatever an editor wrote. Ambiguous and unknown names stay as written."""
    for name, resolve in (("banks", resolve_bank), ("programs", resolve_program)):
        values = meta.get(name)
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            meta[name] = list(dict.fromkeys(_canonical(resolve(v, data)) for v in values))
    place = {"province": meta.get("province"), "city": meta.get("city")}
    for level in LEVELS:
        if isinstance(meta.get(level), str):
            context = {k: v for k, v in place.items() if k != level and isinstance(v, str)} if level != "province" else {}
            meta[level] = _canonical(resolve_region(meta[level], level, data, context))
    return meta


def _canonical(found: Resolution) -> str:
    return found.canonical if found.kind == "alias" and found.canonical else found.value


def _walk(path: Path) -> tuple[list[Path], list[Path]]:
    """Markdown files under `path`, and symbolic links found on the way (never followed)."""
    files: list[Path] = []
    links: list[Path] = []
    for folder, dirs, names in os.walk(path, followlinks=False):
        for name in [*dirs, *names]:
            if os.path.islink(os.path.join(folder, name)):
                links.append(Path(folder, name))
        files.extend(Path(folder, n) for n in names if n.endswith(CASE_SUFFIXES)
                     and not os.path.islink(os.path.join(folder, n)))
    return sorted(files), sorted(links)


def _stray_files(folder: Path, allowed: tuple[str, ...], what: str) -> list[Problem]:
    """Files of `folder` the build does not publish: not a case file (in cases/), not an
    image type (in images/: an .html or .svg there would run script on the site's origin)."""
    problems = []
    for base, _dirs, names in os.walk(folder, followlinks=False):
        for name in sorted(names):
            full = os.path.join(base, name)
            if not os.path.islink(full) and not os.path.isfile(full) and not name.endswith(CASE_SUFFIXES):
                problems.append(Problem(full, 1, "not a regular file: the site leaves it out",
                                        "save it as an ordinary file"))
                continue
            if name.startswith(".") or name.endswith(".fresh") or name.lower().endswith(allowed):
                continue
            problems.append(Problem(str(Path(base, name)), 1, f"not {what}: the site leaves this file out",
                                    f"use one of {', '.join(allowed)}", severity="warning" if what == "a case file"
                                    else "error"))
    return problems


def content_root(path: Path) -> Path:
    """The content folder a case path belongs to: the parent of its `cases` folder, or the
    folder given."""
    absolute = Path(os.path.abspath(path))
    for folder in [absolute, *absolute.parents]:
        if folder.name == "cases":
            return folder.parent
    return absolute if path.is_dir() else absolute.parent


def leaves(link: Path, root: Path) -> bool:
    target = os.path.realpath(link)
    base = os.path.realpath(root)
    return os.path.commonpath([target, base]) != base


def _link_problems(links: list[Path], root: Path) -> list[Problem]:
    problems = []
    for link in links:
        if leaves(link, root):
            problems.append(Problem(str(link), 1, f"symbolic link to {os.path.realpath(link)}, outside {root}",
                                    "copy the file into content/ instead; the build never publishes it"))
    return problems


def check_paths(paths: list[Path], data: Data) -> list[Problem]:
    """Every problem of the case files under `paths`, judged by the registry `data` (the
    caller's: `load_data(settings.data_dir)`)."""
    files: list[Path] = []
    problems: list[Problem] = []
    roots: set[Path] = set()
    for path in paths:
        root = content_root(path)
        if path.is_dir():
            found, links = _walk(path)
            files.extend(found)
            if root not in roots:
                roots.add(root)
                _, image_links = _walk(root / "images") if (root / "images").is_dir() else ([], [])
                links = sorted(set(links) | set(image_links))
                if (root / "images").is_dir():
                    problems.extend(_stray_files(root / "images", rules_of(data).static_suffixes, "an image"))
            if path.name == "cases":
                problems.extend(_stray_files(path, CASE_SUFFIXES, "a case file"))
            problems.extend(_link_problems(links, root))
            for link in links:   # a link inside content/ to a case elsewhere in it is read
                if link.suffix == ".md" and link.is_file() and not leaves(link, root):
                    files.append(link)
        elif path.is_symlink() and leaves(path, root):
            problems.extend(_link_problems([path], root))
        else:
            files.append(path)
    slugs: dict[str, str] = {}
    for file in files:
        problems.extend(_check_file(file, data, slugs))
    return problems


def _check_file(file: Path, data: Data, slugs: dict[str, str]) -> list[Problem]:
    limit = rules_of(data).max_file_bytes
    try:
        if not file.is_file():   # a FIFO or device would block the read forever
            return [Problem(str(file), 1, "not a regular file", "save the case as an ordinary file")]
        if file.stat().st_size > limit:
            return [Problem(str(file), 1, f"the file is larger than {limit:,} bytes",
                            "a case is one report: split it or shorten it")]
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(file), 1, f"cannot read the file: {exc}", "save it as UTF-8")]
    problems, meta = check_text(text, str(file), data)
    slug = meta.get("slug") if meta else None
    if isinstance(slug, str) and slug:
        if slug in slugs:
            front = split_front_matter(text)   # there is one: it gave the slug
            problems.append(Problem(str(file), _Lines(front[0]).at("slug") if front else 1,
                                    f"duplicate slug {slug!r}", f"also used by {slugs[slug]}"))
        else:
            slugs[slug] = str(file)
    return problems
