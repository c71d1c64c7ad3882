"""Rules every output obeys, whatever the input: which URLs may be emitted, which
characters a text field may hold, how a spreadsheet cell is neutralised.

The ground layer: the scraper (at ingest), `check`, the build and the search service all
apply these same functions, so one rule holds in every place an input can reach a reader.
"""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import urlsplit

# Schemes a URL in the site, the feeds, JSON-LD, Open Graph, the datasets or the API may use.
# Anything else (javascript:, data:, vbscript:, file:, blob:, ...) is dropped.
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})

# Characters that are never visible text: C0/C1 controls (tab and newline are handled by the
# callers), bidi embeddings/overrides/isolates (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C)
# that reorder what a reader sees, zero-width joiners/spaces, word joiners and invisible
# operators, the BOM, and interlinear annotation marks.
INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f"
    "\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]"
)
# A spreadsheet formula starts with one of these (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Whitespace and controls a browser ignores inside a scheme ("java\tscript:", " javascript:").
_URL_IGNORED_RE = re.compile(r"[\x00-\x20\x7f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
MAX_URL_CHARS = 4096


def strip_invisible(text: str) -> str:
    """Text without bidi controls and other invisible characters (keeps tab and newlines)."""
    return INVISIBLE_RE.sub("", text)


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see, after dropping the whitespace and controls it ignores."""
    match = _SCHEME_RE.match(_URL_IGNORED_RE.sub("", url))
    return match.group(1).lower() if match else None


def safe_url(url: object, *, allow_relative: bool = True) -> str | None:
    """`url` when it is safe to emit (http(s), mailto, or site-relative), else None; checked
    as written and once more with HTML entities decoded, since a URL that reaches HTML
    unescaped (a Markdown link, an attribute built by hand) is decoded by the browser."""
    if not isinstance(url, str):
        return None
    # The URL must be safe as written, with entities decoded (a browser decodes them in
    # HTML), and in its NFKC form: a later stage or a tool may fold full-width forms, and
    # "javascript\uff1a" (full-width colon) or "\uff4aavascript:" would then become a scheme.
    for variant in {html.unescape(url), unicodedata.normalize("NFKC", html.unescape(url))} - {url}:
        if _safe_url(variant, allow_relative=allow_relative) is None:
            return None
    return _safe_url(url, allow_relative=allow_relative)


def _safe_url(url: str, *, allow_relative: bool) -> str | None:
    """`url` when it is safe to emit (http(s), mailto, or site-relative), else None.

    Site-relative means a path, query or fragment of this site: `/cases/x/`, `x.jpg`, `#top`.
    A protocol-relative `//host/path` takes the page's scheme, so it is accepted only as
    http(s) would be.
    """
    text = url.strip()
    if not text or len(text) > MAX_URL_CHARS or INVISIBLE_RE.search(text) or any(c in text for c in "\n\r\t"):
        return None
    if "\\" in text[:10]:
        return None  # browsers read "\\host" and "/\host" as "//host"
    scheme = url_scheme(text)
    if scheme is not None:
        if scheme not in ALLOWED_SCHEMES:
            return None
        if scheme in ("http", "https"):
            parts = urlsplit(text)
            if not parts.netloc or parts.scheme.lower() != scheme:
                return None
        return text
    if text.startswith("//"):
        return text if allow_relative and urlsplit("https:" + text).netloc else None
    if not allow_relative:
        return None
    # No scheme: a relative reference. A colon before the first "/", "?" or "#" would make a
    # browser read a scheme that we did not see (e.g. after stripping), so refuse it.
    head = re.split(r"[/?#]", text, maxsplit=1)[0]
    return None if ":" in head else text


def csv_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet will not run: a leading `'` before `= + - @`,
    tab or carriage return (OWASP's rule)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
