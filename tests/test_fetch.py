"""Fetching against a real local HTTP server: fixture pages, errors, loops, huge and binary
bodies, slow replies, robots.txt, the archive and conditional requests, and feeds; and a
hostile server: private addresses (directly, through a redirect, a sitemap or a feed),
compression bombs in pages and robots.txt, a 1 byte/s trickle, endless sitemap nesting."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import threading
import time
from typing import ClassVar

import pytest

from casebook.errors import FetchError, FetchRefused
from scraper.fetch import Fetcher, address_problem
from scraper.ingest import ingest
from tests.conftest import FIXTURE_PAGES, SEEDS_RAW

pytestmark = pytest.mark.shared


# 200 MB of zeros, gzipped twice: 494 bytes on the wire (the example).
BOMB_200MB = gzip.compress(gzip.compress(b"\0" * 200_000_000, 9), 9)


class Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[dict[str, int]] = {}
    robots_bomb: ClassVar[bool] = False

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8", **headers) -> None:
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
        if path == "/robots.txt" and Handler.robots_bomb:
            self._send(200, BOMB_200MB, "text/plain", Content_Encoding="gzip, gzip")
        elif path == "/robots.txt":
            self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        elif path == "/bomb":
            self._send(200, BOMB_200MB, "text/html", Content_Encoding="gzip, gzip")
        elif path == "/gzipped":
            body = gzip.compress((SEEDS_RAW / "002_94ab2356a5567251.txt").read_bytes())
            self._send(200, body, "text/plain; charset=utf-8", Content_Encoding="gzip")
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(30):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(0.25)
        elif path == "/trickle-headers":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(120):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.25)
        elif path == "/to-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
        elif path.startswith("/to-loopback"):
            # A public-looking hop that sends the fetcher to a loopback address by IP literal.
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/case")
            self.end_headers()
        elif path.startswith("/nest/"):
            depth = int(path.rsplit("/", 1)[-1])
            base = f"http://{self.headers['Host']}"
            xml = (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                   f"<sitemap><loc>{base}/nest/{depth + 1}</loc></sitemap></sitemapindex>")
            self._send(200, xml.encode(), "application/xml")
        elif path == "/many.xml":
            base = f"http://{self.headers['Host']}"
            urls = "".join(f"<url><loc>{base}/missing?{n}</loc></url>" for n in range(2000))
            xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            self._send(200, xml.encode(), "application/xml")
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
    # The server is on loopback: these tests allow private addresses explicitly.
    return settings.with_overrides(fetch_timeout=0.5, fetch_retries=1, fetch_host_interval=0,
                                   max_input_bytes=300_000, archive_dir=tmp_path / "archive",
                                   fetch_allow_private=True)


@pytest.fixture()
def public_only(settings, tmp_path):
    """The default: only public addresses are fetched."""
    assert settings.fetch_allow_private is False
    return settings.with_overrides(fetch_timeout=0.5, fetch_retries=0, fetch_host_interval=0,
                                   archive_dir=tmp_path / "archive")


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


def test_loopback_is_refused_by_default(server, public_only, cases_dir):
    port = server.rsplit(":", 1)[-1]
    before = dict(Handler.hits)
    urls = [f"{server}/case", f"http://localhost:{port}/case", f"http://[::1]:{port}/case",
            f"http://2130706433:{port}/case", f"http://0x7f.1:{port}/case", f"http://0.0.0.0:{port}/case"]
    rows = ingest(urls, public_only, out_dir=cases_dir)
    assert [r.status for r in rows] == ["failed"] * len(urls), rows
    for row in rows:
        assert "refused to fetch" in row.reason and "CASEBOOK_FETCH_ALLOW_PRIVATE" in row.reason, row.reason
    assert Handler.hits == before, "a refused URL reached the server"


def test_a_redirect_to_loopback_is_refused(server, fetch_settings):
    # The first hop is allowed (as a public host would be); the hop it redirects to is checked too.
    class FirstHopOnly(Fetcher):
        def _pinned(self, url):
            self.settings = fetch_settings.with_overrides(fetch_allow_private="to-loopback" in url)
            return super()._pinned(url)

    fetcher = FirstHopOnly(fetch_settings)
    with pytest.raises(FetchRefused, match=r"127\.0\.0\.1 is a loopback address"):
        fetcher.fetch(f"{server}/to-loopback")
    fetcher.close()


def test_sitemap_and_feed_entries_to_loopback_are_refused(server, public_only, cases_dir, tmp_path):
    # The feed itself is read from a file; its entries point at the loopback server.
    port = server.rsplit(":", 1)[-1]
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text(f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                       f"<url><loc>{server}/case</loc></url><url><loc>http://169.254.169.254/latest/meta-data/</loc>"
                       f"</url><url><loc>javascript:alert(1)</loc></url></urlset>", encoding="utf-8")
    feed = tmp_path / "feed.xml"
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>'
                    f"<item><link>http://[::ffff:127.0.0.1]:{port}/gbk</link></item></channel></rss>", encoding="utf-8")
    before = dict(Handler.hits)
    rows = ingest([str(sitemap), str(feed)], public_only, out_dir=cases_dir)
    refused = [r for r in rows if r.status == "failed"]
    assert {r.input for r in refused} == {f"{server}/case", "http://169.254.169.254/latest/meta-data/",
                                          f"http://[::ffff:127.0.0.1]:{port}/gbk"}, rows
    assert all("refused to fetch" in r.reason for r in refused)
    assert not any("javascript" in r.input for r in rows)
    assert Handler.hits == before


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "public"), ("::1", "loopback"), ("fe80::1", "link-local"),
    ("fc00::1", "private"), ("ff02::1", "multicast"), ("::", "unspecified"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"), ("64:ff9b::a9fe:a9fe", "link-local"), ("2002:7f00:1::", "loopback"),
])
def test_non_public_addresses_are_named(address, kind):
    problem = address_problem(address)
    assert problem is not None and kind in problem, problem


def test_public_addresses_pass():
    for address in ("1.1.1.1", "202.108.22.5", "2400:3200::1", "::ffff:1.1.1.1"):
        assert address_problem(address) is None, address


def test_gzip_gzip_bomb_stops_at_the_cap(server, fetch_settings):
    assert len(BOMB_200MB) < 1000
    fetcher = Fetcher(fetch_settings)
    started = time.monotonic()
    with pytest.raises(FetchError, match="decompresses to more than the 300,000-byte limit"):
        fetcher.fetch(f"{server}/bomb")
    assert time.monotonic() - started < 5
    fetcher.close()


def test_gzip_body_is_read(server, fetch_settings):
    with Fetcher(fetch_settings) as fetcher:
        body = fetcher.fetch(f"{server}/gzipped").body
    assert body == (SEEDS_RAW / "002_94ab2356a5567251.txt").read_bytes()


def test_robots_bomb_is_capped_and_ignored(server, fetch_settings):
    Handler.robots_bomb = True
    try:
        import psutil

        rss = psutil.Process().memory_info().rss
        with Fetcher(fetch_settings) as fetcher:
            assert fetcher.allowed(f"{server}/case")
        assert psutil.Process().memory_info().rss - rss < 50_000_000
    finally:
        Handler.robots_bomb = False


def test_a_trickle_ends_at_the_deadline(server, fetch_settings):
    settings = fetch_settings.with_overrides(fetch_deadline=2.0, fetch_timeout=5.0, fetch_retries=0)
    started = time.monotonic()
    with Fetcher(settings) as fetcher, pytest.raises(FetchError, match="2-second deadline"):
        fetcher.fetch(f"{server}/trickle")
    assert time.monotonic() - started < 4


def test_sitemap_nesting_and_link_count_are_capped(server, fetch_settings, cases_dir):
    settings = fetch_settings.with_overrides(max_feed_depth=3, max_feed_links=50)
    rows = ingest([f"{server}/nest/0"], settings, out_dir=cases_dir)
    assert [r.input.rsplit("/", 1)[-1] for r in rows] == ["3"]
    assert rows[0].status == "failed" and "at most 3 levels" in rows[0].reason
    rows = ingest([f"{server}/many.xml"], settings, out_dir=cases_dir)
    assert len(rows) == 50 and all("404" in r.reason for r in rows)


def test_one_fetcher_per_batch_reads_robots_once(server, fetch_settings, cases_dir):
    before = Handler.hits.get("/robots.txt", 0)
    ingest([f"{server}/case", f"{server}/gbk", f"{server}/missing"], fetch_settings, out_dir=cases_dir)
    assert Handler.hits["/robots.txt"] - before == 1


def test_a_header_trickle_ends_at_the_deadline(server, fetch_settings):
    settings = fetch_settings.with_overrides(fetch_deadline=2.0, fetch_timeout=5.0, fetch_retries=0)
    started = time.monotonic()
    with Fetcher(settings) as fetcher, pytest.raises(FetchError, match="2-second deadline"):
        fetcher.fetch(f"{server}/trickle-headers")
    assert time.monotonic() - started < 5


def test_a_redirect_to_another_scheme_is_refused(server, fetch_settings):
    with Fetcher(fetch_settings) as fetcher, pytest.raises(FetchError, match="not an http"):
        fetcher.fetch(f"{server}/to-file")


def test_inputs_read_without_a_fetcher_share_one_per_process(server, fetch_settings):
    # What a process pool's worker does: extract_input per URL, with no fetcher handed over.
    from scraper.pipeline import extract_input

    before = Handler.hits.get("/robots.txt", 0)
    results = [extract_input(f"{server}/{path}", fetch_settings) for path in ("case", "gbk")]
    assert all(r.error is None for r in results), results
    assert Handler.hits["/robots.txt"] - before == 1
