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
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, elementRef: true});
  const rules = (kind) => result[kind].map((r) => r.id);
  return {
    checked: [...rules("passes"), ...rules("violations"), ...rules("incomplete"), ...rules("inapplicable")],
    // Contrast axe could not measure: text over an image or a gradient, or hidden behind another
    // element. Only SVG text is allowed here (axe never measures it: the map's labels).
    unmeasured: result.incomplete.filter((r) => r.id === "color-contrast").flatMap((r) => r.nodes)
      .filter((n) => !n.element.closest("svg")).map((n) => n.target.join(" ")),
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
    # "load", then the web fonts: pages have no script but the search page's, which is waited
    # for below ("networkidle" timed out now and then on this busy machine).
    response = page.goto(url, wait_until="load")
    page.evaluate("document.fonts.ready.then(() => true)")
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
            for v in result["violations"] for n in v["nodes"]] + [
            f"color-contrast (unmeasured) at {target}: axe could not tell the background; give the text a plain one"
            for target in result["unmeasured"]]


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


def other_kinds_of_page(output) -> list[str]:  # type: ignore[no-untyped-def]
    """One page of every other kind the build writes (indexes of banks, regions, programmes,
    tags and years; a programme, tag and year page; the archive; a draft), beyond KINDS."""
    def kind(path: str) -> tuple[str, int]:   # its folder and depth: regions/四川省/ and regions/四川省/成都市/ differ
        parts = path.split("/")
        return parts[0], len(parts)

    named = {kind((p.split("?")[0].strip("/") + "/index.html").lstrip("/")) for p in page_paths(output).values()}
    chosen: dict[tuple[str, int], str] = {}
    for path in sorted(p.relative_to(output).as_posix() for p in output.rglob("*.html")):
        if kind(path) not in named and path != "404.html":
            chosen.setdefault(kind(path), path)
    return sorted(chosen.values())


def test_every_other_kind_of_page_passes_axe(browser, site_url, built_site, axe_source):
    """axe on the rest of the site at the phone width, where layouts are tightest: with the
    kinds above, every page template is checked, so the static checks of lang, title, image
    alt text and form labels (html-has-lang, document-title, image-alt, label) live here."""
    pages = other_kinds_of_page(built_site["output"])
    assert {"tags/index.html", "archives/index.html"} <= set(pages) and any(p.startswith("drafts/") for p in pages)
    found = []
    for path in pages:
        page, response = open_page(browser, f"{site_url}/{path}", 375)
        assert response.status == 200, path
        found += [f"{path}: {v}" for v in axe_violations(page, axe_source)]
        page.close()
    if found:
        pytest.fail(f"axe: {len(found)} WCAG 2.1 A/AA violation(s):\n" + "\n".join(found), pytrace=False)


def test_axe_reports_violations_it_is_given(browser, site_url, axe_source):
    """The check can fail: faint text, an image without alt text and text on a gradient (whose
    contrast axe cannot measure), added to a clean page through the DOM (the policy forbids
    inline styles, not script-set ones), are reported."""
    page, _response = open_page(browser, site_url + "/no/such/page/", 1280)
    page.evaluate("""() => {
      const p = document.createElement("p"); p.textContent = "浅色文字"; p.style.color = "#cccccc";
      const img = document.createElement("img"); img.src = "/theme/css/style.css";
      const over = document.createElement("p"); over.textContent = "渐变背景上的文字";
      over.style.backgroundImage = "linear-gradient(#000000, #ffffff)";
      document.querySelector("main").append(p, img, over);
    }""")
    violations = axe_violations(page, axe_source)
    assert any(v.startswith("color-contrast (serious)") for v in violations), violations
    assert any(v.startswith("image-alt (critical)") for v in violations), violations
    assert any(v.startswith("color-contrast (unmeasured)") for v in violations), violations
    page.close()


