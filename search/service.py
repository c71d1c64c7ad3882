"""The HTTP service: the built site and the search API from one real server process.

Starlette (routing, static files) served by uvicorn. Read-only over the index, so any
number of processes can serve one index folder.

- Every search, export and health call runs in a worker thread, never on the event loop: a
  slow query cannot stall other requests or static files, and the engine's one deadline per
  request bounds it. Only what does no search is answered on the event loop, sparing the
  hand-over to a thread and back: a parameter refused with a 400, a response-cache hit, and
  the health of an open index (each looked up without reading a file or waiting for a lock).
  Nothing is predicted from the query's text. Searches take turns in one lane while they
  are quick and open a second only when the one running has taken longer than
  LANE_BUDGET_S (`SearchLanes`): a slow query cannot hold the others up, and quick ones do
  not time-slice each other.
- Parameters are parsed strictly (whole numbers in ASCII digits, known names only, single
  values given once): a bad one is a 400 with a message, never a 500.
- No filesystem path or traceback in any response; every response (static files, errors,
  404s included) carries the security headers of `SECURITY_HEADERS`.

    GET /api/search?q=&limit=&page=&sort=&date=&from=&to=&<filter>=...   (filters: search/fields.py)
    GET /api/export?...&format=csv|json
    GET /api/health
    GET /api/openapi.json   the OpenAPI description of the two above
    GET /search/?q=...      the search page, rendered by the server (works without JavaScript)
    anything else           the built site's files; an unknown address is a 404 with the site's
                            Chinese 404 page (a JSON error under /api/)
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import logging
import os
import re
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from casebook.errors import CasebookError, QueryError, SearchError
from casebook.settings import ROOT, Settings
from search import openapi
from search.backend import SearchBackend, open_backend
from search.fields import BY_PARAM, client_table
from search.query import SearchRequest, SearchResponse
from search.request import request_dates, validate_export, validate_request

log = logging.getLogger("casebook.service")
T = TypeVar("T")
FILTER_PARAMS = {param: field.name for param, field in BY_PARAM.items()}
SINGLE_PARAMS = ("q", "limit", "page", "sort", "format", "date", "from", "to")
KNOWN_PARAMS = {*SINGLE_PARAMS, *FILTER_PARAMS}
# Searches are CPU-bound under the GIL, so a process gains nothing from running two at once:
# they only time-slice each other and the event loop (every GIL hand-over waits up to the
# interpreter's 5 ms switch interval). So they take turns in one lane, and a second lane
# opens only while every running search has taken longer than LANE_BUDGET_S: then the
# running one is a slow query, and the others must not wait for it. The budget sits above
# what the 10,000-case benchmark's queries take on a busy machine (2-25 ms) and well below
# a human's notice; at 8 threads the benchmark lost a third of its throughput.
SEARCH_THREADS = 2
LANE_BUDGET_S = 0.04
HEALTH_THREADS = 2
NUMBER_RE = re.compile(r"[0-9]{1,9}")   # ASCII digits only, at most nine of them
# The site's own pages load scripts, styles and images from the site only and have no
# inline script (the case pages' JSON-LD is a data block, which CSP does not run).
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# A search answer's headers besides its length, encoded once (in Starlette's order for
# Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})).
SEARCH_HEADERS = ((b"cache-control", b"no-store"),)
JSON_TYPE = ((b"content-type", b"application/json"),)


def _integer(params: Mapping[str, str], name: str, default: int) -> int:
    """A whole number written in ASCII digits (str.isdigit would take '²' and '٣')."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not NUMBER_RE.fullmatch(raw):
        raise QueryError(f"{name} must be a whole number written with the digits 0-9, not {raw[:20]!r}")
    return int(raw)


def parse_request(request: Request) -> SearchRequest:
    """The request's parameters in one pass over them. Refused, in this order: an unknown
    name (the first in sorted order), a single value given more than once (in
    SINGLE_PARAMS order), then a page or limit that is not a whole number."""
    singles: dict[str, list[str]] = {}
    given: dict[str, list[str]] = {}   # filter parameter -> its non-empty values, in URL order
    unknown: list[str] = []
    for name, value in request.query_params.multi_items():
        if name in FILTER_PARAMS:
            if value:
                given.setdefault(name, []).append(value)
        elif name in KNOWN_PARAMS:
            singles.setdefault(name, []).append(value)
        else:
            unknown.append(name)
    if unknown:
        raise QueryError(f"unknown parameter {min(unknown)[:40]!r}; use q, limit, page, sort, date, from, to or a "
                         f"filter ({', '.join(FILTER_PARAMS)})")
    for name in SINGLE_PARAMS:
        if len(singles.get(name, ())) > 1:
            raise QueryError(f"{name} is given {len(singles[name])} times; give it once")
    params = {name: values[0] for name, values in singles.items()}
    filters = {field: given[param] for param, field in FILTER_PARAMS.items() if param in given}
    return SearchRequest(q=params.get("q", ""), filters=filters, sort=params.get("sort") or "relevance",
                         page=_integer(params, "page", 1), page_size=_integer(params, "limit", 10),
                         date=params.get("date", ""), date_from=params.get("from", ""), date_to=params.get("to", ""))


