"""How `smscast serve` and `smscast worker` write their log: lines for people, or JSON.

`SMSCAST_LOG_FORMAT=json` (setting `log_format`) writes one JSON object a line, for a
log shipper (Loki, Elasticsearch, journald's JSON export): `ts` (UTC, ISO 8601),
`level`, `logger`, `msg`, and the ids a record carries in its `extra` — the message,
campaign, connector, contact, ticket, workspace or worker it is about — as fields of
their own, so an operator can filter on `connector_id` without parsing sentences.
The default, `text`, is the familiar `time level logger: message` line.

Uvicorn's own loggers (its errors and the access log) go through the same handler,
so a JSON log stays one format from end to end.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ID_FIELDS = ("message_id", "campaign_id", "connector_id", "connector", "contact_id",
             "ticket_id", "workspace_id", "worker", "number", "count")  # fmt: skip
"""The `extra` keys a JSON line carries as fields: ids and counts, never a text's body."""
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """One JSON object a record; exceptions as a `exc` field, not as extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in ID_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str, stream: TextIO | None = None) -> None:
    """Sends every logger, uvicorn's included, to one handler in the chosen format.

    Replaces what was configured before (so calling it twice does not double lines).
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: choose one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter(TEXT_FORMAT))  # fmt: skip
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:  # through the root's handler, not uvicorn's own
        uvicorn_logger = logging.getLogger(name)
        for old in list(uvicorn_logger.handlers):
            uvicorn_logger.removeHandler(old)
        # As configured before (uvicorn's own dictConfig may have switched them off or
        # raised their level): the level given here decides.
        uvicorn_logger.setLevel(logging.NOTSET)
        uvicorn_logger.disabled = False
        uvicorn_logger.propagate = True
