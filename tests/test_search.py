"""Search over the index built from the seed cases: recall, phrases, filters, facets, safety."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebook.errors import QueryError
from search.analysis import normalize
from search.query import SearchEngine, SearchRequest

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def engine(built_site) -> SearchEngine:
    return SearchEngine(built_site["index"])


def slugs(engine: SearchEngine, q: str, **kw) -> list[str]:
    return [r["slug"] for r in engine.search(SearchRequest(q=q, page_size=50, **kw)).results]


def test_fragments_segmentation_would_hide_are_found(engine):
    found = slugs(engine, "适老化")
    assert any(s.startswith("2022-02-24") for s in found)   # 等适老化设计: segmented 适/老化
    assert any(s.startswith("2025-01-09") for s in found)
    assert slugs(engine, "心家园") == [s for s in found if s.startswith("2025-01-09")]


def test_phrase_matches_only_adjacent_text(engine):
    phrase = slugs(engine, '"15分钟生活圈"')
    assert len(phrase) == 1 and phrase[0].startswith("2022-02-24")      # seed 000, not 003's 15分钟社区生活圈
    assert [s[:10] for s in slugs(engine, "15分钟社区生活圈")] == ["2025-01-09"]


def test_traditional_fullwidth_and_case_are_normalized(engine):
    assert slugs(engine, "適老化") == slugs(engine, "适老化")
    assert slugs(engine, "１５分钟生活圈") == slugs(engine, "15分钟生活圈")


def test_boolean_operators_and_filters(engine):
    both = set(slugs(engine, "适老化"))
    assert set(slugs(engine, "适老化 -心家园")) == {s for s in both if not s.startswith("2025")}
    assert set(slugs(engine, "心家园 OR 桂东")) == set(slugs(engine, "心家园")) | set(slugs(engine, "桂东"))
    assert [s[:10] for s in slugs(engine, "province:上海市")] == ["2025-01-09"]
    assert [s[:10] for s in slugs(engine, "bank:成都农商银行 date:2022..2022")] == ["2022-02-24"]
    assert [s[:10] for s in slugs(engine, "社区", filters={"tags": ["新市民"]})] == ["2025-01-09"]


def test_facets_count_and_ignore_their_own_filter(engine):
    response = engine.search(SearchRequest(q="银行", filters={"province": ["四川省"]}))
    assert response.total == 2
    provinces = {f["value"]: f["count"] for f in response.facets["province"]}
    assert provinces["四川省"] == 2 and provinces["上海市"] == 1     # other values still counted
    categories = {f["value"]: f["count"] for f in response.facets["category"]}
    assert sum(categories.values()) == 2


def test_snippets_are_escaped_and_marked(engine):
    result = engine.search(SearchRequest(q="心家园")).results[0]
    assert "<mark>心家园</mark>" in result["snippet"]
    assert "<mark>心家园</mark>" in result["title_html"]


def test_hostile_and_malformed_queries(engine):
    response = engine.search(SearchRequest(q='<script>alert(1)</script>'))
    assert response.total == 0 and "<script>" not in str(response.to_json()["results"])
    fallback = engine.search(SearchRequest(q='"适老化 AND ('))
    assert fallback.notice and fallback.total >= 1
    with pytest.raises(QueryError):
        engine.search(SearchRequest(q="x" * 500))
    with pytest.raises(QueryError):
        engine.search(SearchRequest(q="a", page=10_000))
    assert engine.search(SearchRequest(q="网点进小区")).did_you_mean


def test_sort_and_export(engine):
    by_date = [r["date"] for r in engine.search(SearchRequest(q="银行", sort="date")).results]
    assert by_date == sorted(by_date, reverse=True)
    body, media = engine.export(SearchRequest(q="银行"), "csv")
    assert media.startswith("text/csv") and body.count("\n") == 1 + len(by_date)


def test_whole_word_matches_rank_first(engine):
    results = engine.search(SearchRequest(q="网格")).results
    assert results[0]["category"] == "网格化金融服务"


def test_cached_word_scores_equal_whooshs_own_ranking(engine):
    """The per-word score arrays give the scores Whoosh's searcher gives the same query."""
    from whoosh import query as wq

    from search.analysis import words
    from search.querylang import Text

    snapshot = engine.snapshot()
    for q in ("银行 社区", "网格", "金融服务 适老化", "普惠金融"):
        leaves = [Text(part) for part in q.split()]
        clauses = []
        for leaf in leaves:
            tokens = list(dict.fromkeys(w for w, _, _ in words(normalize(leaf.value))))
            for fieldname in ("title", "words"):
                terms = [wq.Term(fieldname, t) for t in tokens]
                clauses.append(wq.And(terms) if len(terms) > 1 else terms[0])
        expected = {hit.docnum: hit.score for hit in snapshot.searcher.search(wq.Or(clauses), limit=None)}
        ours = snapshot.word_scores(leaves)
        assert expected, q
        assert {d for d in range(len(ours)) if ours[d] > 0} == set(expected), q
        for docnum, score in expected.items():
            assert abs(float(ours[docnum]) - score) < 1e-4 * max(1.0, score), q


