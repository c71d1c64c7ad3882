"""`casebook serve` as a real process on a free port, queried over HTTP."""

from __future__ import annotations

import re
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
    cli = subprocess.run([sys.executable, "-m", "casebook.app.cli", "search", "心家园", "--json", "--index",
                          str(built_site["index"])], cwd=ROOT, capture_output=True, text=True, check=True)
    assert '"total": 1' in cli.stdout and result["slug"] in cli.stdout


def test_site_and_search_page_served(server):
    assert "社区金融案例库" in httpx.get(server + "/").text
    page = httpx.get(server + "/search/", params={"q": "适老化"})
    assert page.status_code == 200 and "<mark>适老化</mark>" in page.text


def test_the_builds_own_files_are_not_served(server, built_site):
    """OUTPUT/.casebook holds the render record and caches: never served, whatever the spelling."""
    kept = sorted(p for p in (built_site["output"] / ".casebook").rglob("*") if p.is_file())
    assert kept, "the build keeps its record in OUTPUT/.casebook"
    name = kept[0].relative_to(built_site["output"]).as_posix()
    for path in (f"/{name}", f"/cases/../{name}", f"/{name}".replace(".casebook", "%2Ecasebook"), "/.casebook/"):
        reply = httpx.get(server + path)
        assert reply.status_code == 404, path
        assert "页面不存在" in reply.text and '"key"' not in reply.text


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


