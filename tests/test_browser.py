"""Pages in a real browser: Debian's chromium driven by Playwright, at phone and desktop
widths. Screenshots are kept in artifacts/screenshots for review."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.shared, pytest.mark.browser]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


PAGES = {"home": "/", "case": "/cases/{case}/", "category": "/categories/grid-based-services/",
         "search": "/search/?q=适老化"}


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("name", list(PAGES))
def test_page_renders_and_fits(browser, site_url, built_site, name, width):
    case = next((built_site["output"] / "cases").glob("2022-02-24-*")).name
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site_url + PAGES[name].format(case=case))
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    assert errors == []
    assert page.locator("h1").count() == 1
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} scrolls sideways at {width}px"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.close()


def test_live_search_updates_results_and_url(browser, site_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(site_url + "/search/")
    page.fill("#q", "心家园")
    page.press("#q", "Enter")
    page.wait_for_selector("#search-results li")
    assert "q=" in page.url and "心家园" in page.inner_text("#search-results")
    assert page.locator("#search-results mark").count() >= 1
    checkbox = page.locator("#search-facets input[type=checkbox]").first
    checkbox.check()
    page.wait_for_function("location.search.includes('category=')")
    page.close()


@pytest.mark.parametrize("path", ["/no/such/page/", "/cases/no-such-case/", "/missing.html", "/categories/x/y/z"])
def test_unknown_address_gets_the_chinese_404_page(browser, site_url, path):
    page = browser.new_page(viewport={"width": 375, "height": 900})
    response = page.goto(site_url + path)
    assert response.status == 404 and response.headers["content-type"].startswith("text/html")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.title().startswith("页面不存在")
    assert page.inner_text("h1") == "页面不存在"
    assert "您要找的页面可能已被移动或删除" in page.inner_text("main")
    assert page.locator("header.site-header nav a").count() >= 5   # the site's own navigation
    # Its links lead back from any depth: home and search both answer 200.
    page.click("main a:has-text('首页')")
    assert page.evaluate("location.pathname") == "/" and page.locator("h1").inner_text() != "页面不存在"
    page.go_back()
    page.click("main a:has-text('搜索')")
    page.wait_for_selector("#search-form")
    assert page.evaluate("location.pathname") == "/search/"
    page.close()


def test_unknown_api_address_stays_a_json_error(site_url):
    import httpx

    reply = httpx.get(site_url + "/api/no-such-endpoint")
    assert reply.status_code == 404 and reply.headers["content-type"] == "application/json"
    assert "openapi" in reply.json()["error"]
    page = httpx.get(site_url + "/no/such/page/")
    assert page.status_code == 404 and "<title>页面不存在" in page.text and 'lang="zh-CN"' in page.text
