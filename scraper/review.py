"""The editors' review queue: drafts, and fresh extractions beside edited cases.

A draft is a case file with `status: draft` (ingest says why in `draft_reasons`, the codes
of scraper/data/review.yaml, and what to confirm in `review`). A fresh extraction is the
`<slug>.md.fresh` ingest writes beside a case an editor edited, when a re-ingest read the
story differently (scraper/store.py). `casebook review` lists both; the preview site's
/review/ page (plugins/casebook_review) shows the same list.

Accepting a draft publishes it: `status: published`, `draft_reasons` and `review` removed,
every other byte of the editor's file kept. Rejecting one removes the file (and its fresh
extraction) and records the story's identity in the rejection list, so a re-ingest does
not bring it back. Rejecting a fresh extraction removes only it: the editor's case stays
(merging a fresh extraction is the editor's work, by hand, with the diff page).
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from casebook.data import Data
from casebook.errors import CasebookError, ContentError
from casebook.files import atomic_write
from casebook.model import CHINA_TZ, FRONT_MATTER_RE, load_yaml, parse
from casebook.safety import safe_url
from scraper.store import MANIFEST, text_hash

FRESH = ".fresh"


@dataclass
class Reason:
    code: str
    en: str
    zh: str


@dataclass
class ReviewItem:
    slug: str
    kind: str                    # draft | fresh
    path: str
    title: str
    date: str
    source_url: str              # http(s) only, else ""
    reasons: list[Reason] = field(default_factory=list)   # why it is a draft
    notes: list[str] = field(default_factory=list)        # the case's `review` notes
    ingest_reason: str = ""      # the relevance evidence ingest recorded (for a fresh one: of that extraction)
    input: str = ""              # the raw input it came from
    fresh_path: str = ""         # kind fresh: the re-ingest's extraction beside the edited case

    def to_json(self) -> dict:
        return asdict(self)


def reason_of(code: str, data: Data) -> Reason:
    known = data.review.get("reasons", {}).get(code)
    if not isinstance(known, dict):
        return Reason(code, f"unknown reason code {code!r}", code)
    return Reason(code, str(known.get("en", code)), str(known.get("zh", code)))


def _manifest(cases_dir: Path) -> dict:
    try:
        return json.loads((cases_dir / MANIFEST).read_text(encoding="utf-8")).get("cases", {})
    except (OSError, ValueError, AttributeError):
        return {}   # no manifest (cases written by hand): items lack only the ingest details


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def queue(cases_dir: Path, data: Data) -> list[ReviewItem]:
    """Every draft and every fresh extraction of `cases_dir`, drafts first, by slug. A file
    that cannot be read or parsed is left to `casebook check`."""
    cases_dir = Path(cases_dir)
    if not cases_dir.is_dir():
        return []
    manifest = _manifest(cases_dir)
    items: list[ReviewItem] = []
    for path in sorted(cases_dir.glob("*.md")):
        if path.is_symlink() or not path.is_file():
            continue
        text = _read(path)
        try:
            case = parse(text, path=str(path)) if text is not None else None
        except ContentError:
            case = None
        if case is None:
            continue
        slug = case.slug or path.stem
        entry = manifest.get(path.stem, {}) if isinstance(manifest.get(path.stem), dict) else {}
        common: dict[str, Any] = {"slug": slug, "path": str(path), "title": str(case.title or ""), "date": str(case.date or ""),
                  "source_url": _web(case.source_url), "notes": [str(n) for n in case.review],
                  "input": str(entry.get("input", ""))}
        if case.status == "draft":
            reasons = [reason_of(str(code), data) for code in case.draft_reasons]
            items.append(ReviewItem(kind="draft", reasons=reasons, ingest_reason=str(entry.get("reason", "")),
                                    **common))
        fresh = path.with_name(path.name + FRESH)
        if fresh.is_file() and not fresh.is_symlink():
            items.append(ReviewItem(kind="fresh", fresh_path=str(fresh),
                                    ingest_reason=str(entry.get("fresh_reason") or entry.get("reason") or ""),
                                    **common))
    return sorted(items, key=lambda item: (item.kind != "draft", item.slug))


def _web(url: object) -> str:
    found = safe_url(url, allow_relative=False) if isinstance(url, str) else None
    return found if found and found.startswith(("http://", "https://")) else ""


def side_by_side(item: ReviewItem, limits: dict | None = None) -> str:
    """An HTML table of the edited case (left) against its fresh extraction (right): the
    changed lines with a few lines of context, changed characters marked.

    difflib's SequenceMatcher finds the changes; the table is built here rather than by
    difflib.HtmlDiff, which pairs every changed line with every other one of its block
    (500 lines that all differ took 10 s, 2,000 minutes): a replaced block pairs its lines in
    order, characters are compared only within a budget, and the table has at most
    `max_rows` rows. The text is escaped; no inline style or script (the CSP forbids them)."""
    rules = {**DIFF_LIMITS, **(limits or {})}
    edited = (_read(Path(item.path)) or "").splitlines()
    fresh = (_read(Path(item.fresh_path)) or "").splitlines()
    table = _DiffTable(rules)
    # autojunk: a line repeated thousands of times would make matching quadratic.
    matcher = difflib.SequenceMatcher(None, edited, fresh)
    for group in matcher.get_grouped_opcodes(int(rules["context_lines"])):
        table.hunk()
        for tag, i1, i2, j1, j2 in group:
            table.block(tag, edited, fresh, (i1, i2, j1, j2))
    return table.html()


# Bounds of one diff page (a case file may hold 2,000,000 bytes): rows shown, and the
# characters compared pairwise (the product of two lines' lengths) per line and in all.
DIFF_LIMITS = {"context_lines": 3, "max_rows": 2000, "char_budget": 5_000_000, "max_line_product": 1_000_000}


class _DiffTable:
    """The rows of a side-by-side table, within the limits."""

    def __init__(self, rules: dict) -> None:
        self.rules = rules
        self.parts: list[str] = []
        self.rows = 0
        self.skipped = 0
        self.budget = int(rules["char_budget"])

    def hunk(self) -> None:
        self.parts.append("</tbody><tbody>" if self.parts else "<tbody>")

    def block(self, tag: str, left: list[str], right: list[str], span: tuple[int, int, int, int]) -> None:
        i1, i2, j1, j2 = span
        for offset in range(max(i2 - i1, j2 - j1)):
            if self.rows >= int(self.rules["max_rows"]):
                self.skipped += max(i2 - i1, j2 - j1) - offset   # counted, never compared
                return
            i, j = i1 + offset, j1 + offset
            a = left[i] if i < i2 else None
            b = right[j] if j < j2 else None
            if tag == "equal":
                self._row(i, a, "", j, b, "")
            elif a is not None and b is not None:
                marked_a, class_a, marked_b, class_b = self._marked(a, b)
                self._row(i, marked_a, class_a, j, marked_b, class_b)
            else:
                self._row(i, a, "diff_sub", j, b, "diff_add")

    def _marked(self, a: str, b: str) -> tuple[str, str, str, str]:
        """(left html, its class, right html, its class): changed characters marked when the
        pair is within the budget, else the whole lines."""
        product = len(a) * len(b)
        if product > int(self.rules["max_line_product"]) or product > self.budget:
            return html.escape(a), "diff_chg", html.escape(b), "diff_chg"
        self.budget -= product
        left, right = [], []
        for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            x, y = html.escape(a[a1:a2]), html.escape(b[b1:b2])
            if op == "equal":
                left.append(x)
                right.append(y)
            else:
                left.append(f'<span class="diff_sub">{x}</span>' if x else "")
                right.append(f'<span class="diff_add">{y}</span>' if y else "")
        return "".join(left), "diff_chg", "".join(right), "diff_chg"

    def _row(self, i: int, a: str | None, a_class: str, j: int, b: str | None, b_class: str) -> None:
        """One row; a cell of class diff_chg holds marked, escaped HTML, any other plain text."""
        self.rows += 1
        cells = []
        for number, text, kind in ((i, a, a_class), (j, b, b_class)):
            escaped = text if kind == "diff_chg" else html.escape(text) if text is not None else ""
            cls = f' class="{kind}"' if kind and text is not None else ""
            cells.append(f'<td class="diff_header">{number + 1 if text is not None else ""}</td>'
                         f"<td{cls}>{escaped}</td>")
        self.parts.append(f"<tr>{''.join(cells)}</tr>")

    def html(self) -> str:
        head = ('<table class="diff"><thead><tr><th scope="col">行</th><th scope="col">编辑后的案例</th>'
                '<th scope="col">行</th><th scope="col">重新抓取的结果</th></tr></thead>')
        if not self.parts:
            return head + '<tbody><tr><td colspan="4">两份文件内容相同。</td></tr></tbody></table>'
        more = (f'<tbody><tr><td colspan="4">另有 {self.skipped:,} 行差异未列出（超过 {self.rules["max_rows"]:,} 行）。'
                "</td></tr></tbody>" if self.skipped else "")
        return head + "".join(self.parts) + "</tbody>" + more + "</table>"


# --- accept and reject -------------------------------------------------------------------------


def find(cases_dir: Path, slug: str) -> Path:
    """The case file of `slug` (its file name, or the slug its front matter gives)."""
    if not slug or "/" in slug or "\\" in slug or slug.startswith("."):
        raise CasebookError(f"{slug!r} is not a case slug", hint="use a slug from `casebook review`")
    direct = Path(cases_dir) / f"{slug}.md"
    if direct.is_file() and not direct.is_symlink():
        return direct
    for path in sorted(Path(cases_dir).glob("*.md")):
        text = _read(path)
        if text and f"slug: {slug}" in text:
            try:
                if parse(text, path=str(path)).slug == slug:
                    return path
            except ContentError:
                continue
    raise CasebookError(f"no case with the slug {slug!r}", source=str(cases_dir),
                        hint="`casebook review` lists the drafts and their slugs")


def _read_exactly(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as fh:
        return fh.read()


def _removed_lines(root: yaml.MappingNode, names: set[str]) -> set[int]:
    """The 0-based lines of the front matter that hold the keys `names` and their values."""
    lines: set[int] = set()
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value in names:
            last = value.end_mark.line if value.end_mark.column > 0 else value.end_mark.line - 1
            lines.update(range(key.start_mark.line, max(key.start_mark.line, last) + 1))
    return lines


def published_text(text: str, path: str = "<case>") -> str:
    """The case file published: `status: published`, without `draft_reasons` and `review`;
    every other byte as the editor wrote it (comments, order, quoting, line endings)."""
    match = FRONT_MATTER_RE.match(text)
    if match is None:
        raise ContentError("no YAML front matter", source=path, line=1)
    meta_text, offset = match.group("meta"), match.start("meta")
    try:
        root = yaml.compose(meta_text, Loader=yaml.SafeLoader)   # marks count characters of this string
        expected = load_yaml(meta_text)
    except yaml.YAMLError as exc:
        raise ContentError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", source=path) from exc
    if not isinstance(root, yaml.MappingNode) or not isinstance(expected, dict):
        raise ContentError("front matter is not a mapping", source=path, line=2)
    status = next((value for key, value in root.value if isinstance(key, yaml.ScalarNode) and key.value == "status"),
                  None)
    if not isinstance(status, yaml.ScalarNode):
        raise ContentError("the case has no `status:` line", source=path, hint="add `status: draft` first")
    start, end = status.start_mark.index, status.end_mark.index
    meta = meta_text[:start] + "published" + meta_text[end:]
    removed = _removed_lines(root, {"draft_reasons", "review"})
    lines = meta.splitlines(keepends=True)
    meta = "".join(line for number, line in enumerate(lines) if number not in removed)
    if len(lines) - 1 in removed:
        # The last line went: the new last line ends as the old one did (the closing --- follows).
        tail = lines[-1][len(lines[-1].rstrip("\r\n")):]
        meta = meta.rstrip("\r\n") + tail
    expected["status"] = "published"
    expected.pop("draft_reasons", None)
    expected.pop("review", None)
    if load_yaml(meta) != expected:
        raise ContentError("the front matter could not be changed without touching other fields", source=path,
                           hint="set `status: published` and remove `draft_reasons:` and `review:` by hand")
    return text[:offset] + meta + text[offset + len(meta_text):]


def accept(cases_dir: Path, slug: str, data: Data) -> Path:
    """Publish the draft `slug`, atomically; refused when the published case would not pass
    `check` (a draft without a date cannot be published)."""
    from casebook.check import check_text, fatal

    path = find(cases_dir, slug)
    before = _read_exactly(path)
    if parse(before, path=str(path)).status != "draft":
        raise CasebookError(f"{slug} is not a draft", source=str(path),
                            hint="a fresh extraction is merged by hand: compare it with the case on the /review/ page")
    after = published_text(before, str(path))
    errors = fatal(check_text(after, str(path), data)[0])
    if errors:
        raise CasebookError(f"{slug} cannot be published yet: " + "; ".join(p.message for p in errors),
                            source=str(path), hint="; ".join(p.hint for p in errors if p.hint))
    if _read_exactly(path) != before:
        raise CasebookError(f"{path.name} changed while it was being accepted; run the command again")
    atomic_write(path, after)
    _mark_accepted(Path(cases_dir), path.stem)
    return path


def _mark_accepted(cases_dir: Path, stem: str) -> None:
    """Note the acceptance in the ingest manifest: a re-ingest that reads the story as before
    then writes no fresh extraction of it (scraper/store.py)."""
    manifest_path = cases_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return    # written by hand, not by ingest: nothing to note
    entry = manifest.get("cases", {}).get(stem) if isinstance(manifest, dict) else None
    if isinstance(entry, dict):
        entry["accepted"] = dt.datetime.now(CHINA_TZ).date().isoformat()
        atomic_write(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def reject(cases_dir: Path, slug: str, data: Data) -> dict:
    """Discard `slug` from the queue. A draft: record its story's identity in the rejection
    list, then remove the case file and its fresh extraction (the record comes first, so an
    interruption never loses it). An edited case with a fresh extraction: only the fresh
    extraction goes; the editor's case stays and the story is not rejected."""
    cases_dir = Path(cases_dir)
    path = find(cases_dir, slug)
    case = parse(_read_exactly(path), path=str(path))
    fresh = path.with_name(path.name + FRESH)
    if case.status != "draft":
        if fresh.is_file():
            fresh.unlink()
            return {"slug": case.slug or path.stem, "discarded": str(fresh)}
        raise CasebookError(f"{slug} is not in the review queue: a published case without a fresh extraction",
                            source=str(path), hint="to take it off the site, set `status: draft` or delete the file")
    entry = _manifest(cases_dir).get(path.stem, {})
    record = {"slug": case.slug or path.stem, "key": entry.get("key", "") if isinstance(entry, dict) else "",
              "input": entry.get("input", "") if isinstance(entry, dict) else "",
              "source_url": case.source_url or "", "title": case.title or "",
              "text_sha256": text_hash(case.title, case.body),
              "rejected": dt.datetime.now(CHINA_TZ).date().isoformat()}
    rejected = cases_dir / str(data.review["rejected_file"])
    previous = (_read(rejected) or "") if rejected.exists() else ""
    if previous and not previous.endswith("\n"):
        previous += "\n"
    atomic_write(rejected, previous + json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
    fresh.unlink(missing_ok=True)
    path.unlink()
    return record
