"""Fetching URLs politely and safely, with an archive of every raw response.

Timeouts, retries with exponential backoff (on connection errors, 429 and 5xx), a size
cap enforced while streaming, a redirect limit, one request per host per interval,
robots.txt, a clear User-Agent, and conditional requests (If-None-Match /
If-Modified-Since) from the archive. Every body fetched is archived with its URL and
fetch time, so a case can be re-extracted after the source disappears.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import urllib.robotparser
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from casebook.errors import FetchError
from casebook.settings import Settings


@dataclass
class Response:
    url: str                 # after redirects
    body: bytes
    charset: str | None
    key: str                 # stable identity: the requested URL's hash
    from_archive: bool = False


class Archive:
    """Raw responses on disk: <dir>/<sha1(url)>.body and .json (url, final url, time, headers)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, url: str) -> tuple[Path, Path]:
        name = hashlib.sha1(url.encode("utf-8")).hexdigest()
        return self.directory / f"{name}.body", self.directory / f"{name}.json"

    def load(self, url: str) -> tuple[bytes, dict] | None:
        body, meta = self._paths(url)
        if body.exists() and meta.exists():
            return body.read_bytes(), json.loads(meta.read_text(encoding="utf-8"))
        return None

    def store(self, url: str, final_url: str, body: bytes, headers: httpx.Headers) -> None:
        from casebook.files import atomic_write

        self.directory.mkdir(parents=True, exist_ok=True)
        body_path, meta_path = self._paths(url)
        tmp = body_path.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(body_path)
        meta = {"url": url, "final_url": final_url, "fetched_at": dt.datetime.now(dt.UTC).isoformat(),
                "etag": headers.get("etag"), "last_modified": headers.get("last-modified"),
                "content_type": headers.get("content-type")}
        atomic_write(meta_path, json.dumps(meta, ensure_ascii=False, indent=1))


class Fetcher:
    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.archive = Archive(settings.archive_dir)
        self.client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Language": "zh-CN,zh;q=0.9"},
            timeout=httpx.Timeout(settings.fetch_timeout), follow_redirects=False, transport=transport)
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def _wait_for_host(self, host: str) -> None:
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.settings.fetch_host_interval:
                time.sleep(self.settings.fetch_host_interval - (now - last))
            self._last_request[host] = time.monotonic()

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            parser: urllib.robotparser.RobotFileParser | None = urllib.robotparser.RobotFileParser()
            try:
                self._wait_for_host(parts.netloc)
                reply = self.client.get(origin + "/robots.txt")
                if reply.status_code == 200:
                    parser.parse(reply.text.splitlines())  # type: ignore[union-attr]
                else:
                    parser = None  # no robots.txt: everything is allowed
            except httpx.HTTPError:
                parser = None
            self._robots[origin] = parser
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.settings.user_agent, url)

    def fetch(self, url: str) -> Response:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        if not self.allowed(url):
            raise FetchError("robots.txt disallows fetching this URL", source=url,
                             hint="save the page by hand and ingest the file instead")
        archived = self.archive.load(url)
        headers = {}
        if archived:
            meta = archived[1]
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        last_error = "no attempt made"
        for attempt in range(self.settings.fetch_retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            try:
                status, final_url, body, reply_headers = self._get_following_redirects(url, headers)
            except FetchError:
                raise
            except httpx.TimeoutException:
                last_error = f"timed out after {self.settings.fetch_timeout:g} s"
                continue
            except httpx.HTTPError as exc:
                last_error = f"connection failed: {exc.__class__.__name__}"
                continue
            if status == 304 and archived:
                return Response(archived[1].get("final_url", url), archived[0],
                                _charset(archived[1].get("content_type")), key, from_archive=True)
            if status == 429 or status >= 500:
                last_error = f"the server answered HTTP {status}"
                continue
            if status in (404, 410) and archived:
                # The source is gone: the archived copy is what the case was made from.
                return Response(archived[1].get("final_url", url), archived[0],
                                _charset(archived[1].get("content_type")), key, from_archive=True)
            if status >= 400:
                raise FetchError(f"the server answered HTTP {status}", source=url,
                                 hint="check the address; the page may have moved or been removed")
            self.archive.store(url, final_url, body, reply_headers)
            return Response(final_url, body, _charset(reply_headers.get("content-type")), key)
        if archived:
            return Response(archived[1].get("final_url", url), archived[0],
                            _charset(archived[1].get("content_type")), key, from_archive=True)
        raise FetchError(f"gave up after {self.settings.fetch_retries + 1} attempts: {last_error}", source=url)

    def _get_following_redirects(self, url: str, headers: dict) -> tuple[int, str, bytes, httpx.Headers]:
        seen = set()
        current = url
        for _ in range(self.settings.fetch_max_redirects + 1):
            if current in seen:
                raise FetchError("redirect loop", source=url, hint=f"{current} redirects back to itself")
            seen.add(current)
            self._wait_for_host(urlsplit(current).netloc)
            with self.client.stream("GET", current, headers=headers) as reply:
                if reply.is_redirect and reply.headers.get("location"):
                    current = urljoin(current, reply.headers["location"])
                    continue
                body = self._read_capped(reply, url)
                return reply.status_code, current, body, reply.headers
        raise FetchError(f"more than {self.settings.fetch_max_redirects} redirects", source=url)

    def _read_capped(self, reply: httpx.Response, url: str) -> bytes:
        limit = self.settings.max_input_bytes
        declared = reply.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"the response is {int(declared):,} bytes, over the {limit:,}-byte limit", source=url)
        chunks, size = [], 0
        for chunk in reply.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise FetchError(f"the response exceeds the {limit:,}-byte limit", source=url)
            chunks.append(chunk)
        return b"".join(chunks)


def _charset(content_type: str | None) -> str | None:
    if not content_type or "charset=" not in content_type.lower():
        return None
    return content_type.lower().split("charset=")[-1].split(";")[0].strip().strip('"')
