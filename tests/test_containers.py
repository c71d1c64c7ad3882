"""The same story in any container gives the same case (issue 14).

The seed stories are placed, at test time, into the article blocks of every real page of
../shared/fixtures/pages (in their own encodings, furniture untouched), into Hexo and Jekyll
posts, RSS items and a transcript day (bench/containers.py builds them); each must give
exactly the seed's case. Then the parts one by one: date evidence on the real fixture pages,
furniture rules by shape, feeds with full-text and summary items through a real HTTP server.
"""

from __future__ import annotations

import html
import http.server
import threading

import pytest

from bench import containers
from casebook.data import load_data
from casebook.settings import load
from scraper.boilerplate import furniture_reason, strip_boilerplate
from scraper.pipeline import extract_input
from tests.conftest import FIXTURE_PAGES

pytestmark = pytest.mark.shared

DATA = load_data()
VARIANTS = containers.variants() if containers.SEEDS.exists() else []


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_variant_gives_exactly_the_seed_case(variant, tmp_path, settings):
    path = tmp_path / variant.filename
    path.write_bytes(variant.raw)
    result = extract_input(str(path), settings)
    assert result.error is None, result.error
    assert containers.problems(variant, result.cases) == []


def test_variants_cover_every_fixture_page_and_container_shape():
    names = [v.name.split(":")[0] for v in VARIANTS]
    assert {p.stem for p in FIXTURE_PAGES.glob("*.html")} <= set(names)
    for shape in ("hexo", "jekyll", "rss-content", "rss-description", "xwlb-"):
        assert any(n.startswith(shape) for n in names), shape
    # The pages keep their own encodings: the GBK page is still GBK bytes.
    gbk = next(v for v in VARIANTS if v.name.startswith("037_"))
    assert "话剧".encode("gbk") not in gbk.raw and containers.load_seeds()[1].title.encode("gbk") in gbk.raw


@pytest.mark.parametrize(("page", "date", "evidence"), [
    ("039_xinhuanet.html", "2020-02-19T20:29:58+08:00", "dateline: the line under the headline"),
    ("037_xinhuanet-he-gbk.html", "2012-06-04T09:20:26+08:00", "dateline: the line under the headline"),
    ("041_sina-tw.html", "2020-01-21T11:12:51+08:00", "structured: meta article:published_time"),
    ("034_weixin.html", "2022-07-31T21:34:31+08:00", "structured: WeChat ct"),
])
def test_fixture_page_dates_and_their_evidence(page, date, evidence, settings):
    case = extract_input(str(FIXTURE_PAGES / page), settings).cases[0]
    assert (case.date, case.date_evidence) == (date, evidence)
    assert not any(r.startswith("date:") for r in case.review)


def _page(dateline: str, sidebar: str = "") -> str:
    story = "".join(f"<p>{'成都农商银行在社区开设便民服务站，为老年居民上门办理社保卡业务。' * 3}</p>" for _ in range(4))
    return (f"<html><head><title>农商银行便民服务站进社区_某某网</title></head><body>"
            f"<div class='nav'><a href='/'>首页</a></div><h1>农商银行便民服务站进社区</h1>{dateline}"
            f"<div class='content'>{story}</div>{sidebar}"
            "<div class='footer'>Copyright © 2017 某某网 版权所有</div></body></html>")


@pytest.mark.parametrize(("dateline", "iso"), [
    ("<div class='info'>2022年02月24日 15:09 来源：某某网</div>", "2022-02-24T15:09:00+08:00"),
    ("<p>发布时间：2021-12-30</p>", "2021-12-30"),
    ("<span class='pub-time'>2023/11/07 17:45</span>", "2023-11-07T17:45:00+08:00"),
    ("<div>某某网 ( 2023-11-07 17:45:00 )</div>", "2023-11-07T17:45:00+08:00"),
    ("<script type='application/ld+json'>{\"@type\":\"NewsArticle\",\"datePublished\":\"2024-03-01T08:00:00+08:00\"}"
     "</script>", "2024-03-01T08:00:00+08:00"),
])
def test_date_line_forms(dateline, iso, tmp_path, settings):
    path = tmp_path / "page.html"
    path.write_text(_page(dateline), encoding="utf-8")
    case = extract_input(str(path), settings).cases[0]
    assert case.date == iso and case.date_evidence.split(":")[0] in ("dateline", "structured")


