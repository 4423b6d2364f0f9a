"""`hotline simulate`: a realistic synthetic history over the demo county, made through the
domain (`dispatch/simulation/`), with the county's grid as its places and routing."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path

import click
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.core.errors import DomainError
from dispatch.core.ports import DepartmentRef, IntakePorts
from dispatch.intake.pipeline import Classifier
from dispatch.simulation.clockwork import Progress
from dispatch.simulation.engine import Simulation
from dispatch.simulation.parameters import PRESETS, Parameters
from dispatch.simulation.report import Rate, SimulationReport
from dispatch.simulation.world import Spot, build_world, ensure_handlers
from dispatch.tickets.calendar import LOCAL_TZ
from grid.directory import SqlDirectory
from grid.locator import GridCache
from web.cli.common import app_for_cli as _app
from web.cli.common import fail as _fail
from web.cli.common import main

NOT_LOADED = "the demo county is not loaded: run `hotline demo load` first"


class GridPlaces:
    """The simulation's places: random points inside the active grid's cells, by street."""

    def __init__(self, session: Session) -> None:
        from grid.locator import active_version
        from grid.models import CELL, COMMUNITY, DISTRICT, STREET, Area

        version = active_version(session)
        rows = session.execute(
            select(Area.code, Area.name, Area.level, Area.parent_code, Area.geometry)
            .where(Area.grid_version == version)
            .order_by(Area.code)
        ).all()
        names = {r.code: r.name for r in rows}
        parent = {r.code: r.parent_code for r in rows}
        level = {r.code: r.level for r in rows}
        district = next((r.name for r in rows if r.level == DISTRICT), "")
        self._cells: dict[str, list[tuple[object, tuple[float, ...], str]]] = {}
        for r in rows:
            if r.level != CELL:
                continue
            community = parent.get(r.code)
            street = parent.get(community or "")
            if level.get(community) != COMMUNITY or level.get(street) != STREET:
                community, street = None, community  # a cell right under its street
            if street is None or level.get(street) != STREET:
                continue
            geometry = shapely.from_wkb(r.geometry)
            shapely.prepare(geometry)
            label = f"{district}{names.get(street, '')}{names.get(community or '', '')}"
            self._cells.setdefault(street, []).append((geometry, tuple(geometry.bounds), label))

    def streets(self) -> Sequence[str]:
        return sorted(self._cells)

    def spot(self, street: str, rng: random.Random) -> Spot:
        geometry, (x0, y0, x1, y1), label = rng.choice(self._cells[street])
        for _ in range(100):
            lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
            if shapely.contains_xy(geometry, lon, lat):
                return Spot(lon, lat, street, label)
        inside = shapely.point_on_surface(geometry)
        return Spot(inside.x, inside.y, street, label)


class SimulationPorts:
    """Intake ports for a simulation: one grid router and classifier for the whole run,
    told the simulated time before each use (the roster decides who is on duty then)."""

    def __init__(
        self,
        session: Session,
        now: datetime,
        cache: GridCache | None = None,
        classifier: Classifier | None = None,
    ) -> None:
        from dispatch.triage.classifier import ModelCache, SessionTriage
        from dispatch.triage.rules import ClassifierCache
        from grid.service import GridRouting

        self.grid = GridRouting(session, now, cache or GridCache())
        # The app's classifier: the rules in force and the active model, if any.
        self.classifier = classifier or SessionTriage(session, ClassifierCache(), ModelCache())

    def __call__(self, session: Session, now: datetime) -> IntakePorts:
        self.grid.now = now
        # As the app's intake does: alarms of emergencies and 智能派单 act on the judgement.
        return IntakePorts(self.classifier, self.grid, self.grid, respond=True,
                           directory=SqlDirectory(session))


def departments(session: Session) -> list[DepartmentRef]:
    """The county's departments, as the domain sees them."""
    from grid.models import Department

    return [
        DepartmentRef(d.code, d.name, d.kind, d.street_code, d.active)
        for d in session.scalars(select(Department).order_by(Department.code))
    ]


