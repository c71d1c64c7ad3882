"""All Casebook settings in one place, checked at start-up with a helpful message.

Every setting has a default; an environment variable CASEBOOK_<NAME> overrides it
(for deployments), and the CLI passes explicit values. Nothing deeper in the code
reads os.environ.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from casebook.errors import SettingsError
from casebook.safety import safe_url

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


@dataclass(frozen=True)
class Settings:
    """Settings of one run. Paths are resolved against the project root."""

    content_dir: Path = field(default=ROOT / "content", metadata={"help": "Pelican's content folder"})
    cases_dir: Path = field(default=ROOT / "content" / "cases", metadata={"help": "where ingest writes cases"})
    output_dir: Path = field(default=ROOT / "output", metadata={"help": "where the site is built"})
    index_dir: Path = field(default=ROOT / "var" / "index", metadata={"help": "the Whoosh index"})
    archive_dir: Path = field(default=ROOT / "var" / "archive", metadata={"help": "raw inputs fetched from URLs"})
    data_dir: Path = field(default=ROOT / "scraper" / "data", metadata={"help": "registries and rules"})
    max_input_bytes: int = field(default=20_000_000, metadata={"help": "largest input file or response"})
    ingest_workers: int = field(default=0, metadata={"help": "processes reading local files in ingest (0: one per core)"})
    max_feed_items: int = field(default=200, metadata={"help": "items read from one RSS/Atom feed"})
    fetch_timeout: float = field(default=15.0, metadata={"help": "seconds per HTTP request"})
    fetch_retries: int = field(default=2, metadata={"help": "retries after a failed request"})
    fetch_max_redirects: int = field(default=5, metadata={"help": "redirects followed per request"})
    fetch_host_interval: float = field(default=1.0, metadata={"help": "seconds between requests to one host"})
    fetch_deadline: float = field(default=60.0, metadata={
        "help": "seconds one fetch may take in all (connect, redirects, body): a trickling server is cut off"})
    fetch_allow_private: bool = field(default=False, metadata={
        "help": "fetch loopback, private, link-local and reserved addresses (off: only public hosts)"})
    max_feed_links: int = field(default=500, metadata={"help": "links followed from feeds and sitemaps in one batch"})
    max_feed_depth: int = field(default=2, metadata={"help": "levels of feeds expanded (2: a sitemap index and its sitemaps)"})
    input_time_budget: float = field(default=120.0, metadata={
        "help": "seconds one input may take to read and extract before it is failed (0: no budget)"})
    user_agent: str = field(default="CasebookBot/0.1 (+https://github.com/casebook; community finance case library)",
                            metadata={"help": "User-Agent of the fetcher"})
    max_query_chars: int = field(default=200, metadata={"help": "longest search query accepted"})
    max_page: int = field(default=50, metadata={"help": "deepest results page served"})
    max_page_size: int = field(default=100, metadata={"help": "most results per page"})
    query_time_limit: float = field(default=2.0, metadata={"help": "seconds a query may take"})
    query_cache: int = field(default=512, metadata={"help": "responses cached per index generation (0: off)"})
    search_backend: str = field(default="", metadata={"help": "module:Class of another SearchBackend"})
    siteurl: str = field(default="", metadata={
        "help": "the public site's address (https://…), required by `build --publish`: its links, feeds, "
                "sitemap and robots.txt are absolute"})

    def with_overrides(self, **values: object) -> Settings:
        clean = {k: v for k, v in values.items() if v is not None}
        for key in clean:
            if key not in {f.name for f in fields(self)}:
                raise SettingsError(f"unknown setting {key!r}", hint="see casebook/settings.py for the list")
        coerced: dict[str, Any] = {k: _coerce(k, v) for k, v in clean.items()}
        return check(replace(self, **coerced))

    def require_siteurl(self) -> str:
        """The public site's address, for a public build: there is no sensible default (a
        placeholder would be published in every link, feed and sitemap entry)."""
        if not self.siteurl:
            raise SettingsError("a public build needs the site's address",
                                hint="set CASEBOOK_SITEURL, e.g. CASEBOOK_SITEURL=https://cases.example.org")
        return self.siteurl


def _coerce(name: str, value: object) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind == "Path":
            return Path(str(value)).expanduser().resolve()
        if kind in ("int", "float"):
            if not isinstance(value, int | float | str):
                raise TypeError(f"{type(value).__name__} is not a number")
            return int(value) if kind == "int" else float(value)
        if kind == "bool":
            return _boolean(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name} = {value!r} is not a valid {kind}",
                            hint=f"CASEBOOK_{name.upper()} or the matching CLI option") from exc
    return str(value)


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def check(settings: Settings) -> Settings:
    """Refuse settings that cannot work, saying which and how to fix them."""
    if not (settings.data_dir / "taxonomy.yaml").is_file():
        raise SettingsError(f"data_dir {settings.data_dir} holds no taxonomy.yaml",
                            hint="point CASEBOOK_DATA_DIR at scraper/data")
    for name in ("max_input_bytes", "ingest_workers", "max_feed_items", "fetch_retries", "fetch_max_redirects",
                 "max_query_chars", "max_page", "max_page_size", "max_feed_links", "max_feed_depth"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"setting {name} must not be negative")
    if settings.input_time_budget < 0:
        raise SettingsError("setting input_time_budget must not be negative (0 turns the budget off)")
    if settings.fetch_timeout <= 0 or settings.fetch_deadline <= 0 or settings.query_time_limit <= 0:
        raise SettingsError("timeouts must be positive")
    return _check_siteurl(settings)


def _check_siteurl(settings: Settings) -> Settings:
    """Every link of the public site starts with SITEURL: it must be an absolute http(s)
    address that obeys the site's one URL rule. Pelican wants it without a trailing slash."""
    url = settings.siteurl.strip()
    if not url:
        return replace(settings, siteurl="")
    if safe_url(url, allow_relative=False) is None or not url.startswith(("http://", "https://")) \
            or not urlsplit(url).hostname or urlsplit(url).query or urlsplit(url).fragment:
        raise SettingsError(f"setting siteurl = {url!r} is not an absolute http(s) address",
                            hint="e.g. CASEBOOK_SITEURL=https://cases.example.org")
    return replace(settings, siteurl=url.rstrip("/"))


def load(**overrides: object) -> Settings:
    """Defaults, then CASEBOOK_* environment variables, then explicit overrides."""
    from_env = {}
    for f in fields(Settings):
        value = os.environ.get(f"CASEBOOK_{f.name.upper()}")
        if value is not None:
            from_env[f.name] = value
    return Settings().with_overrides(**from_env).with_overrides(**overrides)


def describe() -> list[Setting]:
    return [Setting(f.name, f.default, f.metadata.get("help", "")) for f in fields(Settings)]
