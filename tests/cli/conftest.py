"""The CLI tests run `hotline` in this process (click's CliRunner), and `hotline` configures
logging (web.logs): each test gets the process's logging back as it found it."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _logging_back(logging_restored: None) -> None:
    """(tests/conftest.py's `logging_restored`, for every CLI test)"""