def county_problem(session: Session) -> str | None:
    """Why the demo county cannot be simulated in this database (None: it can)."""
    from dispatch.core.models import User
    from grid.locator import active_version
    from grid.models import Department

    if active_version(session) is None:
        return NOT_LOADED
    if not session.scalar(select(func.count()).select_from(Department)):
        return NOT_LOADED
    roles = set(session.scalars(select(User.role).where(User.active.is_(True))))
    if not {"operator", "dispatcher"} <= roles:
        return NOT_LOADED + " (it needs an operator and a dispatcher)"
    return None


def run_simulation(
    session: Session,
    params: Parameters,
    *,
    start: datetime,
    seed: int,
    scale: float = 1.0,
    days: int | None = None,
    password_hash: str,
    ports: SimulationPorts | None = None,
    progress: Progress | None = None,
    on_handlers: Callable[[list[str]], None] | None = None,
    photos: Path | None = None,
) -> SimulationReport:
    """Simulate over the county in this database: handlers for every department, the grid's
    places and routing, then the run (which commits as it goes)."""
    from grid.directory import SqlDirectory

    depts = departments(session)
    added = ensure_handlers(session, depts, password_hash)
    session.commit()
    if on_handlers is not None and added:
        on_handlers(added)
    world = build_world(session, GridPlaces(session), depts)
    simulation = Simulation(
        session,
        params,
        world,
        start=start,
        seed=seed,
        scale=scale,
        days=days,
        ports=ports or SimulationPorts(session, start),
        directory=SqlDirectory(session),
        progress=progress,
        photos=photos,
    )
    return simulation.run()


def _percent(rate: Rate) -> str:
    value = rate.value
    shown = "—" if value is None else f"{value * 100:.2f} %"
    return f"{shown} ({rate.numerator:,} / {rate.denominator:,})"


def _counts(mapping: Mapping[str, int]) -> str:
    ordered = sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k} {v:,}" for k, v in ordered) or "none"


def print_summary(report: SimulationReport) -> None:
    """The closing summary of a run."""
    start = report.start.astimezone(LOCAL_TZ)
    end = report.end.astimezone(LOCAL_TZ)
    click.echo(
        f"simulated '{report.preset}' (seed {report.seed}, scale {report.scale:g}) "
        f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} (Asia/Shanghai)"
    )
    click.echo(f"contacts: {report.total_contacts:,} — {_counts(report.contacts)}")
    click.echo(f"tickets: {report.tickets:,} — by channel: {_counts(report.tickets_by_channel)}")
    click.echo(f"tickets by state: {_counts(report.tickets_by_status)}")
    interesting = (
        "dispatch",
        "return",
        "request_extension",
        "approve_extension",
        "refuse_extension",
        "urge",
        "supervise",
        "review_reject",
        "callback",
        "merge",
        "void",
        "answer",
        "transfer_110",
    )
    click.echo("actions: " + _counts({k: v for k, v in report.actions.items() if k in interesting}))
    click.echo(f"assignments completed overdue or still overdue: {report.overdue_assignments:,}")
    click.echo(f"completion rate (办结率): {_percent(report.completion)}")
    click.echo(f"callback rate (回访率): {_percent(report.callback)}")
    click.echo(f"satisfaction rate (满意率): {_percent(report.satisfaction)}")
    actions = report.counters.actions
    click.echo(
        f"made in {report.wall_seconds:.1f} s: {report.tickets_per_second:.1f} tickets/s, "
        f"{actions / report.wall_seconds if report.wall_seconds else 0:.0f} actions/s"
    )


