"""Pages in a real browser: Debian's chromium driven by Playwright, at phone and desktop
widths. Screenshots are kept in artifacts/screenshots for review."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.shared, pytest.mark.browser]
ARTIFACTS = ROOT / "artifacts" / "screenshots"


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]   # WCAG 2.1 A and AA, contrast included
# axe is evaluated through the DevTools protocol (page.evaluate), which the page's
# Content-Security-Policy does not govern: add_script_tag would insert an inline <script> the
# policy blocks, and bypass_csp=True would check a page other than the one users get.
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  const rules = (kind) => result[kind].map((r) => r.id);
  return {
    checked: [...rules("passes"), ...rules("violations"), ...rules("incomplete"), ...rules("inapplicable")],
    violations: result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    })),
  };
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    """The pinned axe-core release from the npm registry (tools/fetch_axe.py; `make test`
    fetches it first, so this finds it in var/cache/axe-core/)."""
    from tools.fetch_axe import AxeFetchError, axe_script

    try:
        return axe_script().read_text(encoding="utf-8")
    except AxeFetchError as exc:
        pytest.fail(str(exc))


def page_paths(output) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """One page of each kind the issue names, from the built sample site."""
    def first(folder: str, pattern: str = "*") -> str:
        return sorted(p.name for p in (output / folder).glob(pattern) if p.is_dir())[0]

    return {"home": "/", "case": f"/cases/{first('cases', '2022-02-24-*')}/",
            "category": "/categories/grid-based-services/", "bank": f"/banks/{first('banks')}/",
            "region": f"/regions/{first('regions')}/", "search": "/search/?q=适老化", "live-search": "/search/",
            "error": "/no/such/page/"}


KINDS = ["home", "case", "category", "bank", "region", "search", "live-search", "error"]
WIDTHS = [375, 1280]


def open_page(browser, url: str, width: int, errors: list[str] | None = None):  # type: ignore[no-untyped-def]
    """The page loaded and settled. /search/?q= is the server's rendering of the results;
    /search/ is searched by typing, and the results and facet checkboxes the script renders
    from /api/search are there before anything is checked."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    if url.endswith("/search/"):     # the live search: typed, then rendered by the script
        page.fill("#q", "适老化")
        page.press("#q", "Enter")
        page.wait_for_selector("#search-facets input[type=checkbox]")
    if "/search/" in url:
        page.wait_for_selector("#search-results li mark")
    return page, response


def axe_violations(page, axe_source: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Every WCAG 2.1 A/AA violation axe finds, one line per element: rule id, impact,
    target, help URL and axe's summary of what fails."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    result = page.evaluate(RUN_AXE, AXE_TAGS)
    # axe ran the rules: contrast among them, so a clean result is not for want of checking.
    assert "color-contrast" in result["checked"] and len(result["checked"]) > 40, result["checked"]
    return [f"{v['id']} ({v['impact']}) at {n['target']}: {v['help']} <{v['helpUrl']}> {n['summary']}"
            for v in result["violations"] for n in v["nodes"]]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", KINDS)
def test_page_passes_axe_and_fits(browser, site_url, built_site, axe_source, name, width):
    errors: list[str] = []
    page, response = open_page(browser, site_url + page_paths(built_site["output"])[name], width, errors)
    assert response.status == (404 if name == "error" else 200)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    violations = axe_violations(page, axe_source)
    if violations:
        pytest.fail(f"axe: {len(violations)} WCAG 2.1 A/AA violation(s) on {name} at {width}px:\n"
                    + "\n".join(violations), pytrace=False)
    # What axe does not check: script errors, one h1, sideways scroll, and the skip link
    # being the first stop of the keyboard.
    assert errors == []
    assert page.locator("h1").count() == 1
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} scrolls sideways at {width}px"
    if name != "live-search":    # (typing there moved the focus; its HTML is the search page's)
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
    page.close()


def test_axe_reports_violations_it_is_given(browser, site_url, axe_source):
    """The check can fail: faint text and an image without alt text, added to a clean page
    through the DOM (the policy forbids inline styles, not script-set ones), are reported."""
    page, _response = open_page(browser, site_url + "/no/such/page/", 1280)
    page.evaluate("""() => {
      const p = document.createElement("p"); p.textContent = "浅色文字"; p.style.color = "#cccccc";
      const img = document.createElement("img"); img.src = "/theme/css/style.css";
      document.querySelector("main").append(p, img);
    }""")
    violations = axe_violations(page, axe_source)
    assert any(v.startswith("color-contrast (serious)") for v in violations), violations
    assert any(v.startswith("image-alt (critical)") for v in violations), violations
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
