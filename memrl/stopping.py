"""Stopping a run on SIGINT (Ctrl-C) or SIGTERM (kill, a scheduler's time limit) without losing it.

While a run trains, either signal only asks it to stop: the trainer checkpoints at its next
safe point (after a collection, between updates, after an evaluation; never inside an episode
or an update) and ends with `RunInterrupted`, which `memrl train` reports in one line. The
first signal restores the handlers that were there before, so a second Ctrl-C stops at once
(a KeyboardInterrupt; the newest checkpoint is then the last one written) and a second SIGTERM
ends the process as it would have.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class RunInterrupted(KeyboardInterrupt):
    """The run stopped at a safe point with a checkpoint, asked to by `signum`. A
    KeyboardInterrupt, so code that stops on Ctrl-C still stops."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum  # as a shell reports a process ended by the signal


@dataclass
class StopRequest:
    signum: int | None = None  # the signal that asked for a stop, None while none did

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "nothing"


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Within the block, SIGINT and SIGTERM set the request instead of stopping the process.
    Signals reach Python's main thread only; elsewhere the request is never set."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def ask_to_stop(signum: int, _frame) -> None:
        request.signum = signum
        restore()

    for sig in STOP_SIGNALS:
        signal.signal(sig, ask_to_stop)
    try:
        yield request
    finally:
        restore()
