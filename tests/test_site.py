"""A real Pelican build of the seed cases: pages present, links resolve, feeds and sitemap
valid, basic accessibility, datasets complete."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from lxml import etree, html

pytestmark = pytest.mark.shared


def _pages(output: Path) -> list[Path]:
    return sorted(output.rglob("*.html"))


def test_every_case_and_browse_page_is_built(built_site):
    out = built_site["output"]
    assert built_site["result"].articles == 4 and built_site["result"].drafts == 1
    for rel in ("index.html", "categories/index.html", "tags/index.html", "banks/index.html", "regions/index.html",
                "programs/index.html", "archives/index.html", "search/index.html", "years/2022/index.html",
                "categories/branches-in-communities/index.html", "tags/age-friendly/index.html",
                "regions/si-chuan-sheng/index.html", "regions/si-chuan-sheng/cheng-du-shi/index.html",
                "banks/shang-hai-nong-shang-yin-hang/index.html", "programs/xin-jia-yuan/index.html"):
        assert (out / rel).exists(), rel
    case_pages = list((out / "cases").glob("*/index.html"))
    assert len(case_pages) == 4
    assert any(p.parent.name.startswith("2021-10-") for p in (out / "drafts").glob("*/index.html"))


def test_internal_links_resolve(built_site):
    out = built_site["output"]
    broken = []
    for page in _pages(out):
        tree = html.parse(str(page))
        for href in tree.xpath("//a/@href | //link[@rel='stylesheet']/@href | //script/@src"):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("#", "mailto:")):
                continue
            path = unquote(parts.path)
            if path.startswith("/api/") or not path:
                continue
            target = out / path.lstrip("/")
            if path.endswith("/"):
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(out)} -> {href}")
    assert broken == []


def test_feeds_and_sitemap_are_valid_xml(built_site):
    out = built_site["output"]
    feed = etree.parse(str(out / "feeds" / "all.atom.xml"))
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 4
    assert list((out / "feeds" / "categories").glob("*.atom.xml"))
    sitemap = etree.parse(str(out / "sitemap.xml"))
    urls = [u.text for u in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert any("/cases/" in u for u in urls) and not any("/drafts/" in u for u in urls)


def test_pages_have_a_viewport_and_an_outline(built_site):
    """What axe's WCAG rules leave out (language, title, alt text and labels are checked by
    axe in tests/test_browser.py, on every kind of page): the viewport, one h1, no heading
    level skipped."""
    for page in _pages(built_site["output"]):
        tree = html.parse(str(page))
        root = tree.getroot()
        assert tree.xpath("//meta[@name='viewport']"), page
        levels = [int(h.tag[1]) for h in root.iter("h1", "h2", "h3", "h4")]
        assert levels.count(1) == 1, f"{page}: one h1"
        for before, after in itertools.pairwise(levels):
            assert after <= before + 1, f"{page}: heading jumps from h{before} to h{after}"


def test_case_page_has_facts_citation_and_structured_data(built_site):
    page = next((built_site["output"] / "cases").glob("2022-02-24-*/index.html"))
    tree = html.parse(str(page))
    facts = " ".join(tree.xpath("//aside[@class='facts']//text()"))
    for needle in ("成都农商银行", "四川省", "成华区", "网点进社区", "华西社区传媒", "趣头条", "彭戎"):
        assert needle in facts
    data = json.loads(tree.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["@type"] == "NewsArticle" and data["headline"].startswith("整合金融资源")
    assert tree.xpath("//meta[@property='og:title']")
    assert "如何引用" in tree.xpath("string(//section[@class='cite'])")
    assert all(img.get("loading") == "lazy" for img in tree.xpath("//div[@class='case-body']//img"))


def test_datasets_hold_every_field(built_site):
    out = built_site["output"]
    rows = json.loads((out / "data" / "cases.json").read_text(encoding="utf-8"))
    assert len(rows) == 4
    assert {"title", "slug", "date", "banks", "province", "programs", "figures", "url"} <= set(rows[0])
    with (out / "data" / "cases.csv").open(encoding="utf-8-sig") as fh:
        assert len(list(csv.DictReader(fh))) == 4


def test_broken_case_is_skipped_and_strict_fails(tmp_path, seed_content):
    import shutil

    from casebook.app.build import build_site
    from casebook.errors import CasebookError

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    (content / "cases" / "broken.md").write_text("---\ntitle: 坏文件\n---\n正文\n", encoding="utf-8")
    result = build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    assert result.articles == 4 and result.drafts == 0
    assert any("broken.md" in f and "date" in f for f in result.failed)
    with pytest.raises(CasebookError, match="broken"):
        build_site(content, tmp_path / "out2", tmp_path / "index2", preview=False, strict=True)


def _tree(folder):  # type: ignore[no-untyped-def]
    """Every file of a built site but the build's own cache folder (OUTPUT/.casebook), byte
    for byte; cases.db by content (an updated file holds a full build's rows, elsewhere)."""
    from casebook.app.datasets import database_content

    return {p.relative_to(folder).as_posix(): database_content(p) if p.name == "cases.db" else p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".casebook" not in p.relative_to(folder).parts}


def test_rebuild_renders_only_what_changed_and_equals_a_full_build(tmp_path, seed_content):
    """After each edit (a body, a removal, a title, a data file, a template, a setting) and
    after a removal followed by emptying the output folder, the incremental output is the
    output of a full build from scratch, file for file, and a body edit re-renders few pages."""
    import shutil

    from casebook.app.build import build_site
    from casebook.data import DEFAULT_DATA_DIR
    from casebook.settings import ROOT

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    out, index = tmp_path / "out", tmp_path / "index"
    options: dict = {}
    first = build_site(content, out, index)
    assert first.pages_reused == 0 and first.pages_rendered > 20

    def check_against_full_build(name: str) -> None:
        fresh = build_site(content, tmp_path / f"fresh-{name}", tmp_path / f"index-{name}", **options)
        assert fresh.pages_reused == 0
        incremental, full = _tree(out), _tree(tmp_path / f"fresh-{name}")
        assert incremental.keys() == full.keys(), name
        assert [n for n in full if incremental[n] != full[n]] == [], name

    case = next((content / "cases").glob("2025-01-09-*.md"))
    front, body = case.read_text(encoding="utf-8").split("\n---\n", 1)   # the body only, not the title
    case.write_text(front + "\n---\n" + body.replace("心家园", "心家苑", 1), encoding="utf-8")
    edited = build_site(content, out, index)
    assert 0 < edited.pages_rendered < first.pages_rendered / 2 and edited.pages_reused > 0
    assert first.database == "written" and edited.database == "updated"
    assert "心家苑" in next(out.glob("cases/2025-01-09-*/index.html")).read_text(encoding="utf-8")
    check_against_full_build("body")

    removed = next((content / "cases").glob("2022-02-24-*.md"))
    removed.unlink()
    build_site(content, out, index)
    assert not list(out.glob("cases/2022-02-24-*"))
    check_against_full_build("removed")

    text = case.read_text(encoding="utf-8")
    title = next(line for line in text.splitlines() if line.startswith("title:"))
    case.write_text(text.replace(title, title + "（修订）", 1), encoding="utf-8")
    retitled = build_site(content, out, index)
    assert retitled.pages_reused == 0          # titles show on many pages: everything again
    check_against_full_build("title")

    # A data file: the bank registry's label of a bank type shows on the banks page.
    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    banks = data / "banks.yaml"
    banks.write_text(banks.read_text(encoding="utf-8").replace("rural: 农村商业银行", "rural: 农村商业银行（农商行）", 1),
                     encoding="utf-8")
    options = {"data_dir": data}
    relabelled = build_site(content, out, index, **options)
    assert relabelled.pages_reused == 0
    assert "农村商业银行（农商行）" in (out / "banks" / "index.html").read_text(encoding="utf-8")
    check_against_full_build("data")

    # A template of a copy of the theme.
    theme = tmp_path / "theme"
    shutil.copytree(ROOT / "theme", theme)
    base = theme / "templates" / "base.html"
    base.write_text(base.read_text(encoding="utf-8").replace("</footer>", "<p>模板修改</p></footer>", 1),
                    encoding="utf-8")
    options = {"data_dir": data, "overrides": {"THEME": str(theme)}}
    retemplated = build_site(content, out, index, **options)
    assert retemplated.pages_reused == 0
    assert "模板修改" in (out / "index.html").read_text(encoding="utf-8")
    check_against_full_build("template")

    # A setting: two cases a page, so lists gain pages.
    options = {"data_dir": data, "overrides": {"THEME": str(theme), "DEFAULT_PAGINATION": 2}}
    build_site(content, out, index, **options)
    assert (out / "page" / "2" / "index.html").is_file()
    check_against_full_build("setting")

    # A removal, then the output folder emptied by hand (`rm -rf output && casebook build`
    # crashed on the record of the removed case's pages): a full build.
    next((content / "cases").glob("2021-12-30-*.md")).unlink()
    shutil.rmtree(out)
    rebuilt = build_site(content, out, index, **options)
    assert rebuilt.pages_reused == 0 and not list(out.glob("cases/2021-12-30-*"))
    check_against_full_build("emptied")


def test_cases_of_one_date_are_listed_by_slug(tmp_path, seed_content):
    """Cases of the same moment keep one order (by slug) whatever order the file system
    lists their files in: lists, year pages and previous/next links never shuffle."""
    import re
    import shutil

    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    source = next((content / "cases").glob("2025-01-09-*.md"))
    text = source.read_text(encoding="utf-8")
    slug = re.search(r"^slug: (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]
    for twin in ("zz-twin", "aa-twin"):     # written in reverse order of their slugs
        (content / "cases" / f"{twin}.md").write_text(text.replace(slug, f"{slug}-{twin}"), encoding="utf-8")
    build_site(content, tmp_path / "out", tmp_path / "index")
    year = (tmp_path / "out" / "years" / "2025" / "index.html").read_text(encoding="utf-8")
    found = re.findall(rf'href="/cases/({re.escape(slug)}[^/"]*)/"', year)
    order = list(dict.fromkeys(found))
    assert order == sorted(order) and len(order) == 3


def test_shipped_slug_table_is_current():
    """Region, bank and programme pages take their URLs from scraper/data/slugs.json; it must
    say what tools/build_slugs.py makes of the data files now."""
    import json

    from casebook.data import load_data
    from plugins.casebook_site.generator import SLUG_TABLE
    from tools.build_slugs import build_table

    shipped = json.loads((load_data().directory / SLUG_TABLE).read_text(encoding="utf-8"))
    fresh = build_table()
    assert shipped["regions"] == fresh["regions"], "regions changed: run python tools/build_slugs.py"
    assert shipped["names"] == fresh["names"], "banks or programmes changed: run python tools/build_slugs.py"
    assert shipped["regions"]["山西省"] != shipped["regions"]["陕西省"]
