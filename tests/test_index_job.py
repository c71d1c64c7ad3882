"""The index job of a build (search/update.py): a real `python -m search.update` child over a
real Whoosh index on disk, fed with documents made by `IndexDoc.from_case` from real cases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from casebook.errors import SearchError
from casebook.model import parse
from search.indexer import current_generation
from search.query import SearchRequest
from search.schema import IndexDoc
from search.update import IndexJob
from tests.conftest import ROOT

CASES = sorted((ROOT / "content" / "cases").glob("*.md"))


def _docs() -> list[IndexDoc]:
    return [IndexDoc.from_case(parse(path.read_text(encoding="utf-8"), path=str(path)), path=f"cases/{path.name}",
                               url=f"/cases/{path.stem}/") for path in CASES]


def _search(index: Path, query: str) -> set[str]:
    from search.backend import WhooshBackend

    return {r["slug"] for r in WhooshBackend(index).search(SearchRequest(q=query, page_size=100)).results}


def test_job_builds_then_skips_an_unchanged_set_then_updates_one_case(tmp_path):
    index = tmp_path / "index"
    docs = _docs()
    job = IndexJob.start(index)
    job.submit(docs)
    first = job.wait(timeout=120)
    assert (first.added, first.rebuilt) == (len(docs), True)
    assert _search(index, "心家园") == {"2025-01-09-xin-jiayuan-zhandian-tupo-1000-jia"}

    job = IndexJob.start(index)
    job.submit(_docs())
    same = job.wait(timeout=120)
    assert (same.generation, same.unchanged, same.added + same.updated + same.removed) == (first.generation, len(docs), 0)

    edited = _docs()
    edited[0].text += "\n独一无二的更新标记词"
    gone = edited.pop()
    job = IndexJob.start(index)
    job.submit(edited)
    report = job.wait(timeout=120)
    assert (report.updated, report.removed, report.added) == (1, 1, 0)
    assert report.generation != first.generation
    assert _search(index, "独一无二的更新标记词") == {edited[0].slug}
    assert gone.slug not in _search(index, "银行")


def test_a_failing_backend_raises_with_the_childs_reason_and_keeps_the_index(tmp_path):
    index = tmp_path / "index"
    job = IndexJob.start(index)
    job.submit(_docs())
    serving = job.wait(timeout=120).generation
    job = IndexJob.start(index, backend="no_such_module:Backend")
    job.submit(_docs())
    with pytest.raises(SearchError, match="no_such_module"):
        job.wait(timeout=60)
    assert current_generation(index).name == serving


def test_the_data_dir_reaches_the_child(tmp_path):
    job = IndexJob.start(tmp_path / "index", data_dir=tmp_path / "no-data")
    job.submit(_docs())
    with pytest.raises(SearchError, match=r"no-data holds no taxonomy\.yaml"):
        job.wait(timeout=60)
    assert current_generation(tmp_path / "index") is None


def test_two_cases_with_one_slug_fail_the_update(tmp_path):
    docs = _docs()
    docs.append(IndexDoc.from_case(parse(CASES[0].read_text(encoding="utf-8")), path="cases/copy.md", url="/copy/"))
    job = IndexJob.start(tmp_path / "index")
    job.submit(docs)
    with pytest.raises(SearchError, match="share the slug"):
        job.wait(timeout=120)
    assert current_generation(tmp_path / "index") is None


def test_abort_is_idempotent_and_leaves_the_serving_generation(tmp_path):
    index = tmp_path / "index"
    job = IndexJob.start(index)
    job.submit(_docs())
    serving = job.wait(timeout=120).generation
    edited = _docs()
    edited[0].text += "放弃的修改"
    job = IndexJob.start(index, full=True)
    job.submit(edited)
    job.abort()
    job.abort()
    assert job.process.returncode is not None
    assert current_generation(index).name == serving
    assert not list(index.glob(".building-*"))
    assert _search(index, "放弃的修改") == set()


def test_submit_twice_and_wait_before_submit_are_refused(tmp_path):
    job = IndexJob.start(tmp_path / "index")
    with pytest.raises(SearchError, match="before submit"):
        job.wait(timeout=10)
    job = IndexJob.start(tmp_path / "index")
    job.submit([])
    with pytest.raises(SearchError, match="twice"):
        job.submit([])
    job.abort()


def test_a_timeout_cancels_the_update(tmp_path):
    job = IndexJob.start(tmp_path / "index")
    job.submit(_docs())
    with pytest.raises(SearchError, match="not ready within"):
        job.wait(timeout=0.01)
    assert job.process.returncode is not None
    assert current_generation(tmp_path / "index") is None


def test_a_streamed_job_indexes_what_was_sent_and_only_once_it_is_ended(tmp_path):
    index = tmp_path / "index"
    docs = _docs()
    job = IndexJob.start(index)
    job.begin_stream(expected=len(docs) + 3)   # a hint: more files than documents is normal
    for doc in docs:
        job.send(doc.to_record())
    time.sleep(0.5)
    assert current_generation(index) is None, "nothing serves before the stream is ended"
    job.end_stream()
    report = job.wait(timeout=120)
    assert (report.added, report.rebuilt) == (len(docs), True)
    assert _search(index, "心家园") == {"2025-01-09-xin-jiayuan-zhandian-tupo-1000-jia"}
    with pytest.raises(SearchError, match="outside a stream"):
        job.send(docs[0].to_record())

    # The same set streamed again: nothing to do, the generation stays.
    job = IndexJob.start(index)
    job.begin_stream(expected=len(docs))
    for doc in docs:
        job.send(doc.to_record())
    job.end_stream()
    same = job.wait(timeout=120)
    assert (same.generation, same.unchanged) == (report.generation, len(docs))


def test_a_stream_never_ended_is_refused_and_an_aborted_one_leaves_the_serving_index(tmp_path):
    index = tmp_path / "index"
    job = IndexJob.start(index)
    job.submit(_docs())
    serving = job.wait(timeout=120).generation

    job = IndexJob.start(index, full=True)
    job.begin_stream(expected=10)
    job.send(_docs()[0].to_record())
    with pytest.raises(SearchError, match="before end_stream"):
        job.wait(timeout=30)
    assert job.process.returncode is not None

    job = IndexJob.start(index, full=True)
    job.begin_stream(expected=10)
    for doc in _docs()[:2]:
        job.send(doc.to_record())
    started = time.monotonic()
    job.abort()
    assert time.monotonic() - started < 5, "the feeding thread waiting for lines must not hold the abort"
    assert current_generation(index).name == serving
    assert not list(index.glob(".building-*"))
    with pytest.raises(SearchError, match="after the documents were sent"):
        job.begin_stream(expected=1)


def test_the_child_checks_the_end_of_a_stream(tmp_path):
    """A stream whose end line counts other documents than arrived is refused by the child."""
    doc = _docs()[0]
    lines = [{"count": None, "expected": 1}, doc.to_record(), {"end": 2}]
    child = subprocess.run([sys.executable, "-m", "search.update", "--index", str(tmp_path / "index"),
                            "--parent", str(os.getpid())], cwd=ROOT, capture_output=True, timeout=120,
                           input="".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode())
    answer = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert answer["ok"] is False and "received 1 documents, the build sent 2" in answer["error"]
    assert current_generation(tmp_path / "index") is None


PARENT = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from bench.corpus import synthetic_cases
from search.schema import IndexDoc
from search.update import IndexJob
docs = [IndexDoc.from_case(c, path=c.slug + ".md", url="/cases/" + c.slug + "/") for c in synthetic_cases(600)]
job = IndexJob.start(Path({index!r}))
if {submit!r}:
    job.submit(docs)
print(json.dumps({{"child": job.process.pid}}), flush=True)
import time
time.sleep(600)
"""


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("submit", [False, True], ids=["while-waiting-for-documents", "while-indexing"])
def test_the_child_of_a_killed_build_exits_on_its_own(tmp_path, submit):
    """SIGKILL of the build (no chance to abort): its index process notices, cancels, exits."""
    index = tmp_path / "index"
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(root=str(ROOT), index=str(index), submit=submit)],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline()   # type: ignore[union-attr]
        child = psutil.Process(json.loads(line)["child"])
        if submit:   # let it get into the update (a fresh streamed build of 600 cases)
            time.sleep(2.0)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        _gone, alive = psutil.wait_procs([child, *child.children(recursive=True)], timeout=30)
        assert not alive, f"index processes outlived the killed build: {[p.pid for p in alive]}"
    finally:
        if parent.poll() is None:
            parent.kill()
    assert not list(index.glob(".building-*"))
    serving = current_generation(index)
    assert serving is None or (serving / "manifest.json").exists()


@pytest.mark.parametrize("first", ['{"count": null, "expected": -5}', '{"count": null, "expected": true}',
                                   '{"count": null, "expected": 99999999999999999999}', '{"count": null}',
                                   '{"count": 1e400}', "null"])
def test_the_child_refuses_a_first_line_it_cannot_use_with_its_reason(tmp_path, first):
    child = subprocess.run([sys.executable, "-m", "search.update", "--index", str(tmp_path / "index"),
                            "--parent", str(os.getpid())], cwd=ROOT, capture_output=True, timeout=120,
                           input=(first + "\n").encode())
    answer = json.loads(child.stdout.decode().strip().splitlines()[-1])
    assert answer["ok"] is False and "first, got" in answer["error"]
    assert current_generation(tmp_path / "index") is None
