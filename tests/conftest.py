"""Shared fixtures: the real seed reports and fixture pages from ../shared, a content
folder ingested from the seeds, and a real site and index built from it."""

from __future__ import annotations

import pickle
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS_RAW = ROOT / "samples" / "raw"
SEEDS_EXPECTED = SHARED / "seeds" / "expected"
FIXTURE_PAGES = SHARED / "fixtures" / "pages"
BENCH = SHARED / "bench" / "zh-extraction"
LOCAL = Path(__file__).resolve().parent / "fixtures"


def pytest_collection_modifyitems(items):
    if not SEEDS_EXPECTED.exists():
        skip = pytest.mark.skip(reason="../shared is not beside the repository")
        for item in items:
            if "shared" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def settings():
    from casebook.settings import load

    return load()


def shared_once(tmp_path_factory, worker_id: str, name: str, make: Callable[[Path], object]) -> tuple[Path, object]:
    """`make(folder)` run once per test session, whatever the number of xdist workers: the
    first worker to take the lock makes `folder` in the session's shared temporary folder
    (pytest-xdist's recipe), the others wait and reuse it. Returns the folder and what `make`
    returned (pickled beside it). Users only read the folder; a test that changes it copies it."""
    from filelock import FileLock

    # Under xdist each worker's basetemp is popen-gwN inside the session's folder; alone, the
    # process's own basetemp is already the session's.
    root = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder, made = root / name, root / f"{name}.result.pickle"
    with FileLock(str(root / f"{name}.lock")):
        if not made.exists():
            shutil.rmtree(folder, ignore_errors=True)   # a worker that died midway leaves a partial folder
            folder.mkdir()
            result = make(folder)
            made.write_bytes(pickle.dumps(result))
    return folder, pickle.loads(made.read_bytes())


@pytest.fixture(scope="session")
def seed_content(tmp_path_factory, worker_id, settings) -> Path:
    """content/ with cases ingested from the five seed reports (once per session)."""
    from scraper.ingest import ingest

    def make(content: Path) -> int:
        rows = ingest([str(SEEDS_RAW)], settings, out_dir=content / "cases")
        assert sum(r.status == "written" for r in rows) == 5, rows
        return len(rows)

    return shared_once(tmp_path_factory, worker_id, "content", make)[0]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, worker_id, seed_content) -> dict:
    """A real Pelican build (preview, drafts included) and index of the seed cases, made once
    per test session and shared read-only by every xdist worker."""
    from casebook.app.build import build_site

    def make(out: Path) -> object:
        # The session pickles as a note (it is never kept between builds): the workers get
        # what the tests read of it.
        from types import SimpleNamespace

        session = build_site(seed_content, out / "output", out / "index", preview=True)
        return SimpleNamespace(articles=session.articles, drafts=session.drafts, failed=list(session.failed),
                               dropped=list(session.dropped), database=session.database)

    out, result = shared_once(tmp_path_factory, worker_id, "site", make)
    return {"content": seed_content, "output": out / "output", "index": out / "index", "result": result}


@pytest.fixture()
def cases_dir(tmp_path) -> Path:
    folder = tmp_path / "cases"
    folder.mkdir()
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(output: Path, index: Path, *, workers: int = 1, env: dict | None = None,
                 timeout: float = 60) -> tuple:
    """`casebook serve` on a free port, returned once /api/health answers: (process, base URL)."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "casebook.app.cli", "serve", "--output", str(output), "--index", str(index),
         "--port", str(port), "--workers", str(workers)], cwd=ROOT, env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"casebook serve did not answer on {base}")


def stop_server(process) -> None:
    process.terminate()
    process.wait(timeout=20)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless as root, with no background traffic: this machine reaches no network but loopback.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site_url(built_site):
    """`casebook serve` over the sample site, for one test module."""
    process, base = start_server(built_site["output"], built_site["index"])
    yield base
    stop_server(process)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (never a browser Playwright downloads)."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `apt-get install chromium` (.ci/run does)")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