def test_no_year_borrowed_from_related_links_or_copyright(tmp_path, settings):
    """The story says only 2月24日; the page's other years (related links, copyright) are not its year."""
    sidebar = "<ul class='related'><li><a href='/a'>2019年社区金融服务回顾</a> <span class='date'>2019-05-01</span></li></ul>"
    page = _page("", sidebar).replace("成都农商银行在社区", "2月24日，成都农商银行在社区", 1)
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    case = extract_input(str(path), settings).cases[0]
    assert not (case.date or "").startswith(("2017", "2019"))
    assert case.date_evidence in ("collected", "") and case.status == "draft"


@pytest.mark.parametrize("line", [
    "栏目主编：张三 文字编辑：李四", "（责编：王五）", "责任编辑：赵六", "版权归原作者所有，向原创者致敬", "展开阅读全文",
    "海量资讯、精准解读，尽在新浪财经APP", "关注公众号：人民网财经", "分享到：微信 微博 QQ空间", "长按识别二维码关注",
    "2023-11-07 17:45:00　来源：网易", "北京新浪網 (2020-01-21 11:12)", "—— END ——", "广告", "×](https://www.so.com/s?q=1)",
    "打开APP，阅读全文", "打开网易新闻 查看精彩图片", "点击查看更多", "微信扫一扫", "编辑丨张三", "原文链接：https://a.com/x",
])
def test_furniture_lines_are_removed(line):
    assert furniture_reason(line, DATA) is not None


@pytest.mark.parametrize("line", [
    "成都农商银行行长徐登义表示，此次开展多方合作，创新打造网格化金融服务模式。",
    "居民可下载成都农商银行APP，在手机上办理社保卡业务，也可以到网点现场咨询。",
    "居民可在手机银行APP内查看社保卡信息，也可到网点办理。",
    "下载成都农商银行APP，即可在线预约。",
    "华西社区报记者 朱佳慧 摄影报道",          # a byline: split() needs it to end the story
    "11月7日，“微网格银政便民服务站”在四川天府新区华阳街道举行。",
    "截至2021年10月末，平台用户达到540万户，入驻小区5557个。",
    "附:案例微评",
])
def test_story_lines_are_kept(line):
    assert furniture_reason(line, DATA) is None


def test_furniture_is_removed_mid_block_and_link_lists_are_review_notes():
    notes: list[str] = []
    blocks = ["第一段正文，银行网点进社区。\n文字编辑：李四\n第二段正文，服务居民。",
              "[银行业协会发布年度报告](https://example.com/a)\n[五部门部署金融教育宣传周](https://example.com/b)",
              "第三段正文，继续服务。"]
    kept = strip_boilerplate(blocks, DATA, notes)
    assert kept == ["第一段正文，银行网点进社区。\n第二段正文，服务居民。", "第三段正文，继续服务。"]
    assert len(notes) == 1 and "银行业协会发布年度报告" in notes[0] and notes[0].startswith("furniture:")


