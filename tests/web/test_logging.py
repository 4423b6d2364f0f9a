"""Logging configured once (web.logs): plain text by default, JSON lines with
HOTLINE_LOG_FORMAT=json (time, level, logger, message, exception), the level from
HOTLINE_LOG_LEVEL; gunicorn's logs follow the JSON format too."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pytest

from web.logs import configure_logging, logging_config

pytestmark = pytest.mark.usefixtures("logging_restored")  # tests/conftest.py


def test_json_lines_one_object_a_record(capsys):
    configure_logging("INFO", "json")
    log = logging.getLogger("dispatch.test")
    log.info("工单 %s 已派发\n第二行", "A-1")
    log.debug("below the level")
    try:
        raise RuntimeError("短信网关不可达")
    except RuntimeError:
        log.exception("发送失败")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "dispatch.test"
    assert first["message"] == "工单 A-1 已派发\n第二行"
    assert datetime.fromisoformat(first["time"]).utcoffset() is not None
    assert "工单" in lines[0]  # Chinese as it is, not \u escapes
    assert second["level"] == "ERROR" and second["message"] == "发送失败"
    assert second["exception"].startswith("Traceback")
    assert "RuntimeError: 短信网关不可达" in second["exception"]


def test_plain_text_by_default_at_the_level_asked(capsys):
    configure_logging("WARNING")
    log = logging.getLogger("web.test")
    log.info("not shown")
    log.warning("显示 %d", 1)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("WARNING web.test: 显示 1")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_one_handler_on_the_root_logger():
    config = logging_config("DEBUG", "json")
    assert config["root"] == {"level": "DEBUG", "handlers": ["stderr"]}
    assert config["disable_existing_loggers"] is False
    configure_logging("DEBUG", "json")
    configure_logging("DEBUG", "json")  # again: still one handler
    root = logging.getLogger()
    assert root.level == logging.DEBUG
    assert [type(h).__name__ for h in root.handlers if h.formatter] == ["StreamHandler"]


def test_gunicorn_logs_json_lines_when_the_process_does(tmp_path: Path):
    from gunicorn.config import Config

    from web.access_log import RedactingLogger

    configure_logging("INFO", "json")
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("loglevel", "info")
    logger = RedactingLogger(cfg)
    try:
        logger.error("Error handling request %s", "/hooks/wechat?signature=feedface0001")
        (record,) = (json.loads(line) for line in
                     (tmp_path / "error.log").read_text().splitlines())
        assert record["logger"] == "gunicorn.error" and record["level"] == "ERROR"
        assert record["message"] == "Error handling request /hooks/wechat?[redacted]"
        assert logger.access_log.handlers and all(
            type(h.formatter).__name__ == "JsonFormatter" for h in logger.access_log.handlers)
    finally:  # gunicorn's file handlers, closed here rather than by the garbage collector
        for log in (logger.error_log, logger.access_log):
            for handler in log.handlers[:]:
                log.removeHandler(handler)
                handler.close()
