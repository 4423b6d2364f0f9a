"""`hotline classifier`: train, evaluate, list and activate versions of the learned triage model
(dispatch/triage/training.py); the rules keep their own admin pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from dispatch.core.errors import DomainError
from web.cli.common import app_for_cli, fail, main


@main.group()
def classifier() -> None:
    """分类模型（学习模型）：训练、评估、版本列表与启用。"""


@classifier.command("train")
@click.option("--activate", "then_activate", is_flag=True,
              help="训练完成后启用（得分不低于当前启用版本时）")
@click.option("--force", is_flag=True, help="与 --activate 同用：得分较低也启用")
@click.option("--if-none", is_flag=True, help="已有可用的模型版本时不训练")
def classifier_train(then_activate: bool, force: bool, if_none: bool) -> None:
    """Train a model from the seed examples and the confirmed tickets; print its held-out
    figures beside the rules'."""
    from dispatch.core.models import ClassifierModel
    from dispatch.triage.training import (
        activate,
        begin_training,
        collect_examples,
        figures_table,
        label,
        seed_dir_of,
    )
    from web.extensions import db
    from web.services import services
    from workers.tasks import train_in_app

    app = app_for_cli()
    with app.app_context():
        if if_none:
            ready = db.session.scalar(select(ClassifierModel.version).where(
                ClassifierModel.status == "ready").order_by(ClassifierModel.version.desc()))
            if ready is not None:
                click.echo(f"已有可用的模型版本 {label(ready)}，不再训练")
                return
        examples = collect_examples(db.session, seed_dir_of(app.config))
        try:
            row = begin_training(db.session, now=services().clock.now(), trained_by_id=None,
                                 examples=examples)
        except DomainError as exc:
            db.session.rollback()
            fail(exc)
        version = row.version
        db.session.commit()
        click.echo(f"开始训练 {label(version)}：{len(examples)} 条样本（留出约五分之一用于评估）")
    train_in_app(app, version, progress=lambda stage: click.echo(f"  {stage} …"))
    with app.app_context():
        row = db.session.get(ClassifierModel, version)
        if row is None or row.status != "ready":
            raise click.ClickException(f"{label(version)} 训练失败："
                                       f"{row.error if row else '版本不存在'}")
        final = (row.figures or {}).get("training", {}).get("final_examples")
        refit = f"；上线模型以全部 {final} 条样本重新训练" if final else ""
        click.echo(f"{label(version)} 训练完成：训练样本 {row.examples} 条，留出样本 "
                   f"{row.heldout} 条（下列数字在留出样本上测得{refit}），用时 "
                   f"{row.seconds:.1f} 秒，模型 {row.size_bytes / 1e6:.1f} MB，"
                   f"得分 {row.score:.4f}")
        _print_figures(row.figures, label(version), figures_table)
        if then_activate:
            try:
                activate(db.session, version, now=services().clock.now(), force=force)
            except DomainError as exc:
                db.session.rollback()
                fail(exc)
            db.session.commit()
            click.echo(f"已启用 {label(version)}")


def _print_figures(figures: dict[str, Any], name: str, table: Any) -> None:
    columns = {title: figures[key] for key, title in
               (("rules", "规则"), ("model", f"模型 {name}"), ("combined", "规则+模型"))
               if figures.get(key)}
    if columns:
        click.echo("留出集上的指标：")
        for line in table(columns):
            click.echo("  " + line)


@classifier.command("evaluate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def classifier_evaluate(file: Path) -> None:
    """Recall and precision per field on a labelled TSV file (columns text, type, category,
    police, urgency): the rules, the active model, and both together."""
    from dispatch.triage.classifier import CombinedClassifier, active_categories
    from dispatch.triage.training import (
        evaluate_classifier,
        evaluate_model,
        figures_table,
        read_tsv,
    )
    from web.extensions import db
    from web.services import services

    try:
        examples = read_tsv(file)
    except DomainError as exc:
        fail(exc)
    if not examples:
        raise click.ClickException(f"{file.name} 没有样本（只有表头或为空）")
    app = app_for_cli()
    with app.app_context():
        rules = services().classifier_cache.get(db.session)
        loaded = services().model_cache.get(db.session)
        active = active_categories(db.session)
        db.session.rollback()
        columns = {"规则": evaluate_classifier(CombinedClassifier(rules).suggest, examples)}
        if loaded.model is not None:
            columns[f"模型 {loaded.name}"] = evaluate_model(loaded.model, examples)
            columns["规则+模型"] = evaluate_classifier(
                CombinedClassifier(rules, loaded.model, loaded.name, active).suggest, examples)
        elif loaded.error:
            click.echo(f"注意：{loaded.error}")
        else:
            click.echo("注意：没有启用的模型，只评估规则")
    click.echo(f"{file.name}：{len(examples)} 条样本，其中涉警 "
               f"{sum(e.police for e in examples)} 条")
    for line in figures_table(columns):
        click.echo(line)


@classifier.command("models")
def classifier_models() -> None:
    """The model versions with their held-out figures."""
    from dispatch.triage.training import label, list_versions
    from web.extensions import db
    from web.services import services

    app = app_for_cli()
    with app.app_context():
        rows = list_versions(db.session)
        status = services().model_cache.status(db.session)
        click.echo(f"当前使用：{status['classifier']}"
                   + (f"（{status['classifier_error']}）" if "classifier_error" in status
                      else ""))
        if not rows:
            click.echo("还没有模型版本：hotline classifier train")
            return
        click.echo("版本  状态    启用  训练样本  留出  得分     涉警召回  涉警误报  危急召回"
                   "  类型    一级    二级    大小(MB)  用时(s)")
        for r in rows:
            m = (r.figures or {}).get("model") or {}

            def get(field: str, key: str, m: dict[str, Any] = m) -> str:
                value = m.get(field, {}).get(key)
                return "—" if value is None else f"{value:.3f}"

            state = {"ready": "可用", "training": "训练中", "failed": "失败"}.get(r.status,
                                                                              r.status)
            click.echo(f"{label(r.version):5} {state:6} {'是' if r.active else '':3} "
                       f"{r.examples:8}  {r.heldout:5} "
                       f"{(r.score if r.score is not None else 0):.4f}   "
                       f"{get('police', 'recall'):8}  {get('police', 'false_alarm_rate'):8}  "
                       f"{get('critical', 'recall'):8}  {get('type', 'accuracy'):6}  "
                       f"{get('top', 'accuracy'):6}  {get('second', 'accuracy'):6}  "
                       f"{r.size_bytes / 1e6:8.1f}  {r.seconds or 0:7.1f}")
            if r.error:
                click.echo(f"      错误：{r.error}")


@classifier.command("activate")
@click.argument("version")
@click.option("--force", is_flag=True, help="得分低于当前启用版本也启用")
def classifier_activate(version: str, force: bool) -> None:
    """Activate a version (v3): refused when it scores below the active one, unless --force."""
    from dispatch.triage.training import activate, label, parse_version
    from web.extensions import db
    from web.services import services

    app = app_for_cli()
    with app.app_context():
        try:
            row = activate(db.session, parse_version(version), now=services().clock.now(),
                           force=force)
        except DomainError as exc:
            db.session.rollback()
            fail(exc)
        db.session.commit()
        click.echo(f"已启用 {label(row.version)}（得分 {row.score or 0:.4f}）")
