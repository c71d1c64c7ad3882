"""24 real Chinese pages that are not cases: each is read, decoded and rejected with a reason."""

from __future__ import annotations

import pytest

from scraper.pipeline import extract_input
from tests.conftest import FIXTURE_PAGES

pytestmark = pytest.mark.shared
PAGES = sorted(FIXTURE_PAGES.glob("*.html")) if FIXTURE_PAGES.exists() else []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_page_is_rejected_cleanly(page, settings):
    result = extract_input(str(page), settings)
    assert result.error is None, result.error
    assert result.cases, "the page's story must be extracted before it is judged"
    for case in result.cases:
        assert case.relevant is False
        assert case.reason
        assert "\ufffd" not in (case.title or "") + case.body[:2000], "decoding produced replacement characters"


@pytest.mark.parametrize(("name", "title_part"), [
    ("023_people", "心成长"),          # meta says GB2312, bytes are UTF-8
    ("037_xinhuanet-he-gbk", "约定无期限"),  # Wayback wrapper: utf-8 outside, GBK inside
    ("034_weixin", "退役军人"),       # WeChat: msg_title
    ("041_sina-tw", "戰勝"),          # a rejected Traditional story is reported as written
])
def test_encoding_traps_and_titles(name, title_part, settings):
    case = extract_input(str(FIXTURE_PAGES / f"{name}.html"), settings).cases[0]
    assert title_part in case.title


def test_wechat_timestamp_date(settings):
    case = extract_input(str(FIXTURE_PAGES / "034_weixin.html"), settings).cases[0]
    assert case.date == "2022-07-31T21:34:31+08:00"


def test_disclaimer_footer_dropped(settings):
    case = extract_input(str(FIXTURE_PAGES / "025_163.html"), settings).cases[0]
    assert "特别声明" not in case.body and "Notice" not in case.body


def test_bank_near_misses_say_why(settings):
    for name in ("021_caijing", "022_sina"):
        case = extract_input(str(FIXTURE_PAGES / f"{name}.html"), settings).cases[0]
        assert not case.relevant and "bank" in case.reason
