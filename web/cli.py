"""The `hotline` command (CONTRACT.md)."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import Flask

from dispatch.calendar import official_years, seed_calendar
from dispatch.errors import DomainError


def _app() -> Flask:
    from web import create_app

    return create_app()


def _fail(exc: DomainError) -> None:
    field = f" ({exc.field})" if exc.field else ""
    raise click.ClickException(f"{exc.message}{field}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """12345 热线与 110 联动工单派遣系统 — 12345 hotline × 110 linkage dispatch."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web application (embedded mode when HOTLINE_REDIS_URL is unset)."""
    from waitress import serve as waitress_serve

    app = _app()
    mode = "distributed" if app.config.get("REDIS_URL") else "embedded"
    click.echo(f"serving on http://{host}:{port} ({mode} mode)")
    waitress_serve(app, host=host, port=port, threads=threads)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations; load the category tree and the working-day calendar."""
    from flask_migrate import upgrade

    from grid.demo import load_categories
    from web import MIGRATIONS
    from web.extensions import db as database

    app = _app()
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        this_year = date.today().year
        last = max(max(official_years()), this_year) + 1
        seed_calendar(database.session, min(2020, this_year - 1), last)
        load_categories(database.session)
        database.session.commit()
    click.echo("database is up to date")


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--if-empty", is_flag=True,
              help="do nothing (and succeed) when the database has real users")
def demo_load(if_empty: bool) -> None:
    """Load the demo county (departments, categories, one user per role)."""
    from sqlalchemy import func, select

    from dispatch.models import User
    from grid.demo import DEMO_PASSWORD, load_demo
    from web import services
    from web.extensions import db as database

    app = _app()
    with app.app_context():
        real = select(func.count()).select_from(User).where(User.demo.is_(False))
        if if_empty and database.session.scalar(real):
            click.echo("the database has real users: demo data not loaded")
            return
        try:
            report = load_demo(database.session, services().hasher)
        except DomainError as exc:
            _fail(exc)
        database.session.commit()
    if report.already_loaded:
        click.echo("demo data already loaded")
    else:
        click.echo(f"loaded {report.categories} categories, {report.departments} departments")
    click.echo(f"demo accounts (password {DEMO_PASSWORD}): " + ", ".join(report.users))


@main.group()
def users() -> None:
    """User accounts."""


@users.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True,
              type=click.Choice(["operator", "dispatcher", "handler", "grid_worker",
                                 "supervisor", "leader", "admin", "police_desk"]))
@click.option("--department", default=None, help="department code (handlers)")
@click.option("--name", "display_name", default=None)
@click.option("--phone", default=None)
@click.password_option()
def users_add(username: str, role: str, department: str | None, display_name: str | None,
              phone: str | None, password: str) -> None:
    """Add a user."""
    from dispatch.accounts import create_user
    from grid.directory import SqlDirectory
    from web import services
    from web.extensions import db as database

    app = _app()
    with app.app_context():
        try:
            create_user(database.session, services().hasher, SqlDirectory(database.session),
                        username=username, password=password, role=role,
                        display_name=display_name, department=department, phone=phone)
        except DomainError as exc:
            _fail(exc)
        database.session.commit()
    click.echo(f"user {username} ({role}) added")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
