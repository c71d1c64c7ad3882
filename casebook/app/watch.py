"""`casebook serve --reload`: rebuild the site (drafts included) when a case file changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from casebook.settings import Settings


def _fingerprint(folder: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*.md")))


def start_rebuilder(settings: Settings, interval: float = 1.0) -> threading.Thread:
    from casebook.app.build import build_site

    def loop() -> None:
        last = _fingerprint(settings.content_dir)
        while True:
            time.sleep(interval)
            current = _fingerprint(settings.content_dir)
            if current != last:
                last = current
                try:
                    build_site(settings.content_dir, settings.output_dir, settings.index_dir, preview=True)
                    print("rebuilt after a change", flush=True)
                except Exception as exc:
                    print(f"rebuild failed: {exc}", flush=True)

    thread = threading.Thread(target=loop, name="casebook-rebuilder", daemon=True)
    thread.start()
    return thread
