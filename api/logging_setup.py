"""Structured JSON logs; any 12-digit run (an IIN) is masked before it is written."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import Any

_IIN = re.compile(r"(?<!\d)(\d{2})\d{9}(\d)(?!\d)")


def mask_iins(text: str) -> str:
    return _IIN.sub(lambda m: m.group(1) + "*" * 9 + m.group(2), text)


# Request id, channel and operation name of the request being served (set by api/app.py), copied onto
# every log record when it is created, so they survive formatting elsewhere.
_CONTEXT: dict[str, contextvars.ContextVar[str | None]] = {}
_base_factory = logging.getLogRecordFactory()


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    for key, var in _CONTEXT.items():
        value = var.get()
        if value is not None and not hasattr(record, key):
            setattr(record, key, value)
    return record


def bind_context(**variables: contextvars.ContextVar[str | None]) -> None:
    _CONTEXT.update(variables)
    logging.setLogRecordFactory(_factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_iins(record.getMessage()),
        }
        for key in ("request_id", "channel", "operation"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["error"] = mask_iins(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
