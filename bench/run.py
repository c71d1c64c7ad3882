"""Casebook's speed, scale and memory, each figure against a baseline measured in the same run.

    python bench/run.py [--sizes 1000 10000] [--clients 8] [--requests 400] [--out bench/results/latest.json]

- ingest: stories/s on the 24 fixture pages, vs trafilatura.extract on the same pages;
- stream: `casebook ingest` on the whole news stream ../shared/streams/xwlb (1,423 daily
  transcripts, 38 MB): wall seconds, stories/s, MB/s, rows and cases written, the machine's
  load before the run (`--stream-only` runs just this figure);
- build: a full `casebook build` (site + index) vs plain `pelican` with its default theme on
  the same content, and a rebuild after editing one case vs the full build;
- index: cases/s and MB/s vs Whoosh with jieba.analyse.ChineseAnalyzer on the same text;
  a one-case update until it is visible to search;
- query: p50/p95/p99 and throughput of the HTTP API under concurrent clients, for a mix of
  queries with filters, facets and highlights, vs the same queries through a plain Whoosh
  searcher (QueryParser over the jieba index, with highlights);
- peak memory (max RSS) of build, index and serve.
Prints a table and writes JSON. Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable

QUERIES = [
    "银行", "社区", "服务", "适老化", "网格", "公益服务站", "心家园", '"15分钟生活圈"', "白居易", "雄安新区",
    "社区 province:四川省", "bank:中国建设银行 服务", "tag:适老化 date:2021..2023", "银行 -社区",
    '"普惠金融" OR 乡村振兴', "category:网点进社区 居民",
]


def _drain(stream: IO[str] | None, into: list[str]) -> None:
    """A child's whole output (the pipe is always there: both are PIPE)."""
    into.append(stream.read() if stream else "")


def run_child(args: list[str], **kwargs: Any) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    elapsed, rss, _tree, done = run_measured(args, **kwargs)
    return elapsed, rss, done


def run_measured(args: list[str], **kwargs: Any) -> tuple[float, int, float, subprocess.CompletedProcess]:
    """Wall seconds, peak RSS (KiB) of the process itself, and the peak memory (MB) of its whole
    process tree: the sum of PSS (shared pages split between the processes sharing them, so
    forked copies are not counted twice), sampled every 0.2 s."""
    import threading

    import psutil

    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = [0.0]
    done_sampling = threading.Event()

    def sample() -> None:
        while not done_sampling.wait(0.2):
            try:
                tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_full_info().pss
            peak[0] = max(peak[0], total / 2**20)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out_chunks: list[str] = []
    err_chunks: list[str] = []
    readers = [threading.Thread(target=_drain, args=(process.stdout, out_chunks), daemon=True),
               threading.Thread(target=_drain, args=(process.stderr, err_chunks), daemon=True)]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    done_sampling.set()
    for thread in (sampler, *readers):
        thread.join()
    out, err = "".join(out_chunks), "".join(err_chunks)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss, round(peak[0], 1), subprocess.CompletedProcess(args, process.returncode, out, err)


INGEST_ROUNDS = 3


def bench_ingest() -> dict:
    """Steady-state throughput: one untimed pass each first (the segmenter's dictionary,
    trafilatura's and lxml's first-use costs), then the best of INGEST_ROUNDS passes."""
    import trafilatura

    from casebook.data import load_data
    from casebook.settings import load as load_settings
    from scraper.decode import decode
    from scraper.pipeline import extract_document
    from scraper.sources import document_from_bytes

    pages = sorted((ROOT.parent / "shared" / "fixtures" / "pages").glob("*.html"))
    raws = [p.read_bytes() for p in pages]
    data = load_data(load_settings().data_dir)
    texts = [decode(raw, source="x")[0] for raw in raws]

    def ours() -> int:
        return sum(len(extract_document(document_from_bytes(raw, input=str(page)), data))
                   for page, raw in zip(pages, raws, strict=True))

    def baseline() -> int:
        return sum(trafilatura.extract(text) is not None for text in texts)

    stories = ours()
    baseline()
    ours_s = min(_timed(ours) for _ in range(INGEST_ROUNDS))
    baseline_s = min(_timed(baseline) for _ in range(INGEST_ROUNDS))
    return {"pages": len(pages), "stories": stories, "stories_per_s": round(stories / ours_s, 1),
            "baseline_pages_per_s": round(len(pages) / baseline_s, 1), "time_ratio": round(ours_s / baseline_s, 2)}


