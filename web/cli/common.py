"""What every `hotline` subcommand shares: the command group, the app, the error exit."""

from __future__ import annotations

import click
from flask import Flask

from dispatch.core.errors import DomainError


def app_for_cli(overrides: dict | None = None) -> Flask:
    """The application a command works in (configuration from the environment)."""
    from web.app import create_app

    return create_app(overrides)


def fail(exc: DomainError) -> None:
    """Exit with the domain error's message (and field), as click prints errors."""
    field = f"（字段：{exc.field}）" if exc.field else ""
    from web.i18n import t

    raise click.ClickException(f"{exc.translated(t)}{field}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """12345 热线与 110 联动工单派遣系统 — 12345 hotline × 110 linkage dispatch."""
    # Every subcommand starts here: the HOTLINE_* settings are checked (a bad value stops the
    # command, naming the variable) and logging is configured once (web.logs).
    from web.config import Config, ConfigError
    from web.logs import configure_logging

    try:
        config = Config.from_environment()
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    configure_logging(config.log_level, config.log_format)