# Where 200% text does not fit: sideways scroll, text an overflow:hidden box cuts, text taller
# than a box of fixed height, and labels cut off at the edge of an SVG.
TEXT_DOES_NOT_FIT = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth) {
    problems.push(`the page scrolls sideways: ${root.scrollWidth}px wide in a ${window.innerWidth}px window`);
  }
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const shown = (el, style) => {
    const box = el.getBoundingClientRect();
    // Visually hidden on purpose (the skip link and labels kept for screen readers sit far off-screen).
    return style.display !== "none" && style.visibility !== "hidden" && box.right > 0 && box.bottom > 0;
  };
  // Content taller than its box is text cut or spilling only where the box's height is set:
  // a box of automatic height grows, and its few pixels of overflow are glyphs' ink.
  const heightIsFixed = (el) => {
    const [height, maxHeight, fixedHeight] = [el.style.height, el.style.maxHeight, el.clientHeight];
    el.style.height = "auto"; el.style.maxHeight = "none";
    const grown = el.clientHeight > fixedHeight + 1;
    el.style.height = height; el.style.maxHeight = maxHeight;
    return grown;
  };
  for (const el of document.body.querySelectorAll("*")) {
    if (el instanceof SVGElement || !el.textContent.trim()) { continue; }
    const style = getComputedStyle(el);
    if (!shown(el, style)) { continue; }
    const cuts = (axis) => ["hidden", "clip"].includes(axis) || style.textOverflow === "ellipsis";
    if (cuts(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${name(el)} cuts its text sideways (${el.scrollWidth}px in ${el.clientWidth}px)`);
    }
    if (cuts(style.overflowY) && el.scrollHeight > el.clientHeight + 1) {
      problems.push(`${name(el)} cuts its text at the bottom (${el.scrollHeight}px in ${el.clientHeight}px)`);
    }
    if (style.overflowY === "visible" && style.display !== "inline" && el.clientHeight > 0 && ownText(el) &&
        el.scrollHeight > el.clientHeight + 1 && heightIsFixed(el)) {
      problems.push(`${name(el)}'s text is taller than its fixed height (${el.scrollHeight}px in ${el.clientHeight}px)`);
    }
  }
  for (const svg of document.querySelectorAll("svg")) {
    const frame = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text")) {
      const box = text.getBoundingClientRect();
      if (box.left < frame.left - 1 || box.right > frame.right + 1 || box.top < frame.top - 1 ||
          box.bottom > frame.bottom + 1) {
        problems.push(`svg text "${text.textContent}" is cut off at the edge of the drawing`);
      }
    }
  }
  return problems;
}"""


def text_size(page) -> float:  # type: ignore[no-untyped-def]
    return page.evaluate("parseFloat(getComputedStyle(document.querySelector('main p, main li')).fontSize)")


def double_the_text(page, cdp, mode: str) -> None:  # type: ignore[no-untyped-def]
    """Text at 200%, two ways. "font-setting": Chromium's own text size setting (Settings >
    Appearance > Font size, here 32 px for the default 16 px, set through the DevTools
    protocol) is what a reader changes to get larger text without zooming the page, the case
    WCAG 1.4.4 is about; rem breakpoints follow it, so a wide window may switch to the narrow
    layout. "root-200": the root element's font size doubled by script, breakpoints left in
    CSS pixels: the wide layout with twice the text, the harder case for fixed columns.
    "reset" undoes either."""
    standard = 32 if mode == "font-setting" else 16
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": standard, "fixed": 13 * standard // 16}})
    page.evaluate("""(double) => { const root = document.documentElement; root.style.fontSize = "";
      if (double) { root.style.fontSize = 2 * parseFloat(getComputedStyle(root).fontSize) + "px"; } }""",
                  mode == "root-200")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", KINDS)
def test_text_at_200_percent_fits(browser, site_url, built_site, name, width):
    page, _response = open_page(browser, site_url + page_paths(built_site["output"])[name], width)
    normal = text_size(page)
    cdp = page.context.new_cdp_session(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    found = []
    for mode in ("font-setting", "root-200"):
        double_the_text(page, cdp, mode)
        assert text_size(page) == pytest.approx(2 * normal, rel=0.02), (mode, normal, text_size(page))
        found += [f"({mode}) {problem}" for problem in page.evaluate(TEXT_DOES_NOT_FIT)]
        # A full-page screenshot resizes the view, which drops Chromium's font setting: that
        # mode's picture is of the window only.
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}-text200-{mode}.png"), full_page=mode == "root-200")
        double_the_text(page, cdp, "reset")
        assert text_size(page) == pytest.approx(normal, rel=0.02), (mode, "not undone")
    if found:
        pytest.fail(f"{name} at {width}px with 200% text:\n" + "\n".join(found), pytrace=False)
    page.close()


def test_the_fit_check_sees_cut_text(browser, site_url):
    """The check can fail: a box of fixed height that hides what does not fit, one that lets
    it spill, and a line too wide for the window, added to a page through the DOM (script-set
    styles, which the policy allows), are reported."""
    page, _response = open_page(browser, site_url + "/no/such/page/", 375)
    page.evaluate("""() => {
      const box = document.createElement("p"); box.textContent = "固定高度的方框里放不下的文字。".repeat(8);
      Object.assign(box.style, {height: "2rem", overflow: "hidden"});
      const spills = document.createElement("div"); spills.textContent = "溢出".repeat(40);
      spills.style.height = "1rem";
      const wide = document.createElement("p"); wide.textContent = "宽"; wide.style.width = "900px";
      document.querySelector("main").append(box, spills, wide);
    }""")
    problems = page.evaluate(TEXT_DOES_NOT_FIT)
    assert any("scrolls sideways" in p for p in problems), problems
    assert any(p.startswith("p cuts its text at the bottom") for p in problems), problems
    assert any(p.startswith("div's text is taller than its fixed height") for p in problems), problems
    # ... and only those: the page itself fits.
    assert len(problems) == 3, problems
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