STREAM = ROOT.parent / "shared" / "streams" / "xwlb" / "news"


def bench_stream(stream: Path = STREAM) -> dict:
    """The whole stream through the real command, in a child process (both cores: the pool)."""
    files = [p for p in stream.rglob("*") if p.is_file()]
    megabytes = sum(p.stat().st_size for p in files) / 1e6
    work = Path(tempfile.mkdtemp(prefix="casebook-stream-"))
    try:
        report = work / "report.jsonl"
        load = os.getloadavg()[0]
        elapsed, _rss, tree_mb, done = run_measured(
            [sys.executable, "-m", "casebook.app.cli", "ingest", str(stream), "--out", str(work / "cases"),
             "--report", str(report), "--quiet"], cwd=ROOT)
        rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return {"inputs": len(files), "mb": round(megabytes, 1), "seconds": round(elapsed, 1), "rows": len(rows),
            "stories_per_s": round(len(rows) / elapsed, 1), "mb_per_s": round(megabytes / elapsed, 2),
            "statuses": statuses, "written": [r["title"] for r in rows if r["status"] == "written"],
            "load_before": round(load, 2), "cpus": os.cpu_count(), "peak_tree_mb": tree_mb, "exit": done.returncode}


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def write_content(cases: list, folder: Path) -> None:
    from casebook.model import render

    cases_dir = folder / "cases"
    cases_dir.mkdir(parents=True)
    for case in cases:
        (cases_dir / f"{case.slug}.md").write_text(render(case), encoding="utf-8")


PLAIN_PELICAN_CONF = """
PATH = {content!r}
ARTICLE_PATHS = ["cases"]
PLUGINS = ["pelican.plugins.yaml_metadata"]
TIMEZONE = "Asia/Shanghai"
DEFAULT_PAGINATION = 20
SLUGIFY_USE_UNICODE = True
FEED_ALL_ATOM = "feeds/all.atom.xml"
"""


# Full builds and plain builds alternate; each figure is the best of its rounds (more of them
# where a round is short: at 1,000 cases the machine's drift is as large as the difference).
BUILD_ROUNDS = {1000: 4}
DEFAULT_BUILD_ROUNDS = 2


