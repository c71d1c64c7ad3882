"""Publication dates from Chinese and international forms, in China time unless stated.

A date is chosen from ranked evidence, and the case keeps which kind it came from
(`DateEvidence.kind`): `structured` (JSON-LD, article:published_time, <time datetime>,
WeChat's ct), `dateline` (the date line near the headline, 发布时间：…, a span whose class
names a time), `container` (a feed item's pubDate, a mirror's front matter, a transcript's
heading), then `text` (a date only the story's own text gives, always a review note).
A year is never taken from outside the article (related links, copyright lines, sidebars).

Handles 2021年12月30日, 2021-12-30 15:26:20 +0800, 发布时间：2021/12/30, 二〇二一年十二月三十日,
12月30日 (year from context, marked as inferred), Unix timestamps, RFC 2822 and ISO 8601.
A date is never invented: when only a month or a year-less day is known the result says
so in `note`, and the pipeline turns the note into a review item.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass

from casebook.model import CHINA_TZ

CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUM = "〇零○一二三四五六七八九十"

FULL_RE = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[年\-/.]\s*(?P<m>\d{1,2})\s*[月\-/.]\s*(?P<d>\d{1,2})\s*日?"
    # Possessive \s*+ around an optional T: "\s*\s?\s*" before a time would try every split of
    # a long run of spaces (quadratic).
    r"(?:\s*+T?\s*+(?P<H>\d{1,2})[:：时](?P<M>\d{2})(?:[:：分](?P<S>\d{2}))?秒?)?"
    r"(?:\s*+(?P<tz>[+\-]\d{2}:?\d{2}|Z|GMT|UTC))?")
CN_FULL_RE = re.compile(rf"(?P<y>[{CN_NUM}]{{4}})年(?P<m>[{CN_NUM}]{{1,2}})月(?P<d>[{CN_NUM}]{{1,3}})日")
MONTH_DAY_RE = re.compile(r"(?<![\d年])(?P<m>\d{1,2})月(?P<d>\d{1,2})日")
YEAR_MONTH_RE = re.compile(r"(?P<y>(?:19|20)\d{2})年(?P<m>\d{1,2})月")
YEAR_RE = re.compile(r"(?P<y>(?:19|20)\d{2})年")
TIMESTAMP_RE = re.compile(r"^\d{10}(?:\d{3})?$")
# The label begins the line or follows a space or a separator: `活动时间：…` or `营业时间：…`
# inside a story is not the page's date line.
LABELLED_RE = re.compile(r"(?:^|(?<=[\s|｜·/】\]]))(?:发布时间|发表时间|发布日期|发表于|时间|日期|更新时间|Published|Date)\s*[:：]?\s*")


EVIDENCE_KINDS = ("structured", "dateline", "container", "text", "collected")


@dataclass
class FoundDate:
    iso: str
    note: str = ""        # non-empty when the date is inferred or incomplete


@dataclass
class DateEvidence:
    """A chosen date and where it was found: `kind` is one of EVIDENCE_KINDS, `where` says
    which declaration or line (\"meta article:published_time\", \"span.h-time\")."""

    iso: str
    kind: str
    where: str = ""

    def label(self) -> str:
        return f"{self.kind}: {self.where}" if self.where else self.kind


def _cn_number(text: str) -> int:
    if all(ch in CN_DIGITS for ch in text):
        return int("".join(str(CN_DIGITS[ch]) for ch in text))
    # 十, 十二, 二十, 三十一
    tens, _, units = text.partition("十")
    return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(units, 0) if units else 0)


def cn_number(text: str) -> int:
    """A number written in Chinese numerals (三, 十二, 二十一)."""
    return _cn_number(text)


