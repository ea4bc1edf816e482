"""Logging of the server process: one configuration, text or JSON lines, request ids, quiet
third parties.

:func:`logging_config` is a :func:`logging.config.dictConfig` dictionary: the server applies it
at start and hands it to uvicorn, which applies it again in each worker process it starts.
Every line about a request names the request's id (see :mod:`agents_api.request_ids`).
"""

from __future__ import annotations

import logging
import logging.config
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from agents_api.request_ids import current_request_id

__all__ = [
    "LOG_FORMATS",
    "LOG_LEVELS",
    "REQUEST_FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "configure",
    "logging_config",
]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")

REQUEST_FIELDS = ("method", "route", "status", "duration_ms")
"""The members a request line carries (``extra=``), members of its JSON object too."""


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was logged for (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message request_id=…`` (the id only on lines about a request)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} request_id={request_id}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (RFC 3339, UTC), ``level``, ``logger``, ``message``,
    ``request_id`` when about a request, a request line's fields, ``exception`` (the traceback
    as one string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return msgspec.json.encode(entry).decode()


class AlembicStartupFilter(logging.Filter):
    """Drops what alembic says on every start whether or not it migrates; keeps the lines that
    name a migration being applied."""

    _NOISE = ("Context impl", "Will assume")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self._NOISE)


class PoolFloorFilter(logging.Filter):
    """asyncpg retries reconnecting its pool's minimum while the database is down, logging a
    warning with a full traceback each time. One short line instead, at most one a minute."""

    interval = 60.0

    def __init__(self) -> None:
        super().__init__()
        self._last = -self.interval

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("Failed to restore the pool connection floor"):
            return True
        now = time.monotonic()
        if now - self._last < self.interval:
            return False
        self._last = now
        error = record.exc_info[1] if record.exc_info else None
        cause = f"{type(error).__name__}: {error}"[:200] if error is not None else "unknown"
        record.msg = "database unreachable: the connection pool keeps retrying (%s)"
        record.args = (cause,)
        record.exc_info = None
        record.exc_text = None
        return True


def logging_config(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """The server's logging configuration: everything to stderr at ``level``, in ``log_format``.

    uvicorn's access log is off (the app logs its own request lines, see
    :mod:`agents_api.request_observer`); alembic's start-up chatter and asyncpg's reconnection
    tracebacks are quieted.
    """
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        # Loggers created at import time (``agents_api.errors`` …) must keep working.
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": f"{__name__}.RequestIdFilter"},
            "alembic_startup": {"()": f"{__name__}.AlembicStartupFilter"},
            "pool_floor": {"()": f"{__name__}.PoolFloorFilter"},
        },
        "formatters": {"line": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's loggers carry handlers of their own by default: send them to ours.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
            "alembic.runtime.migration": {"filters": ["alembic_startup"]},
            "asyncpg.pool": {"filters": ["pool_floor"]},
        },
    }


def configure(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """Apply :func:`logging_config` to this process; returns it (to hand on to uvicorn)."""
    config = logging_config(level, log_format)
    logging.config.dictConfig(config)
    return config
