"""The content folder as a store that never loses an editor's work.

A manifest (`.casebook-manifest.json` in the cases folder) remembers, for every case
ingest wrote, the story it came from (its key) and the SHA-256 of the file as written.
From that:
- a story seen before keeps its slug forever;
- a file whose hash no longer matches was edited by hand: it is never overwritten, and
  the fresh extraction is written beside it as `<slug>.md.fresh` for review;
- re-running on the same inputs rewrites nothing (status `unchanged`);
- every write goes to a temporary file that is renamed into place, so an interrupted
  run leaves no half-written case or manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from casebook.errors import CasebookError, ContentError
from casebook.files import atomic_write
from casebook.model import Case, parse, render
from scraper.dedupe import RepostIndex
from scraper.slugs import make_slug, unique_slug

MANIFEST = ".casebook-manifest.json"
@dataclass
class Outcome:
    status: str            # written | unchanged | kept-edited | duplicate
    path: Path | None
    reason: str = ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CaseStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)  # from a run that was killed mid-write
        self.manifest_path = self.directory / MANIFEST
        self.manifest = self._load_manifest()
        self.reposts = RepostIndex()
        self.slugs: set[str] = set()
        for path in sorted(self.directory.glob("*.md")):
            self.slugs.add(path.stem)
            try:
                existing = parse(path.read_text(encoding="utf-8"), path=str(path))
            except (ContentError, OSError, UnicodeDecodeError):
                continue  # `casebook check` reports broken files; they are never touched here
            self.slugs.add(existing.slug or path.stem)
            self.reposts.add(path.stem, f"{existing.title or ''}\n{existing.body}")
        self.slugs.update(self.manifest["cases"])

    def _load_manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {"version": 1, "cases": {}, "keys": {}}
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CasebookError(f"the ingest manifest is unreadable: {exc}", source=str(self.manifest_path),
                                hint="restore it from version control; without it edited cases cannot be told "
                                     "apart from fresh ones") from exc
        manifest.setdefault("keys", {})
        return manifest

    def _save_manifest(self) -> None:
        atomic_write(self.manifest_path, json.dumps(self.manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")

    def _path(self, slug: str) -> Path:
        return self.directory / f"{slug}.md"

    def _is_pristine(self, slug: str) -> bool:
        path = self._path(slug)
        entry = self.manifest["cases"].get(slug)
        return bool(entry) and path.exists() and sha256(path.read_text(encoding="utf-8")) == entry["sha256"]

    def _write(self, case: Case, key: str) -> str:
        text = render(case)
        atomic_write(self._path(case.slug), text)
        self.manifest["cases"][case.slug] = {"sha256": sha256(text), "key": key, "input": case.input}
        self.manifest["keys"][key] = case.slug
        self.slugs.add(case.slug)
        self._save_manifest()
        return text

    def save(self, case: Case) -> Outcome:
        slug = self.manifest["keys"].get(case.key)
        if slug is not None:
            return self._update(case, slug)
        match = self.reposts.find(f"{case.title or ''}\n{case.body}")
        if match:
            return self._merge_repost(case, match[0], match[1])
        case.slug = unique_slug(make_slug(case.title, case.date), self.slugs)
        self._write(case, case.key)
        self.reposts.add(case.slug, f"{case.title or ''}\n{case.body}")
        return Outcome("written", self._path(case.slug), "new case")

    def _update(self, case: Case, slug: str) -> Outcome:
        case.slug = slug
        path = self._path(slug)
        entry = self.manifest["cases"].get(slug)
        if entry is None or entry.get("key") != case.key:
            # This key was merged into another story's case as a repost.
            return Outcome("duplicate", path, f"a repost of {slug}")
        if not path.exists():
            return Outcome("kept-edited", None, f"{path.name} was deleted by an editor; not recreated")
        if not self._is_pristine(slug):
            fresh = path.with_name(path.name + ".fresh")
            atomic_write(fresh, render(case))
            return Outcome("kept-edited", path, f"edited by hand; the fresh extraction is in {fresh.name}")
        current = path.read_text(encoding="utf-8")
        # Reposts merged earlier belong to the case, not to this extraction.
        case.reposts = parse(current, path=str(path)).reposts
        if render(case) == current:
            return Outcome("unchanged", path)
        self._write(case, case.key)
        return Outcome("written", path, "re-extracted")

    def _merge_repost(self, case: Case, slug: str, score: float) -> Outcome:
        path = self._path(slug)
        self.manifest["keys"][case.key] = slug
        reason = f"the same story as {slug} (similarity {score:.2f})"
        if self._is_pristine(slug):
            existing = parse(path.read_text(encoding="utf-8"), path=str(path))
            repost = {k: v for k, v in (("source", case.source), ("via", case.via), ("url", case.source_url),
                                        ("title", case.title)) if v}
            known = [(r.get("source"), r.get("via"), r.get("url")) for r in existing.reposts]
            original = (existing.source, existing.via, existing.source_url)
            if (repost.get("source"), repost.get("via"), repost.get("url")) not in [*known, original]:
                existing.reposts.append(repost)
                self._write(existing, self.manifest["cases"][slug]["key"])
                reason += "; listed as a repost"
        self._save_manifest()
        return Outcome("duplicate", path, reason)
