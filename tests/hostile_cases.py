"""Hostile case files, made from a real case ingested from the seeds: each one changes a few
front-matter lines of it (or its body) as an editor, or an attacker with commit access, could.
Shared by tests/test_hostile_cases.py and tests/test_case_fuzz.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BIDI = "\u202e\u2066\u200f"


def base_case(content: Path) -> str:
    """The published seed case with images, a cover and a summary (成都农商银行, 2022-02-24)."""
    return next((content / "cases").glob("2022-02-24-*.md")).read_text(encoding="utf-8")


def replace_fields(text: str, fields: dict[str, str | None], *, extra: str = "", body: str = "") -> str:
    """`text` with each named field's line(s) replaced by raw YAML (None: removed), `extra`
    lines added at the end of the front matter and `body` appended to the body."""
    head, rest = text.split("\n---\n", 1)
    lines = head.split("\n")
    out: list[str] = []
    skipping = False
    for line in lines:
        match = re.match(r"^([A-Za-z_][\w-]*):", line)
        if match:
            skipping = False
            name = match.group(1)
            if name in fields:
                skipping = True
                if fields[name] is not None:
                    out.append(f"{name}: {fields[name]}")
                continue
        elif skipping and (line.startswith("- ") or line.startswith("  ")):
            continue
        out.append(line)
    if extra:
        out.append(extra.rstrip("\n"))
    return "\n".join(out) + "\n---\n" + rest.rstrip("\n") + "\n" + body


def line_of(text: str, field: str) -> int:
    """The file line (1-based) of a field's key."""
    for number, line in enumerate(text.split("\n"), start=1):
        if line.startswith(f"{field}:"):
            return number
    raise AssertionError(f"no {field}: line")


@dataclass
class Hostile:
    name: str           # file name
    text: str
    field: str          # where check must point
    message: str        # a piece of the message check must give
    published: bool     # built (with the bad values left out) rather than skipped


def hostile_cases(base: str) -> list[Hostile]:
    """The issue's examples and their class: URLs with other schemes in every URL field,
    markup and links in the summary, formula and bidi characters in text, wrong types in
    every kind of field, empty slugs, Pelican override keys, a huge figures list."""
    def case(name: str, slug: str, fields: dict[str, str | None], field: str, message: str, *,
             published: bool = False, extra: str = "", body: str = "") -> Hostile:
        text = replace_fields(base, {"slug": slug, **fields}, extra=extra, body=body)
        return Hostile(name, text, field, message, published)

    return [
        case("js-source.md", "h-js-source", {
            "title": f"\"=cmd|' /C calc'!A0 社区{BIDI}银行\"",
            "source_url": "'javascript:alert(document.domain)//'",
            "cover": "'data:text/html,<script>alert(2)</script>'",
            "images": "['vbscript:msgbox(1)', 'https://example.org/ok.jpg', 'jav&#x61;script:alert(3)']",
            "reposts": "[{source: 某报, url: \" java\\tscript:alert(4)\"}]",
            "summary": f"'[详[情]](javascript:alert(1)) <script>alert(5)</script> 摘要{BIDI}文字'",
            "authors": f"['记者{BIDI}甲']",
        }, "source_url", "is not an http(s), mailto or site-relative address", published=True,
            body="\n[链接](javascript:alert(6)) <a href=\"{static}javascript:alert(7)\">静态</a> "
                 "<a href=\"{category}javascript:alert(8)\">分类</a> <img src=\"x\" onerror=\"alert(9)\" alt=\"图\">\n"),
        case("summary-only.md", "h-summary", {"summary": "'<img src=x onerror=alert(1)>[点](  JAVASCRIPT:alert(1))'"},
             "summary", "a link in `summary`", published=True),
        case("title-list.md", "h-title-list", {"title": "[1, 2]"}, "title", "`title` must be text, not a list"),
        case("title-alias.md", "h-title-alias", {"title": "&a [*a]"}, "title", "anchors and aliases"),
        case("banks-nested.md", "h-banks-nested", {"banks": "[[x]]"}, "banks", "entry 1 of `banks` must be text"),
        case("bank-empty-slug.md", "h-bank-empty", {"banks": "['!!!']"}, "banks", "gives an empty page address"),
        case("program-empty-slug.md", "h-program-empty", {"programs": "['!!!']"}, "programs",
             "gives an empty page address"),
        case("draft-save-as.md", "h-draft-save-as", {"status": "draft"}, "save_as", "not allowed in a case file",
             extra="save_as: index.html"),
        case("url-override.md", "h-url-override", {}, "url", "not allowed in a case file",
             extra="url: search/\ntemplate: search"),
        case("override-attr.md", "h-override-attr", {}, "override_save_as", "not allowed in a case file",
             extra="override_save_as: categories/index.html"),
        case("figures-mapping.md", "h-figures-mapping", {"figures": "{a: 1}"}, "figures", "must be a list"),
        case("tags-number.md", "h-tags-number", {"tags": "5"}, "tags", "must be a list"),
        case("date-list.md", "h-date-list", {"date": "[2022]"}, "date", "is not a date"),
        case("date-year-one.md", "h-date-year-one", {"date": "0001-01-01T00:00:00+14:00"}, "date", "outside"),
        case("status-bool.md", "h-status-bool", {"status": "true"}, "status", "`status` must be text"),
        case("province-list.md", "h-province-list", {"province": "[四川省]"}, "province", "`province` must be text"),
        case("reposts-text.md", "h-reposts-text", {"reposts": "[x]"}, "reposts", "must be a mapping"),
        case("summary-mapping.md", "h-summary-mapping", {"summary": "{x: 1}"}, "summary", "`summary` must be text"),
        case("figures-huge.md", "h-figures-huge", {"figures": "[" + ", ".join(["超1000家" * 60] * 300) + "]"},
             "figures", "at most"),
        case("figures-bomb.md", "h-figures-bomb", {"figures": "&a [x, x, x, x, x, x, x, x, x]", "review": None}, "figures",
             "anchors and aliases", extra="review: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]"),
        case("invisible-title.md", "h-invisible-title", {"title": "'\u202e\u200b'"}, "title", "only invisible"),
        # YAML tags no field can hold and values their tag cannot read: a YAML error at the line,
        # never a ValueError out of PyYAML's constructors.
        case("date-timestamp-tag.md", "h-date-ts", {"date": "!!timestamp 2023-13-45"}, "date", "!!timestamp"),
        case("tags-set-tag.md", "h-tags-set", {"tags": "!!set {a, b}"}, "tags", "!!set"),
        case("cover-binary-tag.md", "h-cover-binary", {"cover": "!!binary aGVsbG8="}, "cover", "!!binary"),
        case("title-bad-int.md", "h-title-int", {"title": "!!int 0xZZ"}, "title", "cannot be read as !!int"),
        case("status-bad-bool.md", "h-status-bool2", {"status": "!!bool maybe"}, "status", "cannot be read as !!bool"),
        case("duplicate-key.md", "h-duplicate-key", {}, '"source"', "is given twice", extra='"source": 另一来源'),
    ]


def outside_case(base: str) -> str:
    """A valid case that lives outside content/: reached through a symbolic link, it must not be published."""
    return replace_fields(base, {"slug": "h-outside-secret", "title": "OUTSIDE-SECRET-TITLE"},
                          body="\nOUTSIDE-SECRET-BODY\n")