def test_workers_share_the_load_on_keep_alive_connections(built_site):
    """With --workers 2, keep-alive connections are spread over both workers (one listening
    socket per worker, SO_REUSEPORT), rather than all accepted by whichever woke first."""
    import socket

    process, base = start_server(built_site["output"], built_site["index"], workers=2)
    try:
        host, port = base.removeprefix("http://").split(":")
        connections = [socket.create_connection((host, int(port))) for _ in range(16)]
        workers = set()
        for connection in connections:
            for _ in range(2):   # two requests on each connection: keep-alive
                connection.sendall(f"GET /api/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                reply = b""
                while b"}" not in reply:
                    reply += connection.recv(65536)
                assert reply.startswith(b"HTTP/1.1 200")
                workers.add(httpx.Response(200, content=reply.split(b"\r\n\r\n", 1)[1]).json()["worker"])
            connection.close()
        assert len(workers) == 2
    finally:
        stop_server(process)


def test_worker_sockets_give_connections_tcp_nodelay():
    """Accepted connections inherit proto=IPPROTO_TCP from the listening socket, so asyncio
    turns Nagle's algorithm off (else keep-alive responses wait for delayed ACKs)."""
    import asyncio
    import socket

    from search.service import listening_socket
    from tests.conftest import free_port

    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(_reader, writer) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        port = free_port()
        server = await asyncio.start_server(accepted, sock=listening_socket("127.0.0.1", port))
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        flag = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        return flag

    assert asyncio.run(main()) == 1


# --- issue 12 (the server) and issue 15 (small things researchers hit) ---------------------

def test_a_slow_query_does_not_delay_other_requests_or_static_files(built_site):
    """A query that burns CPU for seconds runs in a worker thread: a concurrent search and a
    static file are answered while it runs (on the event loop they would wait for it)."""
    import threading
    import time

    from tests.backends import SLOW_MARK, SLOW_SECONDS

    process, base = start_server(built_site["output"], built_site["index"],
                                 env={"CASEBOOK_SEARCH_BACKEND": "tests.backends:SlowBackend"})
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            client.get("/api/search", params={"q": "银行"})     # warm: the index is open
            slow: dict = {}

            def run_slow() -> None:
                started = time.perf_counter()
                slow["reply"] = httpx.get(base + "/api/search", params={"q": SLOW_MARK}, timeout=30)
                slow["seconds"] = time.perf_counter() - started
                slow["done"] = time.perf_counter()

            thread = threading.Thread(target=run_slow)
            thread.start()
            time.sleep(0.4)
            timings = {}
            for name, path, params in (("search", "/api/search", {"q": "银行", "page": "1"}),
                                       ("static", "/theme/css/style.css", None), ("page", "/", None)):
                started = time.perf_counter()
                reply = client.get(path, params=params)
                timings[name] = time.perf_counter() - started
                assert reply.status_code == 200, (name, reply.status_code)
            answered = time.perf_counter()
            thread.join()
        assert slow["reply"].status_code == 200 and slow["seconds"] >= SLOW_SECONDS * 0.9
        assert answered < slow["done"], "the other requests waited for the slow one"
        assert max(timings.values()) < 1.0, timings
    finally:
        stop_server(process)


def test_health_answers_while_every_search_thread_is_busy(built_site):
    """More slow queries than the server has search threads: the queued ones wait, but the
    health check has its own threads and answers at once (a monitor must not see a busy
    server as a dead one; in the search pool it waited for a whole slow query)."""
    import threading
    import time

    from search.service import SEARCH_THREADS
    from tests.backends import SLOW_MARK

    process, base = start_server(built_site["output"], built_site["index"],
                                 env={"CASEBOOK_SEARCH_BACKEND": "tests.backends:BusyBackend"})
    try:
        httpx.get(base + "/api/health", timeout=30)
        replies: list[int] = []

        def run_slow(n: int) -> None:
            replies.append(httpx.get(base + "/api/search", params={"q": f"{SLOW_MARK}{n}"}, timeout=60).status_code)

        threads = [threading.Thread(target=run_slow, args=(n,)) for n in range(SEARCH_THREADS + 2)]
        for thread in threads:
            thread.start()
        time.sleep(0.6)
        started = time.perf_counter()
        reply = httpx.get(base + "/api/health", timeout=30)
        seconds = time.perf_counter() - started
        for thread in threads:
            thread.join()
        # Queued behind the pool it waits for a slow query to end (>= 2.4 s).
        assert reply.status_code == 200 and seconds < 1.5, seconds
        assert replies == [200] * len(threads)
    finally:
        stop_server(process)


def test_search_lanes_take_turns_while_quick_and_open_a_lane_for_a_slow_search():
    """SearchLanes on a real event loop (searches stand in as sleeps): one arriving while a
    quick one runs waits for it instead of time-slicing with it; once every running search
    has passed the budget another lane opens, so a slow one holds others up by at most the
    budget; never more than `lanes` run at once; turns go in arrival order; a waiter that
    gives up (its client left) leaves the line and takes no lane."""
    import asyncio

    from search.service import SearchLanes

    budget = 0.3

    async def main() -> tuple[list, int]:
        lanes = SearchLanes(2, budget)
        loop = asyncio.get_running_loop()
        events: list = []
        running = [0, 0]    # now, most at once

        async def search(name: str, seconds: float, after: float) -> None:
            await asyncio.sleep(after)
            token = await lanes.acquire()
            running[0] += 1
            running[1] = max(running)
            events.append(("start", name, loop.time() - began))
            try:
                await asyncio.sleep(seconds)
            finally:
                running[0] -= 1
                events.append(("end", name, loop.time() - began))
                lanes.release(token)

        began = loop.time()
        # Quick ones: b arrives while a runs and waits for it.
        await asyncio.gather(search("a", 0.1, 0), search("b", 0.05, 0.02))
        began = loop.time()
        # A slow one: c gets a second lane after the budget; d and e queue for it in order;
        # f gives up while waiting.
        waiter = asyncio.ensure_future(search("f", 0.05, 0.04))
        slow = asyncio.gather(search("s", 1.2, 0), search("c", 0.1, 0.01), search("d", 0.1, 0.02),
                              search("e", 0.1, 0.03))
        await asyncio.sleep(0.1)
        waiter.cancel()
        await slow
        assert not lanes.running and not lanes._waiting
        return events, running[1]

    events, most = asyncio.run(main())
    order = [(kind, name) for kind, name, _ in events]
    assert order.index(("end", "a")) < order.index(("start", "b")), order
    starts = {name: at for kind, name, at in events if kind == "start"}
    ends = {name: at for kind, name, at in events if kind == "end"}
    assert "f" not in starts
    assert starts["c"] >= budget - 0.02 and starts["c"] < ends["s"], (starts, ends)
    assert starts["c"] < 1.0, "the quick search waited for the slow one"
    assert starts["c"] <= starts["d"] <= starts["e"] < ends["s"]
    assert starts["d"] >= ends["c"] - 0.01 and starts["e"] >= ends["d"] - 0.01, (starts, ends)
    assert most == 2


@pytest.mark.parametrize("params, says", [
    ({"q": "银行", "page": "²"}, "page must be a whole number"), ({"q": "银行", "limit": "³"}, "limit must be"),
    ({"q": "银行", "page": "١"}, "digits 0-9"), ({"q": "银行", "limit": "1e3"}, "limit must be"),
    ({"q": "银行", "limit": "-5"}, "limit must be"), ({"q": "银行", "page": "9" * 40}, "page must be"),
    ({"q": "银行", "limit": "101"}, "the maximum page size"), ({"q": "银行", "limit": "101"}, "100"),
    ({"q": "银行", "page": "51"}, "50"), ({"q": "银行", "year": "二〇二一"}, "年份"),
])
def test_parameters_are_parsed_strictly_with_a_message(server, params, says):
    for path in ("/api/search", "/api/export"):
        reply = httpx.get(server + path, params=params)
        if path == "/api/export" and "page" in params and "must be a whole" not in says:
            continue    # export serves every match: page depth does not apply
        assert reply.status_code == 400, (path, params, reply.text)
        assert says in reply.json()["error"], (path, reply.json())
    page = httpx.get(server + "/search/", params=params)
    assert page.status_code == 400 and "Traceback" not in page.text


def test_a_parameter_given_twice_is_refused(server):
    reply = httpx.get(server + "/api/search", params=[("q", "银行"), ("q", "社区")])
    assert reply.status_code == 400 and "given 2 times" in reply.json()["error"]


def test_unavailable_search_leaks_no_path(built_site, tmp_path):
    """Without an index every search answer is 503 with a message, and no response names
    the index folder or any other absolute path, or shows a traceback."""
    missing = tmp_path / "secret-folder" / "index"
    process, base = _start_without_index(built_site["output"], missing)
    try:
        for path, params in (("/api/search", {"q": "银行"}), ("/api/export", {"q": "银行"}), ("/api/health", {}),
                             ("/search/", {"q": "银行"})):
            reply = httpx.get(base + path, params=params)
            assert reply.status_code == 503, path
            assert "secret-folder" not in reply.text and str(tmp_path) not in reply.text, (path, reply.text)
            assert not re.search(r"(?<![\w.])/(tmp|home|work|var|usr)/", reply.text), (path, reply.text)
            assert "Traceback" not in reply.text and "index" in reply.text.lower()
    finally:
        stop_server(process)


def _start_without_index(output, index):
    """`casebook serve` over a missing index: up once its health check answers at all."""
    import os
    import time

    from tests.conftest import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "casebook.app.cli", "serve", "--output", str(output), "--index",
                                str(index), "--port", str(port)], cwd=ROOT, env=dict(os.environ),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            httpx.get(base + "/api/health", timeout=2)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("casebook serve did not start")


