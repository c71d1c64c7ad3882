"""Search quality of the textbook recipe — Whoosh with jieba.analyse.ChineseAnalyzer and its
QueryParser — against Casebook's search, on the same real cases and the same fragments,
scored against an exact-substring oracle.

    python bench/textbook_recall.py [--samples 300]

Reports, for each: recall of 2-6 character fragments (every case containing the fragment
verbatim should be found) and precision of quoted phrases (every case found should contain
the phrase verbatim).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.qparser import QueryParser

    from bench.corpus import all_matches, fragments, real_cases
    from search.analysis import normalize
    from search.indexer import build_index
    from search.query import SearchEngine

    docs = real_cases()
    texts = {d.slug: normalize(f"{d.title}\n{d.text}") for d in docs}
    queries = fragments(docs, args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        schema = Schema(slug=ID(stored=True, unique=True), body=TEXT(analyzer=ChineseAnalyzer()))
        (Path(tmp) / "jieba").mkdir()
        ix = index.create_in(tmp + "/jieba", schema)
        writer = ix.writer()
        for d in docs:
            writer.add_document(slug=d.slug, body=f"{d.title}\n{d.text}")
        writer.commit()
        build_index(docs, Path(tmp) / "ours")
        ours = SearchEngine(Path(tmp) / "ours", max_page_size=100)
        scores = {"textbook": [0, 0, 0, 0], "casebook": [0, 0, 0, 0]}   # found, expected, phrase hits, good
        with ix.searcher() as searcher:
            parser_ = QueryParser("body", ix.schema)
            for fragment in queries:
                oracle = {slug for slug, text in texts.items() if normalize(fragment) in text}
                for name, quoted in (("textbook", False), ("textbook", True)):
                    hits = {h["slug"] for h in searcher.search(parser_.parse(f'"{fragment}"' if quoted else fragment),
                                                               limit=None)}
                    if quoted:
                        scores[name][2] += len(hits)
                        scores[name][3] += len(hits & oracle)
                    else:
                        scores[name][0] += len(hits & oracle)
                        scores[name][1] += len(oracle)
                got = all_matches(ours, f'"{fragment}"')
                scores["casebook"][0] += len(got & oracle)
                scores["casebook"][1] += len(oracle)
                scores["casebook"][2] += len(got)
                scores["casebook"][3] += len(got & oracle)
    report: dict[str, object] = {name: {"recall": round(s[0] / max(1, s[1]), 4), "phrase_precision": round(s[3] / max(1, s[2]), 4)}
              for name, s in scores.items()}
    report["fragments"] = len(queries)
    report["cases"] = len(docs)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
