"""`casebook serve` as a real process on a free port, queried over HTTP."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT, start_server, stop_server

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def server(built_site):
    process, base = start_server(built_site["output"], built_site["index"])
    yield base
    stop_server(process)


def test_api_matches_cli_contract(server, built_site):
    reply = httpx.get(server + "/api/search", params={"q": "心家园", "limit": 5})
    assert reply.status_code == 200
    body = reply.json()
    assert body["total"] == 1
    result = body["results"][0]
    assert {"slug", "path", "title", "date", "url", "score", "snippet"} <= set(result)
    assert result["path"].startswith("cases/") and result["url"].startswith("/cases/")
    cli = subprocess.run([sys.executable, "-m", "casebook.cli", "search", "心家园", "--json", "--index",
                          str(built_site["index"])], cwd=ROOT, capture_output=True, text=True, check=True)
    assert '"total": 1' in cli.stdout and result["slug"] in cli.stdout


def test_site_and_search_page_served(server):
    assert "社区金融案例库" in httpx.get(server + "/").text
    page = httpx.get(server + "/search/", params={"q": "适老化"})
    assert page.status_code == 200 and "<mark>适老化</mark>" in page.text


def test_bad_parameters_are_400_never_500(server):
    for params in ({"q": "a", "limit": "abc"}, {"q": "a", "page": "0"}, {"q": "x" * 1000}, {"q": "a", "sort": "x"},
                   {"q": "a", "bogus": "1"}):
        reply = httpx.get(server + "/api/search", params=params)
        assert reply.status_code == 400 and reply.json()["error"], params


def test_reflected_values_are_escaped(server):
    hostile = '<script>alert("x")</script>'
    page = httpx.get(server + "/search/", params={"q": hostile})
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    api = httpx.get(server + "/api/search", params={"q": hostile}).text
    assert "<script>" not in api.replace('\\u003c', '<') or '"total":0' in api


def test_export_and_health(server):
    csv_reply = httpx.get(server + "/api/export", params={"q": "银行", "format": "csv"})
    assert csv_reply.status_code == 200 and csv_reply.headers["content-type"].startswith("text/csv")
    assert "slug,title,date" in csv_reply.text
    health = httpx.get(server + "/api/health").json()
    assert health["status"] == "ok" and health["cases"] == 4
