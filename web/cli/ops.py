"""`hotline serve`, `worker`, `outbox`, `report` and `stats`: running the system and its periodic
work."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from web.cli.common import app_for_cli, fail, main

_app, _fail = app_for_cli, fail


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=100, show_default=True, type=int,
              help="request threads; each open console (WebSocket) holds one")
def serve(host: str, port: int, threads: int) -> None:
    """Serve the web application and the live console (embedded mode without
    HOTLINE_REDIS_URL)."""
    from web.server import run

    run(_app(), host, port, threads)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--beat/--no-beat", default=True, show_default=True,
              help="also run the periodic sweeps (several beats are harmless)")
@click.option("--concurrency", type=int, default=None)
@click.option("--loglevel", default=None,
              type=click.Choice(["debug", "info", "warning", "error", "critical"],
                                case_sensitive=False),
              help="overrides HOTLINE_LOG_LEVEL for this worker")
def worker(beat: bool, concurrency: int | None, loglevel: str | None) -> None:
    """Run a Celery worker with the periodic sweeps (needs HOTLINE_REDIS_URL)."""
    from web.logs import configure_logging
    from workers.celery_app import worker_main

    app = _app({"SOCKETIO_SERVER": False})
    if loglevel:  # logging itself was configured by `hotline` (web.cli.common.main)
        configure_logging(loglevel.upper(), app.config["LOG_FORMAT"])
    argv = ["--beat" if beat else "--no-beat",
            "--loglevel", (loglevel or app.config["LOG_LEVEL"]).lower()]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    sys.exit(worker_main(app, argv))


@main.group()
def outbox() -> None:
    """Messages that leave the system (110 transfers and acks, SMS)."""


@outbox.command("deliver")
def outbox_deliver() -> None:
    """Deliver what is due now (retries with back-off; the workers will run this on a
    schedule)."""
    from workers.rounds import deliver_round, summary

    click.echo(summary(deliver_round(_app())))


@main.command()
@click.option("--kind", required=True, type=click.Choice(["week", "month", "quarter"]))
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="the list covers the period before this day (default: today)")
def report(kind: str, day: datetime | None) -> None:
    """Generate a periodic list (周巡检/月点评/季通报) for the period before DAY."""
    from workers.reports import report_main

    click.echo(str(report_main(_app(), kind, day.date() if day else None)))


@main.group()
def stats() -> None:
    """Statistics: the daily rollups behind the dashboard."""


@stats.command("refresh")
def stats_refresh() -> None:
    """Fold the tickets changed since the last refresh into the rollups."""
    from dispatch.stats import rollups
    from web.extensions import db as database

    with _app().app_context():
        report = rollups.refresh(database.session)
    click.echo(f"重算工单 {report.tickets} 张，其中变化 {report.changed} 张，"
               f"仍待处理 {report.pending} 张")


@stats.command("rebuild")
def stats_rebuild() -> None:
    """Recompute every rollup from the tickets and their events (after an import or a fix)."""
    from dispatch.stats import rollups
    from web.extensions import db as database

    with _app().app_context():
        count = rollups.rebuild(database.session)
    click.echo(f"统计已重建：{count} 张工单")