HEADERS = ("x-content-type-options", "content-security-policy", "referrer-policy", "x-frame-options")


def test_security_headers_on_every_kind_of_response(server, built_site):
    case = next((built_site["output"] / "cases").glob("2022-02-24-*")).name
    kinds = {
        "api 200": ("/api/search", {"q": "银行"}), "api 400": ("/api/search", {"q": "银行", "page": "²"}),
        "export": ("/api/export", {"q": "银行", "format": "csv"}), "health": ("/api/health", {}),
        "openapi": ("/api/openapi.json", {}), "search page": ("/search/", {"q": "适老化"}),
        "search page 400": ("/search/", {"q": "x", "limit": "x"}), "redirect": ("/search", {"q": "x"}),
        "home": ("/", {}), "case page": (f"/cases/{case}/", {}), "stylesheet": ("/theme/css/style.css", {}),
        "script": ("/theme/js/search.js", {}), "404": ("/no/such/page/", {}), "traversal": ("/../etc/passwd", {}),
        "method": ("/api/search", "POST"),
    }
    for kind, (path, params) in kinds.items():
        if params == "POST":
            reply = httpx.post(server + path, content=b"x")
        else:
            reply = httpx.get(server + path, params=params, follow_redirects=False)
        for name in HEADERS:
            assert name in reply.headers, (kind, reply.status_code, name)
        assert reply.headers["x-content-type-options"] == "nosniff"
        policy = reply.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert reply.headers["x-frame-options"] == "DENY", kind
    assert httpx.get(server + "/no/such/page/").status_code == 404


