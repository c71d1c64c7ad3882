"""Input adapters: what kind of document is this, by sniffing its content (never its name).

- post: a page mirrored by another static-site generator (Hexo, Jekyll, Hugo): YAML (`---`)
  or TOML (`+++`) front matter, then an HTML or Markdown body; a Jekyll post without a
  `date` takes the day its file name starts with (`2022-02-24-slug.md`);
- html: a whole news page from a portal;
- feed: an RSS, Atom or JSON Feed, or a sitemap, whose article links are ingested;
- text: a plain-text dump of a web page.
"""

from __future__ import annotations

import hashlib
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from casebook.errors import InputError
from casebook.model import YAMLLimitError, load_yaml, yaml_error_line
from scraper.decode import decode

FRONT_MATTER_RE = re.compile(r"\A\s*---[ \t]*\n(?P<meta>.*?)\n---[ \t]*\n?(?P<body>.*)\Z", re.DOTALL)
TOML_FRONT_MATTER_RE = re.compile(r"\A\s*\+\+\+[ \t]*\n(?P<meta>.*?)\n\+\+\+[ \t]*\n?(?P<body>.*)\Z", re.DOTALL)
MAX_FRONT_MATTER_CHARS = 64_000   # TOML has no alias bombs, but a mapping that size is no post's
# Jekyll's post names: the day of publication, then the slug (`2022-02-24-slug.md`).
DATED_NAME_RE = re.compile(r"(?:^|[/\\])(?P<day>(?:19|20)\d{2}-\d{2}-\d{2})-[^/\\]+$")
# A JSON Feed (jsonfeed.org): an object whose `version` names the spec.
JSON_FEED_RE = re.compile(r'\A\s*\{.{0,2000}?"version"\s*:\s*"https?://jsonfeed\.org/version/', re.DOTALL)
HTML_RE = re.compile(r"<(?:html|head|body|!doctype html)[\s>]", re.IGNORECASE)
TAG_RE = re.compile(r"<(?:p|div|br|img|h[1-6]|span|strong|table|section|article)[\s/>]", re.IGNORECASE)
FEED_RE = re.compile(r"<(?:rss|feed|rdf:RDF|urlset|sitemapindex)[\s>]", re.IGNORECASE)
# A document whose root element is a feed's, after an optional prolog, stylesheet and comments:
# a feed, whatever HTML its items carry (escaped or in CDATA).
FEED_ROOT_RE = re.compile(r"\A(?:<\?xml[^>]{0,200}\?>\s*)?(?:(?:<\?xml-stylesheet[^>]{0,500}\?>|<!--.{0,2000}?-->)\s*)*"
                          r"<(?:rss|feed|rdf:RDF|urlset|sitemapindex)[\s>]", re.IGNORECASE | re.DOTALL)


@dataclass
class Document:
    input: str                    # the path or URL as given
    kind: str                     # post | html | feed | text
    text: str                     # the whole decoded document
    body: str                     # the part holding the story (without front matter)
    meta: dict[str, Any] = field(default_factory=dict)
    url: str | None = None
    key: str = ""                 # stable identity of the raw input, for slugs
    encoding: str = "utf-8"
    collected: str | None = None  # the day the input was saved or fetched (YYYY-MM-DD)


def sniff(text: str) -> str:
    head = text[:5000]
    if FRONT_MATTER_RE.match(text[:200_000]) and re.match(r"\A\s*---", text):
        return "post"
    if TOML_FRONT_MATTER_RE.match(text[:200_000]):
        return "post"
    if JSON_FEED_RE.match(head):
        return "feed"
    if FEED_ROOT_RE.match(head.lstrip()) or (
            FEED_RE.search(head) and (head.lstrip().startswith("<?xml") or not HTML_RE.search(head))):
        return "feed"
    if HTML_RE.search(head) or len(TAG_RE.findall(text[:20000])) >= 3:
        return "html"
    return "text"