class _Handler(http.server.BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def test_summary_item_is_fetched_and_keeps_the_feed_date_and_author(tmp_path, cases_dir):
    """An item with only a summary: its link is fetched (a real loopback server) and the page,
    which states no date, gets the feed's date as `container` evidence and its author."""
    from scraper.ingest import ingest

    seed = containers.load_seeds()[2]
    page = ("<html><head><title>" + seed.title + "</title></head><body><h1>" + seed.title + "</h1><div class='content'>"
            + containers._story_html(seed) + "</div></body></html>")
    _Handler.page = page.encode("utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        link = f"http://127.0.0.1:{server.server_port}/news/1.html"
        feed = tmp_path / "feed.xml"
        feed.write_text(f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>
<link>http://127.0.0.1:{server.server_port}/</link><item><title>{seed.title}</title><link>{link}</link>
<pubDate>Thu, 30 Dec 2021 15:26:20 +0800</pubDate><author>张明</author>
<description>桂东农商银行推进网格化金融服务。</description></item></channel></rss>""", encoding="utf-8")
        settings = load(fetch_host_interval=0, archive_dir=tmp_path / "archive", fetch_allow_private=True)
        rows = ingest([str(feed)], settings, out_dir=cases_dir)
    finally:
        server.shutdown()
    written = [r for r in rows if r.status == "written"]
    assert len(written) == 1 and written[0].input == link, rows
    assert written[0].date_evidence == "container: feed item date"
    text = next(cases_dir.glob("*.md")).read_text(encoding="utf-8")
    assert "date: '2021-12-30T15:26:20+08:00'" in text or "date: 2021-12-30T15:26:20+08:00" in text
    assert "authors: [张明]" in text or "- 张明" in text
    assert f"source_url: {link}" in text


def test_feed_items_read_are_bounded(tmp_path):
    items = "".join(f"<item><title>t{i}</title><link>http://127.0.0.1:9/{i}</link></item>" for i in range(50))
    feed = tmp_path / "feed.xml"
    feed.write_text(f"<?xml version='1.0'?><rss><channel>{items}</channel></rss>", encoding="utf-8")
    result = extract_input(str(feed), load(max_feed_items=7))
    assert result.error is None and len(result.links) == 7


def test_teaser_items_are_links_and_full_items_are_stories(tmp_path, settings):
    seed = containers.load_seeds()[0]
    teaser = "“我平时还是有去银行办理业务的习惯，" * 12 + "……"
    feed = tmp_path / "atom.xml"
    feed.write_text(f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>t</title><entry><title>teaser</title><link rel="alternate" href="http://127.0.0.1:9/t.html"/>
<updated>2022-02-24T07:09:08Z</updated><summary>{teaser}</summary></entry>
<entry><title>{seed.title}</title><link rel="alternate" href="http://127.0.0.1:9/s.html"/>
<published>2022-02-24T07:09:08Z</published><author><name>彭戎</name></author>
<content type="html">{html.escape(containers._story_html(seed))}</content></entry></feed>""", encoding="utf-8")
    result = extract_input(str(feed), settings)
    assert result.links == ["http://127.0.0.1:9/t.html"]
    assert result.hints["http://127.0.0.1:9/t.html"].date == "2022-02-24T15:09:08+08:00"
    [case] = result.cases
    assert (case.title, case.date, case.source_url) == (seed.title, "2022-02-24T15:09:08+08:00", "http://127.0.0.1:9/s.html")
    assert case.authors == ["彭戎"] and case.date_evidence == "container: feed item date"


def test_a_mirror_posts_own_date_line_outranks_its_front_matter(tmp_path, settings):
    seed = containers.load_seeds()[2]
    post = tmp_path / "post.md"
    post.write_text(f"---\ntitle: \"{seed.title}\"\ndate: 2022-06-01 08:00:00 +0800\n---\n"
                    f"<p>2021年12月30日 15:26 来源：红网</p>{containers._story_html(seed)}", encoding="utf-8")
    [case] = extract_input(str(post), settings).cases
    assert case.date == "2021-12-30T15:26:00+08:00"
    assert case.date_evidence == "dateline: the line above the story; the container says 2022-06-01"
    assert "15:26" not in case.body


@pytest.mark.parametrize(("text", "kind"), [
    ('<rss version="2.0"><channel><item><description><![CDATA[<html><body><p>正文</p></body></html>]]>'
     "</description></item></channel></rss>", "feed"),     # HTML inside an item is still a feed
    ('<?xml version="1.0"?>\n<!-- generated -->\n<rdf:RDF xmlns:rdf="r"><item></item></rdf:RDF>', "feed"),
    ("<!DOCTYPE html><html><body><p>订阅我们的 rss feed</p></body></html>", "html"),
])
def test_feed_sniffing_by_root_element(text, kind):
    from scraper.sources import sniff

    assert sniff(text) == kind


@pytest.mark.parametrize(("page", "source"), [("039_xinhuanet.html", "半月谈"), ("037_xinhuanet-he-gbk.html", "河北日报")])
def test_date_line_source_split_over_elements(page, source, settings):
    """`来源：` and the name in separate elements of the date line (and, in 037, GBK bytes)."""
    assert extract_input(str(FIXTURE_PAGES / page), settings).cases[0].source == source


# ---------------------------------------------------------------- more shapes (held-out kinds)

MORE_SHAPES = ("hugo-toml", "hugo-yaml", "jekyll-filename", "wordpress", "amp", "mobile", "print", "meta-publishdate",
               "meta-itemprop", "dateline1", "dateline2", "dateline3", "dateline4", "split-ads", "atom-html",
               "atom-xhtml", "rss-three", "json-feed", "gbk-undeclared", "gb18030-undeclared", "big5-traditional",
               "related-reading", "big5-undeclared", "rss-three-gbk", "wordpress-jetpack", "caption-credit")


def test_more_container_shapes_are_built():
    names = {v.name.split(":")[0] for v in VARIANTS}
    assert set(MORE_SHAPES) <= names
    gbk = next(v for v in VARIANTS if v.name.startswith("gbk-undeclared"))
    assert b"charset" not in gbk.raw.lower() and gbk.seed.title.encode("gbk") in gbk.raw
    big5 = next(v for v in VARIANTS if v.name.startswith("big5-traditional"))
    # The page is in Traditional; the case expected is the seed's own, in Simplified.
    assert "銀行".encode("big5") in big5.raw and big5.seed.title in {s.title for s in containers.load_seeds()}
    assert big5.seed.title.encode("big5", errors="ignore") not in big5.raw
    jekyll = next(v for v in VARIANTS if v.name.startswith("jekyll-filename"))
    assert b"date:" not in jekyll.raw and jekyll.filename.startswith(jekyll.seed.date)


def _seed_page(seed, **parts) -> str:
    return containers._shell(seed, **parts)


def test_toml_front_matter_is_read_and_bad_toml_is_a_precise_error(tmp_path, settings):
    from scraper.sources import sniff

    seed = containers.load_seeds()[2]
    good = tmp_path / "index.md"
    good.write_text(f'+++\ntitle = "{seed.title}"\ndate = 2021-12-30T15:26:20+08:00\n+++\n\n'
                    + containers._markdown_story(seed), encoding="utf-8")
    assert sniff(good.read_text("utf-8")) == "post"
    [case] = extract_input(str(good), settings).cases
    assert (case.title, case.date) == (seed.title, "2021-12-30T15:26:20+08:00")
    assert case.date_evidence == "container: front matter date" and "+++" not in case.body
    bad = tmp_path / "bad.md"
    bad.write_text('+++\ntitle = "x"\ndate = = 2021\n+++\n\n正文。', encoding="utf-8")
    result = extract_input(str(bad), settings)
    assert result.error is not None and "not valid TOML" in str(result.error) and "bad.md:3:" in str(result.error)


def test_a_post_dated_only_by_its_file_name(tmp_path, settings):
    seed = containers.load_seeds()[1]
    body = containers._markdown_story(seed)
    named = tmp_path / "2023-11-07-service-station.md"
    named.write_text(f'---\ntitle: "{seed.title}"\n---\n\n{body}', encoding="utf-8")
    [case] = extract_input(str(named), settings).cases
    assert case.date == "2023-11-07" and case.date_evidence == "container: the post's file name"
    # A Hugo publishDate in the front matter outranks the file name.
    hugo = tmp_path / "2020-01-01-old-name.md"
    hugo.write_text(f'---\ntitle: "{seed.title}"\npublishDate: 2023-11-07T09:00:00+08:00\n---\n\n{body}',
                    encoding="utf-8")
    [case] = extract_input(str(hugo), settings).cases
    assert case.date == "2023-11-07T09:00:00+08:00"
    # A name that only looks dated (no slug after the day) dates nothing.
    plain = tmp_path / "2023-11-07.md"
    plain.write_text(f'---\ntitle: "{seed.title}"\n---\n\n{body}', encoding="utf-8")
    [case] = extract_input(str(plain), settings).cases
    assert not (case.date or "").startswith("2023-11-07") or case.date_evidence != "container: the post's file name"


def test_json_feed_items_and_errors(tmp_path, settings):
    import json

    seed = containers.load_seeds()[3]
    feed = {"version": "https://jsonfeed.org/version/1", "title": "t", "items": [
        {"id": "a", "url": "http://127.0.0.1:9/teaser.html", "title": "摘要", "summary": "短短一句。",
         "date_published": "2025-01-09T08:00:00+08:00"},
        {"id": "b", "external_url": "http://127.0.0.1:9/s.html", "title": seed.title,
         "content_text": "\n\n".join(p.lstrip("# ") for p in seed.paragraphs),
         "date_published": "2025-01-09T10:30:00+08:00", "author": {"name": "王明"}}]}
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(feed, ensure_ascii=False), encoding="utf-8")
    result = extract_input(str(path), settings)
    assert result.error is None and result.links == ["http://127.0.0.1:9/teaser.html"]
    [case] = result.cases
    assert (case.title, case.date, case.source_url) == (seed.title, "2025-01-09T10:30:00+08:00",
                                                        "http://127.0.0.1:9/s.html")
    assert case.authors == ["王明"] and all(s in case.body for s in seed.want["body_contains"])
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "https://jsonfeed.org/version/1.1",\n "items": [\n {"id": }]}', encoding="utf-8")
    result = extract_input(str(broken), settings)
    assert result.error is not None and "not valid JSON" in str(result.error) and "line 3" in str(result.error)