def test_static_files_have_cache_validators(server, built_site):
    case = next((built_site["output"] / "cases").glob("2022-02-24-*")).name
    for path in ("/theme/css/style.css", f"/cases/{case}/", "/"):
        first = httpx.get(server + path)
        assert first.status_code == 200 and first.headers.get("etag") and first.headers.get("last-modified"), path
        again = httpx.get(server + path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and not again.content, path
        assert again.headers["x-content-type-options"] == "nosniff"
        changed = httpx.get(server + path, headers={"If-None-Match": '"not-the-etag"'})
        assert changed.status_code == 200 and changed.content == first.content


def test_openapi_describes_the_real_responses(server):
    """/api/openapi.json is valid OpenAPI 3.1 whose schemas the real answers satisfy, whose
    parameters are exactly those the server accepts, and the search page links to it."""
    import jsonschema

    from search.service import KNOWN_PARAMS

    reply = httpx.get(server + "/api/openapi.json")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/json")
    spec = reply.json()
    assert spec["openapi"].startswith("3.1")
    components = spec["components"]

    def check(instance: object, ref: str) -> None:
        schema = {"$ref": f"#/components/schemas/{ref}", "components": components}
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(instance)

    search_params = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    export_params = {p["name"] for p in spec["paths"]["/api/export"]["get"]["parameters"]}
    assert search_params | {"format"} == KNOWN_PARAMS == export_params
    for params in ({"q": "银行", "limit": "3"}, {"q": "网点进小区"}, {"q": '"适老化 AND ('},
                   {"q": "社区", "bank": "成都农商银行", "tag": "适老化", "sort": "date"},
                   {"q": "", "date": "2021..2023", "from": "2021-3", "to": "2023年"}, {"province": "上海"}):
        answer = httpx.get(server + "/api/search", params=params)
        assert answer.status_code == 200, (params, answer.text)
        check(answer.json(), "SearchResponse")
    for params in ({"q": "x", "page": "²"}, {"q": "x", "nope": "1"}, {"q": "银行 date:2021-13"}):
        answer = httpx.get(server + "/api/search", params=params)
        assert answer.status_code == 400
        check(answer.json(), "Error")
    rows = httpx.get(server + "/api/export", params={"q": "银行", "format": "json"}).json()
    assert rows
    for row in rows:
        check(row, "ExportRow")
    # A documented parameter with a documented value is accepted.
    for parameter in spec["paths"]["/api/search"]["get"]["parameters"]:
        schema = parameter["schema"].get("items", parameter["schema"])
        value = str(schema.get("default", schema.get("enum", ["2021"])[0]))
        answer = httpx.get(server + "/api/search", params={parameter["name"]: value})
        assert answer.status_code == 200, (parameter["name"], value, answer.text)
    page = httpx.get(server + "/search/").text
    assert 'href="/api/openapi.json"' in page


def test_export_cells_and_urls_are_neutralised(tmp_path):
    """A title that is a spreadsheet formula is a plain cell in the CSV; a URL outside the
    allow-list never leaves the API."""
    import csv
    import io
    import json

    from casebook.model import Case
    from search.indexer import build_index
    from search.query import SearchEngine, SearchRequest
    from search.schema import IndexDoc

    docs = [IndexDoc.from_case(Case(slug="formula", title="=cmd|' /C calc'!A0 社区银行", date="2023-05-01",
                                    banks=["+建行"], tags=["@标签"], source="-来源", via="javascript:alert(2)",
                                    summary="\t摘要", body="社区银行的服务。"),
                               path="cases/formula.md", url="javascript:alert(1)"),
            IndexDoc.from_case(Case(slug="plain", title="社区银行网点", date="2022-01-01", body="银行网点进社区。"),
                               path="cases/plain.md", url="/cases/plain/")]
    build_index(docs, tmp_path / "index", procs=1)
    engine = SearchEngine(tmp_path / "index")
    body, _media = engine.export(SearchRequest(q="社区银行"), "csv")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    formula = next(r for r in rows if r["slug"] == "formula")
    assert formula["title"].startswith("'=cmd") and formula["banks"] == "'+建行" and formula["tags"] == "'@标签"
    assert formula["source"] == "'-来源" and formula["summary"].startswith("'\t") and formula["url"] == ""
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row.values())
    exported = json.loads(engine.export(SearchRequest(q="社区银行"), "json")[0])
    assert {r["slug"]: r["url"] for r in exported} == {"formula": "", "plain": "/cases/plain/"}
    assert all("javascript" not in json.dumps(r) for r in exported)
    results = {r["slug"]: r["url"] for r in engine.search(SearchRequest(q="社区银行")).results}
    assert results == {"formula": None, "plain": "/cases/plain/"}