def bench_build(content: Path, work: Path) -> dict:
    """Full builds from nothing (no output, index or caches: the reader cache beside the
    output folder goes too) alternating with plain Pelican builds (no cache either), so that
    both see the same moments of a machine whose speed drifts; in the same rounds, a
    re-render: output and index deleted, the case files' reader cache kept (what a build
    after `rm -rf output` costs). Then rebuilds after editing one case, against the full
    build. Each time is the best of its rounds (BUILD_ROUNDS)."""
    cases = sorted((content / "cases").glob("*.md"))
    rounds = BUILD_ROUNDS.get(len(cases), DEFAULT_BUILD_ROUNDS)
    out, index = work / "out", work / "index"
    reads = out.parent / f".{out.name}.casebook-reads"   # casebook/app/build.py: beside the output
    command = [PY, "-m", "casebook.app.cli", "build", "--content", str(content), "--output", str(out),
               "--index", str(index), "--publish"]
    conf = work / "plainconf.py"
    conf.write_text(PLAIN_PELICAN_CONF.format(content=str(content)), encoding="utf-8")
    plain_command = [PY, "-m", "pelican", str(content), "-s", str(conf), "-o", str(work / "plain"), "-q"]
    # A public build needs the site's address (publishconf.py); any will do for timing.
    env = {**os.environ, "CASEBOOK_SITEURL": os.environ.get("CASEBOOK_SITEURL") or "https://cases.example.org"}
    fulls, plains, rerenders, rss, tree, plain_rss = [], [], [], 0, 0.0, 0
    for _ in range(rounds):
        for path in (out, index, reads, work / "plain"):
            shutil.rmtree(path, ignore_errors=True)
        seconds, own, whole, _ = run_measured(command, cwd=ROOT, env=env)
        fulls.append(seconds)
        rss, tree = max(rss, own), max(tree, whole)
        seconds, own, _ = run_child(plain_command, cwd=work)
        plains.append(seconds)
        plain_rss = max(plain_rss, own)
        for path in (out, index):
            shutil.rmtree(path, ignore_errors=True)
        rerenders.append(run_child(command, cwd=ROOT, env=env)[0])
    rebuilds = []
    import random

    edited = random.Random(0).sample(cases, rounds)   # any cases
    for number, case in enumerate(edited):
        case.write_text(case.read_text(encoding="utf-8").replace("\n\n", f"\n\n修改{number}。", 1), encoding="utf-8")
        rebuilds.append(run_child(command, cwd=ROOT, env=env)[0])
    full, plain, rerender, rebuild = min(fulls), min(plains), min(rerenders), min(rebuilds)
    return {"full_s": round(full, 2), "plain_pelican_s": round(plain, 2), "ratio_to_plain": round(full / plain, 2),
            "rerender_s": round(rerender, 2), "rerender_ratio_to_plain": round(rerender / plain, 2),
            "rebuild_one_edit_s": round(rebuild, 2), "rebuild_ratio": round(rebuild / full, 2),
            "rounds": {"full_s": [round(x, 2) for x in fulls], "plain_pelican_s": [round(x, 2) for x in plains],
                       "rerender_s": [round(x, 2) for x in rerenders],
                       "rebuild_one_edit_s": [round(x, 2) for x in rebuilds]},
            "peak_rss_mb": round(rss / 1024, 1), "peak_tree_mb": tree, "plain_peak_rss_mb": round(plain_rss / 1024, 1)}


INDEX_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from bench.corpus import synthetic_cases
from search.indexer import build_index
from search.schema import IndexDoc
cases = synthetic_cases({count})
docs = [IndexDoc.from_case(c, path=c.slug, url="/cases/" + c.slug + "/") for c in cases]
mb = sum(len((d.title + d.text).encode()) for d in docs) / 1e6
kind = {kind!r}
started = time.perf_counter()
if kind == "ours":
    build_index(docs, __import__("pathlib").Path({index!r}))
else:
    from jieba.analyse import ChineseAnalyzer
    from whoosh import index
    from whoosh.fields import ID, TEXT, Schema
    import os
    os.makedirs({index!r}, exist_ok=True)
    schema = Schema(slug=ID(stored=True, unique=True), title=TEXT(stored=True, analyzer=ChineseAnalyzer()),
                    body=TEXT(stored=True, analyzer=ChineseAnalyzer()))
    ix = index.create_in({index!r}, schema)
    writer = ix.writer(limitmb=256)
    for d in docs:
        writer.add_document(slug=d.slug, title=d.title, body=d.text)
    writer.commit()