def test_a_page_without_h1_takes_the_title_segment_it_shows(tmp_path, settings):
    seed = containers.load_seeds()[2]
    page = tmp_path / "print.html"
    page.write_text(f"<html><head><meta charset='utf-8'><title>打印 - {seed.title} - 某某网</title></head><body>"
                    f"<table><tr><td><b>{seed.title}</b></td></tr><tr><td>发布时间：{seed.date}</td></tr>"
                    f"<tr><td>{containers._story_html(seed)}</td></tr></table></body></html>", encoding="utf-8")
    [case] = extract_input(str(page), settings).cases
    assert case.title == seed.title and case.date == seed.date


def test_traditional_story_is_published_in_simplified(tmp_path, settings):
    """A seed story written in Traditional characters on a Big5 page gives the seed's own case:
    Simplified title and body, the same banks, place and category, a review note saying so,
    and the page's Traditional furniture removed."""
    import opencc

    from scraper.script import is_traditional, simplified

    seed = containers.load_seeds()[0]
    s2t = opencc.OpenCC("s2t")
    story = s2t.convert(containers._story_html(seed)) + "<p>（責任編輯：王小明）</p><p>版權歸原作者所有，向原創者致敬</p>"
    title = s2t.convert(seed.title)
    assert title != seed.title
    page = tmp_path / "tw.html"
    page.write_bytes(f"<html><head><meta charset='big5'><title>{title}</title></head><body><h1>{title}</h1>"
                     f"<div class='info'>{seed.date} 10:30</div><div class='content'>{story}</div></body></html>"
                     .encode("big5", errors="xmlcharrefreplace"))
    [case] = extract_input(str(page), settings).cases
    assert case.title == seed.title and case.relevant and case.banks == seed.want["banks"]
    assert case.province == seed.want["region"]["province"] and case.category == seed.want["category"]
    assert not is_traditional(case.body) and "银行" in case.body
    assert "责任编辑" not in case.body and "原创者" not in case.body
    assert any("Traditional" in note for note in case.review)
    # The Simplified seeds are their own Simplified view: nothing changes for them.
    for s in containers.load_seeds():
        text = "".join(s.paragraphs)
        assert not is_traditional(text) and simplified(text) == text