def test_snippet_fallback_shows_text_not_escaped_markup(tmp_path):
    from casebook.model import Case
    from search.indexer import build_index
    from search.query import SearchEngine, SearchRequest
    from search.schema import IndexDoc

    docs = [IndexDoc.from_case(Case(slug="s", title="网格员走进社区", date="2023-05-01", banks=["成都农商银行"],
                                    summary="<p>网格员 &amp; <b>银行</b>服务[详情](/cases/s/)</p>",
                                    body="正文里没有标题里的那个词。"), path="cases/s.md", url="/cases/s/")]
    build_index(docs, tmp_path / "index", procs=1)
    engine = SearchEngine(tmp_path / "index")
    for q in ("网格员走进", "bank:成都农商银行"):
        result = engine.search(SearchRequest(q=q)).results[0]
        assert result["snippet"] == "网格员 &amp; 银行服务详情", (q, result["snippet"])
        assert "&lt;" not in result["snippet"] and "<p>" not in result["snippet"]


def test_pathological_queries_finish_well_inside_the_deadline(built_site):
    """200 rare characters, and 200 characters of real text shuffled (every bigram occurs,
    the whole does not): evaluation and "did you mean" both finish quickly, and the
    suggestions are fragments that occur."""
    import random
    import time

    from casebook.errors import QueryTimeout
    from search.fields import FILTERS
    from search.query import SearchEngine, SearchRequest

    engine = SearchEngine(built_site["index"])
    texts = "".join(engine.snapshot().texts.values())
    # A suggestion is a fragment that occurs in a case, or a value of one of the site's lists.
    listed = {value for field in FILTERS if field.match == "contains"
              for value in engine.snapshot().postings.get(field.name, {})}
    rare = "".join(c for c in map(chr, range(0x9F00, 0x9FA5)) if c not in texts)[:200]
    pairs = [texts[i:i + 2] for i in range(0, len(texts) - 1, 2) if re.fullmatch(r"[\u4e00-\u9fff]{2}", texts[i:i + 2])]
    random.Random(3).shuffle(pairs)
    shuffled = "".join(pairs)[:200]
    for query in (rare, shuffled, " ".join(shuffled[i:i + 3] for i in range(0, 150, 3))[:200]):
        started = time.perf_counter()
        response = engine.search(SearchRequest(q=query))
        assert time.perf_counter() - started < 1.0, query[:20]
        for suggestion in response.did_you_mean:
            assert suggestion in texts or suggestion in listed, suggestion
    hurried = SearchEngine(built_site["index"], time_limit=1e-6)
    with pytest.raises(QueryTimeout):
        hurried.search(SearchRequest(q="银行 社区"))
    with pytest.raises(QueryTimeout):
        hurried.export(SearchRequest(q="银行"), "csv")


