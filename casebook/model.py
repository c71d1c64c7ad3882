"""The content model: one `Case` record flows from the scraper to the site and the index.

A case on disk is a Markdown file with YAML front matter. `FIELD_ORDER` fixes the
order of the keys so that re-running ingest writes byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from casebook.safety import safe_url, strip_invisible, url_scheme

FIELD_ORDER = [
    "title", "slug", "date", "category", "tags", "banks", "province", "city", "district",
    "programs", "source", "source_url", "via", "reposts", "authors", "summary", "cover", "images",
    "figures", "status", "draft_reasons", "review",
]
# Written only when they hold something: a published case file has no draft reasons.
OMIT_WHEN_EMPTY = {"draft_reasons"}
# For editors only: never in the site's datasets (a published case has none anyway).
DATASET_FIELDS = [name for name in FIELD_ORDER if name != "draft_reasons"]
REQUIRED = ["title", "slug", "date", "category", "status"]
# A draft may wait for its date: the scraper never invents one, so a report that states none
# is written as a draft without `date`, and `check` asks for it before publication.
OPTIONAL_FOR_DRAFTS = {"date"}
LIST_FIELDS = {"tags", "banks", "programs", "authors", "images", "figures", "draft_reasons", "review", "reposts"}
STATUSES = {"published", "draft"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PARTIAL_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
CHINA_TZ = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Case:
    """One story, as extracted and as published."""

    title: str | None = None
    slug: str = ""
    date: str | None = None          # ISO 8601: 2022-02-24T15:09:08+08:00, 2022-02-24 or 2021-10
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    banks: list[str] = field(default_factory=list)
    province: str | None = None
    city: str | None = None
    district: str | None = None
    programs: list[str] = field(default_factory=list)
    source: str | None = None
    source_url: str | None = None
    via: str | None = None
    reposts: list[dict[str, Any]] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    summary: str | None = None
    cover: str | None = None
    images: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    status: str = "published"
    draft_reasons: list[str] = field(default_factory=list)   # codes of scraper/data/review.yaml
    review: list[str] = field(default_factory=list)
    body: str = ""
    # Pipeline-only fields: never written to the front matter.
    input: str = ""
    key: str = ""
    relevant: bool = True
    reason: str = ""
    headings: list[str] = field(default_factory=list)
    date_evidence: str = ""          # where the date came from: "dateline: span.h-time" (scraper/dates.py)

    def front_matter(self) -> dict[str, Any]:
        data = asdict(self)
        return {name: data[name] for name in FIELD_ORDER if data[name] or name not in OMIT_WHEN_EMPTY}

    def to_json(self) -> dict[str, Any]:
        record = {"input": self.input, **self.front_matter(), "body": self.body,
                  "relevant": self.relevant, "reason": self.reason, "date_evidence": self.date_evidence}
        return record


if TYPE_CHECKING:   # the two loaders share an interface; mypy cannot subclass a value chosen at run time
    _BaseLoader = yaml.SafeLoader
else:
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml when PyYAML has it: ~10x faster


class _Loader(_BaseLoader):
    """Safe YAML that leaves timestamps as text: a bad date (2024-13-45) is then a checkable
    value, not a crash, and dates keep the precision they were written with. Every problem is
    a YAMLError with the line: a value its tag cannot hold (`!!int 0xZZ`, `!!bool maybe`), a
    tag no field can use (`!!binary`, `!!set`, `!!timestamp`), a key given twice."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, KeyError, TypeError, OverflowError, IndexError) as exc:
            # PyYAML's scalar constructors raise plain Python errors on a bad value.
            raise YAMLLimitError(f"{node.value!r} cannot be read as {_tag_name(node.tag)} ({exc})"
                                 if isinstance(node.value, str) else f"a value YAML cannot read ({exc})",
                                 node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise YAMLLimitError(f"the key {key_node.value!r} is given twice (only one would be kept; "
                                     "remove the other)", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _tag_name(tag: str) -> str:
    return "!!" + tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag


def _refuse_tag(_loader: yaml.BaseLoader, node: yaml.Node) -> Any:
    raise YAMLLimitError(f"the YAML tag {_tag_name(node.tag)} is not accepted (no field holds such a value; "
                         "write plain text)", node.start_mark)


# Types no case field holds: bytes, sets, ordered pairs, datetimes (dates stay text).
for _tag in ("binary", "set", "omap", "pairs", "timestamp"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def yaml_error_line(exc: yaml.YAMLError, first_line: int = 2) -> int | None:
    """The file line of a YAML error in front matter that starts on `first_line`: where the
    broken construct opened (an unclosed [ or "), else where the parser gave up."""
    mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
    return mark.line + first_line if mark is not None else None


MAX_YAML_CHARS = 256 * 1024
MAX_YAML_DEPTH = 32


class YAMLLimitError(yaml.YAMLError):
    """YAML that could be parsed but is refused: aliases, too deep or too large."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def _check_yaml_tokens(text: str) -> None:
    """Refuse anchors and aliases (an alias bomb is a few hundred bytes that expand to
    gigabytes) and nesting deeper than any case needs. The scan is libyaml's, linear in the
    text, and runs only when the text could hold either."""
    depth = 0
    for token in yaml.scan(text, Loader=_BaseLoader):
        if isinstance(token, yaml.AliasToken | yaml.AnchorToken):
            raise YAMLLimitError("YAML anchors and aliases (&name, *name) are not allowed here; write the value out",
                                 token.start_mark)
        if isinstance(token, yaml.FlowSequenceStartToken | yaml.FlowMappingStartToken
                      | yaml.BlockSequenceStartToken | yaml.BlockMappingStartToken):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise YAMLLimitError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels", token.start_mark)
        elif isinstance(token, yaml.FlowSequenceEndToken | yaml.FlowMappingEndToken | yaml.BlockEndToken):
            depth -= 1


def load_yaml(text: str) -> Any:
    """Safe YAML with limits, for every YAML that comes from outside (front matter of posts
    and case files): no aliases, bounded size and depth. Errors are `yaml.YAMLError`s."""
    if len(text) > MAX_YAML_CHARS:
        raise YAMLLimitError(f"YAML of {len(text):,} characters; at most {MAX_YAML_CHARS:,} are read")
    if "&" in text or "*" in text or text.count("[") + text.count("{") + text.count("- ") > MAX_YAML_DEPTH:
        _check_yaml_tokens(text)
    return yaml.load(text, Loader=_Loader)


class _Dumper(yaml.SafeDumper):
    """Block style for the document, flow style for short lists of scalars."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(isinstance(x, str | int | float) for x in data) and sum(len(str(x)) for x in data) < 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ufeff]")
LINE_BREAKS_RE = re.compile(r"[\x85\u2028\u2029]|\r\n?")
TAG_LIKE_RE = re.compile(r"<\s*/?\s*[A-Za-z][^<>\u3000-\u9fff]*>?")
# A link target that is not http(s), site-relative, an anchor or mailto loses its head: the
# scheme part up to the first bracket, parenthesis or space becomes "#", which is enough to
# defuse it (`[x](javascript:alert(1))` -> `[x](#(1))`). Possessive `\s*+` and a class that
# stops at the next bracket keep each attempt local, so runs of "](" are linear.
UNSAFE_LINK_RE = re.compile(r"\]\(\s*+(?!<?(?:https?://|/|#|mailto:))[^()\[\]\s]*", re.IGNORECASE)
# A reference definition (`[1]: javascript:alert(1)`, also inside a quote) is a link target
# too: `[x][1]` renders it. Anchored at a line start, the label bounded: linear.
UNSAFE_REFERENCE_RE = re.compile(r"^((?:[ ]{0,3}>)*[ ]{0,3}\[[^\[\]\n]{1,999}\]:[ \t]*+<?)"
                                 r"(?!(?:https?://|/|#|mailto:))[^\s>]++", re.IGNORECASE | re.MULTILINE)
# Whitespace holding a line break, matched only from the start of a whitespace run: a match
# attempt inside a long run of spaces (U+3000, tabs) would rescan the rest of it.
LINE_BREAK_SPACE_RE = re.compile(r"(?<!\s)\s*\n\s*")


def clean_text(text: str, *, single_line: bool = False) -> str:
    """Text as a case file stores it: no control or invisible characters (bidi overrides
    included), no Unicode line separators (YAML reads U+0085, U+2028 and U+2029 as line
    breaks), one line for a field value."""
    text = LINE_BREAKS_RE.sub("\n", strip_invisible(CONTROL_RE.sub("", text)))
    if single_line:
        # A field value is plain text: markup in it (<script ...) is dropped, not escaped. The
        # site renders a summary as Markdown, so its link targets are defused as the body's.
        text = LINE_BREAK_SPACE_RE.sub(" ", TAG_LIKE_RE.sub("", text))
    # Only http(s), site-relative and anchor links survive, inline or by reference.
    return UNSAFE_REFERENCE_RE.sub(r"\1#", UNSAFE_LINK_RE.sub("](#", text))


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value, single_line=True)
    if isinstance(value, list):
        return [_clean_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_value(v) for k, v in value.items()}
    return value


def web_url(value: object) -> str | None:
    """`value` when it is an absolute http(s) URL safe to emit (casebook.safety's rule), else
    None: what source_url, cover, images and reposts' urls may hold."""
    url = safe_url(value.strip() if isinstance(value, str) else value, allow_relative=False)
    return url if url is not None and url_scheme(url) in ("http", "https") else None


def _safe_urls(meta: dict[str, Any]) -> dict[str, Any]:
    """Front matter with every URL field reduced to http(s): an unsafe one is dropped."""
    for name in ("source_url", "cover"):
        if meta.get(name) is not None:
            meta[name] = web_url(meta[name])
    if isinstance(meta.get("images"), list):
        meta["images"] = [url for url in (web_url(u) for u in meta["images"]) if url]
    if isinstance(meta.get("reposts"), list):
        meta["reposts"] = [{k: (web_url(v) if k == "url" else v) for k, v in r.items()
                            if k != "url" or web_url(v)} if isinstance(r, dict) else r for r in meta["reposts"]]
    return meta


def clean_case(case: Case) -> Case:
    """The case as it will be written, in place: text fields without control, bidi or invisible
    characters and markup, URL fields http(s) only, the body's unsafe link targets defused.
    Ingest applies it to every case it extracts, so the report, `extract --json`, slugs and
    dedupe see what the file will hold."""
    meta = _safe_urls({name: _clean_value(value) for name, value in case.front_matter().items()})
    for name, value in meta.items():
        setattr(case, name, value)
    case.body = clean_text(case.body).strip()
    return case


def render(case: Case) -> str:
    """The case file's text: front matter, then the Markdown body, ending in one newline."""
    meta = _safe_urls({name: _clean_value(value) for name, value in case.front_matter().items()})
    text = yaml.dump(meta, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
    # An ISO date written by PyYAML as a quoted string becomes a bare timestamp.
    text = re.sub(r"^date: '([0-9T:+\-]+)'$", r"date: \1", text, flags=re.MULTILINE)
    return f"---\n{text}---\n\n{clean_text(case.body).strip()}\n"


FRONT_MATTER_RE = re.compile(r"\A\ufeff?\s*---\s*\n(?P<meta>.*?)\n(?:---|\.\.\.)\s*\n(?P<body>.*)\Z", re.DOTALL)


@dataclass
class Problem:
    path: str
    line: int
    message: str
    hint: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def split_front_matter(text: str) -> tuple[str, str, int] | None:
    """(yaml text, body, line number where the body starts) or None."""
    match = FRONT_MATTER_RE.match(text)
    if not match:
        return None
    meta = match.group("meta")
    body_line = text[: match.start("body")].count("\n") + 1
    return meta, match.group("body"), body_line


def normalize_date(value: Any) -> str | None:
    """A front-matter date as an ISO string, or None when it is not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=CHINA_TZ)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            return None
    if partial := PARTIAL_DATE_RE.match(text):
        month = partial.group(2)
        if month and not 1 <= int(month) <= 12:
            return None
        return text
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return normalize_date(parsed)


def date_to_datetime(iso: str) -> dt.datetime:
    """The datetime Pelican sorts by: a month alone means its first day, at noon China time."""
    match = PARTIAL_DATE_RE.match(iso)
    if match:
        return dt.datetime(int(match.group(1)), int(match.group(2) or 1), 1, 12, tzinfo=CHINA_TZ)
    parsed = dt.datetime.fromisoformat(iso)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA_TZ) if "T" in iso else parsed.replace(hour=12, tzinfo=CHINA_TZ)
    return parsed


IMAGE_MD_RE = re.compile(r"!\[[^\[\]]*\]\(([^()\s]+)\)")


def plain_text(markdown: str) -> str:
    """A Markdown body as plain text: no images, link targets, heading marks or emphasis."""
    text = IMAGE_MD_RE.sub("", markdown)
    # [^[\]] rather than [^\]]: each match attempt then stops at the next bracket, so a run of
    # 100,000 "[" is linear, not quadratic.
    # (Link text may span lines: extractors wrap a block-level ad in one link.)
    text = re.sub(r"\[([^\[\]]*)\]\([^()]*\)", r"\1", text)
    text = re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"<[^<>]+>", "", text)
    text = re.sub(r"[*_`>]+", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def parse(text: str, *, path: str = "<case>") -> Case:
    """A case file back into a `Case` (no validation: see casebook.check)."""
    from casebook.errors import ContentError

    parts = split_front_matter(text)
    if parts is None:
        raise ContentError("no YAML front matter between --- lines", source=path, line=1)
    meta_text, body, _ = parts
    try:
        meta = load_yaml(meta_text) or {}
    except yaml.YAMLError as exc:
        raise ContentError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", source=path,
                           line=yaml_error_line(exc) or 1) from exc
    if not isinstance(meta, dict):
        raise ContentError("front matter is not a mapping", source=path, line=2)
    case = Case(body=body.strip())
    for name in FIELD_ORDER:
        if name not in meta:
            continue
        value = meta[name]
        if name == "date":
            value = normalize_date(value)
        elif name in LIST_FIELDS:
            value = list(value) if isinstance(value, list) else ([] if value is None else [value])
        setattr(case, name, value)
    return case
