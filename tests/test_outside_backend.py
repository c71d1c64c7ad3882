"""A backend written outside Casebook (tests/outside_backend/) against docs/search-backend.md:
it keeps the same contract as Whoosh, and selected with CASEBOOK_SEARCH_BACKEND it is what
the build's index job, `casebook search` and `casebook serve` use, unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.backend_contract import BackendContract, holding, real_documents
from tests.conftest import ROOT, start_server, stop_server

SPEC = "tests.outside_backend.jsonfile:JsonFileBackend"


class TestJsonFileBackend(BackendContract):
    SPEC = SPEC


def test_the_outside_backend_needs_no_whoosh(tmp_path):
    """The documented interface is backend-neutral: updating, searching and exporting through
    the outside backend never imports Whoosh (nor the Whoosh backend's modules)."""
    script = f"""
import sys
from pathlib import Path
from casebook.settings import load
from search.backend import open_backend
from search.request import SearchRequest
from tests.backend_contract import real_documents
settings = load(index_dir={str(tmp_path / "index")!r}, search_backend={SPEC!r})
backend = open_backend(settings, settings.index_dir, settings.search_backend)
backend.update(real_documents())
assert backend.search(SearchRequest(q="心家园")).total == 1
backend.export(SearchRequest(q="银行"), "csv")
loaded = sorted(m for m in sys.modules if m.split(".")[0] == "whoosh" or m in ("search.query", "search.indexer",
                                                                               "search.snapshot"))
print(loaded)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def outside_index(tmp_path_factory):  # type: ignore[no-untyped-def]
    """An index written by the build's index job with the backend chosen by the environment."""
    from search.update import IndexJob

    index = tmp_path_factory.mktemp("outside") / "index"
    previous = os.environ.get("CASEBOOK_SEARCH_BACKEND")
    os.environ["CASEBOOK_SEARCH_BACKEND"] = SPEC
    try:
        job = IndexJob.start(index)
        job.submit(real_documents())
        report = job.wait(timeout=120)
    finally:
        if previous is None:
            os.environ.pop("CASEBOOK_SEARCH_BACKEND")
        else:
            os.environ["CASEBOOK_SEARCH_BACKEND"] = previous
    assert report.generation.startswith("jsonfile-") and report.added == len(real_documents())
    assert not (index / "CURRENT").exists()   # nothing of Whoosh's was written
    return index


def test_casebook_search_uses_the_selected_backend(outside_index):
    env = {**os.environ, "CASEBOOK_SEARCH_BACKEND": SPEC}
    done = subprocess.run([sys.executable, "-m", "casebook.app.cli", "search", "心家园 OR 晋社区", "--index",
                           str(outside_index), "--json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    docs = real_documents()
    assert {r["slug"] for r in answer["results"]} == holding(docs, "心家园") | holding(docs, "晋社区")
    # Without the setting, Casebook looks for a Whoosh index there and says it finds none.
    plain = subprocess.run([sys.executable, "-m", "casebook.app.cli", "search", "心家园", "--index", str(outside_index)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items() if k != "CASEBOOK_SEARCH_BACKEND"})
    assert plain.returncode != 0 and "no search index" in plain.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_casebook_serve_answers_through_the_selected_backend(outside_index, tmp_path, workers):
    docs = real_documents()
    process, base = start_server(tmp_path / "no-site", outside_index, workers=workers,
                                 env={"CASEBOOK_SEARCH_BACKEND": SPEC})
    try:
        health = httpx.get(base + "/api/health", timeout=10).json()
        assert health["index"].startswith("jsonfile-") and health["cases"] == len(docs)
        found = httpx.get(base + "/api/search", params={"q": "银行", "limit": 100}, timeout=10).json()
        assert {r["slug"] for r in found["results"]} == holding(docs, "银行")
        assert set(found["facets"]) >= {"banks", "year"}
        bad = httpx.get(base + "/api/search", params={"q": "银行", "sort": "random"}, timeout=10)
        assert bad.status_code == 400 and "sort" in bad.json()["error"]
        exported = httpx.get(base + "/api/export", params={"q": "心家园", "format": "json"}, timeout=10)
        assert exported.status_code == 200
        assert [r["slug"] for r in exported.json()] == sorted(holding(docs, "心家园"))
        table = httpx.get(base + "/api/export", params={"q": "网格", "format": "csv"}, timeout=10)
        assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
        assert len(table.text.lstrip("\ufeff").strip().splitlines()) == 1 + len(holding(docs, "网格"))
        page = httpx.get(base + "/search/", params={"q": "心家园"}, timeout=10)
        assert page.status_code == 200 and "<mark>心家园</mark>" in page.text
    finally:
        stop_server(process)
