"""What the build's .gz copies (casebook/app/compress.py) cost: a first build's copies, a
rerun with nothing changed, and the copies of a build after one case was edited.

    python bench/precompress_cost.py            # the sample cases in content/
    python bench/precompress_cost.py 1000       # that many synthetic cases (bench/corpus.py)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import casebook.app.build as build_module  # noqa: E402
from casebook.app.compress import CompressReport, precompress  # noqa: E402

TIMED: list[tuple[float, CompressReport]] = []


def _timed_precompress(output: Path) -> CompressReport:
    """The build's own call, timed where it happens."""
    started = time.perf_counter()
    report = precompress(output)
    TIMED.append((time.perf_counter() - started, report))
    return report


def _content(count: int, work: Path) -> Path:
    if not count:
        return ROOT / "content"
    from bench.corpus import synthetic_cases
    from bench.run import write_content

    write_content(synthetic_cases(count), work / "content")
    return work / "content"


def _edit_one(content: Path) -> None:
    cases = sorted((content / "cases").glob("*.md"))
    case = cases[len(cases) // 2]
    text = case.read_text(encoding="utf-8")
    head, body = text.split("\n---\n", 1)
    case.write_text(f"{head}\n---\n\n补充一句。\n{body}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=int, nargs="?", default=0, help="synthetic cases (0: content/)")
    args = parser.parse_args()
    build_module.precompress = _timed_precompress
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        content = _content(args.cases, work)
        output, index = work / "output", work / "index"
        started = time.perf_counter()
        build_module.build_site(content, output, index, preview=False)
        build_seconds = time.perf_counter() - started
        first_seconds, first = TIMED[-1]
        started = time.perf_counter()
        again = precompress(output)
        again_seconds = time.perf_counter() - started
        print(f"cases: {args.cases or 'content/'}; build {build_seconds:.2f} s")
        print(f"first build's copies: {first_seconds:.2f} s, {first.written} written, "
              f"{first.bytes_in / 1e6:.2f} MB -> {first.bytes_out / 1e6:.2f} MB")
        print(f"nothing changed: {again_seconds:.3f} s, {again.kept} kept")
        if args.cases:
            _edit_one(content)
            build_module.build_site(content, output, index, preview=False)
            edit_seconds, edited = TIMED[-1]
            print(f"one case edited: {edit_seconds:.3f} s, {edited.written} written, {edited.kept} kept")


if __name__ == "__main__":
    main()
