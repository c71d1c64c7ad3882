"""Case corpora made from real text, for the search quality gate and the benchmark.

`real_cases` turns the seed cases and the 57 labelled news texts of the extraction
benchmark into IndexDoc records (real Chinese text, many sources)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from search.schema import IndexDoc

if TYPE_CHECKING:
    from search.query import SearchRequest, SearchResponse


class Searches(Protocol):
    """What `all_matches` needs of a search engine or backend."""

    def search(self, request: SearchRequest) -> SearchResponse: ...

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def real_cases() -> list[IndexDoc]:
    """Index documents made as the build makes them (`IndexDoc.from_case`) from real cases:
    the seed reports as ingest extracts them, and the labelled news texts as case bodies."""
    from casebook.model import Case
    from casebook.settings import load
    from scraper.pipeline import extract_input

    docs: list[IndexDoc] = []
    settings = load()
    for path in sorted((ROOT / "samples" / "raw").glob("*")):
        for case in extract_input(str(path), settings).cases:
            if case.relevant:
                case.slug = f"seed-{path.stem[:3]}-{len(docs)}"
                case.date = case.date or "2020-01-01"
                docs.append(IndexDoc.from_case(case, path=str(path), url=f"/cases/{case.slug}/"))
    truth = json.loads((SHARED / "bench" / "zh-extraction" / "truth.json").read_text(encoding="utf-8"))
    for number, (name, item) in enumerate(sorted(truth.items())):
        text = item["content"]
        case = Case(title=text.strip().split("\n")[0][:30], slug=f"news-{name}",
                    date=f"20{10 + number % 14:02d}-{1 + number % 12:02d}-01", category="金融知识宣传", body=text)
        docs.append(IndexDoc.from_case(case, path=f"bench/{name}.html", url=f"/cases/news-{name}/"))
    return docs


def sentence_pool() -> list[list[str]]:
    """Sentences of real Chinese text, grouped by source: the seeds, the fixture pages and the
    57 labelled news texts."""
    import re

    from casebook.model import plain_text
    from casebook.settings import load
    from scraper.pipeline import extract_input

    settings = load()
    texts: list[str] = []
    for path in [*sorted((ROOT / "samples" / "raw").glob("*")), *sorted((SHARED / "fixtures" / "pages").glob("*"))]:
        texts += [plain_text(c.body) for c in extract_input(str(path), settings).cases]
    truth = json.loads((SHARED / "bench" / "zh-extraction" / "truth.json").read_text(encoding="utf-8"))
    texts += [item["content"] for _, item in sorted(truth.items())]
    pool = []
    for text in texts:
        sentences = [s.strip() for s in re.findall(r"[^。！？!?\n]+[。！？!?]?", text) if len(s.strip()) >= 12]
        if sentences:
            pool.append(sentences)
    return pool


def synthetic_cases(count: int, seed: int = 7) -> list:
    """`count` cases whose sentences are sampled across many real sources, Zipf-weighted, with
    every case also quoting the community-finance seeds, so that domain words (银行, 社区, 服务)
    are in most cases and names and rare terms in few."""
    import datetime as dt
    import random

    from casebook.data import load_data
    from casebook.model import Case
    from casebook.settings import load as load_settings

    rng = random.Random(seed)
    data = load_data(load_settings().data_dir)
    pool = sentence_pool()
    domain = pool[:6]   # the seed stories come first
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(pool))]
    banks = [b["name"] for b in data.banks["banks"]]
    bank_weights = [1 / (rank + 1) for rank in range(len(banks))]
    provinces = [r.name for r in data.gazetteer.provinces()]
    cases = []
    for number in range(count):
        sources = rng.choices(pool, weights=weights, k=3)
        sentences = [rng.choice(rng.choice(domain)) for _ in range(rng.randint(2, 4))]
        for source in sources:
            start = rng.randrange(len(source))
            sentences += source[start:start + rng.randint(3, 8)]
        rng.shuffle(sentences)
        paragraphs = ["".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
        date = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randrange(2900))
        title = rng.choice(sentences).rstrip("。！？!?")[:30]
        cases.append(Case(
            title=title, slug=f"{date.isoformat()}-case-{number:05d}", date=date.isoformat(),
            category=rng.choice(data.category_names), tags=rng.sample(data.tag_names, rng.randint(0, 3)),
            banks=rng.choices(banks, weights=bank_weights, k=rng.randint(1, 2)),
            province=rng.choice(provinces), status="published", summary=paragraphs[0][:80],
            body="\n\n".join(paragraphs)))
    return cases


def fragments(docs: list[IndexDoc], samples: int, seed: int = 20261122) -> list[str]:
    """Runs of 2 to 6 Chinese characters taken from random cases, reproducibly."""
    import random

    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < samples:
        text = rng.choice(docs).text
        starts = [i for i in range(len(text) - 6) if all("\u4e00" <= c <= "\u9fff" for c in text[i:i + 2])]
        if not starts:
            continue
        fragment = text[(start := rng.choice(starts)):start + rng.randint(2, 6)]
        fragment = fragment[: next((i for i, c in enumerate(fragment) if not "\u4e00" <= c <= "\u9fff"), len(fragment))]
        if len(fragment) >= 2:
            out.append(fragment)
    return out


def all_matches(engine: Searches, query: str) -> set[str]:
    """Every slug a query returns, page after page."""
    from search.query import SearchRequest

    found: set[str] = set()
    page = 1
    while True:
        response = engine.search(SearchRequest(q=query, page=page, page_size=100, facets=False))
        found |= {r["slug"] for r in response.results}
        if page * 100 >= response.total or page >= 50:
            return found
        page += 1
