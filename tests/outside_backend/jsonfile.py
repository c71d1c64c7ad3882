"""A brute-force search backend over one JSON file per generation, written the way a developer
outside the project would: against docs/search-backend.md, importing only the interface it
documents (the request and response records, the query tree and its matching rules, the
shared presentation helpers, the error classes). No Whoosh, no index structures: every query
scans every case. Fine for a few thousand cases; it exists to prove the seam.

Select it with CASEBOOK_SEARCH_BACKEND=tests.outside_backend.jsonfile:JsonFileBackend.

Layout of the index folder:
    jsonfile-ACTIVE           the name of the generation served (replaced atomically)
    jsonfile-000003.json      every case of one generation, as IndexDoc records
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from casebook.errors import SearchError
from casebook.safety import safe_url
from casebook.settings import Settings
from search.analysis import normalize
from search.fields import BY_NAME, FACET_FIELDS
from search.matching import conjuncts, date_matches, facet_field, fold_value, leaf_patterns, text_pattern
from search.present import FACET_VALUES, export_body, highlight, snippet
from search.querylang import And, DateRange, Filter, Not, Or, Text
from search.request import SearchRequest, SearchResponse, plan_request, validate_export, validate_request
from search.schema import BuildReport, IndexDoc

ACTIVE = "jsonfile-ACTIVE"
RESULT_FIELDS = ("slug", "path", "url", "title", "date", "category", "banks", "province", "city", "district",
                 "tags", "programs", "source")
URL_FIELDS = ("url", "via")


class Generation:
    """One generation held in memory: the records, and their normalized text and title."""

    def __init__(self, name: str, records: list[dict[str, Any]]) -> None:
        self.name = name
        self.records = records
        self.texts = [normalize(f"{r['title']}\n{r['text']}") for r in records]
        self.titles = [normalize(r["title"]) for r in records]


class JsonFileBackend:
    def __init__(self, index_dir: Path, settings: Settings | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.settings = settings
        self._lock = threading.Lock()
        self._generation: Generation | None = None

    # --- update ---------------------------------------------------------------------------

    def update(self, docs: Iterable[IndexDoc], *, full: bool = False) -> BuildReport:
        records = [doc.to_record() for doc in docs]
        slugs = [r["slug"] for r in records]
        if len(set(slugs)) != len(slugs):
            duplicate = next(s for s in slugs if slugs.count(s) > 1)
            raise SearchError(f"two cases share the slug {duplicate!r}", source=str(self.index_dir))
        old_name = self._active_name()
        old = {r["slug"]: r for r in self._read(old_name)} if old_name and not full else {}
        new = {r["slug"]: r for r in records}
        added = [s for s in new if s not in old]
        updated = [s for s in new if s in old and old[s] != new[s]]
        removed = [s for s in old if s not in new]
        if old_name and not full and not (added or updated or removed):
            return BuildReport(old_name, 0, 0, 0, len(new), False)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        name = f"jsonfile-{self._number(old_name) + 1:06d}.json"
        self._write_atomically(self.index_dir / name, json.dumps(records, ensure_ascii=False))
        self._write_atomically(self.index_dir / ACTIVE, name)   # the swap: readers see all or nothing
        for stale in self.index_dir.glob("jsonfile-*.json"):
            if stale.name not in (name, old_name):
                stale.unlink(missing_ok=True)
        return BuildReport(name, len(added), len(updated), len(removed), len(new) - len(added) - len(updated),
                           full or not old_name)

    def _write_atomically(self, path: Path, text: str) -> None:
        handle, temporary = tempfile.mkstemp(dir=self.index_dir, prefix=".jsonfile-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @staticmethod
    def _number(name: str | None) -> int:
        match = re.search(r"(\d+)", name or "")
        return int(match.group(1)) if match else 0

    # --- reading ----------------------------------------------------------------------------

    def _active_name(self) -> str | None:
        try:
            return (self.index_dir / ACTIVE).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _read(self, name: str | None) -> list[dict[str, Any]]:
        if not name:
            return []
        try:
            return json.loads((self.index_dir / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SearchError(f"the generation {name} cannot be read: {exc}", source=str(self.index_dir)) from exc

    def generation(self) -> Generation:
        """The generation served now; a request holds on to the one it started with."""
        name = self._active_name()
        if name is None:
            raise SearchError("no search index here", source=str(self.index_dir), hint="run `casebook build` first")
        with self._lock:
            if self._generation is None or self._generation.name != name:
                self._generation = Generation(name, self._read(name))
            return self._generation

    # --- queries ----------------------------------------------------------------------------

    def _limits(self) -> dict[str, int]:
        s = self.settings
        return {} if s is None else {"max_query_chars": s.max_query_chars, "max_page": s.max_page,
                                     "max_page_size": s.max_page_size}

    def _matches(self, gen: Generation, node: object, number: int) -> bool:
        record = gen.records[number]
        if node is None:
            return True
        if isinstance(node, Text):
            pattern = text_pattern(node)
            return bool(pattern and pattern.search(gen.texts[number]))
        if isinstance(node, Filter):
            return self._filter(gen, node, number)
        if isinstance(node, DateRange):
            return date_matches(record["date"], node.start, node.end)
        if isinstance(node, Not):
            return not self._matches(gen, node.child, number)
        if isinstance(node, And):
            return all(self._matches(gen, child, number) for child in node.children)
        if isinstance(node, Or):
            return any(self._matches(gen, child, number) for child in node.children)
        raise TypeError(f"unknown query node {node!r}")

    def _filter(self, gen: Generation, node: Filter, number: int) -> bool:
        record = gen.records[number]
        if node.field == "title":
            pattern = text_pattern(Text(node.value))
            return bool(pattern and pattern.search(gen.titles[number]))
        values = _values(record, node.field)
        field = BY_NAME.get(node.field)
        if field is not None and field.match == "year":
            return node.value in values
        folded = fold_value(node.value)
        return any(v == node.value or (folded and folded in fold_value(v)) for v in values)

    def _matched(self, gen: Generation, root: object) -> list[int]:
        return [n for n in range(len(gen.records)) if self._matches(gen, root, n)]

    def _ordered(self, gen: Generation, matched: list[int], leaves: list[Text], sort: str) -> tuple[
            list[int], dict[int, float]]:
        by_date = sorted(matched, key=lambda n: (gen.records[n]["date"], gen.records[n]["slug"]))
        if sort == "date_asc":
            return by_date, {}
        if sort == "date" or not leaves:
            return by_date[::-1], {}
        # Relevance, simply: occurrences of the terms, a title match counting five.
        patterns = leaf_patterns(leaves)
        scores = {n: float(sum(len(p.findall(gen.texts[n])) + 4 * len(p.findall(gen.titles[n])) for p in patterns))
                  for n in matched}
        newest = {n: rank for rank, n in enumerate(by_date)}
        return sorted(matched, key=lambda n: (-scores[n], -newest[n])), scores

    def _facets(self, gen: Generation, root: object, matched: list[int]) -> dict[str, list[dict[str, Any]]]:
        clauses = conjuncts(root)
        out: dict[str, list[dict[str, Any]]] = {}
        for name in FACET_FIELDS:
            kept = tuple(c for c in clauses if facet_field(c) != name)
            if len(kept) == len(clauses):
                base = matched
            else:
                base = self._matched(gen, kept[0] if len(kept) == 1 else And(kept) if kept else None)
            counts: dict[str, int] = {}
            for number in base:
                for value in set(_values(gen.records[number], name)):
                    counts[value] = counts.get(value, 0) + 1
            if name == "year":
                ordered = sorted(counts.items(), reverse=True)
            else:
                ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_VALUES]
            out[name] = [{"value": v, "count": c} for v, c in ordered]
        return out

    def search(self, request: SearchRequest) -> SearchResponse:
        started = time.perf_counter()
        validate_request(request, **self._limits())
        gen = self.generation()
        plan = plan_request(request)
        matched = self._matched(gen, plan.root)
        ordered, scores = self._ordered(gen, matched, plan.leaves, request.sort)
        start = (request.page - 1) * request.page_size
        patterns = leaf_patterns(plan.leaves)
        results = []
        for number in ordered[start:start + request.page_size]:
            record = gen.records[number]
            row = {name: record[name] for name in RESULT_FIELDS}
            row["url"] = safe_url(record["url"])
            row["score"] = round(scores.get(number, 0.0), 4)
            row["snippet"] = snippet(record["text"], patterns, record.get("summary") or "")
            row["title_html"] = highlight(record["title"], patterns)
            results.append(row)
        facets = self._facets(gen, plan.root, matched) if request.facets else {}
        return SearchResponse(request.q.strip(), len(matched), request.page, request.page_size, request.sort,
                              results, facets, (time.perf_counter() - started) * 1000, plan.notice, [])

    def export(self, request: SearchRequest, fmt: str) -> tuple[str, str]:
        validate_export(fmt)
        validate_request(request, **self._limits())
        gen = self.generation()
        plan = plan_request(request)
        ordered, _scores = self._ordered(gen, self._matched(gen, plan.root), plan.leaves, request.sort)
        rows = []
        for number in ordered:
            row = {k: v for k, v in gen.records[number].items() if k != "text"}
            for name in URL_FIELDS:
                row[name] = safe_url(row[name]) or ""
            rows.append(row)
        return export_body(rows, fmt)

    def health(self) -> dict[str, Any]:
        gen = self.generation()
        return {"status": "ok", "cases": len(gen.records), "index": gen.name, "worker": os.getpid()}


def _values(record: dict[str, Any], field: str) -> list[str]:
    """A record's values of a filter field (a year: from the date, none when undated)."""
    if field == "year":
        date = record["date"]
        return [date[:4]] if len(date) >= 4 and date[:4].isdigit() else []
    value = record.get(field)
    return [v for v in (value if isinstance(value, list) else [value]) if v]
