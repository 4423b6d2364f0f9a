"""`hotline classifier` as an administrator runs it, on a fresh SQLite database (upgraded once
and copied per test): train (and activate), list, evaluate a labelled file, activate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests.service.test_triage_models import small_seed
from web.cli.main import main

LABELLED = (
    "text\ttype\tcategory\tpolice\turgency\n"
    "有个男的拿着刀在小区门口追人\treport\tpublic_security.public_order.police_matters\t1\tcritical\n"
    "楼上半夜装修吵得睡不着\tcomplaint\tenvironment.noise\t0\tnormal\n"
    "路灯坏了好几天了\treport\turban.municipal_facilities.street_lights\t0\tnormal\n"
    "社保卡丢了怎么补办\tconsult\tlabour.social_insurance\t0\tnormal\n"
)


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("classifier-cli")
    db = tmp / "empty.db"
    result = run({"HOTLINE_SECRET_KEY": "cli-test", "HOTLINE_INSTANCE_PATH": str(tmp),
                  "HOTLINE_DATABASE_URL": f"sqlite:///{db}"}, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def env(upgraded: Path, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "cli.db"
    shutil.copyfile(upgraded, db)
    return {"HOTLINE_SECRET_KEY": "cli-test", "HOTLINE_INSTANCE_PATH": str(tmp_path),
            "HOTLINE_DATABASE_URL": f"sqlite:///{db}",
            "HOTLINE_CLASSIFIER_SEED_DIR": str(small_seed(tmp_path / "seed"))}


def versions(env: dict[str, str]) -> list[tuple]:
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(
            "SELECT version, status, active FROM classifier_models ORDER BY version"))]
    engine.dispose()
    return rows


def test_train_activate_list_and_train_again_only_when_none(env, tmp_path: Path) -> None:
    listed = run(env, "classifier", "models")
    assert listed.exit_code == 0 and "还没有模型版本" in listed.output
    assert "当前使用：rules" in listed.output
    trained = run(env, "classifier", "train", "--activate")
    assert trained.exit_code == 0, trained.output
    out = trained.output
    assert "v1 训练完成" in out and "已启用 v1" in out
    for line in ("涉警 召回率", "涉警 误报率", "危急 召回率", "诉求类型 准确率", "一级分类 准确率",
                 "二级分类 准确率", "涉警混淆矩阵（规则+模型）"):
        assert line in out, line
    assert versions(env) == [(1, "ready", 1)]
    again = run(env, "classifier", "train", "--activate", "--if-none")
    assert again.exit_code == 0 and "已有可用的模型版本 v1" in again.output
    assert versions(env) == [(1, "ready", 1)]
    listed = run(env, "classifier", "models")
    assert "当前使用：v1" in listed.output and "v1" in listed.output
    # Evaluate a labelled file: the rules, the model and both, per field.
    labelled = tmp_path / "labelled.tsv"
    labelled.write_text(LABELLED, encoding="utf-8")
    evaluated = run(env, "classifier", "evaluate", str(labelled))
    assert evaluated.exit_code == 0, evaluated.output
    assert "4 条样本，其中涉警 1 条" in evaluated.output
    header = evaluated.stdout.splitlines()[1]  # stderr carries the log lines
    assert "规则" in header and "模型 v1" in header and "规则+模型" in header
    assert "涉警 召回率" in evaluated.output


def test_bad_input_gets_a_clear_error_and_changes_nothing(env, tmp_path: Path) -> None:
    missing = run(env, "classifier", "evaluate", str(tmp_path / "nope.tsv"))
    assert missing.exit_code != 0 and "无法打开文件" in missing.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\ttype\n有人打架\treport\n", encoding="utf-8")
    refused = run(env, "classifier", "evaluate", str(bad))
    assert refused.exit_code != 0 and "缺少列" in refused.output
    bad.write_text("text\ttype\tcategory\tpolice\turgency\n", encoding="utf-8")
    empty = run(env, "classifier", "evaluate", str(bad))
    assert empty.exit_code != 0 and "没有样本" in empty.output
    for version, message in (("v9", "没有模型版本 v9"), ("abc", "不是有效的模型版本号")):
        result = run(env, "classifier", "activate", version)
        assert result.exit_code != 0 and message in result.output
    no_examples = run({**env, "HOTLINE_CLASSIFIER_SEED_DIR": ""}, "classifier", "train")
    assert no_examples.exit_code != 0 and "训练样本为空" in no_examples.output
    assert versions(env) == []
