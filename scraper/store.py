"""The content folder as a store that never loses an editor's work.

A manifest (`.casebook-manifest.json` in the cases folder) remembers, for every case
ingest wrote, the story it came from (its key) and the SHA-256 of the file as written.
From that:
- a story seen before keeps its slug forever;
- a file whose hash no longer matches was edited by hand: it is never overwritten, and
  the fresh extraction is written beside it as `<slug>.md.fresh` for review;
- re-running on the same inputs rewrites nothing (status `unchanged`);
- every write goes to a temporary file that is renamed into place, so an interrupted
  run leaves no half-written case or manifest;
- a story an editor rejected (`casebook review --reject`, scraper/review.py) is listed in
  the rejection file beside the manifest, by its key, its source address and the hash of its
  normalized text: ingest never brings it back (status `rejected`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from casebook.errors import CasebookError, ContentError
from casebook.files import atomic_write
from casebook.model import Case, parse, render
from scraper.dedupe import RepostIndex, normalize
from scraper.slugs import make_slug, unique_slug

MANIFEST = ".casebook-manifest.json"


@dataclass
class Outcome:
    status: str            # written | unchanged | kept-edited | duplicate | rejected
    path: Path | None
    reason: str = ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_hash(title: str | None, body: str) -> str:
    """The story's identity by its words: the same report re-read from another copy of the
    page (other chrome, other bytes, other key) has the same normalized text."""
    return sha256(normalize(f"{title or ''}\n{body}"))


@dataclass
class Rejections:
    """The stories editors rejected: their keys, source addresses and text hashes."""

    keys: dict[str, str]
    urls: dict[str, str]
    texts: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> Rejections:
        keys: dict[str, str] = {}
        urls: dict[str, str] = {}
        texts: dict[str, str] = {}
        if path.exists():
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    entry = None
                if not isinstance(entry, dict):
                    raise CasebookError(f"line {number} of the rejection list is not a JSON object", source=str(path),
                                        hint="restore it from version control")
                what = f"rejected by an editor on {entry.get('rejected', '?')} (was {entry.get('slug', '?')})"
                for field_name, table in (("key", keys), ("source_url", urls), ("text_sha256", texts)):
                    if entry.get(field_name):
                        table[entry[field_name]] = what
        return cls(keys, urls, texts)

    def match(self, case: Case) -> str | None:
        """Why the story is not written again, when an editor rejected it."""
        return (self.keys.get(case.key) or (self.urls.get(case.source_url) if case.source_url else None)
                or self.texts.get(text_hash(case.title, case.body)))


class CaseStore:
    def __init__(self, directory: Path, rejected_file: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)  # from a run that was killed mid-write
        self.manifest_path = self.directory / MANIFEST
        self.manifest = self._load_manifest()
        self.rejections = Rejections.load(self.directory / (rejected_file or rejected_file_name()))
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
        entry = self.manifest["cases"].get(case.slug, {})
        self.manifest["cases"][case.slug] = {"sha256": sha256(text), "key": key, "input": case.input or entry.get("input", ""),
                                             # why ingest took the story (the relevance evidence), for the review queue
                                             "reason": case.reason or entry.get("reason", "")}
        self.manifest["keys"][key] = case.slug
        self.slugs.add(case.slug)
        self._save_manifest()
        return text

    def save(self, case: Case) -> Outcome:
        rejected = self.rejections.match(case)
        if rejected is not None:
            return Outcome("rejected", None, rejected)
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
            if entry.get("accepted") and sha256(render(case)) == entry["sha256"]:
                # An editor accepted this draft (scraper/review.py) and the story reads as it
                # did then: nothing new to review.
                return Outcome("kept-edited", path, "accepted by an editor; the extraction has not changed")
            fresh = path.with_name(path.name + ".fresh")
            atomic_write(fresh, render(case))
            if entry.get("fresh_reason") != case.reason:
                entry["fresh_reason"] = case.reason
                self._save_manifest()
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


def rejected_file_name(data_dir: Path | None = None) -> str:
    """The rejection list's file name (scraper/data/review.yaml), in the cases folder."""
    from casebook.data import load_data

    return str(load_data(data_dir).review["rejected_file"])
