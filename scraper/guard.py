"""One input may not stop a batch: a time budget per input, and every failure turned into an
error that names the input.

The budget is a real-time interval timer (SIGALRM) when the input is read on the main thread
of its process, which is where `casebook ingest` and the workers of a process pool run each
input. The timer raises `BudgetExpired`, a BaseException, so that the broad `except
Exception` handlers inside extraction libraries cannot swallow it; it fires again every half
second until the input is given up, in case one of them catches everything. Off the main
thread (a thread pool, a server) a signal cannot be used: the budget is then checked at each
stage of the pipeline (`check_budget`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeAlias

from casebook.errors import CasebookError, ExtractionError, InputError

if TYPE_CHECKING:   # what signal.signal returns and takes back (typeshed's private _HANDLER)
    _Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

_REPEAT = 0.5   # seconds between further alarms once the budget is spent
_state = threading.local()


class BudgetExpired(BaseException):  # a BaseException: libraries catching Exception must not swallow it
    """The input's time budget ran out (raised from the timer or by `check_budget`)."""


def _on_alarm(_signum: int, _frame: object) -> None:
    raise BudgetExpired


def check_budget() -> None:
    """Raise `BudgetExpired` when the current input's budget is spent (for threads without a timer)."""
    deadline = getattr(_state, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetExpired


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Run the block with at most `seconds` of real time (0: unbounded)."""
    if seconds <= 0:
        yield
        return
    previous_deadline = getattr(_state, "deadline", None)
    _state.deadline = time.monotonic() + seconds
    use_timer = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not use_timer:
        try:
            yield
        finally:
            _state.deadline = previous_deadline
        return
    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    previous_timer = signal.getitimer(signal.ITIMER_REAL)
    try:
        # Armed inside the try: a budget shorter than this setup still ends in the finally.
        if not 0 < previous_timer[0] < seconds:
            signal.setitimer(signal.ITIMER_REAL, seconds, _REPEAT)
        # (else an outer timer, an input's budget around a fetch's deadline, ends first and
        # stays in charge)
        yield
    finally:
        _disarm(previous_handler)
        if previous_timer[0] > 0:
            # The outer timer (another budget, a test harness) keeps what is left of its time,
            # and fires at once if that ran out meanwhile.
            left = previous_timer[0] - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 0.001), previous_timer[1])
        _state.deadline = previous_deadline


def _disarm(previous_handler: _Handler) -> None:
    """Stop the timer and put the previous handler back, even when the alarm fires in the
    middle of doing so (the block ended just as its budget did): a timer left running would
    raise in whatever runs next."""
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
            return
        except BudgetExpired:
            continue


def as_input_error(exc: BaseException, item: str, budget: float) -> CasebookError:
    """The error row of an input that raised `exc`: what happened and what to do."""
    if isinstance(exc, CasebookError):
        return exc
    if isinstance(exc, BudgetExpired):
        return InputError(f"reading this input took longer than its {budget:g}-second budget; it was given up",
                          source=item, hint="save a smaller copy of the page, or raise CASEBOOK_INPUT_TIME_BUDGET")
    if isinstance(exc, RecursionError):
        return ExtractionError("the markup is nested too deeply to read", source=item,
                               hint="the page is malformed or hostile; save the article text instead")
    if isinstance(exc, MemoryError):
        return InputError("reading this input ran out of memory; it was given up", source=item,
                          hint="the input expands to far more than its size; check where it came from")
    return ExtractionError(f"unexpected {type(exc).__name__} while reading this input: {str(exc)[:200]}",
                           source=item, hint="the batch went on; please report this input as a bug")