def public_message(exc: CasebookError) -> str:
    """What a client may be told: the message and the hint, never the file or folder (the
    source) the error names for the operator's log."""
    text = exc.message + (f" ({exc.hint})" if exc.hint else "")
    return re.sub(r"(?<![\w.])/(?:[\w.\-]+/)+[\w.\-]*", "…", text)


def check_request(request: SearchRequest, settings: Settings) -> None:
    """What every backend refuses (search.request: limits, then the dates), refused on the
    event loop: a 400 needs no search thread. The backend checks again, in the same order."""
    validate_request(request, max_query_chars=settings.max_query_chars, max_page=settings.max_page,
                     max_page_size=settings.max_page_size)
    request_dates(request)


class PreparedResponse(Response):
    """A body with headers encoded once for all requests: only its length is new."""

    def __init__(self, body: bytes, head: tuple[tuple[bytes, bytes], ...], tail: tuple[tuple[bytes, bytes], ...],
                 status_code: int = 200) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = [*head, (b"content-length", str(len(body)).encode()), *tail]


def search_response(body: bytes) -> Response:
    """A search answer, as `Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})`."""
    return PreparedResponse(body, SEARCH_HEADERS, JSON_TYPE)


def json_body(content: object) -> bytes:
    """JSON as Starlette's JSONResponse writes it, made where it is called: in the search
    thread, so that the event loop only sends the bytes."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class EncodedAnswers:
    """The JSON of recently served cached responses, kept in two pieces around `took_ms`
    (the one field a cache hit changes), so a repeated hit on the event loop is joined, not
    encoded again: `json_body(response.to_json())` byte for byte. Keyed by the identity of
    the engine's cached response; an entry holds that response, so its id is not reused
    while the entry lives."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._parts: OrderedDict[int, tuple[SearchResponse, bytes, bytes]] = OrderedDict()

    def body(self, cached: SearchResponse, took_ms: float) -> bytes:
        entry = self._parts.get(id(cached))
        if entry is None or entry[0] is not cached:
            entry = (cached, *_split_at_took(cached.to_json()))
            self._parts[id(cached)] = entry
            while len(self._parts) > self.size:
                self._parts.popitem(last=False)
        else:
            self._parts.move_to_end(id(cached))
        return entry[1] + json_body(round(took_ms, 2)) + entry[2]


def _split_at_took(content: dict) -> tuple[bytes, bytes]:
    """`json_body(content)` as the bytes before the value of "took_ms" and those after it."""
    names = list(content)
    at = names.index("took_ms")
    head = json_body({name: content[name] for name in names[:at + 1]})
    tail = json_body({name: content[name] for name in names[at + 1:]})
    took = json_body(content["took_ms"])
    return head[:-1 - len(took)], (b"," + tail[1:]) if len(tail) > 2 else b"}"


