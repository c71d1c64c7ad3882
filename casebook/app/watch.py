"""`casebook serve --reload`: rebuild the site (drafts included) when a case file changes.

Each rebuild is `casebook build` in a plain child process: the server's process keeps no
build state (Pelican's, the plugins', the index writer's), never forks the index process
from a thread of its own, and a build that crashes or leaks costs only its child.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from casebook.settings import ROOT, Settings

Fingerprint = tuple[tuple[str, int, int], ...]


def _fingerprint(folder: Path) -> Fingerprint:
    """Every case file with its time and size; a file removed mid-listing is left out."""
    stamps = []
    for path in folder.rglob("*.md"):
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(stamps))


def build_command(settings: Settings) -> list[str]:
    """`casebook build` over the served folders (a preview build: drafts included). The other
    settings reach the child through the CASEBOOK_* environment it inherits."""
    return [sys.executable, "-m", "casebook.app.cli", "build", "--content", str(settings.content_dir),
            "--output", str(settings.output_dir), "--index", str(settings.index_dir)]


def rebuild(settings: Settings, timeout: float = 3600) -> bool:
    """One build in a child process; its last line (or its error) is printed. True if it succeeded."""
    try:
        done = subprocess.run(build_command(settings), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"rebuild failed: {exc}", flush=True)
        return False
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    if done.returncode != 0:
        print(f"rebuild failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}", flush=True)
        return False
    print(f"rebuilt after a change: {lines[-1] if lines else ''}", flush=True)
    return True


def start_rebuilder(settings: Settings, interval: float = 1.0) -> threading.Thread:
    """Poll the content folder every `interval` seconds and rebuild after a change. The thread
    only waits on children: the server it lives in is never forked from it."""

    def loop() -> None:
        last = _fingerprint(settings.content_dir)
        while True:
            time.sleep(interval)
            current = _fingerprint(settings.content_dir)
            if current != last:
                last = current
                rebuild(settings)

    thread = threading.Thread(target=loop, name="casebook-rebuilder", daemon=True)
    thread.start()
    return thread