def parse_toml_front_matter(text: str, source: str) -> tuple[dict[str, Any], str] | None:
    """Hugo's `+++` front matter (TOML); None when the text has none."""
    match = TOML_FRONT_MATTER_RE.match(text)
    if not match:
        return None
    if len(match.group("meta")) > MAX_FRONT_MATTER_CHARS:
        raise InputError(f"the front matter is over {MAX_FRONT_MATTER_CHARS:,} characters", source=source, line=2,
                         hint="a post's front matter holds a few fields: remove the rest")
    try:
        meta = tomllib.loads(match.group("meta"))
    except tomllib.TOMLDecodeError as exc:
        # tomllib counts lines from the first line after +++: the file's line is one more.
        line = int(m.group(1)) + 1 if (m := re.search(r"line (\d+)", str(exc))) else 2
        problem = re.sub(r"\s*\(at line \d+, column (\d+)\)", r" at column \1", str(exc))
        raise InputError(f"the front matter is not valid TOML: {problem}", source=source, line=line,
                         hint="fix the TOML between the +++ lines, or remove it") from exc
    return meta, match.group("body")


def parse_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    if (toml := parse_toml_front_matter(text, source)) is not None:
        return toml
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        meta = load_yaml(match.group("meta")) or {}
    except YAMLLimitError as exc:
        # An alias bomb or hostile nesting: refused before it is expanded.
        raise InputError(f"the front matter is refused: {exc.problem}", source=source, line=yaml_error_line(exc),
                         hint="anchors, aliases and deep nesting are not read from inputs") from exc
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        raise InputError(f"the front matter is not valid YAML: {getattr(exc, 'problem', exc)}", source=source,
                         line=line, hint="fix the YAML between the --- lines, or remove it") from exc
    if not isinstance(meta, dict):
        raise InputError("the front matter is not a mapping of keys to values", source=source, line=2,
                         hint="write it as key: value lines")
    return meta, match.group("body")


def document_from_bytes(raw: bytes, *, input: str, url: str | None = None, http_charset: str | None = None,
                        key: str | None = None, collected: str | None = None) -> Document:
    text, encoding = decode(raw, source=input, http_charset=http_charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kind = sniff(text)
    meta: dict[str, Any] = {}
    body = text
    if kind == "post":
        meta, body = parse_front_matter(text, input)
        undated = not any(v for k, v in meta.items() if re.search(r"date|publish|created", str(k), re.IGNORECASE))
        if undated and (named := DATED_NAME_RE.search(input)):
            meta = {**meta, "date": named["day"], "_date_from": "the post's file name"}
    if not body.strip():
        raise InputError("the document has no body text", source=input, hint="the page was saved empty")
    return Document(input=input, kind=kind, text=text, body=body, meta=meta, url=url,
                    key=key or hashlib.sha256(raw).hexdigest()[:16], encoding=encoding, collected=collected)


def read_file(path: Path, *, max_bytes: int) -> bytes:
    """The bytes of a regular file, at most `max_bytes`: a device (/dev/zero), a FIFO or a
    file growing while it is read can neither hang the batch nor fill the memory."""
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise InputError("not a regular file (a device, a pipe or a socket)", source=str(path),
                         hint="ingest saved pages, text files or folders of them")
    if info.st_size > max_bytes:
        raise InputError(f"the file is {info.st_size:,} bytes, over the {max_bytes:,}-byte limit", source=str(path),
                         hint="split it, or raise CASEBOOK_MAX_INPUT_BYTES")
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from exc
    if len(raw) > max_bytes:
        raise InputError(f"the file grew past the {max_bytes:,}-byte limit while it was read", source=str(path))
    return raw


def is_url(item: str) -> bool:
    return re.match(r"^https?://", item, re.IGNORECASE) is not None


def expand_inputs(inputs: list[str]) -> list[str]:
    """Folders become their files (sorted, hidden files skipped); files and URLs stay."""
    expanded: list[str] = []
    for item in inputs:
        if is_url(item):
            expanded.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            expanded.extend(str(p) for p in sorted(path.rglob("*"))
                            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        else:
            expanded.append(item)
    return expanded
