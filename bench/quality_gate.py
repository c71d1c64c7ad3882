"""The quality gate CI enforces: extraction and search scored against real pages, each
figure checked against a pinned floor in bench/quality_floors.json.

    python bench/quality_gate.py              # score and check the floors (CI)
    python bench/quality_gate.py --raise      # also raise floors to the new figures
    python bench/quality_gate.py --allow-lower --raise   # lowering a floor needs this flag

Figures:
- seeds_checks: share of the field-by-field expectations of ../shared/seeds/expected met;
- zh_mean_f1, zh_min_f1: character 4-gram F1 on ../shared/bench/zh-extraction (57 pages);
- zh_share_below_0_5: share of those pages under F1 0.5 (a ceiling, lower is better);
- fixtures_rejected: share of ../shared/fixtures/pages rejected cleanly;
- container_variants_exact: seed stories placed into real containers (every fixture page's
  article block, Hexo/Jekyll/Hugo posts, WordPress/AMP/mobile/print pages, Atom/RSS/JSON
  Feed items, legacy encodings, a transcript day; bench/containers.py) that give
  exactly the seed's case — a count of variants;
- search_recall: fragments of 2-6 characters found, against an exact-substring oracle;
- search_phrase_precision: results of quoted phrases that really contain the phrase.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FLOORS = ROOT / "bench" / "quality_floors.json"
SHARED = ROOT.parent / "shared"
CEILINGS = {"zh_share_below_0_5"}


def seed_checks() -> float:
    import yaml

    from casebook.settings import load
    from scraper.pipeline import extract_input

    settings = load()
    passed = total = 0
    for expected in sorted((SHARED / "seeds" / "expected").glob("*.yaml")):
        spec = yaml.safe_load(expected.read_text(encoding="utf-8"))["articles"]
        cases = extract_input(str(ROOT / "samples" / "raw" / f"{expected.stem}.txt"), settings).cases
        for index, want in enumerate(spec):
            case = cases[index] if index < len(cases) else None
            checks = [case is not None and case.relevant == want["relevant"]]
            if case is not None and want["relevant"]:
                checks += [case.title == want["title"] if want["title"] else case.status == "draft",
                           (case.date or "").startswith(str(want["date"])), case.banks == want["banks"],
                           case.province == want["region"].get("province"), case.city == want["region"].get("city"),
                           case.district == want["region"].get("district"), case.category == want["category"],
                           set(want["tags_include"]) <= set(case.tags)]
                checks += [getattr(case, f) == want[f] for f in ("source", "via", "authors", "programs") if f in want]
                checks += [s in case.body for s in want.get("body_contains", [])]
                checks += [s not in case.body for s in want.get("body_excludes", [])]
                checks += [h in case.headings for h in want.get("headings", [])]
                checks += [any(k in f for f in case.figures) for k in want.get("key_figures_include", [])]
            passed += sum(checks)
            total += len(checks)
    return round(passed / total, 4)


def fixtures_rejected() -> float:
    from casebook.settings import load
    from scraper.pipeline import extract_input

    settings = load()
    pages = sorted((SHARED / "fixtures" / "pages").glob("*.html"))
    ok = 0
    for page in pages:
        result = extract_input(str(page), settings)
        ok += result.error is None and bool(result.cases) and not any(c.relevant for c in result.cases)
    return round(ok / len(pages), 4)


def container_variants() -> float:
    from bench.containers import score

    with tempfile.TemporaryDirectory() as tmp:
        exact, total, report = score(Path(tmp))
    for name, problems in report.items():
        if problems:
            print(f"  container variant not exact: {name}: {'; '.join(problems)[:200]}")
    print(f"  container variants: {exact} of {total} exact")
    return float(exact)


def search_quality(samples: int = 300) -> dict[str, float]:
    from bench.corpus import all_matches, fragments, real_cases
    from search.analysis import normalize
    from search.indexer import build_index
    from search.query import SearchEngine

    docs = real_cases()
    with tempfile.TemporaryDirectory() as tmp:
        build_index(docs, Path(tmp) / "index")
        engine = SearchEngine(Path(tmp) / "index", max_page_size=100)
        texts = {d.slug: normalize(f"{d.title}\n{d.text}") for d in docs}
        found = expected = phrase_hits = phrase_good = 0
        for fragment in fragments(docs, samples):
            oracle = {slug for slug, t in texts.items() if normalize(fragment) in t}
            got = all_matches(engine, f'"{fragment}"')
            found += len(oracle & got)
            expected += len(oracle)
            phrase_hits += len(got)
            phrase_good += len(got & oracle)
    return {"search_recall": round(found / max(1, expected), 4),
            "search_phrase_precision": round(phrase_good / max(1, phrase_hits), 4)}


def measure() -> dict[str, float]:
    from bench.zh_extraction import score

    zh = score()
    figures = {"seeds_checks": seed_checks(), "zh_mean_f1": zh["mean_f1"], "zh_min_f1": zh["min_f1"],
               "zh_share_below_0_5": zh["share_below_0_5"], "fixtures_rejected": fixtures_rejected(),
               "container_variants_exact": container_variants()}
    figures.update(search_quality())
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raise", dest="raise_floors", action="store_true", help="raise floors to these figures")
    parser.add_argument("--allow-lower", action="store_true", help="let --raise lower a floor too")
    args = parser.parse_args()
    if not (SHARED / "bench").exists():
        print("quality gate: ../shared is missing", file=sys.stderr)
        return 1
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    figures = measure()
    failures = []
    print(f"{'figure':28} {'now':>8} {'floor':>8}")
    for name, value in figures.items():
        floor = floors.get(name)
        ceiling = name in CEILINGS
        bad = floor is not None and (value > floor if ceiling else value < floor)
        print(f"{name:28} {value:8.4f} {'' if floor is None else f'{floor:8.4f}'} {'FAIL' if bad else ''}"
              f"{' (ceiling)' if ceiling else ''}")
        if bad:
            failures.append(name)
    if args.raise_floors:
        for name, value in figures.items():
            old = floors.get(name)
            better = old is None or (value < old if name in CEILINGS else value > old)
            if better or args.allow_lower:
                floors[name] = value
        FLOORS.write_text(json.dumps(floors, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"floors written to {FLOORS}")
    if failures and not args.allow_lower:
        print(f"quality gate FAILED: {', '.join(failures)} below the pinned floor", file=sys.stderr)
        return 1
    print("quality gate passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