# --- answers on the event loop: what does no search skips the hand-over to a thread ----------

class _CountingThreads:
    """A search (or health) pool that counts what is handed to it."""

    def __init__(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.pool = ThreadPoolExecutor(2)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)


def _in_process(built_site, monkeypatch, **overrides):
    """A Service over the shared index, its pools counting; no generation check falls due
    during the test (a due check sends a cache hit to a thread, as it must)."""
    import search.query
    from casebook.settings import load
    from search.service import Service

    monkeypatch.setattr(search.query, "GENERATION_CHECK_S", 3600.0)
    service = Service(load(**overrides), output_dir=built_site["output"], index_dir=built_site["index"])
    service.warm_up()
    threads, health_threads = _CountingThreads(), _CountingThreads()
    service._search_threads, service._health_threads = threads, health_threads  # type: ignore[assignment]
    return service, threads, health_threads


async def _get(app, path: str, params) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, params=params)


def _comparable(reply: httpx.Response) -> tuple:
    """The bytes and headers of a reply, but for took_ms and the length it changes."""
    assert int(reply.headers["content-length"]) == len(reply.content)
    body = re.sub(rb'"took_ms":[0-9.e+-]+', b'"took_ms":0', reply.content)
    return reply.status_code, body, [(k, v) for k, v in reply.headers.raw if k.lower() != b"content-length"]


def test_a_cache_hit_is_answered_on_the_event_loop_with_the_same_bytes_and_headers(built_site, monkeypatch):
    import asyncio

    service, threads, _ = _in_process(built_site, monkeypatch, query_cache=64)
    uncached, _, _ = _in_process(built_site, monkeypatch, query_cache=0)
    params = [("q", "银行"), ("limit", "5"), ("sort", "date"), ("date", "2000..")]

    async def main() -> tuple:
        first = await _get(service.app(), "/api/search", params)    # a miss: searched in a thread, then cached
        assert threads.submitted == 1
        again = await _get(service.app(), "/api/search", params)
        assert threads.submitted == 1, "the cache hit went to a search thread"
        return first, again, await _get(uncached.app(), "/api/search", params)

    first, again, computed = asyncio.run(main())
    assert first.status_code == 200 and first.json()["total"] > 0
    assert _comparable(again) == _comparable(first) == _comparable(computed)


def test_engine_cached_never_searches_reads_a_file_or_waits(built_site):
    from search.query import GENERATION_CHECK_S, SearchEngine, SearchRequest

    request = SearchRequest(q="银行", page_size=3)
    assert SearchEngine(built_site["index"], cache_size=0).cached(request) is None    # the cache off
    engine = SearchEngine(built_site["index"], cache_size=8)
    assert engine.cached(request) is None        # a miss
    answer = engine.search(request)
    hit = engine.cached(request)
    assert hit is not None and hit[0].to_json() | {"took_ms": 0} == answer.to_json() | {"took_ms": 0}
    with engine._lock:                           # held (a swap loading a generation): no waiting
        assert engine.cached(request) is None
    engine._checked -= GENERATION_CHECK_S + 1    # the generation is due for its check: `search` looks
    assert engine.cached(request) is None
    assert engine.search(request).to_json() | {"took_ms": 0} == answer.to_json() | {"took_ms": 0}
    assert engine.cached(request) is not None    # checked again just now


