"""`hotline tickets import`: an old system's history (CONTRACT.md, Administration). The command
reads the files, calls the domain (`dispatch.intake.history_import`) and prints its report."""

from __future__ import annotations

from pathlib import Path

import click
import psycopg
from sqlalchemy.exc import SQLAlchemyError

from dispatch.core.errors import DomainError
from web.cli.common import app_for_cli, fail, main
from web.cli.data import _progress_bar
from web.i18n import t


@main.group()
def tickets() -> None:
    """Tickets: import an old system's history."""


@tickets.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False),
              default=None,
              help="JSON: the old system's columns, categories, departments, channels, states "
                   "→ ours")
@click.option("--dry-run", is_flag=True, help="check every row and report; write nothing")
def tickets_import(file: str, mapping_file: str | None, dry_run: bool) -> None:
    """Import an old system's tickets from FILE (.csv in UTF-8 or .xlsx), all or nothing;
    rows imported before (same 原工单编号) are skipped; the statistics are rebuilt after."""
    from web.extensions import db as database

    path = Path(file)
    app = app_for_cli()
    with app.app_context():
        try:
            _import(path, mapping_file, dry_run)
        finally:
            database.session.remove()
            database.engine.dispose()  # the command's connections end with it


def _import(path: Path, mapping_file: str | None, dry_run: bool) -> None:
    """Read, import, commit and rebuild the statistics; report in Chinese."""
    from dispatch.intake.history_import import import_history, parse_mapping, read_rows
    from dispatch.stats import rollups
    from grid.history import HistoryGridRouting
    from web.extensions import db as database
    from web.services import services

    session = database.session
    try:
        mapping = parse_mapping(Path(mapping_file).read_bytes() if mapping_file else None)
        rows = read_rows(path.read_bytes(), path.name, mapping)
        now = services().clock.now()
        with _progress_bar("导入") as progress:
            report = import_history(session, rows, mapping=mapping,
                                    grid=HistoryGridRouting(session, now), now=now,
                                    source=path.name, commit=not dry_run,
                                    progress=progress)
    except DomainError as exc:
        session.rollback()
        fail(exc)
    except (SQLAlchemyError, psycopg.Error) as exc:  # e.g. the same file imported elsewhere
        session.rollback()
        raise click.ClickException(f"导入失败，未写入任何工单：{exc}") from exc
    if report.rejected:
        session.rollback()
        click.echo(f"共 {report.rows} 行，{len(report.rejected)} 行有误，未导入任何工单：",
                   err=True)
        for r in report.rejected[:200]:
            field = f"「{r.field}」" if r.field else ""
            click.echo(f"  第 {r.row} 行 {field}：{r.message}", err=True)
        if len(report.rejected) > 200:
            click.echo(f"  …… 另有 {len(report.rejected) - 200} 行", err=True)
        raise SystemExit(1)
    if dry_run or not report.committed:
        session.rollback()
        verb = "可导入" if dry_run else "导入"
        click.echo(f"共 {report.rows} 行：{verb} {report.imported if dry_run else 0} 张，"
                   f"已导入过（跳过）{report.skipped} 张")
        return
    session.commit()
    count = rollups.rebuild(session)
    rate = report.imported / report.seconds if report.seconds else 0.0
    click.echo(f"共 {report.rows} 行：导入 {report.imported} 张，已导入过（跳过）{report.skipped} "
           f"张；用时 {report.seconds:.1f} 秒（{rate:,.0f} 张/秒）；统计已重建：{count} 张工单")
    names = {"ANSWERED": "直接答复"}
    click.echo("按状态：" + "，".join(f"{names.get(k) or t('status', k)} {n}"
                                     for k, n in sorted(report.by_state.items())))
