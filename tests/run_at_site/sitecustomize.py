"""Loaded by every Python process of a `tests/run_at.sh` run (it puts this folder on
PYTHONPATH), the `smscast worker` subprocesses included.

libfaketime (Debian 0.9.10) cannot both shift the monotonic clock and keep Python's
timed waits working: Python turns a timeout into an absolute CLOCK_MONOTONIC deadline,
and the kernel waits for it on the real clock. So run_at.sh leaves the monotonic clock
real (FAKETIME_DONT_FAKE_MONOTONIC=1), which keeps every lock, event, queue and asyncio
timeout right, and only the wall clock is shifted. One thing then breaks: libfaketime
turns `time.sleep`'s absolute monotonic deadline (clock_nanosleep) into an invalid time,
and sleep fails with EINVAL. Here sleep waits on an event instead, which libfaketime
leaves alone; nothing else changes.
"""

from __future__ import annotations

import os
import threading
import time

if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1":

    def _sleep(seconds: float) -> None:
        """time.sleep, by a timed wait on an event that is never set."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        threading.Event().wait(seconds)

    time.sleep = _sleep
