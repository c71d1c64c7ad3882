"""Titles, sources, bylines and sites: the Chinese metadata no general extractor reads well.

- the title: front matter, og:title, h1, msg_title; site suffixes stripped; quotes that
  mirrors turned into `_` or `''` restored;
- the source: 来源：/文章来源：/稿件来源：/原标题 lines, or the organisation of a byline
  (华西社区传媒记者 彭戎 街道供图 -> 华西社区传媒, authors [彭戎]);
- the site: recognised by domain or signature (sites.yaml), giving `via` or the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from casebook.data import Data

SOURCE_RE = re.compile(r"^[（(【\[]?\s*(?:文章来源|稿件来源|信息来源|来源|来自|出处)\s*[:：]\s*(?P<src>[^）)】\]|｜\s]{2,30})")
INLINE_SOURCE_RE = re.compile(r"(?:文章来源|稿件来源|来源)\s*[:：]\s*(?P<src>[\u4e00-\u9fffA-Za-z·]{2,20})")
AUTHOR_LINE_RE = re.compile(
    r"^[（(【\[]?\s*(?:作者|文|撰文|文/图|记者|通讯员|摄影)\s*[:：/／]\s*"
    r"(?P<names>[\u4e00-\u9fff·]{2,4}(?:[\s、，,]+[\u4e00-\u9fff·]{2,4})*)\s*[）)】\]]?(?:\s|$)")
BYLINE_RE = re.compile(
    r"^[（(]?(?P<org>[\u4e00-\u9fffA-Za-z]{0,14}?)(?:全媒体|融媒体)?(?:首席|特约|实习)?(?:记者|通讯员|见习记者)\s*"
    r"(?P<rest>[\u4e00-\u9fff·]{2,4}(?:[\s、]+[\u4e00-\u9fff·]{1,10})*)[）)]?$")
CREDIT_RE = re.compile(r"(?:供图|摄影报道|摄影|报道|摄|图|文/图|文图)$")
ROLE_WORDS = ("记者", "通讯员", "见习记者", "特约记者", "实习生", "摄影")
QUOTED_UNDERSCORE_RE = re.compile(r"_([^_\s]{1,20}?)_")
QUOTED_APOSTROPHES_RE = re.compile(r"''([^']{1,20}?)''")
# Separators are matched from the start of a run of spaces only, with possessive runs: an
# attempt inside a long run of spaces would rescan all of it (quadratic).
SEGMENT_SPLIT_RE = re.compile(r"(?<!\s)(?:\s*+(?:_|｜|\||--)|\s++[-–—](?=\s))\s*+")
# One suffix segment at the end (strip_site_suffix repeats it); a repeated group here would
# try every way to cut a long run of 网 into segments (exponential).
GENERIC_SUFFIX_RE = re.compile(r"(?<![\s_|｜\-–—])\s*+[_|｜\-–—]++\s*+[^_|｜\-–—]{2,16}(?:网|频道|新闻|日报|晚报|报|号|在线|客户端|资讯|财经|股吧)\s*+$")
MAX_TITLE_CHARS = 300   # a longer "title" is a page's text: only its head is kept


@dataclass
class Byline:
    source: str | None = None
    authors: list[str] = field(default_factory=list)


def restore_quotes(title: str) -> str:
    """入_圈_ -> 入“圈”: mirrors that cannot store “ ” in a file name write _ or ''."""
    title = QUOTED_APOSTROPHES_RE.sub(r"“\1”", title)
    if re.search(r"[\u4e00-\u9fff]", title):
        title = QUOTED_UNDERSCORE_RE.sub(r"“\1”", title)
    return title.strip()


def strip_site_suffix(title: str, data: Data) -> str:
    """标题_频道_网站 - SITE.COM -> 标题: known site suffixes, then generic ones, then the
    first segment of what is left."""
    suffixes = sorted((x for site in data.sites for x in site.get("title_suffixes", [])), key=len, reverse=True)
    previous = None
    while previous != title:
        previous = title
        for suffix in suffixes:
            if title.endswith(suffix) and len(title) > len(suffix) + 4:
                title = title[: -len(suffix)].strip()
                break
        stripped = GENERIC_SUFFIX_RE.sub("", title)
        if len(stripped) >= 6:
            title = stripped
    first = SEGMENT_SPLIT_RE.split(title)[0].strip()
    return first if len(first) >= 6 else title


def clean_title(title: str | None, data: Data, *, mirrored: bool = False) -> str | None:
    """A headline without site suffixes; `mirrored` titles (from other generators' front
    matter) also get back the quotes their file names could not hold."""
    if not title:
        return None
    title = re.sub(r"\s+", " ", title).strip()[:MAX_TITLE_CHARS]
    if mirrored:
        return restore_quotes(title) or None
    return strip_site_suffix(title, data) or None


LABEL_ONLY_RE = re.compile(r"(?:文章来源|稿件来源|信息来源|来源)\s*[:：]\s*$")


def find_source(lines: list[str]) -> str | None:
    # A page's date line often puts the label and the name in separate elements
    # (`来源：` / `半月谈`): the name is the next line.
    lines = [f"{line.strip()}{lines[i + 1].strip()}" if LABEL_ONLY_RE.search(line) and i + 1 < len(lines) else line
             for i, line in enumerate(lines)]
    for line in lines:
        match = SOURCE_RE.match(line.strip())
        if match:
            return _clean_source(match.group("src"))
    for line in lines:
        match = INLINE_SOURCE_RE.search(line)
        if match:
            return _clean_source(match.group("src"))
    return None


def _clean_source(value: str) -> str | None:
    value = re.split(r"\s|作者|编辑|时间|发布", value)[0].strip("：: ，,。")
    return value if len(value) >= 2 else None


def parse_byline(line: str) -> Byline | None:
    """华西社区报记者 朱佳慧 摄影报道 -> Byline('华西社区报', ['朱佳慧'])."""
    text = line.strip().strip("*")
    match = BYLINE_RE.match(text) if len(text) <= 40 else None
    if not match:
        return None
    names = []
    for token in re.split(r"[\s、]+", match.group("rest")):
        if not token or token in ROLE_WORDS or CREDIT_RE.search(token):
            continue
        if 2 <= len(token) <= 4:
            names.append(token)
    if not names:
        return None
    org = match.group("org") or None
    return Byline(source=org if org and len(org) >= 2 else None, authors=names)


def find_author_line(lines: list[str]) -> list[str]:
    for line in lines:
        match = AUTHOR_LINE_RE.match(line.strip())
        if match:
            names = [n for n in re.split(r"[\s、，,;；]+", match.group("names")) if 2 <= len(n) <= 4]
            if names:
                return names
    return []


def detect_site(text: str, url: str | None, data: Data) -> dict | None:
    """The site a page comes from, by URL first, then by signature phrases."""
    if url:
        for site in data.sites:
            if any(domain in url for domain in site.get("domains", [])):
                return site
    for site in data.sites:
        if any(sig and sig in text for sig in site.get("signatures", [])):
            return site
    return None
