"""The CLI tests run `hotline` in this process (click's CliRunner), and `hotline` configures
logging (web.logs): each test gets the process's logging back as it found it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    from celery import signals

    from web.logs import _leave_to_hotline

    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    signals.setup_logging.disconnect(_leave_to_hotline)
