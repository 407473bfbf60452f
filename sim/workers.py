"""Worker processes that never outlive their parent, and pools that stop when the run stops.

A SIGKILL or SIGTERM to ``afsim`` used to leave its local workers running for minutes (each
holding a few hundred MB). Every pool's initializer therefore asks Linux to send the worker
SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and :func:`stop_pool` terminates the
workers at once when the parent is interrupted, instead of waiting for the queued chunks.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a worker: be terminated when the parent process dies (Linux; a no-op elsewhere)."""
    # a forked worker inherits the CLI's SIGTERM handler (which raises, to clean up the parent's
    # output); in a worker that would only abort the task at hand, so SIGTERM must kill it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError, ctypes.ArgumentError):
        return
    if os.getppid() == 1:            # the parent died before the request took effect
        os._exit(1)


def usable_workers(requested: int, tasks: int) -> int:
    """No more workers than tasks or cores: 64 processes for 4 chunks only cost memory."""
    return max(1, min(int(requested), int(tasks), os.cpu_count() or 1))


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what is queued and terminate the running workers."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        try:
            proc.terminate()
        except (OSError, AttributeError, ValueError):
            pass
    for proc in processes:
        try:
            proc.join(timeout=5)
        except (OSError, AttributeError, ValueError, AssertionError):
            pass
