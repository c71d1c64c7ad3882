"""Hypothesis mutates real case files (ingested from the seeds) as a careless or hostile editor
would: a field's value swapped for another type, aliases and anchors, control and bidi
characters, huge values, hostile URLs and markup, Pelican's override keys, cut or broken
lines. `check` must never crash and must point inside the file; what it passes must be safe
for the site; `build` must never crash and never emit a URL outside the allow-list.

CASEBOOK_FUZZ_CHECKS (default 150) and CASEBOOK_FUZZ_BUILDS (default 3: each builds a small
site with a search index, ~2 s) set how many examples run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebook.check import check_text, fatal, rules_of, site_metadata
from casebook.data import load_data
from casebook.model import FIELD_ORDER
from casebook.safety import INVISIBLE_RE, safe_url
from tests.hostile_cases import replace_fields
from tests.site_scan import unsafe_urls

pytestmark = pytest.mark.shared
CHECKS = int(os.environ.get("CASEBOOK_FUZZ_CHECKS", "150"))
BUILDS = int(os.environ.get("CASEBOOK_FUZZ_BUILDS", "3"))

HOSTILE_URLS = ["javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "jav&#x61;script:alert(1)",
                "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd",
                "//evil.example/x", "\\\\evil.example\\x", "/\\evil.example", "https:/\\evil", "http://", "x:y",
                "https://ok.example/a.jpg", "/cases/x/", "mailto:a@b.cn", "\u202ehttps://ok.example"]
MARKUP = ["<script>alert(1)</script>", "[详[情]](javascript:alert(1))", "<img src=x onerror=alert(1)>",
          "[a](<javascript:alert(1)>)", "<javascript:alert(1)>", "{static}javascript:alert(1)",
          "<a href=\"{filename}javascript:alert(1)\">x</a>", "<svg onload=alert(1)>", "=cmd|' /C calc'!A0"]
NAMES = ["!!!", "", " ", "成都农商银行", "四川省", "\u202e\u200b", "网点进社区", "适老化", "page", "index"]
ODD_TEXT = st.text(alphabet=st.sampled_from(list("银行社区ab1 -:[]{}&*!|>'\"#%@`\\<\u202e\u2066\u200b\x00\x07\x1b\ufeff\u2028\n\t")),
                   max_size=30)
HUGE = st.builds(lambda unit, n: unit * n, st.sampled_from(["超1000家", "[", "<", "a", "\u202e"]), st.integers(300, 40000))
SCALAR = st.one_of(st.integers(-10**20, 10**20), st.booleans(), st.floats(allow_nan=False), st.none(), ODD_TEXT,
                   st.sampled_from(HOSTILE_URLS + MARKUP + NAMES), HUGE)
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=4), st.lists(st.lists(SCALAR, max_size=2), max_size=2),
                  st.dictionaries(st.sampled_from(["source", "url", "via", "title", "x", "save_as"]), SCALAR, max_size=3),
                  st.lists(st.dictionaries(st.sampled_from(["source", "url", "via", "title", "x"]), SCALAR, max_size=3),
                           max_size=3),
                  st.lists(st.just("超1000家心家园公益服务站"), min_size=150, max_size=400))
FIELD = st.sampled_from([*FIELD_ORDER, "save_as", "url", "template", "override_url", "lang", "Title", "_x"])


def _dump(value: object) -> str:
    """A value as one line of YAML (flow style), whatever it holds."""
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10**9).strip().removesuffix("\n...")


@st.composite
def mutation(draw) -> tuple[str, ...]:
    kind = draw(st.sampled_from(["value", "value", "value", "alias", "raw", "cut", "extra"]))
    if kind == "value":
        return ("value", draw(FIELD), _dump(draw(VALUE)))
    if kind == "alias":
        return ("alias", draw(FIELD), draw(st.sampled_from(["&a [*a]", "&a [x, x]", "*a", "&a x"])))
    if kind == "raw":
        return ("raw", draw(st.integers(0, 3000)), draw(st.one_of(ODD_TEXT, HUGE, st.sampled_from([*MARKUP, "\n", ": ", "- "]))))
    if kind == "cut":
        return ("cut", draw(st.integers(0, 3000)), "")
    return ("extra", draw(FIELD), _dump(draw(VALUE)))


def mutate(text: str, steps: list[tuple]) -> str:
    for kind, where, what in steps:
        if kind in ("value", "alias", "extra") and "\n---\n" not in text:
            continue   # an earlier cut took the end of the front matter: nothing to replace
        if kind in ("value", "alias"):
            text = replace_fields(text, {where: what}) if f"\n{where}:" in text else replace_fields(
                text, {}, extra=f"{where}: {what}")
        elif kind == "extra":
            text = replace_fields(text, {}, extra=f"{where}: {what}")
        elif kind == "raw":
            position = where % (len(text) + 1)
            text = text[:position] + what + text[position:]
        elif kind == "cut":
            text = text[: where % (len(text) + 1)]
    return text


class Cases(list):
    def __repr__(self) -> str:   # Hypothesis prints the arguments of a failing example
        return f"<{len(self)} seed cases>"


@pytest.fixture(scope="module")
def seed_cases(seed_content) -> list[str]:
    return Cases(p.read_text(encoding="utf-8") for p in sorted((seed_content / "cases").glob("*.md")))


@settings(max_examples=CHECKS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(choice=st.integers(0, 4), steps=st.lists(mutation(), min_size=1, max_size=4))
def test_check_never_crashes_and_what_it_passes_is_safe(seed_cases, choice, steps):
    text = mutate(seed_cases[choice % len(seed_cases)], steps)
    data = load_data()
    problems, meta = check_text(text, "case.md", data)
    lines = text.count("\n") + 2
    for problem in problems:
        assert problem.path == "case.md" and 1 <= problem.line <= lines, problem
        assert problem.message and "Traceback" not in problem.message
    if meta is None or fatal(problems):
        return
    # Passed: the site sees only model fields, text without invisible characters, safe URLs.
    shown = site_metadata(meta, data)
    rules = rules_of(data).fields
    assert set(shown) <= set(rules)
    for name, value in shown.items():
        kind = rules[name]["type"]
        if kind == "url" and value is not None:
            assert safe_url(value) == value
        elif kind == "url_list":
            assert all(safe_url(v) == v for v in value)
        elif kind == "reposts":
            assert all(r.get("url") is None or safe_url(r["url"]) for r in value)
        elif kind in ("text", "slug", "status") and value is not None:
            assert isinstance(value, str) and not INVISIBLE_RE.search(value)
        elif kind == "text_list":
            assert all(isinstance(v, str) and not INVISIBLE_RE.search(v) for v in value)


@settings(max_examples=BUILDS, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases=st.lists(st.tuples(st.integers(0, 4), st.lists(mutation(), min_size=1, max_size=3)), min_size=2, max_size=4))
def test_build_never_crashes_nor_emits_an_unsafe_url(seed_content, seed_cases, cases):
    from lxml import html

    from casebook.app.build import build_site

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        content = root / "content"
        (content / "cases").mkdir(parents=True)
        shutil.copy(next((seed_content / "cases").glob("2022-02-24-*.md")), content / "cases" / "a-good.md")
        for number, (choice, steps) in enumerate(cases):
            text = mutate(seed_cases[choice % len(seed_cases)], steps)
            (content / "cases" / f"fuzz-{number}.md").write_text(text, encoding="utf-8", errors="surrogatepass")
        result = build_site(content, root / "output", root / "index", preview=True)
        assert result.articles >= 1
        assert unsafe_urls(root / "output") == []
        home = html.parse(str(root / "output" / "index.html"))
        assert home.xpath("string(//h1)") == "社区金融案例库"