@main.command()
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default="small",
    show_default=True,
    help="seed_county: a year of the seed county; small: a week; recent: five weeks, light",
)
@click.option(
    "--from",
    "first_day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="first day (Asia/Shanghai); default: the period ends today",
)
@click.option(
    "--days",
    type=click.IntRange(min=1, max=3660),
    default=None,
    help="how many days (default: the preset's)",
)
@click.option("--seed", type=int, default=12345, show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True, max=1000),
    default=1.0,
    show_default=True,
    help="volume multiplier",
)
@click.option(
    "--until-now",
    is_flag=True,
    help="end the history at the current time (not at midnight): work still open, clocks "
    "running, some of it overdue — the lived-in demo of `make run`",
)
@click.option("--if-empty", is_flag=True, help="do nothing when the database has tickets")
@click.option("--force", is_flag=True, help="run even on a database with real (non-demo) users")
def simulate(
    preset: str,
    first_day: datetime | None,
    days: int | None,
    seed: int,
    scale: float,
    until_now: bool,
    if_empty: bool,
    force: bool,
) -> None:
    """Make a realistic synthetic history over the demo county, through the domain."""
    from argon2 import PasswordHasher
    from tqdm import tqdm

    from dispatch.core.models import Ticket, User
    from dispatch.simulation.world import SimulationError
    from grid.demo.reference import DEMO_PASSWORD
    from web.extensions import db as database
    from web.services import services

    params = PRESETS[preset]
    length = days or params.days
    app = _app({"SOCKETIO_SERVER": False})
    with app.app_context(), Session(database.engine, expire_on_commit=False) as session:
        # Its own session: objects stay loaded across the batch commits (the sweeps expire
        # what they may have changed).
        real = (
            session.scalar(select(func.count()).select_from(User).where(User.demo.is_(False))) or 0
        )
        if real and not force:
            raise click.ClickException(
                f"此数据库已有 {real} 个真实用户：不在生产数据库中生成模拟历史"
                "（确需生成请加 --force）"
            )
        if if_empty and session.scalar(select(Ticket.id).limit(1)) is not None:
            click.echo("数据库中已有工单：保留现有数据，不再生成模拟历史")
            return
        problem = county_problem(session)
        if problem:
            raise click.ClickException(problem)
        now = services().clock.now()
        if until_now and first_day:
            raise click.UsageError("--until-now 与 --from 不能同时使用")
        if until_now:  # to the minute: the stories still under way stay open at the end
            start = now.astimezone(LOCAL_TZ).replace(second=0, microsecond=0) - timedelta(
                days=length
            )
        else:
            today = now.astimezone(LOCAL_TZ).date()
            day = first_day.date() if first_day else today - timedelta(days=length)
            start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
        if start + timedelta(days=length) > now:
            click.echo(
                "note: the period ends after the current time; the history will hold "
                "events dated in the future"
            )
        hasher = services().hasher
        password_hash = (hasher if isinstance(hasher, PasswordHasher) else PasswordHasher()).hash(
            DEMO_PASSWORD
        )
        bar = tqdm(
            total=length,
            desc=f"simulating {preset}",
            unit="day",
            file=sys.stderr,
            leave=False,
            disable=not sys.stderr.isatty(),
            bar_format="{l_bar}{bar}| {n:.1f}/{total} days [{elapsed}<{remaining}]{postfix}",
        )

        def progress(hours: float, total: float, tickets: int, contacts: int) -> None:
            bar.n = min(hours / 24, length)
            bar.set_postfix(tickets=tickets, contacts=contacts, refresh=False)
            bar.refresh()

        def handlers_added(names: list[str]) -> None:
            click.echo(
                f"added {len(names)} demo handlers, one for each department that had "
                f"none (password {DEMO_PASSWORD}): {', '.join(names[:3])}, …"
            )

        ports = SimulationPorts(session, start, services().grid_cache, services().classifier)
        try:
            report = run_simulation(
                session,
                params,
                start=start,
                seed=seed,
                scale=scale,
                days=length,
                password_hash=password_hash,
                ports=ports,
                progress=progress,
                on_handlers=handlers_added,
                photos=Path(app.instance_path) / "uploads",  # the patrol photos, as uploaded
            )
        except SimulationError as exc:
            session.rollback()
            raise click.ClickException(f"{exc}（此前已生成的历史已保留）") from exc
        except DomainError as exc:
            session.rollback()
            _fail(exc)
        finally:
            bar.close()
    print_summary(report)
    if until_now:
        click.echo(
            "模拟历史已生成，截至此刻：上面是各状态的工单数。重置演示数据：停止服务后删除 "
            "instance/ 目录（默认的 SQLite 数据库），再次运行 make run"
        )