def test_a_labelled_date_line_below_the_article(tmp_path, settings):
    """`发布于 …` in a post-meta bar after the story dates the page (the story itself says only
    2月24日 and 2017年, and the footer has 2017); `活动时间：` inside the story is no date line."""
    seed = containers.load_seeds()[0]
    page = tmp_path / "below.html"
    page.write_text(_seed_page(seed, after=f"<div class='post-meta'>发布于 {seed.date} 10:30 · 阅读 1234</div>"),
                    encoding="utf-8")
    [case] = extract_input(str(page), settings).cases
    assert case.date == f"{seed.date}T10:30:00+08:00" and case.date_evidence.startswith("dateline: a labelled")
    inside = tmp_path / "inside.html"
    first, rest = containers._story_html(seed).split("\n", 1)
    story = first + "<p>活动时间：2019-05-01</p>" + rest
    inside.write_text(_seed_page(seed, story=story), encoding="utf-8")
    [case] = extract_input(str(inside), settings).cases
    assert not (case.date or "").startswith("2019-05-01")


@pytest.mark.parametrize("line", [
    "本文来源：人民网", "声明：本文仅代表作者本人观点，不代表本站立场", "【纠错】", "[打印本页] [关闭窗口]", "(完)",
    "编辑 / 王五", "喜欢这篇文章，请点个在看", "原标题：农商银行便民服务进社区", "视频加载中...", "举报/反馈",
    "本文为澎湃号作者或机构在澎湃新闻上传并发布，仅代表该作者或机构观点", "（責任編輯：王小明）", "版權歸原作者所有",
    "（本文来源：社区金融网）", "(信息来源：某某银行)",
])
def test_more_furniture_lines_are_removed(line):
    assert furniture_reason(line, DATA) is not None