@pytest.mark.parametrize("path, params", [
    ("/api/search", {"q": "银行", "limit": "101"}), ("/api/search", {"q": "银行", "page": "51"}),
    ("/api/search", {"q": "银" * 201}), ("/api/search", {"q": "银行", "sort": "score"}),
    ("/api/search", {"q": "银行", "date": "2021-13"}), ("/api/search", {"q": "银行", "from": "2022", "to": "2021"}),
    ("/api/search", {"q": "银行", "bank": "行" * 101}), ("/api/export", {"q": "银行", "format": "xml"}),
    ("/api/export", {"q": "银行", "limit": "101"}), ("/api/export", {"q": "银行", "date": "2021-2-30"}),
])
def test_a_refused_request_gets_the_engines_400_without_a_search_thread(built_site, monkeypatch, path, params):
    """The service's checks on the event loop are the engine's own, in its order: the same
    400 body as when the engine refused the request in a search thread."""
    import asyncio
    from urllib.parse import urlencode

    from starlette.requests import Request

    from casebook.errors import QueryError
    from search.service import parse_request, public_message

    service, threads, _ = _in_process(built_site, monkeypatch)
    reply = asyncio.run(_get(service.app(), path, params))
    assert reply.status_code == 400 and threads.submitted == 0, (reply.status_code, reply.text)
    request = parse_request(Request({"type": "http", "query_string": urlencode(params).encode(), "headers": []}))
    with pytest.raises(QueryError) as refused:
        if path == "/api/export":
            service.engine.export(request, params.get("format", "csv"))
        else:
            service.engine.search(request)
    assert reply.json() == {"error": public_message(refused.value)}
    assert reply.headers["content-type"] == "application/json"


def test_health_of_an_open_index_is_answered_on_the_event_loop(built_site, monkeypatch):
    import asyncio

    service, threads, health_threads = _in_process(built_site, monkeypatch)
    reply = asyncio.run(_get(service.app(), "/api/health", {}))
    assert reply.status_code == 200 and threads.submitted == health_threads.submitted == 0
    assert reply.json() == service.engine.health()


def test_off_loop_keeps_the_lane_until_the_work_ends_even_when_its_client_left(built_site, monkeypatch):
    import asyncio
    import threading

    service, _, _ = _in_process(built_site, monkeypatch)
    lanes = service._lanes

    async def until_free() -> None:
        for _ in range(200):
            if not lanes.running:
                return
            await asyncio.sleep(0.01)

    async def main() -> None:
        go = threading.Event()
        waiting = asyncio.ensure_future(service.off_loop(lambda: go.wait(10)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        await asyncio.sleep(0.05)
        assert waiting.cancelled() and len(lanes.running) == 1, "a lane was given back while its thread still ran"
        go.set()
        await until_free()
        assert not lanes.running
        with pytest.raises(ZeroDivisionError):
            await service.off_loop(lambda: 1 / 0)
        assert await service.off_loop(lambda: 42) == 42
        await until_free()
        assert not lanes.running and not lanes._waiting

    asyncio.run(main())


def test_encoded_answers_join_the_same_bytes_as_json_body():
    from search.query import SearchResponse
    from search.service import EncodedAnswers, json_body

    answers = EncodedAnswers(size=2)
    responses = [SearchResponse("银行 \"x\"", 3, 1, 10, "date", [{"title": "<b>网</b>\u2028", "score": 1.5}],
                                {"year": [{"value": "2021", "count": 3}]}, 0.0, "注意", ["银"]),
                 SearchResponse("", 0, 2, 5, "relevance", [], {}, 0.0)]
    for _ in range(2):
        for response in responses:
            for took in (0.0, 0.004, 1.005, 12.3456, 1234.5):
                expected = json_body(response.to_json() | {"took_ms": round(took, 2)})
                assert answers.body(response, took) == expected
    assert len(answers._parts) == 2


def test_the_search_page_renders_a_cache_hit_without_a_search_thread(built_site, monkeypatch):
    import asyncio

    service, threads, _ = _in_process(built_site, monkeypatch, query_cache=64)
    params = {"q": "银行", "limit": "3"}

    async def main() -> tuple:
        first = await _get(service.app(), "/search/", params)
        again = await _get(service.app(), "/search/", params)
        return first, again

    first, again = asyncio.run(main())
    assert threads.submitted == 1 and first.status_code == again.status_code == 200
    took = re.compile(r"[0-9]+(\.[0-9]+)? ?(ms|毫秒)")
    assert took.sub("", again.text) == took.sub("", first.text) and "<mark>" in first.text
