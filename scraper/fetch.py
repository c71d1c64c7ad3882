"""Fetching URLs politely and safely, with an archive of every raw response.

Timeouts, retries with exponential backoff (on connection errors, 429 and 5xx), a redirect
limit, one request per host per interval, robots.txt, a clear User-Agent, and conditional
requests (If-None-Match / If-Modified-Since) from the archive. Every body fetched is archived
with its URL and fetch time, so a case can be re-extracted after the source disappears.

Hostile servers are expected:
- every hop (the URL, each redirect, robots.txt) is resolved here, every address it resolves
  to must be public (not loopback, private, link-local, multicast, reserved or unspecified,
  IPv4-mapped and embedded IPv4 included), and the connection goes to the address that was
  checked, with the Host header and TLS server name of the URL: a DNS answer that changes
  between the check and the connection cannot redirect us (`fetch_allow_private` turns the
  address check off, for the project's own tests and intranet sources);
- the body is decompressed here, in bounded steps, with a cap on the raw and on the decoded
  bytes (a 494-byte `gzip, gzip` body that inflates to 200 MB stops at the cap);
- one fetch, redirects and retries included, has a total deadline (`fetch_deadline`), so a
  server trickling one byte a second is cut off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import socket
import threading
import time
import urllib.robotparser
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from casebook.errors import FetchError, FetchRefused
from casebook.settings import Settings
from scraper.guard import BudgetExpired, time_budget


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


ROBOTS_MAX_BYTES = 512 * 1024      # what Google reads of a robots.txt
MAX_ENCODINGS = 3                  # layers of Content-Encoding undone; more is an attack
INFLATE_STEP = 64 * 1024           # decoded bytes produced per decompression step
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_problem(address: str) -> str | None:
    """Why a resolved address may not be fetched (None when it is a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 reaches the IPv4 host: ::ffff:127.0.0.1, 64:ff9b::7f00:1, 2002:7f00:1::
        if ip.ipv4_mapped is not None:
            candidates = [ip.ipv4_mapped]
        else:
            candidates += [a for a in (ip.sixtofour, *(ip.teredo or ())) if a is not None]
            if ip in _NAT64:
                candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in reversed(candidates):   # the embedded IPv4 host names the problem best
        for kind, flag in (("loopback", candidate.is_loopback), ("unspecified", candidate.is_unspecified),
                           ("link-local", candidate.is_link_local), ("multicast", candidate.is_multicast),
                           ("reserved", candidate.is_reserved), ("private", candidate.is_private)):
            if flag:
                return f"{address} is a {kind} address"
        if not candidate.is_global:
            return f"{address} is not a public address"
    return None


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to for `host`: every address it resolves to is checked, and
    the first is used, so the connection goes where the check looked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}", hint="check the address") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise FetchError(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise FetchRefused(f"refused to fetch {host}: {problem}",
                                 hint="only public hosts are fetched; set CASEBOOK_FETCH_ALLOW_PRIVATE=1 to allow "
                                      "private networks")
    return addresses[0]


