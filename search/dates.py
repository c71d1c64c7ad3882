"""Dates as people write them, for `date:` in queries and the API's date parameters.

Accepted: 2021, 2021年, 2021-3, 2021-03, 2021/3, 2021年3月, 2021-3-5, 2021/03/05,
2021年3月5日 (full-width digits too), and ranges of them joined by `..`, `~`, `至` or `到`
(or a dash, where that is unambiguous: 2021-2022, 2021年3月-2021年6月), open at either end
(`..2021-06`, `2021..`, `2021至今`). A bound is kept at the precision it was written
with, zero-padded (`2021-03`); a month bound covers the whole month. A case's date is a
period too (2021-10 is all of October): it matches a range it overlaps (`matches`).
"""

from __future__ import annotations

import calendar
import re
import unicodedata

from casebook.errors import QueryError

_DATE_RE = re.compile(
    r"(?P<y>[0-9]{4})(?:年)?"
    r"(?:(?:(?<=年)|[-/])(?P<m>[0-9]{1,2})(?:月)?"
    r"(?:(?:(?<=月)|[-/])(?P<d>[0-9]{1,2})(?:日|号)?)?)?")
_RANGE_SEPARATORS = ("..", "~", "至", "到")
OPEN_END_WORDS = ("今", "今天", "现在", "目前")   # 2021至今: from 2021 on
FORMS_HINT = "可写 2021、2021-3、2021-03-05、2021年3月、2021年3月5日，范围写 2021-3..2021-6、..2021-06 或 2021.."


class DateRangeError(QueryError):
    """A date or date range that cannot be read, or whose start is after its end."""


def parse_date(text: str) -> str:
    """One date as a zero-padded ISO prefix: "2021", "2021-03" or "2021-03-05"."""
    raw = unicodedata.normalize("NFKC", text).strip()
    match = _DATE_RE.fullmatch(raw)
    if not match:
        raise DateRangeError(f"日期“{text}”无法识别。{FORMS_HINT}")
    year, month, day = int(match["y"]), match["m"], match["d"]
    if year < 1000:
        raise DateRangeError(f"日期“{text}”的年份无效。{FORMS_HINT}")
    if month is None:
        return f"{year:04d}"
    if not 1 <= int(month) <= 12:
        raise DateRangeError(f"日期“{text}”的月份应在 1 到 12 之间。")
    if day is None:
        return f"{year:04d}-{int(month):02d}"
    last = calendar.monthrange(year, int(month))[1]
    if not 1 <= int(day) <= last:
        raise DateRangeError(f"日期“{text}”的日应在 1 到 {last} 之间。")
    return f"{year:04d}-{int(month):02d}-{int(day):02d}"


def split_range(text: str) -> tuple[str, str, bool]:
    """(start text, end text, whether a separator was written)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    for separator in _RANGE_SEPARATORS:
        if separator in raw:
            start, _, end = raw.partition(separator)
            return start.strip(), end.strip(), True
    return raw, raw, False


def parse_range(text: str) -> tuple[str | None, str | None]:
    """A date or range as (start, end) bounds, None where the range is open. A lone date is
    the range of itself (2021-3 is the whole of March 2021)."""
    start_text, end_text, ranged = split_range(text)
    if not ranged:
        start_text, end_text, ranged = dash_range(start_text)
    if ranged and end_text in OPEN_END_WORDS:
        end_text = ""
    if ranged and not start_text and not end_text:
        raise DateRangeError(f"日期范围“{text}”两端都没有日期。{FORMS_HINT}")
    if not ranged and not start_text:
        raise DateRangeError(f"日期为空。{FORMS_HINT}")
    start = parse_date(start_text) if start_text else None
    end = parse_date(end_text) if end_text else None
    return check_order(start, end, text)


def dash_range(text: str) -> tuple[str, str, bool]:
    """2021-2022 or 2021年3月-2021年6月: a dash between two dates, when the whole is not one
    date (2021-12 stays December 2021) and exactly one dash splits it into two."""
    try:
        parse_date(text)
        return text, text, False
    except DateRangeError:
        pass
    splits = []
    for match in re.finditer(r"[-–—]", text):
        start, end = text[:match.start()].strip(), text[match.end():].strip()
        if _DATE_RE.fullmatch(start) and _DATE_RE.fullmatch(end):
            splits.append((start, end))
    return (*splits[0], True) if len(splits) == 1 else (text, text, False)


def check_order(start: str | None, end: str | None, written: str) -> tuple[str | None, str | None]:
    """The bounds, or an error when the start comes after the end (compared at the coarser
    precision of the two: 2021-06..2021 is June to December 2021, not inverted)."""
    if start and end:
        common = min(len(start), len(end))
        if start[:common] > end[:common]:
            raise DateRangeError(f"日期范围“{written}”的起点晚于终点，请交换两端。")
    return start, end


def is_dated(date: str) -> bool:
    """Whether a case's date holds at least a year (an undated draft's is empty)."""
    return len(date) >= 4 and date[:4].isdigit()


def matches(date: str, start: str | None, end: str | None) -> bool:
    """Whether a case's date (an ISO date, or a prefix of one: 2021, 2021-10) overlaps the
    range. Both sides are periods compared at the coarser precision of the two, as bounds
    are: a case dated 2021-10 is in 2021-10-05..2021-10-20 (it may lie there; a range never
    silently loses such a case), one dated 2021-09 is not. An undated case is in no range."""
    if not is_dated(date):
        return False
    low = start is None or date[:len(start)] >= start[:len(date)]
    return low and (end is None or date[:len(end)] <= end[:len(date)])