class SearchLanes:
    """Admission to the search threads, on the event loop: one search at a time while the
    searches are quick, and up to `lanes` at once while every running one has taken longer
    than `budget` seconds. Waiting searches start in arrival order.

    Nothing is predicted from the request, so no query can pass for cheap: a query of any
    cost runs in a thread, and how long it has run so far is all that opens a lane. A slow
    query therefore delays the ones behind it by at most `budget`; `lanes` slow ones at once
    fill the lanes (as they filled the thread pool before), and the engine's deadline ends
    each of them."""

    def __init__(self, lanes: int, budget: float) -> None:
        self.lanes = lanes
        self.budget = budget
        self.running: list[float] = []     # start times (event-loop clock) of the searches running
        self._waiting: deque[asyncio.Future[float]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def _may_start(self, now: float) -> bool:
        if not self.running:
            return True
        return len(self.running) < self.lanes and all(now - started >= self.budget for started in self.running)

    async def acquire(self) -> float:
        """Wait for a lane; the token to give back to `release`."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if not self._waiting and self._may_start(now):
            self.running.append(now)
            return now
        turn: asyncio.Future[float] = loop.create_future()
        self._waiting.append(turn)
        self._arm(loop)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(turn.result())     # admitted just as the request was cancelled
            else:
                self._waiting.remove(turn)
            raise

    def release(self, token: float) -> None:
        self.running.remove(token)
        self._admit()

    def _admit(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._waiting and self._may_start(now):
            turn = self._waiting.popleft()
            if not turn.done():
                self.running.append(now)
                turn.set_result(now)
        self._arm(loop)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Look again when the running searches will all have passed the budget (a lane may
        open then), as long as someone waits and a lane is left to open."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._waiting and 0 < len(self.running) < self.lanes:
            self._timer = loop.call_at(max(self.running) + self.budget, self._admit)


class Service:
    def __init__(self, settings: Settings, *, output_dir: Path, index_dir: Path) -> None:
        self.settings = settings
        self.output_dir = Path(output_dir)
        self.index_dir = Path(index_dir)
        self._backend: SearchBackend | None = None
        self._backend_lock = threading.Lock()
        self._lanes = SearchLanes(SEARCH_THREADS, LANE_BUDGET_S)
        # Plain executors: their hand-over to a thread costs the event loop less than anyio's.
        self._search_threads = ThreadPoolExecutor(SEARCH_THREADS, thread_name_prefix="search")
        self._health_threads = ThreadPoolExecutor(HEALTH_THREADS, thread_name_prefix="health")
        self._encoded = EncodedAnswers()
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "theme" / "templates")),
                                            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.site_context = _site_context()
        self.openapi = json.dumps(openapi.document(settings.max_page, settings.max_page_size,
                                                   settings.max_query_chars), ensure_ascii=False, indent=1)

    @property
    def engine(self) -> SearchBackend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = open_backend(self.settings, self.index_dir, self.settings.search_backend)
            return self._backend

    def warm_up(self) -> None:
        """Open the index before the first request (a worker accepts connections only after
        its app is made), so no user waits for the snapshot to load. Without an index yet,
        the service still starts and the search API answers 503 until a build makes one."""
        try:
            self.engine.health()
        except SearchError as exc:
            log.warning("search not ready: %s", exc)

    async def off_loop(self, work: Callable[[], T]) -> T:
        """Blocking work in a search thread, not on the event loop, once `SearchLanes` lets
        it start. A thread cannot be stopped, so its lane is given back when its work has
        finished, also when the request was cancelled meanwhile (cancelling `answer` does
        not mark the work done). One call back to the loop per search: the lane's release
        and the answer together (run_in_executor and a shield took several loop turns)."""
        token = await self._lanes.acquire()
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()

        def finish(done: Future[T]) -> None:     # on the event loop
            # The answer first, then the lane: the request answered resumes before the one
            # admitted, so its response is written before the next search starts in a
            # thread and competes with it for the GIL.
            try:
                if done.cancelled():        # the pool shut down before the work began
                    answer.cancel()
                elif not answer.cancelled():
                    error = done.exception()
                    if error is None:
                        answer.set_result(done.result())
                    else:
                        answer.set_exception(error)
            finally:
                self._lanes.release(token)

        def hand_back(done: Future[T]) -> None:  # in the search thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(finish, done)

        try:
            running = self._search_threads.submit(work)
        except BaseException:
            self._lanes.release(token)
            raise
        running.add_done_callback(hand_back)
        return await answer

    def cache_hit(self, search_request: SearchRequest) -> tuple[SearchResponse, float] | None:
        """The backend's cached response (never to be changed) and its took_ms, looked up
        on the event loop (no search, no file read, no lock waited for), or None: then a
        search thread answers. Only for a request `check_request` passed."""
        lookup: Callable[[SearchRequest], tuple[SearchResponse, float] | None] | None = getattr(
            self._backend, "cached", None)
        return None if lookup is None else lookup(search_request)

    def cached_body(self, search_request: SearchRequest) -> bytes | None:
        """The JSON answer from the response cache, made on the event loop, or None."""
        hit = self.cache_hit(search_request)
        return None if hit is None else self._encoded.body(*hit)

    async def off_loop_health(self, work: Callable[[], T]) -> T:
        """The health check in a pool of its own: queued behind a burst of costly queries in
        the search pool, it took a second and more, and a monitor would call the server down
        while it is only busy."""
        return await asyncio.get_running_loop().run_in_executor(self._health_threads, work)

    async def api_search(self, request: Request) -> Response:
        try:
            search_request = parse_request(request)
            check_request(search_request, self.settings)
            body = self.cached_body(search_request)
            if body is None:
                body = await self.off_loop(lambda: json_body(self.engine.search(search_request).to_json()))
        except QueryError as exc:
            return JSONResponse({"error": public_message(exc)}, status_code=400)
        except SearchError as exc:
            log.warning("search unavailable: %s", exc)
            return JSONResponse({"error": public_message(exc)}, status_code=503)
        return search_response(body)

    async def api_export(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "csv")
        try:
            search_request = parse_request(request)
            validate_export(fmt)
            check_request(search_request, self.settings)
            body, media_type = await self.off_loop(lambda: self.engine.export(search_request, fmt))
        except QueryError as exc:
            return JSONResponse({"error": public_message(exc)}, status_code=400)
        except SearchError as exc:
            log.warning("export unavailable: %s", exc)
            return JSONResponse({"error": public_message(exc)}, status_code=503)
        filename = f"casebook-search.{fmt}"
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def health(self, _request: Request) -> Response:
        now: Callable[[], dict | None] | None = getattr(self._backend, "health_now", None)
        answer = None if now is None else now()
        if answer is not None:      # the open index, checked moments ago: nothing to wait for
            return JSONResponse(answer)
        try:
            return JSONResponse(await self.off_loop_health(lambda: self.engine.health()))
        except SearchError as exc:
            log.warning("search unavailable: %s", exc)
            return JSONResponse({"status": "unavailable", "error": public_message(exc)}, status_code=503)

    async def openapi_json(self, _request: Request) -> Response:
        return Response(self.openapi, media_type="application/json")

    async def api_not_found(self, request: Request) -> Response:
        """An unknown /api/ address is a JSON error for programs; every other unknown address
        gets the site's Chinese 404 page (output/404.html, served by StaticFiles' html mode)."""
        return JSONResponse({"error": f"no such API endpoint: {request.url.path[:80]}; see /api/openapi.json"},
                            status_code=404)

    async def search_page(self, request: Request) -> Response:
        template = self.templates.get_template("search.html")
        context = dict(self.site_context)
        status = 200
        if request.query_params.get("q") is not None or any(p in request.query_params for p in FILTER_PARAMS):
            try:
                search_request = parse_request(request)
                check_request(search_request, self.settings)
                hit = self.cache_hit(search_request)
                result = (dataclasses.replace(hit[0], took_ms=hit[1]) if hit is not None
                          else await self.off_loop(lambda: self.engine.search(search_request)))
            except QueryError as exc:
                context["error"] = public_message(exc)
                status = 400
                result = None
                search_request = None
            except SearchError as exc:
                log.warning("search unavailable: %s", exc)
                return HTMLResponse(f"<p>检索暂不可用：{html.escape(public_message(exc))}</p>", status_code=503)
            if result is not None and search_request is not None:
                base = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "format")]
                context.update(
                    search=result, search_filters=_grouped(request),
                    export_url="/api/export?" + urlencode(base),
                    next_url="/search/?" + urlencode([*base, ("page", str(search_request.page + 1))]),
                    facet_url=lambda name, value, base=base: "/search/?" + urlencode(
                        [*base, (_param_of(name), value)]),
                )
        return HTMLResponse(template.render(**context), status_code=status)

    def app(self) -> ASGIApp:
        routes: list[BaseRoute] = [
            Route("/api/search", self.api_search),
            Route("/api/export", self.api_export),
            Route("/api/health", self.health),
            Route("/api/openapi.json", self.openapi_json),
            Route("/api/{rest:path}", self.api_not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/search/", self.search_page),
            Route("/search", lambda r: Response(status_code=308, headers={"Location": "/search/?" + r.url.query})),
        ]
        if self.output_dir.is_dir():
            routes.append(Mount("/", app=SiteFiles(directory=str(self.output_dir), html=True)))
        else:
            routes.append(Route("/", lambda _request: PlainTextResponse("site not built: run casebook build", status_code=503)))
        return _Guard(Starlette(routes=routes))


class SiteFiles(StaticFiles):
    """The built site's files, without what the build keeps for itself: a path with a dot
    segment (`/.casebook/`, the render record and caches; `.git`) is not found, and gets
    the site's 404 page like any other missing file (nginx denies the same paths)."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # "." is the site's root (Starlette's name for an empty path), not a dot segment.
        if any(part.startswith(".") and part != "." for part in path.replace("\\", "/").split("/")):
            return "", None
        return super().lookup_path(path)


def _grouped(request: Request) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key in FILTER_PARAMS:
            grouped.setdefault(FILTER_PARAMS[key], []).append(value)
    return grouped


def _param_of(field: str) -> str:
    return {v: k for k, v in FILTER_PARAMS.items()}.get(field, field)


def _site_context() -> dict:
    import pelicanconf

    return {name: getattr(pelicanconf, name) for name in ("SITENAME", "SITESUBTITLE", "FEED_ALL_ATOM")} | {
        "SITEURL": "", "FEED_DOMAIN": "", "SEARCH_FIELDS": client_table()}


class _Guard:
    """The outermost layer, plain ASGI (one wrapper per request, not Starlette's middleware
    stack): the security headers on every response (static files, errors and 404s
    included), one log line per request (method, path, status, milliseconds), and a plain
    500 without traceback or path for anything unexpected (logged here with its traceback
    for the operator)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0     # until the response starts

        async def secured(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                names = {name.lower() for name, _ in headers}
                message = {**message, "headers": [*headers, *(h for h in SECURITY_HEADERS if h[0] not in names)]}
            await send(message)

        try:
            await self.app(scope, receive, secured)
        except Exception:
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if status:
                raise
            body = json.dumps({"error": "internal error; the server log has the details"}).encode()
            await secured({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            log.info("%s %s %s %.1fms", scope["method"], scope["path"], status or 500,
                     (time.perf_counter() - began) * 1000)


def create_app() -> ASGIApp:
    """The app of one worker process (uvicorn --factory): settings from CASEBOOK_* variables."""
    from casebook.settings import load

    settings = load()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(message)s")
    service = Service(settings, output_dir=settings.output_dir, index_dir=settings.index_dir)
    service.warm_up()
    return service.app()


def serve(settings: Settings, *, output_dir: Path, index_dir: Path, host: str, port: int, workers: int = 1) -> None:
    """One server; with workers > 1, that many processes share the port and the (read-only) index."""
    import os

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(message)s")
    if workers > 1:
        os.environ["CASEBOOK_OUTPUT_DIR"] = str(output_dir)
        os.environ["CASEBOOK_INDEX_DIR"] = str(index_dir)
        config = uvicorn.Config("search.service:create_app", factory=True, host=host, port=port, workers=workers,
                                log_level="warning", access_log=False, timeout_worker_healthcheck=30)  # reload: a loaded machine needs >5 s
        ReusePortWorkers(config, host, port).run()
        return
    service = Service(settings, output_dir=output_dir, index_dir=index_dir)
    service.warm_up()
    uvicorn.run(service.app(), host=host, port=port, log_level="warning", access_log=False)


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening socket of one worker: SO_REUSEPORT, so that every worker has its own and
    the kernel spreads new connections over them. With one socket shared by all workers
    (uvicorn's `--workers`), the first worker to wake accepts every pending connection, and
    keep-alive clients then stay on it while the other worker idles. proto=IPPROTO_TCP,
    because accepted connections inherit it and asyncio sets TCP_NODELAY only for that;
    without it every keep-alive response after the first waits ~40 ms for the client's
    delayed ACK (Nagle's algorithm; uvicorn issue #3149)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SearchError(f"cannot listen on {host}:{port}: {exc.strerror}",
                          hint="choose another --port or stop the process using it") from exc
    sock.set_inheritable(True)
    return sock


class ReusePortWorkers(Multiprocess):
    """uvicorn's worker supervisor (signals, health pings, restarts), with one listening
    socket per worker instead of one for all (see `listening_socket`)."""

    def __init__(self, config: uvicorn.Config, host: str, port: int) -> None:
        self.worker_sockets = [listening_socket(host, port) for _ in range(config.workers)]
        for sock in self.worker_sockets:
            # Listening from the start: a connection the kernel assigns to a worker that
            # is still loading the index waits in its queue instead of being refused.
            sock.listen(config.backlog)
        super().__init__(config, sockets=[])

    def _spawn(self, number: int) -> Process:
        process = Process(self.config, [self.worker_sockets[number]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._spawn(number) for number in range(self.processes_num)]

    def restart_all(self) -> None:
        for number, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._spawn(number)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                return
            old.terminate()
            old.join()
            self.processes[number] = new

    def keep_subprocess_alive(self) -> None:
        for number, process in enumerate(self.processes):
            if self.should_exit.is_set() or process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("worker %s failed to start; stopping", process.pid)
                self.should_exit.set()
                return
            log.warning("worker %s died; starting another", process.pid)
            self.processes[number] = self._spawn(number)
