"""Logging, configured in one place: `logging_config` is the `dictConfig` dictionary of every
process (`hotline` and its subcommands, `hotline serve`'s gunicorn, `hotline worker` and
`celery -A web.celery_worker`), `configure_logging` applies it. Plain text by default;
`HOTLINE_LOG_FORMAT=json` writes one JSON object a line (time, level, logger, message, and the
exception's text when there is one); `HOTLINE_LOG_LEVEL` (default INFO) sets the level."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_format = "text"  # as last configured in this process


class JsonFormatter(logging.Formatter):
    """One JSON object a record, on one line (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as `{"time", "level", "logger", "message"[, "exception"][, "stack"]}`."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str = "INFO", fmt: str = "text") -> dict[str, Any]:
    """The `dictConfig` dictionary: the root logger at `level` through one handler on stderr,
    in plain text or JSON lines (`fmt`: "text" or "json")."""
    formatter: dict[str, Any] = ({"()": f"{__name__}.JsonFormatter"} if fmt == "json"
                                 else {"format": TEXT_FORMAT})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hotline": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "hotline",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        # Alembic lists its plugins at INFO whenever it is imported (every app start).
        "loggers": {"alembic.runtime.plugins": {"level": "WARNING"}},
    }


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure this process's logging (the settings LOG_LEVEL and LOG_FORMAT of
    `web.config.Config`); Celery, when it starts a worker in this process, leaves it as is."""
    global _format
    logging.config.dictConfig(logging_config(level, fmt))
    _format = fmt
    from celery import signals

    signals.setup_logging.connect(_leave_to_hotline, weak=False)


def own_formatter() -> logging.Formatter | None:
    """The formatter for logs whose handlers are not ours (gunicorn's error and access logs)
    in JSON mode; None in text mode (they keep their own format)."""
    return JsonFormatter() if _format == "json" else None


def _leave_to_hotline(**kwargs: Any) -> None:
    """Celery's `setup_logging` receiver: with one connected, a worker does not set up
    logging of its own (its handlers, its task-log format)."""
