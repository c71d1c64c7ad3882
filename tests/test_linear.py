"""Every regex over input text must be linear: each special character (and short combinations
of them) as a 100,000-character run, through the real ingest path (a text dump, a whole HTML
page, a mirrored post with a Markdown and an HTML body) and through the case model (render,
parse, plain_text, clean_text).

A run may take at most 5 s; one that takes longer (a slow machine, a heavy but linear
library) must then still scale linearly: 4x the input may cost at most 8x the time, where a
quadratic regex costs 16x. Each run is under a 60 s budget, so a catastrophic one fails
instead of hanging the suite."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

import pytest

from casebook.data import load_data
from casebook.errors import CasebookError
from casebook.model import Case, clean_text, parse, plain_text, render
from scraper.guard import BudgetExpired, time_budget
from scraper.pipeline import extract_document
from scraper.sources import document_from_bytes

pytestmark = pytest.mark.slow

DATA = load_data()
SIZE = int(os.environ.get("LINEAR_RUN_CHARS", "100000"))
LIMIT_S = 5.0
RUNS = ["[", "](", "[a](", "<a", "<", ">", "<p>", "<meta ", "\u3000", " ", "\t", "\xa0", "\n", "#", "*", "**", "_",
        "`", "!", "![", "|", "\\", "&", "-", "【", "（", "（\n", "，\n", "1", "年", "2020-1-1 ", "1月", "来源：", "_网",
        "标题 - ", "var msg_title='a' ", "\u202e", "[a]: ", "> [a]:", "[a]:\n"]


def _run(text: str, size: int) -> str:
    return (text * (size // len(text) + 1))[:size]


def _ingest(raw: str) -> None:
    # A clear refusal is a fine answer; any other exception fails the test.
    with contextlib.suppress(CasebookError):
        extract_document(document_from_bytes(raw.encode("utf-8"), input="run"), DATA)


SHAPES: dict[str, Callable[[str], None]] = {
    "text dump": lambda run: _ingest(f"社区银行服务居民\n{run}\n来源：新华网\n"),
    "html page": lambda run: _ingest(f"<html><head><title>银行进社区</title></head><body><h1>银行进社区</h1>"
                                     f"<p>{run}</p><p>来源：新华网</p></body></html>"),
    "post": lambda run: _ingest(f"---\ntitle: 银行进社区\n---\n{run}\n"),
    "html post": lambda run: _ingest(f"---\ntitle: 银行进社区\n---\n<p>社区银行</p><p>{run}</p>\n"),
    "render": lambda run: render(Case(title=run, summary=run, body=run, slug="x", date="2022-01-01",
                                      category="网点进社区", authors=[run])),
    "parse": lambda run: parse(f"---\ntitle: x\n---\n{run}"),
    "plain_text": plain_text,
    "clean_text": clean_text,
    "clean_text single line": lambda run: clean_text(run, single_line=True),
}


def _seconds(shape: Callable[[str], None], text: str, size: int) -> float:
    # CPU time of this process (every shape runs in it): other work on the machine, as in a
    # parallel test run, does not count against the run.
    started = time.process_time()
    try:
        with time_budget(60):
            shape(_run(text, size))
    except BudgetExpired:
        pytest.fail(f"{text!r} x {size:,} ran past 60 s")
    return time.process_time() - started


@pytest.mark.parametrize("text", RUNS, ids=[repr(r) for r in RUNS])
def test_long_runs_are_linear(text):
    slow = []
    for name, shape in SHAPES.items():
        big = _seconds(shape, text, SIZE)
        if big <= LIMIT_S:
            continue
        small = _seconds(shape, text, SIZE // 4)
        if big > 8 * max(small, 0.05):
            slow.append(f"{name}: {small:.2f} s for {SIZE // 4:,} characters, {big:.2f} s for {SIZE:,}")
    assert not slow, slow


# --- the rules kept as data (boilerplate lines and cut markers, noise images, image proxies):
# regexes an editor adds must stay linear too.
def _data_patterns() -> list[str]:
    rules = DATA.boilerplate
    return [*rules.get("lines", []), *rules.get("cut_after", []), *rules.get("noise_images", []),
            *DATA.image_proxies]


def _nested_unbounded(pattern: str) -> bool:
    r"""True for the shapes whose failures backtrack exponentially: an unbounded repeat of "."
    inside another unbounded repeat ((x.*y)*), or an unbounded repeat whose body is only an
    unbounded repeat ((a+)+, (a*)*). A repeat delimited by literals it cannot match (the
    separators of (?:\s*\|\s*\d+%)+) is fine, and the timed runs below check it."""
    import re._constants as sre
    import re._parser as parser

    def children(op, arg) -> list:
        if op == sre.SUBPATTERN:
            return [arg[-1]]
        if op == sre.BRANCH:
            return list(arg[1])
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return [arg[1]]
        return []

    def only_repeat(body) -> bool:
        items = list(body)
        while len(items) == 1 and items[0][0] == sre.SUBPATTERN:
            items = list(items[0][1][-1])
        return len(items) == 1 and items[0][0] in (sre.MAX_REPEAT, sre.MIN_REPEAT) and \
            items[0][1][1] == sre.MAXREPEAT

    def walk(items, inside: bool) -> bool:
        for op, arg in items:
            if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                _low, high, body = arg
                unbounded = high == sre.MAXREPEAT
                if unbounded and (only_repeat(body) or (inside and any(o == sre.ANY for o, _ in body))):
                    return True
                if walk(body, inside or unbounded):
                    return True
            elif any(walk(child, inside) for child in children(op, arg)):
                return True
        return False

    return walk(parser.parse(pattern), False)


def _pattern_runs(pattern: str) -> list[str]:
    """Hostile lines made of the pattern's own characters: its literal text repeated, and
    each of its characters as a run."""
    import re._constants as sre
    import re._parser as parser

    literals: list[str] = []

    def walk(items) -> None:
        for op, arg in items:
            if op == sre.LITERAL:
                literals.append(chr(arg))
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                walk(arg[2])
            elif op == sre.SUBPATTERN:
                walk(arg[-1])
            elif op == sre.BRANCH:
                for branch in arg[1]:
                    walk(branch)

    walk(parser.parse(pattern))
    text = "".join(literals) or "x"
    return [_run(text + "()|", 20_000) + "\x00", *[_run(c, 20_000) + "\x00" for c in set(text)]]


@pytest.mark.parametrize("pattern", _data_patterns())
def test_data_rules_are_linear(pattern):
    import re

    assert not _nested_unbounded(pattern), f"{pattern!r} nests an unbounded repeat inside another"
    compiled = re.compile(pattern)
    for line in _pattern_runs(pattern):
        started = time.process_time()
        with time_budget(30):
            compiled.search(line)
        assert time.process_time() - started < 2, (pattern, line[:40])


def test_the_nesting_check_catches_the_old_rule():
    assert _nested_unbounded(r"^\[?返回.{0,10}\]?\(.*\)(\s*[｜|]\s*\[?返回.{0,10}\]?\(.*\))*$")
    assert _nested_unbounded(r"(a+)+$") and not _nested_unbounded(r"^(?:ab|cd)*$")