print(json.dumps({{"seconds": time.perf_counter() - started, "mb": mb, "docs": len(docs)}}))
"""


def bench_index(count: int, work: Path) -> dict:
    results: dict[str, Any] = {}
    for kind in ("ours", "jieba"):
        index = work / f"index-{kind}"
        script = INDEX_CHILD.format(root=str(ROOT), count=count, kind=kind, index=str(index))
        _, rss, tree, done = run_measured([PY, "-c", script], cwd=ROOT)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        results[kind] = {"cases_per_s": round(figures["docs"] / figures["seconds"], 1),
                         "mb_per_s": round(figures["mb"] / figures["seconds"], 3),
                         "seconds": round(figures["seconds"], 2), "peak_rss_mb": round(rss / 1024, 1),
                         "peak_tree_mb": tree,
                         "index_mb": round(sum(f.stat().st_size for f in index.rglob("*") if f.is_file()) / 1e6, 1)}
    results["speed_ratio"] = round(results["ours"]["cases_per_s"] / results["jieba"]["cases_per_s"], 2)
    results["update_visible_s"] = round(one_case_update(work / "index-ours", count), 3)
    return results


def one_case_update(index: Path, count: int) -> float:
    """Edit one case, bring the index up to date, and wait until a searcher sees it."""
    from bench.corpus import synthetic_cases
    from search.indexer import build_index
    from search.query import SearchEngine, SearchRequest
    from search.schema import IndexDoc

    engine = SearchEngine(index)
    cases = synthetic_cases(count)
    docs = [IndexDoc.from_case(c, path=c.slug, url="/cases/" + c.slug + "/") for c in cases]
    docs[0].text += "独一无二的更新标记词"
    started = time.perf_counter()
    build_index(docs, index)
    while engine.search(SearchRequest(q="独一无二的更新标记词", facets=False)).total != 1:
        time.sleep(0.05)
    return time.perf_counter() - started


def bench_query(index: Path, output: Path, clients: int, requests: int, *, cache: bool = False) -> dict:
    """The HTTP API under `clients` concurrent clients. Cold: the response cache is off, every
    request is computed. Warm: the per-generation cache is on (the mix repeats its queries)."""
    import httpx

    from tests.conftest import start_server, stop_server

    server, base = start_server(output, index, workers=2, env={"CASEBOOK_QUERY_CACHE": "512" if cache else "0"},
                                timeout=120)
    try:
        hits = {q: httpx.get(base + "/api/search", params={"q": q}, timeout=30).json()["total"] for q in QUERIES}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
            json.dump(QUERIES, handle, ensure_ascii=False)
        # The clients run in their own lean process (bench/loadgen.py): asyncio, keep-alive.
        run = subprocess.run([PY, "-m", "bench.loadgen", base + "/api/search?limit=10&q=", handle.name,
                              "--clients", str(clients), "--requests", str(requests)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        os.unlink(handle.name)
        load = json.loads(run.stdout)
        latencies, errors, wall = load["latencies_ms"], load["errors"], load["wall_s"]
        rss = _rss_tree(server.pid)
    finally:
        stop_server(server)
    latencies.sort()
    return {"clients": clients, "requests": len(latencies), "errors": errors, "p50_ms": _pct(latencies, 50),
            "p95_ms": _pct(latencies, 95), "p99_ms": _pct(latencies, 99),
            "throughput_rps": round(len(latencies) / wall, 1), "serve_rss_mb": rss, "hits": hits}


def _rss_tree(pid: int) -> float:
    """MB held by a process and its descendants: the sum of their PSS (see run_measured)."""
    import psutil

    process = psutil.Process(pid)
    return round(sum(p.memory_full_info().pss for p in [process, *process.children(recursive=True)]) / 2**20, 1)


def _pct(values: list[float], pct: int) -> float:
    return round(values[min(len(values) - 1, int(len(values) * pct / 100))], 1) if values else 0.0


def bench_plain_whoosh(index: Path) -> dict:
    """The same queries through a plain Whoosh searcher over the jieba index, one at a time."""
    from whoosh import highlight
    from whoosh import index as whoosh_index
    from whoosh.qparser import MultifieldParser

    ix = whoosh_index.open_dir(str(index))
    parser = MultifieldParser(["title", "body"], ix.schema)
    latencies = []
    with ix.searcher() as searcher:
        for _ in range(3):
            for q in QUERIES:
                started = time.perf_counter()
                results = searcher.search(parser.parse(q.replace("province:", "").replace("bank:", "")), limit=10)
                results.fragmenter = highlight.ContextFragmenter()
                for hit in results:
                    hit.highlights("body")
                latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {"p50_ms": _pct(latencies, 50), "p95_ms": _pct(latencies, 95), "p99_ms": _pct(latencies, 99)}


def compile_sources() -> None:
    """Bytecode for our modules, as the baseline's installed packages have it: where
    PYTHONDONTWRITEBYTECODE is set, every build would otherwise compile them from source.
    (`make setup` runs this too.)"""
    import compileall

    for folder in ("casebook", "scraper", "search", "plugins", "bench", "tools"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)
    compileall.compile_file(str(ROOT / "pelicanconf.py"), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--query-index", type=Path, help="only the query figures, over this existing index")
    parser.add_argument("--stream-only", action="store_true", help="only the news-stream ingest figure")
    args = parser.parse_args()
    if args.stream_only:
        print(json.dumps(bench_stream(), ensure_ascii=False, indent=1))
        return
    if args.query_index:
        cold = bench_query(args.query_index, args.query_index, args.clients, args.requests)
        warm = bench_query(args.query_index, args.query_index, args.clients, args.requests, cache=True)
        print(json.dumps({"cold": cold, "warm": warm}, ensure_ascii=False, indent=1))
        return
    from bench.corpus import synthetic_cases

    compile_sources()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "ingest": bench_ingest()}
    print("ingest", report["ingest"], flush=True)
    if STREAM.exists():
        report["stream"] = bench_stream()
        print("stream", report["stream"], flush=True)
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"casebook-bench-{size}-"))
        try:
            write_content(synthetic_cases(size), work / "content")
            entry: dict = {"build": bench_build(work / "content", work)}
            print(size, "build", entry["build"], flush=True)
            entry["index"] = bench_index(size, work)
            print(size, "index", entry["index"], flush=True)
            entry["query"] = bench_query(work / "index-ours", work / "out", args.clients, args.requests)
            entry["query_warm"] = bench_query(work / "index-ours", work / "out", args.clients, args.requests,
                                              cache=True)
            entry["query_plain_whoosh"] = bench_plain_whoosh(work / "index-jieba")
            print(size, "query", entry["query"], entry["query_plain_whoosh"], flush=True)
            report[str(size)] = entry
        finally:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print_table(report, args.sizes)


def print_table(report: dict, sizes: list[int]) -> None:
    ingest = report["ingest"]
    print(f"\n{'measure':48} {'value':>12} {'baseline':>12} {'ratio':>7}")
    print(f"{'ingest stories/s (fixture pages) vs trafilatura':48} {ingest['stories_per_s']:>12} "
          f"{ingest['baseline_pages_per_s']:>12} {ingest['time_ratio']:>7}")
    if stream := report.get("stream"):
        print(f"{'ingest news stream s (stories/s, MB/s)':48} {stream['seconds']:>12} "
              f"{stream['stories_per_s']:>12} {stream['mb_per_s']:>7}")
    for size in sizes:
        entry = report.get(str(size))
        if not entry:
            continue
        b, i, q, w = entry["build"], entry["index"], entry["query"], entry["query_plain_whoosh"]
        rows = [
            (f"[{size}] full build s vs plain pelican", b["full_s"], b["plain_pelican_s"], b["ratio_to_plain"]),
            (f"[{size}] re-render (reads cached) s vs plain", b["rerender_s"], b["plain_pelican_s"],
             b["rerender_ratio_to_plain"]),
            (f"[{size}] rebuild after one edit s vs full", b["rebuild_one_edit_s"], b["full_s"], b["rebuild_ratio"]),
            (f"[{size}] index cases/s vs whoosh+jieba", i["ours"]["cases_per_s"], i["jieba"]["cases_per_s"],
             i["speed_ratio"]),
            (f"[{size}] index MB/s", i["ours"]["mb_per_s"], i["jieba"]["mb_per_s"], ""),
            (f"[{size}] one-case update visible, s", i["update_visible_s"], "", ""),
            (f"[{size}] API p50 ms ({q['clients']} clients) vs whoosh", q["p50_ms"], w["p50_ms"], ""),
            (f"[{size}] API p95 ms vs whoosh", q["p95_ms"], w["p95_ms"], ""),
            (f"[{size}] API p99 ms vs whoosh", q["p99_ms"], w["p99_ms"], ""),
            (f"[{size}] API throughput req/s, errors", q["throughput_rps"], q["errors"], ""),
            (f"[{size}] warm cache: API p50 / p95 ms", entry["query_warm"]["p50_ms"], entry["query_warm"]["p95_ms"], ""),
            (f"[{size}] peak MB build (all processes) / index / serve", b["peak_tree_mb"], i["ours"]["peak_tree_mb"],
             q["serve_rss_mb"]),
        ]
        for name, value, base, ratio in rows:
            print(f"{name:48} {value!s:>12} {base!s:>12} {ratio!s:>7}")


if __name__ == "__main__":
    main()
