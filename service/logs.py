"""Logs without credentials: the link tokens in paths are cut out of every log line.

A task link, a follow-up or data link and a plan-review link each carry their token in the path,
and a log line with one would let whoever reads the logs act as that person. ``RedactTokens`` is a
logging filter that rewrites each record's message (and its traceback) before any handler sees it;
``redacted_log_config`` is uvicorn's own logging configuration with the filter on its access and
error loggers and on the service's own.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

#: The paths that end in a token: /t/…, /api/t/…, /me/data/…, /me/follow-ups/…, /plan-review/….
TOKEN_PATH = re.compile(r"(/(?:api/)?t/|/me/(?:data|follow-ups)/|/plan-review/)[^/\s?#\"'<>]+")
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return TOKEN_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redacted_log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, with every line it and the service write redacted."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": RedactTokens}}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_tokens")
    config["loggers"]["service"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config["loggers"]["aarshjul"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    # Everything else (notifications, flows, libraries) through the same filtered handler.
    config["root"] = {"handlers": ["default"], "level": "WARNING"}
    return config
