"""Case corpora made from real text, for the search quality gate and the benchmark.

`real_cases` turns the seed cases and the 57 labelled news texts of the extraction
benchmark into IndexDoc records (real Chinese text, many sources)."""

from __future__ import annotations

import json
from pathlib import Path

from search.schema import IndexDoc

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def real_cases() -> list[IndexDoc]:
    from casebook.model import plain_text
    from casebook.settings import load
    from scraper.pipeline import extract_input

    docs: list[IndexDoc] = []
    settings = load()
    for path in sorted((ROOT / "samples" / "raw").glob("*")):
        for case in extract_input(str(path), settings).cases:
            if case.relevant:
                slug = f"seed-{path.stem[:3]}-{len(docs)}"
                docs.append(IndexDoc(slug=slug, path=str(path), url=f"/cases/{slug}/", title=case.title or "",
                                     date=case.date or "2020-01-01", category=case.category or "",
                                     tags=case.tags, banks=case.banks, programs=case.programs,
                                     province=case.province or "", city=case.city or "",
                                     text=plain_text(case.body)))
    truth = json.loads((SHARED / "bench" / "zh-extraction" / "truth.json").read_text(encoding="utf-8"))
    for number, (name, item) in enumerate(sorted(truth.items())):
        text = item["content"]
        title = text.strip().split("\n")[0][:30]
        docs.append(IndexDoc(slug=f"news-{name}", path=f"bench/{name}.html", url=f"/cases/news-{name}/",
                             title=title, date=f"20{10 + number % 14:02d}-{1 + number % 12:02d}-01",
                             category="金融知识宣传", text=text))
    return docs
