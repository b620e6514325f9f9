"""JSON-lines events on stdout: the contract between the Python trainer and `inspector train`."""
from __future__ import annotations

import json
import signal
import sys
import time
from typing import Any

REPORT_INTERVAL_S = 0.5


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "time": round(time.time(), 3), **fields}) + "\n")
    sys.stdout.flush()


class StopFlag:
    """Set by SIGINT/SIGTERM so that a run stops at its next checkpoint instead of mid-write."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGINT, self._request)
        signal.signal(signal.SIGTERM, self._request)

    def _request(self, signum: int, _frame: Any) -> None:
        if self.requested:  # a second Ctrl-C means "now"
            raise KeyboardInterrupt
        self.requested = True
        emit("stopping", signal=signal.Signals(signum).name)


class Progress:
    """Counts steps and estimates the time left from the steps of this run (not of earlier runs)."""

    def __init__(self, stage: str, total: int, done: int = 0) -> None:
        self.stage, self.total, self.start_done = stage, total, done
        self.started = time.monotonic()
        self.last_report = 0.0

    def report(self, done: int, **fields: Any) -> None:
        now = time.monotonic()
        if done < self.total and now - self.last_report < REPORT_INTERVAL_S:
            return
        self.last_report = now
        elapsed = time.monotonic() - self.started
        rate = (done - self.start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else None
        emit("progress", stage=self.stage, step=done, total=self.total,
             eta_s=None if eta is None else round(eta, 1), **fields)
