"""The HTTP service: the built site and the search API from one real server process.

Starlette (routing, static files) served by uvicorn. Read-only over the index, so any
number of processes can serve one index folder; limits on query length, page depth and
page size; 400 with a message for a bad parameter, never a 500 for user input; every
reflected value escaped.

    GET /api/search?q=&limit=&page=&sort=&bank=&province=&city=&category=&tag=&program=&source=&year=
    GET /api/export?...&format=csv|json
    GET /api/health
    GET /search/?q=...      the search page, rendered by the server (works without JavaScript)
"""

from __future__ import annotations

import html
import logging
import socket
import time
from pathlib import Path
from urllib.parse import urlencode

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from casebook.errors import QueryError, SearchError
from casebook.settings import ROOT, Settings
from search.backend import SearchBackend, open_backend
from search.query import SearchRequest

log = logging.getLogger("casebook.service")
FILTER_PARAMS = {"bank": "banks", "province": "province", "city": "city", "district": "district",
                 "category": "category", "tag": "tags", "program": "programs", "source": "source", "year": "year"}
KNOWN_PARAMS = {"q", "limit", "page", "sort", "format", *FILTER_PARAMS}


def parse_request(request: Request, settings: Settings) -> SearchRequest:
    params = request.query_params
    unknown = sorted(set(params.keys()) - KNOWN_PARAMS)
    if unknown:
        raise QueryError(f"unknown parameter {unknown[0]!r}; use q, limit, page, sort or a filter "
                         f"({', '.join(FILTER_PARAMS)})")

    def integer(name: str, default: int) -> int:
        raw = params.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise QueryError(f"{name} must be a whole number, not {raw!r}")
        return int(raw)

    filters: dict[str, list[str]] = {}
    for param, field in FILTER_PARAMS.items():
        values = [v for v in params.getlist(param) if v]
        if values:
            filters[field] = values
    return SearchRequest(q=params.get("q", ""), filters=filters, sort=params.get("sort") or "relevance",
                         page=integer("page", 1), page_size=integer("limit", 10))


class Service:
    def __init__(self, settings: Settings, *, output_dir: Path, index_dir: Path) -> None:
        self.settings = settings
        self.output_dir = Path(output_dir)
        self.index_dir = Path(index_dir)
        self._backend: SearchBackend | None = None
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROOT / "theme" / "templates")),
                                            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.site_context = _site_context()

    @property
    def engine(self) -> SearchBackend:
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

    async def api_search(self, request: Request) -> Response:
        try:
            response = self.engine.search(parse_request(request, self.settings))
        except QueryError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        except SearchError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse(response.to_json(), headers={"Cache-Control": "no-store"})

    async def api_export(self, request: Request) -> Response:
        fmt = request.query_params.get("format", "csv")
        try:
            body, media_type = self.engine.export(parse_request(request, self.settings), fmt)
        except QueryError as exc:
            return JSONResponse({"error": exc.message}, status_code=400)
        except SearchError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        filename = f"casebook-search.{fmt}"
        return Response(body, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def health(self, request: Request) -> Response:
        try:
            return JSONResponse(self.engine.health())
        except SearchError as exc:
            return JSONResponse({"status": "unavailable", "error": str(exc)}, status_code=503)

    async def search_page(self, request: Request) -> Response:
        template = self.templates.get_template("search.html")
        context = dict(self.site_context)
        status = 200
        if request.query_params.get("q") is not None or any(p in request.query_params for p in FILTER_PARAMS):
            try:
                search_request = parse_request(request, self.settings)
                result = self.engine.search(search_request)
            except QueryError as exc:
                context["error"] = exc.message
                status = 400
                result = None
                search_request = None
            except SearchError as exc:
                return HTMLResponse(f"<p>检索暂不可用：{html.escape(str(exc))}</p>", status_code=503)
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

    def app(self) -> Starlette:
        routes = [
            Route("/api/search", self.api_search),
            Route("/api/export", self.api_export),
            Route("/api/health", self.health),
            Route("/search/", self.search_page),
            Route("/search", lambda r: Response(status_code=308, headers={"Location": "/search/?" + r.url.query})),
        ]
        if self.output_dir.is_dir():
            routes.append(Mount("/", app=StaticFiles(directory=str(self.output_dir), html=True)))
        else:
            routes.append(Route("/", lambda r: PlainTextResponse("site not built: run casebook build", status_code=503)))
        app = Starlette(routes=routes)
        app.add_middleware(_LogMiddleware)
        return app


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
        "SITEURL": "", "FEED_DOMAIN": ""}


class _LogMiddleware:
    """One line per request: method, path, status, milliseconds."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def capture(message) -> None:  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            log.info("%s %s %s %.1fms", scope["method"], scope["path"], status["code"],
                     (time.perf_counter() - started) * 1000)


def create_app() -> Starlette:
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
                                log_level="warning", access_log=False)
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
