"""Forwarding inbound texts to a rule's webhook, after the transaction committed.

A slow or dead endpoint must never hold up routing, so posts go through a bounded
queue to one background thread; when the queue is full the post is dropped and
logged with its reason. (The API's outgoing-webhook system, with signatures and
retries, is a separate thing built on its own table.)
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class WebhookPost:
    url: str
    payload: dict[str, Any]


class WebhookForwarder:
    """One background thread posting JSON; `submit` never blocks."""

    def __init__(self, size: int = QUEUE_SIZE, timeout_s: float = TIMEOUT_S) -> None:
        self._queue: queue.Queue[WebhookPost | None] = queue.Queue(maxsize=size)
        self._timeout = timeout_s
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0
        self.delivered = 0

    def submit(self, post: WebhookPost) -> bool:
        self._start()
        try:
            self._queue.put_nowait(post)
        except queue.Full:
            self.failures += 1
            log.warning("webhook %s: dropped, %d posts already waiting", post.url, QUEUE_SIZE)
            return False
        return True

    def drain(self) -> None:
        """Waits until every submitted post was attempted (tests, shutdown)."""
        self._queue.join()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="inbound-webhooks", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                post = self._queue.get()
                try:
                    if post is None:
                        return
                    self._post(client, post)
                finally:
                    self._queue.task_done()

    def _post(self, client: httpx.Client, post: WebhookPost) -> None:
        try:
            response = client.post(post.url, json=post.payload)
        except httpx.HTTPError as error:
            self.failures += 1
            log.warning("webhook %s failed: %s", post.url, error or type(error).__name__)
            return
        if response.status_code >= 300:
            self.failures += 1
            log.warning("webhook %s answered %d", post.url, response.status_code)
            return
        self.delivered += 1


_FORWARDER = WebhookForwarder()


def webhook_forwarder() -> WebhookForwarder:
    """The process's forwarder: one thread per process is all inbound forwarding needs."""
    return _FORWARDER
