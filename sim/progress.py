"""Progress for long work: a tqdm bar on a terminal, clean log lines otherwise, or nothing.

When stderr is not a terminal (a log file, CI, a pipe) a redrawn bar would leave carriage
returns and half-lines; there :class:`LineProgress` writes whole lines instead: one when the
stage starts, one at every tenth of the way (at most one every ``min_interval`` seconds), and
one when it ends, each with the count and the elapsed time.
"""

from __future__ import annotations

import sys
import time


class _Silent:
    def update(self, n=1):
        pass

    def set_postfix_str(self, text: str):
        pass

    def close(self):
        pass


class LineProgress:
    """Plain-text progress, one complete line per report."""

    def __init__(self, total: int, desc: str, *, unit: str = "it", initial: int = 0, stream=None,
                 min_interval: float = 5.0):
        self.total, self.desc, self.unit = max(int(total), 0), desc, unit
        self.n = int(initial)
        self.stream = stream if stream is not None else sys.stderr
        self.min_interval = min_interval
        self.started = time.perf_counter()
        self.last_time = self.started
        self.last_tenth = self._tenth()
        self.note = ""
        self.closed = False
        self._write("started")

    def _tenth(self) -> int:
        return int(10 * self.n / self.total) if self.total else 0

    def _write(self, what: str) -> None:
        elapsed = time.perf_counter() - self.started
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        note = f" {self.note}" if self.note else ""
        self.stream.write(f"{self.desc}: {what} {self.n}/{self.total} {self.unit}{pct}, "
                          f"{elapsed:.1f} s{note}\n")
        self.stream.flush()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        tenth = self._tenth()
        if tenth > self.last_tenth and now - self.last_time >= self.min_interval and self.n < self.total:
            self.last_tenth, self.last_time = tenth, now
            self._write("at")

    def set_postfix_str(self, text: str) -> None:
        self.note = text

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._write("done")


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(total: int, desc: str, enabled: bool, *, unit: str = "it", initial: int = 0):
    """A progress reporter with ``update(n)`` and ``close()``: tqdm on a terminal, whole lines
    when stderr is redirected, nothing when ``enabled`` is false."""
    if not enabled:
        return _Silent()
    if not _is_terminal(sys.stderr):
        return LineProgress(total, desc, unit=unit, initial=initial)
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True, leave=False)
