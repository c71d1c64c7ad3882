"""`casebook serve --reload` (the real command): an edited case file is rebuilt by a
`casebook build` child process, and the running server then serves the new page and finds
the new text in the search API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, free_port, stop_server

pytestmark = pytest.mark.shared

MARK = "重建后的新段落用于检验"


def _published_case(content) -> tuple:
    for path in sorted((content / "cases").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        if "\nstatus: published\n" in text:
            slug = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("slug:"))
            return path, slug
    raise AssertionError("no published seed case")


def _wait_for(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def test_reload_rebuilds_an_edited_case_in_a_child_build(tmp_path, built_site):
    content, output, index = tmp_path / "content", tmp_path / "output", tmp_path / "index"
    shutil.copytree(built_site["content"], content)
    shutil.copytree(built_site["output"], output)
    shutil.copytree(built_site["index"], index)
    case, slug = _published_case(content)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "casebook.app.cli", "serve", "--output", str(output), "--index", str(index),
         "--port", str(port), "--reload"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "CASEBOOK_CONTENT_DIR": str(content), "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: httpx.get(base + "/api/health", timeout=2).status_code == 200, 60)
        page = f"{base}/cases/{slug}/"
        assert MARK not in httpx.get(page).text
        text = case.read_text(encoding="utf-8")
        head, body = text.rsplit("\n---\n", 1)
        case.write_text(f"{head}\n---\n\n{MARK}。\n{body}", encoding="utf-8")
        assert _wait_for(lambda: MARK in httpx.get(page, timeout=5).text, 180), (tmp_path / "serve.log").read_text()

        def found() -> bool:
            reply = httpx.get(base + "/api/search", params={"q": MARK[:6]}, timeout=5).json()
            return any(r["slug"] == slug for r in reply["results"])

        assert _wait_for(found, 60)
        # The line comes when the build's process has ended, which may be a moment after its
        # index and pages serve (the index process can finish first: it is fed as cases are read).
        assert _wait_for(lambda: "rebuilt after a change: built" in (tmp_path / "serve.log").read_text(), 60), \
            (tmp_path / "serve.log").read_text()
        # The build ran in a child that is gone: the server has no process of its own left over.
        import psutil

        assert not [c.cmdline() for c in psutil.Process(process.pid).children(recursive=True)
                    if "build" in c.cmdline()]
    finally:
        stop_server(process)
        log.close()