def test_bigram_tables_agree_with_the_text(engine):
    """Every bigram of every case is in its table entry, and every entry's case holds it."""
    from search.analysis import grams

    snapshot = engine.snapshot()
    for docnum, text in snapshot.texts.items():
        for gram, _start in grams(text)[::7]:
            docs = snapshot.gram_docs(gram)
            assert docnum in docs
            assert all(gram in snapshot.texts[d] for d in docs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_run_of_chinese_characters_finds_its_case(engine, data):
    """Property: any 2–6 consecutive Chinese characters taken from a case find that case."""
    snapshot = engine.snapshot()
    docnum = data.draw(st.sampled_from(sorted(snapshot.records)))
    text = snapshot.records[docnum]["text"]
    runs = [i for i in range(len(text) - 1) if "\u4e00" <= text[i] <= "\u9fff" and "\u4e00" <= text[i + 1] <= "\u9fff"]
    start = data.draw(st.sampled_from(runs))
    length = data.draw(st.integers(2, 6))
    fragment = text[start:start + length]
    fragment = fragment[: next((i for i, ch in enumerate(fragment) if not "\u4e00" <= ch <= "\u9fff"), len(fragment))]
    if len(fragment) < 2:
        return
    found = engine.search(SearchRequest(q=fragment, page_size=100)).results
    assert snapshot.records[docnum]["slug"] in [r["slug"] for r in found]
    # ... and every result really contains it (precision against the substring oracle).
    for r in found:
        record = next(rec for rec in snapshot.records.values() if rec["slug"] == r["slug"])
        assert normalize(fragment) in normalize(record["title"] + "\n" + record["text"])


def test_incremental_and_atomic_index_updates(tmp_path, seed_content):

    from casebook.app.build import build_site
    from search.indexer import current_generation

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    build_site(content, tmp_path / "out", tmp_path / "index")
    first = current_generation(tmp_path / "index")
    result = build_site(content, tmp_path / "out", tmp_path / "index")
    assert result.index_report.added == result.index_report.updated == 0
    assert current_generation(tmp_path / "index") == first
    case = next((content / "cases").glob("2025-01-09-*.md"))
    case.write_text(case.read_text(encoding="utf-8").replace("心家园", "心家苑"), encoding="utf-8")
    result = build_site(content, tmp_path / "out", tmp_path / "index")
    assert result.index_report.updated == 1 and not result.index_report.rebuilt
    engine = SearchEngine(tmp_path / "index")
    assert engine.search(SearchRequest(q="心家苑")).total == 1
    assert engine.search(SearchRequest(q="心家园")).total == 0


def test_cached_answers_follow_a_new_generation(tmp_path, seed_content):
    import time

    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    build_site(content, tmp_path / "out", tmp_path / "index")
    engine = SearchEngine(tmp_path / "index", cache_size=64)
    assert engine.search(SearchRequest(q="心家园")).total == 1
    assert engine.search(SearchRequest(q="心家园")).total == 1      # from the cache
    case = next((content / "cases").glob("2025-01-09-*.md"))
    case.write_text(case.read_text(encoding="utf-8").replace("心家园", "心家苑"), encoding="utf-8")
    build_site(content, tmp_path / "out", tmp_path / "index")
    time.sleep(0.6)                                                  # the engine looks for a new generation
    assert engine.search(SearchRequest(q="心家园")).total == 0


def _fragment(text: str) -> str:
    import re

    return re.search(r"[\u4e00-\u9fff]{6,}", text).group()[:6]  # type: ignore[union-attr]


@pytest.mark.parametrize("procs", [1, 2])
def test_a_streamed_build_serves_exactly_the_cases_kept(tmp_path, procs):
    """A build hands cases to the index as Pelican reads them (to one writer beside a small
    build, to one per core beside a large one); a case set aside after it was read (Pelican
    can still drop one) must not be served."""
    from whoosh import index as whoosh_index

    from bench.corpus import real_cases
    from search.indexer import IndexBuilder, build_index, current_generation

    docs = real_cases()
    kept = docs[3:]       # the first three are read, then set aside
    builder = IndexBuilder(tmp_path / "streamed", procs=procs, stream_from=10)
    for doc in docs:
        builder.add(doc)
    assert len(builder.streamed) == len(docs)          # written while the cases came
    report = builder.finish(keep={d.slug for d in kept})
    assert report.rebuilt and report.added == len(kept)
    assert whoosh_index.open_dir(str(current_generation(tmp_path / "streamed"))).doc_count() == len(kept)
    build_index(kept, tmp_path / "whole", procs=1)
    streamed, whole = SearchEngine(tmp_path / "streamed"), SearchEngine(tmp_path / "whole")
    for doc in docs[:8]:
        phrase = f'"{_fragment(doc.text)}"'
        assert set(slugs(streamed, phrase)) == set(slugs(whole, phrase))
        assert (doc.slug in slugs(streamed, phrase)) == (doc in kept)


def test_a_failed_streamed_build_leaves_nothing_behind(tmp_path):
    from bench.corpus import real_cases
    from casebook.errors import SearchError
    from search.indexer import IndexBuilder, current_generation

    docs = real_cases()[:12]
    builder = IndexBuilder(tmp_path / "index", procs=2, stream_from=4)
    for doc in docs:
        builder.add(doc)
    with pytest.raises(SearchError, match="share the slug"):
        builder.add(docs[0])
    builder.cancel()
    assert current_generation(tmp_path / "index") is None
    assert not list((tmp_path / "index").glob(".building-*"))
    assert not [p for p in __import__("multiprocessing").active_children() if p.is_alive()]



def test_facet_ranking_in_numpy_orders_as_the_sorted_counts():
    """FacetTable.ranked: most frequent first, ties in value order (as sorted() by
    (-count, value)), at most `limit`; years by value, last first; values no document holds
    in the mask are left out."""
    import random

    import numpy as np

    from search.snapshot import FacetTable

    rng = random.Random(7)
    values = tuple(sorted({rng.choice("甲乙丙丁戊己庚辛") + str(rng.randrange(30)) for _ in range(60)}))
    pairs = [(doc, rng.randrange(len(values))) for doc in range(400) for _ in range(rng.randrange(3))]
    table = FacetTable(values, np.array([d for d, _ in pairs], dtype=np.int64), np.array([v for _, v in pairs], dtype=np.int64))
    for trial in range(50):
        mask = np.array([rng.random() < trial / 50 for _ in range(400)])
        counts: dict[str, int] = {}
        for doc, value in pairs:
            if mask[doc]:
                counts[values[value]] = counts.get(values[value], 0) + 1
        expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        assert table.ranked(mask, by_value=False, limit=None) == expected
        assert table.ranked(mask, by_value=False, limit=7) == expected[:7]
        assert table.ranked(mask, by_value=True, limit=None) == sorted(counts.items(), reverse=True)
    empty = FacetTable((), np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert empty.ranked(np.zeros(3, dtype=bool), by_value=False, limit=5) == []