def _tz(value: str | None) -> dt.tzinfo:
    if not value or value in ("GMT", "UTC", "Z"):
        return dt.UTC if value else CHINA_TZ
    sign = 1 if value[0] == "+" else -1
    digits = value[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _build(y: int, m: int, d: int, hh: str | None = None, mm: str | None = None, ss: str | None = None,
           tz: str | None = None) -> str | None:
    try:
        if hh is None:
            return dt.date(y, m, d).isoformat()
        stamp = dt.datetime(y, m, d, int(hh), int(mm or 0), int(ss or 0), tzinfo=_tz(tz))
    except ValueError:
        return None
    return stamp.astimezone(CHINA_TZ).isoformat()


def build_day(y: int, m: int, d: int) -> str | None:
    """A calendar day as ISO 8601, or None when no such day exists (2022-02-30)."""
    return _build(y, m, d)


def parse_date_value(value: object) -> str | None:
    """A date from a structured field (front matter, meta tag, timestamp)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=CHINA_TZ)
        return value.astimezone(CHINA_TZ).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if TIMESTAMP_RE.match(text):
        seconds = int(text[:10])
        return dt.datetime.fromtimestamp(seconds, tz=CHINA_TZ).isoformat()
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=CHINA_TZ)
        return parsed.astimezone(CHINA_TZ).isoformat()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parse_date_value(parsed) if ("T" in text or ":" in text) else parsed.date().isoformat()
    except ValueError:
        pass
    found = find_full_date(text)
    return found


def find_full_date(text: str) -> str | None:
    """The first complete date (year, month, day) in `text`."""
    match = FULL_RE.search(text)
    if match:
        g = match.groupdict()
        built = _build(int(g["y"]), int(g["m"]), int(g["d"]), g["H"], g["M"], g["S"], g["tz"])
        if built:
            return built
    match = CN_FULL_RE.search(text)
    if match:
        return _build(_cn_number(match["y"]), _cn_number(match["m"]), _cn_number(match["d"]))
    return None


def find_dateline(text: str, max_chars: int = 80) -> str | None:
    """The date of a short date line (`2022-02-24 15:09:08`, `新华网河北频道 ( 2023-11-07 17:45:00 )`,
    `2022年02月24日 15:09 来源：…`): a complete date in text no longer than a date line."""
    text = " ".join(text.split())
    if not text or len(text) > max_chars or re.search(r"[，。！？；]", text):   # a sentence, not a date line
        return None
    return find_full_date(text)


def find_top_dateline(lines: list[str], max_lines: int = 12, max_chars: int = 60) -> str | None:
    """A text dump's date line: a short dated line among its first lines, before the first
    sentence of the story (`2022年02月24日 15:09`, `( 2023-11-07 17:45:00 )`)."""
    for line in lines[:max_lines]:
        line = line.strip()
        if len(line) >= 40 and "。" in line:
            return None
        if found := find_dateline(line, max_chars):
            return found
    return None


def meta_date(meta: dict, keys: list[str] | tuple[str, ...] = ("date",)) -> object:
    """The front matter's date: the first of `keys` (dates.yaml `front_matter_date_keys`:
    Hexo/Jekyll's `date`, Hugo's `publishDate`, …) that holds a value."""
    return next((meta[k] for k in keys if meta.get(k)), None)


def post_date(meta: dict, blocks: list[str], keys: list[str] | tuple[str, ...] = ("date",)) -> tuple[str | None, str]:
    """A mirrored post's or a feed item's date and its evidence: the story's own date line
    above it outranks the container's date (front matter, the item's pubDate)."""
    declared = parse_date_value(meta_date(meta, keys))
    line = find_top_dateline(blocks, max_lines=3)
    if line and line[:10] != (declared or "")[:10]:
        said = f"; the container says {declared[:10]}" if declared else ""
        return line, f"dateline: the line above the story{said}"
    return declared, f"container: {meta.get('_date_from', 'front matter date')}"


def find_labelled_date(lines: list[str], labels: re.Pattern[str] | None = None) -> str | None:
    """A date on a line that labels it (发布时间：, 发表于 ...), the strongest signal in a page."""
    for line in lines:
        label = (labels or LABELLED_RE).search(line)
        if label:
            found = find_full_date(line[label.end():label.end() + 60])
            if found:
                return found
    return None


def page_years(text: str) -> list[int]:
    return [int(m["y"]) for m in YEAR_RE.finditer(text)]


def infer_date(story: str, page: str) -> FoundDate | None:
    """A date for a story whose page states none: 11月7日 with the year from the page,
    else the latest month the story reports on (截至2021年10月末), both marked for review."""
    lead = story[:300]
    if full := find_full_date(lead):
        day = full[:10]
        return FoundDate(day, f"date: {day} is found only in the story's text; confirm it is the day of publication")
    match = MONTH_DAY_RE.search(lead)
    years = page_years(page)
    if match and years:
        year = max(y for y in years if y <= dt.date.today().year) if any(
            y <= dt.date.today().year for y in years) else years[0]
        iso = _build(year, int(match["m"]), int(match["d"]))
        if iso:
            return FoundDate(iso, f"date: year {year} inferred from the report's own text; it says only "
                                  f"{match.group(0)}")
    months = [(int(m["y"]), int(m["m"])) for m in YEAR_MONTH_RE.finditer(story) if 1 <= int(m["m"]) <= 12]
    if months:
        y, m = max(months)
        return FoundDate(f"{y:04d}-{m:02d}", f"date: no publication date; {y}年{m}月 is the latest month "
                                             "the text reports on")
    return None
