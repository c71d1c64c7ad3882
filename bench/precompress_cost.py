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
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import casebook.app.build as build_module  # noqa: E402
from casebook.app.compress import CompressReport, precompress  # noqa: E402

T = TypeVar("T")
TIMED: list[tuple[str, CompressReport]] = []


def _timed_precompress(output: Path) -> CompressReport:
    """The build's own call, timed where it happens."""
    report, seconds = _clock(lambda: precompress(output))
    TIMED.append((seconds, report))
    return report


def _clock(work: Callable[[], T]) -> tuple[T, str]:
    """(result, "wall s (CPU s)"): the CPU time is this process's alone (not the build's
    index process), so it holds on a machine shared with other work, where wall time does not."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, f"{time.perf_counter() - wall:.3f} s ({time.process_time() - cpu:.3f} s CPU)"


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
        _, build_time = _clock(lambda: build_module.build_site(content, output, index, preview=False))
        first_time, first = TIMED[-1]
        again, again_time = _clock(lambda: precompress(output))
        print(f"cases: {args.cases or 'content/'}; build {build_time}")
        print(f"first build's copies: {first_time}, {first.written} written, "
              f"{first.bytes_in / 1e6:.2f} MB -> {first.bytes_out / 1e6:.2f} MB")
        print(f"nothing changed: {again_time}, {again.kept} kept")
        if args.cases:
            _edit_one(content)
            _, edit_build_time = _clock(lambda: build_module.build_site(content, output, index, preview=False))
            edit_time, edited = TIMED[-1]
            print(f"one case edited: build {edit_build_time}; copies {edit_time}, {edited.written} written, "
                  f"{edited.kept} kept")


if __name__ == "__main__":
    main()
