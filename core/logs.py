"""One log format for every Tanhui process: a JSON object per line, so the API, the exchange,
the indexer and the oracle nodes can be collected and searched together.

Each line carries the time (UTC, ISO 8601 with milliseconds), level, service, logger and
message, the request id of the HTTP request it was written for (`request_id`, from a context
variable the API's middleware sets: every line a request causes can be found by it), any
`extra={...}` fields the caller gave, and the exception's traceback when there is one.
`TANHUI_LOG_FORMAT=text` gives a human-readable line instead (the default when stderr is a
terminal), `TANHUI_LOG_FORMAT=json` forces JSON; `TANHUI_LOG_LEVEL` sets the level.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("tanhui_request_id", default=None)

# attributes every LogRecord has: anything else on a record came from `extra=`
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """A JSON object per record (see the module's docstring)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid is not None:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level service logger [request id]: message`, for a terminal."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s " + service + " %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or request_id.get()
        record.rid = f" [{rid}]" if rid else ""
        return super().format(record)


def _stamp_request_ids() -> None:
    """Every record made while a request runs keeps its id (`record.request_id`), however
    late it is formatted; installed once, when this module is first imported."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return record

    factory.stamps_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(service: str, level: int | None = None, fmt: str | None = None,
                      default_level: int = logging.INFO) -> None:
    """Sends every logger's records to stderr in the one format (JSON unless `fmt` or
    TANHUI_LOG_FORMAT says `text`), uvicorn's included (its own access log is replaced by the
    API's, which carries the request id). `default_level` applies unless TANHUI_LOG_LEVEL is
    set: INFO (access lines included) for the services, WARNING for the all-in-one `tanhui up`
    a person watches."""
    default = "text" if sys.stderr.isatty() else "json"  # a person at a terminal reads text
    chosen = (fmt or os.environ.get("TANHUI_LOG_FORMAT") or default).lower()
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter(service) if chosen == "text" else JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level is not None
                  else os.environ.get("TANHUI_LOG_LEVEL", "").upper() or default_level)
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


_stamp_request_ids()
