"""Property tests (Hypothesis) on the normalizer: it never crashes, its front matter always
round-trips through YAML, and no unsafe markup survives."""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from casebook.model import Case, clean_text, parse, render
from scraper.data import load_data
from scraper.pipeline import extract_document
from scraper.sources import document_from_bytes
from scraper.tomarkdown import html_to_markdown
from tests.conftest import FIXTURE_PAGES, SEEDS_RAW

DATA = load_data()
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
# Decoded bytes never hold lone surrogates, so neither does generated text.
TEXT = st.text(alphabet=st.one_of(CJK, st.sampled_from(list("，。：“”！？ \n-_#*<>&'\"")),
                                  st.characters(blacklist_categories=("Cs",))), max_size=300)
HOSTILE = st.sampled_from(['<script>alert(1)</script>', '<img src=x onerror="alert(1)">', '<a href="javascript:x()">a</a>',
                           '<iframe src="//e"></iframe>', '<style>p{}</style>', '<svg onload=alert(1)>',
                           '<a href="JaVaScRiPt:alert(1)">b</a>', '<p onclick="x()">c</p>'])
# Markup that could run: a script, style or iframe element, an event handler inside a tag,
# a javascript: link target. (The word "javascript" as text is harmless.)
UNSAFE = re.compile(r"<script|<iframe|<style|<[^>]*\son\w+\s*=|\]\(\s*javascript:|href=[\"']?\s*javascript:",
                    re.IGNORECASE)


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.one_of(TEXT, HOSTILE), max_size=8))
def test_html_to_markdown_never_keeps_unsafe_markup(parts):
    markdown, _images = html_to_markdown("<p>" + "</p><p>".join(parts) + "</p>", proxies=DATA.image_proxies)
    assert not UNSAFE.search(markdown)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXT, body=TEXT, tags=st.lists(TEXT, max_size=3), date=st.sampled_from(
    ["2022-02-24", "2022-02-24T15:09:08+08:00", "2021-10", None]))
def test_front_matter_round_trips(title, body, tags, date):
    case = Case(title=title, slug="2022-02-24-x", date=date, category="网点进社区", tags=tags, body=body)
    text = render(case)
    meta = yaml.safe_load(text.split("\n---\n", 1)[0].removeprefix("---\n"))
    assert isinstance(meta, dict)
    again = parse(text)
    assert again.title == clean_text(title, single_line=True)
    assert again.tags == [clean_text(t, single_line=True) for t in tags] and again.date == date
    assert again.body == clean_text(body).strip()


# Real inputs of every shape: the seed reports (mirrored posts, text dumps) and the fixture
# pages (whole news pages in UTF-8, GBK and Big5, WeChat, Traditional Chinese).
REAL_INPUTS = sorted(SEEDS_RAW.glob("*.txt")) + sorted(FIXTURE_PAGES.glob("*.html"))
BYTES = st.binary(max_size=40)   # NUL bytes, broken UTF-8 and GBK sequences, stray BOMs


@settings(max_examples=int(__import__("os").environ.get("FUZZ_EXAMPLES", "60")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 60000), insert=st.lists(st.one_of(TEXT.map(str.encode), HOSTILE.map(str.encode), BYTES),
                                                   max_size=3),
       seed=st.sampled_from(REAL_INPUTS))
# Found by this test: a control character (lxml refuses it in a tree's text) and a cut
# </title> that turns the rest of the page into the title.
@example(cut=17443, insert=[b"\x1f", b"<script>alert(1)</script>"], seed=FIXTURE_PAGES / "025_163.html")
@example(cut=199, insert=[b""], seed=FIXTURE_PAGES / "040_sohu.html")
def test_mutated_real_reports_never_crash(cut, insert, seed):
    raw = seed.read_bytes()
    cut = cut % (len(raw) + 1)
    mutated = raw[:cut] + b"".join(insert) + raw[cut + len(insert) * 7:]
    try:
        doc = document_from_bytes(mutated, input=str(seed))
        cases = extract_document(doc, DATA)
    except Exception as exc:
        from casebook.errors import CasebookError

        assert isinstance(exc, CasebookError), repr(exc)
        return
    for case in cases:
        assert_published_html_is_safe(render(case))


def assert_published_html_is_safe(case_text: str) -> None:
    """The case as Pelican would publish it: no element or attribute that can run code."""
    import markdown
    from lxml import html as lxml_html

    meta_text, _, body = case_text.removeprefix("---\n").partition("\n---\n")
    assert not re.search(r"<\s*[A-Za-z]", meta_text), "markup in a front-matter value"
    page = markdown.markdown(body, extensions=["extra"], output_format="html5")
    if not page.strip():
        return
    root = lxml_html.fragment_fromstring(page, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("script", "style", "iframe", "object", "embed"), element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert not value.strip().lower().startswith("javascript:"), value
