"""Fetching against a real local HTTP server: fixture pages, errors, loops, huge and binary
bodies, slow replies, robots.txt, the archive and conditional requests, and feeds."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from typing import ClassVar

import pytest

from scraper.fetch import Fetcher
from scraper.ingest import ingest
from tests.conftest import FIXTURE_PAGES, SEEDS_RAW

pytestmark = pytest.mark.shared


class Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[dict[str, int]] = {}

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", **headers) -> None:  # type: ignore[no-untyped-def]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        # The client gives up on the slow and huge cases: that is what is tested.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        path = self.path
        if path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        elif path == "/gbk":
            self._send(200, (FIXTURE_PAGES / "037_xinhuanet-he-gbk.html").read_bytes(), "text/html")
        elif path == "/case":
            body = (SEEDS_RAW / "002_94ab2356a5567251.txt").read_bytes()
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_response(304)
                self.end_headers()
                return
            self._send(200, body, "text/plain; charset=utf-8", ETag='"v1"')
        elif path == "/gone":
            if Handler.hits[path] == 1:
                self._send(200, (SEEDS_RAW / "003_e311d38c8422fe87.txt").read_bytes(), "text/plain; charset=utf-8")
            else:
                self._send(410, b"gone")
        elif path == "/missing":
            self._send(404, b"not here")
        elif path == "/broken":
            self._send(500, b"oops")
        elif path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop2" if path == "/loop1" else "/loop1")
            self.end_headers()
        elif path == "/huge":
            self._send(200, b"<p>" + "很大".encode() * 200_000 + b"</p>")
        elif path == "/binary":
            self._send(200, bytes(range(256)) * 100, "application/octet-stream")
        elif path == "/slow":
            time.sleep(2)
            self._send(200, b"<p>late</p>")
        elif path == "/private/page":
            self._send(200, b"<p>secret</p>")
        elif path == "/feed.xml":
            base = f"http://{self.headers['Host']}"
            rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                   f"<link>{base}/</link><item><title>a</title><link>{base}/case</link></item>"
                   f"<item><title>b</title><link>{base}/gbk</link></item></channel></rss>")
            self._send(200, rss.encode(), "application/rss+xml")
        else:
            self._send(404, b"")


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture()
def fetch_settings(settings, tmp_path):
    return settings.with_overrides(fetch_timeout=0.5, fetch_retries=1, fetch_host_interval=0,
                                   max_input_bytes=300_000, archive_dir=tmp_path / "archive")


def test_url_inputs_and_failures_in_one_batch(server, fetch_settings, cases_dir):
    urls = [f"{server}/{p}" for p in ("case", "gbk", "missing", "broken", "loop1", "huge", "binary", "slow",
                                      "private/page")]
    rows = {r.input.rsplit("/", 1)[-1]: r for r in ingest(urls, fetch_settings, out_dir=cases_dir)}
    assert rows["case"].status == "written"
    assert rows["gbk"].status == "irrelevant" and "约定无期限" in rows["gbk"].title
    assert rows["missing"].status == "failed" and "404" in rows["missing"].reason
    assert rows["broken"].status == "failed" and "500" in rows["broken"].reason
    assert Handler.hits["/broken"] == 2            # one retry after the first 500
    assert "redirect loop" in rows["loop1"].reason
    assert rows["huge"].status == "failed" and "limit" in rows["huge"].reason
    assert rows["binary"].status == "failed" and "binary" in rows["binary"].reason
    assert rows["slow"].status == "failed" and "timed out" in rows["slow"].reason
    assert rows["page"].status == "failed" and "robots.txt" in rows["page"].reason


def test_archive_and_conditional_request(server, fetch_settings):
    fetcher = Fetcher(fetch_settings)
    first = fetcher.fetch(f"{server}/case")
    meta_files = list(fetch_settings.archive_dir.glob("*.json"))
    assert len(meta_files) == 1
    meta = json.loads(meta_files[0].read_text(encoding="utf-8"))
    assert meta["url"] == f"{server}/case" and meta["fetched_at"] and meta["etag"] == '"v1"'
    second = fetcher.fetch(f"{server}/case")
    assert second.from_archive and second.body == first.body


def test_feed_links_are_followed(server, fetch_settings, cases_dir):
    rows = ingest([f"{server}/feed.xml"], fetch_settings, out_dir=cases_dir)
    assert {r.input.rsplit("/", 1)[-1]: r.status for r in rows} == {"case": "written", "gbk": "irrelevant"}


def test_a_source_that_disappeared_is_re_extracted_from_the_archive(server, fetch_settings, tmp_path):
    first = ingest([f"{server}/gone"], fetch_settings, out_dir=tmp_path / "a")
    again = ingest([f"{server}/gone"], fetch_settings, out_dir=tmp_path / "b")
    assert [r.status for r in first] == [r.status for r in again] == ["written"]
    assert Handler.hits["/gone"] == 2     # the second fetch was answered 410, the archive served
