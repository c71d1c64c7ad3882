"""The preview's review pages in real chromium, served by `casebook serve` with the site's
Content-Security-Policy: the queue and the side-by-side diff raise no CSP violation, are
styled by the theme's CSS, and fit a phone's width (the diff scrolls inside its own box)."""

from __future__ import annotations

import pytest

from scraper.ingest import ingest
from tests.conftest import SEEDS_RAW, start_server, stop_server
from tests.test_browser_csp import _visit

pytestmark = [pytest.mark.browser]
EDITED = "2021-12-30-guidong-nongshang-yinhang-danghao-jinrong-wangge"
DRAFT = "2021-10-zhongguojiansheyinhang-shanxisheng-fenhang-jin-shequ-xin"


@pytest.fixture(scope="module")
def review_site(tmp_path_factory, settings):  # type: ignore[no-untyped-def]
    from casebook.app.build import build_site

    root = tmp_path_factory.mktemp("review-site")
    cases = root / "content" / "cases"
    ingest([str(SEEDS_RAW)], settings, out_dir=cases)
    edited = cases / f"{EDITED}.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("为百姓提供", "为居民提供")
                      + "\n" + "编辑补充的一段很长的说明，" * 30 + "<b>粗体</b>\n", encoding="utf-8")
    ingest([str(SEEDS_RAW / "002_94ab2356a5567251.txt")], settings, out_dir=cases)
    build_site(root / "content", root / "output", root / "index", preview=True)
    process, base = start_server(root / "output", root / "index")
    yield base
    stop_server(process)


@pytest.mark.parametrize("width", [375, 1280])
def test_review_pages_work_under_the_policy(browser, review_site, width):
    for path in ("review/", f"review/{EDITED}/"):
        violations, (page, response) = _visit(browser, f"{review_site}/{path}")
        page.set_viewport_size({"width": width, "height": 900})
        assert response.status == 200 and violations == [], (path, violations)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (path, width)
        if path == "review/":
            assert page.locator("h1").inner_text() == "待审核"
            link = page.locator(f'a[href="/drafts/{DRAFT}/"]')
            assert link.count() == 1
            link.click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/drafts/{DRAFT}/")
        else:
            table = page.locator("table.diff")
            assert table.count() == 1
            # The theme styles the changes (a background colour, not the browser's default).
            changed = page.locator("table.diff .diff_chg, table.diff .diff_add").first
            assert changed.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "")
            # The editor's markup is text on the page, never an element.
            assert page.locator("table.diff b").count() == 0 and "<b>粗体</b>" in table.inner_text()
        page.close()
