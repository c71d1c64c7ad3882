"""The contract every SearchBackend keeps (docs/search-backend.md), as tests any backend can run:

    from tests.backend_contract import BackendContract

    class TestMyBackend(BackendContract):
        SPEC = "my_package.module:MyBackend"    # what CASEBOOK_SEARCH_BACKEND would name

The backend is opened the way Casebook opens it (`open_backend` with the spec) over a real
folder, and fed real cases: the case files of content/ made into documents by
`IndexDoc.from_case`, as the build makes them. Every expectation is computed here from those
documents by the documented rules (a term is a substring of the normalized title + text,
filters contain their value, ...), never taken from another backend's answers.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from casebook.errors import QueryError, SearchError
from casebook.model import parse
from casebook.settings import load
from search.analysis import normalize
from search.backend import SearchBackend, open_backend
from search.fields import FACET_FIELDS
from search.request import SearchRequest, SearchResponse
from search.schema import IndexDoc

ROOT = Path(__file__).resolve().parent.parent
CASE_FILES = sorted((ROOT / "content" / "cases").glob("*.md"))
RESULT_KEYS = {"slug", "path", "url", "title", "date", "category", "banks", "province", "city", "district", "tags",
               "programs", "source", "score", "snippet", "title_html"}


def real_documents() -> list[IndexDoc]:
    docs = []
    for path in CASE_FILES:
        case = parse(path.read_text(encoding="utf-8"), path=str(path))
        docs.append(IndexDoc.from_case(case, path=f"cases/{path.name}", url=f"/cases/{case.slug}/"))
    assert len(docs) >= 5, "the contract needs the real cases of content/cases"
    return docs


def searchable(doc: IndexDoc) -> str:
    return normalize(f"{doc.title}\n{doc.text}")


def holding(docs: list[IndexDoc], fragment: str) -> set[str]:
    return {d.slug for d in docs if normalize(fragment) in searchable(d)}


def year_of(doc: IndexDoc) -> str:
    return doc.date[:4]


class BackendContract:
    SPEC: ClassVar[str]            # "module:Class", as CASEBOOK_SEARCH_BACKEND names it
    SWAP_SECONDS: ClassVar[float] = 3.0   # a reader opened before an update answers anew within this

    # --- fixtures ----------------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path) -> SearchBackend:
        settings = load(index_dir=index_dir, search_backend=cls.SPEC)
        backend = open_backend(settings, index_dir, settings.search_backend)
        assert isinstance(backend, SearchBackend)
        return backend

    @pytest.fixture(scope="class")
    @classmethod
    def docs(cls) -> list[IndexDoc]:
        return real_documents()

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, docs: list[IndexDoc], tmp_path_factory: pytest.TempPathFactory) -> SearchBackend:
        index_dir = tmp_path_factory.mktemp("contract") / "index"
        writer = cls.open(index_dir)
        report = writer.update(docs)
        assert (report.added, report.removed) == (len(docs), 0)
        return cls.open(index_dir)   # a reader of its own, as a server process has

    # --- helpers -----------------------------------------------------------------------------

    @staticmethod
    def all_slugs(backend: SearchBackend, q: str = "", **fields: Any) -> set[str]:
        found: list[str] = []
        page = 1
        while True:
            response = backend.search(SearchRequest(q=q, page=page, page_size=2, facets=False, **fields))
            found += [r["slug"] for r in response.results]
            if page * 2 >= response.total:
                break
            page += 1
        assert len(found) == len(set(found)) == response.total, (q, fields, found, response.total)
        return set(found)

    # --- health ------------------------------------------------------------------------------

    def test_health_reports_the_cases_served(self, served, docs):
        health = served.health()
        assert health["status"] == "ok"
        assert health["cases"] == len(docs)
        assert isinstance(health["index"], str) and health["index"]

    def test_a_folder_without_an_index_raises_search_error(self, tmp_path):
        backend = self.open(tmp_path / "empty")
        with pytest.raises(SearchError):
            backend.health()
        with pytest.raises(SearchError):
            backend.search(SearchRequest(q="银行"))

    # --- query semantics ---------------------------------------------------------------------

    @pytest.mark.parametrize("term", ["心家园", "银行", "网格", "适老化", "社区治理", "晋社区", "金融", "1000"])
    def test_a_term_finds_every_case_holding_it(self, served, docs, term):
        assert self.all_slugs(served, term) == holding(docs, term)

    def test_fragments_inside_words_are_found(self, served, docs):
        """Any run of characters is a term: fragments cut across word boundaries too."""
        for doc in docs:
            text = doc.text.replace("\n", "")
            for start, size in ((len(text) // 3, 2), (len(text) // 2, 5), (len(text) - 12, 4)):
                fragment = text[start:start + size]
                if len(normalize(fragment).strip()) == size and fragment.isalnum():
                    found = self.all_slugs(served, fragment)
                    assert doc.slug in found and found == holding(docs, fragment), fragment

    def test_and_or_not_and_minus(self, served, docs):
        every = {d.slug for d in docs}
        bank, net, home = holding(docs, "银行"), holding(docs, "网格"), holding(docs, "心家园")
        assert self.all_slugs(served, "银行 网格") == bank & net
        assert self.all_slugs(served, "银行 AND 网格") == bank & net
        assert self.all_slugs(served, "心家园 OR 网格") == home | net
        assert self.all_slugs(served, "银行 -心家园") == bank - home
        assert self.all_slugs(served, "银行 NOT 心家园") == bank - home
        assert self.all_slugs(served, "(心家园 OR 晋社区) 银行") == (home | holding(docs, "晋社区")) & bank
        assert self.all_slugs(served, "-心家园") == every - home
        assert self.all_slugs(served, "银行 OR (网格 -心家园)") == bank | (net - home)
        assert home and net - home, "the corpus no longer separates these terms"

    def test_phrases_hold_their_words_together(self, served, docs):
        assert self.all_slugs(served, '"15分钟生活圈"') == holding(docs, "15分钟生活圈")
        # The words of a phrase may be separated by spaces or punctuation, nothing else.
        for first, second in (("银行", "网点"), ("金融", "社区"), ("社区", "治理")):
            adjacent = {d.slug for d in docs if re.search(f"{first}[\\W_]*{second}", searchable(d))}
            assert self.all_slugs(served, f'"{first} {second}"') == adjacent
            assert self.all_slugs(served, f"“{first} {second}”") == adjacent   # Chinese quotation marks
        assert self.all_slugs(served, '"银行 网点"') < self.all_slugs(served, "银行 网点"), "the corpus changed"

    def test_a_query_that_does_not_parse_is_searched_as_plain_text_with_a_notice(self, served, docs):
        response = served.search(SearchRequest(q='"心家园'))
        assert response.notice
        assert {r["slug"] for r in response.results} == holding(docs, "心家园")

    def test_an_empty_query_lists_every_case(self, served, docs):
        assert self.all_slugs(served, "") == {d.slug for d in docs}

    # --- filters -----------------------------------------------------------------------------

    def test_filters_of_the_request_and_of_the_query(self, served, docs):
        bank = next(b for d in docs for b in d.banks)
        with_bank = {d.slug for d in docs if bank in d.banks}
        assert self.all_slugs(served, filters={"banks": [bank]}) == with_bank
        assert self.all_slugs(served, f"bank:{bank}") == with_bank
        # Forgiving containment: part of a value finds it.
        part = bank[:3]
        assert self.all_slugs(served, filters={"banks": [part]}) == {d.slug for d in docs
                                                                      if any(part in b for b in d.banks)}
        province = docs[0].province
        assert self.all_slugs(served, f"province:{province}") == {d.slug for d in docs if d.province == province}
        year = year_of(docs[0])
        assert self.all_slugs(served, f"year:{year}") == {d.slug for d in docs if year_of(d) == year}
        assert self.all_slugs(served, filters={"year": [year]}) == {d.slug for d in docs if year_of(d) == year}
        title_word = docs[0].title[:4]
        assert self.all_slugs(served, f"title:{title_word}") == {d.slug for d in docs
                                                                  if normalize(title_word) in normalize(d.title)}
        assert self.all_slugs(served, f"银行 bank:{bank}") == with_bank & holding(docs, "银行")

    def test_dates_and_ranges(self, served, docs):
        years = sorted({year_of(d) for d in docs})
        low, high = years[0], years[len(years) // 2]
        inside = {d.slug for d in docs if low <= year_of(d) <= high}
        assert self.all_slugs(served, f"date:{low}..{high}") == inside
        assert self.all_slugs(served, date=f"{low}..{high}") == inside
        assert self.all_slugs(served, date_from=f"{low}-01-01", date_to=f"{high}-12-31") == inside
        assert self.all_slugs(served, f"year:{low}..{high}") == inside
        with pytest.raises(QueryError):
            served.search(SearchRequest(q=f"date:{high}..{low}" if high != low else "date:2021-13"))

    # --- facets ------------------------------------------------------------------------------

    def test_facets_count_the_matches_per_value(self, served, docs):
        response = served.search(SearchRequest(q="银行"))
        matched = [d for d in docs if d.slug in holding(docs, "银行")]
        assert list(response.facets) == list(FACET_FIELDS)
        for name in FACET_FIELDS:
            expected: dict[str, int] = {}
            for doc in matched:
                values = [year_of(doc)] if name == "year" else getattr(doc, name)
                for value in set(values if isinstance(values, list) else [values]):
                    if value:
                        expected[value] = expected.get(value, 0) + 1
            assert {f["value"]: f["count"] for f in response.facets[name]} == expected, name
        counts = [f["count"] for f in response.facets["banks"]]
        assert counts == sorted(counts, reverse=True)
        years = [f["value"] for f in response.facets["year"]]
        assert years == sorted(years, reverse=True)

    def test_a_facets_own_filter_does_not_narrow_its_counts(self, served, docs):
        bank = next(b for d in docs for b in d.banks)
        unfiltered = served.search(SearchRequest())
        filtered = served.search(SearchRequest(filters={"banks": [bank]}))
        assert filtered.facets["banks"] == unfiltered.facets["banks"]
        with_bank = [d for d in docs if bank in d.banks]
        assert sum(f["count"] for f in filtered.facets["year"]) == len(with_bank)
        assert served.search(SearchRequest(q="银行", facets=False)).facets == {}

    # --- paging and sorting ------------------------------------------------------------------

    def test_pages_cover_the_matches_once(self, served, docs):
        pages = [served.search(SearchRequest(q="银行", page=n, page_size=2, sort="date")) for n in (1, 2, 3, 4)]
        assert {p.total for p in pages} == {len(holding(docs, "银行"))}
        slugs = [r["slug"] for p in pages for r in p.results]
        assert len(slugs) == len(set(slugs)) == len(holding(docs, "银行"))
        assert all(len(p.results) <= 2 for p in pages) and pages[0].page == 1 and pages[0].page_size == 2
        assert served.search(SearchRequest(q="银行", page=10, page_size=2)).results == []

    def test_sorting_by_date_both_ways(self, served, docs):
        newest = served.search(SearchRequest(sort="date", page_size=100)).results
        oldest = served.search(SearchRequest(sort="date_asc", page_size=100)).results
        assert [r["date"] for r in newest] == sorted((d.date for d in docs), reverse=True)
        assert [r["slug"] for r in oldest] == [r["slug"] for r in newest][::-1]
        relevance = served.search(SearchRequest(q="心家园", page_size=100))
        assert relevance.sort == "relevance" and relevance.results[0]["slug"] in holding(docs, "心家园")

    def test_result_rows_carry_the_documented_fields(self, served, docs):
        response = served.search(SearchRequest(q="心家园"))
        assert isinstance(response, SearchResponse) and response.query == "心家园"
        assert json.dumps(response.to_json(), ensure_ascii=False)
        by_slug = {d.slug: d for d in docs}
        for row in response.results:
            assert set(row) >= RESULT_KEYS
            doc = by_slug[row["slug"]]
            assert (row["title"], row["date"], row["url"], row["path"]) == (doc.title, doc.date, doc.url, doc.path)
            assert "<mark>心家园</mark>" in row["snippet"] + row["title_html"]

    def test_bad_requests_raise_query_error(self, served):
        for request in (SearchRequest(sort="random"), SearchRequest(page=0), SearchRequest(page_size=0),
                        SearchRequest(page_size=10_000), SearchRequest(filters={"colour": ["red"]}),
                        SearchRequest(q="银" * 5000), SearchRequest(date="2021-13-45")):
            with pytest.raises(QueryError):
                served.search(request)
        with pytest.raises(QueryError):
            served.export(SearchRequest(q="银行"), "xlsx")

    # --- export ------------------------------------------------------------------------------

    def test_export_as_json_and_csv_holds_every_match(self, served, docs):
        expected = holding(docs, "银行")
        body, media = served.export(SearchRequest(q="银行", page_size=1), "json")
        assert media.startswith("application/json")
        rows = json.loads(body)
        assert {r["slug"] for r in rows} == expected and len(rows) == len(expected)
        assert all("text" not in r and r["title"] for r in rows)
        body, media = served.export(SearchRequest(q="银行", sort="date"), "csv")
        assert media.startswith("text/csv") and body.startswith("\ufeff")
        table = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
        assert [r["slug"] for r in table] == [r["slug"] for r in served.search(
            SearchRequest(q="银行", sort="date", page_size=100)).results]
        assert {"slug", "title", "date", "banks", "url"} <= set(table[0])

    # --- update, delete, generations ---------------------------------------------------------

    def test_update_removes_changes_and_skips_the_unchanged(self, docs, tmp_path):
        backend = self.open(tmp_path / "index")
        first = backend.update(docs)
        same = backend.update(list(docs))
        assert (same.added, same.updated, same.removed, same.unchanged) == (0, 0, 0, len(docs))
        assert same.generation == first.generation
        changed = dataclasses.replace(docs[1], text=docs[1].text + "\n新增的独特词语梧桐")
        gone = docs[0]
        report = backend.update([changed, *docs[2:]])
        assert (report.added, report.updated, report.removed) == (0, 1, 1)
        assert report.generation != first.generation
        reader = self.open(tmp_path / "index")
        assert self.all_slugs(reader, "梧桐") == {changed.slug}
        assert gone.slug not in self.all_slugs(reader, "")
        assert reader.health()["cases"] == len(docs) - 1

    def test_a_reader_opened_before_an_update_answers_whole_generations(self, docs, tmp_path):
        index = tmp_path / "index"
        self.open(index).update(docs)
        reader = self.open(index)
        before = reader.search(SearchRequest(q="银行", page_size=100))
        assert before.total == len(holding(docs, "银行"))
        new = [dataclasses.replace(d, text=d.text + "\n换代标记") for d in docs[:3]]
        self.open(index).update(new)
        deadline = time.monotonic() + self.SWAP_SECONDS
        while True:
            now = reader.search(SearchRequest(q="银行", page_size=100))
            marked = reader.search(SearchRequest(q="换代标记", page_size=100))
            old_answer = {r["slug"] for r in now.results} == {r["slug"] for r in before.results}
            new_answer = {r["slug"] for r in now.results} == holding(new, "银行")
            assert old_answer or new_answer, "a reader mixed two generations"
            assert now.total == len(now.results)
            if new_answer and marked.total == 3:
                break
            assert time.monotonic() < deadline, f"the reader still answers the old generation after {self.SWAP_SECONDS} s"
            time.sleep(0.1)
        assert reader.health()["cases"] == 3

    def test_a_full_update_rebuilds(self, docs, tmp_path):
        backend = self.open(tmp_path / "index")
        backend.update(docs)
        report = backend.update(docs, full=True)
        assert report.rebuilt and report.added == len(docs)
        assert self.all_slugs(self.open(tmp_path / "index"), "心家园") == holding(docs, "心家园")

    def test_two_documents_with_one_slug_fail_the_update(self, docs, tmp_path):
        backend = self.open(tmp_path / "index")
        backend.update(docs)
        serving = backend.health()["index"]
        with pytest.raises(SearchError):
            backend.update([*docs, dataclasses.replace(docs[0], path="cases/copy.md")])
        assert self.open(tmp_path / "index").health()["index"] == serving