@pytest.mark.parametrize("line", [
    "打印机捐赠给社区学校，方便学生学习。", "居民纷纷点赞，称银行服务暖心。", "该行负责人表示，此次活动不代表最终方案。",
    "關閉了部分網點後，該行在社區設立服務站。",
])
def test_more_story_lines_are_kept(line):
    assert furniture_reason(line, DATA) is None


def test_undeclared_big5_is_not_read_as_gb18030():
    """Big5 bytes are mostly valid GB18030: the reading with common characters wins, and a
    GBK page without a declaration is still read as GB18030."""
    import opencc

    from scraper.decode import decode

    seed = containers.load_seeds()[1]
    text = "".join(seed.paragraphs)
    trad = opencc.OpenCC("s2t").convert(text)
    assert decode(trad.encode("big5", errors="ignore"), source="x")[1] == "big5hkscs"
    assert decode(text.encode("gbk"), source="x") == (text, "gb18030")


def test_a_feed_declaring_gbk_is_parsed_once(tmp_path, settings):
    seed = containers.load_seeds()[3]
    feed = tmp_path / "feed.xml"
    feed.write_bytes((f'<?xml version="1.0" encoding="gbk"?><rss version="2.0"><channel><title>要闻</title><item>'
                      f"<title>{seed.title}</title><link>http://127.0.0.1:9/a</link>"
                      f"<description><![CDATA[{containers._story_html(seed)}]]></description></item></channel></rss>")
                     .encode("gbk"))
    result = extract_input(str(feed), settings)
    assert result.error is None and [c.title for c in result.cases] == [seed.title]


def test_a_page_dated_only_by_its_address(tmp_path, settings):
    """No declaration, no date line: the day in the page's own address (og:url) dates it, as
    container evidence with a review note; a host name's digits are no date."""
    seed = containers.load_seeds()[1]
    url = "https://www.example.com/local/2023-11/07/c_1129962.htm"
    page = tmp_path / "page.html"
    page.write_text(_seed_page(seed, head=f"<meta property='og:url' content='{url}'>"), encoding="utf-8")
    [case] = extract_input(str(page), settings).cases
    assert (case.date, case.date_evidence, case.source_url) == ("2023-11-07", "container: the page's address", url)
    assert any(r.startswith("date: taken from the address") for r in case.review)
    host = tmp_path / "host.html"
    host.write_text(_seed_page(seed, head="<meta property='og:url' content='https://news20231107.example.com/a/1.htm'>"),
                    encoding="utf-8")
    [case] = extract_input(str(host), settings).cases
    assert case.date_evidence != "container: the page's address"
