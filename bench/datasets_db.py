"""The cost of data/cases.db: a full write against the update after a one-case edit.

    python -m bench.datasets_db [--count 1000] [--rounds 3]

The cases are the benchmark's synthetic ones (bench/corpus.py), each with the row the site
makes of it and its index text (`IndexDoc.from_case`), as a build hands them to
`write_database`. Each figure is the best of its rounds: CPU seconds of this process (the
write runs in it, as in a build) and wall seconds. Results are printed as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from casebook.app.datasets import DatasetCase, Lookups, database_content, release_of, write_database

SITE = {"name": "社区金融案例库", "url": "https://cases.example.org", "home_url": "https://cases.example.org/",
        "data_url": "https://cases.example.org/data/"}


def dataset_cases(count: int) -> list[DatasetCase]:
    from bench.corpus import synthetic_cases
    from search.schema import IndexDoc

    found = []
    for case in synthetic_cases(count):
        url = f"/cases/{case.slug}/"
        row = {name: getattr(case, name, None) for name in ("slug", "title", "category", "province", "city",
                                                            "district", "source", "source_url", "via", "summary",
                                                            "banks", "programs", "tags")}
        row.update(date=str(case.date), url=url, status="published")
        found.append(DatasetCase(row, IndexDoc.from_case(case, path=case.slug, url=url).text))
    return found


def write_once(path: Path, cases: list[DatasetCase], memo: Path) -> str:
    facts = Lookups()
    return write_database(path, cases, release_of(cases, facts), facts, SITE, memo=memo)


def measured(work: Callable[[], object]) -> tuple[float, float, object]:
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = work()
    return time.process_time() - cpu, time.perf_counter() - wall, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases, facts = dataset_cases(args.count), Lookups()
    work = Path(tempfile.mkdtemp(prefix="casebook-datasets-"))
    fulls, edits = [], []
    try:
        for number in range(args.rounds):
            path = work / f"full-{number}" / "cases.db"
            memo = path.parent / "memo.json"   # the build's cache folder keeps each case's digest
            fulls.append(measured(partial(write_once, path, cases, memo)))
            assert fulls[-1][2] == "written"
            at = (number * 37) % len(cases)   # one case's text edited
            edited = [*cases]
            edited[at] = dataclasses.replace(cases[at], text=cases[at].text + f"修改{number}。")
            edits.append(measured(partial(write_once, path, edited, memo)))
            assert edits[-1][2] == "updated"
            fresh = work / f"fresh-{number}" / "cases.db"
            write_database(fresh, edited, release_of(edited, facts), facts, SITE)
            assert database_content(path) == database_content(fresh)   # the update is the full write's content
        size = (work / "full-0" / "cases.db").stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = lambda runs, at: round(min(run[at] for run in runs), 3)  # noqa: E731
    print(json.dumps({"cases": args.count, "rounds": args.rounds, "db_mb": round(size / 1e6, 1),
                      "full_cpu_s": best(fulls, 0), "full_wall_s": best(fulls, 1),
                      "one_edit_cpu_s": best(edits, 0), "one_edit_wall_s": best(edits, 1),
                      "one_edit_to_full_cpu": round(best(edits, 0) / best(fulls, 0), 3)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
