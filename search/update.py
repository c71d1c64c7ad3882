"""Bringing the search index up to date beside a build: one plain subprocess per build.

    job = IndexJob.start(index_dir)          # the child loads the backend and its segmenter
    ...                                      # the build reads its cases meanwhile
    job.submit([IndexDoc.from_case(c, path=..., url=...) for c in cases])   # exactly once
    ...                                      # the build renders; the child indexes, niced
    report = job.wait()                      # BuildReport, or SearchError with the child's reason

The child is `python -m search.update` (a fresh interpreter, never a fork of the build: the
build may run in a thread of a server), lowered in priority so that rendering, the build's
critical path, keeps its core. It opens the configured backend (`open_backend`: the `backend`
spec, else the `search_backend` setting, i.e. CASEBOOK_SEARCH_BACKEND, else Whoosh), warms it
in a thread (Whoosh: the segmenter's words load while the build reads, and an update with
nothing to analyse does not wait for them), and calls its `update` with the documents as
they arrive, so a large fresh Whoosh index is
analysed while the rest is still being sent. The backend decides what an unchanged set
costs (Whoosh compares content hashes with the serving generation's manifest first and
does nothing when they agree).

A build may also stream: `job.begin_stream(expected)`, then `job.send(record)` for each
document as soon as it is made (the child analyses it while the build still reads the
others), then `job.end_stream()` once the set is final, or `job.abort()` when it turned out
otherwise (the serving generation stays; the build then submits the final set to a new job).

Protocol on the child's stdin, JSON lines: {"count": N}, then N documents
(`IndexDoc.to_record`), then {"end": N}; or, streamed, {"count": null, "expected": K}
(K: a size hint, `operator.length_hint` of the documents), the documents, then {"end": N}. Stdin closing before the end line means the build
was aborted or died: the child cancels, and the serving generation stays. The child also
watches its parent's pid: a build killed after sending everything leaves no index process
behind. The answer is one JSON line on the child's stdout: {"ok": true, "report": {...}}
or {"ok": false, "error": "..."}; the child's log goes to stderr, relayed to the build's log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeGuard

from casebook.errors import CasebookError, SearchError
from search.schema import BuildReport, IndexDoc

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
INDEX_NICENESS = 10      # the index yields the CPU to rendering, the build's critical path
PARENT_POLL_S = 0.2      # how often the child checks that the build is still there
ABORT_GRACE_S = 10.0     # after SIGTERM, time to cancel cleanly before SIGKILL
STDERR_TAIL_CHARS = 2000
EXIT_ABORTED = 3
MAX_EXPECTED = 10**9    # documents announced in the first line: far above any site, within a length hint's range
PIPE_BYTES = 1 << 20   # Linux's default ceiling for an unprivileged process (/proc/sys/fs/pipe-max-size)


class IndexJob:
    """The index subprocess of one build. Not thread-safe: one build drives it."""

    def __init__(self, process: subprocess.Popen[bytes], index_dir: Path, stderr: IO[bytes]) -> None:
        self.process = process
        self.index_dir = index_dir
        self._stderr = stderr
        self._feeder: threading.Thread | None = None
        self._feed_error: BaseException | None = None
        self._submitted = False
        self._finished = False
        self._queue: queue.SimpleQueue[bytes | None] | None = None   # a streamed job's lines to send
        self._sent = 0
        self._stream_ended = False

    @classmethod
    def start(cls, index_dir: Path, *, backend: str | None = None, full: bool = False,
              data_dir: Path | None = None) -> IndexJob:
        """Start the child, which imports the backend and warms it (the segmenter) at once.
        `backend`: "module:Class"; None takes the `search_backend` setting (CASEBOOK_SEARCH_BACKEND)
        or Whoosh. `full`: rebuild from scratch. `data_dir`: the data files (segmenter words)."""
        index_dir = Path(index_dir).resolve()   # the child may resolve relative paths elsewhere
        command = [sys.executable, "-m", "search.update", "--index", str(index_dir), "--parent", str(os.getpid())]
        if backend:
            command += ["--backend", backend]
        if full:
            command.append("--full")
        if data_dir is not None:
            command += ["--data-dir", str(Path(data_dir).resolve())]
        env = dict(os.environ)
        # The child imports `search` from this checkout even when the build runs elsewhere.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        # Lives as long as the job (closed by `_close`), so no `with` block.
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                       env=env, close_fds=True)
        except OSError as exc:
            stderr.close()
            raise SearchError(f"the index process could not start: {exc}", source=str(index_dir)) from exc
        return cls(process, index_dir, stderr)

    def submit(self, docs: list[IndexDoc]) -> None:
        """Hand over every document the index must hold, exactly once. Returns at once: the
        documents are encoded here and the feeding thread writes them to the child (which
        reads at its own pace)."""
        if self._submitted:
            raise SearchError("IndexJob.submit was called twice", source=str(self.index_dir),
                              hint="collect every document, then submit them once")
        lines = self._open_feed(_line({"count": len(docs)}))
        for doc in docs:
            lines.put(_line(doc.to_record()))
        lines.put(_line({"end": len(docs)}))
        lines.put(None)
        self._stream_ended = True

    def begin_stream(self, expected: int) -> None:
        """Send the documents one by one (`send`) before the whole set is known; `expected`
        is how many there will probably be (a hint for the backend). Instead of `submit`."""
        if self._submitted:
            raise SearchError("IndexJob.begin_stream after the documents were sent", source=str(self.index_dir))
        self._open_feed(_line({"count": None, "expected": max(0, int(expected))}))

    def _open_feed(self, first: bytes) -> queue.SimpleQueue[bytes | None]:
        """The queue of lines to send, beginning with `first`, and the thread that sends them."""
        self._submitted = True
        self._queue = queue.SimpleQueue()
        self._queue.put(first)
        self._feeder = threading.Thread(target=self._feed_queue, args=(self._queue,), name="index-feeder",
                                        daemon=True)
        self._feeder.start()
        return self._queue

    def send(self, record: dict[str, Any]) -> None:
        """One document of a streamed job (`IndexDoc.to_record()`), encoded here, written by
        the feeding thread: the build never waits for the child to read."""
        if self._queue is None or self._stream_ended:
            raise SearchError("IndexJob.send outside a stream", source=str(self.index_dir),
                              hint="call begin_stream first, and send nothing after end_stream")
        self._queue.put(_line(record))
        self._sent += 1

    def end_stream(self) -> None:
        """The documents sent are the whole set: the child commits and swaps them in."""
        if self._queue is None or self._stream_ended:
            raise SearchError("IndexJob.end_stream outside a stream", source=str(self.index_dir))
        self._stream_ended = True
        self._queue.put(_line({"end": self._sent}))
        self._queue.put(None)

    def _feed_queue(self, lines: queue.SimpleQueue[bytes | None]) -> None:
        """Write the queued lines, all that wait at each turn in one write; None ends (or,
        from `_close`, abandons) the stream."""
        pipe = self.process.stdin
        assert pipe is not None
        _widen_pipe(pipe)
        try:
            while True:
                batch = [lines.get()]
                with contextlib.suppress(queue.Empty):
                    while batch[-1] is not None:
                        batch.append(lines.get_nowait())
                pipe.write(b"".join(line for line in batch if line is not None))
                pipe.flush()
                if batch[-1] is None:
                    pipe.close()
                    return
        except (OSError, ValueError) as exc:   # the child is gone (its reason comes from wait)
            self._feed_error = exc
            with contextlib.suppress(OSError, ValueError):
                pipe.close()

    def wait(self, timeout: float | None = None) -> BuildReport:
        """The child's report once the new generation serves. A failure or a timeout raises
        SearchError with the child's reason; the previous generation still serves."""
        if not self._submitted:
            self.abort()
            raise SearchError("IndexJob.wait before submit: no documents were sent", source=str(self.index_dir))
        if self._queue is not None and not self._stream_ended:
            self.abort()
            raise SearchError("IndexJob.wait before end_stream: the set of documents was never closed",
                              source=str(self.index_dir))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if self._feeder is not None:
                self._feeder.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            self.process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.abort()
            raise SearchError(f"the index was not ready within {timeout:g} s; the update was cancelled",
                              source=str(self.index_dir), hint="the previous index is still serving") from None
        if self._feeder is not None and self._feeder.is_alive():
            self.abort()
            raise SearchError(f"the index was not ready within {timeout:g} s; the update was cancelled",
                              source=str(self.index_dir), hint="the previous index is still serving")
        answer = self._answer()
        self._close()
        if answer.get("ok"):
            return BuildReport(**answer["report"])
        raise SearchError(f"the search index was not built: {answer.get('error') or 'no reason given'}",
                          source=str(self.index_dir),
                          hint="the previous index is still serving; fix the cause and build again")

    def abort(self) -> None:
        """Stop the child (idempotent). It cancels cleanly on SIGTERM (the generation being
        built is removed); one that does not within ABORT_GRACE_S is killed, and what it
        left is a hidden .building-* folder the next update removes. Readers never see it."""
        if self._finished:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(ABORT_GRACE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def __enter__(self) -> IndexJob:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()

    def _answer(self) -> dict[str, Any]:
        relayed = self._child_log()
        if relayed:
            for line in relayed.splitlines():
                log.warning("index process: %s", line)
        stdout = self.process.stdout
        raw = stdout.read().decode("utf-8", "replace") if stdout is not None else ""
        for line in reversed(raw.splitlines()):
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict) and "ok" in answer:
                return answer
        reason = f"the index process exited with code {self.process.returncode}"
        if relayed:
            reason += ": " + relayed[-STDERR_TAIL_CHARS:].strip()
        return {"ok": False, "error": reason}

    def _child_log(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _close(self) -> None:
        self._finished = True
        if self._queue is not None:
            self._queue.put(None)   # a feeding thread waiting for lines stops
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        if self._feeder is not None:
            self._feeder.join(5)
        with contextlib.suppress(OSError):
            self._stderr.close()


def _widen_pipe(pipe: IO[bytes]) -> None:
    """Let the pipe to the child hold up to PIPE_BYTES (Linux; elsewhere, or beyond the
    system's limit, it keeps its size): fewer wake-ups of the feeding thread."""
    set_size = getattr(__import__("fcntl"), "F_SETPIPE_SZ", None) if os.name == "posix" else None
    if set_size is not None:
        with contextlib.suppress(OSError, ValueError):
            __import__("fcntl").fcntl(pipe.fileno(), set_size, PIPE_BYTES)


def _line(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


# --- the child ---------------------------------------------------------------------------


class Aborted(BaseException):
    """The build is gone or aborted the update: cancel, leave the serving index as it is.
    (A BaseException, so that no `except Exception` in a backend swallows it.)"""


class DocStream:
    """The documents as they arrive on stdin: sized (the count comes first) and iterated once."""

    def __init__(self, source: IO[bytes], count: int) -> None:
        self.source = source
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[IndexDoc]:
        for _ in range(self.count):
            yield IndexDoc.from_record(self._next())
        end = self._next()
        if end.get("end") != self.count:
            raise SearchError(f"the index process expected the end of {self.count} documents, got {str(end)[:80]}")

    def _next(self) -> dict[str, Any]:
        return _next_record(self.source)


class StreamedDocs:
    """The documents of a streamed job as they arrive: their number is known only at the end
    line; `operator.length_hint` gives the build's guess. Iterated once."""

    def __init__(self, source: IO[bytes], expected: int) -> None:
        self.source = source
        self.expected = expected

    def __length_hint__(self) -> int:
        return self.expected

    def __iter__(self) -> Iterator[IndexDoc]:
        count = 0
        while True:
            record = _next_record(self.source)
            if record.keys() == {"end"}:
                if record["end"] != count:
                    raise SearchError(f"the index process received {count} documents, the build sent {record['end']}")
                return
            count += 1
            yield IndexDoc.from_record(record)


def _next_record(source: IO[bytes]) -> dict[str, Any]:
    """The next JSON line; stdin closing before the end line means the build is gone."""
    line = source.readline()
    if not line.endswith(b"\n"):
        raise Aborted("the build stopped sending documents")
    record = json.loads(line)
    if not isinstance(record, dict):
        raise SearchError("the index process received a line that is not a JSON object")
    return record


def _whole(value: object, most: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def _on_term(_signum: int, _frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one cancellation, not one per signal
    raise Aborted("the update was aborted")


def _watch_parent(parent: int) -> None:
    """End the child when the build that started it is gone (SIGKILL leaves no chance to say so)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)


def _warm(warm: Callable[[], object]) -> None:
    try:
        warm()
    except Exception as exc:   # the update itself meets the same problem and reports it
        log.debug("warming the backend failed: %s", exc)


def _run(args: argparse.Namespace) -> BuildReport | None:
    from casebook.settings import load
    from search.backend import open_backend

    overrides: dict[str, object] = {"index_dir": args.index}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.backend:
        overrides["search_backend"] = args.backend
    settings = load(**overrides)
    backend = open_backend(settings, settings.index_dir, settings.search_backend)
    warm = getattr(backend, "warm", None)
    if callable(warm):
        # While the build still reads its cases, and beside the documents' arrival: an update
        # that finds nothing changed answers without waiting for it (the backend waits for
        # it only where it analyses text).
        threading.Thread(target=_warm, args=(warm,), name="warm", daemon=True).start()
    header = sys.stdin.buffer.readline()
    if not header.endswith(b"\n"):
        return None   # aborted before anything was sent
    first = json.loads(header)
    count = first.get("count") if isinstance(first, dict) else None
    expected = first.get("expected") if isinstance(first, dict) else None
    if count is None and _whole(expected, MAX_EXPECTED):
        return backend.update(StreamedDocs(sys.stdin.buffer, expected), full=args.full)
    if not _whole(count, MAX_EXPECTED):
        raise SearchError(f"the index process expected {{'count': N}} or {{'count': null, 'expected': N}} "
                          f"(N from 0 to {MAX_EXPECTED:,}) first, got {header[:80]!r}")
    return backend.update(DocStream(sys.stdin.buffer, count), full=args.full)


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_term)
    # Ctrl-C in a terminal reaches the whole process group: the build decides (it aborts the
    # job, or dies and the watcher below notices), not the index process on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parser = argparse.ArgumentParser(prog="python -m search.update", description="the index process of a build")
    parser.add_argument("--index", required=True, type=Path)
    parser.add_argument("--parent", required=True, type=int, help="the build's pid: exit when it is gone")
    parser.add_argument("--backend", default="")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args(argv)
    # The answer goes to the real stdout; anything else printed goes to stderr with the log.
    answer_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    os.nice(INDEX_NICENESS)
    threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    if os.getppid() != args.parent:   # the build died before the watcher started
        return EXIT_ABORTED
    try:
        report = _run(args)
    except Aborted:
        return EXIT_ABORTED
    except CasebookError as exc:
        answer = {"ok": False, "error": str(exc)}
    except Exception as exc:
        log.exception("the index update failed")
        answer = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
    else:
        if report is None:
            return EXIT_ABORTED
        answer = {"ok": True, "report": asdict(report)}
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # the answer is written whole
    answer_out.write(json.dumps(answer, ensure_ascii=False) + "\n")
    answer_out.close()
    return 0 if answer["ok"] else 1


def _exit(code: int) -> None:
    """Leave at once: the warming thread may still be loading the segmenter (an update with
    nothing to analyse does not wait for it), and tearing the interpreter down under it is
    slow and fragile. The answer is already written and closed."""
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    try:
        _exit(main())
    except Aborted:   # a second cancellation while the first was being handled
        _exit(EXIT_ABORTED)