def _inflate(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    """Undo one Content-Encoding layer, never producing more than INFLATE_STEP bytes per step,
    so a bomb is caught by the caller's cap before it is in memory."""
    decoder = None
    for chunk in chunks:
        data = chunk
        while data:
            if decoder is None:
                if encoding == "deflate":
                    # "deflate" is meant to be zlib-wrapped; some servers send it raw.
                    wbits = 15 if len(data) >= 2 and (data[0] * 256 + data[1]) % 31 == 0 and data[0] & 0x0F == 8 else -15
                else:
                    wbits = 16 + zlib.MAX_WBITS
                decoder = zlib.decompressobj(wbits)
            try:
                out = decoder.decompress(data, INFLATE_STEP)
            except zlib.error as exc:
                raise FetchError(f"the {encoding} body is corrupt: {exc}") from exc
            if out:
                yield out
            if decoder.eof:
                data = decoder.unused_data   # a further gzip member
                decoder = None
                continue
            data = decoder.unconsumed_tail
    if decoder is not None and (rest := decoder.flush()):
        yield rest


def decoded_chunks(raw: Iterable[bytes], content_encoding: str | None) -> Iterator[bytes]:
    """The body with every Content-Encoding layer undone, last applied first."""
    layers = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    layers = [e for e in layers if e != "identity"]
    if len(layers) > MAX_ENCODINGS:
        raise FetchError(f"the body is encoded {len(layers)} times ({content_encoding}); at most "
                         f"{MAX_ENCODINGS} layers are undone")
    chunks: Iterable[bytes] = raw
    for layer in reversed(layers):
        name = {"x-gzip": "gzip"}.get(layer, layer)
        if name not in ("gzip", "deflate"):
            raise FetchError(f"the body uses the {layer} encoding, which is not read",
                             hint="only gzip and deflate are asked for")
        chunks = _inflate(chunks, name)
    return iter(chunks)


class Fetcher:
    """One per batch: robots.txt answers and the last request time of each host are kept."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.archive = Archive(settings.archive_dir)
        # trust_env=False: a proxy from the environment would resolve names itself, past the check.
        self.client = httpx.Client(
            headers={"User-Agent": settings.user_agent, "Accept-Language": "zh-CN,zh;q=0.9",
                     "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(settings.fetch_timeout), follow_redirects=False, transport=transport,
            trust_env=False)
        self._last_request: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_for_host(self, host: str) -> None:
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.settings.fetch_host_interval:
                time.sleep(self.settings.fetch_host_interval - (now - last))
            self._last_request[host] = time.monotonic()

    def allowed(self, url: str, deadline: float | None = None) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            parser: urllib.robotparser.RobotFileParser | None = None   # none: everything is allowed
            deadline = deadline or time.monotonic() + self.settings.fetch_deadline
            try:
                status, _final, body, _headers = self._get_following_redirects(
                    origin + "/robots.txt", {}, deadline=deadline, limit=ROBOTS_MAX_BYTES)
                if status == 200:
                    parser = urllib.robotparser.RobotFileParser()
                    parser.parse(body.decode("utf-8", "replace").splitlines())
            except FetchRefused:
                raise   # the site itself may not be fetched: say so, not "robots.txt"
            except FetchError:
                parser = None   # an unreadable robots.txt (too big, too slow, gone) is no robots.txt
            except httpx.HTTPError:
                parser = None
            self._robots[origin] = parser
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.settings.user_agent, url)

    def fetch(self, url: str) -> Response:
        key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
        deadline = time.monotonic() + self.settings.fetch_deadline
        try:
            # Checked between reads below; the timer (on the main thread) also ends a server
            # that trickles its headers, which the HTTP client reads in one call.
            with time_budget(self.settings.fetch_deadline + 0.5):
                return self._fetch(url, key, deadline)
        except BudgetExpired:
            if time.monotonic() < deadline:
                raise   # the input's own budget ran out first: not this fetch's to report
            raise self._late(url) from None
        except FetchError as exc:
            if exc.source is None:
                exc.source = url
                exc.args = (str(exc),)
            raise

    def _fetch(self, url: str, key: str, deadline: float) -> Response:
        if not self.allowed(url, deadline):
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
                pause = min(8.0, 0.5 * 2 ** (attempt - 1))
                if time.monotonic() + pause >= deadline:
                    break
                time.sleep(pause)
            try:
                status, final_url, body, reply_headers = self._get_following_redirects(
                    url, headers, deadline=deadline, limit=self.settings.max_input_bytes)
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

    def _pinned(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """(the URL with its host replaced by the checked address, the Host header, the TLS
        server name): the connection goes to the address that was checked."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url[:200]}", hint="only http and https are fetched")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"bad port in {url[:200]}") from exc
        host = parts.hostname
        address = resolve(host, port, allow_private=self.settings.fetch_allow_private)
        literal = f"[{address}]" if ":" in address else address
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        host_header = parts.netloc.rsplit("@", 1)[-1]
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        return pinned, {"Host": host_header}, {"sni_hostname": host}

    def _get_following_redirects(self, url: str, headers: dict, *, deadline: float, limit: int
                                 ) -> tuple[int, str, bytes, httpx.Headers]:
        seen = set()
        current = url
        for _ in range(self.settings.fetch_max_redirects + 1):
            if current in seen:
                raise FetchError("redirect loop", source=url, hint=f"{current} redirects back to itself")
            seen.add(current)
            self._wait_for_host(urlsplit(current).netloc)
            pinned, host, extensions = self._pinned(current)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._late(url)
            timeout = httpx.Timeout(min(self.settings.fetch_timeout, remaining))
            request = self.client.build_request("GET", pinned, headers={**headers, **host}, timeout=timeout,
                                                extensions=extensions)
            reply = self.client.send(request, stream=True)
            try:
                if reply.is_redirect and reply.headers.get("location"):
                    current = urljoin(current, reply.headers["location"])
                    continue
                body = self._read_capped(reply, url, limit=limit, deadline=deadline)
                return reply.status_code, current, body, reply.headers
            finally:
                reply.close()
        raise FetchError(f"more than {self.settings.fetch_max_redirects} redirects", source=url)

    def _late(self, url: str) -> FetchError:
        return FetchError(f"the fetch took longer than its {self.settings.fetch_deadline:g}-second deadline",
                          source=url, hint="the server is too slow or trickles its answer; raise "
                                           "CASEBOOK_FETCH_DEADLINE or save the page by hand")

    def _read_capped(self, reply: httpx.Response, url: str, *, limit: int, deadline: float) -> bytes:
        declared = reply.headers.get("content-length")
        if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
            raise FetchError(f"the response is {int(declared):,} bytes, over the {limit:,}-byte limit", source=url)
        raw_size = 0

        def raw_chunks() -> Iterator[bytes]:
            nonlocal raw_size
            for chunk in reply.iter_raw():
                raw_size += len(chunk)
                if raw_size > limit:
                    raise FetchError(f"the response exceeds the {limit:,}-byte limit", source=url)
                if time.monotonic() > deadline:
                    raise self._late(url)
                yield chunk

        chunks, size = [], 0
        for chunk in decoded_chunks(raw_chunks(), reply.headers.get("content-encoding")):
            size += len(chunk)
            if size > limit:
                raise FetchError(f"the response decompresses to more than the {limit:,}-byte limit",
                                 source=url, hint="a compression bomb, or a page far larger than any article")
            if time.monotonic() > deadline:
                raise self._late(url)
            chunks.append(chunk)
        return b"".join(chunks)


_SHARED: dict[Settings, Fetcher] = {}


def shared_fetcher(settings: Settings) -> Fetcher:
    """This process's fetcher for `settings`, for callers that were handed none (a worker of
    a process pool reading one URL after another): robots.txt answers and host intervals are
    then kept across its inputs, as a batch's own fetcher keeps them."""
    fetcher = _SHARED.get(settings)
    if fetcher is None:
        fetcher = _SHARED[settings] = Fetcher(settings)
    return fetcher


def _charset(content_type: str | None) -> str | None:
    if not content_type or "charset=" not in content_type.lower():
        return None
    return content_type.lower().split("charset=")[-1].split(";")[0].strip().strip('"')
