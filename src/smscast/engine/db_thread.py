"""Database work off the event loop: one thread that runs each transaction in turn.

The connectors, the simulator and the web server share one event loop; a
transaction run on it would stall every socket for its duration. One thread keeps
the writes in order (SQLite takes one writer anyway) while the loop keeps the
carriers' windows full.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine

P = ParamSpec("P")
T = TypeVar("T")


class DbThread:
    """Runs blocking database functions in one worker thread, awaited from the loop."""

    def __init__(self, engine: Engine, name: str = "smscast-db") -> None:
        self.engine = engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
