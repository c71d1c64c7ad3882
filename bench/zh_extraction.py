"""Score main-text extraction on ../shared/bench/zh-extraction: 57 real Chinese news pages with
hand-labelled text. Metric (as in that benchmark's README): character 4-gram F1 between the
extracted body as plain text (Markdown syntax, whitespace and punctuation removed) and the
labelled `content`, averaged over pages; also the share of pages under F1 0.5 and ms/page.

    python bench/zh_extraction.py [--details]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "bench" / "zh-extraction"


def plain(text: str) -> str:
    from casebook.model import plain_text

    text = plain_text(text).replace("&lt;", "<")
    return re.sub(r"[\W_]+", "", text)


def grams(text: str, n: int = 4) -> Counter[str]:
    return Counter(text[i:i + n] for i in range(max(0, len(text) - n + 1)))


def f1(extracted: str, truth: str) -> float:
    a, b = grams(plain(extracted)), grams(plain(truth))
    if not a or not b:
        return 0.0
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def extract_body(path: Path) -> str:
    from casebook.data import load_data
    from casebook.settings import load as load_settings
    from scraper.pipeline import extract_document
    from scraper.sources import document_from_bytes

    doc = document_from_bytes(path.read_bytes(), input=str(path))
    cases = extract_document(doc, load_data(load_settings().data_dir))
    return "\n\n".join(case.body for case in cases)


def score(bench: Path = BENCH) -> dict:
    truth = json.loads((bench / "truth.json").read_text(encoding="utf-8"))
    pages = {}
    started = time.perf_counter()
    for name, item in sorted(truth.items()):
        path = bench / "html" / f"{name}.html"
        try:
            body = extract_body(path)
        except Exception as exc:
            body = ""
            print(f"{name}: {exc}", file=sys.stderr)
        pages[name] = round(f1(body, item["content"]), 4)
    elapsed = time.perf_counter() - started
    values = list(pages.values())
    return {"pages": len(values), "mean_f1": round(sum(values) / len(values), 4),
            "share_below_0_5": round(sum(v < 0.5 for v in values) / len(values), 4),
            "min_f1": min(values), "ms_per_page": round(1000 * elapsed / len(values), 1), "per_page": pages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--details", action="store_true", help="print every page's F1")
    args = parser.parse_args()
    result = score()
    if args.details:
        for name, value in sorted(result["per_page"].items(), key=lambda kv: kv[1]):
            print(f"{value:.3f}  {name}")
    print(json.dumps({k: v for k, v in result.items() if k != "per_page"}, indent=1))


if __name__ == "__main__":
    main()
